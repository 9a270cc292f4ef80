//! Scalar quantization: every value to the nearest of a few ascending levels.

use multiversion::multiversion;

/// Ascending levels and the decision thresholds between them.
#[derive(Debug, Clone)]
pub struct ScalarLevels {
    levels: Vec<f32>,
    /// Midpoints between neighbouring levels.
    thresholds: Vec<f32>,
}

impl ScalarLevels {
    /// Prepares ascending `levels`.
    pub fn new(levels: Vec<f32>) -> Self {
        let thresholds = levels
            .windows(2)
            .map(|w| w[0] + (w[1] - w[0]) * 0.5)
            .collect();
        ScalarLevels { levels, thresholds }
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// The index of the level nearest to `v` (a value on a threshold goes up).
    pub fn nearest(&self, v: f32) -> u16 {
        self.thresholds.partition_point(|&t| t <= v) as u16
    }

    /// [`nearest`](Self::nearest) of every value, written to `out`.
    pub fn nearest_all(&self, values: &[f32], out: &mut [u16]) {
        debug_assert_eq!(values.len(), out.len());
        if self.thresholds.len() > COUNTED_THRESHOLDS {
            for (o, &v) in out.iter_mut().zip(values) {
                *o = self.nearest(v);
            }
        } else {
            count_thresholds(&self.thresholds, values, out);
        }
    }

    /// The levels.
    pub fn levels(&self) -> &[f32] {
        &self.levels
    }
}

/// Up to this many thresholds (6-bit levels), counting every threshold at or below a value is
/// faster than a binary search: it is branch-free and runs in SIMD lanes over the values.
const COUNTED_THRESHOLDS: usize = 63;

/// The number of `thresholds` at or below each value: for ascending thresholds that is the
/// binary search's partition point, NaN included (no threshold is at or below it).
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn count_thresholds(thresholds: &[f32], values: &[f32], out: &mut [u16]) {
    const CHUNK: usize = 256;
    for (o, v) in out.chunks_mut(CHUNK).zip(values.chunks(CHUNK)) {
        o.fill(0);
        for &t in thresholds {
            for (o, &v) in o.iter_mut().zip(v) {
                *o += u16::from(t <= v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_nearest_level() {
        let s = ScalarLevels::new(vec![0.0, 1.0, 4.0]);
        assert_eq!(s.nearest(-3.0), 0);
        assert_eq!(s.nearest(0.49), 0);
        assert_eq!(s.nearest(0.5), 1);
        assert_eq!(s.nearest(2.4), 1);
        assert_eq!(s.nearest(2.6), 2);
        assert_eq!(s.nearest(100.0), 2);
    }

    #[test]
    fn counting_gives_the_binary_search() {
        // Level sets of every counted size and one above, repeated levels included.
        for n_levels in [1usize, 2, 3, 16, 17, 64, 65, 200] {
            let levels: Vec<f32> = (0..n_levels).map(|i| ((i * 7) / 3) as f32 * 0.25).collect();
            let s = ScalarLevels::new(levels.clone());
            let mut values: Vec<f32> = (0..1000)
                .map(|i| (i as f32 * 0.37).sin() * n_levels as f32)
                .collect();
            // Exactly on levels and thresholds, and the specials.
            values.extend(&levels);
            values.extend(s.thresholds.iter());
            values.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0]);
            let mut out = vec![u16::MAX; values.len()];
            s.nearest_all(&values, &mut out);
            for (&v, &o) in values.iter().zip(&out) {
                assert_eq!(o, s.nearest(v), "{n_levels} levels, value {v}");
            }
        }
    }
}
