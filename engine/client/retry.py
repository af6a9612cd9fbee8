"""Reads that meet a file replaced under them retry on the new state.

A read works on a snapshot: the segments of one moment. Maintenance (in this process or another)
may replace some of them and remove their files before the read touches them for the first time
(a file, once mapped, stays readable after it is removed). The read then finds the file gone; if
the catalog changed since the read began, it runs again on the current state. If the catalog did
not change, the file is really missing or damaged, and the error stands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from engine.errors import CorruptionError

T = TypeVar("T")

READ_METHODS = ("query", "query_iterator", "get", "search", "hybrid_search", "search_iterator", "get_collection_stats",
                "list_persistent_segments", "index_stats", "memory_usage", "describe_index")
ATTEMPTS = 5


def retry_when_replaced(cls: type[T]) -> type[T]:
    """Class decorator: the methods in READ_METHODS rerun when a file they needed was replaced meanwhile."""
    for name in READ_METHODS:
        fn = getattr(cls, name, None)
        if fn is not None:
            setattr(cls, name, _retrying(fn))
    return cls


def _retrying(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        catalog = self.db.catalog
        for attempt in range(ATTEMPTS):
            stamp = catalog.stamp()
            catalog.pin_data_version(stamp[0])  # the call resolves its collection at this state
            try:
                return fn(self, *args, **kwargs)
            except CorruptionError:
                catalog.pin_data_version(None)
                if attempt == ATTEMPTS - 1 or catalog.stamp() == stamp:
                    raise
            finally:
                catalog.pin_data_version(None)
        raise AssertionError("unreachable")

    return call
