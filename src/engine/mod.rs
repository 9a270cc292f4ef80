//! The predictive error-bounded engine (block format 4): no codebook needed.
//!
//! One stage per module, composed here:
//! - [`mask`]: NaN/±inf (bit-exact) and, under a point-wise bound, values decoded as zero,
//!   left out of prediction;
//! - [`domain`]: the values themselves, or `log2 |x|` for point-wise relative bounds;
//! - [`predictor`]: multilevel interpolation (linear/cubic, dimension order) or Lorenzo,
//!   from decoded neighbours, chosen per block by the bits it costs on a sample;
//! - [`quantizer`]: linear quantization with level-wise bounds, every decoded value checked
//!   against the bound (failures stored exactly), so the bound holds by construction;
//! - [`entropy_coder`]: static per-segment models, rANS with table-driven decoding.
//!
//! [`bound`] names the bounds as users give them.
//!
//! Block layout (all integers little-endian, varints LEB128):
//!
//! ```text
//! byte 0      format version (4)
//! byte 1      dtype code (1 f16, 2 f32, 3 f64, 4 u8, 5 u16)
//! byte 2      bound kind: 1 absolute, 2 point-wise relative
//! byte 3      predictor (0 Lorenzo, 1..=4 interpolation: 1 + cubic + 2·reversed, 5..=6
//!             interpolation of each slice along the first dimension: 5 + cubic)
//! byte 4      level schedule (index into quantizer::LEVEL_SCHEDULES)
//! byte 5      flags: 1 value classes, 2 signs, 4 non-finite values
//! bytes 6..10 checksum of everything after the header (low 32 bits of xxh3-64)
//! byte 10     ndim (1..=8), then ndim varints: the coded shape
//! then        the bound: f64 max_error, or f64 rel and f64 floor
//! then        sections, each `varint length, byte 0 (stored) | 1 (LZ4), [varint stored length], bytes`:
//!             [classes] [signs] [non-finite values] symbols, raw bits, exact values
//! ```
#![forbid(unsafe_code)]

pub mod bound;
pub mod domain;
pub mod entropy_coder;
pub mod mask;
pub mod predictor;
pub mod quantizer;
pub mod settings;

use crate::entropy::{read_varint, write_varint};
use crate::error::{Error, Result};
use crate::tiles::geometry::MAX_DIMS;
use crate::tiles::Dtype;
use bound::BlockBound;
use domain::Domain;
use entropy_coder::{RawBitReader, RawBitWriter};
use predictor::Predictor;
use quantizer::{LevelSteps, ALPHABET, RADIUS, UNPREDICTABLE};
use std::borrow::Cow;

/// The block format of predictive blocks.
pub const FORMAT_VERSION: u8 = 4;

const FLAG_CLASSES: u8 = 1;
const FLAG_SIGNS: u8 = 2;
const FLAG_NON_FINITE: u8 = 4;

/// Blocks above this many values choose their predictor on a centred sample of about this size.
const SAMPLE_VALUES: usize = 4096;
/// Most values a short block is padded with (a forged shape claiming more is refused).
const MAX_PADDING: usize = 1 << 20;
/// The level schedule tried first (then the others, for the chosen interpolation).
const DEFAULT_SCHEDULE: usize = 2;

/// Whether `block` is a predictive block (format 4).
pub fn is_predictive_block(block: &[u8]) -> bool {
    block.first() == Some(&FORMAT_VERSION)
}

/// Per-thread buffers reused from block to block.
#[derive(Default)]
struct Scratch {
    values: Vec<f64>,
    target: Vec<f64>,
    work: Vec<f64>,
    classes: Vec<u8>,
    negative: Vec<bool>,
    symbols: Vec<u16>,
    counts: Vec<u32>,
    exact: Vec<f64>,
    coded: Vec<u8>,
    block: Vec<u8>,
    sample: Sample,
}

#[derive(Default)]
struct Sample {
    values: Vec<f64>,
    target: Vec<f64>,
    work: Vec<f64>,
    classes: Vec<u8>,
    negative: Vec<bool>,
    symbols: Vec<u16>,
    exact: Vec<f64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    crate::scratch::with(&SCRATCH, f)
}

/// What the encoder chose for a block, and what it cost (for reports and tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The predictor.
    pub predictor: Predictor,
    /// The level schedule.
    pub schedule: usize,
}

/// The segment (entropy context) of a level: the coarse levels, the second finest, the finest.
#[inline(always)]
fn segment(level: u32) -> usize {
    match level {
        1 => 2,
        2 => 1,
        _ => 0,
    }
}

/// A block's values as the passes read them.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    /// The original values.
    values: &'a [f64],
    /// Their domain values (the values themselves under an absolute bound).
    target: &'a [f64],
    /// Their classes ([`mask`]).
    classes: &'a [u8],
    /// Their signs (point-wise bounds with negative values; else empty).
    negative: &'a [bool],
}

/// What one coding pass produced.
struct Pass<'a> {
    symbols: &'a mut Vec<u16>,
    segments: [usize; 3],
    raw: RawBitWriter,
    raw_bits: u64,
    exact: &'a mut Vec<f64>,
}

/// One encoding pass: predicts, quantizes and checks every coded value; returns the symbols,
/// raw bits and exact values in `pass`.
fn code_pass<D: Domain>(
    dom: &D,
    bound: &BlockBound,
    predictor: Predictor,
    steps: &LevelSteps,
    shape: &[usize],
    inputs: &Inputs<'_>,
    work: &mut [f64],
    pass: &mut Pass<'_>,
) {
    let Inputs {
        values,
        target,
        classes,
        negative,
    } = *inputs;
    pass.symbols.clear();
    pass.exact.clear();
    let (step, inv_step) = (&steps.step, &steps.inv_step);
    let has_signs = !negative.is_empty();
    predictor.traverse(
        shape,
        work,
        #[inline(always)]
        |i, pred, level| {
            if classes[i] != mask::CODED {
                return if pred.is_finite() { pred } else { 0.0 };
            }
            let (x, t) = (values[i], target[i]);
            let l = level as usize;
            let seg = segment(level);
            pass.segments[seg] += 1;
            let v = (t - pred) * inv_step[l];
            if v.abs() < RADIUS as f64 {
                let qf = quantizer::round(v);
                let kept = dom.keep(pred + step[l] * qf);
                let y = dom.output(kept, has_signs && negative[i]);
                if (y - x).abs() <= bound.allowed(x) {
                    let (symbol, raw, n) = quantizer::to_symbol(qf as i64);
                    pass.symbols.push(symbol);
                    pass.raw.put(raw, n);
                    pass.raw_bits += u64::from(n);
                    return kept;
                }
            }
            pass.symbols.push(UNPREDICTABLE);
            pass.exact.push(x);
            t
        },
    );
}

/// Runs one coding pass of `choice` over `inputs` (shape `shape`), with `work`, `symbols`
/// and `exact` as its buffers.
fn run_pass<'a, D: Domain>(
    dom: &D,
    bound: &BlockBound,
    choice: Choice,
    shape: &[usize],
    inputs: &Inputs<'_>,
    work: &mut Vec<f64>,
    symbols: &'a mut Vec<u16>,
    exact: &'a mut Vec<f64>,
) -> Pass<'a> {
    let steps = LevelSteps::new(
        dom.domain_bound(),
        choice.predictor.levels(shape),
        choice.schedule,
    );
    work.clear();
    work.resize(inputs.values.len(), 0.0);
    let mut pass = Pass {
        symbols,
        segments: [0; 3],
        raw: RawBitWriter::new(Vec::new()),
        raw_bits: 0,
        exact,
    };
    code_pass(
        dom,
        bound,
        choice.predictor,
        &steps,
        shape,
        inputs,
        work,
        &mut pass,
    );
    pass
}

/// Estimated bits of a pass (symbols at their ideal cost, raw bits, exact values).
fn pass_cost(pass: &Pass<'_>, counts: &mut Vec<u32>, value_bits: f64) -> f64 {
    let mut bits = pass.raw_bits as f64 + pass.exact.len() as f64 * value_bits;
    let mut start = 0;
    for &len in &pass.segments {
        counts.clear();
        counts.resize(ALPHABET, 0);
        for &s in &pass.symbols[start..start + len] {
            counts[s as usize] += 1;
        }
        bits += entropy_coder::ideal_bits(counts);
        start += len;
    }
    bits
}

/// Encodes one block of `input` (whole `dtype` items, C order, shape `shape` or its leading
/// rows: the last block of a chunk may be short) to `bound`, into `output`.
///
/// Returns the packed length, or `None` when the packed block would not fit `output`.
pub fn encode_block(
    input: &[u8],
    dtype: Dtype,
    shape: &[usize],
    bound: BlockBound,
    output: &mut [u8],
) -> Result<Option<(usize, Choice)>> {
    bound.check()?;
    let size = dtype.size();
    if input.is_empty() || !input.len().is_multiple_of(size) {
        return Err(Error::InvalidGeometry(format!(
            "{} bytes is not a whole, non-zero number of {size}-byte items",
            input.len()
        )));
    }
    if shape.is_empty() || shape.len() > MAX_DIMS || shape.contains(&0) {
        return Err(Error::InvalidGeometry(format!("block shape {shape:?}")));
    }
    let n = input.len() / size;
    let full: usize = shape.iter().product();
    let row = full / shape[0];
    if n > full {
        return Err(Error::InvalidGeometry(format!(
            "{n} items handed over for a block of {full} ({shape:?})"
        )));
    }
    let mut coded_shape = shape.to_vec();
    coded_shape[0] = n.div_ceil(row);
    let total: usize = coded_shape.iter().product();
    if total - n > MAX_PADDING {
        return Ok(None); // the decoder would refuse so much padding: store the block raw
    }
    with_scratch(|s| encode_with(input, dtype, &coded_shape, n, total, bound, output, s))
}

fn encode_with(
    input: &[u8],
    dtype: Dtype,
    coded_shape: &[usize],
    n: usize,
    total: usize,
    bound: BlockBound,
    output: &mut [u8],
    s: &mut Scratch,
) -> Result<Option<(usize, Choice)>> {
    let size = dtype.size();
    // Values, classes and signs; padding (a short last block) repeats a coded value or is 0.
    s.values.clear();
    s.values.resize(total, 0.0);
    dtype.read_f64(input, &mut s.values[..n]);
    s.classes.clear();
    s.classes.resize(total, mask::CODED);
    let pointwise = matches!(bound, BlockBound::PointwiseRelative { .. });
    let floor = match bound {
        BlockBound::PointwiseRelative { floor, .. } => floor,
        BlockBound::Absolute { .. } => 0.0,
    };
    let mut any_class = false;
    let mut any_non_finite = false;
    for (i, (c, &v)) in s.classes[..n].iter_mut().zip(&s.values[..n]).enumerate() {
        if !v.is_finite() || dtype.is_non_finite(&input[i * size..(i + 1) * size]) {
            *c = mask::NON_FINITE;
            any_class = true;
            any_non_finite = true;
        } else if pointwise && v.abs() <= floor {
            *c = mask::ZERO;
            any_class = true;
        }
    }
    if n < total {
        let (pad_value, pad_class) = if s.classes[n - 1] == mask::CODED {
            (s.values[n - 1], mask::CODED)
        } else if pointwise {
            (0.0, mask::ZERO)
        } else {
            (0.0, mask::CODED)
        };
        s.values[n..].fill(pad_value);
        s.classes[n..].fill(pad_class);
        any_class |= pad_class != mask::CODED;
    }
    s.negative.clear();
    let mut any_negative = false;
    if pointwise {
        s.negative
            .extend(s.values.iter().map(|v| v.is_sign_negative()));
        any_negative = s
            .negative
            .iter()
            .zip(&s.classes)
            .any(|(&neg, &c)| neg && c != mask::NON_FINITE);
        if !any_negative {
            s.negative.clear();
        }
    }
    let squeezed = predictor::squeeze(coded_shape);

    // Header (the predictor byte is filled in once chosen), bound, then the sections.
    let mut block = std::mem::take(&mut s.block);
    block.clear();
    block.push(FORMAT_VERSION);
    block.push(dtype.code());
    block.push(if pointwise { 2 } else { 1 });
    block.push(0); // predictor
    block.push(0); // schedule
    let flags = if any_class { FLAG_CLASSES } else { 0 }
        | if any_negative { FLAG_SIGNS } else { 0 }
        | if any_non_finite { FLAG_NON_FINITE } else { 0 };
    block.push(flags);
    block.extend_from_slice(&[0; 4]); // checksum, filled below
    block.push(coded_shape.len() as u8);
    for &d in coded_shape {
        write_varint(&mut block, d as u64);
    }
    let header_len = block.len();
    match bound {
        BlockBound::Absolute { max_error } => block.extend_from_slice(&max_error.to_le_bytes()),
        BlockBound::PointwiseRelative { rel, floor } => {
            block.extend_from_slice(&rel.to_le_bytes());
            block.extend_from_slice(&floor.to_le_bytes());
        }
    }
    let mut scratch_bytes = Vec::new();
    if any_class {
        mask::write_runs(&s.classes, &mut scratch_bytes);
        put_section(&mut block, &scratch_bytes);
    }
    if any_negative {
        scratch_bytes.clear();
        scratch_bytes.resize(total.div_ceil(8), 0);
        for (i, _) in s.negative.iter().enumerate().filter(|(_, &neg)| neg) {
            scratch_bytes[i / 8] |= 1 << (i % 8);
        }
        put_section(&mut block, &scratch_bytes);
    }
    if any_non_finite {
        scratch_bytes.clear();
        for (i, _) in s.classes[..n]
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == mask::NON_FINITE)
        {
            scratch_bytes.extend_from_slice(&input[i * size..(i + 1) * size]);
        }
        put_section(&mut block, &scratch_bytes);
    }
    // The block's own buffers leave the scratch while the passes borrow the rest of it.
    let values = std::mem::take(&mut s.values);
    let mut target = std::mem::take(&mut s.target);
    let classes = std::mem::take(&mut s.classes);
    let negative = std::mem::take(&mut s.negative);
    let inputs = |target| Inputs {
        values: &values,
        target,
        classes: &classes,
        negative: &negative,
    };
    let choice = match bound {
        BlockBound::Absolute { max_error } => {
            let dom = domain::Absolute { dtype, max_error };
            // The domain values are the values themselves.
            choose_and_code(
                &dom,
                &bound,
                &squeezed,
                dtype,
                &inputs(&values),
                s,
                &mut block,
            )
        }
        BlockBound::PointwiseRelative { rel, .. } => {
            let dom = domain::Log { dtype, rel };
            target.clear();
            target.extend(values.iter().zip(&classes).map(|(&v, &c)| {
                if c == mask::CODED {
                    dom.forward(v)
                } else {
                    0.0
                }
            }));
            choose_and_code(
                &dom,
                &bound,
                &squeezed,
                dtype,
                &inputs(&target),
                s,
                &mut block,
            )
        }
    };
    (s.values, s.target, s.classes, s.negative) = (values, target, classes, negative);
    block[3] = choice.predictor.code();
    block[4] = choice.schedule as u8;
    let checksum = xxhash_rust::xxh3::xxh3_64(&block[header_len..]) as u32;
    block[6..10].copy_from_slice(&checksum.to_le_bytes());
    let written = match output.get_mut(..block.len()) {
        Some(room) => {
            room.copy_from_slice(&block);
            Some((block.len(), choice))
        }
        None => None,
    };
    s.block = block;
    Ok(written)
}

/// Chooses the predictor and schedule on a sample, codes the block with them, appends the
/// coded sections (symbols, raw bits, exact values) to `out` and returns the choice.
/// `target` is the domain values (`None`: the values themselves).
fn choose_and_code<D: Domain>(
    dom: &D,
    bound: &BlockBound,
    shape: &[usize],
    dtype: Dtype,
    inputs: &Inputs<'_>,
    s: &mut Scratch,
    out: &mut Vec<u8>,
) -> Choice {
    let choice = choose(dom, bound, shape, dtype, inputs, s);
    let mut pass = run_pass(
        dom,
        bound,
        choice,
        shape,
        inputs,
        &mut s.work,
        &mut s.symbols,
        &mut s.exact,
    );
    let mut coded = std::mem::take(&mut s.coded);
    coded.clear();
    entropy_coder::encode(
        pass.symbols,
        &pass.segments,
        ALPHABET,
        &mut s.counts,
        &mut coded,
    );
    put_section(out, &coded);
    s.coded = coded;
    let raw = std::mem::take(&mut pass.raw).finish();
    put_section(out, &raw);
    let mut exact = vec![0u8; pass.exact.len() * dtype.size()];
    dtype.write_f64(pass.exact, &mut exact);
    put_section(out, &exact);
    choice
}

/// The predictor and level schedule that cost the fewest bits on a centred sample of the block.
fn choose<D: Domain>(
    dom: &D,
    bound: &BlockBound,
    shape: &[usize],
    dtype: Dtype,
    inputs: &Inputs<'_>,
    s: &mut Scratch,
) -> Choice {
    // The sample: a centred box of about SAMPLE_VALUES values (the whole block when small).
    let total: usize = shape.iter().product();
    let sample_shape: Vec<usize> = if total <= 2 * SAMPLE_VALUES {
        shape.to_vec()
    } else {
        let side = (SAMPLE_VALUES as f64).powf(1.0 / shape.len() as f64).ceil() as usize;
        let mut sh: Vec<usize> = shape.iter().map(|&d| d.min(side.max(4))).collect();
        // Give dimensions cut short room from the others.
        while sh.iter().product::<usize>() < SAMPLE_VALUES {
            let Some(d) = (0..sh.len()).find(|&d| sh[d] < shape[d]) else {
                break;
            };
            sh[d] = (sh[d] * 2).min(shape[d]);
        }
        sh
    };
    let value_bits = 8.0 * dtype.size() as f64;
    let sample = &mut s.sample;
    let sampled: Inputs<'_> = if sample_shape == shape {
        Inputs { ..*inputs }
    } else {
        let n: usize = sample_shape.iter().product();
        sample.values.clear();
        sample.target.clear();
        sample.classes.clear();
        sample.negative.clear();
        let nd = shape.len();
        let mut strides = vec![1usize; nd];
        for d in (0..nd - 1).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        let offset: usize = (0..nd)
            .map(|d| (shape[d] - sample_shape[d]) / 2 * strides[d])
            .sum();
        let mut idx = vec![0usize; nd];
        for _ in 0..n {
            let at = offset + (0..nd).map(|d| idx[d] * strides[d]).sum::<usize>();
            sample.values.push(inputs.values[at]);
            sample.target.push(inputs.target[at]);
            sample.classes.push(inputs.classes[at]);
            if !inputs.negative.is_empty() {
                sample.negative.push(inputs.negative[at]);
            }
            for d in (0..nd).rev() {
                idx[d] += 1;
                if idx[d] < sample_shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Inputs {
            values: &sample.values,
            target: &sample.target,
            classes: &sample.classes,
            negative: &sample.negative,
        }
    };
    sample.work.clear();
    sample.work.resize(sampled.values.len(), 0.0);
    let mut best: Option<(f64, Choice)> = None;
    let mut try_choice = |choice: Choice, best: &mut Option<(f64, Choice)>| {
        let pass = run_pass(
            dom,
            bound,
            choice,
            &sample_shape,
            &sampled,
            &mut sample.work,
            &mut sample.symbols,
            &mut sample.exact,
        );
        let cost = pass_cost(&pass, &mut s.counts, value_bits);
        if best.is_none_or(|(b, _)| cost < b) {
            *best = Some((cost, choice));
        }
    };
    for &p in Predictor::candidates(shape.len()) {
        if !p.supports(shape.len()) {
            continue;
        }
        let schedule = if matches!(p, Predictor::Lorenzo) {
            0
        } else {
            DEFAULT_SCHEDULE
        };
        try_choice(
            Choice {
                predictor: p,
                schedule,
            },
            &mut best,
        );
    }
    let (_, chosen) = best.expect("at least one candidate");
    if !matches!(chosen.predictor, Predictor::Lorenzo) {
        for schedule in 0..quantizer::LEVEL_SCHEDULES.len() {
            if schedule != DEFAULT_SCHEDULE {
                try_choice(
                    Choice {
                        predictor: chosen.predictor,
                        schedule,
                    },
                    &mut best,
                );
            }
        }
    }
    best.expect("at least one candidate").1
}

fn put_section(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    if bytes.len() >= 64 {
        let packed = lz4_flex::block::compress(bytes);
        if packed.len() + 4 < bytes.len() {
            out.push(1);
            write_varint(out, packed.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    out.push(0);
    out.extend_from_slice(bytes);
}

/// Reads a section of at most `max_len` bytes (after decompression).
fn get_section<'a>(input: &mut &'a [u8], max_len: usize) -> Result<Cow<'a, [u8]>> {
    let truncated = || Error::TruncatedBlock("a predictive block is cut short".into());
    let len = read_varint(input)? as usize;
    if len > max_len {
        return Err(Error::CorruptBlock(format!(
            "a section of {len} bytes where at most {max_len} fit"
        )));
    }
    let (&mode, rest) = input.split_first().ok_or_else(truncated)?;
    *input = rest;
    match mode {
        0 => {
            let bytes = input.get(..len).ok_or_else(truncated)?;
            *input = &input[len..];
            Ok(Cow::Borrowed(bytes))
        }
        1 => {
            let stored = read_varint(input)? as usize;
            let packed = input.get(..stored).ok_or_else(truncated)?;
            *input = &input[stored..];
            let mut buf = vec![0u8; len];
            let got = lz4_flex::block::decompress_into(packed, &mut buf)
                .map_err(|e| Error::CorruptBlock(format!("a section does not decompress: {e}")))?;
            if got != len {
                return Err(Error::CorruptBlock(format!(
                    "a section decompressed to {got} bytes, {len} expected"
                )));
            }
            Ok(Cow::Owned(buf))
        }
        m => Err(Error::CorruptBlock(format!("section mode {m}"))),
    }
}

/// A parsed format-4 header.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockInfo {
    /// The element type.
    pub dtype: Dtype,
    /// The coded shape.
    pub shape: Vec<usize>,
    /// The bound the block was coded to.
    pub bound: BlockBound,
    /// The predictor and level schedule.
    pub choice: Choice,
    flags: u8,
    checksum: u32,
}

/// Reads a predictive block's header; returns it and the length read.
pub fn read_header(input: &[u8]) -> Result<(BlockInfo, usize)> {
    let truncated = || {
        Error::TruncatedBlock(format!(
            "{} bytes, shorter than a block header",
            input.len()
        ))
    };
    let fixed = input.get(..11).ok_or_else(truncated)?;
    if fixed[0] != FORMAT_VERSION {
        return Err(Error::CorruptBlock(format!(
            "format {} is not a predictive block",
            fixed[0]
        )));
    }
    let dtype = Dtype::from_code(fixed[1])
        .ok_or_else(|| Error::CorruptBlock(format!("unknown dtype code {}", fixed[1])))?;
    let predictor = Predictor::from_code(fixed[3])
        .ok_or_else(|| Error::CorruptBlock(format!("unknown predictor {}", fixed[3])))?;
    let schedule = fixed[4] as usize;
    if schedule >= quantizer::LEVEL_SCHEDULES.len() {
        return Err(Error::CorruptBlock(format!(
            "unknown level schedule {schedule}"
        )));
    }
    let flags = fixed[5];
    if flags & !(FLAG_CLASSES | FLAG_SIGNS | FLAG_NON_FINITE) != 0 {
        return Err(Error::CorruptBlock(format!("unknown flags {flags:#04x}")));
    }
    let checksum = u32::from_le_bytes([fixed[6], fixed[7], fixed[8], fixed[9]]);
    let ndim = fixed[10] as usize;
    if ndim == 0 || ndim > MAX_DIMS {
        return Err(Error::CorruptBlock(format!("ndim {ndim}")));
    }
    let mut rest = &input[11..];
    let mut shape = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let d = read_varint(&mut rest)?;
        if d == 0 || d > u64::from(u32::MAX) {
            return Err(Error::CorruptBlock(format!(
                "dimension {d} in the coded shape"
            )));
        }
        shape.push(d as usize);
    }
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&t| t <= i32::MAX as usize)
        .ok_or_else(|| Error::CorruptBlock(format!("shape {shape:?} overflows")))?;
    // The checksum covers the bound and the sections.
    let header_len = input.len() - rest.len();
    let f64_at = |rest: &mut &[u8]| -> Result<f64> {
        let b = rest.get(..8).ok_or_else(truncated)?;
        *rest = &rest[8..];
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let bound = match fixed[2] {
        1 => BlockBound::Absolute {
            max_error: f64_at(&mut rest)?,
        },
        2 => {
            let rel = f64_at(&mut rest)?;
            let floor = f64_at(&mut rest)?;
            BlockBound::PointwiseRelative { rel, floor }
        }
        k => return Err(Error::CorruptBlock(format!("unknown bound kind {k}"))),
    };
    bound
        .check()
        .map_err(|e| Error::CorruptBlock(format!("the block's bound: {e}")))?;
    if flags & FLAG_SIGNS != 0 && !matches!(bound, BlockBound::PointwiseRelative { .. }) {
        return Err(Error::CorruptBlock(
            "signs in an absolute-bound block".into(),
        ));
    }
    if !predictor.supports(predictor::squeeze(&shape).len()) {
        return Err(Error::CorruptBlock(format!(
            "predictor {predictor:?} on a block of shape {shape:?}"
        )));
    }
    Ok((
        BlockInfo {
            dtype,
            shape,
            bound,
            choice: Choice {
                predictor,
                schedule,
            },
            flags,
            checksum,
        },
        header_len,
    ))
}

fn bound_len(bound: &BlockBound) -> usize {
    match bound {
        BlockBound::Absolute { .. } => 8,
        BlockBound::PointwiseRelative { .. } => 16,
    }
}

/// Decodes a predictive block into `output` (exactly the block's size in bytes: the coded
/// shape's values, or fewer for the short last block of a chunk). `host_typesize`, when
/// known, must match the block's dtype.
pub fn decode_block(
    input: &[u8],
    host_typesize: Option<usize>,
    output: &mut [u8],
) -> Result<usize> {
    let (info, body_start) = read_header(input)?;
    let body = &input[body_start..];
    if xxhash_rust::xxh3::xxh3_64(body) as u32 != info.checksum {
        return Err(Error::CorruptBlock(
            "payload checksum mismatch: the block is corrupt or truncated".into(),
        ));
    }
    let dtype = info.dtype;
    let size = dtype.size();
    if let Some(ts) = host_typesize {
        if ts != size {
            return Err(Error::CorruptBlock(format!(
                "block holds {size}-byte {dtype:?} items but the SChunk's typesize is {ts}"
            )));
        }
    }
    if !output.len().is_multiple_of(size) {
        return Err(Error::InvalidGeometry(format!(
            "output of {} bytes is not a whole number of {size}-byte items",
            output.len()
        )));
    }
    let n = output.len() / size;
    let total: usize = info.shape.iter().product();
    let row = total / info.shape[0];
    // A short block is padded to whole rows; more padding than MAX_PADDING is refused, so
    // that a forged shape cannot make the decoder allocate more than the output needs.
    if n == 0 || n > total || n <= total - row || total - n > MAX_PADDING {
        return Err(Error::CorruptBlock(format!(
            "block shape {:?} does not match an output of {n} items",
            info.shape
        )));
    }
    with_scratch(|s| decode_with(&info, body, n, total, output, s)).map(|()| output.len())
}

fn decode_with(
    info: &BlockInfo,
    body: &[u8],
    n: usize,
    total: usize,
    output: &mut [u8],
    s: &mut Scratch,
) -> Result<()> {
    let dtype = info.dtype;
    let size = dtype.size();
    let mut rest = &body[bound_len(&info.bound)..];
    s.classes.clear();
    s.classes.resize(total, mask::CODED);
    if info.flags & FLAG_CLASSES != 0 {
        let runs = get_section(&mut rest, 2 * total + 16)?;
        mask::read_runs(&runs, &mut s.classes)?;
    }
    s.negative.clear();
    if info.flags & FLAG_SIGNS != 0 {
        let bits = get_section(&mut rest, total.div_ceil(8))?;
        if bits.len() != total.div_ceil(8) {
            return Err(Error::CorruptBlock(
                "the sign bits do not cover the block".into(),
            ));
        }
        s.negative
            .extend((0..total).map(|i| bits[i / 8] >> (i % 8) & 1 == 1));
    }
    let n_non_finite = s.classes.iter().filter(|&&c| c == mask::NON_FINITE).count();
    let non_finite: Cow<'_, [u8]> = if info.flags & FLAG_NON_FINITE != 0 {
        let bytes = get_section(&mut rest, n_non_finite * size)?;
        if bytes.len() != n_non_finite * size {
            return Err(Error::CorruptBlock(
                "the non-finite values do not match their places".into(),
            ));
        }
        bytes
    } else {
        if n_non_finite > 0 {
            return Err(Error::CorruptBlock(
                "non-finite places without values".into(),
            ));
        }
        Cow::Borrowed(&[])
    };
    if s.classes[n..].contains(&mask::NON_FINITE) {
        return Err(Error::CorruptBlock(
            "non-finite values in the padding".into(),
        ));
    }
    let n_coded = s.classes.iter().filter(|&&c| c == mask::CODED).count();
    let coded = get_section(&mut rest, 4 * total + 1024)?;
    let mut coded_in = &coded[..];
    entropy_coder::decode(&mut coded_in, ALPHABET, n_coded, &mut s.symbols)?;
    if s.symbols.len() != n_coded {
        return Err(Error::CorruptBlock(format!(
            "{} symbols for {n_coded} coded values",
            s.symbols.len()
        )));
    }
    let raw = get_section(&mut rest, 4 * total + 16)?;
    let n_exact = s.symbols.iter().filter(|&&x| x == UNPREDICTABLE).count();
    let exact_bytes = get_section(&mut rest, n_exact * size)?;
    if exact_bytes.len() != n_exact * size {
        return Err(Error::CorruptBlock(
            "the exact values do not match their symbols".into(),
        ));
    }
    s.exact.clear();
    s.exact.resize(n_exact, 0.0);
    dtype.read_f64(&exact_bytes, &mut s.exact);
    if s.exact.iter().any(|v| !v.is_finite()) {
        return Err(Error::CorruptBlock("a non-finite exact value".into()));
    }
    if !rest.is_empty() {
        return Err(Error::CorruptBlock(format!(
            "{} bytes after the last section",
            rest.len()
        )));
    }
    let shape = predictor::squeeze(&info.shape);
    let mut reader = RawBitReader::new(&raw);
    s.values.clear();
    s.values.resize(total, 0.0);
    s.work.clear();
    s.work.resize(total, 0.0);
    match info.bound {
        BlockBound::Absolute { max_error } => {
            let dom = domain::Absolute { dtype, max_error };
            decode_pass(&dom, info.choice, &shape, s, &mut reader);
        }
        BlockBound::PointwiseRelative { rel, .. } => {
            if n_exact > 0 && s.exact.contains(&0.0) {
                return Err(Error::CorruptBlock(
                    "an exact zero among log-coded values".into(),
                ));
            }
            let dom = domain::Log { dtype, rel };
            decode_pass(&dom, info.choice, &shape, s, &mut reader);
            for (i, c) in s.classes.iter().enumerate() {
                if *c == mask::ZERO {
                    s.values[i] = if s.negative.get(i) == Some(&true) {
                        -0.0
                    } else {
                        0.0
                    };
                }
            }
        }
    }
    if reader.overrun {
        return Err(Error::CorruptBlock("the raw bits are cut short".into()));
    }
    dtype.write_f64(&s.values[..n], output);
    let places = s.classes[..n]
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == mask::NON_FINITE)
        .map(|(i, _)| i);
    for (i, stored) in places.zip(non_finite.chunks_exact(size)) {
        output[i * size..(i + 1) * size].copy_from_slice(stored);
    }
    Ok(())
}

fn decode_pass<D: Domain>(
    dom: &D,
    choice: Choice,
    shape: &[usize],
    s: &mut Scratch,
    reader: &mut RawBitReader<'_>,
) {
    let steps = LevelSteps::new(
        dom.domain_bound(),
        choice.predictor.levels(shape),
        choice.schedule,
    );
    let (step, classes, symbols, exact, negative, values) = (
        &steps.step,
        &s.classes,
        &s.symbols,
        &s.exact,
        &s.negative,
        &mut s.values,
    );
    let has_signs = !negative.is_empty();
    let (mut k, mut e) = (0usize, 0usize);
    choice.predictor.traverse(
        shape,
        &mut s.work,
        #[inline(always)]
        |i, pred, level| {
            if classes[i] != mask::CODED {
                return if pred.is_finite() { pred } else { 0.0 };
            }
            // The counts were checked: one symbol per coded value, one exact value per
            // unpredictable symbol.
            let symbol = symbols[k];
            k += 1;
            if symbol == UNPREDICTABLE {
                let x = exact[e];
                e += 1;
                values[i] = x;
                return dom.forward(x);
            }
            let q = quantizer::from_symbol(symbol, reader.get(quantizer::raw_bits(symbol)));
            let kept = dom.keep(pred + step[level as usize] * q as f64);
            values[i] = dom.output(kept, has_signs && negative[i]);
            kept
        },
    );
}

#[cfg(test)]
mod tests;
