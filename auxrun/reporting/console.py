"""What a run prints: its resolved choices at the start and a table of scores at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=False, highlight=False)


def print_choices(cfg, run_dir: Path) -> None:
    if cfg.quiet:
        return
    t = Table(title="auxrun", show_header=False, box=None)
    for key, value in [
        ("method", cfg.method.name),
        ("task_set", f"{cfg.task_set.name} ({len(cfg.task_set.tasks)} tasks)"),
        ("primary", cfg.primary),
        ("backbone", cfg.backbone.name),
        ("hardware", f"{cfg.hardware.name} ({cfg.hardware.device}, {cfg.hardware.precision})"),
        ("stage", cfg.stage + (" (resume)" if cfg.resume else "")),
        ("seed", cfg.seed),
        ("run folder", str(run_dir)),
    ]:
        t.add_row(f"[bold]{key}[/bold]", str(value))
    console.print(t)


def print_results(results: dict[str, Any]) -> None:
    t = Table(title=f"{results['method']} on {results['primary']} (best epoch {results['best_epoch']})")
    t.add_column("split")
    metrics = sorted({m for v in results["best"].values() for m in v})
    for m in metrics:
        t.add_column(m, justify="right")
    for split, vals in results["best"].items():
        t.add_row(split, *[f"{vals[m]:.2f}" if m in vals else "" for m in metrics])
    console.print(t)
    c = Table(title="cost", box=None)
    for col in ("stage", "wall_s", "fwd examples", "bwd examples", "peak MB"):
        c.add_column(col, justify="right")
    for stage, v in results["cost"].items():
        c.add_row(
            stage,
            f"{v['wall_s']:.1f}",
            str(v["examples_forward"]),
            str(v["examples_backward"]),
            f"{v['peak_mem_mb']:.0f}",
        )
    console.print(c)
    console.print(f"training tasks: {', '.join(results['training_tasks'])}")
    if results.get("compare"):
        print_comparison(results)


def print_comparison(results: dict[str, Any]) -> None:
    """The run beside its baselines (``compare``): what the selection bought on dev."""
    main, primary = results["main_metric"], results["primary"]
    split = "dev" if "dev" in results["best"] else next(iter(results["best"]), "dev")
    t = Table(title=f"what the selection bought: {primary}, {split} {main} (same seed and epochs)")
    for col, justify in (
        ("training on", "left"),
        ("tasks", "right"),
        (f"{split} {main}", "right"),
        ("auxiliaries", "left"),
    ):
        t.add_column(col, justify=justify)
    rows = [(f"baseline: {name}", r) for name, r in results["compare"].items()]
    rows.append((f"primary + selected ({results['method']})", results))
    rows.sort(key=lambda row: len(row[1]["training_tasks"]))  # the primary alone first, every candidate last
    for label, r in rows:
        value = r["best"].get(split, {}).get(main)
        aux = [x for x in r["training_tasks"] if x != primary]
        shown = ", ".join(aux) if len(aux) <= 3 else f"{len(aux)} tasks"
        t.add_row(
            label, str(len(r["training_tasks"])), "" if value is None else f"{value:.2f}", shown or "none"
        )
    console.print(t)
