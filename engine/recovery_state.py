"""The rows a `CollectionPlan` recovers: its segments with their deletes, plus its log records replayed.

The state is built by the engine's own `LiveState` (the code a reader process
replays the log with): sealed segments with their delete masks, then each log
record after the lsn the segments cover, in order. What comes out is the live
rows of each segment, by partition.

Two checks follow, both only ever remove rows that another reading shows are
not live:

* when merges of unknown outcome were read both ways (`CollectionPlan.alternative`),
  a row of a merged segment is kept only if the same row (primary key and insert
  time) is live when its sources are read instead;
* a primary key must be live once. When a level-0 segment repeats live rows of a
  newer level-0 segment, it was written by a seal that was redone later (its
  commit was lost): it is left out and the state built again. Any other key live
  twice is a conflict: the row inserted last is kept, and the problem reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.collection import storage_schema
from engine.collection_props import ttl_seconds
from engine.collection_state import LiveState, SegmentState
from engine.errors import CorruptionError
from engine.recovery_plan import CollectionPlan, SegmentPlan
from engine.recovery_scan import LOSS, NOTE, Problem
from engine.storage.segment import SealedSegment, SegmentData
from engine.ttl import expired_mask, now_ms


class GraphVectors:
    """`SealedSegment.vector_source` for recovery: the vectors a merged segment's graphs store."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs
        self._loaded: dict[str, Any] = {}

    def __call__(self, seg: SealedSegment, field: str, rows: np.ndarray | None) -> np.ndarray:
        from engine.index import load_index

        index: Any = self._loaded.get(field)
        if index is None:
            path = self.dirs.get(field)
            if path is None:
                raise CorruptionError(f"segment file {seg.path}: no graph stores its {field!r} vectors", str(seg.path))
            index = load_index(path)
            self._loaded[field] = index
            if index.count != seg.num_rows:
                raise CorruptionError(f"the graph in {path} holds {index.count} vectors, its segment {seg.path} "
                                      f"has {seg.num_rows} rows", str(path))
        ids = np.arange(seg.num_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        return np.asarray(index.get_vectors(ids), dtype=np.float32)


@dataclass
class Recovered:
    """The live rows of one collection: (segment data, live local rows) in the order they were written."""

    plan: CollectionPlan
    parts: list[tuple[SegmentData, np.ndarray]]

    @property
    def rows(self) -> int:
        return sum(len(r) for _, r in self.parts)

    def by_partition(self) -> dict[str, int]:
        out = {p: 0 for p in self.plan.partitions}
        for data, rows in self.parts:
            out[data.partition] = out.get(data.partition, 0) + len(rows)
        return out

    def states(self) -> Iterator[tuple[SegmentState, np.ndarray]]:
        for data, rows in self.parts:
            yield SegmentState(data, None, isinstance(data, SealedSegment)), rows


def _state(plan: CollectionPlan, segments: list[SegmentPlan], after: int) -> LiveState:
    schema = plan.schema
    arrow_schema = storage_schema(schema)
    sealed = []
    for sp in sorted(segments, key=lambda s: (s.lsn, s.id)):
        seg = SealedSegment(str(sp.id), sp.partition, sp.path, sp.rows, sp.size, sp.crc32, arrow_schema,
                            frozenset(sp.graph_dirs), GraphVectors(sp.graph_dirs), level=sp.level)
        sealed.append((seg, sp.deletes))
    state = LiveState(schema, arrow_schema, list(plan.partitions), sealed, after, 0)
    for rec in plan.records:
        if rec.lsn > after:
            state.apply(rec)
    return state


def _key(pks: np.ndarray, ts: np.ndarray | None, i: Any) -> tuple[Any, Any]:
    return (pks[i].item() if isinstance(pks[i], np.generic) else pks[i], None if ts is None else int(ts[i]))


def recovered_rows(plan: CollectionPlan) -> Recovered:
    """The live rows of `plan` (see the module doc); conflicts are added to `plan.problems`."""
    for _ in range(len(plan.segments) + 1):
        snap = _state(plan, plan.segments, plan.replay_after).snapshot()
        masks = [s.live_mask() for s in snap.segments]
        if plan.alternative is not None:
            _intersect(plan, snap.segments, masks)
        orphan = _redone_seal(plan, snap.segments, masks) if plan.source == "files" else None
        if orphan is None:
            break
        plan.segments = [s for s in plan.segments if s.id != orphan]
        if plan.alternative is not None:
            plan.alternative = [s for s in plan.alternative if s.id != orphan]
    _resolve_conflicts(plan, snap.segments, masks)
    _drop_expired(plan, snap.segments, masks)
    return Recovered(plan, [(s.data, np.flatnonzero(m)) for s, m in zip(snap.segments, masks)])


def _drop_expired(plan: CollectionPlan, segs: tuple[SegmentState, ...], masks: list[np.ndarray]) -> None:
    """Rows the collection's TTL has expired are gone for its readers: they are not recovered."""
    ttl = ttl_seconds(plan.properties)
    at = now_ms()
    dropped = 0
    for s, m in zip(segs, masks):
        expired = expired_mask(s.data, ttl, at)
        if expired is not None:
            dropped += int((m & expired).sum())
            m &= ~expired
    if dropped:
        plan.problems.append(Problem(f"collections/{plan.cid}", "ttl-expired", f"{dropped} row(s) had expired "
                                     f"(collection.ttl.seconds={ttl}): left out; the rows recovered get the "
                                     "recovery time as their insert time", NOTE))


def _intersect(plan: CollectionPlan, segs: tuple[SegmentState, ...], masks: list[np.ndarray]) -> None:
    """Rows of merged segments that are not live when the merges' sources are read instead are not live."""
    assert plan.alternative is not None
    ours = {str(s.id) for s in plan.segments}
    other = {str(s.id) for s in plan.alternative}
    alt = _state(plan, plan.alternative, plan.alternative_after).snapshot()
    live: set[tuple[Any, Any]] = set()
    for s in alt.segments:
        if s.sealed and s.data.key not in ours:
            pks, ts = s.data.pk_column(), s.data.ts_column()
            live.update(_key(pks, ts, i) for i in np.flatnonzero(s.live_mask()))
    dropped = 0
    for s, m in zip(segs, masks):
        if s.sealed and s.data.key in ours and s.data.key not in other:
            pks, ts = s.data.pk_column(), s.data.ts_column()
            for i in np.flatnonzero(m):
                if _key(pks, ts, i) not in live:
                    m[i] = False
                    dropped += 1
    if dropped:
        plan.problems.append(Problem(f"collections/{plan.cid}", "merge-reconciled", f"{dropped} row(s) of merged "
                                     "segments are deleted according to the segments they were merged from: left out",
                                     NOTE))


def _redone_seal(plan: CollectionPlan, segs: tuple[SegmentState, ...], masks: list[np.ndarray]) -> int | None:
    """A level-0 segment that repeats a live row (same key, same insert time) of a newer one, or None."""
    by_id = {str(s.id): s for s in plan.segments}
    seen: dict[tuple[Any, Any], SegmentPlan] = {}
    for s, m in zip(segs, masks):
        sp = by_id.get(s.data.key)
        if sp is None or sp.level != 0:
            continue
        pks, ts = s.data.pk_column(), s.data.ts_column()
        if ts is None:
            continue
        for i in np.flatnonzero(m):
            k = _key(pks, ts, i)
            other = seen.get(k)
            if other is not None and other.id != sp.id:
                old, new = sorted((other, sp), key=lambda x: (x.lsn, x.id))
                plan.problems.append(Problem(str(old.path), "segment-unused", f"segment file {old.path} repeats rows "
                                             f"of the newer {new.path.name}: it was written by a seal that was redone "
                                             "later; not used", NOTE))
                return old.id
            seen[k] = sp
    return None


def _resolve_conflicts(plan: CollectionPlan, segs: tuple[SegmentState, ...], masks: list[np.ndarray]) -> None:
    """A primary key live more than once: keep the row inserted last (then the one read last); report."""
    where: dict[Any, tuple[int, int, int]] = {}  # pk -> (segment index, row, insert time)
    conflicts: list[Any] = []
    for j, (s, m) in enumerate(zip(segs, masks)):
        pks, ts = s.data.pk_column(), s.data.ts_column()
        for i in np.flatnonzero(m):
            pk, t = _key(pks, ts, i)
            t = -1 if t is None else t
            prev = where.get(pk)
            if prev is not None:
                conflicts.append(pk)
                keep_new = t >= prev[2]
                loser = prev if keep_new else (j, i, t)
                masks[loser[0]][loser[1]] = False
                if not keep_new:
                    continue
            where[pk] = (j, int(i), t)
    if conflicts:
        plan.problems.append(Problem(f"collections/{plan.cid}", "conflict", f"{len(conflicts)} primary key(s) are "
                                     f"live in more than one place (e.g. {conflicts[:5]}): the row inserted last is "
                                     "kept; the files do not say which one is right", LOSS, rows=len(conflicts)))
