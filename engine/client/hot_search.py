"""Repeat searches on an unchanged collection: served without resolving the call again.

An application that searches in a loop sends the same call again and again: the same collection,
limit and search_params, new query vectors. `MilvusClient.search` resolves each call in full: it
checks the client, the keywords, the database's access properties, the collection's name (aliases
included), its loaded state and its log, the checked plan (engine/client/search_plan.py), the
snapshot's segments and their indexes. On a large graph that work costs about as much as a third of
the graph walk itself: the walk leaves the CPU caches cold, and each of the hundred-odd Python calls
of the full path pays for it (docs/indexes.md, "Where a search's time goes").

`HotSearches` remembers what the full path resolved for a call shape when it searched exactly one
segment through its graph index (no filter, no partitions named, ids and distances only, no deleted
rows), and serves the next call of that shape straight from that graph while nothing it depends on
has changed:

* the catalog (`PRAGMA data_version` and this process's commits: every DDL, property, alias, index,
  load/release, database and seal or merge of any process commits there), read on every call;
* the collection's log: `Collection.sync` reads what other processes appended, as a full call does,
  and the collection's snapshot must be the very object the full path searched (a write of this
  process, or rows read from the log, or rows expired by a TTL make a new one);
* the collection's plan epoch, the segment's index rows and its loaded graph: the very graph the full
  path searched (identity), with the search breadth it resolved for the shape;
* the client: not closed, not in a forked child, the same current database (part of the key).

The work around the walk (the call's key, the query's norm, the re-rank, the page of hits) is one call
each into engine/_ranking.c where it is built (`engine.ranking`; numpy and Python otherwise, with the
same results).

Anything else, and anything unusual in the call (other keywords, a query the quick conversion does
not take, a damaged log), goes to the full path, which then also gives every error: a call shape is
only remembered after the full path accepted it, and the hot path itself raises nothing the full path
would not. The data objects are held through weak references, so a released collection or a replaced
segment is not kept in memory by an entry.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.client.requests import ResultList
from engine.client.search_plan import SearchPlan, plan_key
from engine.client.searching import round_hits
from engine.database import fork_generation
from engine.errors import MilvusException
from engine.executor import page_of_hit_lists, pages_of_hits, prepare_queries
from engine.index.hnsw import HNSWIndex
from engine.types import DataType, larger_is_closer

if TYPE_CHECKING:
    from engine.collection import Collection
    from engine.collection_state import Snapshot
    from engine.storage.catalog import Catalog
    from engine.storage.segment import SealedSegment

MAX_ENTRIES = 64
_F32 = np.dtype(np.float32)
_FLOATS = {float}
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class HotOffer:
    """What a full search call resolved (offered by `MilvusClient._search_planned`)."""

    coll: Collection
    plan: SearchPlan
    snapshot: Snapshot
    seg: SealedSegment
    index: HNSWIndex  # the segment's loaded graph of the field, the one the full path searched


@dataclass(frozen=True)
class _Entry:
    catalog: weakref.ref[Catalog]  # data_version counts per connection: a reopened database starts anew
    dv: int  # the stamp: data_version and this process's commits
    commits: int
    plan_epoch: int
    coll: Collection
    plan: SearchPlan
    snapshot: weakref.ref[Snapshot]
    seg: weakref.ref[SealedSegment]
    index: weakref.ref[HNSWIndex]
    index_rows: dict[str, Any]
    field: str
    ef: int  # the search breadth, resolved once (by the index's own rule)
    floats: bool  # a FLOAT_VECTOR field: one query may take the quick conversion
    pk_name: str
    larger: bool


class HotSearches:
    """The remembered call shapes of one client; thread-safe (entries are replaced, never changed)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._offers = threading.local()

    def expecting(self) -> bool:
        """Whether the front door waits for an offer on this thread (a search made inside another call,
        or one the front door does not remember, offers nothing)."""
        return bool(getattr(self._offers, "expected", False))

    def offer(self, offer: HotOffer) -> None:
        """Called inside a full search call that could be served hot next time."""
        if self.expecting():
            self._offers.value = offer

    def expect_offer(self) -> None:
        self._offers.expected, self._offers.value = True, None

    def take_offer(self) -> HotOffer | None:
        offer: HotOffer | None = getattr(self._offers, "value", None)
        self._offers.expected, self._offers.value = False, None
        return offer

    @staticmethod
    def stamp(client: Any) -> tuple[Catalog, tuple[int, int]] | None:
        """The catalog and its state (data_version, this process's commits) before a full call: an entry
        learnt from the call is valid for that state only, so a change made while the call ran (by this
        process's other threads too) sends the next call to the full path again."""
        catalog = _catalog_of(client)
        return None if catalog is None else (catalog, (catalog.data_version(), catalog.commits))

    def learn(self, key: tuple[Any, ...], offer: HotOffer | None,
              stamp: tuple[Catalog, tuple[int, int]] | None) -> None:
        """Remember the offer the full call made for `key` at `stamp` (forget the key when it made none)."""
        if offer is None or stamp is None or offer.coll.catalog is not stamp[0]:
            self._entries.pop(key, None)
            return
        shape = offer.plan.shape
        try:
            ef = offer.index.resolve_ef(shape.fetch, shape.params)
        except MilvusException:  # (the full path searched with it: not expected)
            self._entries.pop(key, None)
            return
        entry = _Entry(weakref.ref(stamp[0]), stamp[1][0], stamp[1][1], offer.coll.plan_epoch, offer.coll,
                       offer.plan, weakref.ref(offer.snapshot), weakref.ref(offer.seg), weakref.ref(offer.index),
                       offer.seg.index_rows, shape.anns_field, ef, shape.top.dtype == DataType.FLOAT_VECTOR,
                       offer.coll.schema.primary_field.name, larger_is_closer(shape.metric))
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = entry

    def search(self, client: Any, key: tuple[Any, ...], data: Any) -> ResultList | None:
        """The hits of a call of a remembered shape, or None when the full path must serve it."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        catalog = _catalog_of(client)
        if catalog is None or entry.catalog() is not catalog:
            return None
        dv = catalog.data_version()
        if dv != entry.dv or catalog.commits != entry.commits:
            return None
        coll = entry.coll
        if not coll.is_current(dv):
            try:
                coll.sync(dv)
            except MilvusException:
                return None  # damage: the full path reports it
        snap, seg, index = entry.snapshot(), entry.seg(), entry.index()
        if (snap is None or seg is None or coll.snapshot is not snap
                or coll.plan_epoch != entry.plan_epoch or seg.index_rows is not entry.index_rows
                or seg.loaded_indexes.get(entry.field) is not index):
            return None
        if index is None:  # (after the identity test, which narrows its type for mypy)
            return None
        plan = entry.plan
        fetch = plan.shape.fetch
        one = one_query(data, index.dim) if entry.floats else None
        if one is not None:  # one float32 query: its hits as lists (None: not all finite, or an edge case)
            found = index.search_one_lists(one, fetch, entry.ef)
            if found is None:
                return None
            pages = [page_of_hit_lists(found[0], found[1], seg.pk_column(), entry.pk_name, fetch, plan.offset,
                                       entry.larger)]
        else:
            try:
                queries = prepare_queries(plan.shape.top, data)
            except MilvusException:
                return None  # refused: by the full path, with its message
            ids, dists = index.search(queries, fetch, search_params=plan.shape.params)
            pages = pages_of_hits(ids, dists, seg.pk_column(), entry.pk_name, fetch, plan.offset, entry.larger)
        return ResultList(pages if plan.decimals < 0 else round_hits(pages, plan.decimals))


def _catalog_of(client: Any) -> Catalog | None:
    """The catalog of an open client in the process that opened it (None: the full path reopens or refuses)."""
    if client._closed or fork_generation() != client._forks or client._db is None:
        return None
    catalog: Catalog = client._db.catalog
    return catalog


def one_query(data: Any, dim: int) -> np.ndarray | None:
    """`data` as one float32 C-contiguous query of `dim` values, (dim,) or (1, dim), when it is one in a
    common form: a list of one float32 array or of one list of Python floats, or a (dim,) or (1, dim)
    float32 array. None otherwise.

    Finiteness is not checked here (`HNSWIndex.search_one_lists` refuses what is not finite). A list
    of floats becomes float32 by the same rounding as the full path's float64 conversion then cast."""
    if type(data) is list and len(data) == 1:
        q = data[0]
        if type(q) is list:
            if len(q) != dim or set(map(type, q)) != _FLOATS or not max(map(abs, q)) <= _F32_MAX:
                return None  # (beyond float32, a cast would warn; the full path refuses it)
            return np.array(q, dtype=np.float32)
    elif type(data) is np.ndarray:
        q = data
    else:
        return None
    if type(q) is not np.ndarray or q.dtype is not _F32 or not q.flags.c_contiguous:
        return None
    return q if q.shape == (dim,) or q.shape == (1, dim) else None


def hot_front(full_search: Any) -> Any:
    """`MilvusClient.search` with `HotSearches` in front of the full (decorated) method."""

    def search(self: Any, collection_name: str, data: Any = None, filter: str | None = "", limit: int = 10,
               output_fields: list[str] | None = None, search_params: dict[str, Any] | None = None,
               timeout: float | None = None, partition_names: list[str] | None = None,
               anns_field: str | None = None, ranker: Any = None, function_chains: Any = None,
               highlighter: Any = None, ids: Any = None, search_aggregation: Any = None,
               **kwargs: Any) -> Any:
        hot: HotSearches = self._hot_searches
        if (kwargs or timeout is not None or partition_names is not None or ranker is not None
                or function_chains is not None or highlighter is not None or ids is not None
                or search_aggregation is not None):
            key = None
        else:
            key = plan_key(collection_name, self._db_name, filter, limit, output_fields, search_params, anns_field)
        if key is None:
            return full_search(self, collection_name, data, filter, limit, output_fields, search_params, timeout,
                               partition_names, anns_field, ranker, function_chains, highlighter, ids,
                               search_aggregation, **kwargs)
        hits = hot.search(self, key, data)
        if hits is not None:
            return hits
        stamp = hot.stamp(self)
        hot.expect_offer()
        try:
            result = full_search(self, collection_name, data, filter, limit, output_fields, search_params,
                                 anns_field=anns_field)
        finally:
            offer = hot.take_offer()
        hot.learn(key, offer, stamp)
        return result

    search.__doc__ = full_search.__doc__
    search.__name__ = full_search.__name__
    search.__qualname__ = full_search.__qualname__
    search.__wrapped__ = full_search  # type: ignore[attr-defined]
    return search
