"""Do alpha-VIL and DIW find the toy pool's planted structure?

For each planted primary (conf/task_set/toy.yaml ``planted:``) and seed: avil and diw on the
whole pool, with single_task and no_sel as baselines under the same training settings. Prints the
final normalised weights of the related, unrelated and noise tasks, how often noise ends below
related, the mean per-epoch alpha gradient of each (avil's diagnostic: positive = the task's delta
raises the primary's tuning loss), and the primary's best dev score per method. The toy settings
(conf/setting/toy_avil.yaml, toy_diw.yaml) apply.

    nice -n 10 python research/weighting_planted.py --seeds 1 2 3 --epochs 4 --scale 0.5 [--primaries toy_ner]
    python research/weighting_planted.py --task-set toy_planted --extra backbone=tiny_planted --scale 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from omegaconf import OmegaConf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METHODS = ("single_task", "no_sel", "avil", "diw")


def run(overrides: list[str], run_dir: Path) -> dict:
    """Compose, validate and run in-process (what ``auxrun`` does, without a process per run)."""
    from hydra import compose, initialize_config_dir

    from auxrun.hydra_setup import register_configs
    from auxrun.paths import CONF_DIR
    from auxrun.run import run as run_stages
    from auxrun.run import save_config
    from auxrun.validate import validate_run

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = OmegaConf.to_object(compose("config", overrides=["quiet=true", *overrides]))
    specs = validate_run(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir)
    return run_stages(cfg, run_dir, specs)


def ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return (
        f"{statistics.mean(xs):.3f} ± {sd:.3f}"
        if max(map(abs, xs)) < 1.5
        else f"{statistics.mean(xs):.1f} ± {sd:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--scale", type=float, default=0.5, help="data.toy_scale")
    ap.add_argument("--primaries", nargs="*", default=None)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--out", type=Path, default=None, help="also write every run's record as JSON")
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--task-set", default="toy", help="a pool with planted roles: toy or toy_planted")
    args = ap.parse_args()
    planted = OmegaConf.to_container(
        OmegaConf.load(REPO / "conf" / "task_set" / f"{args.task_set}.yaml").planted
    )
    primaries = args.primaries or list(planted)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for primary in primaries:
            for seed in args.seeds:
                for method in args.methods:
                    res = run(
                        [
                            f"method={method}",
                            f"task_set={args.task_set}",
                            f"primary={primary}",
                            f"seed={seed}",
                            f"train.epochs={args.epochs}",
                            f"data.toy_scale={args.scale}",
                            *args.extra,
                        ],
                        Path(tmp) / f"{primary}-{method}-{seed}",
                    )
                    rec = {
                        "primary": primary,
                        "seed": seed,
                        "method": method,
                        "dev": res["best"]["dev"][res["main_metric"]],
                        "task_weights": res.get("task_weights"),
                        "alpha_grad_history": res.get("alpha_grad_history"),
                        "task_weight_history": res.get("task_weight_history"),
                        "diw_tries": res.get("diw_tries"),
                        "wall_s": res["cost"]["train"]["wall_s"],
                    }
                    records.append(rec)
                    w = rec["task_weights"] or {}
                    roles = {k: w.get(planted[primary][k][0]) for k in ("related", "unrelated", "noise")}
                    print(f"{primary} seed {seed} {method}: dev {rec['dev']:.2f} weights {roles}", flush=True)
                    if args.out:
                        args.out.write_text(json.dumps(records, indent=1))

    print("\n| primary | method | dev (mean ± sd) | w related | w unrelated | w noise | noise < related |")
    print("|---|---|---|---|---|---|---|")
    for primary in primaries:
        roles = {k: planted[primary][k][0] for k in ("related", "unrelated", "noise")}
        for method in args.methods:
            rs = [r for r in records if r["primary"] == primary and r["method"] == method]
            dev = ms([r["dev"] for r in rs])
            if rs and rs[0]["task_weights"]:
                ws = {k: [r["task_weights"][t] for r in rs] for k, t in roles.items()}
                below = sum(
                    r["task_weights"][roles["noise"]] < r["task_weights"][roles["related"]] for r in rs
                )
                cells = [ms(ws["related"]), ms(ws["unrelated"]), ms(ws["noise"]), f"{below}/{len(rs)}"]
            else:
                cells = ["-", "-", "-", "-"]
            print(f"| {primary} | {method} | {dev} | " + " | ".join(cells) + " |")
    grads = [r for r in records if r["alpha_grad_history"]]
    if grads:
        print(
            "\navil: mean alpha gradient over epochs and seeds (d primary tuning loss / d alpha at alpha = 1)"
        )
        print("| primary | primary itself | related | unrelated | noise |\n|---|---|---|---|---|")
        for primary in primaries:
            rs = [r for r in grads if r["primary"] == primary]
            roles = [primary, *(planted[primary][k][0] for k in ("related", "unrelated", "noise"))]
            cells = [ms([statistics.mean(h[t] for h in r["alpha_grad_history"]) for r in rs]) for t in roles]
            print(f"| {primary} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
