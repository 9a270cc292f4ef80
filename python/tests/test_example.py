"""examples/python/olivetti.py runs and prints its tables."""
import subprocess
import sys



def test_olivetti_example(tmp_path, repo_root):
    png = tmp_path / "faces.png"
    out = subprocess.run([sys.executable, str(repo_root / "examples" / "python" / "olivetti.py"), str(png)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    for word in ("Min", "P25", "P75", "Max", "Mean", "Std", "CMeans", "AA", "Compression Ratios"):
        assert word in out.stdout
    assert png.stat().st_size > 10_000
