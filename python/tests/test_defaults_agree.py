"""One source of defaults: every codebook kind trained with no options through the Rust API,
the C API, the CLI and Python gives the same bytes."""

import subprocess

import numpy as np
import pytest

import blosc2_vq
from blosc2_vq import _clib

MODELS = ("cmeans", "aa", "kmeans", "residual", "scalar")

# A C program that trains each model named on its command line with nothing but
# blosc2_vq_train_params_init's defaults: the C API as a C caller uses it.
C_TRAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "blosc2_vq.h"

int main(int argc, char **argv) {
    /* argv: raw float32 file, n, h, w, out dir, models... */
    int64_t shape[3] = {atoll(argv[2]), atoll(argv[3]), atoll(argv[4])};
    size_t count = (size_t)(shape[0] * shape[1] * shape[2]);
    float *data = malloc(count * sizeof(float));
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(data, sizeof(float), count, f) != count) return 2;
    fclose(f);
    for (int i = 6; i < argc; i++) {
        int model = blosc2_vq_model_from_name(argv[i]);
        blosc2_vq_train_params p;
        uint8_t *cb; int64_t cb_len;
        if (model < 0 || blosc2_vq_train_params_init(&p, model) < 0 ||
            blosc2_vq_codebook_train(data, BLOSC2_VQ_DTYPE_FLOAT32, shape, 3, &p, &cb, &cb_len) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], blosc2_vq_last_error_message());
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.vq", argv[5], argv[i]);
        FILE *o = fopen(path, "wb");
        if (!o || fwrite(cb, 1, (size_t)cb_len, o) != (size_t)cb_len) return 3;
        fclose(o);
        blosc2_vq_free(cb);
    }
    free(data);
    return 0;
}
"""


def run(cmd):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"


def test_every_surface_trains_the_same_default_codebook(faces, tmp_path, repo_root, cli_bin):
    data = np.ascontiguousarray(faces[:40])
    npy = tmp_path / "faces.npy"
    np.save(npy, data)
    raw = tmp_path / "faces.f32"
    data.tofile(raw)
    surfaces = {name: tmp_path / name for name in ("rust", "c", "cli")}
    for d in surfaces.values():
        d.mkdir()

    example = repo_root / "target" / "debug" / "examples" / "train_defaults"
    if not example.exists():
        pytest.fail(f"{example} is missing: build it with `cargo build --examples` (the test command does)")
    run([example, npy, surfaces["rust"]])

    exe = tmp_path / "train_c"
    src = tmp_path / "train.c"
    src.write_text(C_TRAIN)
    libdir = _clib.LIBPATH.rsplit("/", 1)[0]
    run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Werror",
            f"-I{repo_root / 'include'}",
            src,
            "-o",
            exe,
            f"-L{libdir}",
            "-lblosc2_vq",
            f"-Wl,-rpath,{libdir}",
        ]
    )
    run([exe, raw, *data.shape, surfaces["c"], *MODELS])

    for model in MODELS:
        run([cli_bin, "train", npy, "-o", surfaces["cli"] / f"{model}.vq", "--model", model])

    for model in MODELS:
        python = blosc2_vq.train(data, model=model)
        for name, d in surfaces.items():
            other = (d / f"{model}.vq").read_bytes()
            assert other == python, f"{model}: the {name} codebook differs from Python's"
