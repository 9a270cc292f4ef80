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
    let mut acc = 0u64;
    let mut filled = 0u32;
    out.reserve(packed_len(values.len(), bits));
    for &v in values {
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
    let mask = (1u64 << bits) - 1;
    let mut acc = 0u64;
    let mut filled = 0u32;
    let mut bytes = input.iter();
    for o in out.iter_mut() {
        while filled < u32::from(bits) {
            acc |= u64::from(*bytes.next()?) << filled;
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

    #[test]
    fn short_input_is_refused() {
        let mut packed = Vec::new();
        pack(&[1, 2, 3], 5, &mut packed);
        let mut out = [0u16; 3];
        assert!(unpack(&packed[..1], 5, &mut out).is_none());
    }
}
