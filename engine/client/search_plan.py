"""Validated search shapes, cached per call shape: a repeated search skips re-checking its arguments.

`MilvusClient.search` checks every argument before it touches a segment (engine/client/validation.py).
For an application that sends the same kind of search again and again (same collection, limit,
search_params, output_fields, no filter), those checks always give the same answer until the
collection's schema, indexes, properties or partitions change. A `SearchPlanCache` remembers that
answer, keyed by:

* the collection's `plan_epoch`: a number, unique in the process, that changes whenever the
  collection's catalog state is reloaded (any committed change by this or another process bumps the
  collection's catalog version, and the next sync rebuilds it) or its index specs are forgotten
  (engine/indexing.py `SegmentIndexes.invalidate`);
* every argument the checks read, each with its exact type (`64`, `64.0`, `"64"` and `True` are
  different keys), built only from plain values (str, int, float, bool, None, lists, tuples and dicts
  of those); a call with anything else (a numpy scalar, a custom object) is not cached and takes the
  checked path.

Only a call whose checks all passed is remembered; a refused call is refused by the full checks every
time, so refusals are identical. What depends on the data (query vectors, deletes, the snapshot's
segments, the partitions named) is checked and resolved on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.ranking import native

if TYPE_CHECKING:
    from engine.executor import OutputPlan
    from engine.schema import FieldSchema

_PLAIN = (str, int, float, bool, type(None))
MAX_PLANS = 256


@dataclass(frozen=True)
class SearchShape:
    """What the checks of one top-level dense vector search resolved (engine/client/milvus_client.py)."""

    anns_field: str
    top: FieldSchema
    sub: FieldSchema | None  # the Array of Structs sub-field of a MAX_SIM search
    metric: str
    params: dict[str, Any]  # index parameters after search_breadth (do not mutate)
    k: int  # limit + offset
    fetch: int  # candidates gathered per query (MAX_TOPK for a range search)
    radius: Any


@dataclass(frozen=True)
class SearchPlan:
    """A whole `search()` call's checked arguments (no filter, grouping or ranker)."""

    limit: int
    offset: int
    decimals: int
    growing: bool
    plan: OutputPlan  # shared between calls: read-only
    timezone: str | None
    shape: SearchShape


class _NotPlain(Exception):
    pass


def _freeze(value: Any) -> Any:
    # Plain values are frozen inline, without a call: a key is built on every search.
    t = type(value)
    if t in _PLAIN:
        return (t, value)
    if t is dict:  # list comprehensions: cheaper than generator expressions for the few items of a call
        return (dict, tuple([((type(k), k) if type(k) in _PLAIN else _freeze(k),
                              (type(v), v) if type(v) in _PLAIN else _freeze(v)) for k, v in value.items()]))
    if t is list or t is tuple:
        return (t, tuple([(type(v), v) if type(v) in _PLAIN else _freeze(v) for v in value]))
    raise _NotPlain


def python_plan_key(*parts: Any) -> tuple[Any, ...] | None:
    """A hashable key of plain argument values (exact types kept), or None when one is not plain
    (`plan_key`, where the compiled one is not built)."""
    try:
        return tuple([(type(p), p) if type(p) in _PLAIN else _freeze(p) for p in parts])
    except (_NotPlain, RecursionError):
        return None


# The compiled one (engine/_ranking.c) builds the same key; it also gives None for containers nested
# more than 32 deep, which no real call has (the call then simply takes the uncached path).
plan_key: Callable[..., tuple[Any, ...] | None] = python_plan_key if native is None else native.plan_key


class SearchPlanCache:
    """Checked search plans by (collection plan epoch, arguments); bounded, thread-safe."""

    def __init__(self) -> None:
        self._plans: dict[tuple[Any, ...], SearchPlan] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> SearchPlan | None:
        return self._plans.get(key)

    def put(self, key: tuple[Any, ...], plan: SearchPlan) -> None:
        with self._lock:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()  # call shapes of stale epochs are never looked up again
            self._plans[key] = plan
