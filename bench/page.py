"""Run the CPU benchmarks one after another and write their results page.

Each benchmark runs alone as its own process with its default arguments; its whole output, the
command, its wall time, the machine's load average before it started and the other busy processes
go to ``<out>/<name>.txt``. The page (``<out>.md``) is then written from those files only, so
``--page-only`` rewrites it without running anything. A benchmark whose output file exists is not run
again unless ``--rerun`` names it (or ``--rerun all``): a long session resumes where it stopped.

    python bench/page.py                                  # every CPU benchmark -> docs/results/benchmarks.md
    python bench/page.py --only tag_overhead startup      # a few
    python bench/page.py --rerun all                      # run everything again
    python bench/page.py --page-only                      # rewrite the page from the saved outputs

``bench/gpu_check.sh`` is not among them: it needs a GPU (docs/guides/clusters.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The order they run in: the quick ones first.
BENCHMARKS = [
    "startup",
    "dropout",
    "head_importance",
    "tag_overhead",
    "weighting_overhead",
    "train_throughput",
    "mfu",
]
HEADER = "#"  # lines of an output file before the benchmark's own output start with this


def _git_commit() -> str:
    sys.path.insert(0, str(REPO))
    from auxrun.provenance import git_commit

    return git_commit() or "unknown"


def _busy_processes(limit: int = 5) -> list[str]:
    """The processes other than this one using the most CPU right now (ps), as 'pcpu command'."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    mine = {os.getpid(), os.getppid()}
    rows = []
    for line in out.splitlines():
        pid, pcpu, args = line.strip().split(None, 2)
        if int(pid) in mine or float(pcpu) < 5.0 or args.startswith("ps "):
            continue
        rows.append(f"{pcpu}% {args[:100]}")
    return rows[:limit]


def run_one(name: str, out_dir: Path, timeout_s: float | None = None) -> Path:
    cmd = [sys.executable, str(BENCH / f"{name}.py")]
    load = os.getloadavg()
    busy = _busy_processes()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    print(f"bench/page.py: running {name} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        proc = subprocess.CompletedProcess(cmd, 124, out, f"timed out after {timeout_s:.0f} s (--timeout)")
    wall = time.perf_counter() - t0
    head = [
        f"{HEADER} command: python bench/{name}.py",
        f"{HEADER} exit: {proc.returncode}",
        f"{HEADER} wall_s: {wall:.1f}",
        f"{HEADER} commit: {_git_commit()}",
        f"{HEADER} machine: {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)",
        f"{HEADER} date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"{HEADER} load_before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"{HEADER} busy_before: {' | '.join(busy) or 'none'}",
    ]
    body = proc.stdout + (("\n" + proc.stderr) if proc.returncode else "")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.txt"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(head) + "\n" + body.rstrip("\n") + "\n")
    tmp.replace(path)
    print(f"bench/page.py: {name}: {wall:.0f} s, exit {proc.returncode}", file=sys.stderr, flush=True)
    return path


def parse_output(path: Path) -> dict:
    lines = path.read_text().splitlines()
    meta = {}
    body = []
    for line in lines:
        if line.startswith(HEADER + " ") and ": " in line and not body:
            key, value = line[len(HEADER) + 1 :].split(": ", 1)
            meta[key] = value
        else:
            body.append(line)
    body = [b for b in body if b.strip()]
    meta["figure"] = body[-1] if body and meta.get("exit") == "0" else "(failed: see its output)"
    meta["body"] = "\n".join(body)
    return meta


def write_page(out_dir: Path, page: Path, argv: list[str]) -> Path:
    found = [(n, parse_output(out_dir / f"{n}.txt")) for n in BENCHMARKS if (out_dir / f"{n}.txt").exists()]
    rel = os.path.relpath(out_dir, page.parent)
    md = [
        "# Benchmarks",
        "",
        f"Written by `{shlex.join(['python', 'bench/page.py', *argv])}` at commit {_git_commit()} on "
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, from the outputs in "
        f"`{os.path.relpath(out_dir, REPO)}/`.",
        "",
        "Each benchmark times a setting against a baseline in the same process; its last line is its "
        "figure (what the ratio means: the benchmark's docstring, and the speed guide). A benchmark "
        "shares the machine with whatever else ran: the load average before it started and the busy "
        "processes are beside it, and a figure taken under load is an upper bound on the time.",
        "",
        "| benchmark | figure (last line) | wall s | load before (1/5/15 min) | other busy processes | commit | date |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in found:
        md.append(
            f"| [{name}]({rel}/{name}.txt) | `{m['figure']}` | {m.get('wall_s', '')} | "
            f"{m.get('load_before', '')} | {m.get('busy_before', '').replace('|', '/')} | "
            f"{m.get('commit', '')[:10]} | {m.get('date', '')} |"
        )
    missing = [n for n in BENCHMARKS if (out_dir / f"{n}.txt").exists() is False]
    if missing:
        md += ["", f"Not yet run: {', '.join(missing)} (`python bench/page.py --only {' '.join(missing)}`)."]
    for name, m in found:
        md += ["", f"## {name}", "", f"`{m.get('command', '')}`, {m.get('machine', '')}.", "", "```text"]
        md += [m["body"], "```"]
    page.parent.mkdir(parents=True, exist_ok=True)
    tmp = page.with_suffix(".tmp")
    tmp.write_text("\n".join(md) + "\n")
    tmp.replace(page)
    return page


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs/results/benchmarks.md", help="the page")
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run these benchmarks only")
    ap.add_argument(
        "--rerun", nargs="+", default=[], help="run these again although saved ('all': every one)"
    )
    ap.add_argument("--page-only", action="store_true", help="write the page from the saved outputs")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a benchmark may run (then: failed)")
    args = ap.parse_args(argv)
    bad = [n for n in args.rerun if n != "all" and n not in BENCHMARKS]
    if bad:
        ap.error(
            f"--rerun: unknown benchmark {', '.join(bad)}; expected 'all' or one of {', '.join(BENCHMARKS)}"
        )
    out_dir = args.out.with_suffix("")
    if not args.page_only:
        for name in args.only or BENCHMARKS:
            if (out_dir / f"{name}.txt").exists() and name not in args.rerun and "all" not in args.rerun:
                print(
                    f"bench/page.py: {name}: saved output kept (--rerun {name} to run it again)",
                    file=sys.stderr,
                )
                continue
            run_one(name, out_dir, args.timeout)
    page = write_page(out_dir, args.out, argv)
    print(f"bench/page.py: wrote {page}", file=sys.stderr)
    print(page)


if __name__ == "__main__":
    main()
