"""Shared fixtures: the Olivetti faces and trained codebooks (trained once per session)."""

import os
from pathlib import Path

import numpy as np
import pytest

import blosc2_vq

ROOT = Path(os.environ.get("BLOSC2_VQ_ROOT", Path(__file__).resolve().parents[2]))
FACES_PATH = Path(os.environ.get("BLOSC2_VQ_OLIVETTI", ROOT.parent / "shared" / "data" / "olivetti_faces_u8.npy"))


@pytest.fixture(scope="session")
def repo_root():
    """The repository (for its examples)."""
    return ROOT


@pytest.fixture(scope="session")
def rust_example():
    """The Rust example that writes and reads .b2nd frames (built by `cargo build --examples`)."""
    exe = Path(os.environ.get("BLOSC2_VQ_RUST_EXAMPLES", ROOT / "target" / "debug" / "examples")) / "b2nd_file"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build it with `cargo build --examples` (the test command does)")
    return exe


@pytest.fixture(scope="session")
def cli_bin():
    """The `blosc2-vq` command-line tool (built by `cargo test` / `cargo build`)."""
    exe = Path(os.environ.get("BLOSC2_VQ_CLI", ROOT / "target" / "debug" / "blosc2-vq"))
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build it with `cargo build` (the test command does)")
    return exe


@pytest.fixture(scope="session")
def faces():
    """scikit-learn's `faces.images`: float32 in [0, 1], shape (400, 64, 64)."""
    if not FACES_PATH.exists():
        pytest.fail(f"the Olivetti faces are missing at {FACES_PATH}; set BLOSC2_VQ_OLIVETTI to their path")
    u8 = np.load(FACES_PATH)
    assert u8.shape == (400, 64, 64) and u8.dtype == np.uint8
    return u8.astype(np.float32) / 242


@pytest.fixture(scope="session")
def codebooks(faces):
    """The reference notebook's settings: 36 prototypes on 1000 random 4x4 tiles, seed 0."""
    return {
        "aa": blosc2_vq.train(
            faces, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0, n_init=1, max_iter=100, tol=1e-6
        ),
        "cmeans": blosc2_vq.train(
            faces,
            model="cmeans",
            n_prototypes=36,
            tile=(4, 4),
            n_samples=1000,
            seed=0,
            m=2.0,
            metric="cosine",
            max_iter=100,
            tol=1e-6,
        ),
    }


@pytest.fixture(scope="session", autouse=True)
def registered():
    return blosc2_vq.register()
