"""Method registry: ``@register("name", ConfigClass)`` on a Method subclass makes it a ``method=name``."""

from __future__ import annotations

import importlib
import pkgutil

from auxrun.config import MethodConfig

METHODS: dict[str, tuple[type, type[MethodConfig]]] = {}


def register(name: str, config_cls: type[MethodConfig]):
    def deco(cls):
        METHODS[name] = (cls, config_cls)
        cls.name = name
        return cls

    return deco


def load_all() -> None:
    import auxrun.methods as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("registry", "base"):
            importlib.import_module(f"auxrun.methods.{mod.name}")


def register_method_schemas(cs) -> None:
    load_all()
    for name, (_, config_cls) in METHODS.items():
        cs.store(group="method", name=f"{name}_schema", node=config_cls)


def get_method(name: str):
    load_all()
    if name not in METHODS:
        from auxrun.errors import ConfigError

        raise ConfigError(f"method '{name}' is not registered; known: {sorted(METHODS)}")
    return METHODS[name][0]


def baselines() -> list[str]:
    """The registered methods that are baselines (``Method.baseline``), by ``baseline_rank``."""
    load_all()
    names = [n for n, (cls, _) in METHODS.items() if cls.baseline]
    return sorted(names, key=lambda n: (METHODS[n][0].baseline_rank, n))


def is_baseline(name: str) -> bool:
    """Whether ``name`` is a registered baseline; False for a name not registered (an old run folder)."""
    load_all()
    return name in METHODS and METHODS[name][0].baseline


def decides_while_training(name: str) -> bool:
    """Whether ``name`` is a registered method with a training controller (avil, diw)."""
    load_all()
    return name in METHODS and METHODS[name][0].decides_while_training()
