"""Modules imported on first use: keeps `import engine` and the search path from loading what they never touch.

`pyarrow.compute` (about 9 MiB of resident pages and 20 ms of import) is only needed to evaluate filter
expressions and TTL masks; a search of a sealed, indexed collection without a filter never calls it.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """A stand-in module: the first attribute read imports the real one and copies its namespace in."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__dict__["_lazy_target"])
        self.__dict__.update({k: v for k, v in vars(module).items() if k not in ("__name__", "__dict__")})
        return getattr(module, attr)


def lazy_module(name: str) -> Any:
    """`name` imported on first attribute access (an already imported module is returned as is)."""
    import sys

    return sys.modules.get(name) or LazyModule(name)
