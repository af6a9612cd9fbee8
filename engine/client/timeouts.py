"""`timeout=` on the client's writing calls: how long to wait for the database's write lock.

pymilvus's calls take `timeout` (seconds for the RPC). Here the only wait a call can have is
for the write lock that another process holds, so `timeout` bounds that wait; past it the call
raises `WriteLockTimeout` naming the holder. Without `timeout`, the client's own
`write_lock_timeout` (default 30 s) applies. Reads never wait, so their `timeout` has nothing
to bound (docs/engine.md says so).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar

from engine.collection import CALL_TIMEOUT
from engine.errors import ParamError

T = TypeVar("T")

WRITE_METHODS = (
    "create_collection", "drop_collection", "rename_collection", "replace_collection", "load_collection",
    "release_collection", "flush", "create_partition", "drop_partition", "create_index", "drop_index",
    "insert", "upsert", "delete", "compact", "alter_collection_properties", "drop_collection_properties",
    "truncate_collection", "add_collection_field", "create_alias", "alter_alias", "drop_alias", "create_database",
    "drop_database", "alter_database_properties", "drop_database_properties",
)


def check_timeout(value: Any, what: str = "timeout") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ParamError(f"{what} must be a number of seconds >= 0 or None, got {value!r}")
    return float(value)


def bound_write_timeouts(cls: type[T]) -> type[T]:
    """Class decorator: each method in WRITE_METHODS waits for the write lock at most its `timeout`."""
    for name in WRITE_METHODS:
        fn = getattr(cls, name, None)
        if fn is not None:
            setattr(cls, name, _bounded(fn))
    return cls


def _bounded(fn: Callable[..., Any]) -> Callable[..., Any]:
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        if timeout is None and "timeout" in sig.parameters:
            try:
                timeout = sig.bind_partial(self, *args, **kwargs).arguments.get("timeout")
            except TypeError:
                timeout = None
        bound = check_timeout(timeout)
        token = CALL_TIMEOUT.set(bound if bound is not None else self._write_timeout)
        try:
            return fn(self, *args, **kwargs)
        finally:
            CALL_TIMEOUT.reset(token)

    return call
