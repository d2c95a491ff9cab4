"""One run, stage by stage: validate -> pool -> selection -> MTL training -> results.

Each stage writes its artifact atomically into the run folder and reads only what the stage
before it wrote, so ``stage=select`` / ``stage=train selection=PATH`` split a run in two and
``resume=true`` picks an interrupted run up at its last finished stage or epoch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from auxrun.config import RunConfig
from auxrun.context import RunContext
from auxrun.data.pool import TaskPool
from auxrun.errors import AuxrunError
from auxrun.io import read_or_set_aside, write_json_atomic, write_text_atomic
from auxrun.methods.registry import get_method
from auxrun.models.backbone import load_tokenizer
from auxrun.paths import default_cache_dir
from auxrun.predictions import write_eval_predictions, write_test_predictions
from auxrun.provenance import provenance
from auxrun.reporting.console import print_choices, print_results
from auxrun.reporting.loggers import open_logger
from auxrun.selection import Selection
from auxrun.training import distributed
from auxrun.training.cost import CostLedger
from auxrun.training.trainer import MTLTrainer

log = logging.getLogger("auxrun")


def build_tokenizer(cfg: RunConfig, pool: TaskPool, cache_dir: Path):
    corpus = None
    if cfg.backbone.kind == "tiny":
        if all(s.sources.toy is not None for s in pool.specs.values()) and cfg.data.source in ("auto", "toy"):
            from auxrun.data.toy import lexicon_corpus

            corpus = lexicon_corpus(cfg.data.toy_seed)
        else:
            corpus = list(pool.train_texts())
    return load_tokenizer(cfg.backbone, corpus, cache_dir)


def cache_dir_of(cfg: RunConfig) -> Path:
    return Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()


def build_context(cfg: RunConfig, run_dir: Path, specs, ledger: CostLedger) -> RunContext:
    cache_dir = cache_dir_of(cfg)
    with ledger.stage("data"):
        pool = TaskPool.load(cfg, specs)
        status = pool.encode(build_tokenizer(cfg, pool, cache_dir), cfg.data.max_length, cache_dir)
        for task, splits in status.items():  # the tokenized-data cache: which splits were reused
            for word, st in (("reused", "hit"), ("computed", "miss")):
                if names := [s for s, v in splits.items() if v == st]:
                    ledger.note("data/tokenized", f"{task}: {word} ({', '.join(names)})")
    return RunContext(cfg=cfg, pool=pool, ledger=ledger, run_dir=run_dir, cache_dir=cache_dir)


def run(cfg: RunConfig, run_dir: Path, specs) -> dict[str, Any]:
    """Run every stage ``cfg.stage`` asks for; returns results (or the selection for stage=select)."""
    if cfg.hardware.num_threads > 0:
        torch.set_num_threads(cfg.hardware.num_threads)
    torch.manual_seed(cfg.seed)
    if cfg.hardware.distributed and cfg.stage != "inspect":
        run_dir = _join_data_parallel(cfg, run_dir)
    main = distributed.is_main()
    if main:
        print_choices(cfg, run_dir)
    ledger = CostLedger()
    if cfg.stage == "inspect":
        from auxrun.data.inspect import run_inspect

        pool = TaskPool.load(cfg, specs)
        return run_inspect(cfg, run_dir, build_tokenizer(cfg, pool, cache_dir_of(cfg)))

    if cfg.compare:
        from auxrun.compare import check_compare

        check_compare(list(cfg.compare))
    ctx = build_context(cfg, run_dir, specs, ledger)
    method = get_method(cfg.method.name)(cfg.method, ctx)

    sel_path = run_dir / "selection.json"
    if cfg.stage == "train":
        selection = Selection.load(Path(cfg.selection))
        _check_selection(selection, ctx)
    elif cfg.resume and (selection := read_or_set_aside(sel_path, Selection.load, "selection runs again")):
        log.info("resume: reusing %s", sel_path)
        saved = selection.extra.get("cost") or {}  # what selecting cost, once (not the data stage again)
        ledger.load_state_dict({"stages": {k: v for k, v in saved.items() if k.split("/")[0] == "select"}})
    else:
        if main:  # data parallel: the selection stage runs on rank 0 alone
            with ledger.stage("select"):
                selection = method.select()
            selection.fill_instances({t: len(ctx.pool.split(t, "train")) for t in selection.training_tasks})
            selection.extra["cost"] = ledger.to_dict()
            selection.save(sel_path)
        selection = distributed.broadcast_object(selection if main else None)
    if cfg.stage == "select":
        return selection.to_dict()

    controller = method.controller()
    logger = open_logger(cfg, run_dir) if main else None  # rank 0 logs
    with ledger.stage("train"):
        trainer = ctx.new_trainer(
            selection, "train", controller=controller, checkpoint=True, progress=not cfg.quiet
        )
        if logger is not None:
            trainer.epoch_listeners.append(logger.log_epoch)
        if cfg.resume and trainer.load_checkpoint():
            log.info("resume: continuing after epoch %d", trainer.start_epoch)
        summary = trainer.fit()
    mtl, mtl_trainer = None, trainer
    if cfg.train.finetune_primary_epochs > 0:
        mtl = {"best": summary["best"], "best_epoch": summary["best_epoch"], "epochs": trainer.epochs}
        with ledger.stage("finetune"):
            trainer = finetune_trainer(ctx, trainer, cfg.train.finetune_primary_epochs)
            if logger is not None:
                trainer.epoch_listeners.append(logger.log_epoch)
            if cfg.resume and trainer.load_checkpoint():
                log.info("resume: fine-tuning continues after epoch %d", trainer.start_epoch)
            summary = trainer.fit()
        if main:
            write_text_atomic(run_dir / "metrics_finetune.csv", trainer.metrics_csv())
    results = {
        "method": cfg.method.name,
        "primary": selection.primary,
        "task_set": cfg.task_set.name,
        "pool": list(cfg.task_set.tasks),
        "backbone": cfg.backbone.name,
        "seed": cfg.seed,
        "training_tasks": selection.training_tasks,
        "main_metric": ctx.pool.specs[selection.primary].main_metric,
        "best": summary["best"],
        "best_epoch": summary["best_epoch"],
        "epochs": trainer.epochs,
        "cost": ledger.to_dict(),
        "cost_notes": ledger.notes,
        "provenance": provenance(cfg.hardware.device),
    }
    if mtl is not None:  # best/best_epoch are the fine-tuning stage's; the MTL stage's are here
        results["mtl"] = mtl
    if controller is not None:  # what a dynamic method decided during training, and its figures
        results.update(controller.results(mtl_trainer))
    if not main:
        return results
    if controller is not None:
        from auxrun.reporting.history_figures import plot_histories

        plot_histories(results, run_dir / "figures")
    predictions = write_eval_predictions(trainer, run_dir / "predictions")  # before test: same weights
    if cfg.train.predict_test:
        predictions += write_test_predictions(trainer, run_dir / "predictions")
    if predictions:
        results["predictions"] = [str(p.relative_to(run_dir)) for p in predictions]
    if cfg.compare:
        from auxrun.compare import train_baselines

        results["compare"] = train_baselines(ctx, list(cfg.compare), progress=not cfg.quiet)
        results["cost"] = ledger.to_dict()
    write_json_atomic(run_dir / "results.json", results)
    logger.finish(results)
    print_results(results)
    return results


def _join_data_parallel(cfg: RunConfig, run_dir: Path) -> Path:
    """hardware.distributed: join torchrun's process group; every rank reads rank 0's run folder."""
    backend = "nccl" if cfg.hardware.device.startswith("cuda") else "gloo"
    if not distributed.init(backend):
        log.warning("hardware.distributed=true but WORLD_SIZE is 1 (not under torchrun): one process")
        return run_dir
    return Path(distributed.broadcast_object(str(run_dir)))


def finetune_trainer(ctx: RunContext, mtl: MTLTrainer, epochs: int) -> MTLTrainer:
    """The primary alone, from the MTL stage's last-epoch weights (FastMTL 3.3 / Appendix A: the
    TO-MTDNN's last epoch, then fine-tuning, whose best dev epoch is reported; MT-DNN likewise).
    A fresh optimizer and schedule; checkpoints as ``checkpoints/finetune.pt``."""
    sel = Selection(method=ctx.cfg.method.name, primary=mtl.primary, candidates=[], selected_tasks=[])
    return MTLTrainer(
        mtl.model,
        ctx.pool,
        sel,
        ctx.cfg,
        ctx.ledger,
        run_dir=ctx.run_dir,
        stage="finetune",
        epochs=epochs,
        progress=not ctx.cfg.quiet,
    )


def _check_selection(selection: Selection, ctx: RunContext) -> None:
    missing = [t for t in selection.training_tasks if t not in ctx.pool.specs]
    if missing:
        raise AuxrunError(f"selection trains {missing}, which are not in task_set '{ctx.cfg.task_set.name}'")
    if selection.primary != ctx.pool.primary:
        raise AuxrunError(f"selection is for primary '{selection.primary}', but primary='{ctx.pool.primary}'")


def save_config(cfg: RunConfig, run_dir: Path) -> None:
    write_text_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.structured(cfg)))


def load_saved_config(run_dir: Path) -> RunConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise AuxrunError(f"resume=true: {path} not found; point hydra.run.dir at an auxrun run folder")
    from auxrun.methods.registry import METHODS, load_all

    load_all()
    raw = OmegaConf.load(path)
    method_cls = METHODS[raw.method.name][1]
    schema = OmegaConf.structured(RunConfig)
    schema.method = OmegaConf.structured(method_cls)
    cfg = OmegaConf.to_object(OmegaConf.merge(schema, raw))
    cfg.resume = True
    return cfg
