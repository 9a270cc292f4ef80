"""What a Python user expects: a `Codebook` to inspect and re-seal, progress and Ctrl-C in
long trainings, threads that do not step on each other, and the README's session as written."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import blosc2_vq


@pytest.fixture(scope="module")
def residual(faces):
    return blosc2_vq.Codebook.from_bytes(
        blosc2_vq.train(faces[:200], model="residual", n_prototypes=32, n_stages=3, mean_bits=6, n_samples=3000)
    )


def test_codebooks_are_resealed_from_python_as_from_rust(faces, codebooks, residual):
    assert (residual.n_stages, residual.codewords_per_stage, residual.beam) == (3, 32, 4)
    two = residual.with_stages(2)
    assert (two.n_stages, two.n_prototypes) == (2, 64)
    np.testing.assert_array_equal(two.stage_codewords(), residual.stage_codewords()[:2])
    assert two.fingerprint != residual.fingerprint
    greedy = residual.with_beam(1)
    assert greedy.beam == 1 and greedy.n_stages == 3
    bounded = residual.with_max_error(0.02)
    assert bounded.max_error == 0.02 and bounded.with_max_error(None).max_error is None
    half = residual.with_prototype_bits(16)
    assert half.prototype_bits == 16 and len(half.to_bytes()) < len(residual.to_bytes())
    aa = blosc2_vq.Codebook.from_bytes(codebooks["aa"])
    four = aa.with_weight_bits(4).with_kept_weights(3)
    assert (four.weight_bits, four.kept_weights) == (4, 3)
    # Every re-sealed codebook round-trips through bytes, and codes as itself.
    for cb in (two, greedy, bounded, half, four):
        again = blosc2_vq.Codebook.from_bytes(bytes(cb))
        assert again == cb and again.fingerprint == cb.fingerprint
        arr = blosc2_vq.compress(faces[:4], cb, chunks=(1, 64, 64), blocks=(1, 64, 64))
        assert blosc2_vq.Codebook.from_bytes(arr.schunk.meta["vq"]) == cb
    # The coarser codebooks code coarser.
    err = {
        s: np.abs(
            blosc2_vq.compress(faces[:8], residual.with_stages(s), chunks=(1, 64, 64), blocks=(1, 64, 64))[:]
            - faces[:8]
        ).mean()
        for s in (1, 2, 3)
    }
    assert err[1] > err[2] > err[3]
    # One clear error per bad value, naming it.
    for call, match in (
        (lambda: residual.with_stages(4), "n_stages"),
        (lambda: residual.with_stages(0), "n_stages"),
        (lambda: residual.with_beam(0), "beam"),
        (lambda: residual.with_beam(65), "beam"),
        (lambda: aa.with_weight_bits(9), "weight"),
        (lambda: aa.with_kept_weights(36), "kept"),
        (lambda: aa.with_stages(2), "no stages"),
        (lambda: residual.with_weight_bits(4), "no weights"),
        (lambda: aa.with_max_error(0.1), "residual"),
        (lambda: residual.with_stages(2.5), "integer"),
    ):
        with pytest.raises(blosc2_vq.VQError, match=match):
            call()


def test_a_codebook_read_back_as_a_dict_compresses(faces, codebooks):
    arr = blosc2_vq.compress(faces[:2], codebooks["aa"], chunks=(1, 64, 64), blocks=(1, 64, 64))
    as_dict = {"vq": blosc2_vq.Codebook.from_bytes(codebooks["aa"])}
    import msgpack

    stored = msgpack.unpackb(as_dict["vq"].to_bytes())
    assert isinstance(stored, dict)
    again = blosc2_vq.compress(faces[:2], stored, chunks=(1, 64, 64), blocks=(1, 64, 64))
    np.testing.assert_array_equal(again[:], arr[:])


def chunk_blocks(chunk):
    """A chunk's compressed blocks, in block order. c-blosc2 with several threads writes the
    blocks in the order its threads finish them (`bstarts` says where each is), so whole
    chunks differ from run to run; the codec's blocks must not."""
    nbytes, blocksize, cbytes = np.frombuffer(chunk, "<i4", 3, offset=4)
    nblocks = -(-int(nbytes) // int(blocksize))
    starts = np.frombuffer(chunk, "<i4", nblocks, offset=32).tolist()
    ends = {s: e for s, e in zip(sorted(starts), [*sorted(starts)[1:], int(cbytes)], strict=True)}
    return [chunk[s : ends[s]] for s in starts]


def test_four_threads_with_different_codebooks_give_what_each_gives_alone(faces, codebooks, residual):
    books = [codebooks["aa"], codebooks["cmeans"], residual, residual.with_max_error(0.03)]
    data = [faces[i * 20 : (i + 1) * 20] for i in range(4)]

    def run(i, nthreads=2):
        arr = blosc2_vq.compress(data[i], books[i], chunks=(5, 64, 64), blocks=(1, 64, 64), nthreads=nthreads)
        return [chunk_blocks(bytes(arr.schunk.get_chunk(c))) for c in range(arr.schunk.nchunks)], arr[:]

    # And the blocks are the same bytes whatever c-blosc2's thread count.
    for i in range(4):
        assert run(i, 1)[0] == run(i, 4)[0], f"codebook {i}: blocks depend on the thread count"

    alone = [run(i) for i in range(4)]
    for _ in range(3):
        together = [None] * 4
        barrier = threading.Barrier(4)

        def worker(i, barrier=barrier, together=together):
            barrier.wait()
            together[i] = run(i)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(4):
            assert together[i][0] == alone[i][0], f"thread {i}: other block bytes"
            np.testing.assert_array_equal(together[i][1], alone[i][1])


TRAIN_LONG = """
import sys, time, numpy as np, blosc2_vq
rng = np.random.default_rng(0)
data = rng.random((64, 64, 64)).astype(np.float32)
print("training", flush=True)
try:
    blosc2_vq.train(data, model="aa", n_prototypes=128, n_samples=60000, max_iter=100000, tol=0, progress=False)
except KeyboardInterrupt:
    print("interrupted cleanly", flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


def test_ctrl_c_stops_a_long_training_cleanly(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN_LONG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert proc.stdout.readline().strip() == "training"
    time.sleep(2.0)  # well inside the training (which would run for minutes)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (proc.returncode, out, err)
    assert "interrupted cleanly" in out
    # It stopped at the next iteration, not at the end of the training.
    assert time.monotonic() - start < 30


def test_progress_bars_show_on_request_and_stay_silent_in_pipes(tmp_path):
    script = (
        "import numpy as np, blosc2_vq, sys\n"
        "data = np.random.default_rng(0).random((16, 32, 32)).astype(np.float32)\n"
        "blosc2_vq.train(data, model='kmeans', n_prototypes=16, n_samples=500, progress={})\n"
    )
    # Without BLOSC_TRACE: python-blosc2 (imported with blosc2_vq, which registers the codec)
    # prints its own [info] lines under it.
    env = {k: v for k, v in os.environ.items() if k != "BLOSC_TRACE"}
    shown = subprocess.run(
        [sys.executable, "-c", script.format("True")], capture_output=True, text=True, check=True, env=env
    )
    assert re.search(r"training: .*\d+/\d+", shown.stderr), shown.stderr
    silent = subprocess.run(
        [sys.executable, "-c", script.format("None")], capture_output=True, text=True, check=True, env=env
    )
    assert silent.stderr == ""
    with pytest.raises(blosc2_vq.VQError, match="progress"):
        blosc2_vq.train(np.zeros((4, 8, 8), np.float32), progress="yes")


def readme_python_session(repo_root):
    text = (repo_root / "README.md").read_text()
    section = text.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the README's Python section has no python block"
    return "\n".join(blocks)


def test_the_readme_python_session_runs_as_written(tmp_path, repo_root):
    # As a user pastes it, from a checkout with ../shared beside it (a copy, so that files
    # the session writes land in a scratch directory).
    checkout = tmp_path / "blosc2-vq"
    checkout.mkdir()
    faces = Path(os.environ.get("BLOSC2_VQ_OLIVETTI", repo_root.parent / "shared/data/olivetti_faces_u8.npy"))
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "olivetti_faces_u8.npy").symlink_to(faces)
    out = subprocess.run(
        [sys.executable, "-c", readme_python_session(repo_root)], capture_output=True, text=True, cwd=checkout
    )
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip(), "the session prints what it shows"
