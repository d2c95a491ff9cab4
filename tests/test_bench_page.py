"""bench/page.py writes the benchmarks page from saved outputs only (--page-only), one row a
benchmark with its last line as the figure; a failed benchmark never shows a figure."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _saved(path: Path, exit_code: int, body: str) -> None:
    path.write_text(
        f"# command: python bench/{path.stem}.py\n# exit: {exit_code}\n# wall_s: 12.5\n# commit: abcdef1234567\n"
        "# machine: box (x86_64, 2 CPUs)\n# date: 2026-12-06 20:00 UTC\n# load_before: 0.10 0.20 0.30\n"
        "# busy_before: none\n" + body
    )


def test_page_from_saved_outputs(tmp_path):
    out = tmp_path / "results" / "benchmarks"
    out.mkdir(parents=True)
    _saved(out / "startup.txt", 0, "cold 10.0 s\nwarm 1.0 s\n\nstartup 10.00x\n")
    _saved(out / "tag_overhead.txt", 1, "Traceback ...\nRuntimeError: boom\n")
    page = tmp_path / "results" / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/page.py"), "--page-only", "--out", str(page)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == str(page)
    md = page.read_text()
    rows = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| [")}
    assert "`startup 10.00x`" in rows["| [startup](benchmarks/startup.txt)"]
    assert "| 12.5 | 0.10 0.20 0.30 | none | abcdef1234 |" in rows["| [startup](benchmarks/startup.txt)"]
    assert "`(failed: see its output)`" in rows["| [tag_overhead](benchmarks/tag_overhead.txt)"]
    assert "Not yet run: dropout, head_importance, weighting_overhead, train_throughput, mfu" in md
    assert md.startswith("# Benchmarks\n\nWritten by `python bench/page.py --page-only --out ")
    assert "RuntimeError: boom" in md.split("## tag_overhead")[1]


def test_unknown_rerun_name_is_named(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/page.py"), "--rerun", "nope", "--out", str(tmp_path / "b.md")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "unknown benchmark nope" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.md").exists()
