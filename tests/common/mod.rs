//! Test support: the Olivetti faces, and real c-blosc2 (through the `blosc2-host` crate)
//! driving the codec.
#![allow(dead_code, unused_imports, unsafe_code)]

pub mod vdf;

pub use blosc2_host as host;
pub use blosc2_host::{
    chunk_blocks, schunk_chunk, schunk_decompress_chunk, schunk_update_chunk, sys, Array,
    PlainSchunk, Settings,
};
use std::path::PathBuf;
use std::sync::{Once, OnceLock};

pub use blosc2_host::VQ_ID;

/// Where the Olivetti faces are: `$BLOSC2_VQ_OLIVETTI`, else `../shared/data/olivetti_faces_u8.npy`.
pub fn olivetti_path() -> PathBuf {
    std::env::var_os("BLOSC2_VQ_OLIVETTI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/olivetti_faces_u8.npy")
        })
}

/// The Olivetti faces as scikit-learn's `faces.images`: float32 in [0, 1], (400, 64, 64).
pub fn olivetti() -> &'static ndarray::Array3<f32> {
    static FACES: OnceLock<ndarray::Array3<f32>> = OnceLock::new();
    FACES.get_or_init(|| {
        let path = olivetti_path();
        let raw: ndarray::Array3<u8> = ndarray_npy::read_npy(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the Olivetti faces at {} ({e}); put olivetti_faces_u8.npy there \
                 or set BLOSC2_VQ_OLIVETTI to its path",
                path.display()
            )
        });
        assert_eq!(
            raw.shape(),
            &[400, 64, 64],
            "unexpected shape in {}",
            path.display()
        );
        raw.mapv(|v| f32::from(v) / 242.0)
    })
}

/// Initializes c-blosc2 and registers the codec (statically, by function pointer) once.
pub fn register_vq() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let rc = host::register_codec(
            VQ_ID,
            "vq",
            Some((
                blosc2_vq::ffi::blosc2_vq_encoder,
                blosc2_vq::ffi::blosc2_vq_decoder,
            )),
        );
        assert_eq!(rc, 0, "blosc2_register_codec failed: {rc}");
        // c-blosc2 is linked statically and not exported: tell the plugin which it is.
        blosc2_vq::ffi::host::set_host_blosc2_version(&host::blosc2_version())
            .expect("blosc2-sys's c-blosc2 is supported");
    });
}

/// [`host::compress_b2nd`] with the codec registered.
pub fn compress_b2nd(
    data: &[u8],
    shape: &[i64],
    chunks: &[i32],
    blocks: &[i32],
    dtype: &str,
    typesize: i32,
    metalayers: &[(&str, &[u8])],
    settings: &Settings,
) -> Result<Array, i32> {
    register_vq();
    host::compress_b2nd(
        data, shape, chunks, blocks, dtype, typesize, metalayers, settings,
    )
}

/// [`host::open_b2nd`] with the codec registered.
pub fn open_b2nd(path: &str) -> Result<Array, i32> {
    register_vq();
    host::open_b2nd(path)
}

/// A plain SChunk ([`host::PlainSchunk`]) with the codec registered.
pub fn plain_schunk(
    typesize: i32,
    blocksize: i32,
    metalayers: &[(&str, &[u8])],
    settings: &Settings,
) -> PlainSchunk {
    register_vq();
    PlainSchunk::new(typesize, blocksize, metalayers, settings)
}

/// Compresses as [`compress_b2nd`] (panicking with the codec's message on failure) and
/// decompresses; returns the array and the decompressed bytes.
pub fn round_trip(
    data: &[u8],
    geometry: &Geometry<'_>,
    codebook: &[u8],
    settings: &Settings,
) -> (Array, Vec<u8>) {
    let arr = compress_b2nd(
        data,
        geometry.shape,
        geometry.chunks,
        geometry.blocks,
        geometry.dtype,
        geometry.typesize(),
        &[("vq", codebook)],
        settings,
    )
    .unwrap_or_else(|rc| panic!("compression failed ({rc}): {}", last_error()));
    let (out, _) = arr
        .decompress()
        .unwrap_or_else(|rc| panic!("decompression failed ({rc}): {}", last_error()));
    (arr, out)
}

/// The shape, chunks, blocks and NumPy dtype of an array to compress.
pub struct Geometry<'a> {
    pub shape: &'a [i64],
    pub chunks: &'a [i32],
    pub blocks: &'a [i32],
    /// NumPy's dtype string (`<f4`, `<f8`, `<f2`, `|u1`, `<u2`).
    pub dtype: &'a str,
}

impl Geometry<'_> {
    /// Bytes per item, from the dtype string's size digits.
    pub fn typesize(&self) -> i32 {
        self.dtype[2..]
            .parse()
            .unwrap_or_else(|_| panic!("dtype {} has no size", self.dtype))
    }
}

/// The last error message of the codec on this thread.
pub fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(blosc2_vq::ffi::blosc2_vq_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// f32 slice as bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// Bytes as f32s.
pub fn bytes_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Mean SSIM over images of `h × w`.
pub fn mean_ssim(a: &[f32], b: &[f32], h: usize, w: usize) -> f64 {
    let n = a.len() / (h * w);
    (0..n)
        .map(|i| {
            blosc2_vq::metrics::ssim(
                &a[i * h * w..(i + 1) * h * w],
                &b[i * h * w..(i + 1) * h * w],
                h,
                w,
                1.0,
            )
        })
        .sum::<f64>()
        / n as f64
}

/// Builds the plugin exactly as users get it (`cargo build --lib --release`) into its own
/// target directory (the running `cargo test` holds the lock on the main one) and returns
/// the directory holding `libblosc2_vq.so`. Cargo rebuilds only what changed.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = manifest.join("target/plugin");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--lib", "--release", "--quiet", "--manifest-path"])
            .arg(manifest.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building libblosc2_vq.so failed");
        let dir = target.join("release");
        assert!(dir.join("libblosc2_vq.so").exists());
        dir
    })
    .clone()
}

/// target/<profile> of this test run (where blosc2-sys built c-blosc2).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The c-blosc2 that blosc2-sys built (its install prefix: include/ and lib/libblosc2.a).
pub fn blosc2_prefix() -> PathBuf {
    let build = profile_dir().join("build");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&build)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("out")))
        .filter(|out| out.join("lib/libblosc2.a").exists() && out.join("include/blosc2.h").exists())
        .collect();
    // Newest first, should several builds of blosc2-sys coexist.
    found.sort_by_key(|p| {
        std::fs::metadata(p.join("lib/libblosc2.a"))
            .and_then(|m| m.modified())
            .ok()
    });
    found
        .pop()
        .unwrap_or_else(|| panic!("no c-blosc2 build of blosc2-sys under {}", build.display()))
}
