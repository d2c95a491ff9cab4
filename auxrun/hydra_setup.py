"""Registration with Hydra: the schema's nodes in the ConfigStore (auxrun/config.py holds the schema,
each method module its own config class) and the ``auxrun.*`` resolvers the YAML files use."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf
from omegaconf import OmegaConf

from auxrun.config import BackboneConfig, HardwareConfig, LoggerConfig, RunConfig, TaskSetConfig


def _primary_or_default(primary, primaries, tasks) -> str:
    return primary or next(iter(primaries or []), None) or next(iter(tasks or []), "none")


def _help_groups() -> str:
    from auxrun.sweep import help_groups

    return help_groups()


def transfer_grid(tasks, primaries, transfer_tasks=None) -> str:
    """The pools of a transfer measurement as one Hydra sweep value: for each primary (the task set's
    primaries, else every task) among the tasks (``transfer_tasks`` where given), the primary alone,
    with each other task, and with all of them; the primary first in each. ``[a],[a,b],[a,c],[a,b,c],...``"""
    tasks = [str(t) for t in (transfer_tasks or tasks)]
    primaries = [str(p) for p in (primaries or tasks) if str(p) in tasks] or tasks
    pools: list[list[str]] = []
    for p in primaries:
        rest = [t for t in tasks if t != p]
        for pool in [[p], *[[p, a] for a in rest], [p, *rest]]:
            if pool not in pools:
                pools.append(pool)
    return ",".join("[" + ",".join(pool) + "]" for pool in pools)


def primaries_sweep(primaries, tasks) -> str:
    """A sweep value over the task set's primaries (every task where it names none): ``a,b,c``."""
    return ",".join(str(p) for p in (primaries or tasks))


def pool_label(tasks) -> str:
    """A run folder's name for a transfer pool: ``rte`` (alone), ``rte+mrpc``, ``rte+all``."""
    tasks = [str(t) for t in tasks]
    if len(tasks) <= 2:
        return "+".join(tasks)
    return f"{tasks[0]}+all{len(tasks) - 1}"


RESOLVERS = {
    "auxrun.primary": _primary_or_default,
    "auxrun.help_groups": _help_groups,  # `auxrun --help`: the groups a user picks
    "auxrun.transfer_grid": transfer_grid,  # experiment=transfer_truth's grid, from the task set
    "auxrun.pool_label": pool_label,
    "auxrun.primaries": primaries_sweep,  # experiment=transfer_selectors's primaries
}


@dataclass
class AuxrunLocalQueueConf(LocalQueueConf):
    """hardware=local_parallel's launcher (conf/hydra/launcher/auxrun_local.yaml): submitit's local
    one, and how many points run at once (None: the machine's cores over cpus_per_task)."""

    _target_: str = "hydra_plugins.auxrun.AuxrunLocalLauncher"
    array_parallelism: int | None = None


def register_configs() -> None:
    for name, fn in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(group="backbone", name="backbone_schema", node=BackboneConfig)
    cs.store(group="task_set", name="task_set_schema", node=TaskSetConfig)
    cs.store(group="hardware", name="hardware_schema", node=HardwareConfig)
    cs.store(group="logger", name="logger_schema", node=LoggerConfig)
    cs.store(group="hydra/launcher", name="auxrun_local_schema", node=AuxrunLocalQueueConf)
    from auxrun.methods import registry

    registry.register_method_schemas(cs)
