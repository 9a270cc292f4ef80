//! Entropy coding of a block's symbols with a range coder (the `constriction` crate) and
//! static per-block models: the encoder counts each stream's symbols, sends the counts in the
//! block, and both sides derive the same fixed-point probabilities from them with integer
//! arithmetic, so decoding needs nothing but the block.
//!
//! Large integers (corrections, mean differences) are coded as a *category* (0 for zero,
//! else the bit length of the zigzagged value) through a model, followed by the category's
//! low bits coded uniformly: small alphabets, so the counts cost a few bytes per block.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use constriction::stream::model::{ContiguousCategoricalEntropyModel, UniformModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

/// Fixed-point precision of the probabilities (constriction's default for `u32` words).
const PRECISION: usize = 24;
/// Largest alphabet a model may have (12-bit codeword indexes).
pub const MAX_ALPHABET: usize = 4096;
/// Largest symbol count a block sends (counts are scaled to it).
const MAX_SENT_COUNT: u64 = 127;
/// Most raw bits coded by one uniform symbol.
const RAW_CHUNK_BITS: u32 = 16;

type Categorical = ContiguousCategoricalEntropyModel<u32, Vec<u32>, PRECISION>;

/// A static model of one stream: the symbols that occur, their counts (scaled so that they
/// sum to at most `2^24`) and the fixed-point model derived from them.
#[derive(Debug, Clone)]
pub struct StaticModel {
    /// The symbols that occur, ascending.
    symbols: Vec<u32>,
    /// Their (scaled) counts, all ≥ 1.
    counts: Vec<u32>,
    /// Rank of each symbol of the alphabet among `symbols` (`u32::MAX`: absent).
    rank: Vec<u32>,
    /// `None` for a single certain symbol, which costs nothing (constriction's categorical
    /// model needs two entries).
    model: Option<Categorical>,
}

impl StaticModel {
    /// The model of `counts` (one per symbol of the alphabet); `None` when every count is 0.
    pub fn from_counts(counts: &[u64]) -> Option<Self> {
        debug_assert!(counts.len() <= MAX_ALPHABET);
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        // Counts are sent scaled to at most `MAX_SENT_COUNT` (one varint byte each): the
        // probabilities lose little, the block saves a byte or two per symbol. A present
        // symbol keeps a count of at least 1.
        let top = *counts.iter().max().expect("non-empty");
        let (symbols, scaled): (Vec<u32>, Vec<u32>) = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| {
                let scaled = if top <= MAX_SENT_COUNT {
                    c
                } else {
                    ((u128::from(c) * u128::from(MAX_SENT_COUNT) + u128::from(top) / 2)
                        / u128::from(top))
                    .max(1) as u64
                };
                (s as u32, scaled as u32)
            })
            .unzip();
        Some(Self::build(symbols, scaled, counts.len()).expect("counts checked above"))
    }

    fn build(symbols: Vec<u32>, counts: Vec<u32>, alphabet: usize) -> Result<Self> {
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        if counts.is_empty() || counts.contains(&0) || total > 1 << PRECISION {
            return Err(Error::CorruptBlock(format!(
                "an entropy model with {} symbols totalling {total}",
                counts.len()
            )));
        }
        // floor(c · 2^24 / total) ≥ 1 for every c ≥ 1; the remainder goes to the most
        // frequent symbol (the first of them), so the probabilities sum to exactly 2^24.
        let mut probs: Vec<u32> = counts
            .iter()
            .map(|&c| ((u64::from(c) << PRECISION) / total) as u32)
            .collect();
        let sum: u64 = probs.iter().map(|&p| u64::from(p)).sum();
        let top = (0..counts.len())
            .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
            .expect("non-empty");
        probs[top] += ((1u64 << PRECISION) - sum) as u32;
        let model = if probs.len() == 1 {
            None
        } else {
            Some(
                Categorical::from_nonzero_fixed_point_probabilities(&probs, false).map_err(
                    |()| Error::CorruptBlock("an entropy model that does not normalize".into()),
                )?,
            )
        };
        let mut rank = vec![u32::MAX; alphabet];
        for (r, &s) in symbols.iter().enumerate() {
            rank[s as usize] = r as u32;
        }
        Ok(StaticModel {
            symbols,
            counts,
            rank,
            model,
        })
    }

    /// Ideal coded size of the counted symbols in bits (for choosing between a model and
    /// raw bits), plus the model's own size.
    pub fn cost_bits(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let t = total as f64;
        let mut bits = 0.0;
        let mut header = 8.0;
        for &c in counts.iter().filter(|&&c| c > 0) {
            bits -= c as f64 * (c as f64 / t).log2();
            header += 8.0 + 8.0 * (((64 - c.leading_zeros()) as f64) / 7.0).ceil();
        }
        bits + header
    }

    /// Writes the model: the number of symbols, then each as (gap from the previous symbol,
    /// count), LEB128 varints.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_varint(out, self.symbols.len() as u64);
        let mut next = 0;
        for (&s, &c) in self.symbols.iter().zip(&self.counts) {
            write_varint(out, u64::from(s - next));
            write_varint(out, u64::from(c));
            next = s + 1;
        }
    }

    /// Reads a model written by [`StaticModel::write`] for an alphabet of `alphabet` symbols.
    pub fn read(input: &mut &[u8], alphabet: usize) -> Result<Self> {
        let n = read_varint(input)? as usize;
        if n == 0 || n > alphabet {
            return Err(Error::CorruptBlock(format!(
                "an entropy model of {n} symbols for an alphabet of {alphabet}"
            )));
        }
        let mut symbols = Vec::with_capacity(n);
        let mut counts = Vec::with_capacity(n);
        let mut next = 0u64;
        for _ in 0..n {
            let s = next.saturating_add(read_varint(input)?);
            if s >= alphabet as u64 {
                return Err(Error::CorruptBlock(format!(
                    "entropy model symbol {s} outside an alphabet of {alphabet}"
                )));
            }
            let c = read_varint(input)?;
            if c == 0 || c > 1 << PRECISION {
                return Err(Error::CorruptBlock(format!("entropy model count {c}")));
            }
            symbols.push(s as u32);
            counts.push(c as u32);
            next = s + 1;
        }
        Self::build(symbols, counts, alphabet)
    }
}

/// Encodes symbols in order into a range-coded stream.
#[derive(Debug, Default)]
pub struct SymbolEncoder {
    coder: DefaultRangeEncoder,
}

impl SymbolEncoder {
    /// A new, empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codes `symbol`, which must occur in `model`'s counts.
    pub fn put(&mut self, model: &StaticModel, symbol: u32) {
        let Some(categorical) = &model.model else {
            debug_assert_eq!(model.symbols[0], symbol);
            return;
        };
        let rank = model.rank[symbol as usize];
        debug_assert_ne!(rank, u32::MAX, "symbol {symbol} was not counted");
        self.coder
            .encode_symbol(rank as usize, categorical)
            .expect("the symbol was counted in the model");
    }

    /// Codes the low `n_bits` of `value` uniformly.
    pub fn put_bits(&mut self, mut value: u32, mut n_bits: u32) {
        while n_bits > 0 {
            let b = n_bits.min(RAW_CHUNK_BITS);
            let uniform = UniformModel::<u32, PRECISION>::new(1 << b);
            self.coder
                .encode_symbol((value & ((1 << b) - 1)) as usize, uniform)
                .expect("below the uniform range");
            value >>= b;
            n_bits -= b;
        }
    }

    /// Codes `value` below `range` (≥ 1) uniformly.
    pub fn put_uniform(&mut self, value: u32, range: u32) {
        if range > 1 {
            self.put_bits(value, 32 - (range - 1).leading_zeros());
        }
    }

    /// Finishes the stream: its bytes (little-endian 32-bit words).
    pub fn finish(self) -> Vec<u8> {
        let words = self.coder.into_compressed().unwrap_or_else(|e| match e {});
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Decodes symbols in the order a [`SymbolEncoder`] coded them.
pub struct SymbolDecoder {
    coder: DefaultRangeDecoder,
}

fn corrupt_stream<E: std::fmt::Debug>(e: E) -> Error {
    Error::CorruptBlock(format!("the entropy-coded codes are corrupt ({e:?})"))
}

impl SymbolDecoder {
    /// A decoder of `bytes` (a whole number of 32-bit words).
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(4) {
            return Err(Error::CorruptBlock(format!(
                "{} bytes of entropy-coded codes is not a whole number of words",
                bytes.len()
            )));
        }
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let coder = DefaultRangeDecoder::from_compressed(words).map_err(corrupt_stream)?;
        Ok(SymbolDecoder { coder })
    }

    /// Decodes one symbol of `model`.
    pub fn get(&mut self, model: &StaticModel) -> Result<u32> {
        let Some(categorical) = &model.model else {
            return Ok(model.symbols[0]);
        };
        let rank = self
            .coder
            .decode_symbol(categorical)
            .map_err(corrupt_stream)?;
        model
            .symbols
            .get(rank)
            .copied()
            .ok_or_else(|| corrupt_stream("rank"))
    }

    /// Decodes `n_bits` uniform bits.
    pub fn get_bits(&mut self, n_bits: u32) -> Result<u32> {
        let (mut value, mut done) = (0u32, 0u32);
        while done < n_bits {
            let b = (n_bits - done).min(RAW_CHUNK_BITS);
            let uniform = UniformModel::<u32, PRECISION>::new(1 << b);
            let chunk = self.coder.decode_symbol(uniform).map_err(corrupt_stream)? as u32;
            value |= chunk << done;
            done += b;
        }
        Ok(value)
    }

    /// Decodes a value below `range` coded by [`SymbolEncoder::put_uniform`] (not checked
    /// against `range`: the caller does).
    pub fn get_uniform(&mut self, range: u32) -> Result<u32> {
        if range > 1 {
            self.get_bits(32 - (range - 1).leading_zeros())
        } else {
            Ok(0)
        }
    }
}

/// Zigzag: 0, -1, 1, -2, 2, … → 0, 1, 2, 3, 4, …
pub fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// The inverse of [`zigzag`].
pub fn unzigzag(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

/// The category of `u`: 0 for 0, else its bit length (1..=32). The value is then the
/// category's leading 1 followed by `category - 1` low bits.
pub fn category(u: u32) -> u32 {
    32 - u.leading_zeros()
}

/// Codes `u` as its category through `model` and its low bits uniformly.
pub fn put_categorized(enc: &mut SymbolEncoder, model: &StaticModel, u: u32) {
    let c = category(u);
    enc.put(model, c);
    if c > 1 {
        enc.put_bits(u, c - 1);
    }
}

/// Decodes a value coded by [`put_categorized`].
pub fn get_categorized(dec: &mut SymbolDecoder, model: &StaticModel) -> Result<u32> {
    let c = dec.get(model)?;
    value_of_category(dec, c)
}

/// The value of category `c` (already decoded), reading its low bits.
pub fn value_of_category(dec: &mut SymbolDecoder, c: u32) -> Result<u32> {
    Ok(match c {
        0 => 0,
        1 => 1,
        c if c <= 32 => (1 << (c - 1)) | dec.get_bits(c - 1)?,
        _ => return Err(corrupt_stream("category")),
    })
}

/// Appends `v` as a LEB128 varint.
pub fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 varint from the front of `input`.
pub fn read_varint(input: &mut &[u8]) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input
            .split_first()
            .ok_or_else(|| Error::TruncatedBlock("the block ends inside a varint".into()))?;
        *input = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Error::CorruptBlock("a varint over 64 bits".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_bits_round_trip() {
        let symbols: Vec<u32> = (0..5000u32).map(|i| (i * 7919 % 13) % 5).collect();
        let mut counts = vec![0u64; 6];
        symbols.iter().for_each(|&s| counts[s as usize] += 1);
        let model = StaticModel::from_counts(&counts).unwrap();
        let mut header = Vec::new();
        model.write(&mut header);
        let mut enc = SymbolEncoder::new();
        for (i, &s) in symbols.iter().enumerate() {
            enc.put(&model, s);
            enc.put_bits(i as u32, 20);
        }
        let bytes = enc.finish();
        let model2 = StaticModel::read(&mut &header[..], 6).unwrap();
        let mut dec = SymbolDecoder::new(&bytes).unwrap();
        for (i, &s) in symbols.iter().enumerate() {
            assert_eq!(dec.get(&model2).unwrap(), s);
            assert_eq!(dec.get_bits(20).unwrap(), i as u32 & 0xfffff);
        }
    }

    #[test]
    fn a_skewed_stream_costs_less_than_a_bit_per_symbol() {
        let mut counts = vec![0u64; 3];
        counts[0] = 9900;
        counts[1] = 50;
        counts[2] = 50;
        let model = StaticModel::from_counts(&counts).unwrap();
        let mut enc = SymbolEncoder::new();
        for i in 0..10_000u32 {
            enc.put(&model, if i % 100 == 0 { 1 + (i / 100) % 2 } else { 0 });
        }
        assert!(enc.finish().len() * 8 < 1500);
    }

    #[test]
    fn certain_symbols_and_huge_counts() {
        let model = StaticModel::from_counts(&[0, 7, 0]).unwrap();
        let mut enc = SymbolEncoder::new();
        enc.put(&model, 1);
        assert!(enc.finish().is_empty());
        let big = StaticModel::from_counts(&[u32::MAX as u64 * 3, 1]).unwrap();
        let mut enc = SymbolEncoder::new();
        enc.put(&big, 1);
        enc.put(&big, 0);
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes).unwrap();
        assert_eq!(dec.get(&big).unwrap(), 1);
        assert_eq!(dec.get(&big).unwrap(), 0);
    }

    #[test]
    fn integers_by_category() {
        let values = [0u32, 1, 2, 3, 100, 65_535, 1 << 20, u32::MAX];
        let mut counts = vec![0u64; 33];
        values
            .iter()
            .for_each(|&v| counts[category(v) as usize] += 1);
        let model = StaticModel::from_counts(&counts).unwrap();
        let mut enc = SymbolEncoder::new();
        values
            .iter()
            .for_each(|&v| put_categorized(&mut enc, &model, v));
        let bytes = enc.finish();
        let mut dec = SymbolDecoder::new(&bytes).unwrap();
        for &v in &values {
            assert_eq!(get_categorized(&mut dec, &model).unwrap(), v);
        }
        for v in [0, -1, 1, i32::MIN, i32::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn garbage_is_an_error_or_a_symbol_never_a_panic() {
        let model = StaticModel::from_counts(&[5, 1, 1, 9]).unwrap();
        for seed in 0..200u32 {
            let bytes: Vec<u8> = (0..16u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 13) as u8)
                .collect();
            if let Ok(mut dec) = SymbolDecoder::new(&bytes[..(seed as usize % 5) * 4]) {
                for _ in 0..50 {
                    if dec.get(&model).is_err() || dec.get_bits(13).is_err() {
                        break;
                    }
                }
            }
        }
        let mut header = Vec::new();
        write_varint(&mut header, 2);
        write_varint(&mut header, 9);
        assert!(StaticModel::read(&mut &header[..], 4).is_err());
    }
}
