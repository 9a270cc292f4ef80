//! Quality measures for lossy reconstructions: PSNR and SSIM (as scikit-image computes it).
#![forbid(unsafe_code)]

/// Peak signal-to-noise ratio in dB for data of range `data_range`.
pub fn psnr(original: &[f32], reconstructed: &[f32], data_range: f64) -> f64 {
    let mse = mse(original, reconstructed);
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (data_range * data_range / mse).log10()
}

/// Mean squared error.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let s: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    s / a.len().max(1) as f64
}

/// Mean structural similarity of two `height × width` images, as
/// `skimage.metrics.structural_similarity(a, b, data_range=data_range)` computes it: a 7×7
/// uniform window, K1 = 0.01, K2 = 0.03, sample covariance, averaged over the windows that
/// lie wholly inside the image.
pub fn ssim(a: &[f32], b: &[f32], height: usize, width: usize, data_range: f64) -> f64 {
    const WIN: usize = 7;
    assert_eq!(a.len(), height * width);
    assert_eq!(b.len(), height * width);
    assert!(
        height >= WIN && width >= WIN,
        "SSIM needs images of at least 7×7"
    );
    let np = (WIN * WIN) as f64;
    let cov_norm = np / (np - 1.0);
    let c1 = (0.01 * data_range).powi(2);
    let c2 = (0.03 * data_range).powi(2);
    let mut total = 0.0;
    let mut count = 0usize;
    for y in 0..=height - WIN {
        for x in 0..=width - WIN {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..WIN {
                let row = (y + dy) * width + x;
                for i in row..row + WIN {
                    let (va, vb) = (f64::from(a[i]), f64::from(b[i]));
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            let (ma, mb) = (sa / np, sb / np);
            let vaa = cov_norm * (saa / np - ma * ma);
            let vbb = cov_norm * (sbb / np - mb * mb);
            let vab = cov_norm * (sab / np - ma * mb);
            let num = (2.0 * ma * mb + c1) * (2.0 * vab + c2);
            let den = (ma * ma + mb * mb + c1) * (vaa + vbb + c2);
            total += num / den;
            count += 1;
        }
    }
    total / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images() {
        let img: Vec<f32> = (0..100).map(|i| (i % 7) as f32 / 7.0).collect();
        assert!((ssim(&img, &img, 10, 10, 1.0) - 1.0).abs() < 1e-12);
        assert!(psnr(&img, &img, 1.0).is_infinite());
    }

    #[test]
    fn known_psnr() {
        let a = vec![0.0f32; 16];
        let b = vec![0.1f32; 16];
        assert!((psnr(&a, &b, 1.0) - 20.0).abs() < 1e-5);
    }

    #[test]
    fn ssim_of_a_constant_offset() {
        // Means differ, structure identical: SSIM = (2 μa μb + C1) / (μa² + μb² + C1).
        let a: Vec<f32> = (0..64)
            .map(|i| if (i / 8 + i % 8) % 2 == 0 { 0.25 } else { 0.5 })
            .collect();
        let b: Vec<f32> = a.iter().map(|v| v + 0.25).collect();
        let s = ssim(&a, &b, 8, 8, 1.0);
        assert!(s < 1.0 && s > 0.5, "{s}");
    }
}
