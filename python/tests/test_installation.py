"""The package as users run it: an interpreter started directly (venv never activated) with
another python on PATH, fresh processes reopening frames, the c-blosc2 version check, C
programs on python-blosc2's own shared c-blosc2, and `python -m blosc2_vq --diagnose`."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import blosc2
import numpy as np
import pytest

import blosc2_vq
from blosc2_vq import _clib

WRITE = """
import sys, numpy as np, blosc2, blosc2_vq
rng = np.random.default_rng(1)
images = (rng.random((6, 32, 32)) * 0.2 + np.linspace(0, 1, 32)).astype(np.float32)
cb = blosc2_vq.train(images, model="kmeans", n_prototypes=16, n_samples=300)
arr = blosc2_vq.compress(images, cb, chunks=(2, 32, 32), blocks=(1, 32, 32), urlpath=sys.argv[1], mode="w")
np.save(sys.argv[2], arr[:])
"""
READ = """
import sys, numpy as np, blosc2, blosc2_vq
blosc2_vq.register()
np.save(sys.argv[2], blosc2.open(sys.argv[1])[:])
"""
# What c-blosc2 users are told elsewhere: register the codec by name, without the package.
READ_WITHOUT_PACKAGE = """
import sys, blosc2
blosc2.register_codec("vq", 185)
blosc2.open(sys.argv[1])[:]
"""


@pytest.fixture
def foreign_path(tmp_path):
    """A PATH whose `python` and `python3` lack blosc2_vq (the system's interpreter without
    site-packages), as when a venv's python is run without activating the venv."""
    shims = tmp_path / "shims"
    shims.mkdir()
    base = getattr(sys, "_base_executable", None) or shutil.which("python3")
    for name in ("python", "python3"):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {base} -S "$@"\n')
        shim.chmod(0o755)
    probe = subprocess.run([str(shims / "python"), "-c", "import blosc2_vq"], capture_output=True)
    assert probe.returncode != 0, "the shim python must not have blosc2_vq"
    return f"{shims}:/usr/bin:/bin"


def run_python(script, *args, path, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PATH=path, BLOSC_TRACE="1")
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_the_codec_loads_in_an_interpreter_run_directly(tmp_path, foreign_path):
    frame, written, read = tmp_path / "a.b2nd", tmp_path / "written.npy", tmp_path / "read.npy"
    out = run_python(WRITE, frame, written, path=foreign_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ModuleNotFoundError" not in out.stderr
    # A fresh process, the same way, opens the frame.
    out = run_python(READ, frame, read, path=foreign_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(np.load(read), np.load(written))
    # The scenario is real: without importing the package, c-blosc2 falls back to the
    # `python` on PATH, which lacks it, and the plugin cannot load.
    out = run_python(READ_WITHOUT_PACKAGE, frame, path=foreign_path, cwd=tmp_path)
    assert out.returncode != 0
    assert "ModuleNotFoundError: No module named 'blosc2_vq'" in out.stderr


def test_importing_the_package_is_enough_for_c_blosc2_to_find_it():
    # c-blosc2's first try, dlopen("libblosc2_vq.so") by bare name, gets the package's copy.
    assert _clib.found_by_name() is None
    assert Path(blosc2_vq.libpath()).name == "libblosc2_vq.so"


def test_the_plugin_knows_python_blosc2_s_c_blosc2():
    blosc2_vq.register()
    declared = blosc2.blosclib_version.split()[0]
    assert _clib.host_blosc2_version() == ".".join(declared.split(".")[:3]).replace(".dev", "")


def test_an_unknown_c_blosc2_is_refused_naming_the_supported_ones(monkeypatch):
    for future in ("3.9.0 ($Date:: 2031-01-01 #$)", "4.0.0.dev", "2.14.0"):
        monkeypatch.setattr(blosc2, "blosclib_version", future)
        with pytest.raises(blosc2_vq.VQError, match=r"is not supported.*c-blosc2 2\.15 to 2\.23 and 3\.0 to 3\.3"):
            blosc2_vq.register()
    monkeypatch.undo()
    # The refusal declared nothing: the real version still stands.
    blosc2_vq.register()
    assert _clib.host_blosc2_version()
    with pytest.raises(ValueError, match="not a c-blosc2 version"):
        _clib.set_host_blosc2_version("nonsense")


def python_blosc2_c_library():
    """python-blosc2's shared c-blosc2 and headers (4.x: inside the package; 3.x: beside it)."""
    package = Path(blosc2.__file__).parent
    for lib, include in (
        (package / "lib", package / "include"),
        (package.parent / "lib64", package.parent / "include"),
        (package.parent / "lib", package.parent / "include"),
    ):
        if (lib / "libblosc2.so").exists() and (include / "blosc2.h").exists():
            return lib, include
    pytest.fail(f"python-blosc2 {blosc2.__version__} ships no libblosc2.so and blosc2.h near {package}")


def test_a_c_program_on_python_blosc2_s_shared_c_blosc2_needs_no_declaration(tmp_path, repo_root):
    # tests/c/host_version.c linked with the c-blosc2 that python-blosc2 bundles (2.22 in
    # 3.12, 3.3 in 4.14): the plugin finds that library's version itself and reads its SChunks.
    lib, include = python_blosc2_c_library()
    plugin = Path(blosc2_vq.libpath()).parent
    exe = tmp_path / "host_version"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-O1",
            "-Wall",
            "-Werror",
            str(repo_root / "tests/c/host_version.c"),
            f"-I{include}",
            f"-I{repo_root / 'include'}",
            f"-L{plugin}",
            "-lblosc2_vq",
            f"-L{lib}",
            "-lblosc2",
            "-lm",
            "-o",
            str(exe),
        ],
        check=True,
    )
    env = dict(os.environ, LD_LIBRARY_PATH=f"{plugin}:{lib}")
    out = subprocess.run([str(exe), "none"], capture_output=True, text=True, env=env, check=True).stdout
    version = blosc2.blosclib_version.split()[0].replace(".dev", "")
    assert f"version '{version}'" in out, out
    assert "compress 1 \n" in out and "decompress 16384 " in out, out
    worst = float(out.split("max_abs_error")[1])
    assert worst < 0.5, out  # 8 codewords for a sine: coarse, but decoded (not garbage)


def test_diagnose_reports_a_working_installation(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "blosc2_vq", "--diagnose"], capture_output=True, text=True, cwd=tmp_path
    )
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert blosc2_vq.libpath() in text
    assert f"python-blosc2: {blosc2.__version__}, c-blosc2 {blosc2.blosclib_version}" in text
    assert "[ok] c-blosc2 finds the plugin" in text
    assert "[ok] round trip" in text and "all checks passed" in text


def test_diagnose_fails_loudly_for_a_broken_installation(tmp_path):
    # The package without its library, first on sys.path.
    broken = tmp_path / "blosc2_vq"
    shutil.copytree(Path(blosc2_vq.__file__).parent, broken, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "blosc2_vq", "--diagnose"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    # Importing the package fails (it cannot work without the library), with the cause and
    # the fix, and the exit status says so.
    assert out.returncode == 1, out.stdout + out.stderr
    assert "LibraryLoadError" in out.stderr
    assert "plugin library is missing" in out.stderr and "pip install" in out.stderr


def test_the_wheel_s_library_is_a_plain_c_library():
    # No libpython: one py3-none wheel serves every CPython.
    out = subprocess.run(["readelf", "-d", blosc2_vq.libpath()], capture_output=True, text=True, check=True).stdout
    assert "Library soname: [libblosc2_vq.so]" in out
    assert "libpython" not in out
    assert sysconfig.get_config_var("EXT_SUFFIX") not in Path(blosc2_vq.libpath()).name
