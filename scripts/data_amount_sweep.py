"""FastMTL's data-amount sweep (Figures 3-5): fastmtl and random_sampling over doubling N, plus the
single-task and fully-trained MT-DNN baselines, as one command. It runs four Hydra multiruns into
OUT (``fastmtl/``, ``random_sampling/``, ``no_sel/``, ``single_task/``; a method's own keys cannot
sweep with another method's); ``scripts/plot_data_amount.py OUT`` plots them.

    python scripts/data_amount_sweep.py multirun/fastmtl_toy --n 50 100 200 400 800 -- primary=toy_sentiment
    python scripts/data_amount_sweep.py multirun/fastmtl_glue -- task_set=fastmtl8 data.root=/data \\
        primary=rte,mrpc,stsb hardware=gpu                       # N = 500, 1000, ..., 512000

Everything after ``--`` goes to every run (comma lists sweep, as in ``auxrun -m``); method keys go in
``--sampling-args`` (both samplers) or ``--fastmtl-args`` (``method.discriminator_loss=bce,ce``). Baselines as the
paper's: no_sel is MT-DNN on all data then fine-tuning on the primary (``train.finetune_primary_epochs``,
5, like the sampling methods); single_task is ST-DNN, the primary alone for the fine-tuning stage's
epochs (5) and no further stage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def doubling(lo: int, hi: int) -> list[int]:
    out = [lo]
    while out[-1] * 2 <= hi:
        out.append(out[-1] * 2)
    return out


def commands(
    out: Path,
    ns: list[int],
    seeds: list[int],
    ft: int,
    extra: list[str],
    sampling: list[str],
    fastmtl: list[str],
) -> list[list[str]]:
    seed = f"seed={','.join(map(str, seeds))}"
    base = [sys.executable, "-m", "auxrun.cli", "-m", seed, *extra]
    n = f"method.n_samples={','.join(map(str, ns))}"
    ft_arg = f"train.finetune_primary_epochs={ft}"
    return [
        [*base, "method=fastmtl", n, ft_arg, *sampling, *fastmtl, f"hydra.sweep.dir={out / 'fastmtl'}"],
        [*base, "method=random_sampling", n, ft_arg, *sampling, f"hydra.sweep.dir={out / 'random_sampling'}"],
        [*base, "method=no_sel", f"train.finetune_primary_epochs={ft}", f"hydra.sweep.dir={out / 'no_sel'}"],
        [
            *base,
            "method=single_task",
            f"train.epochs={ft}",
            "train.finetune_primary_epochs=0",
            f"hydra.sweep.dir={out / 'single_task'}",
        ],
    ]


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument(
        "--n", type=int, nargs="*", help="the N values (default: doubling from --n-min to --n-max)"
    )
    ap.add_argument("--n-min", type=int, default=500)
    ap.add_argument("--n-max", type=int, default=512000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--finetune-epochs", type=int, default=5, help="stage 3 (Appendix A: 5)")
    ap.add_argument("--sampling-args", nargs="*", default=[], help="method.* overrides for both samplers")
    ap.add_argument(
        "--fastmtl-args", nargs="*", default=[], help="fastmtl only, e.g. method.discriminator_loss=bce,ce"
    )
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = ap.parse_args(argv)
    ns = args.n or doubling(args.n_min, args.n_max)
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    cmds = commands(
        args.out.resolve(), ns, args.seeds, args.finetune_epochs, extra, args.sampling_args, args.fastmtl_args
    )
    for cmd in cmds:
        print(" ".join(cmd[1:]), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True, cwd=REPO, env=env)
    if not args.dry_run:
        print(f"plot: python scripts/plot_data_amount.py {args.out}")


if __name__ == "__main__":
    main()
