"""Checks that run before any compute: each failure is one line naming the value and what is allowed."""

from __future__ import annotations

from auxrun.config import RunConfig
from auxrun.data.spec import TaskSpec, available_tasks, load_task_spec
from auxrun.errors import ConfigError
from auxrun.training.hardware import FAST_DROPOUT

STAGES = ("all", "select", "train", "inspect")


def _range(name: str, value, lo=None, hi=None, lo_open=False, hi_open=False) -> None:
    if value is None:
        return
    bad = (lo is not None and (value <= lo if lo_open else value < lo)) or (
        hi is not None and (value >= hi if hi_open else value > hi)
    )
    if bad:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ConfigError(
            f"{name}={value} is out of range; allowed: {lb}{lo if lo is not None else '-inf'}, "
            f"{hi if hi is not None else 'inf'}{rb}"
        )


def planted_group(planted, primary: str) -> list[str]:
    """The primary and its planted auxiliaries in role order (related, unrelated, noise), each once."""
    tasks = [primary]
    for role in ("related", "unrelated", "noise"):
        tasks += [t for t in (planted[primary].get(role) or []) if t not in tasks]
    return tasks


def validate_run(cfg: RunConfig) -> dict[str, TaskSpec]:
    """Fill the default primary and check the config; returns the pool's task specs."""
    ts = cfg.task_set
    if cfg.stage not in STAGES:
        raise ConfigError(f"stage='{cfg.stage}' is not one of {list(STAGES)}")
    if not ts.tasks:
        raise ConfigError(f"task_set '{ts.name}' lists no tasks")
    dupes = sorted({t for t in ts.tasks if ts.tasks.count(t) > 1})
    if dupes:
        raise ConfigError(f"task_set.tasks lists {dupes} more than once")
    known = available_tasks(list(cfg.data.task_dirs))
    for t in ts.tasks:
        if t not in known:
            raise ConfigError(f"task_set.tasks: unknown task '{t}'; available tasks: {known}")
    if cfg.primary is None:
        cfg.primary = next((p for p in ts.primaries if p in ts.tasks), ts.tasks[0])
    if cfg.primary not in ts.tasks:
        raise ConfigError(
            f"primary='{cfg.primary}' is not in task_set '{ts.name}'; allowed: {list(ts.tasks)}"
        )
    if ts.planted_group:
        if cfg.primary not in ts.planted:
            raise ConfigError(
                f"task_set.planted_group=true needs planted roles for primary='{cfg.primary}'; "
                f"task_set '{ts.name}' plants them for: {sorted(ts.planted)}"
            )
        group = planted_group(ts.planted, cfg.primary)
        missing = [t for t in group if t not in ts.tasks]
        if missing:
            raise ConfigError(
                f"task_set.planted_group=true: the planted auxiliaries {missing} of '{cfg.primary}' "
                f"are not in task_set.tasks {list(ts.tasks)}; list them, or set "
                "task_set.planted_group=false to train the listed tasks"
            )
        ts.tasks = group
    for task, cap in cfg.data.train_cap.items():  # a cap on a task outside the set is ignored
        if task not in known:
            raise ConfigError(f"data.train_cap: unknown task '{task}'; available tasks: {known}")
        _range(f"data.train_cap.{task}", cap, 1)
    if cfg.data.train_cap_order not in ("first", "random"):
        raise ConfigError(
            f"data.train_cap_order='{cfg.data.train_cap_order}' is not one of ['first', 'random']"
        )
    if cfg.stage == "train" and not cfg.selection:
        raise ConfigError("stage=train needs selection=PATH (a selection.json from stage=select)")
    t = cfg.train
    _range("train.epochs", t.epochs, 1)
    _range("train.batch_size", t.batch_size, 1)
    _range("train.eval_batch_size", t.eval_batch_size, 1)
    _range("train.lr", t.lr, 0, lo_open=True)
    _range("backbone.lr", cfg.backbone.lr, 0, lo_open=True)
    _range("train.weight_decay", t.weight_decay, 0)
    _range("train.warmup_ratio", t.warmup_ratio, 0, 1, hi_open=True)
    _range("train.dropout", t.dropout, 0, 1, hi_open=True)
    _range("train.max_grad_norm", t.max_grad_norm, 0)
    _range("train.max_train_examples", t.max_train_examples, 1)
    _range("train.epoch_fraction", t.epoch_fraction, 0, 1, lo_open=True)
    _range("train.adam_eps", t.adam_eps, 0, lo_open=True)
    _range("train.finetune_primary_epochs", t.finetune_primary_epochs, 0)
    _range("train.head_hidden", t.head_hidden, 1)
    from auxrun.models.mtl import HEADS

    if t.head not in HEADS:
        raise ConfigError(f"train.head='{t.head}' is not one of {list(HEADS)}")
    _range("data.select_dev_fraction", cfg.data.select_dev_fraction, 0, 1, hi_open=True)
    _range("data.toy_scale", cfg.data.toy_scale, 0, lo_open=True)
    _range("data.max_length", cfg.data.max_length, 8, cfg.backbone.max_position)
    if cfg.data.source not in ("auto", "local", "hub", "toy"):
        raise ConfigError(f"data.source='{cfg.data.source}' is not one of ['auto', 'local', 'hub', 'toy']")
    if t.schedule not in ("auto", "size_proportional", "ratio"):
        raise ConfigError(
            f"train.schedule='{t.schedule}' is not one of ['auto', 'size_proportional', 'ratio']"
        )
    bb = cfg.backbone
    if bb.path and bb.kind != "hub":
        raise ConfigError(
            f"backbone.path={bb.path} is read only by hub backbones, and backbone '{bb.name}' (kind {bb.kind}) "
            "builds its own model; drop backbone.path or pick a hub backbone (e.g. backbone=bert_base_cased)"
        )
    hw = cfg.hardware
    if hw.device not in ("cpu", "cuda", "auto") and not hw.device.startswith("cuda:"):
        raise ConfigError(f"hardware.device='{hw.device}' is not one of ['cpu', 'cuda', 'cuda:N', 'auto']")
    if hw.precision not in ("fp32", "bf16", "fp16", "auto"):
        raise ConfigError(
            f"hardware.precision='{hw.precision}' is not one of ['fp32', 'bf16', 'fp16', 'auto']"
        )
    if hw.attn_implementation not in ("sdpa", "eager"):
        raise ConfigError(
            f"hardware.attn_implementation='{hw.attn_implementation}' is not one of ['sdpa', 'eager']"
        )
    if str(hw.fast_dropout).lower() not in FAST_DROPOUT:
        raise ConfigError(f"hardware.fast_dropout='{hw.fast_dropout}' is not one of {list(FAST_DROPOUT)}")
    _range("hardware.num_workers", hw.num_workers, 0)
    if hw.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"hardware.device='{hw.device}' but no CUDA device is visible; use hardware=cpu"
            )
    from auxrun.training.hardware import pick_device, resolve_precision

    resolve_precision(hw.precision, pick_device(hw.device))  # bf16 on a GPU without it: refused here
    specs = {name: load_task_spec(name, list(cfg.data.task_dirs)) for name in ts.tasks}
    for task, metric in ts.main_metrics.items():
        if task not in specs:
            continue  # a narrowed pool ('task_set.tasks=[...]') may leave the task out
        if metric not in specs[task].metrics:
            raise ConfigError(
                f"task_set.main_metrics.{task}='{metric}' is not one of the task's metrics "
                f"{list(specs[task].metrics)}"
            )
        specs[task].main_metric = metric
    from auxrun.methods.registry import get_method

    method_cls = get_method(cfg.method.name)
    if hasattr(method_cls, "validate_config"):
        method_cls.validate_config(cfg, specs)
    return specs
