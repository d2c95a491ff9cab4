"""Does FastMTL's discriminator pick the planted related task's examples on the toy pool?

For each planted primary and seed: fastmtl and random_sampling with N = the related task's unused
pool size (its training examples minus the stage-1 ones), each task's share of the N kept; and the
primary's best dev score of fastmtl, random_sampling, single_task and no_sel (every method with the
same fine-tuning stage, ``train.finetune_primary_epochs``). One JSON line per run goes to --out as
it finishes; the tables (Markdown) are printed at the end, or alone with --table.

    nice -n 10 python research/fastmtl_planted.py --seeds 1 2 3 --out planted.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

METHODS = ("fastmtl", "random_sampling", "single_task", "no_sel")


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from auxrun.hydra_setup import register_configs
    from auxrun.paths import CONF_DIR

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return OmegaConf.to_object(hydra_compose("config", overrides=overrides))


def run(overrides: list[str], run_dir: Path) -> tuple[dict, dict]:
    from auxrun.run import run as run_stages
    from auxrun.run import save_config
    from auxrun.validate import validate_run

    cfg = compose(["quiet=true", *overrides])
    specs = validate_run(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir)
    res = run_stages(cfg, run_dir, specs)
    return res, json.loads((run_dir / "selection.json").read_text())


def related_unused(primary: str, related: str, extra: list[str], td_examples: int) -> int:
    from auxrun.data.pool import TaskPool
    from auxrun.validate import validate_run

    cfg = compose([f"primary={primary}", *[o for o in extra if not o.startswith("method.")]])
    pool = TaskPool.load(cfg, validate_run(cfg))
    return max(0, len(pool.raw[related]["train"]) - td_examples)


def method_extras(method: str, extra: list[str]) -> list[str]:
    """--extra overrides a method accepts: method.* keys go to fastmtl, td_examples also to random_sampling."""
    keep = []
    for o in extra:
        if not o.startswith("method.") or method == "fastmtl":
            keep.append(o)
        elif method == "random_sampling" and o.startswith(("method.td_examples=", "method.figures=")):
            keep.append(o)
    return keep


def table(rows: list[dict]) -> str:
    out = []
    by = {}
    for r in rows:
        by.setdefault((r["primary"], r["method"]), []).append(r)
    primaries = list(dict.fromkeys(r["primary"] for r in rows))
    out.append(
        "Share of the N kept auxiliary examples per task (mean over seeds, %); N = related's unused pool\n"
    )
    for p in primaries:
        sel = [m for m in ("fastmtl", "random_sampling") if (p, m) in by]
        if not sel:
            continue
        tasks = list(by[(p, sel[0])][0]["share"])
        roles = by[(p, sel[0])][0]["roles"]
        out.append(f"**{p}** (N = {by[(p, sel[0])][0]['n_samples']})\n")
        out.append("| method | " + " | ".join(f"{t} ({roles.get(t, '-')})" for t in tasks) + " |")
        out.append("|---|" + "---|" * len(tasks))
        for m in sel:
            vals = [statistics.mean(r["share"][t] for r in by[(p, m)]) * 100 for t in tasks]
            out.append(f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
        out.append("")
    out.append("Primary's best dev main metric (mean ± sd over seeds)\n")
    out.append("| primary | " + " | ".join(METHODS) + " |")
    out.append("|---|" + "---|" * len(METHODS))
    for p in primaries:
        cells = []
        for m in METHODS:
            s = [r["dev"] for r in by.get((p, m), [])]
            sd = statistics.stdev(s) if len(s) > 1 else 0.0
            cells.append(f"{statistics.mean(s):.1f} ± {sd:.1f} (n={len(s)})" if s else "-")
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--primaries", nargs="*", default=None)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--out", type=Path, default=Path("fastmtl_planted.jsonl"))
    ap.add_argument("--table", action="store_true", help="print the tables of --out and stop")
    ap.add_argument("--extra", nargs="*", default=[], help="overrides for every run, e.g. data.toy_scale=0.5")
    args = ap.parse_args()
    if args.table:
        print(table([json.loads(x) for x in args.out.read_text().splitlines() if x.strip()]))
        return
    ts = compose([o for o in args.extra if not o.startswith("method.")]).task_set
    td = 500  # conf/method/fastmtl.yaml's td_examples, unless --extra overrides it
    for o in args.extra:
        if o.startswith("method.td_examples="):
            td = int(o.split("=", 1)[1])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for primary, planted in ts.planted.items():
                if args.primaries and primary not in args.primaries:
                    continue
                roles = {t: k for k, ts_ in planted.items() for t in ts_}
                n = related_unused(primary, planted["related"][0], args.extra, td)
                for m in args.methods:
                    ov = [
                        f"method={m}",
                        f"primary={primary}",
                        f"seed={seed}",
                        "train.finetune_primary_epochs=5",
                    ]
                    if m in ("fastmtl", "random_sampling"):
                        ov.append(f"method.n_samples={n}")
                    res, sel = run([*ov, *method_extras(m, args.extra)], Path(tmp) / f"{primary}-{m}-{seed}")
                    row = {
                        "primary": primary,
                        "method": m,
                        "seed": seed,
                        "dev": res["best"]["dev"][res["main_metric"]],
                        "main_metric": res["main_metric"],
                        "n_samples": sel.get("n_samples"),
                        "share": sel.get("share", {}),
                        "mean_score": sel.get("mean_score", {}),
                        "roles": roles,
                        "cost": {k: v["wall_s"] for k, v in res["cost"].items()},
                    }
                    rows.append(row)
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{primary} {m} seed {seed}: dev {row['dev']:.2f} share {row['share']}", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
