//! `blosc2-vq eval`: the rate–distortion report. Sweeps vq codebooks (models × prototype
//! counts × weight bits) and the peers (ZFP fixed-rate and fixed-accuracy, LZ4, ZSTD) on the
//! same images, prints one table and draws `rd.png` (bits per pixel vs PSNR and vs SSIM) and
//! `mosaic.png` (originals and one row per codec at comparable bpp).

use crate::{progress, register, train_with_progress, CliResult, TrainArgs};
use blosc2_host::zfp::{self, ZfpMode};
use blosc2_host::{self as host, sys, Settings};
use blosc2_vq::metrics;
use blosc2_vq::train::Kind;
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
        value_delimiter = ',',
        default_value = "aa,cmeans,kmeans,residual,scalar",
        value_parser = crate::parse_kind
    )]
    models: Vec<Kind>,
    /// Prototype counts to sweep (aa, cmeans).
    #[arg(long, value_delimiter = ',', default_value = "16,36,64")]
    prototypes: Vec<usize>,
    /// Codeword counts to sweep (kmeans).
    #[arg(long, value_delimiter = ',', default_value = "16,64,256,1024")]
    codewords: Vec<usize>,
    /// Weight bit depths to sweep (through codec_meta; no retraining).
    #[arg(long, value_delimiter = ',', default_value = "8,6,4,3")]
    bits: Vec<u8>,
    /// Sparse weights to sweep for aa and cmeans (weights kept per tile, at 8 and 4 bits; no
    /// retraining).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    kept: Vec<u32>,
    /// Residual codebooks to train, as STAGESxCODEWORDS[@TILE][+mMEAN_BITS] (e.g. 8x256@4x8,
    /// 4x256+m6; the tile defaults to --residual-tile); every prefix of the stages is measured
    /// (one training gives all the rates).
    #[arg(long, value_delimiter = ',', default_value = "8x256@4x8,8x256@4x4")]
    residual: Vec<String>,
    /// Encoder beam widths to measure each residual codebook with (no retraining).
    #[arg(long, value_delimiter = ',', default_value = "4")]
    residual_beams: Vec<u32>,
    /// Tile shape of the residual codebooks.
    #[arg(long, default_value = "4x4", value_parser = crate::parse_shape)]
    residual_tile: crate::Shape,
    /// Scalar quantizer bit depths to sweep (every method: uniform, quantile, Lloyd-Max).
    #[arg(long, value_delimiter = ',', default_value = "2,3,4,5,6")]
    scalar_bits: Vec<u8>,
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
    /// Training tiles per codebook (k-means uses at least 40 per codeword, residual 800 per
    /// codeword of a stage, scalar quantizers 100000 values).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Images per Blosc2 block (16 images per chunk).
    #[arg(long, default_value_t = 4)]
    block_images: usize,
    /// Threads for compression and decompression.
    #[arg(long, default_value_t = 1)]
    nthreads: i16,
}

struct Row {
    family: String,
    /// Size of the codebook stored in each frame's metalayer (0 for other codecs).
    codebook_bytes: usize,
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
    let blocks = [
        args.block_images.clamp(1, chunks[0] as usize) as i32,
        h as i32,
        w as i32,
    ];
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
                codebook_bytes: 0,
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
    let settings = vq_settings(&args, &train_dyn.view())?;
    let bar = progress(settings.len() as u64, "vq settings");
    for v in settings {
        let s = Settings {
            nthreads: args.nthreads,
            codec_meta: v.codec_meta,
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
            &[("vq", &v.codebook)],
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
        let mut row = measure(&v.family, v.setting, arr.cbytes() as usize, enc, dec, rec);
        row.codebook_bytes = v.codebook.len();
        rows.push(row);
        bar.inc(1);
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
    println!("| codec | setting | bpp | ratio | PSNR dB | mean SSIM | encode MB/s | decode MB/s | codebook KB |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.2} | {:.2} | {:.4} | {:.1} | {:.1} | {} |",
            r.family,
            r.setting,
            r.bpp,
            r.ratio,
            r.psnr,
            r.ssim,
            r.encode_mbs,
            r.decode_mbs,
            if r.codebook_bytes > 0 {
                format!("{:.1}", r.codebook_bytes as f64 / 1024.0)
            } else {
                "–".into()
            }
        );
    }
    print_verdict(&rows);
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

/// Strong, distinct colours (Tableau 20 without its pale half, then darker variants): the
/// default palette has pale colours that vanish on white.
const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
    RGBColor(0, 100, 0),
    RGBColor(255, 0, 255),
    RGBColor(0, 0, 0),
    RGBColor(184, 134, 11),
    RGBColor(70, 130, 180),
    RGBColor(199, 21, 133),
    RGBColor(85, 107, 47),
    RGBColor(255, 69, 0),
];

fn draw_rd(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let lossy: Vec<&Row> = rows.iter().filter(|r| r.psnr.is_finite()).collect();
    // Past 8 bpp every lossy codec here is near-lossless or beaten by LZ4; the table has them.
    let max_bpp = lossy
        .iter()
        .map(|r| r.bpp)
        .fold(0.0, f64::max)
        .clamp(1.0, 8.0)
        * 1.05;
    let lossy: Vec<&Row> = lossy.into_iter().filter(|r| r.bpp <= max_bpp).collect();
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
            let color = PALETTE[i % PALETTE.len()].to_rgba();
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

/// One vq configuration to measure.
struct VqSetting {
    family: String,
    setting: String,
    codebook: Vec<u8>,
    codec_meta: u8,
}

/// The library's defaults for `model` with `k` prototypes on `samples` tiles. Residual
/// codebooks are trained greedy (beam 1) and measured with every beam afterwards.
fn train_args(model: Kind, k: usize, samples: usize) -> TrainArgs {
    TrainArgs {
        prototypes: Some(k),
        samples: Some(samples),
        beam: Some(1),
        ..TrainArgs::defaults(model)
    }
}

/// `STAGESxCODEWORDS[@TILE][+mMEAN_BITS]`: stages, codewords, tile (if given), mean bits.
fn parse_residual(spec: &str) -> CliResult<(usize, usize, Option<crate::Shape>, u8)> {
    let bad = || {
        format!(
            "--residual `{spec}`: expected STAGESxCODEWORDS[@TILE][+mMEAN_BITS], e.g. 8x256@4x8+m6"
        )
    };
    let (rest, mean) = match spec.split_once("+m") {
        Some((r, m)) => (r, m.parse::<u8>().map_err(|_| bad())?),
        None => (spec, 0),
    };
    let (sk, tile) = match rest.split_once('@') {
        Some((sk, t)) => (sk, Some(crate::parse_shape(t).map_err(|_| bad())?)),
        None => (rest, None),
    };
    let (s, k) = sk.split_once('x').ok_or_else(bad)?;
    Ok((
        s.trim().parse().map_err(|_| bad())?,
        k.trim().parse().map_err(|_| bad())?,
        tile,
        mean,
    ))
}

/// Trains every codebook of the sweep and lists the settings measured with it.
fn vq_settings(args: &EvalArgs, train: &ndarray::ArrayViewD<'_, f64>) -> CliResult<Vec<VqSetting>> {
    let mut out = Vec::new();
    let fail = |e: blosc2_vq::Error| e.to_string();
    for &model in &args.models {
        match model {
            Kind::Archetypal | Kind::FuzzyCMeans => {
                for &k in &args.prototypes {
                    let cb =
                        train_with_progress(&train_args(model, k, args.samples).params(), train)?;
                    let family = match model {
                        Kind::Archetypal => format!("vq AA k={k}"),
                        _ => format!("vq CMeans k={k}"),
                    };
                    let bytes = cb.to_msgpack();
                    for &bits in &args.bits {
                        out.push(VqSetting {
                            family: family.clone(),
                            setting: format!("{bits}-bit weights"),
                            codebook: bytes.clone(),
                            codec_meta: bits,
                        });
                    }
                    for &kept in args.kept.iter().filter(|&&s| (s as usize) < k) {
                        for bits in [8u8, 4] {
                            let sparse = cb
                                .clone()
                                .with_kept_weights(kept)
                                .and_then(|c| c.with_weight_bits(bits))
                                .map_err(fail)?;
                            out.push(VqSetting {
                                family: format!("{family} sparse"),
                                setting: format!("{kept} kept, {bits}-bit"),
                                codebook: sparse.to_msgpack(),
                                codec_meta: 0,
                            });
                        }
                    }
                }
            }
            Kind::KMeans => {
                for &k in &args.codewords {
                    let cb = train_with_progress(
                        &train_args(model, k, args.samples.max(40 * k)).params(),
                        train,
                    )?;
                    out.push(VqSetting {
                        family: "vq k-means".into(),
                        setting: format!("{k} codewords"),
                        codebook: cb.to_msgpack(),
                        codec_meta: 0,
                    });
                }
            }
            Kind::Residual => {
                for spec in &args.residual {
                    let (stages, k, tile, mean_bits) = parse_residual(spec)?;
                    let mut a = train_args(model, k, args.samples.max(800 * k));
                    let tile = tile.unwrap_or_else(|| args.residual_tile.clone());
                    a.stages = Some(stages);
                    a.mean_bits = Some(mean_bits);
                    a.tile = Some(tile.clone());
                    let cb = train_with_progress(&a.params(), train)?;
                    let tile = tile
                        .0
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join("×");
                    let family = if mean_bits > 0 {
                        format!("vq residual {k}/stage {tile} mean {mean_bits}-bit")
                    } else {
                        format!("vq residual {k}/stage {tile}")
                    };
                    for &beam in &args.residual_beams {
                        let family = if beam > 1 {
                            format!("{family} beam {beam}")
                        } else {
                            family.clone()
                        };
                        for s in 1..=stages as u32 {
                            // One stage has nothing to search.
                            if s == 1 && beam > 1 {
                                continue;
                            }
                            let cb = cb
                                .clone()
                                .with_stages(s)
                                .and_then(|c| c.with_beam(beam))
                                .map_err(fail)?;
                            out.push(VqSetting {
                                family: family.clone(),
                                setting: format!("{s} stage{}", if s > 1 { "s" } else { "" }),
                                codebook: cb.to_msgpack(),
                                codec_meta: 0,
                            });
                        }
                    }
                }
            }
            Kind::Scalar => {
                for (method, name) in [
                    (crate::ScalarMethodArg::Uniform, "uniform"),
                    (crate::ScalarMethodArg::Quantile, "quantile"),
                    (crate::ScalarMethodArg::LloydMax, "Lloyd-Max"),
                ] {
                    for &bits in &args.scalar_bits {
                        let mut a = train_args(model, 1, args.samples.max(100_000));
                        a.scalar_method = Some(method);
                        a.scalar_bits = Some(bits);
                        let cb = train_with_progress(&a.params(), train)?;
                        out.push(VqSetting {
                            family: format!("vq scalar {name}"),
                            setting: format!("{bits} bits"),
                            codebook: cb.to_msgpack(),
                            codec_meta: 0,
                        });
                    }
                }
            }
            other => return Err(format!("eval has no sweep for {} codebooks", other.name())),
        }
    }
    Ok(out)
}

/// Prints, for every ZFP fixed-rate point, the best vq PSNR at no more bits per pixel.
fn print_verdict(rows: &[Row]) {
    let vq: Vec<&Row> = rows.iter().filter(|r| r.family.starts_with("vq")).collect();
    let zfp: Vec<&Row> = rows
        .iter()
        .filter(|r| r.family == "ZFP fixed-rate")
        .collect();
    if vq.is_empty() || zfp.is_empty() {
        return;
    }
    println!();
    println!("| ZFP fixed-rate | ZFP bpp | ZFP PSNR dB | best vq at ≤ that bpp | vq bpp | vq PSNR dB | margin dB |");
    println!("|---|---:|---:|---|---:|---:|---:|");
    for z in zfp {
        let best = vq
            .iter()
            .filter(|r| r.bpp <= z.bpp)
            .max_by(|a, b| a.psnr.total_cmp(&b.psnr));
        match best {
            Some(b) => println!(
                "| {} | {:.3} | {:.2} | {} {} | {:.3} | {:.2} | {:+.2} |",
                z.setting,
                z.bpp,
                z.psnr,
                b.family,
                b.setting,
                b.bpp,
                b.psnr,
                b.psnr - z.psnr
            ),
            None => println!(
                "| {} | {:.3} | {:.2} | none | | | |",
                z.setting, z.bpp, z.psnr
            ),
        }
    }
}
