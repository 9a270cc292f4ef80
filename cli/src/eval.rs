//! `blosc2-vq eval`: the rate–distortion report. Sweeps vq codebooks (models × prototype
//! counts × weight bits) and the peers (ZFP fixed-rate and fixed-accuracy, LZ4, ZSTD) on the
//! same images, prints one table and draws `rd.png` (bits per pixel vs PSNR and vs SSIM) and
//! `mosaic.png` (originals and one row per codec at comparable bpp).

use crate::{progress, register, train_with_progress, CliResult, Model, TrainArgs};
use blosc2_host::zfp::{self, ZfpMode};
use blosc2_host::{self as host, sys, Settings};
use blosc2_vq::metrics;
use ndarray::{Array3, Axis};
use plotters::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Images as a .npy array (N × H × W; any dtype the codec reads). Default: the Olivetti
    /// faces from $BLOSC2_VQ_OLIVETTI or ../shared/data/olivetti_faces_u8.npy, scaled to [0, 1].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to write rd.png and mosaic.png.
    #[arg(long, default_value = ".")]
    out_dir: PathBuf,
    /// vq models to sweep.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "aa,cmeans,kmeans"
    )]
    models: Vec<Model>,
    /// Prototype counts to sweep (aa, cmeans).
    #[arg(long, value_delimiter = ',', default_value = "16,36,64")]
    prototypes: Vec<usize>,
    /// Codeword counts to sweep (kmeans).
    #[arg(long, value_delimiter = ',', default_value = "16,64,256,1024")]
    codewords: Vec<usize>,
    /// Weight bit depths to sweep (through codec_meta; no retraining).
    #[arg(long, value_delimiter = ',', default_value = "8,6,4,3")]
    bits: Vec<u8>,
    /// ZFP fixed-rate settings, bits per value.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2,4,8")]
    zfp_rates: Vec<f64>,
    /// ZFP fixed-accuracy tolerances.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.03,0.01,0.003")]
    zfp_tolerances: Vec<f64>,
    /// Train on the images that are measured (default: train on the even-indexed half,
    /// measure on the odd-indexed half).
    #[arg(long)]
    same_images: bool,
    /// Training tiles per codebook (k-means uses at least 40 per codeword).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Threads for compression and decompression.
    #[arg(long, default_value_t = 1)]
    nthreads: i16,
}

struct Row {
    family: String,
    setting: String,
    bpp: f64,
    ratio: f64,
    psnr: f64,
    ssim: f64,
    encode_mbs: f64,
    decode_mbs: f64,
    reconstruction: Vec<f32>,
}

fn olivetti_default() -> PathBuf {
    std::env::var_os("BLOSC2_VQ_OLIVETTI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/olivetti_faces_u8.npy")
        })
}

/// The images as float32 (N × H × W), scaled to [0, 1] for the default faces.
fn load(args: &EvalArgs) -> CliResult<(Array3<f32>, String)> {
    let (path, scale) = match &args.data {
        Some(p) => (p.clone(), None),
        None => (olivetti_default(), Some(242.0)),
    };
    let data = crate::data::Data::read(&path)?;
    let mut a = data.to_f64().mapv(|v| v as f32);
    if let Some(s) = scale {
        a.mapv_inplace(|v| v / s);
    }
    let a = a
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|_| format!("{}: eval needs images shaped N × H × W", path.display()))?;
    Ok((a, path.display().to_string()))
}

pub fn run(args: EvalArgs) -> CliResult<()> {
    let (images, source) = load(&args)?;
    let (n, h, w) = images.dim();
    if n < 2 || h < 7 || w < 7 {
        return Err(format!("{source}: need at least 2 images of 7×7 or more"));
    }
    let (train, test) = if args.same_images {
        (images.clone(), images.clone())
    } else {
        let pick = |odd: usize| {
            images.select(
                Axis(0),
                &(0..n).filter(|i| i % 2 == odd).collect::<Vec<_>>(),
            )
        };
        (pick(0), pick(1))
    };
    let original = test.as_slice().expect("standard layout").to_vec();
    let range = {
        let (lo, hi) = original
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        f64::from(hi - lo).max(f64::EPSILON)
    };
    let n_test = test.dim().0;
    let npix = (n_test * h * w) as f64;
    let bytes: Vec<u8> = original.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let mb = bytes.len() as f64 / 1e6;
    let shape = [n_test as i64, h as i64, w as i64];
    let chunks = [16.min(n_test) as i32, h as i32, w as i32];
    let blocks = [1, h as i32, w as i32];
    let split_note = if args.same_images {
        format!("trained and measured on all {n} images")
    } else {
        format!("trained on the {} even-indexed images, measured on the {n_test} odd-indexed ones (disjoint)", train.dim().0)
    };
    println!(
        "Rate–distortion on {source}: {n} images of {h}×{w}, {split_note}; data range {range:.3}."
    );
    register();

    let measure =
        |family: &str, setting: String, packed_bytes: usize, enc: f64, dec: f64, rec: Vec<f32>| {
            Row {
                family: family.to_string(),
                setting,
                bpp: 8.0 * packed_bytes as f64 / npix,
                ratio: bytes.len() as f64 / packed_bytes as f64,
                psnr: metrics::psnr(&original, &rec, range),
                ssim: (0..n_test)
                    .map(|i| {
                        metrics::ssim(
                            &original[i * h * w..(i + 1) * h * w],
                            &rec[i * h * w..(i + 1) * h * w],
                            h,
                            w,
                            range,
                        )
                    })
                    .sum::<f64>()
                    / n_test as f64,
                encode_mbs: mb / enc,
                decode_mbs: mb / dec,
                reconstruction: rec,
            }
        };

    let mut rows = Vec::new();
    let train_dyn = train.mapv(f64::from).into_dyn();
    let sizes = |m: Model| {
        if m == Model::Kmeans {
            &args.codewords
        } else {
            &args.prototypes
        }
    };
    let sweep = args.models.iter().map(|&m| sizes(m).len()).sum::<usize>() as u64;
    let bar = progress(sweep, "codebooks");
    for &model in &args.models {
        for &k in sizes(model) {
            let params = TrainArgs {
                model,
                prototypes: k,
                tile: crate::Shape(vec![4, 4]),
                // Hard VQ needs many tiles per codeword.
                samples: if model == Model::Kmeans {
                    args.samples.max(40 * k)
                } else {
                    args.samples
                },
                seed: 0,
                fuzzifier: 2.0,
                metric: crate::MetricArg::Cosine,
                n_init: 1,
                max_iter: 100,
                tol: 1e-6,
                weight_bits: 8,
            }
            .params();
            let cb = train_with_progress(&params, &train_dyn.view())?.to_msgpack();
            let family = match model {
                Model::Aa => format!("vq AA k={k}"),
                Model::Cmeans => format!("vq CMeans k={k}"),
                Model::Kmeans => "vq k-means".to_string(),
            };
            // Hard VQ has no weights to requantize: one point per codebook size.
            let bit_depths: &[u8] = if model == Model::Kmeans {
                &[0]
            } else {
                &args.bits
            };
            for &bits in bit_depths {
                let s = Settings {
                    nthreads: args.nthreads,
                    codec_meta: bits,
                    ..Settings::default()
                };
                let t0 = Instant::now();
                let arr = host::compress_b2nd(
                    &bytes,
                    &shape,
                    &chunks,
                    &blocks,
                    "<f4",
                    4,
                    &[("vq", &cb)],
                    &s,
                )
                .map_err(|rc| format!("vq compression failed ({rc}): {}", crate::codec_error()))?;
                let enc = t0.elapsed().as_secs_f64();
                let (out, dec) = arr
                    .decompress()
                    .map_err(|rc| format!("vq decompression failed ({rc})"))?;
                let rec = out
                    .chunks_exact(4)
                    .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
                    .collect();
                let setting = if model == Model::Kmeans {
                    format!("{k} codewords")
                } else {
                    format!("{bits}-bit weights")
                };
                rows.push(measure(
                    &family,
                    setting,
                    arr.cbytes() as usize,
                    enc,
                    dec,
                    rec,
                ));
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let zfp_modes = args
        .zfp_rates
        .iter()
        .map(|&r| ZfpMode::Rate(r))
        .chain(args.zfp_tolerances.iter().map(|&t| ZfpMode::Accuracy(t)));
    for mode in zfp_modes {
        let t0 = Instant::now();
        let packed = zfp::compress(&original, h, w, mode);
        let enc = t0.elapsed().as_secs_f64();
        let mut rec = vec![0f32; original.len()];
        let t1 = Instant::now();
        zfp::decompress(&packed, &mut rec);
        let dec = t1.elapsed().as_secs_f64();
        let (family, setting) = match mode {
            ZfpMode::Rate(r) => ("ZFP fixed-rate", format!("rate {r}")),
            ZfpMode::Accuracy(t) => ("ZFP fixed-accuracy", format!("tolerance {t}")),
        };
        rows.push(measure(family, setting, packed.nbytes(), enc, dec, rec));
    }
    for (name, codec) in [("LZ4", sys::BLOSC_LZ4), ("ZSTD", sys::BLOSC_ZSTD)] {
        let s = Settings {
            nthreads: args.nthreads,
            codec: codec as u8,
            filters: [0, 0, 0, 0, 0, sys::BLOSC_SHUFFLE as u8],
            splitmode: sys::BLOSC_AUTO_SPLIT as i32,
            ..Settings::default()
        };
        let t0 = Instant::now();
        let arr = host::compress_b2nd(&bytes, &shape, &chunks, &blocks, "<f4", 4, &[], &s)
            .map_err(|rc| format!("{name} compression failed ({rc})"))?;
        let enc = t0.elapsed().as_secs_f64();
        let (out, dec) = arr
            .decompress()
            .map_err(|rc| format!("{name} decompression failed ({rc})"))?;
        let rec = out
            .chunks_exact(4)
            .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        rows.push(measure(
            name,
            "lossless, shuffle".into(),
            arr.cbytes() as usize,
            enc,
            dec,
            rec,
        ));
    }

    println!();
    println!("| codec | setting | bpp | ratio | PSNR dB | mean SSIM | encode MB/s | decode MB/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.2} | {:.2} | {:.4} | {:.1} | {:.1} |",
            r.family, r.setting, r.bpp, r.ratio, r.psnr, r.ssim, r.encode_mbs, r.decode_mbs
        );
    }
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let rd = args.out_dir.join("rd.png");
    draw_rd(&rows, &rd).map_err(|e| format!("{}: {e}", rd.display()))?;
    let mosaic = args.out_dir.join("mosaic.png");
    let legend = draw_mosaic(&rows, &original, h, w, &mosaic)?;
    println!(
        "\nwrote {} and {} (rows: {legend})",
        rd.display(),
        mosaic.display()
    );
    Ok(())
}

/// The lossy families in table order.
fn families(rows: &[Row]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.psnr.is_finite()) {
        if !out.contains(&r.family.as_str()) {
            out.push(&r.family);
        }
    }
    out
}

fn draw_rd(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let lossy: Vec<&Row> = rows.iter().filter(|r| r.psnr.is_finite()).collect();
    let max_bpp = lossy.iter().map(|r| r.bpp).fold(0.0, f64::max).max(1.0) * 1.05;
    let (pmin, pmax) = lossy.iter().fold((f64::MAX, f64::MIN), |(a, b), r| {
        (a.min(r.psnr), b.max(r.psnr))
    });
    let (smin, smax) = lossy.iter().fold((f64::MAX, f64::MIN), |(a, b), r| {
        (a.min(r.ssim), b.max(r.ssim))
    });
    let fams = families(rows);
    for (panel, (label, lo, hi, pick)) in panels.iter().zip([
        (
            "PSNR (dB)",
            pmin - 1.0,
            pmax + 1.0,
            (|r: &Row| r.psnr) as fn(&Row) -> f64,
        ),
        (
            "mean SSIM",
            (smin - 0.02).max(0.0),
            (smax + 0.02).min(1.0),
            |r: &Row| r.ssim,
        ),
    ]) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("bits per pixel vs {label}"), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..max_bpp, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("bits per pixel")
            .y_desc(label)
            .draw()?;
        for (i, fam) in fams.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut pts: Vec<(f64, f64)> = lossy
                .iter()
                .filter(|r| r.family == *fam)
                .map(|r| (r.bpp, pick(r)))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(*fam)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// Originals, then per lossy family the setting whose bpp is closest to the reference (the
/// first vq AA setting at 8 bits, else the median bpp). Returns the row legend.
fn draw_mosaic(
    rows: &[Row],
    original: &[f32],
    h: usize,
    w: usize,
    path: &std::path::Path,
) -> CliResult<String> {
    let fams = families(rows);
    let reference_bpp = rows
        .iter()
        .find(|r| r.family.starts_with("vq AA") && r.setting.starts_with("8-bit"))
        .or_else(|| rows.iter().find(|r| r.psnr.is_finite()))
        .map_or(2.0, |r| r.bpp);
    let mut picked: Vec<(String, &[f32])> = vec![("original".into(), original)];
    for fam in fams {
        if let Some(r) = rows.iter().filter(|r| r.family == fam).min_by(|a, b| {
            (a.bpp - reference_bpp)
                .abs()
                .total_cmp(&(b.bpp - reference_bpp).abs())
        }) {
            picked.push((
                format!("{} {} ({:.2} bpp)", r.family, r.setting, r.bpp),
                &r.reconstruction,
            ));
        }
    }
    let n_images = (original.len() / (h * w)).min(8);
    let gap = 2;
    let (width, height) = (n_images * (w + gap) + gap, picked.len() * (h + gap) + gap);
    let lo = original.iter().copied().fold(f32::MAX, f32::min);
    let hi = original.iter().copied().fold(f32::MIN, f32::max);
    let mut pixels = vec![255u8; width * height];
    for (row, (_, data)) in picked.iter().enumerate() {
        for i in 0..n_images {
            for y in 0..h {
                for x in 0..w {
                    let v = ((data[i * h * w + y * w + x] - lo) / (hi - lo).max(f32::EPSILON))
                        .clamp(0.0, 1.0);
                    pixels[(gap + row * (h + gap) + y) * width + gap + i * (w + gap) + x] =
                        (v * 255.0).round() as u8;
                }
            }
        }
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&pixels))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(picked
        .iter()
        .map(|(l, _)| l.as_str())
        .collect::<Vec<_>>()
        .join("; "))
}
