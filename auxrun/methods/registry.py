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
