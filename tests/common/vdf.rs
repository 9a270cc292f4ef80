//! Synthetic plasma velocity distribution functions (VDFs) shaped like Vlasiator's: a cubic
//! velocity grid (in thermal units, `-V_MAX..V_MAX`) holding float64 phase-space densities
//! from the sparsity threshold (1e-15) up to about 1e-12, zero elsewhere. Each VDF is a sum
//! of one to three drifting bi-Maxwellians (a core and up to two field-aligned beams) whose
//! temperatures differ along and across a random magnetic field direction, times a few percent
//! of cell-to-cell roughness (Vlasiator's semi-Lagrangian solver is not perfectly smooth).
//! Cells below the threshold are 0, as Vlasiator only stores velocity blocks above it (it keeps
//! whole 4×4×4 blocks and their neighbours; zeroing cell by cell makes the empty region, the
//! hard part for a lossy codec, as large as it can be).
//!
//! Also the measures the VDF example and tests report, so that both compute them the same way.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Vlasiator's usual sparsity threshold: densities below it are not stored (0 here).
pub const SPARSITY: f64 = 1e-15;
/// The velocity grid spans `-V_MAX..V_MAX` thermal speeds along each axis.
pub const V_MAX: f64 = 4.0;
/// Typical peak density of a core population.
pub const PEAK: f64 = 1e-12;
/// Relative cell-to-cell roughness (uniform in ±ROUGHNESS).
pub const ROUGHNESS: f64 = 0.03;

/// One drifting bi-Maxwellian: `amplitude · exp(-v∥²/2σ∥² - v⊥²/2σ⊥²)` around `drift`, with
/// ∥ along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct BiMaxwellian {
    /// Density at the centre.
    pub amplitude: f64,
    /// Bulk velocity (thermal units).
    pub drift: [f64; 3],
    /// Unit vector of the magnetic field.
    pub axis: [f64; 3],
    /// Thermal spread along the field.
    pub sigma_par: f64,
    /// Thermal spread across the field.
    pub sigma_perp: f64,
}

impl BiMaxwellian {
    /// The density at velocity `v`.
    pub fn at(&self, v: [f64; 3]) -> f64 {
        let d = [
            v[0] - self.drift[0],
            v[1] - self.drift[1],
            v[2] - self.drift[2],
        ];
        let par = d[0] * self.axis[0] + d[1] * self.axis[1] + d[2] * self.axis[2];
        let perp2 = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] - par * par).max(0.0);
        self.amplitude
            * (-par * par / (2.0 * self.sigma_par * self.sigma_par)
                - perp2 / (2.0 * self.sigma_perp * self.sigma_perp))
                .exp()
    }
}

fn unit_vector(rng: &mut ChaCha8Rng) -> [f64; 3] {
    // Rejection from the cube gives a uniform direction.
    loop {
        let v: [f64; 3] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
        let n2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        if n2 > 1e-3 && n2 <= 1.0 {
            let n = n2.sqrt();
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

/// The populations of one VDF: a core (peak 0.5e-12..1.6e-12, drift up to ~0.7, anisotropy
/// T∥/T⊥ 0.4..2.5) and 0 to 2 beams along the field, 3% to 30% of the core's peak, colder,
/// drifting 1.4..2.6 thermal speeds from it.
pub fn populations(rng: &mut ChaCha8Rng) -> Vec<BiMaxwellian> {
    let axis = unit_vector(rng);
    let sigma_perp = rng.random_range(0.55..1.0);
    let core = BiMaxwellian {
        amplitude: PEAK * 10f64.powf(rng.random_range(-0.3..0.2)),
        drift: std::array::from_fn(|_| rng.random_range(-0.4..0.4)),
        axis,
        sigma_par: sigma_perp * rng.random_range(0.4f64..2.5).sqrt(),
        sigma_perp,
    };
    let n_beams = rng.random_range(0..=2usize);
    let mut pops = vec![core.clone()];
    for b in 0..n_beams {
        // Beams go both ways along the field when there are two.
        let sign = if b == 0 { 1.0 } else { -1.0 };
        let along = sign * rng.random_range(1.4..2.6);
        let jitter: [f64; 3] = std::array::from_fn(|_| rng.random_range(-0.2..0.2));
        pops.push(BiMaxwellian {
            amplitude: core.amplitude * 10f64.powf(rng.random_range(-1.5..-0.5)),
            drift: std::array::from_fn(|i| core.drift[i] + along * axis[i] + jitter[i]),
            axis,
            sigma_par: rng.random_range(0.3..0.6),
            sigma_perp: rng.random_range(0.35..0.7),
        });
    }
    pops
}

/// The centre of velocity cell `i` of `side`.
pub fn velocity(i: usize, side: usize) -> f64 {
    -V_MAX + (i as f64 + 0.5) * (2.0 * V_MAX / side as f64)
}

/// `n` VDFs on a `side³` grid, C order `(n, side, side, side)` (vx slowest), the same for the
/// same `seed` on every machine.
pub fn vdfs(n: usize, side: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * side * side * side);
    for _ in 0..n {
        let pops = populations(&mut rng);
        for ix in 0..side {
            for iy in 0..side {
                for iz in 0..side {
                    let v = [velocity(ix, side), velocity(iy, side), velocity(iz, side)];
                    let f: f64 = pops.iter().map(|p| p.at(v)).sum();
                    // Drawn for every cell, so that the stream does not depend on the values.
                    let rough = 1.0 + rng.random_range(-ROUGHNESS..ROUGHNESS);
                    let f = f * rough;
                    out.push(if f < SPARSITY { 0.0 } else { f });
                }
            }
        }
    }
    out
}

/// [`vdfs`] as an ndarray `(n, side, side, side)`, for training.
pub fn vdf_array(n: usize, side: usize, seed: u64) -> ndarray::Array4<f64> {
    ndarray::Array4::from_shape_vec((n, side, side, side), vdfs(n, side, seed))
        .expect("n · side³ values")
}

/// f64 values as native-endian bytes.
pub fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// Native-endian bytes as f64 values.
pub fn bytes_f64(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

/// How well a reconstruction keeps a set of VDFs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// `‖rec − orig‖₂ / ‖orig‖₂` over the whole array.
    pub rel_l2: f64,
    /// Largest `|rec − orig|`.
    pub max_abs: f64,
    /// Of the empty cells (0 in the original), the fraction decoded as exactly 0.
    pub zeros_kept: f64,
    /// Of the empty cells, the fraction decoded below the sparsity threshold (what Vlasiator
    /// would drop again when it re-applies the threshold).
    pub zeros_below_threshold: f64,
    /// Of the values above 1e-14, the fraction with relative error below 10%.
    pub good_above_1e14: f64,
    /// Mean relative error of the small values, `(1e-15, 1e-13]`.
    pub small_rel_err: f64,
    /// Of the stored values (`>= SPARSITY`), the fraction decoded as 0 or below the threshold.
    pub lost: f64,
}

/// Measures `rec` against `orig`.
pub fn quality(orig: &[f64], rec: &[f64]) -> Quality {
    assert_eq!(orig.len(), rec.len());
    let (mut err2, mut norm2, mut max_abs) = (0.0f64, 0.0f64, 0.0f64);
    let (mut zeros, mut kept, mut below) = (0usize, 0usize, 0usize);
    let (mut big, mut good) = (0usize, 0usize);
    let (mut small, mut small_err) = (0usize, 0.0f64);
    let (mut stored, mut lost) = (0usize, 0usize);
    for (&o, &r) in orig.iter().zip(rec) {
        let d = r - o;
        err2 += d * d;
        norm2 += o * o;
        max_abs = max_abs.max(d.abs());
        if o == 0.0 {
            zeros += 1;
            kept += usize::from(r == 0.0);
            below += usize::from(r < SPARSITY);
        } else {
            stored += 1;
            lost += usize::from(r < SPARSITY);
        }
        if o > 1e-14 {
            big += 1;
            good += usize::from(d.abs() < 0.1 * o);
        }
        if o > 1e-15 && o <= 1e-13 {
            small += 1;
            small_err += d.abs() / o;
        }
    }
    let frac = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Quality {
        rel_l2: (err2 / norm2).sqrt(),
        max_abs,
        zeros_kept: frac(kept, zeros),
        zeros_below_threshold: frac(below, zeros),
        good_above_1e14: frac(good, big),
        small_rel_err: if small == 0 {
            0.0
        } else {
            small_err / small as f64
        },
        lost: frac(lost, stored),
    }
}

/// Fraction of cells that are empty (0).
pub fn empty_fraction(values: &[f64]) -> f64 {
    values.iter().filter(|&&v| v == 0.0).count() as f64 / values.len() as f64
}
