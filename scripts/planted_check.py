"""Does a selection method recover the planted structure of a toy pool? One command per method.

For every planted primary and seed, runs ``auxrun method=M`` on the pool and reads the run's
selection.json: a run *recovers* the planted structure when the method scores the primary's
related auxiliary above its noise auxiliary (``scores``, the method's score per candidate: GradTS's
tau, AUTOSEM's stage-1 utility, ...). A random ranking does so half the time, so chance is 50%;
ties count as misses. A method that writes no scores is read from ``selected_tasks`` instead (related
kept and noise dropped), against the chance of a random subset of the same size. Prints a table
(primary x seed) and the recovery rate beside chance with a one-sided binomial p-value; ``--out``
keeps the runs and a ``planted_check.json`` summary.

    python scripts/planted_check.py --method gradts_thres                    # seeds 1-5, toy_planted
    python scripts/planted_check.py --method autosem_p1 --seeds 1-2 --extra train.epochs=2
    python scripts/planted_check.py --method diw --jobs 2                     # two runs at once
    python scripts/planted_check.py --method avil --all-tasks                 # all 12 tasks in every run

Each run trains the primary with its own related, unrelated and noise auxiliaries only
(``task_set.planted_group=true``, 4 tasks); ``--all-tasks`` puts the pool's 12 tasks in every run
(chance stays 50% either way). Methods that decide while training (a training controller: avil,
diw) run ``stage=all`` and are read by their final task weights; the others run ``stage=select``.

Settings: the pool's planted check settings are the defaults (``--task-set toy_planted``, the
``tiny_planted`` backbone; see README "On the toy pool"); ``--extra`` adds overrides. Runs share
one artifact cache (``--cache``, default a folder under ``--out``): the toy files and the backbone
are built once, and GradTS's head matrices once per task and seed (with ``--all-tasks``, reused
across primaries; a later check of gradts_trial or gradts_fg reuses them all).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
TASK_SETS = REPO / "auxrun" / "conf" / "task_set"
DEFAULT_EXTRA = ["backbone=tiny_planted"]


def parse_seeds(text: str) -> list[int]:
    """'1-5' -> [1, 2, 3, 4, 5]; '1,3,7' -> [1, 3, 7]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def binom_tail(k: int, n: int, p: float = 0.5) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the chance a random ranking does at least this well."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def judge(
    sel: dict, related: str, noise: str, results: dict | None = None, run_dir: Path = Path(".")
) -> dict:
    """One run's verdict for one (related, noise) pair of a primary. Scores are read as the report
    reads them (``Run.task_scores``: scores, else final task weights, else kept shares, else the mean
    per-instance score of each task)."""
    from auxrun.reporting.runs import Run

    scores = Run(run_dir, {}, results=results, selection=sel).task_scores()
    chosen = list(sel.get("selected_tasks") or [])
    cands = list(sel.get("candidates") or [])
    row = {
        "related_selected": related in chosen,
        "noise_selected": noise in chosen,
        "n_selected": len(chosen),
    }
    if related in scores and noise in scores:
        order = sorted(cands, key=lambda t: -scores.get(t, -math.inf))
        row |= {
            "readout": "scores",
            "related_score": scores[related],
            "noise_score": scores[noise],
            "related_rank": order.index(related) + 1,
            "noise_rank": order.index(noise) + 1,
            "ok": scores[related] > scores[noise],
            "chance": 0.5,
        }
    else:  # a set: related kept and noise dropped; chance of that for a random subset of this size
        m, k = len(cands), len(chosen)
        row |= {
            "readout": "selected",
            "ok": related in chosen and noise not in chosen,
            "chance": k * (m - k) / (m * (m - 1)) if m > 1 else 0.0,
        }
    return row


def default_stage(method: str) -> str:
    """'all' for a method whose decision is made while training (it overrides ``Method.controller``:
    avil, diw, read by their final task weights), else 'select'."""
    from auxrun.methods.base import Method
    from auxrun.methods.registry import get_method

    return "all" if get_method(method).controller is not Method.controller else "select"


def run_one(
    method: str, task_set: str, primary: str, seed: int, extra: list[str], out: Path, cache: Path, stage: str
):
    """One auxrun run in a child process: (selection, results or None, wall seconds, child CPU seconds).
    Raises RuntimeError with the child's last stderr lines when it fails."""
    cmd = [
        sys.executable,
        "-m",
        "auxrun.cli",
        "quiet=true",
        f"stage={stage}",
        f"hydra.run.dir={out}",
        f"method={method}",
        f"task_set={task_set}",
        f"primary={primary}",
        f"seed={seed}",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUXRUN_CACHE": str(cache)}
    env.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        # wait4: this child's own CPU time (one thread, so about its wall time on an idle machine; the
        # wall time of runs sharing the cores says little), exact also when several run at once.
        # wait4 reaps the child, so its exit code is handed to Popen, which cannot wait for it again.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"auxrun failed ({' '.join(cmd[3:])}):\n{err.read()[-2000:]}")
    res = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else None
    sel = json.loads((out / "selection.json").read_text())
    return sel, res, time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", required=True)
    ap.add_argument("--seeds", default="1-5", help="'1-5' or '1,2,3'")
    ap.add_argument("--task-set", default="toy_planted")
    ap.add_argument("--primaries", nargs="*", default=None, help="default: every planted primary")
    ap.add_argument("--extra", nargs="*", default=[], help=f"overrides, after {' '.join(DEFAULT_EXTRA)}")
    ap.add_argument("--out", default=None, help="keep runs and planted_check.json here")
    ap.add_argument("--cache", default=None, help="artifact cache shared by the runs")
    ap.add_argument(
        "--all-tasks",
        action="store_true",
        help="every task of the pool in every run (the default pool is each primary's planted group: "
        "task_set.planted_group=true)",
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at once, one thread each (2 on a 2-core machine: each run about 20%% slower, the "
        "check in about 0.65 of the time; the CPU seconds stay each run's own)",
    )
    ap.add_argument(
        "--stage",
        default="auto",
        choices=["auto", "select", "all"],
        help="'all' for methods that decide while training (their final task weights); "
        "auto: 'all' for a method with a training controller (avil, diw), else 'select'",
    )
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error(f"--jobs {args.jobs}: expected 1 or more")
    from auxrun.errors import AuxrunError

    try:
        stage = args.stage if args.stage != "auto" else default_stage(args.method)
    except AuxrunError as e:  # an unknown method: the registry's one line, no traceback
        sys.exit(f"planted_check.py: {e}")
    pool_keys = [] if args.all_tasks else ["task_set.planted_group=true"]
    given = {e.split("=", 1)[0] for e in args.extra}
    extra = [e for e in DEFAULT_EXTRA if e.split("=", 1)[0] not in given] + args.extra
    seeds = parse_seeds(args.seeds)
    ts = OmegaConf.load(TASK_SETS / f"{args.task_set}.yaml")
    if not ts.get("planted"):
        sys.exit(f"task set '{args.task_set}' has no planted roles")
    primaries = args.primaries or list(ts.planted)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        cache = Path(args.cache) if args.cache else out / "cache"
        t_all = time.perf_counter()
        # seed-major: with --all-tasks a seed's GradTS head matrices are computed once, then reused
        points = [(seed, primary) for seed in seeds for primary in primaries]

        def check(point) -> list[dict]:
            """Run one (seed, primary) and judge it: a row per (related, noise) pair."""
            seed, primary = point
            planted = ts.planted[primary]
            run_dir = out / "runs" / f"{args.method}-{primary}-s{seed}"
            sel, res, secs, cpu = run_one(
                args.method, args.task_set, primary, seed, pool_keys + extra, run_dir, cache, stage
            )
            return [
                {"method": args.method, "primary": primary, "seed": seed, "related": related}
                | {"noise": noise, **judge(sel, related, noise, res, run_dir)}
                | {"seconds": round(secs, 1), "cpu_seconds": round(cpu, 1)}
                for related in planted.related
                for noise in planted.noise
            ]

        by_point: dict = {}
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(check, p): p for p in points}
            for f in as_completed(futures):  # progress: each run's rows as it finishes
                try:
                    by_point[futures[f]] = f.result()
                except RuntimeError as e:
                    for other in futures:
                        other.cancel()
                    sys.exit(str(e))
                for row in by_point[futures[f]]:
                    print(json.dumps(row), flush=True)
        rows = [row for p in points for row in by_point[p]]  # the table in (seed, primary) order
        total = time.perf_counter() - t_all
        cpu_total = sum({(r["primary"], r["seed"]): r["cpu_seconds"] for r in rows}.values())
        k, n = sum(r["ok"] for r in rows), len(rows)
        chance = sum(r["chance"] for r in rows) / n
        readout = "/".join(sorted({r["readout"] for r in rows}))
        print("\n| method | primary | seed | related (score, rank) | noise (score, rank) | selected | ok |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            sel = ", ".join(
                t
                for t, on in ((r["related"], r["related_selected"]), (r["noise"], r["noise_selected"]))
                if on
            )
            if r["readout"] == "scores":
                rel = f"{r['related']} {r['related_score']:+.3f} #{r['related_rank']}"
                noi = f"{r['noise']} {r['noise_score']:+.3f} #{r['noise_rank']}"
            else:
                rel, noi = r["related"], r["noise"]
            print(
                f"| {r['method']} | {r['primary']} | {r['seed']} | {rel} | {noi} | {sel or '-'} | {'yes' if r['ok'] else 'NO'} |"
            )
        p_value = binom_tail(k, n, chance)
        summary = {
            "method": args.method,
            "task_set": args.task_set,
            "extra": extra,
            "group": not args.all_tasks,
            "stage": stage,
            "seeds": seeds,
            "readout": readout,
            "recovered": k,
            "runs": n,
            "recovery": k / n,
            "chance": chance,
            "p_value": p_value,
            "seconds": round(total, 1),
            "cpu_seconds": round(cpu_total, 1),
            "rows": rows,
        }
        if args.out:
            (out / "planted_check.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(
            f"\n{args.method}: related above noise in {k}/{n} runs = {100 * k / n:.0f}% "
            f"(chance {100 * chance:.0f}%, one-sided binomial p = {p_value:.2g}; readout: {readout}; "
            f"{total:.0f} s wall, {cpu_total:.0f} s CPU)"
        )


if __name__ == "__main__":
    main()
