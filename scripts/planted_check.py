"""Does a selection method recover the planted structure of a toy pool? One command per method.

For every planted primary and seed, runs ``auxrun method=M stage=select`` on the pool and reads the
run's selection.json: a run *recovers* the planted structure when the method scores the primary's
related auxiliary above its noise auxiliary (``scores``, the method's score per candidate: GradTS's
tau, AUTOSEM's stage-1 utility, ...). A random ranking does so half the time, so chance is 50%;
ties count as misses. A method that writes no scores is read from ``selected_tasks`` instead (related
kept and noise dropped), against the chance of a random subset of the same size. Prints a table
(primary x seed) and the recovery rate beside chance with a one-sided binomial p-value; ``--out``
keeps the runs and a ``planted_check.json`` summary.

    python scripts/planted_check.py --method gradts_thres                    # seeds 1-5, toy_planted
    python scripts/planted_check.py --method autosem_p1 --seeds 1-2 --extra train.epochs=2
    python scripts/planted_check.py --method avil --stage all                 # weights come from training
    python scripts/planted_check.py --method avil --stage all --group         # each primary's group only

``--group`` trains each primary with its own related, unrelated and noise auxiliaries only (4 tasks
instead of the pool's 12; chance stays 50%): alpha-VIL's weights separate the roles there and not
among all 12 (README, "The planted pool").

Settings: the pool's planted check settings are the defaults (``--task-set toy_planted``, the
``tiny_planted`` backbone; see README "On the toy pool"); ``--extra`` adds overrides. Runs share
one artifact cache (``--cache``, default a folder under ``--out``), so GradTS's head matrices and
the toy files are computed once per seed and reused across primaries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
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


def group(primary: str, planted) -> list[str]:
    """The primary and its planted auxiliaries, in role order (``--group``'s task set)."""
    tasks = [primary]
    for role in ("related", "unrelated", "noise"):
        tasks += [t for t in planted.get(role, []) if t not in tasks]
    return tasks


def run_one(
    method: str, task_set: str, primary: str, seed: int, extra: list[str], out: Path, cache: Path, stage: str
):
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
    t0, c0 = time.perf_counter(), _child_cpu()
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"auxrun failed ({' '.join(cmd[3:])}):\n{proc.stderr[-2000:]}")
    res = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else None
    sel = json.loads((out / "selection.json").read_text())
    return sel, res, time.perf_counter() - t0, _child_cpu() - c0


def _child_cpu() -> float:
    """CPU seconds used by finished child processes: one thread each, so about their wall time when
    the machine is otherwise idle (the wall time of a run on a shared machine says little)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


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
        "--group",
        action="store_true",
        help="train each primary with its planted auxiliaries only (task_set.tasks narrowed per primary)",
    )
    ap.add_argument(
        "--stage",
        default="select",
        choices=["select", "all"],
        help="'all' for methods that decide while training (avil, diw: their final task weights)",
    )
    args = ap.parse_args()
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
        rows, t_all = [], time.perf_counter()
        for seed in seeds:  # seed-major: a seed's head matrices are computed once, then reused
            for primary in primaries:
                planted = ts.planted[primary]
                run_dir = out / "runs" / f"{args.method}-{primary}-s{seed}"
                narrow = [f"task_set.tasks=[{','.join(group(primary, planted))}]"] if args.group else []
                sel, res, secs, cpu = run_one(
                    args.method, args.task_set, primary, seed, extra + narrow, run_dir, cache, args.stage
                )
                for related in planted.related:
                    for noise in planted.noise:
                        row = {"method": args.method, "primary": primary, "seed": seed, "related": related}
                        row |= {
                            "noise": noise,
                            **judge(sel, related, noise, res, run_dir),
                            "seconds": round(secs, 1),
                            "cpu_seconds": round(cpu, 1),
                        }
                        rows.append(row)
                        print(json.dumps(row), flush=True)
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
            "group": args.group,
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
