//! Sparse weights: keep the few largest weights of a tile, renormalized to sum to 1.

/// Picks the `indexes.len()` largest of `weights` (ties to the lower index), in descending
/// order, and writes them renormalized to sum to 1 into `values` (equal shares if they sum
/// to 0).
pub fn keep_largest(weights: &[f32], indexes: &mut [u16], values: &mut [f32]) {
    let s = indexes.len();
    debug_assert_eq!(values.len(), s);
    // Insertion into a short sorted list: s is small (a handful of the k weights).
    let mut n = 0;
    for (j, &w) in weights.iter().enumerate() {
        if n == s && !(w > values[s - 1]) {
            continue;
        }
        let mut pos = n.min(s - 1);
        if n < s {
            n += 1;
        }
        while pos > 0 && w > values[pos - 1] {
            values[pos] = values[pos - 1];
            indexes[pos] = indexes[pos - 1];
            pos -= 1;
        }
        values[pos] = w;
        indexes[pos] = j as u16;
    }
    let sum = values.iter().fold(0f32, |a, &v| a + v.max(0.0));
    if sum > 0.0 {
        values.iter_mut().for_each(|v| *v = v.max(0.0) / sum);
    } else {
        values.fill(1.0 / s as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_largest_in_order_and_renormalizes() {
        let w = [0.1, 0.4, 0.0, 0.3, 0.2];
        let mut idx = [0u16; 3];
        let mut val = [0f32; 3];
        keep_largest(&w, &mut idx, &mut val);
        assert_eq!(idx, [1, 3, 4]);
        assert!((val[0] - 0.4 / 0.9).abs() < 1e-6);
        assert!((val.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut one = [0u16; 1];
        let mut v1 = [0f32; 1];
        keep_largest(&[0.2, 0.2, 0.6], &mut one, &mut v1);
        assert_eq!((one, v1), ([2], [1.0]));
        keep_largest(&[0.5, 0.5], &mut one, &mut v1);
        assert_eq!(one, [0], "ties go to the lower index");
    }
}
