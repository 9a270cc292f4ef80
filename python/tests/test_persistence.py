"""Frames on disk: read back in a fresh process, and exchanged with the Rust side."""

import subprocess
import sys

import blosc2
import numpy as np

import blosc2_vq


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_a_fresh_process_reads_a_persistent_array(tmp_path, faces, codebooks):
    path = tmp_path / "faces.b2nd"
    arr = blosc2_vq.compress(
        faces, codebooks["aa"], chunks=(1, 64, 64), blocks=(1, 64, 64), urlpath=str(path), mode="w"
    )
    expected = arr[:]
    out = tmp_path / "read.npy"
    script = (
        "import sys, numpy as np, blosc2, blosc2_vq\n"
        "blosc2_vq.register()\n"
        "a = blosc2.open(sys.argv[1])\n"
        "np.save(sys.argv[2], a[:])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(out)], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out), expected)


def test_frames_written_by_rust_open_in_python(tmp_path, faces, rust_example):
    path = tmp_path / "from_rust.b2nd"
    subprocess.run([str(rust_example), "write", str(path), "aa"], check=True, cwd=tmp_path)
    arr = blosc2.open(str(path))
    rec = arr[:]
    assert rec.shape == (400, 64, 64)
    assert psnr(faces, rec) > 23.4
    assert "vq" in arr.schunk.meta
    stored = arr.schunk.meta["vq"]  # a dict: Rust stores the codebook as a MessagePack map
    assert blosc2_vq.Codebook.from_bytes(stored).kind == "archetypal"
    # That dict compresses again, to the same quality.
    again = blosc2_vq.compress(faces, stored, chunks=(1, 64, 64), blocks=(1, 64, 64))
    assert abs(psnr(faces, again[:]) - psnr(faces, rec)) < 1e-3


def test_frames_written_by_python_open_in_rust(tmp_path, faces, codebooks, rust_example):
    path = tmp_path / "from_python.b2nd"
    arr = blosc2_vq.compress(
        faces, codebooks["cmeans"], chunks=(1, 64, 64), blocks=(1, 64, 64), urlpath=str(path), mode="w"
    )
    expected = psnr(faces, arr[:])
    out = subprocess.run(
        [str(rust_example), "read", str(path)], check=True, cwd=tmp_path, capture_output=True, text=True
    ).stdout
    words = out.split()
    assert abs(float(words[words.index("psnr") + 1]) - expected) < 1e-3, out


def test_cli_frames_and_python_frames_interoperate(tmp_path, faces, codebooks, cli_bin):
    npy = tmp_path / "faces.npy"
    np.save(npy, faces)
    cb = tmp_path / "aa.vq"
    cb.write_bytes(codebooks["aa"])
    frame = tmp_path / "cli.b2nd"
    subprocess.run([str(cli_bin), "compress", str(npy), "-c", str(cb), "-o", str(frame)], check=True)
    from_cli = blosc2.open(str(frame))[:]
    assert from_cli.shape == faces.shape and psnr(faces, from_cli) > 23.4

    py_frame = tmp_path / "python.b2nd"
    arr = blosc2_vq.compress(
        faces, codebooks["aa"], chunks=(8, 64, 64), blocks=(1, 64, 64), urlpath=str(py_frame), mode="w"
    )
    back = tmp_path / "back.npy"
    subprocess.run([str(cli_bin), "decompress", str(py_frame), "-o", str(back)], check=True)
    # Same codec, another build of it (decoding may fuse multiply-adds where the CPU allows).
    np.testing.assert_allclose(np.load(back), arr[:], rtol=0, atol=1e-5)
    info = subprocess.run([str(cli_bin), "info", str(py_frame)], check=True, capture_output=True, text=True).stdout
    assert "Archetypal" in info and "[400, 64, 64]" in info
