//! Fixed-width bit packing of small integers (codeword indexes, quantized weights): `bits`
//! bits per value, least significant bit first, values back to back across byte boundaries.

/// Bytes needed for `count` values of `bits` bits.
pub const fn packed_len(count: usize, bits: u8) -> usize {
    (count * bits as usize).div_ceil(8)
}

/// Appends `values` packed at `bits` (1 to 16) bits each to `out`; higher bits of each value
/// are dropped.
pub fn pack(values: &[u16], bits: u8, out: &mut Vec<u8>) {
    debug_assert!((1..=16).contains(&bits));
    if bits == 8 {
        out.extend(values.iter().map(|&v| v as u8));
        return;
    }
    let mask = (1u32 << bits) - 1;
    let b = usize::from(bits);
    out.reserve(packed_len(values.len(), bits));
    // Eight values fill exactly `bits` bytes, so groups of eight are packed in a u128 each
    // (at most 128 bits) without carrying bits from one group to the next.
    let (groups, rest) = values.as_chunks::<8>();
    for group in groups {
        let mut acc = 0u128;
        for (i, &v) in group.iter().enumerate() {
            acc |= u128::from(u32::from(v) & mask) << (i * b);
        }
        out.extend_from_slice(&acc.to_le_bytes()[..b]);
    }
    let mut acc = 0u64;
    let mut filled = 0u32;
    for &v in rest {
        acc |= u64::from(u32::from(v) & mask) << filled;
        filled += u32::from(bits);
        while filled >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out.push(acc as u8);
    }
}

/// Reads `out.len()` values of `bits` bits from `input`, which must hold at least
/// [`packed_len`] bytes for them; returns `None` if it does not.
pub fn unpack(input: &[u8], bits: u8, out: &mut [u16]) -> Option<()> {
    debug_assert!((1..=16).contains(&bits));
    let input = input.get(..packed_len(out.len(), bits))?;
    if bits == 8 {
        for (o, &b) in out.iter_mut().zip(input) {
            *o = u16::from(b);
        }
        return Some(());
    }
    let b = usize::from(bits);
    let mask = (1u128 << bits) - 1;
    // Groups of eight values occupy `bits` whole bytes each (see `pack`).
    let (groups, rest) = out.as_chunks_mut::<8>();
    let (head, mut tail) = input.split_at(groups.len() * b);
    for (group, bytes) in groups.iter_mut().zip(head.chunks_exact(b)) {
        let mut le = [0u8; 16];
        le[..b].copy_from_slice(bytes);
        let acc = u128::from_le_bytes(le);
        for (i, o) in group.iter_mut().enumerate() {
            *o = ((acc >> (i * b)) & mask) as u16;
        }
    }
    let mask = (1u64 << bits) - 1;
    let mut acc = 0u64;
    let mut filled = 0u32;
    for o in rest.iter_mut() {
        while filled < u32::from(bits) {
            let (&byte, more) = tail.split_first()?;
            tail = more;
            acc |= u64::from(byte) << filled;
            filled += 8;
        }
        *o = (acc & mask) as u16;
        acc >>= bits;
        filled -= u32::from(bits);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width() {
        for bits in 1..=16u8 {
            let max = (1u32 << bits) - 1;
            let values: Vec<u16> = (0..1001u32)
                .map(|i| (i.wrapping_mul(2654435761) % (max + 1)) as u16)
                .collect();
            let mut packed = vec![0xEE];
            pack(&values, bits, &mut packed);
            assert_eq!(packed.len(), 1 + packed_len(values.len(), bits));
            let mut back = vec![0u16; values.len()];
            unpack(&packed[1..], bits, &mut back).unwrap();
            assert_eq!(back, values, "bits {bits}");
        }
    }

    /// The plain bit-by-bit layout: value `i`'s bit `j` is bit `i·bits + j` of the stream.
    fn reference_pack(values: &[u16], bits: u8) -> Vec<u8> {
        let mut out = vec![0u8; packed_len(values.len(), bits)];
        for (i, &v) in values.iter().enumerate() {
            for j in 0..usize::from(bits) {
                if v >> j & 1 == 1 {
                    let at = i * usize::from(bits) + j;
                    out[at / 8] |= 1 << (at % 8);
                }
            }
        }
        out
    }

    #[test]
    fn groups_of_eight_keep_the_bit_by_bit_layout() {
        for bits in 1..=16u8 {
            for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 64, 333] {
                let max = (1u32 << bits) - 1;
                let values: Vec<u16> = (0..n as u32)
                    .map(|i| (i.wrapping_mul(2246822519).rotate_left(7) % (max + 1)) as u16)
                    .collect();
                let mut packed = Vec::new();
                pack(&values, bits, &mut packed);
                assert_eq!(
                    packed,
                    reference_pack(&values, bits),
                    "bits {bits}, {n} values"
                );
                let mut back = vec![0u16; n];
                unpack(&packed, bits, &mut back).unwrap();
                assert_eq!(back, values, "bits {bits}, {n} values");
                if n > 0 {
                    assert!(unpack(&packed[..packed.len() - 1], bits, &mut back).is_none());
                }
            }
        }
    }

    #[test]
    fn short_input_is_refused() {
        let mut packed = Vec::new();
        pack(&[1, 2, 3], 5, &mut packed);
        let mut out = [0u16; 3];
        assert!(unpack(&packed[..1], 5, &mut out).is_none());
    }
}
