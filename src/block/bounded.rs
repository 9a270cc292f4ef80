//! Error-bounded blocks (format 3): every tile gets what it needs, and every decoded value is
//! within `max_error` of the original.
//!
//! The pipeline, in the manner of SZ (predict, then quantize what is left):
//! 1. **Tile modes.** A tile whose values are all zero (under log10: all `0 ≤ x < floor`,
//!    "empty") is one `ZERO` symbol and decodes to exact zeros. A tile whose values are all
//!    equal is `CONSTANT`: its value is stored once (or `REPEAT` when it is the previous
//!    constant tile's). Any other tile is coded with `s` residual stages, `s` chosen per tile
//!    ([`ResidualStages::code_adaptive`]).
//! 2. **Corrections.** The stages predict every value; what is left (in the transformed
//!    domain) is quantized with step `2 · max_error`: `q = round((x - prediction) / step)`,
//!    so `|x - (prediction + q · step)| ≤ max_error`.
//! 3. **Checks.** The encoder decodes every value exactly as the decoder will (same float32
//!    operations, no fused multiply-add, the dtype's rounding) and checks the bound against
//!    the original value in float64. A value that fails (rounding at the edge, a reach beyond
//!    `±2^20` steps, a negative value under log10) is an escape: stored as it is (an empty
//!    cell under log10 as 0).
//! 4. **Entropy coding.** Tile modes, mean differences, stage indexes and corrections go
//!    through one range-coded stream with static per-block models ([`crate::entropy`]).
//!
//! What is guaranteed, for every finite value `x` and its decoded `y`:
//! - identity transform: `|y - x| ≤ max_error` (in float64, on the values as stored);
//! - log10 transform with floor `f`: for `x ≥ f`, `y > 0` and `|log10 y - log10 x| ≤
//!   max_error` (a relative bound: `log10(1.1)` is 10 %); for `0 ≤ x < f`, `y = 0` exactly
//!   (the floor means "empty"); negative `x` come back exactly.
//!
//! NaN and infinity are not coded: such a block is stored raw, as in the other formats.
//!
//! Payload layout:
//! ```text
//! varint   which models follow: bit 0 tile modes, bit 1 mean differences, bits 2 to 5 the
//!          corrections in context 0 to 3, bit 6 + s: stage s has a model (else its indexes
//!          are uniform)
//! models   in that order (`entropy::StaticModel::write`)
//! varint   bytes of the range-coded stream, then the stream
//! rest     stored values, `dtype` bytes each: constant tiles' values (tile order), then
//!          escapes (value order)
//! ```
//! In the stream: every tile's mode; then per coded tile, its mean difference from the
//! previous coded tile's (zigzag, by category) and its stage indexes; then per value of the
//! coded tiles, in block order, its correction (zigzagged: a symbol of its own below 4, else
//! by category) or the escape symbol,
//! in the model of its context: the sum of the sizes (0, 1, 2 or more steps) of its left and
//! upper neighbours' corrections, capped at 3.

use super::{Encoded, Scratch};
use crate::codebook::{PreparedCodebook, Transform};
use crate::entropy::{
    category, get_categorized, put_categorized, read_varint, unzigzag, value_of_category,
    write_varint, zigzag, StaticModel, SymbolDecoder, SymbolEncoder,
};
use crate::error::{Error, Result};
use crate::kinds::residual::{ResidualStages, TileCode, MAX_MEAN_CODE};
use crate::kinds::sized;
use crate::tiles::{Dtype, TileGrid};

/// Tile mode symbols: then `FIRST_CODED + s` for a tile coded with `s` stages.
const ZERO: u32 = 0;
const REPEAT: u32 = 1;
const CONSTANT: u32 = 2;
const FIRST_CODED: u32 = 3;
/// Largest correction in steps; beyond it a value is an escape.
const MAX_STEPS: i32 = 1 << 20;
/// Corrections are symbols of their own below `DIRECT` (zigzagged), and above it a category
/// (the bit length, `DIRECT_BITS + 1` to 22 for `±2^20`) followed by its low bits; then the
/// escape symbol. Direct symbols below 4 measured best on the faces and VDFs (below 16, the
/// larger models cost more than they save).
const DIRECT_BITS: u32 = 2;
const DIRECT: u32 = 1 << DIRECT_BITS;
const ESCAPE: u32 = DIRECT + (22 - DIRECT_BITS);
const CORRECTION_ALPHABET: usize = ESCAPE as usize + 1;

/// The symbol of a zigzagged correction `z` (below [`ESCAPE`]).
fn correction_symbol(z: u32) -> u32 {
    if z < DIRECT {
        z
    } else {
        DIRECT + category(z) - (DIRECT_BITS + 1)
    }
}
/// Tile mean differences are coded by category (zigzag bit length, 0 to 32).
const MEAN_ALPHABET: usize = 33;
/// Under log10 the decoder's `10^y` comes from the platform's `powf`, which may differ in
/// the last bit between C libraries: the encoder keeps this margin (decades) to the bound.
const LOG_MARGIN: f64 = 1e-6;

const HAS_MODES: u64 = 1;
const HAS_MEANS: u64 = 2;
/// Corrections are coded in one of `CONTEXTS` models, by the size of the corrections of the
/// value's left and upper neighbours (bit `FIRST_CONTEXT_BIT + c` marks context `c`'s).
const CONTEXTS: usize = 4;
const FIRST_CONTEXT_BIT: u32 = 2;
const FIRST_STAGE_BIT: u32 = FIRST_CONTEXT_BIT + CONTEXTS as u32;
/// In the per-value corrections: a value of a tile that is not coded, and an escape.
const NOT_CODED: u32 = u32::MAX - 1;
const ESCAPED: u32 = u32::MAX;

/// How large a value's correction was, for its neighbours' context: 0, 1, or 2 for
/// anything larger (and escapes).
fn magnitude(c: u32) -> usize {
    match c {
        NOT_CODED => 0,
        ESCAPED => 2,
        z => (z.div_ceil(2) as usize).min(2),
    }
}

/// The context of value `i` (row length `width`) from its already-coded neighbours.
fn context(corrections: &[u32], i: usize, width: usize) -> usize {
    let left = if !i.is_multiple_of(width) {
        magnitude(corrections[i - 1])
    } else {
        0
    };
    let up = if i >= width {
        magnitude(corrections[i - width])
    } else {
        0
    };
    (left + up).min(CONTEXTS - 1)
}

/// The decoder's inverse transform for bounded blocks: under log10, values below the floor
/// (in decades) are empty.
#[derive(Clone, Copy)]
struct Inverse {
    /// `log10(floor)` in float32 under the log10 transform (computed once per block, not per
    /// value); `None`: values are coded as they are.
    empty_below: Option<f32>,
}

impl Inverse {
    fn new(transform: Transform) -> Self {
        Inverse {
            empty_below: match transform {
                Transform::Log10 { floor } => Some((floor as f32).log10()),
                _ => None,
            },
        }
    }

    fn apply(self, y: f32) -> f32 {
        match self.empty_below {
            Some(below) if y < below => 0.0,
            Some(_) => 10f32.powf(y),
            None => y,
        }
    }
}

/// Whether `decoded` meets the bound for the original `x` (see the module docs).
fn within(transform: Transform, max_error: f64, x: f64, decoded: f64) -> bool {
    match transform {
        Transform::Log10 { floor } => {
            if x >= floor {
                decoded > 0.0 && (decoded.log10() - x.log10()).abs() <= max_error - LOG_MARGIN
            } else if x >= 0.0 {
                decoded == 0.0
            } else {
                false
            }
        }
        _ => (decoded - x).abs() <= max_error,
    }
}

/// Whether the value `x` is "empty" under the transform (decodes as exact zero by itself).
fn is_empty(transform: Transform, x: f64) -> bool {
    match transform {
        Transform::Log10 { floor } => (0.0..floor).contains(&x),
        _ => x == 0.0,
    }
}

/// The correction step of a bound, as both sides compute it.
fn step_of(max_error: f64) -> f32 {
    (2.0 * max_error) as f32
}

/// Encodes one block with the bound. `values` holds the block's `n` values read as float32,
/// padded to the grid; `input` its raw bytes.
pub(super) fn encode(
    cb: &PreparedCodebook,
    stages: &ResidualStages,
    grid: &TileGrid,
    dtype: Dtype,
    n: usize,
    input: &[u8],
    max_error: f64,
    scratch: &mut Scratch,
    payload: &mut Vec<u8>,
) -> Result<Encoded> {
    let transform = cb.codebook.transform();
    let (p, n_tiles, n_values) = (cb.basis.p, grid.n_tiles(), grid.n_values());
    let size = dtype.size();
    let step = step_of(max_error);

    // The originals, exactly, padded like the float32 values.
    let exact = &mut scratch.exact;
    exact.resize(n_values, 0.0);
    dtype.read_f64(input, &mut exact[..n]);
    if exact[..n].iter().any(|v| !v.is_finite()) {
        return Ok(Encoded::NonFinite);
    }
    let last = exact[n - 1];
    exact[n..].fill(last);
    let values = sized(&mut scratch.values, n_values);
    for (v, &x) in values.iter_mut().zip(exact.iter()) {
        *v = x as f32;
    }
    transform.forward(values);

    let exact_tiles = &mut scratch.exact_tiles;
    exact_tiles.resize(n_tiles * p, 0.0);
    grid.extract(exact, exact_tiles);
    let tiles = sized(&mut scratch.tiles, n_tiles * p);
    grid.extract(values, tiles);
    cb.basis.standardize(tiles);

    // 1. Tile modes and codes.
    let codes = &mut scratch.tile_codes;
    codes.clear();
    codes.resize(n_tiles, TileCode::default());
    let modes = &mut scratch.modes;
    modes.clear();
    let mut constants: Vec<f64> = Vec::new();
    let log = matches!(transform, Transform::Log10 { .. });
    let mut below = vec![false; p];
    let mean_step = ResidualStages::bounded_mean_step(&cb.basis, step);
    for t in 0..n_tiles {
        let x = &exact_tiles[t * p..(t + 1) * p];
        if x.iter().all(|&v| is_empty(transform, v)) {
            modes.push(ZERO);
        } else if x.iter().all(|&v| v.to_bits() == x[0].to_bits()) {
            let repeat = constants
                .last()
                .is_some_and(|&c| c.to_bits() == x[0].to_bits());
            if repeat {
                modes.push(REPEAT);
            } else {
                modes.push(CONSTANT);
                constants.push(x[0]);
            }
        } else {
            // Under log10 an empty cell only has to decode below the floor.
            for (b, &v) in below.iter_mut().zip(x) {
                *b = log && is_empty(transform, v);
            }
            let z = &mut tiles[t * p..(t + 1) * p];
            codes[t] = stages.code_adaptive(z, &below, &cb.basis.scale, step, mean_step);
            modes.push(FIRST_CODED + u32::from(codes[t].n_stages));
        }
    }

    // 2. Predictions, exactly as the decoder makes them.
    predict(
        cb,
        stages,
        grid,
        modes,
        codes,
        mean_step,
        sized(&mut scratch.tiles, n_tiles * p),
    );
    let pred = sized(&mut scratch.values, n_values);
    grid.assemble(&scratch.tiles[..n_tiles * p], pred);
    let tile_of = tile_of_values(grid, &mut scratch.tile_map);

    // 3. Corrections and checks.
    let corrections = &mut scratch.corrections;
    corrections.clear();
    corrections.resize(n, NOT_CODED);
    let mut escapes: Vec<usize> = Vec::new();
    let log_floor = match transform {
        Transform::Log10 { floor } => Some(floor),
        _ => None,
    };
    let inverse = Inverse::new(transform);
    for i in 0..n {
        if modes[tile_of[i] as usize] < FIRST_CODED {
            continue;
        }
        let x = exact[i];
        let decodes_within = |q: i32| {
            let y = pred[i] + q as f32 * step;
            within(transform, max_error, x, dtype.stored(inverse.apply(y)))
        };
        let chosen = match inverse.empty_below {
            Some(below) if is_empty(transform, x) => {
                // Empty: any correction that lands below the floor will do, the smallest first.
                let err = f64::from(below) - f64::from(pred[i]);
                let q = below_steps(err, f64::from(step));
                (q.abs() <= f64::from(MAX_STEPS))
                    .then_some(q as i32)
                    .and_then(|q| [q, q - 1].into_iter().find(|&q| decodes_within(q)))
            }
            _ => {
                let target = match log_floor {
                    Some(floor) if x >= floor => x.log10(),
                    Some(_) => f64::NAN, // negative under log10: an escape
                    None => x,
                };
                let q = ((target - f64::from(pred[i])) / f64::from(step)).round();
                (q.is_finite() && q.abs() <= f64::from(MAX_STEPS))
                    .then_some(q as i32)
                    .filter(|&q| decodes_within(q))
            }
        };
        match chosen {
            Some(q) => corrections[i] = zigzag(q),
            None => {
                corrections[i] = ESCAPED;
                escapes.push(i);
            }
        }
    }

    // 4. Models and the stream.
    let mut mode_counts = vec![0u64; FIRST_CODED as usize + stages.n_stages() + 1];
    modes.iter().for_each(|&m| mode_counts[m as usize] += 1);
    let mean_bits = stages.mean.bits;
    let mut mean_counts = vec![0u64; MEAN_ALPHABET];
    let mut index_counts = vec![vec![0u64; stages.k()]; stages.n_stages()];
    let tiles_per_row = grid.tiles_per_row();
    // Each coded tile's mean less its prediction, in tile order (used twice below).
    let mut mean_deltas = Vec::new();
    let mut previous = 0;
    for (t, code) in codes.iter().enumerate() {
        if modes[t] < FIRST_CODED {
            continue;
        }
        if mean_bits > 0 {
            let d = code.mean - predicted_mean(modes, codes, t, tiles_per_row, previous);
            previous = code.mean;
            mean_counts[category(zigzag(d)) as usize] += 1;
            mean_deltas.push(d);
        }
        for (s, &j) in code.indexes[..code.n_stages as usize].iter().enumerate() {
            index_counts[s][j as usize] += 1;
        }
    }
    let width = grid.row_len();
    let mut correction_counts = vec![vec![0u64; CORRECTION_ALPHABET]; CONTEXTS];
    for (i, &c) in corrections.iter().enumerate() {
        let symbol = match c {
            NOT_CODED => continue,
            ESCAPED => ESCAPE,
            z => correction_symbol(z),
        };
        correction_counts[context(corrections, i, width)][symbol as usize] += 1;
    }

    let mut mask = HAS_MODES;
    let mode_model = StaticModel::from_counts(&mode_counts).expect("a block has tiles");
    let mean_model = StaticModel::from_counts(&mean_counts);
    if mean_model.is_some() {
        mask |= HAS_MEANS;
    }
    let correction_models: Vec<Option<StaticModel>> = correction_counts
        .iter()
        .enumerate()
        .map(|(c, counts)| {
            let model = StaticModel::from_counts(counts);
            if model.is_some() {
                mask |= 1 << (FIRST_CONTEXT_BIT + c as u32);
            }
            model
        })
        .collect();
    // A stage's indexes get a model only when it beats their plain bits.
    let index_bits = f64::from(crate::kinds::index_bits(stages.k()));
    let index_models: Vec<Option<StaticModel>> = index_counts
        .iter()
        .enumerate()
        .map(|(s, counts)| {
            let used: u64 = counts.iter().sum();
            let model = (used > 0 && StaticModel::cost_bits(counts) < used as f64 * index_bits)
                .then(|| StaticModel::from_counts(counts))
                .flatten();
            if model.is_some() {
                mask |= 1 << (FIRST_STAGE_BIT + s as u32);
            }
            model
        })
        .collect();

    let mut enc = SymbolEncoder::new();
    modes.iter().for_each(|&m| enc.put(&mode_model, m));
    let mut deltas = mean_deltas.iter();
    for (t, code) in codes.iter().enumerate() {
        if modes[t] < FIRST_CODED {
            continue;
        }
        if let (Some(model), Some(&d)) = (&mean_model, deltas.next()) {
            put_categorized(&mut enc, model, zigzag(d));
        }
        for (s, &j) in code.indexes[..code.n_stages as usize].iter().enumerate() {
            match &index_models[s] {
                Some(model) => enc.put(model, u32::from(j)),
                None => enc.put_uniform(u32::from(j), stages.k() as u32),
            }
        }
    }
    for (i, &c) in corrections.iter().enumerate() {
        if c == NOT_CODED {
            continue;
        }
        let model = correction_models[context(corrections, i, width)]
            .as_ref()
            .expect("every context in use has a model");
        if c == ESCAPED {
            enc.put(model, ESCAPE);
        } else {
            let symbol = correction_symbol(c);
            enc.put(model, symbol);
            if symbol >= DIRECT {
                enc.put_bits(c, category(c) - 1);
            }
        }
    }
    let stream = enc.finish();

    payload.clear();
    write_varint(payload, mask);
    mode_model.write(payload);
    if let Some(m) = &mean_model {
        m.write(payload);
    }
    for m in correction_models.iter().flatten() {
        m.write(payload);
    }
    for m in index_models.iter().flatten() {
        m.write(payload);
    }
    write_varint(payload, stream.len() as u64);
    payload.extend_from_slice(&stream);
    let mut raw = vec![0u8; size];
    for &c in &constants {
        write_exact(dtype, c, &mut raw);
        payload.extend_from_slice(&raw);
    }
    let mut zero = vec![0u8; size];
    dtype.write_f32(&[0.0], &mut zero);
    for &i in &escapes {
        // An empty cell under log10 is stored as the 0 it stands for.
        if log && is_empty(transform, exact[i]) {
            payload.extend_from_slice(&zero);
        } else {
            payload.extend_from_slice(&input[i * size..(i + 1) * size]);
        }
    }
    Ok(Encoded::Packed(payload.len()))
}

/// The correction, in steps, that brings a prediction `err` above a value strictly below it:
/// 0 when the prediction is already below (`err > 0`), else the fewest steps down.
pub(crate) fn below_steps(err: f64, step: f64) -> f64 {
    if err > 0.0 {
        return 0.0;
    }
    let q = (err / step).floor();
    if q * step >= err {
        q - 1.0
    } else {
        q
    }
}

/// The prediction of coded tile `t`'s mean code from its left and upper neighbours (their
/// average when both are coded, else the one that is, else `previous`: the previous coded
/// tile's, or 0).
fn predicted_mean(
    modes: &[u32],
    codes: &[TileCode],
    t: usize,
    tiles_per_row: usize,
    previous: i32,
) -> i32 {
    let coded = |u: usize| modes[u] >= FIRST_CODED;
    let left = (!t.is_multiple_of(tiles_per_row) && coded(t - 1)).then(|| codes[t - 1].mean);
    let up =
        (t >= tiles_per_row && coded(t - tiles_per_row)).then(|| codes[t - tiles_per_row].mean);
    match (left, up) {
        (Some(l), Some(u)) => ((i64::from(l) + i64::from(u)).div_euclid(2)) as i32,
        (Some(m), None) | (None, Some(m)) => m,
        (None, None) => previous,
    }
}

/// The bytes of `v` (a value read from this dtype) in the dtype.
fn write_exact(dtype: Dtype, v: f64, out: &mut [u8]) {
    match dtype {
        Dtype::Float64 => out.copy_from_slice(&v.to_ne_bytes()),
        // Every other dtype's values are exactly float32 values.
        _ => dtype.write_f32(&[v as f32], out),
    }
}

/// The predictions of every tile (value units; zero for tiles that are not coded).
fn predict(
    cb: &PreparedCodebook,
    stages: &ResidualStages,
    grid: &TileGrid,
    modes: &[u32],
    codes: &[TileCode],
    mean_step: f32,
    tiles: &mut [f32],
) {
    let p = cb.basis.p;
    debug_assert_eq!(tiles.len(), grid.n_tiles() * p);
    for ((tile, code), &mode) in tiles.chunks_exact_mut(p).zip(codes).zip(modes) {
        if mode >= FIRST_CODED {
            stages.reconstruct_adaptive(&cb.basis, code, mean_step, tile);
        } else {
            tile.fill(0.0);
        }
    }
}

/// For every value of the block, the index of the tile that holds it; kept in `scratch` for
/// the next block of the same grid (every block of a chunk but a short last one).
fn tile_of_values<'a>(grid: &TileGrid, scratch: &'a mut TileMap) -> &'a [u32] {
    if scratch.grid.as_ref() != Some(grid) {
        let p = grid.tile_len();
        let ids: Vec<u32> = (0..grid.n_tiles() as u32)
            .flat_map(|t| std::iter::repeat_n(t, p))
            .collect();
        scratch.tile_of.clear();
        scratch.tile_of.resize(grid.n_values(), 0);
        grid.assemble(&ids, &mut scratch.tile_of);
        scratch.grid = Some(grid.clone());
    }
    &scratch.tile_of
}

/// The tile of every value, for the grid it was computed for.
#[derive(Default)]
pub(super) struct TileMap {
    grid: Option<TileGrid>,
    tile_of: Vec<u32>,
}

/// Decodes an error-bounded block's `payload` into `output` (`n` values of `dtype`).
pub(super) fn decode(
    cb: &PreparedCodebook,
    stages: &ResidualStages,
    grid: &TileGrid,
    dtype: Dtype,
    max_error: f64,
    payload: &[u8],
    n: usize,
    output: &mut [u8],
    scratch: &mut Scratch,
) -> Result<()> {
    let transform = cb.codebook.transform();
    let (p, n_tiles, n_values) = (cb.basis.p, grid.n_tiles(), grid.n_values());
    let size = dtype.size();
    let step = step_of(max_error);
    let mean_step = ResidualStages::bounded_mean_step(&cb.basis, step);
    let corrupt = |m: &str| Error::CorruptBlock(format!("error-bounded block: {m}"));

    let mut rest = payload;
    let mask = read_varint(&mut rest)?;
    let n_modes = FIRST_CODED as usize + stages.n_stages() + 1;
    if mask & HAS_MODES == 0 || mask >> (FIRST_STAGE_BIT as usize + stages.n_stages()) != 0 {
        return Err(corrupt(&format!("model mask {mask:#x}")));
    }
    let mode_model = StaticModel::read(&mut rest, n_modes)?;
    let mean_model = (mask & HAS_MEANS != 0)
        .then(|| StaticModel::read(&mut rest, MEAN_ALPHABET))
        .transpose()?;
    let correction_models = (0..CONTEXTS)
        .map(|c| {
            (mask & (1 << (FIRST_CONTEXT_BIT + c as u32)) != 0)
                .then(|| StaticModel::read(&mut rest, CORRECTION_ALPHABET))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    let index_models = (0..stages.n_stages())
        .map(|s| {
            (mask & (1 << (FIRST_STAGE_BIT + s as u32)) != 0)
                .then(|| StaticModel::read(&mut rest, stages.k()))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    let stream_len = read_varint(&mut rest)?;
    if stream_len > rest.len() as u64 {
        return Err(Error::TruncatedBlock(format!(
            "the coded stream needs {stream_len} bytes, {} are left",
            rest.len()
        )));
    }
    let (stream, stored) = rest.split_at(stream_len as usize);
    let mut dec = SymbolDecoder::new(stream)?;

    let modes = &mut scratch.modes;
    modes.clear();
    for _ in 0..n_tiles {
        modes.push(dec.get(&mode_model)?);
    }
    let codes = &mut scratch.tile_codes;
    codes.clear();
    codes.resize(n_tiles, TileCode::default());
    let tiles_per_row = grid.tiles_per_row();
    let mut previous = 0;
    let mut n_constants = 0usize;
    for (t, &mode) in modes.iter().enumerate() {
        if mode == CONSTANT {
            n_constants += 1;
        } else if mode == REPEAT && n_constants == 0 {
            return Err(corrupt("a repeated constant before any constant"));
        }
        if mode < FIRST_CODED {
            continue;
        }
        codes[t].n_stages = (mode - FIRST_CODED) as u8;
        if stages.mean.bits > 0 {
            let model = mean_model
                .as_ref()
                .ok_or_else(|| corrupt("means without a model"))?;
            let m = i64::from(predicted_mean(modes, codes, t, tiles_per_row, previous))
                + i64::from(unzigzag(get_categorized(&mut dec, model)?));
            if m.abs() > i64::from(MAX_MEAN_CODE) {
                return Err(corrupt(&format!("tile mean code {m}")));
            }
            codes[t].mean = m as i32;
            previous = m as i32;
        }
        let code = &mut codes[t];
        let used = code.n_stages as usize;
        for (s, model) in index_models[..used].iter().enumerate() {
            let j = match model {
                Some(model) => dec.get(model)?,
                None => dec.get_uniform(stages.k() as u32)?,
            };
            if j as usize >= stages.k() {
                return Err(crate::kinds::bad_index(j as u16, stages.k()));
            }
            code.indexes[s] = j as u16;
        }
    }

    predict(
        cb,
        stages,
        grid,
        modes,
        codes,
        mean_step,
        sized(&mut scratch.tiles, n_tiles * p),
    );
    let values = sized(&mut scratch.values, n_values);
    grid.assemble(&scratch.tiles[..n_tiles * p], values);
    let tile_of = tile_of_values(grid, &mut scratch.tile_map);

    let width = grid.row_len();
    let corrections = &mut scratch.corrections;
    corrections.clear();
    corrections.resize(n, NOT_CODED);
    let mut escapes: Vec<usize> = Vec::new();
    let inverse = Inverse::new(transform);
    for i in 0..n {
        if modes[tile_of[i] as usize] < FIRST_CODED {
            continue;
        }
        let model = correction_models[context(corrections, i, width)]
            .as_ref()
            .ok_or_else(|| corrupt("corrections without a model"))?;
        let c = dec.get(model)?;
        let y = if c == ESCAPE {
            corrections[i] = ESCAPED;
            escapes.push(i);
            0.0
        } else {
            let z = if c < DIRECT {
                c
            } else {
                value_of_category(&mut dec, c - DIRECT + DIRECT_BITS + 1)?
            };
            let q = unzigzag(z);
            if q.abs() > MAX_STEPS {
                return Err(corrupt(&format!("a correction of {q} steps")));
            }
            corrections[i] = z;
            values[i] + q as f32 * step
        };
        values[i] = inverse.apply(y);
    }
    let n_escapes = escapes.len();
    if stored.len() != (n_constants + n_escapes) * size {
        return Err(Error::TruncatedBlock(format!(
            "{} bytes of stored values, {} expected",
            stored.len(),
            (n_constants + n_escapes) * size
        )));
    }
    dtype.write_f32(&values[..n], output);
    let (constants, escaped) = stored.split_at(n_constants * size);
    // Constant and empty tiles, value by value (their tiles' values are wherever the grid
    // puts them).
    let mut constant_of_tile = vec![u32::MAX; n_tiles];
    let mut c = 0u32;
    for (t, &mode) in modes.iter().enumerate() {
        match mode {
            CONSTANT => {
                constant_of_tile[t] = c;
                c += 1;
            }
            REPEAT => constant_of_tile[t] = c - 1,
            _ => {}
        }
    }
    let zero = {
        let mut b = [0u8; 8];
        dtype.write_f32(&[0.0], &mut b[..size]);
        b
    };
    for i in 0..n {
        let t = tile_of[i] as usize;
        let out = &mut output[i * size..(i + 1) * size];
        match modes[t] {
            ZERO => out.copy_from_slice(&zero[..size]),
            REPEAT | CONSTANT => {
                let k = constant_of_tile[t] as usize;
                out.copy_from_slice(&constants[k * size..(k + 1) * size]);
            }
            _ => {}
        }
    }
    for (e, &i) in escapes.iter().enumerate() {
        output[i * size..(i + 1) * size].copy_from_slice(&escaped[e * size..(e + 1) * size]);
    }
    Ok(())
}
