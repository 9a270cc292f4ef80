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
//! [`family_vdfs`] makes other shapes on the same grid, with the same roughness and threshold
//! ([`VdfFamily`]): heavy-tailed kappa distributions, rings around the field and spherical
//! shells with counter-streaming beams.
//!
//! Also the measures the VDF example and tests report, so that both compute them the same way
//! ([`quality`], [`moments`]).
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

/// One drifting bi-kappa: `amplitude · (1 + (v∥²/θ∥² + v⊥²/θ⊥²)/κ)^-(κ+1)` around `drift`,
/// with ∥ along `axis`. As κ → ∞ it becomes a bi-Maxwellian of σ = θ/√2; the small κ of the
/// solar wind (2..6) gives power-law tails, `f ~ |v|^-2(κ+1)`, far above a Maxwellian's.
#[derive(Debug, Clone, PartialEq)]
pub struct BiKappa {
    /// Density at the centre.
    pub amplitude: f64,
    /// Bulk velocity (thermal units).
    pub drift: [f64; 3],
    /// Unit vector of the magnetic field.
    pub axis: [f64; 3],
    /// Thermal speed along the field.
    pub theta_par: f64,
    /// Thermal speed across the field.
    pub theta_perp: f64,
    /// The kappa index (> 3/2 for a finite temperature).
    pub kappa: f64,
}

/// `(v·axis, |v⊥|²)` of `v − drift`.
fn par_perp2(v: [f64; 3], drift: [f64; 3], axis: [f64; 3]) -> (f64, f64) {
    let d = [v[0] - drift[0], v[1] - drift[1], v[2] - drift[2]];
    let par = d[0] * axis[0] + d[1] * axis[1] + d[2] * axis[2];
    let perp2 = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] - par * par).max(0.0);
    (par, perp2)
}

impl BiKappa {
    /// The density at velocity `v`.
    pub fn at(&self, v: [f64; 3]) -> f64 {
        let (par, perp2) = par_perp2(v, self.drift, self.axis);
        let q = par * par / (self.theta_par * self.theta_par)
            + perp2 / (self.theta_perp * self.theta_perp);
        self.amplitude * (1.0 + q / self.kappa).powf(-(self.kappa + 1.0))
    }
}

/// A gyrotropic ring around the magnetic field (as pickup ions or a ring-beam make):
/// `amplitude · exp(-(|v⊥| − speed)²/2σ⊥² − v∥²/2σ∥²)` around `drift`, ∥ along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    /// Density on the ring.
    pub amplitude: f64,
    /// Centre of the ring (thermal units).
    pub drift: [f64; 3],
    /// Unit vector of the magnetic field (the ring's axis).
    pub axis: [f64; 3],
    /// The ring's radius, the gyration speed across the field.
    pub speed: f64,
    /// Thickness of the ring across the field.
    pub sigma_perp: f64,
    /// Thickness of the ring along the field.
    pub sigma_par: f64,
}

impl Ring {
    /// The density at velocity `v`.
    pub fn at(&self, v: [f64; 3]) -> f64 {
        let (par, perp2) = par_perp2(v, self.drift, self.axis);
        let r = perp2.sqrt() - self.speed;
        self.amplitude
            * (-r * r / (2.0 * self.sigma_perp * self.sigma_perp)
                - par * par / (2.0 * self.sigma_par * self.sigma_par))
                .exp()
    }
}

/// A spherical shell (pickup ions after pitch-angle scattering), possibly filled more on one
/// side along the field: `amplitude · exp(-(|v − drift| − radius)²/2σ²) · (1 + a·cos α)/(1 + |a|)`,
/// α the angle from `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct Shell {
    /// Density on the shell (on its fuller side).
    pub amplitude: f64,
    /// Centre of the shell (thermal units).
    pub drift: [f64; 3],
    /// Unit vector of the magnetic field.
    pub axis: [f64; 3],
    /// The shell's radius.
    pub radius: f64,
    /// Thickness of the shell.
    pub sigma: f64,
    /// `a` in `-1..1`: 0 fills the shell evenly, ±1 empties the hemisphere against/along the field.
    pub asymmetry: f64,
}

impl Shell {
    /// The density at velocity `v`.
    pub fn at(&self, v: [f64; 3]) -> f64 {
        let (par, perp2) = par_perp2(v, self.drift, self.axis);
        let r = (par * par + perp2).sqrt();
        let cos = if r > 0.0 { par / r } else { 0.0 };
        let d = r - self.radius;
        self.amplitude
            * (-d * d / (2.0 * self.sigma * self.sigma)).exp()
            * (1.0 + self.asymmetry * cos)
            / (1.0 + self.asymmetry.abs())
    }
}

/// One population of any shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Population {
    /// A drifting bi-Maxwellian.
    Maxwellian(BiMaxwellian),
    /// A drifting bi-kappa.
    Kappa(BiKappa),
    /// A ring around the field.
    Ring(Ring),
    /// A spherical shell.
    Shell(Shell),
}

impl Population {
    /// The density at velocity `v`.
    pub fn at(&self, v: [f64; 3]) -> f64 {
        match self {
            Population::Maxwellian(p) => p.at(v),
            Population::Kappa(p) => p.at(v),
            Population::Ring(p) => p.at(v),
            Population::Shell(p) => p.at(v),
        }
    }
}

/// The kind of VDF [`family_vdfs`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VdfFamily {
    /// A bi-Maxwellian core and 0 to 2 field-aligned beams: exactly [`vdfs`].
    Maxwellian,
    /// A drifting bi-kappa core (κ 2..6, heavy tails), half the time with a second kappa
    /// population: a field-aligned beam or a hot halo.
    Kappa,
    /// A ring around the field, often with a cold core, and 0, 1 or 2 counter-streaming beams.
    Ring,
    /// A spherical shell (evenly or unevenly filled), often with a core, and 0, 1 or 2
    /// counter-streaming beams.
    Shell,
    /// Each VDF of one of the four others, drawn at random.
    Mixed,
}

impl VdfFamily {
    /// Every family, [`VdfFamily::Mixed`] last.
    pub const ALL: [VdfFamily; 5] = [
        VdfFamily::Maxwellian,
        VdfFamily::Kappa,
        VdfFamily::Ring,
        VdfFamily::Shell,
        VdfFamily::Mixed,
    ];

    /// A short lowercase name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            VdfFamily::Maxwellian => "maxwellian",
            VdfFamily::Kappa => "kappa",
            VdfFamily::Ring => "ring",
            VdfFamily::Shell => "shell",
            VdfFamily::Mixed => "mixed",
        }
    }
}

/// 0 to 2 field-aligned beams (two go opposite ways: counter-streaming) around `centre`,
/// 3% to 30% of `amplitude`.
fn beams(
    rng: &mut ChaCha8Rng,
    amplitude: f64,
    centre: [f64; 3],
    axis: [f64; 3],
) -> Vec<Population> {
    let n = rng.random_range(0..=2usize);
    let first = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    (0..n)
        .map(|b| {
            let sign = if b == 0 { first } else { -first };
            let along = sign * rng.random_range(1.6..2.8);
            let jitter: [f64; 3] = std::array::from_fn(|_| rng.random_range(-0.2..0.2));
            Population::Maxwellian(BiMaxwellian {
                amplitude: amplitude * 10f64.powf(rng.random_range(-1.5..-0.5)),
                drift: std::array::from_fn(|i| centre[i] + along * axis[i] + jitter[i]),
                axis,
                sigma_par: rng.random_range(0.3..0.5),
                sigma_perp: rng.random_range(0.3..0.6),
            })
        })
        .collect()
}

/// A cold core at `centre`, 10% to 100% of `amplitude`, with probability `p`.
fn maybe_core(
    rng: &mut ChaCha8Rng,
    p: f64,
    amplitude: f64,
    centre: [f64; 3],
    axis: [f64; 3],
) -> Option<Population> {
    rng.random_bool(p).then(|| {
        let sigma_perp = rng.random_range(0.3..0.6);
        Population::Maxwellian(BiMaxwellian {
            amplitude: amplitude * 10f64.powf(rng.random_range(-1.0..0.0)),
            drift: centre,
            axis,
            sigma_par: sigma_perp * rng.random_range(0.6f64..1.6).sqrt(),
            sigma_perp,
        })
    })
}

/// The populations of one VDF of `family` (see [`VdfFamily`]); [`VdfFamily::Maxwellian`] is
/// [`populations`].
pub fn family_populations(family: VdfFamily, rng: &mut ChaCha8Rng) -> Vec<Population> {
    match family {
        VdfFamily::Maxwellian => populations(rng)
            .into_iter()
            .map(Population::Maxwellian)
            .collect(),
        VdfFamily::Kappa => {
            let axis = unit_vector(rng);
            // θ = √2 σ: the same core widths as the Maxwellians, a little narrower.
            let theta_perp = std::f64::consts::SQRT_2 * rng.random_range(0.5..0.85);
            let core = BiKappa {
                amplitude: PEAK * 10f64.powf(rng.random_range(-0.3..0.2)),
                drift: std::array::from_fn(|_| rng.random_range(-0.4..0.4)),
                axis,
                theta_par: theta_perp * rng.random_range(0.5f64..2.0).sqrt(),
                theta_perp,
                kappa: rng.random_range(2.0..6.0),
            };
            let mut pops = vec![Population::Kappa(core.clone())];
            if rng.random_bool(0.5) {
                let second = if rng.random_bool(0.5) {
                    // A field-aligned beam.
                    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    let along = sign * rng.random_range(1.3..2.4);
                    let theta = std::f64::consts::SQRT_2 * rng.random_range(0.3..0.55);
                    BiKappa {
                        amplitude: core.amplitude * 10f64.powf(rng.random_range(-1.3..-0.5)),
                        drift: std::array::from_fn(|i| core.drift[i] + along * axis[i]),
                        axis,
                        theta_par: theta,
                        theta_perp: theta * rng.random_range(0.8..1.4),
                        kappa: rng.random_range(2.0..5.0),
                    }
                } else {
                    // A hot halo around the core.
                    let hot = rng.random_range(1.5..2.5);
                    BiKappa {
                        amplitude: core.amplitude * 10f64.powf(rng.random_range(-2.0..-1.0)),
                        theta_par: core.theta_par * hot,
                        theta_perp: core.theta_perp * hot,
                        kappa: rng.random_range(2.0..4.0),
                        ..core.clone()
                    }
                };
                pops.push(Population::Kappa(second));
            }
            pops
        }
        VdfFamily::Ring => {
            let axis = unit_vector(rng);
            let ring = Ring {
                amplitude: PEAK * 10f64.powf(rng.random_range(-0.3..0.2)),
                drift: std::array::from_fn(|_| rng.random_range(-0.3..0.3)),
                axis,
                speed: rng.random_range(1.2..2.4),
                sigma_perp: rng.random_range(0.25..0.5),
                sigma_par: rng.random_range(0.3..0.7),
            };
            let mut pops = vec![Population::Ring(ring.clone())];
            pops.extend(maybe_core(rng, 0.6, ring.amplitude, ring.drift, axis));
            pops.extend(beams(rng, ring.amplitude, ring.drift, axis));
            pops
        }
        VdfFamily::Shell => {
            let axis = unit_vector(rng);
            let shell = Shell {
                amplitude: PEAK * 10f64.powf(rng.random_range(-0.3..0.2)),
                drift: std::array::from_fn(|_| rng.random_range(-0.3..0.3)),
                axis,
                radius: rng.random_range(1.2..2.6),
                sigma: rng.random_range(0.2..0.45),
                asymmetry: if rng.random_bool(0.5) {
                    0.0
                } else {
                    rng.random_range(-0.8..0.8)
                },
            };
            let mut pops = vec![Population::Shell(shell.clone())];
            pops.extend(maybe_core(rng, 0.6, shell.amplitude, shell.drift, axis));
            pops.extend(beams(rng, shell.amplitude, shell.drift, axis));
            pops
        }
        VdfFamily::Mixed => {
            let pick = VdfFamily::ALL[rng.random_range(0..4usize)];
            family_populations(pick, rng)
        }
    }
}

/// `n` VDFs of `family` on a `side³` grid, laid out as [`vdfs`]'s (and with the same roughness
/// and sparsity threshold), the same for the same `seed` on every machine, and independent
/// across families for one seed.
/// [`VdfFamily::Maxwellian`] gives exactly `vdfs(n, side, seed)`.
pub fn family_vdfs(family: VdfFamily, n: usize, side: usize, seed: u64) -> Vec<f64> {
    if family == VdfFamily::Maxwellian {
        return vdfs(n, side, seed);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Each family draws from its own ChaCha stream (Maxwellian's, above, is stream 0), so that
    // one seed does not give, say, the kappa and ring VDFs the same field directions.
    rng.set_stream(family as u64);
    let mut out = Vec::with_capacity(n * side * side * side);
    for _ in 0..n {
        let pops = family_populations(family, &mut rng);
        for ix in 0..side {
            for iy in 0..side {
                for iz in 0..side {
                    let v = [velocity(ix, side), velocity(iy, side), velocity(iz, side)];
                    let f: f64 = pops.iter().map(|p| p.at(v)).sum();
                    let rough = 1.0 + rng.random_range(-ROUGHNESS..ROUGHNESS);
                    let f = f * rough;
                    out.push(if f < SPARSITY { 0.0 } else { f });
                }
            }
        }
    }
    out
}

/// [`family_vdfs`] as an ndarray `(n, side, side, side)`.
pub fn family_vdf_array(
    family: VdfFamily,
    n: usize,
    side: usize,
    seed: u64,
) -> ndarray::Array4<f64> {
    ndarray::Array4::from_shape_vec((n, side, side, side), family_vdfs(family, n, side, seed))
        .expect("n · side³ values")
}

/// The velocity moments of one VDF (`side³` values, [`vdfs`]'s layout), on the grid of
/// [`velocity`] with unit cell volume: `(density Σf, bulk velocity Σf·v / Σf, temperature
/// Σf·|v − u|² / 3Σf)`, velocities in thermal units (a Maxwellian of spread σ has temperature
/// σ²). An empty VDF gives `(0, [0; 3], 0)`.
pub fn moments(values: &[f64], side: usize) -> (f64, [f64; 3], f64) {
    assert_eq!(values.len(), side * side * side, "one VDF of side³ values");
    let cell = |i: usize| {
        [
            velocity(i / (side * side), side),
            velocity((i / side) % side, side),
            velocity(i % side, side),
        ]
    };
    let (mut density, mut flux) = (0.0f64, [0.0f64; 3]);
    for (i, &f) in values.iter().enumerate() {
        let v = cell(i);
        density += f;
        for k in 0..3 {
            flux[k] += f * v[k];
        }
    }
    if density == 0.0 {
        return (0.0, [0.0; 3], 0.0);
    }
    let u = flux.map(|m| m / density);
    let mut spread = 0.0f64;
    for (i, &f) in values.iter().enumerate() {
        let v = cell(i);
        let d = [v[0] - u[0], v[1] - u[1], v[2] - u[2]];
        spread += f * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    }
    (density, u, spread / (3.0 * density))
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
