//! The MPI example, for real: examples/mpi/vdf_mpi.c compiled with `mpicc` against the plugin
//! and blosc2-sys's static c-blosc2 (the same arguments as tests/c_api.rs), run on 2 ranks with
//! `mpirun`. Every rank generates its VDFs, rank 0 trains the codebook on a gathered sample,
//! every rank compresses its cells (dense grid and Vlasiator's sparse blocks) into its own frame
//! files, reopens them and checks the bound on every value; rank 0 reports. The test reads the
//! report back: every worst error within the bound, the ratios and sizes as measured, the frame
//! files on disk adding up to what the ratios count, and a failing rank failing the run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The relative bound the example seals into its codebook, in decades: 10 %.
fn bound() -> f64 {
    1.1f64.log10()
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `tool` as a command, or a failure saying how to install Open MPI.
fn mpi_tool(tool: &str) -> Command {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => Command::new(tool),
        Ok(out) => panic!(
            "`{tool} --version` failed ({}); run scripts/setup.sh (it installs openmpi-bin and \
             libopenmpi-dev)",
            out.status
        ),
        Err(e) => panic!(
            "{tool} not found ({e}); run scripts/setup.sh (it installs openmpi-bin and \
             libopenmpi-dev)"
        ),
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Compiles the example once per test run.
fn compile_example() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let prefix = common::blosc2_prefix();
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let exe = tmp("vdf_mpi");
        let mut cmd = mpi_tool("mpicc");
        cmd.args(["-std=c99", "-O2", "-Wall", "-Werror"])
            .arg(manifest.join("examples/mpi/vdf_mpi.c"))
            .arg("-I")
            .arg(prefix.join("include"))
            .arg("-I")
            .arg(manifest.join("include"))
            .arg("-L")
            .arg(common::plugin_dir())
            .arg("-lblosc2_vq")
            .arg(prefix.join("lib/libblosc2.a"))
            .args(["-lpthread", "-lm", "-ldl", "-o"])
            .arg(&exe);
        let out = cmd.output().expect("mpicc runs");
        assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
        exe
    })
    .clone()
}

/// `mpirun -np 2 --oversubscribe exe args` (allowed to run as root, as in containers), with the
/// plugin on LD_LIBRARY_PATH.
fn mpirun(exe: &Path, args: &[&Path]) -> Output {
    let mut cmd = mpi_tool("mpirun");
    cmd.args(["-np", "2", "--oversubscribe"])
        .arg(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", common::plugin_dir())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    cmd.output().expect("mpirun runs")
}

/// The number after `key` on the line starting with `line_start`.
fn figure(out: &str, line_start: &str, key: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no line starting with {line_start:?} in:\n{out}"));
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            let v = words.next().unwrap_or_default();
            return v
                .parse()
                .unwrap_or_else(|_| panic!("{key} is {v:?} in {line:?}"));
        }
    }
    panic!("no {key} in {line:?}")
}

/// The rows of the timestep table, as numbers.
fn table(out: &str) -> Vec<Vec<f64>> {
    out.lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| {
                    c.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("bad cell {c:?} in {l:?}"))
                })
                .collect()
        })
        .collect()
}

fn file_len(path: &Path) -> f64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len() as f64
}

#[test]
fn mpi_example_compresses_every_rank_within_the_bound() {
    let exe = compile_example();
    let dir = tmp("vdf_mpi_out");
    let _ = std::fs::remove_dir_all(&dir);
    let out = mpirun(&exe, &[&dir]);
    let report = text(&out);
    println!("{report}");
    assert!(out.status.success(), "mpirun failed:\n{report}");
    assert!(report.contains("vdf_mpi: 2 ranks x 64 cells"), "{report}");
    assert!(
        report.contains("ok: 0 values outside the bound"),
        "{report}"
    );

    // Both layouts: every value checked, the worst within the bound but not trivially 0
    // (values did go through the lossy codec), the ratios as measured (dense 25.83, sparse
    // 10.18, deterministic but for the platform's exp/pow in the generator).
    for (layout, min_ratio) in [("dense", 24.0), ("sparse", 9.5)] {
        let line = format!("layout {layout}:");
        let f = |key| figure(&report, &line, key);
        assert_eq!(f("violations"), 0.0, "{layout}");
        let (worst_log, worst_rel) = (f("worst_log10_error"), f("worst_rel_error"));
        assert!(
            worst_log <= bound() && worst_log > 0.5 * bound(),
            "{layout}: worst log10 error {worst_log}, bound {}",
            bound()
        );
        assert!(
            worst_rel <= 0.1 && worst_rel > 0.05,
            "{layout}: worst relative error {worst_rel}"
        );
        let ratio = f("ratio");
        assert!(ratio >= min_ratio, "{layout}: ratio {ratio}");
        assert!(
            (f("raw_bytes") / f("file_bytes") - ratio).abs() < 0.01,
            "{layout}: ratio is raw over file bytes"
        );
        assert!(f("encode_MBps") > 0.0 && f("encode_s") > 0.0, "{layout}");
        // Two ranks, one codebook in each frame (4 stages x 64 codewords, float16: 34 KB).
        assert!(
            f("codebook_bytes") > 60_000.0 && f("codebook_bytes") < f("file_bytes"),
            "{layout}"
        );
    }
    let dense_raw = figure(&report, "layout dense:", "raw_bytes");
    assert_eq!(
        dense_raw,
        2.0 * 64.0 * 32768.0 * 4.0,
        "2 ranks x 64 float32 32^3 VDFs"
    );
    // The sparse layout counts its ids: 4 bytes per block and per cell, raw; compressed in the
    // frame, far fewer.
    let sparse_raw = figure(&report, "layout sparse:", "raw_bytes");
    let blocks = (sparse_raw - 2.0 * 64.0 * 4.0) / (64.0 * 4.0 + 4.0);
    assert_eq!(
        blocks.fract(),
        0.0,
        "raw sparse bytes = blocks x (256 + 4) + cells x 4"
    );
    let ids = figure(&report, "layout sparse:", "ids_bytes");
    assert!(ids > 0.0 && ids < blocks * 4.0, "ids take {ids} bytes");
    assert!(
        report.contains(&format!("{blocks:.0} stored 4x4x4 blocks")),
        "{report}"
    );

    // What the ratios count is what is on disk: the frames of step 0, summed over ranks.
    for layout in ["dense", "sparse"] {
        let on_disk: f64 = (0..2)
            .map(|r| file_len(&dir.join(format!("vdf_{layout}_rank{r}_step0.b2nd"))))
            .sum();
        assert_eq!(
            on_disk,
            figure(&report, &format!("layout {layout}:"), "file_bytes"),
            "{layout}"
        );
    }
    assert!(
        !dir.join("retrained_dense_rank0.b2nd").exists(),
        "scratch frames are removed"
    );

    // The timestep table: 5 steps, the bound at every one, with the step-0 codebook and
    // retrained; the VDFs spread (more blocks) as they heat.
    let rows = table(&report);
    assert_eq!(rows.len(), 5, "{report}");
    for (step, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 10, "{row:?}");
        assert_eq!(row[0], step as f64);
        let worst_rel = row[6];
        assert!(
            worst_rel <= 0.1 && worst_rel > 0.05,
            "step {step}: worst {worst_rel}"
        );
        // measured: dense 25.8 .. 21.3, sparse 10.2 .. 10.8, retraining within 3 %
        assert!(row[2] >= 19.0 && row[4] >= 9.5, "step {step}: {row:?}");
        assert!(
            row[7] >= 0.95 * row[2] && row[8] >= 0.95 * row[4],
            "{row:?}"
        );
        if step > 0 {
            assert!(row[1] > rows[step - 1][1], "stored blocks grow: {rows:?}");
        }
    }
    assert_eq!(rows[0][1], blocks);
    for step in 1..5 {
        for layout in ["dense", "sparse"] {
            for r in 0..2 {
                let path = dir.join(format!("vdf_{layout}_rank{r}_step{step}.b2nd"));
                assert!(path.exists(), "{}", path.display());
            }
        }
    }
}

/// A rank that fails takes the run down with a non-zero exit and a message naming it.
#[test]
fn mpi_example_fails_when_a_rank_fails() {
    let exe = compile_example();
    // Rank 0 cannot create a directory under a regular file.
    let file = tmp("vdf_mpi_not_a_dir");
    std::fs::write(&file, b"").unwrap();
    let out = mpirun(&exe, &[&file.join("out")]);
    let report = text(&out);
    assert!(!out.status.success(), "mpirun succeeded:\n{report}");
    assert!(
        report.contains("vdf_mpi: rank 0: cannot create"),
        "{report}"
    );
}
