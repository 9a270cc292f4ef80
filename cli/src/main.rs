//! `blosc2-vq`: train codebooks, compress `.npy` files into Blosc2 frames with the vq codec and
//! back, inspect codebooks and frames, and evaluate rate–distortion against Blosc2's codecs.

mod data;
mod eval;
mod npy;
mod predictive;

use blosc2_host as host;
use blosc2_vq::codebook::{PrototypeStorage, ScalarMethod, Transform};
use blosc2_vq::engine::settings::Settings;
use blosc2_vq::train::{CodebookParams, Kind, Metric, TrainOptions};
use blosc2_vq::Codebook;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// An error message for the user (it names the file and what is wrong).
pub type CliResult<T> = Result<T, String>;

#[derive(Parser)]
#[command(
    name = "blosc2-vq",
    version,
    about = "Vector-quantization lossy codec for Blosc2"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--model`: a codebook kind by its short name (`aa`, `cmeans`, `kmeans`, `residual`,
/// `scalar`) or its schema name, as the library lists them.
fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::from_name(s).ok_or_else(|| format!("unknown model `{s}`: use one of {}", kind_names()))
}

/// The kinds' short names, for help and errors.
fn kind_names() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.short_name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ScalarMethodArg {
    /// Equal-width bins.
    Uniform,
    /// Equal-count bins.
    Quantile,
    /// Lloyd-Max: levels minimizing squared error (1-D k-means).
    LloydMax,
}

impl From<ScalarMethodArg> for ScalarMethod {
    fn from(m: ScalarMethodArg) -> Self {
        match m {
            ScalarMethodArg::Uniform => ScalarMethod::Uniform,
            ScalarMethodArg::Quantile => ScalarMethod::Quantile,
            ScalarMethodArg::LloydMax => ScalarMethod::LloydMax,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum MetricArg {
    Euclidean,
    Cosine,
}

/// The training flags. Every flag left out takes the library's default for the model (the
/// same as the C API's `blosc2_vq_train_params_init` and Python's `blosc2_vq.train`); `train
/// --help` lists them, read from the library.
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs {
    /// The model: aa (Archetypal Analysis), cmeans (Fuzzy C-Means), kmeans, residual (--stages
    /// stages of --prototypes codewords) or scalar (2^--scalar-bits levels per value).
    #[arg(long, default_value = "aa", value_parser = parse_kind)]
    pub model: Kind,
    /// Number of prototypes (codewords for kmeans, codewords per stage for residual)
    ///.
    #[arg(long)]
    pub prototypes: Option<usize>,
    /// Stages (residual).
    #[arg(long)]
    pub stages: Option<usize>,
    /// Bits of the tile mean removed before the first stage; 0 = none (residual).
    #[arg(long)]
    pub mean_bits: Option<u8>,
    /// Candidate paths the encoder keeps from stage to stage; 1 = greedy (residual)
    ///.
    #[arg(long)]
    pub beam: Option<u32>,
    /// How levels are placed (scalar).
    #[arg(long, value_enum)]
    pub scalar_method: Option<ScalarMethodArg>,
    /// Bits per value: 2^bits levels (scalar).
    #[arg(long)]
    pub scalar_bits: Option<u8>,
    /// Keep only the largest N weights of each tile (aa, cmeans); 0 keeps all.
    #[arg(long)]
    pub kept_weights: Option<u32>,
    /// Code log10(max(value, FLOOR)) instead of the values (for data spanning many decades;
    /// values at or below the floor decode as 0).
    #[arg(long)]
    pub log10_floor: Option<f64>,
    /// Seal an error bound into the codebook (residual): every decoded value within E of the
    /// original, in decades with --log10-floor (0.0414 = 10 %); none: fixed-rate blocks.
    #[arg(long, value_name = "E", allow_negative_numbers = true)]
    pub max_error: Option<f64>,
    /// Tile shape, e.g. 4x4 or 4x4x4 (the data's last axes).
    #[arg(long, value_parser = parse_shape)]
    pub tile: Option<Shape>,
    /// Random training tiles.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Seed for tile sampling and initialization.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fuzzifier m > 1 (cmeans).
    #[arg(long)]
    pub fuzzifier: Option<f64>,
    /// Distance (cmeans).
    #[arg(long, value_enum)]
    pub metric: Option<MetricArg>,
    /// Restarts, the best kept (aa).
    #[arg(long)]
    pub n_init: Option<u32>,
    /// Iteration limit.
    #[arg(long)]
    pub max_iter: Option<u32>,
    /// Convergence tolerance.
    #[arg(long)]
    pub tol: Option<f64>,
    /// Bits per quantized weight, 1 to 8 (aa, cmeans).
    #[arg(long)]
    pub weight_bits: Option<u8>,
}

impl TrainArgs {
    /// The flags for `model` with every option at its default.
    pub fn defaults(model: Kind) -> Self {
        TrainArgs {
            model,
            prototypes: None,
            stages: None,
            mean_bits: None,
            beam: None,
            scalar_method: None,
            scalar_bits: None,
            kept_weights: None,
            log10_floor: None,
            max_error: None,
            tile: None,
            samples: None,
            seed: None,
            fuzzifier: None,
            metric: None,
            n_init: None,
            max_iter: None,
            tol: None,
            weight_bits: None,
        }
    }

    /// The library's options for the model, with the flags given applied.
    pub fn options(&self) -> TrainOptions {
        let mut o = TrainOptions::defaults(self.model);
        fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
            if let Some(v) = flag {
                *field = v.clone();
            }
        }
        set(&mut o.n_prototypes, &self.prototypes);
        set(&mut o.n_stages, &self.stages);
        set(&mut o.mean_bits, &self.mean_bits);
        set(&mut o.beam, &self.beam);
        set(&mut o.scalar_method, &self.scalar_method.map(Into::into));
        set(&mut o.scalar_bits, &self.scalar_bits);
        set(&mut o.kept_weights, &self.kept_weights);
        set(
            &mut o.transform,
            &self.log10_floor.map(|floor| Transform::Log10 { floor }),
        );
        set(&mut o.max_error, &self.max_error.map(Some));
        set(&mut o.tile_shape, &self.tile.as_ref().map(|t| t.0.clone()));
        set(&mut o.n_samples, &self.samples);
        set(&mut o.seed, &self.seed);
        set(&mut o.fuzzifier, &self.fuzzifier);
        set(
            &mut o.metric,
            &self.metric.map(|m| match m {
                MetricArg::Euclidean => Metric::Euclidean,
                MetricArg::Cosine => Metric::Cosine,
            }),
        );
        set(&mut o.n_init, &self.n_init);
        set(&mut o.max_iter, &self.max_iter);
        set(&mut o.tol, &self.tol);
        set(&mut o.weight_bits, &self.weight_bits);
        o
    }

    /// The codebook parameters.
    pub fn params(&self) -> CodebookParams {
        self.options().codebook_params()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train a codebook on a .npy array (float or integer) and write it to a file.
    Train {
        /// The training data (.npy); its last axes are the tile axes.
        input: PathBuf,
        /// Where to write the codebook (MessagePack, the `vq` metalayer's content).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        train: TrainArgs,
        /// Bits per stored prototype value: 32, or 16 for a codebook half the size (the
        /// prototypes move by up to 2^-11 of themselves).
        #[arg(long, default_value = "32", value_parser = ["16", "32"])]
        prototype_bits: String,
    },
    /// Compress a .npy array into a Blosc2 frame (.b2nd): without --codebook, to an error
    /// bound (--max-error, --rel-error, --pw-rel-error or --psnr) by the predictive engine, no
    /// training needed; with --codebook, by that codebook. The `vq` metalayer holds the
    /// settings or the codebook, so decompressing needs nothing else.
    Compress {
        /// The data (.npy: float32, float64, uint8 or uint16).
        input: PathBuf,
        /// A codebook file (from `train`); none: the codebook-free predictive engine, which
        /// needs an error bound.
        #[arg(short, long)]
        codebook: Option<PathBuf>,
        /// The frame to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Chunk shape, e.g. 64x64x64 (default: without a codebook about 2^20 values grown
        /// like the blocks, as Python's `default_blocks`; with one, blocks stacked to about
        /// 1 MiB).
        #[arg(long, value_parser = parse_shape)]
        chunks: Option<Shape>,
        /// Block shape, e.g. 1x64x64 (default: without a codebook about 2^16 values as cubic
        /// as the shape allows, last dimensions first; with one, whole images over the
        /// tile's axes).
        #[arg(long, value_parser = parse_shape)]
        blocks: Option<Shape>,
        /// Compression threads.
        #[arg(long, default_value_t = 1)]
        nthreads: i16,
        /// Weight bits for this compression (1..8; 0 = the codebook's; weight codebooks only).
        #[arg(long, default_value_t = 0)]
        weight_bits: u8,
        /// Absolute error bound: every decoded value within E of the original. Without a
        /// codebook, the bound the engine codes to (with --pw-rel-error: its absolute floor);
        /// with a residual codebook, the frame's codebook is re-sealed with it (in decades
        /// under its log10 transform; default: the codebook's).
        #[arg(long, value_name = "E", allow_negative_numbers = true)]
        max_error: Option<f64>,
        /// Error bound relative to the value range (no codebook): every value within
        /// R × (max − min) of the array's finite values (read in a first pass).
        #[arg(long, value_name = "R", allow_negative_numbers = true)]
        rel_error: Option<f64>,
        /// Point-wise relative bound (no codebook): every value x within P × |x| (at most
        /// 0.5; zeros stay exact; --max-error adds an absolute floor).
        #[arg(long, value_name = "P", allow_negative_numbers = true)]
        pw_rel_error: Option<f64>,
        /// PSNR target in dB over the value range (no codebook): coded as the absolute bound
        /// range × √3 × 10^(−DB/20), every value within it.
        #[arg(long, value_name = "DB", allow_negative_numbers = true)]
        psnr: Option<f64>,
        /// Without a codebook, do not try one: by default a residual codebook is trained on
        /// a sample of the data and kept when it measures smaller, its own bytes counted
        /// (most arrays are too small or too predictable for one to pay; it is then not
        /// trained at all).
        #[arg(long)]
        no_codebook_trial: bool,
    },
    /// Decompress a Blosc2 frame made with the vq codec into a .npy file.
    Decompress {
        /// The frame (.b2nd).
        input: PathBuf,
        /// The .npy file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Describe a codebook file or a frame: its shape, chunks, blocks, bits per value, and
    /// how it is coded (predictive, with the requested and coded bounds and the value range,
    /// or the codebook).
    Info {
        /// A codebook file or a .b2nd frame.
        file: PathBuf,
    },
    /// Rate–distortion report: sweep vq settings and Blosc2's codecs, print a table, draw plots.
    Eval(eval::EvalArgs),
}

/// An array or tile shape given as `4x4` or `1,64,64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

fn parse_shape(s: &str) -> Result<Shape, String> {
    s.split(['x', ',', '×'])
        .map(|t| match t.trim().parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("`{s}` is not a shape like 4x4 or 1,64,64")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Shape)
}

/// A progress bar on stderr for `len` steps (hidden when stderr is not a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Trains with a progress bar.
pub fn train_with_progress(
    params: &CodebookParams,
    data: &ndarray::ArrayViewD<'_, f64>,
) -> CliResult<Codebook> {
    with_progress(params, |observe| params.fit_observed(data, observe))
}

/// Runs `fit` with a progress bar of the training iterations.
fn with_progress(
    params: &CodebookParams,
    fit: impl FnOnce(&mut blosc2_vq::train::Observer<'_>) -> blosc2_vq::Result<Codebook>,
) -> CliResult<Codebook> {
    let bar = progress(params.max_iterations(), "training");
    let mut done = 0u64;
    let result = fit(&mut |_| {
        done += 1;
        bar.set_position(done);
        std::ops::ControlFlow::Continue(())
    });
    bar.finish_and_clear();
    result.map_err(|e| e.to_string())
}

/// Values `compress` and `decompress` hold at a time (plus c-blosc2's chunk buffers): 64 MiB
/// of float32.
const STREAM_VALUES: usize = 16 << 20;

/// Values the range pass of `--rel-error` and `--psnr` reads at a time (held as bytes and as
/// f64: 12 MiB for float32).
const RANGE_PIECE: usize = 1 << 20;

/// Checks that an array can be stored as tiles: at least one axis, none empty.
fn check_streamable(path: &Path, shape: &[usize]) -> CliResult<()> {
    if shape.is_empty() || shape.contains(&0) {
        return Err(format!(
            "{}: the array {shape:?} holds no values to compress",
            path.display()
        ));
    }
    Ok(())
}

/// Removes a half-written output when `result` is an error.
fn or_remove<T>(result: CliResult<T>, output: &Path) -> CliResult<T> {
    if result.is_err() {
        let _ = std::fs::remove_file(output);
    }
    result
}

fn read_codebook(path: &Path) -> CliResult<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Codebook::from_msgpack(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// Registers the codec (statically, with this binary's copy of the library).
pub fn register() {
    let rc = host::register_codec(
        host::VQ_ID,
        "vq",
        Some((
            blosc2_vq::ffi::blosc2_vq_encoder,
            blosc2_vq::ffi::blosc2_vq_decoder,
        )),
    );
    assert!(rc >= 0, "cannot register the vq codec: {rc}");
    // c-blosc2 is linked statically and not exported: tell the plugin which it is.
    blosc2_vq::ffi::host::set_host_blosc2_version(&host::blosc2_version())
        .expect("blosc2-sys's c-blosc2 is supported");
}

/// The codec's last error message, for c-blosc2 failures.
pub fn codec_error() -> String {
    blosc2_vq::ffi::last_codec_error_message()
}

/// How `compress` codes the blocks.
enum Coding {
    /// The predictive engine, to this bound (no codebook).
    Predictive(blosc2_vq::engine::bound::ErrorBound),
    /// The codebook in this file.
    Codebook(PathBuf),
}

/// Default blocks: whole images over the last `tile_ndim` axes (at most 256 per side), 1
/// elsewhere. Default chunks: blocks stacked along the first axis to about 1 MiB.
pub fn default_geometry(
    shape: &[usize],
    tile_ndim: usize,
    itemsize: usize,
) -> (Vec<usize>, Vec<usize>) {
    let nd = shape.len();
    let t = tile_ndim.min(nd);
    let blocks: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if i >= nd - t { d.min(256) } else { 1 })
        .collect();
    let block_bytes = blocks.iter().product::<usize>() * itemsize;
    let mut chunks = blocks.clone();
    if nd > t {
        chunks[0] = ((1 << 20) / block_bytes.max(1)).clamp(1, shape[0]);
    }
    (chunks, blocks)
}

fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Train {
            input,
            output,
            train,
            prototype_bits,
        } => {
            // Only the drawn tiles are read: the array is never loaded.
            let mut source = npy::NpyReader::open(&input)?;
            check_streamable(&input, &source.shape.clone())?;
            let start = Instant::now();
            let params = train.params();
            let mut cb = with_progress(&params, |observe| params.fit_source(&mut source, observe))
                .map_err(|e| format!("{}: {e}", input.display()))?;
            if prototype_bits == "16" {
                cb = cb
                    .with_prototype_storage(PrototypeStorage::Float16)
                    .map_err(|e| format!("{}: {e}", input.display()))?;
            }
            std::fs::write(&output, cb.to_msgpack())
                .map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "{}: {:?} codebook, {} prototypes, tile {:?}, trained on {} tiles in {:.0} ms ({} iterations, loss {:.4})",
                output.display(),
                cb.model(),
                cb.n_prototypes(),
                cb.tile_shape(),
                cb.training().n_samples,
                start.elapsed().as_secs_f64() * 1e3,
                cb.training().iterations,
                cb.training().loss
            );
        }
        Command::Compress {
            input,
            codebook,
            output,
            chunks,
            blocks,
            nthreads,
            weight_bits,
            max_error,
            rel_error,
            pw_rel_error,
            psnr,
            no_codebook_trial,
        } => {
            let flags = predictive::BoundFlags {
                max_error,
                rel_error,
                pw_rel_error,
                psnr,
            };
            // The flags first: a missing or bad bound is told before any file is read.
            let coding = match codebook {
                None => Coding::Predictive(flags.bound_without_codebook(weight_bits)?),
                Some(path) => {
                    flags.check_with_codebook()?;
                    Coding::Codebook(path)
                }
            };
            let source = npy::NpyReader::open(&input)?;
            let shape = source.shape.clone();
            check_streamable(&input, &shape)?;
            let itemsize = source.dtype.itemsize();
            let (meta, mode, chunks, blocks) = match coding {
                Coding::Predictive(bound) => {
                    let settings = predictive::settings_for(&source, bound, RANGE_PIECE)?;
                    let mode = format!(
                        "predictive, {}",
                        predictive::describe_bound(&settings.requested)
                    );
                    let (chunks, blocks) = predictive::geometry(
                        &shape,
                        chunks.as_ref().map(|s| &s.0[..]),
                        blocks.as_ref().map(|s| &s.0[..]),
                    );
                    let mut meta = settings.to_msgpack();
                    let mut mode = mode;
                    if !no_codebook_trial && blocks.len() == shape.len() {
                        let choice = predictive::choose_coding(&source, &blocks, &settings)?;
                        println!("{}: {}", input.display(), choice.reason);
                        if let Some(cb) = choice.codebook {
                            mode = format!(
                                "residual codebook trained on this array, {}",
                                predictive::describe_bound(&settings.requested)
                            );
                            meta = cb;
                        }
                    }
                    (meta, mode, chunks, blocks)
                }
                Coding::Codebook(path) => {
                    let mut cb_bytes = read_codebook(&path)?;
                    let mut cb = Codebook::from_msgpack(&cb_bytes).expect("checked");
                    if let Some(e) = max_error {
                        cb = cb
                            .with_max_error(e)
                            .map_err(|err| format!("--max-error: {err}"))?;
                        cb_bytes = cb.to_msgpack();
                    }
                    let mode = format!("{} codebook", cb.kind().short_name());
                    let (dc, db) = default_geometry(&shape, cb.tile_shape().len(), itemsize);
                    let (chunks, blocks) = (chunks.map_or(dc, |s| s.0), blocks.map_or(db, |s| s.0));
                    (cb_bytes, mode, chunks, blocks)
                }
            };
            if chunks.len() != shape.len() || blocks.len() != shape.len() {
                return Err(format!(
                    "{}: chunks and blocks need {} dimensions like the data",
                    input.display(),
                    shape.len()
                ));
            }
            register();
            let settings = host::Settings {
                nthreads,
                codec_meta: weight_bits,
                urlpath: Some(output.to_string_lossy().into_owned()),
                ..host::Settings::default()
            };
            let _ = std::fs::remove_file(&output);
            let start = Instant::now();
            let cratio = or_remove(
                compress_streaming(&source, &meta, &chunks, &blocks, &settings),
                &output,
            )
            .map_err(|e| format!("{}: {e}", input.display()))?;
            println!(
                "{}: {:?} {} ({mode}) chunks {chunks:?} blocks {blocks:?}, ratio {:.2} ({:.2} bits per value), {:.1} MB/s",
                output.display(),
                shape,
                source.dtype.numpy(),
                cratio,
                8.0 * itemsize as f64 / cratio,
                source.nbytes() as f64 / 1e6 / start.elapsed().as_secs_f64()
            );
        }
        Command::Decompress { input, output } => {
            register();
            let path = input.to_string_lossy().into_owned();
            let arr = host::open_b2nd(&path).map_err(|rc| {
                format!(
                    "{}: not a Blosc2 frame (c-blosc2 error {rc})",
                    input.display()
                )
            })?;
            let meta = arr.metalayer("b2nd").ok_or_else(|| {
                format!(
                    "{}: no b2nd metalayer (not an n-dimensional array)",
                    input.display()
                )
            })?;
            let meta = blosc2_vq::tiles::parse_b2nd_meta(&meta)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let shape: Vec<usize> = meta.shape.iter().map(|&d| d as usize).collect();
            let descr = meta.dtype.as_deref().unwrap_or("<f4");
            let dtype = npy::Dtype::from_numpy(descr).ok_or_else(|| {
                format!(
                    "{}: dtype {descr} cannot be written as .npy here",
                    input.display()
                )
            })?;
            let chunks: Vec<usize> = arr.chunkshape().iter().map(|&c| c as usize).collect();
            let start = Instant::now();
            or_remove(
                decompress_streaming(&arr, dtype, &shape, &chunks, &output),
                &output,
            )
            .map_err(|e| format!("{}: {e}", input.display()))?;
            println!(
                "{}: {:?} {}, {:.1} MB/s",
                output.display(),
                shape,
                descr,
                arr.nbytes as f64 / 1e6 / start.elapsed().as_secs_f64()
            );
        }
        Command::Info { file } => info(&file)?,
        Command::Eval(args) => eval::run(args)?,
    }
    Ok(())
}

/// Compresses the `.npy` behind `source` into the frame `settings.urlpath`, a box of whole
/// chunks at a time ([`npy::Boxes`]), with `vq_meta` (a codebook or settings) as the `vq`
/// metalayer; returns the compression ratio.
fn compress_streaming(
    source: &npy::NpyReader,
    vq_meta: &[u8],
    chunks: &[usize],
    blocks: &[usize],
    settings: &host::Settings,
) -> CliResult<f64> {
    let itemsize = source.dtype.itemsize();
    let as_i64 = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let as_i32 = |v: &[usize]| v.iter().map(|&d| d as i32).collect::<Vec<_>>();
    let mut arr = host::create_b2nd(
        &as_i64(&source.shape),
        &as_i32(chunks),
        &as_i32(blocks),
        source.dtype.numpy(),
        itemsize as i32,
        &[("vq", vq_meta)],
        settings,
    )
    .map_err(|rc| {
        format!(
            "cannot create the frame (c-blosc2 error {rc}): {}",
            codec_error()
        )
    })?;
    let boxes = npy::Boxes::new(&source.shape, chunks, STREAM_VALUES);
    let bar = progress(boxes.count() as u64, "compressing");
    let mut buffer = Vec::new();
    for (start, stop) in boxes.iter() {
        let runs = boxes.runs(&start, &stop);
        buffer.resize(runs.iter().map(|r| r.1).sum::<usize>() * itemsize, 0);
        let mut at = 0;
        for (offset, len) in runs {
            source.read_bytes(offset, &mut buffer[at..at + len * itemsize])?;
            at += len * itemsize;
        }
        arr.set_slice(&as_i64(&start), &as_i64(&stop), &buffer)
            .map_err(|rc| {
                format!(
                    "compression failed at {start:?} (c-blosc2 error {rc}): {}",
                    codec_error()
                )
            })?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(arr.cratio())
}

/// Decompresses the b2nd array `arr` into the `.npy` file `output`, a box of whole chunks at
/// a time.
fn decompress_streaming(
    arr: &host::Array,
    dtype: npy::Dtype,
    shape: &[usize],
    chunks: &[usize],
    output: &Path,
) -> CliResult<()> {
    let itemsize = dtype.itemsize();
    let out = npy::NpyWriter::create(output, dtype, shape)?;
    if shape.contains(&0) {
        return Ok(());
    }
    let as_i64 = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
    let boxes = npy::Boxes::new(shape, chunks, STREAM_VALUES);
    let bar = progress(boxes.count() as u64, "decompressing");
    let mut buffer = Vec::new();
    for (start, stop) in boxes.iter() {
        let runs = boxes.runs(&start, &stop);
        buffer.resize(runs.iter().map(|r| r.1).sum::<usize>() * itemsize, 0);
        arr.get_slice(&as_i64(&start), &as_i64(&stop), &mut buffer)
            .map_err(|rc| {
                format!(
                    "decompression failed at {start:?} (c-blosc2 error {rc}): {}",
                    codec_error()
                )
            })?;
        let mut at = 0;
        for (offset, len) in runs {
            out.write_bytes(offset, &buffer[at..at + len * itemsize])?;
            at += len * itemsize;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn describe_codebook(cb: &Codebook) -> String {
    let mut extras = String::new();
    // Only weights have a bit depth; index kinds' widths follow from their codeword counts.
    if cb.kind().has_weights() {
        extras += &format!(", {}-bit weights", cb.weight_bits());
    }
    if cb.kept_weights() > 0 {
        extras += &format!(", {} weights kept per tile", cb.kept_weights());
    }
    if let Transform::Log10 { floor } = cb.transform() {
        extras += &format!(", log10 transform (floor {floor:e})");
    }
    if cb.prototype_storage() == PrototypeStorage::Float16 {
        extras += ", float16 prototypes";
    }
    if let Some(e) = cb.max_error() {
        let unit = if cb.transform().is_identity() {
            ""
        } else {
            " decades"
        };
        extras += &format!(", error-bounded: max_error {e}{unit}");
    }
    format!(
        "codebook v{}: {:?}, {} prototypes, tile {:?}{extras}, fingerprint {:#018x}\n  trained on {} tiles, seed {}, {} iterations, loss {:.5}",
        cb.format_version(),
        cb.model(),
        cb.n_prototypes(),
        cb.tile_shape(),
        cb.fingerprint(),
        cb.training().n_samples,
        cb.training().seed,
        cb.training().iterations,
        cb.training().loss
    )
}

fn info(file: &Path) -> CliResult<()> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if let Ok(cb) = Codebook::from_msgpack(&bytes) {
        println!("{}: {}", file.display(), describe_codebook(&cb));
        return Ok(());
    }
    register();
    let arr = host::open_b2nd(&file.to_string_lossy()).map_err(|_| {
        format!(
            "{}: neither a blosc2-vq codebook nor a Blosc2 frame",
            file.display()
        )
    })?;
    let b2nd = arr
        .metalayer("b2nd")
        .map(|meta| blosc2_vq::tiles::parse_b2nd_meta(&meta));
    // Bits per stored value, over the values the b2nd shape holds.
    let nitems = match &b2nd {
        Some(Ok(m)) => Some(m.shape.iter().product::<i64>().max(0) as f64),
        _ => None,
    };
    let bits = nitems
        .filter(|&n| n > 0.0)
        .map(|n| format!(", {:.3} bits per value", 8.0 * arr.cbytes() as f64 / n))
        .unwrap_or_default();
    println!(
        "{}: Blosc2 frame, {} chunks, {} bytes → {} bytes (ratio {:.2}{bits})",
        file.display(),
        arr.nchunks(),
        arr.nbytes,
        arr.cbytes(),
        arr.cratio()
    );
    match b2nd {
        Some(Ok(m)) => println!(
            "  b2nd: shape {:?}, chunks {:?}, blocks {:?}, dtype {}",
            m.shape,
            m.chunkshape,
            m.blockshape,
            m.dtype.as_deref().unwrap_or("?")
        ),
        Some(Err(e)) => println!("  b2nd: {e}"),
        None => {}
    }
    match arr.metalayer("vq") {
        Some(raw) if Settings::is_settings(&raw) => match Settings::from_msgpack(&raw) {
            Ok(s) => println!("  vq mode {}", predictive::describe_settings(&s)),
            Err(e) => println!("  vq metalayer: {e}"),
        },
        Some(raw) => match Codebook::from_msgpack(&raw) {
            Ok(cb) => println!(
                "  vq mode codebook, kind {}: {}",
                cb.kind().name(),
                describe_codebook(&cb)
            ),
            Err(e) => println!("  vq metalayer: {e}"),
        },
        None => println!("  no vq metalayer"),
    }
    Ok(())
}

/// The library's training defaults, for `train --help`: read from it, never restated.
fn defaults_help() -> String {
    let mut help = String::from("Defaults (the library's; the C API and Python use the same):\n");
    let o = TrainOptions::defaults(Kind::Archetypal);
    let tile: Vec<String> = o.tile_shape.iter().map(|t| t.to_string()).collect();
    help += &format!(
        "  every model: --tile {} --samples {} --seed {} --weight-bits {} --kept-weights {}\n",
        tile.join("x"),
        o.n_samples,
        o.seed,
        o.weight_bits,
        o.kept_weights
    );
    for kind in Kind::ALL {
        help += &format!(
            "  {:<9} {:?}\n",
            format!("{}:", kind.short_name()),
            TrainOptions::defaults(kind).model_params()
        );
    }
    help
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().mut_subcommand("train", |c| c.after_help(defaults_help()));
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("blosc2-vq: error: {message}");
            ExitCode::FAILURE
        }
    }
}
