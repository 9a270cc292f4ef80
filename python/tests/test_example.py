"""examples/python/olivetti.py runs and prints its tables."""

import subprocess
import sys


def test_olivetti_example(tmp_path, repo_root):
    png = tmp_path / "faces.png"
    out = subprocess.run(
        [sys.executable, str(repo_root / "examples" / "python" / "olivetti.py"), str(png)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    for word in ("Min", "P25", "P75", "Max", "Mean", "Std", "CMeans", "AA", "Compression Ratios"):
        assert word in out.stdout
    assert png.stat().st_size > 10_000


def test_codebook_kinds_example(tmp_path, repo_root):
    script = repo_root / "examples" / "python" / "codebook_kinds.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    rows = {}
    for line in out.stdout.splitlines()[1:-1]:
        name, numbers = line[:28].strip(), line[28:].split()
        rows[name] = [float(v) for v in numbers]
    assert len(rows) == 7 and any(n.startswith("residual") for n in rows) and any(n.startswith("scalar") for n in rows)
    for name, (bpp, psnr, cb_bytes, _) in rows.items():
        assert 0 < bpp < 16 and psnr > 15 and cb_bytes > 0, name
    # Sparse weights: far fewer bits than dense ones.
    assert rows["aa, kept_weights=2"][0] < rows["aa (dense)"][0] / 5
