//! Entropy coding of the quantizer's symbols: static per-block models with 12-bit
//! probabilities and rANS with table-driven decoding, one model per context.
//!
//! The rANS coder is written here rather than taken from `constriction` (which the range
//! coder of format 3 uses): it is the decoder's inner loop, and a 32-bit state with 16-bit
//! renormalization and a 4096-entry slot table per model, specialised to these models,
//! decoded the faces' symbols about twice as fast as constriction's generic ANS coder with its
//! lookup model. State in `[2^16, 2^32)`; the encoder starts from `2^16`, so a decoder that
//! does not end there read a corrupt stream.
//!
//! Contexts are consecutive segments of the symbol sequence (the interpolation levels: the
//! coarse levels, the second-finest and the finest differ in spread), so the decoder needs
//! no per-symbol context computation: it decodes segment after segment.
//!
//! Layout: `varint segments`, then per segment `varint count` and, when `count > 0`, its
//! model (`varint distinct`, then per present symbol `varint gap` from the previous one and,
//! when more than one is present, `varint probability − 1`), then `varint words` and the
//! ANS words (u32 little-endian). A segment with one distinct symbol costs no ANS bits.
#![forbid(unsafe_code)]

use crate::entropy::{read_varint, write_varint};
use crate::error::{Error, Result};

/// Fixed-point precision of the probabilities (the lookup table has `2^12` entries).
const PRECISION: u32 = 12;
/// The rANS state's lower bound.
const RANS_L: u32 = 1 << 16;
/// Most segments a block may have.
pub const MAX_SEGMENTS: usize = 8;

/// A segment's static model: the present symbols and their fixed-point probabilities.
#[derive(Debug, Clone)]
struct SegmentModel {
    symbols: Vec<u16>,
    probs: Vec<u16>,
}

impl SegmentModel {
    /// Quantizes counts (`counts[s]` for every symbol `s` of the alphabet) to
    /// probabilities summing to `2^12`, every present symbol at least 1.
    fn from_counts(counts: &[u32]) -> Self {
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let symbols: Vec<u16> = (0..counts.len())
            .filter(|&s| counts[s] > 0)
            .map(|s| s as u16)
            .collect();
        let one = 1u64 << PRECISION;
        let mut probs: Vec<u16> = symbols
            .iter()
            .map(|&s| ((u64::from(counts[s as usize]) * one / total).max(1)) as u16)
            .collect();
        if symbols.len() > 1 {
            let sum: i64 = probs.iter().map(|&p| i64::from(p)).sum();
            let mut diff = one as i64 - sum;
            // Give the rest to (or take the excess from) the most probable symbols.
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by_key(|&i| (std::cmp::Reverse(probs[i]), i));
            let mut k = 0;
            while diff != 0 {
                let i = order[k % order.len()];
                if diff > 0 {
                    probs[i] += diff as u16;
                    diff = 0;
                } else {
                    let take = (-diff).min(i64::from(probs[i]) - 1);
                    probs[i] -= take as u16;
                    diff += take;
                }
                k += 1;
            }
        }
        SegmentModel { symbols, probs }
    }

    fn write(&self, out: &mut Vec<u8>) {
        write_varint(out, self.symbols.len() as u64);
        let mut next = 0u64;
        for &s in &self.symbols {
            write_varint(out, u64::from(s) - next);
            next = u64::from(s) + 1;
        }
        if self.symbols.len() > 1 {
            for &p in &self.probs {
                write_varint(out, u64::from(p) - 1);
            }
        }
    }

    fn read(input: &mut &[u8], alphabet: usize) -> Result<Self> {
        let distinct = read_varint(input)? as usize;
        if distinct == 0 || distinct > alphabet {
            return Err(Error::CorruptBlock(format!(
                "an entropy model of {distinct} symbols"
            )));
        }
        let mut symbols = Vec::with_capacity(distinct);
        let mut next = 0u64;
        for _ in 0..distinct {
            let s = next + read_varint(input)?;
            if s >= alphabet as u64 {
                return Err(Error::CorruptBlock(format!(
                    "symbol {s} in an entropy model"
                )));
            }
            symbols.push(s as u16);
            next = s + 1;
        }
        let probs = if distinct > 1 {
            let mut probs = Vec::with_capacity(distinct);
            let mut sum = 0u64;
            for _ in 0..distinct {
                let p = read_varint(input)? + 1;
                sum += p;
                if sum > 1 << PRECISION {
                    return Err(Error::CorruptBlock(
                        "entropy model probabilities do not sum to one".into(),
                    ));
                }
                probs.push(p as u16);
            }
            if sum != 1 << PRECISION {
                return Err(Error::CorruptBlock(
                    "entropy model probabilities do not sum to one".into(),
                ));
            }
            probs
        } else {
            vec![1 << PRECISION]
        };
        Ok(SegmentModel { symbols, probs })
    }
}

/// Ideal size in bits of coding symbols with these counts under their own static model.
pub fn ideal_bits(counts: &[u32]) -> f64 {
    let total: f64 = counts.iter().map(|&c| f64::from(c)).sum();
    if total == 0.0 {
        return 0.0;
    }
    let mut bits = 0.0;
    let mut distinct = 0;
    for &c in counts.iter().filter(|&&c| c > 0) {
        let c = f64::from(c);
        bits -= c * (c / total).log2();
        distinct += 1;
    }
    bits + 16.0 * f64::from(distinct)
}

/// Codes `symbols` (all below `alphabet`), cut into consecutive segments of `segments[k]`
/// symbols (summing to `symbols.len()`), each with its own model, appending to `out`.
/// `counts` is scratch.
pub fn encode(
    symbols: &[u16],
    segments: &[usize],
    alphabet: usize,
    counts: &mut Vec<u32>,
    out: &mut Vec<u8>,
) {
    debug_assert_eq!(segments.iter().sum::<usize>(), symbols.len());
    debug_assert!(segments.len() <= MAX_SEGMENTS);
    write_varint(out, segments.len() as u64);
    let mut models = Vec::with_capacity(segments.len());
    let mut start = 0;
    for &len in segments {
        write_varint(out, len as u64);
        if len == 0 {
            models.push(None);
            continue;
        }
        counts.clear();
        counts.resize(alphabet, 0);
        for &s in &symbols[start..start + len] {
            counts[s as usize] += 1;
        }
        let model = SegmentModel::from_counts(counts);
        model.write(out);
        models.push(Some(model));
        start += len;
    }
    // rANS is a stack: the last segment's last symbol goes in first; the words come out in
    // reverse and are flipped at the end.
    let mut state = RANS_L;
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 8 + 4);
    let mut end = symbols.len();
    let mut rank = vec![0u16; alphabet];
    let mut start_of = Vec::new();
    for (model, &len) in models.iter().zip(segments).rev() {
        let seg = &symbols[end - len..end];
        end -= len;
        let Some(model) = model else { continue };
        if model.symbols.len() < 2 {
            continue; // certain: nothing to code
        }
        start_of.clear();
        let mut cum = 0u32;
        for (r, (&s, &p)) in model.symbols.iter().zip(&model.probs).enumerate() {
            rank[s as usize] = r as u16;
            start_of.push(cum);
            cum += u32::from(p);
        }
        for &s in seg.iter().rev() {
            let r = rank[s as usize] as usize;
            let freq = u32::from(model.probs[r]);
            // Renormalize so that the state stays below 2^32 after the step.
            let x_max = ((RANS_L >> PRECISION) << 16) * freq;
            if state >= x_max {
                words.push(state as u16);
                state >>= 16;
            }
            state = ((state / freq) << PRECISION) + state % freq + start_of[r];
        }
    }
    write_varint(out, words.len() as u64 + 2);
    out.extend_from_slice(&state.to_le_bytes());
    for &w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// Decodes what [`encode`] wrote into `symbols` (cleared first), reading from `input`;
/// at most `max_symbols` symbols are accepted.
pub fn decode(
    input: &mut &[u8],
    alphabet: usize,
    max_symbols: usize,
    symbols: &mut Vec<u16>,
) -> Result<()> {
    symbols.clear();
    let n_segments = read_varint(input)? as usize;
    if n_segments > MAX_SEGMENTS {
        return Err(Error::CorruptBlock(format!(
            "{n_segments} entropy segments"
        )));
    }
    let mut segments = Vec::with_capacity(n_segments);
    let mut total = 0usize;
    for _ in 0..n_segments {
        let len = read_varint(input)? as usize;
        total = total.saturating_add(len);
        if total > max_symbols {
            return Err(Error::CorruptBlock(format!(
                "more than {max_symbols} symbols in a block"
            )));
        }
        let model = if len > 0 {
            Some(SegmentModel::read(input, alphabet)?)
        } else {
            None
        };
        segments.push((len, model));
    }
    let n_words = read_varint(input)? as usize;
    if n_words < 2 {
        return Err(Error::CorruptBlock(
            "the entropy-coded symbols are corrupt".into(),
        ));
    }
    let bytes = input
        .get(..n_words.checked_mul(2).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    *input = &input[bytes.len()..];
    let mut state = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut words = bytes[4..].chunks_exact(2);
    symbols.resize(total, 0);
    // Per slot: the frequency and the slot's offset in its symbol's range (one load), and the
    // symbol.
    let mut slot_step = vec![0u32; 1 << PRECISION];
    let mut slot_symbol = vec![0u16; 1 << PRECISION];
    let mut at = 0usize;
    for (len, model) in segments {
        let Some(model) = model else { continue };
        let out = &mut symbols[at..at + len];
        at += len;
        if model.symbols.len() == 1 {
            out.fill(model.symbols[0]);
            continue;
        }
        let mut cum = 0usize;
        for (&p, &sym) in model.probs.iter().zip(&model.symbols) {
            let p = p as usize;
            for (k, step) in slot_step[cum..cum + p].iter_mut().enumerate() {
                *step = (p as u32) << 16 | k as u32;
            }
            slot_symbol[cum..cum + p].fill(sym);
            cum += p;
        }
        for o in out.iter_mut() {
            let slot = (state & ((1 << PRECISION) - 1)) as usize;
            let step = slot_step[slot];
            state = (step >> 16) * (state >> PRECISION) + (step & 0xffff);
            if state < RANS_L {
                let w = words.next().ok_or_else(truncated)?;
                state = (state << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            }
            *o = slot_symbol[slot];
        }
    }
    if state != RANS_L || words.next().is_some() {
        return Err(Error::CorruptBlock(
            "the entropy-coded symbols are corrupt".into(),
        ));
    }
    Ok(())
}

fn truncated() -> Error {
    Error::TruncatedBlock("the entropy-coded symbols are cut short".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip() {
        let mut symbols = Vec::new();
        for i in 0..5000u32 {
            symbols.push((i * 7 % 13) as u16);
        }
        symbols.extend(std::iter::repeat_n(5u16, 300)); // a certain segment
        for i in 0..2000u32 {
            symbols.push(if i % 97 == 0 { 300 } else { (i % 3) as u16 });
        }
        let segments = [5000, 0, 300, 2000];
        let mut out = Vec::new();
        encode(&symbols, &segments, 539, &mut Vec::new(), &mut out);
        let mut got = Vec::new();
        let mut input = &out[..];
        decode(&mut input, 539, 1 << 20, &mut got).unwrap();
        assert!(input.is_empty());
        assert_eq!(got, symbols);
        // A truncated stream is an error, never a panic.
        for cut in [1, out.len() / 2, out.len() - 1] {
            let mut input = &out[..cut];
            assert!(decode(&mut input, 539, 1 << 20, &mut got).is_err());
        }
    }

    #[test]
    fn skewed_models_cost_little() {
        let mut symbols = vec![1u16; 100_000];
        symbols[500] = 2;
        let mut out = Vec::new();
        encode(&symbols, &[symbols.len()], 539, &mut Vec::new(), &mut out);
        assert!(out.len() < 40, "{}", out.len());
    }
}

/// Raw bits (the low bits of large residuals), least significant first.
#[derive(Debug, Default)]
pub struct RawBitWriter {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl RawBitWriter {
    /// Starts empty, reusing `bytes`' allocation.
    pub fn new(mut bytes: Vec<u8>) -> Self {
        bytes.clear();
        RawBitWriter {
            bytes,
            acc: 0,
            n: 0,
        }
    }

    /// Appends the low `count` (≤ 32) bits of `value`.
    #[inline]
    pub fn put(&mut self, value: u32, count: u32) {
        if count == 0 {
            return;
        }
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// The bytes, the last one padded with zeros.
    pub fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// Reads what [`RawBitWriter`] wrote; reading past the end gives zeros and is remembered.
#[derive(Debug)]
pub struct RawBitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    /// Whether more bits were read than there are.
    pub overrun: bool,
}

impl<'a> RawBitReader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        RawBitReader {
            bytes,
            pos: 0,
            acc: 0,
            n: 0,
            overrun: false,
        }
    }

    /// The next `count` (≤ 32) bits.
    #[inline]
    pub fn get(&mut self, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        while self.n < count {
            match self.bytes.get(self.pos) {
                Some(&b) => self.acc |= u64::from(b) << self.n,
                None => self.overrun = true,
            }
            self.pos += 1;
            self.n += 8;
        }
        let v = (self.acc & ((1u64 << count) - 1)) as u32;
        self.acc >>= count;
        self.n -= count;
        v
    }
}
