//! Scalar quantization: every value to the nearest of a few ascending levels.

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

    /// The levels.
    pub fn levels(&self) -> &[f32] {
        &self.levels
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
}
