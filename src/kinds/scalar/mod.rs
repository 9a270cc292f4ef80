//! Scalar quantizers: every value on its own to the nearest of `2^bits` ascending levels
//! (placed uniformly, by quantile or by Lloyd-Max), one level index per value. The codebook's
//! tiles are single values with an identity scaler, so blocks skip tiling.

mod fit;
mod levels;

pub use fit::{ScalarFit, ScalarParams};

use super::{
    bad_index, check_index_bits, codes_end_early, index_bits, sized, stream_len, Basis,
    CodeScratch, Coder, Fitted, KindParams, Names, Room, TrainOptions,
};
use crate::block::bitpack::{pack, unpack};
use crate::codebook::{Codebook, ModelKind, ScalarMethod};
use crate::error::{Error, Result};
use crate::train::{ModelParams, Observer, Progress};
use levels::ScalarLevels;

/// Most bits per index (`2^bits` levels).
pub const MAX_SCALAR_BITS: u8 = 12;
/// Bits per value of a default scalar quantizer.
pub const DEFAULT_BITS: u8 = 4;
/// How a default scalar quantizer places its levels.
pub const DEFAULT_METHOD: ScalarMethod = ScalarMethod::LloydMax;

impl Default for ScalarParams {
    /// [`ScalarParams::new`] with [`DEFAULT_BITS`] and [`DEFAULT_METHOD`].
    fn default() -> Self {
        ScalarParams::new(DEFAULT_BITS, DEFAULT_METHOD)
    }
}

pub(crate) struct ScalarRoom;

impl Room for ScalarRoom {
    fn names(&self) -> Names {
        Names {
            code: 5,
            schema: "scalar",
            short: "scalar",
            has_weights: false,
        }
    }

    fn default_params(&self) -> ModelParams {
        ModelParams::Scalar(ScalarParams::default())
    }

    fn params_from_options(&self, o: &TrainOptions) -> ModelParams {
        ModelParams::Scalar(
            ScalarParams::new(o.scalar_bits, o.scalar_method)
                .max_iter(o.max_iter)
                .tol(o.tol),
        )
    }

    fn write_options(&self, params: &ModelParams, o: &mut TrainOptions) {
        if let ModelParams::Scalar(p) = params {
            o.scalar_bits = p.get_bits();
            // Informative: the levels (the quantizer reads `scalar_bits`).
            o.n_prototypes = 1 << p.get_bits().min(MAX_SCALAR_BITS);
            o.scalar_method = p.get_method();
            o.max_iter = p.get_max_iter();
            o.tol = p.get_tol();
        }
    }

    fn max_prototypes(&self) -> usize {
        1 << MAX_SCALAR_BITS
    }

    fn validate(&self, cb: &Codebook) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidCodebook(m));
        if cb.n_features() != 1 {
            return bad(format!(
                "a scalar quantizer works on 1-value tiles, not {:?}",
                cb.tile_shape()
            ));
        }
        if cb.scaler().mean != [0.0] || cb.scaler().scale != [1.0] {
            return bad("a scalar quantizer's scaler must be the identity".into());
        }
        if cb.prototypes().windows(2).any(|w| w[0] > w[1]) {
            return bad("scalar levels must be ascending".into());
        }
        Ok(())
    }

    fn prepare(&self, cb: &Codebook, _basis: &Basis) -> Box<dyn Coder> {
        Box::new(ScalarCoder(ScalarLevels::new(
            cb.prototypes().iter().map(|&v| v as f32).collect(),
        )))
    }
}

/// The prepared scalar quantizer.
#[derive(Debug)]
struct ScalarCoder(ScalarLevels);

impl Coder for ScalarCoder {
    fn header_bits(&self, _weight_bits: u8) -> u8 {
        index_bits(self.0.len())
    }

    fn check_header_bits(&self, bits: u8) -> Result<()> {
        check_index_bits(bits, index_bits(self.0.len()))
    }

    fn packed_size(&self, n_values: usize, bits: u8) -> Option<usize> {
        stream_len(Some(n_values), bits)
    }

    fn codes_single_values(&self) -> bool {
        true
    }

    fn encode(
        &self,
        _basis: &Basis,
        values: &mut [f32],
        bits: u8,
        scratch: &mut CodeScratch,
        packed: &mut Vec<u8>,
    ) {
        let idx = sized(&mut scratch.codes, values.len());
        self.0.nearest_all(values, idx);
        pack(idx, bits, packed);
    }

    fn decode(
        &self,
        _basis: &Basis,
        packed: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        values: &mut [f32],
    ) -> Result<()> {
        let idx = sized(&mut scratch.codes, values.len());
        unpack(packed, bits, idx).ok_or_else(codes_end_early)?;
        let levels = self.0.levels();
        // Checked once, so the gather below has no error path.
        if let Some(&j) = idx.iter().find(|&&j| j as usize >= levels.len()) {
            return Err(bad_index(j, levels.len()));
        }
        for (v, &j) in values.iter_mut().zip(idx.iter()) {
            *v = levels[j as usize];
        }
        Ok(())
    }
}

impl KindParams for ScalarParams {
    fn check(&self) -> Result<()> {
        ScalarParams::check(self)
    }

    fn max_iterations(&self) -> u64 {
        u64::from(self.get_max_iter())
    }

    fn stopping(&self) -> (Option<u64>, u32, f64) {
        // The quantizer draws nothing at random: the codebook records the sampling seed.
        (None, self.get_max_iter(), self.get_tol())
    }

    fn codes_single_values(&self) -> bool {
        true
    }

    fn fit(&self, x: &[f64], _p: usize, observe: &mut Observer<'_>) -> Result<Fitted> {
        let fit = ScalarParams::fit(self, x)?;
        crate::train::report(
            observe,
            Progress {
                run: 0,
                iteration: fit.iterations(),
                loss: fit.loss(),
            },
        )?;
        Ok(Fitted {
            model: ModelKind::Scalar {
                method: self.get_method(),
            },
            prototypes: fit.levels().to_vec(),
            n_init: 1,
            iterations: fit.iterations(),
            loss: fit.loss(),
        })
    }
}
