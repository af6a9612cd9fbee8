"""Collection TTL (`collection.ttl.seconds`): rows expire a fixed time after they were inserted.

Every stored row carries its insert time (the hidden `$ts` column, milliseconds since the epoch, set
when the write was acknowledged; an upsert gives the row a new one). With a TTL of `t` seconds, a row
whose insert time is `t` seconds or more in the past is *expired*: it is treated as deleted by every
read at once (search, hybrid search, query, get, `count(*)`, iterators, `get_collection_stats`), as
Milvus documents ("expired entities will not appear in any search or query results"). This module
builds that view: `visible(snapshot, ttl, now)` is the snapshot with expired rows added to each
segment's delete mask, so the executor masks them before anything is scored or returned.

Expiry uses the TTL in force at the time of the read, as in Milvus: raising or removing the TTL makes
rows that had expired but were not purged yet visible again. Purging is what makes expiry final:
maintenance plans from this same view, so a merge leaves expired rows out of the segment it writes,
a merged segment rebuilds once its deleted plus expired rows reach `engine.purge_deleted_ratio`, and
`compact()` purges every expired row (docs/storage.md, "TTL"). A merge planned under one TTL is not
committed under another (`engine.maintenance`), so a purge never removes a row that is visible.

An `insert` of a primary key whose only stored row has expired is accepted: the row is invisible, so it
does not count as existing; the batch is logged as an upsert, which removes the expired row, so a key
never has two rows.

Rows written before insert times were kept (a database from an engine version before `$ts`; the
column reads as null) have no insert time and never expire; upserting them gives them one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from engine.collection_state import LiveState, SegmentState, Snapshot
from engine.lazy import lazy_module
from engine.storage.segment import TS_COLUMN, SegmentData

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")  # loaded by the first filter: see engine/lazy.py

NEVER = int(np.iinfo(np.int64).max)


def now_ms() -> int:
    return int(time.time() * 1000)


def _insert_times(data: SegmentData) -> tuple[np.ndarray, int] | None:
    """(insert times, their minimum) of a segment, cached on it (segments are immutable); None without."""
    cached: tuple[np.ndarray | None, int] | None = data.__dict__.get("_ttl_ts")
    if cached is None:
        table = data.table
        col = table.column(TS_COLUMN) if TS_COLUMN in table.column_names else None
        if col is None or len(col) == 0 or col.null_count == len(col):
            cached = (None, 0)
        else:  # rows without an insert time never expire
            ts = pc.fill_null(col, NEVER).to_numpy() if col.null_count else col.to_numpy()
            cached = (np.asarray(ts, dtype=np.int64), int(pc.min(col).as_py()))
        data.__dict__["_ttl_ts"] = cached
    ts, oldest = cached
    return None if ts is None else (ts, oldest)


def expired_mask(data: SegmentData, ttl_seconds: int, at_ms: int) -> np.ndarray | None:
    """Which rows of `data` have expired at `at_ms` (None: none have)."""
    if ttl_seconds <= 0:
        return None
    got = _insert_times(data)
    if got is None:
        return None
    ts, oldest = got
    cutoff = at_ms - ttl_seconds * 1000
    if oldest > cutoff:
        return None
    return ts <= cutoff


def visible(snap: Snapshot, ttl_seconds: int, at_ms: int | None = None) -> Snapshot:
    """`snap` with the rows expired at `at_ms` (default: now) masked as deleted."""
    if ttl_seconds <= 0:
        return snap
    at = now_ms() if at_ms is None else at_ms
    segments = []
    changed = False
    for seg in snap.segments:
        expired = expired_mask(seg.data, ttl_seconds, at)
        if expired is None or not expired.any():
            segments.append(seg)
            continue
        deleted = expired if seg.deleted is None else (seg.deleted | expired)
        segments.append(SegmentState(seg.data, deleted, seg.sealed))
        changed = True
    return Snapshot(tuple(segments), snap.lsn) if changed else snap


def live_hits(state: LiveState, hits: list[tuple[str, int, int]], ttl_seconds: int,
              at_ms: int | None = None) -> list[tuple[str, int, int]]:
    """The `(segment key, row, index)` hits of `LiveState.locate` whose rows have not expired."""
    if ttl_seconds <= 0 or not hits:
        return hits
    at = now_ms() if at_ms is None else at_ms
    data: dict[str, SegmentData] = {seg.key: seg for seg, _ in state.sealed}
    data.update({g.segment.key: g.segment for g in state.growing.values()})
    masks = {key: expired_mask(data[key], ttl_seconds, at) for key in {k for k, _, _ in hits}}
    out = []
    for key, row, i in hits:
        mask = masks[key]
        if mask is None or not mask[row]:
            out.append((key, row, i))
    return out
