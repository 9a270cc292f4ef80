"""Bad input from Python: an exception carrying the library's message, never a crash."""

import subprocess
import sys

import blosc2
import numpy as np
import pytest

import blosc2_vq


def test_missing_codebook(faces):
    with pytest.raises(RuntimeError):
        blosc2.asarray(faces[:4], chunks=(1, 64, 64), blocks=(1, 64, 64), cparams=blosc2_vq.cparams(nthreads=2))
    assert "no `vq` metalayer" in blosc2_vq.last_error()


def test_corrupt_codebook_bytes(faces, codebooks):
    with pytest.raises(blosc2_vq.VQError, match="invalid codebook"):
        blosc2_vq.Codebook.from_bytes(b"not a codebook")
    with pytest.raises(blosc2_vq.VQError, match="invalid codebook"):
        blosc2_vq.compress(faces[:4], codebooks["aa"][:-7], chunks=(1, 64, 64), blocks=(1, 64, 64))
    flipped = bytearray(codebooks["aa"])
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(RuntimeError):
        blosc2.asarray(
            faces[:4], chunks=(1, 64, 64), blocks=(1, 64, 64), meta={"vq": bytes(flipped)}, cparams=blosc2_vq.cparams()
        )
    assert "invalid codebook" in blosc2_vq.last_error()


def test_wrong_dtype(faces, codebooks):
    with pytest.raises(blosc2_vq.VQError, match="unsupported data type"):
        blosc2_vq.compress((faces[:4] * 100).astype(np.int32), codebooks["aa"], chunks=(1, 64, 64), blocks=(1, 64, 64))
    with pytest.raises(blosc2_vq.VQError, match="float32 or float64"):
        blosc2_vq.train(np.zeros((10, 64, 64), dtype=np.int16))


def test_bad_training_parameters(faces):
    with pytest.raises(blosc2_vq.VQError, match="fuzzifier"):
        blosc2_vq.train(faces[:10], model="cmeans", m=1.0)
    with pytest.raises(blosc2_vq.VQError, match="n_prototypes"):
        blosc2_vq.train(faces[:10], n_prototypes=0)
    with pytest.raises(blosc2_vq.VQError, match="NaN"):
        bad = faces[:10].copy()
        bad[0, 0, 0] = np.nan
        blosc2_vq.train(bad)


def test_default_shuffle_filter_is_refused(faces, codebooks):
    with pytest.raises(RuntimeError):
        blosc2.asarray(
            faces[:4],
            chunks=(1, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": codebooks["aa"]},
            cparams={"codec": 185, "splitmode": blosc2.SplitMode.NEVER_SPLIT},
        )
    assert "filters: []" in blosc2_vq.last_error()


def test_the_interpreter_survives_everything(tmp_path):
    script = (
        "import numpy as np, blosc2, blosc2_vq\n"
        "blosc2_vq.register()\n"
        "x = np.random.default_rng(0).random((8, 64, 64), dtype=np.float32)\n"
        "for meta in ({}, {'vq': b''}, {'vq': b'\\xc4\\x05abc'}, {'vq': bytes(range(256)) * 3}):\n"
        "    try:\n"
        "        blosc2.asarray(x, chunks=(1, 64, 64), blocks=(1, 64, 64), meta=meta, cparams=blosc2_vq.cparams())\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__)\n"
        "print('alive')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["RuntimeError"] * 4 + ["alive"]


def test_a_failure_outside_the_codec_does_not_repeat_the_codec_s_last_message(tmp_path, faces, codebooks):
    # First a codec error: a 4x4 tile does not fit a 1x64x2 block.
    before = blosc2_vq.codec_error_count()
    with pytest.raises(blosc2_vq.VQError) as codec_failure:
        blosc2_vq.compress(faces[:4, :, :8], codebooks["aa"], chunks=(1, 64, 8), blocks=(1, 64, 2))
    assert blosc2_vq.codec_error_count() > before
    first = str(codec_failure.value)
    assert first and first == blosc2_vq.last_error()
    assert "without a codec error" not in first
    # Then c-blosc2 fails on its own (the frame's directory does not exist): the library still
    # holds the first message (it is never cleared), but compress must not report it.
    before = blosc2_vq.codec_error_count()
    with pytest.raises(blosc2_vq.VQError, match="c-blosc2 failed without a codec error") as other:
        blosc2_vq.compress(
            faces[:4],
            codebooks["aa"],
            chunks=(1, 64, 64),
            blocks=(1, 64, 64),
            urlpath=str(tmp_path / "missing" / "faces.b2nd"),
            mode="w",
        )
    assert first not in str(other.value) and "RuntimeError" in str(other.value)
    assert isinstance(other.value.__cause__, RuntimeError)
    assert blosc2_vq.codec_error_count() == before
    assert blosc2_vq.last_error() == first
    assert blosc2_vq.last_error(since=before) == ""
    # A success does not count.
    blosc2_vq.compress(faces[:4], codebooks["aa"], chunks=(1, 64, 64), blocks=(1, 64, 64))
    assert blosc2_vq.codec_error_count() == before
