"""The data of a collection at one moment: sealed segments with their deletes, plus growing rows.

`LiveState` is the mutable working copy a `Collection` keeps: it is rebuilt from
the catalog's segment list plus the write-ahead log records after `sealed_lsn`,
and write-ahead log records (this process's own or another process's, read from
the log's tail) are applied to it one by one. `Snapshot` is the immutable view
that searches and queries read; every change publishes a new one.

Applying a record is the same code for a live write and for replay, so a reader
process that replays the log sees exactly what the writer saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from engine.partition_keys import ROUTED, route
from engine.schema import CollectionSchema
from engine.storage.segment import GrowingSegment, SealedSegment, SegmentData
from engine.storage.wal import DELETE, UPSERT, WalRecord
from engine.types import DataType


@dataclass(frozen=True)
class SegmentState:
    """One segment as seen by a snapshot: its data and which rows are deleted."""

    data: SegmentData
    deleted: np.ndarray | None  # bool per row; None means none deleted
    sealed: bool

    @property
    def partition(self) -> str:
        return self.data.partition

    def live_mask(self) -> np.ndarray:
        if self.deleted is None:
            return np.ones(self.data.num_rows, dtype=bool)
        return ~self.deleted

    @property
    def live_rows(self) -> int:
        n = self.data.num_rows
        return n if self.deleted is None else n - int(self.deleted.sum())


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of a collection's data at one moment."""

    segments: tuple[SegmentState, ...]
    lsn: int

    def select(self, partitions: Iterable[str] | None) -> list[SegmentState]:
        if partitions is None:
            return list(self.segments)
        wanted = set(partitions)
        return [s for s in self.segments if s.partition in wanted]

    @property
    def num_live(self) -> int:
        return sum(s.live_rows for s in self.segments)


@dataclass
class Growing:
    segment: GrowingSegment
    deleted: np.ndarray
    pks: dict[Any, int] = field(default_factory=dict)


@dataclass
class LiveState:
    """Sealed segments (with delete masks), growing rows per partition, and the log position applied."""

    schema: CollectionSchema
    arrow_schema: pa.Schema
    partitions: list[str]
    sealed: list[tuple[SealedSegment, np.ndarray | None]]
    lsn: int
    last_auto_id: int
    growing: dict[str, Growing] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # sealed segments whose deletes are newer than their file

    # --- primary keys --------------------------------------------------------
    def locate(self, pks: list[Any]) -> Iterator[tuple[str, int, int]]:
        """Yield (segment key, row, index in pks) for each pk that is live."""
        if not pks:
            return
        is_str = self.schema.primary_field.dtype == DataType.VARCHAR
        values = np.asarray(pks, dtype=object if is_str else np.int64)
        for seg, deleted in self.sealed:
            rows = seg.lookup_pks(values, deleted)
            for i in np.flatnonzero(rows >= 0):
                r = int(rows[i])
                if deleted is None or not deleted[r]:
                    yield seg.key, r, int(i)
        for g in self.growing.values():
            for j, pk in enumerate(pks):
                row = g.pks.get(pk)
                if row is not None and not g.deleted[row]:
                    yield g.segment.key, row, j

    def mark_deleted(self, hits: list[tuple[str, int]]) -> int:
        by_key: dict[str, list[int]] = {}
        for key, r in hits:
            by_key.setdefault(key, []).append(r)
        count = 0
        for i, (seg, deleted) in enumerate(self.sealed):
            if seg.key in by_key:
                d = np.zeros(seg.num_rows, dtype=bool) if deleted is None else deleted.copy()
                rows = by_key[seg.key]
                count += int((~d[rows]).sum())
                d[rows] = True
                self.sealed[i] = (seg, d)
                self.dirty.add(seg.key)
        for g in self.growing.values():
            if g.segment.key in by_key:
                d = g.deleted.copy()
                rows = by_key[g.segment.key]
                count += int((~d[rows]).sum())
                d[rows] = True
                g.deleted = d
                gone = set(rows)
                g.pks = {k: v for k, v in g.pks.items() if v not in gone}
        return count

    # --- applying log records ----------------------------------------------
    def apply(self, rec: WalRecord) -> int:
        """Apply one log record (live write or replay); returns rows deleted by it."""
        deleted = 0
        if rec.kind == DELETE:
            deleted = self.mark_deleted([(k, r) for k, r, _ in self.locate(list(rec.pks or []))])
        elif rec.partition == ROUTED:  # a partition-key collection: each row to the partition its key hashes to
            assert rec.batch is not None
            for partition, rows in route(self.schema, self.partitions, rec.batch):
                part = rec.batch.take(pa.array(rows, type=pa.int64()))
                deleted += self.apply_insert(partition, part, upsert=rec.kind == UPSERT)
        elif rec.partition in self.partitions:  # else: the partition was dropped after this record
            assert rec.batch is not None
            deleted = self.apply_insert(rec.partition, rec.batch, upsert=rec.kind == UPSERT)
        self.lsn = max(self.lsn, rec.lsn)
        return deleted

    def apply_insert(self, partition: str, batch: pa.RecordBatch, upsert: bool) -> int:
        pks = batch.column(0).to_pylist()
        deleted = 0
        if upsert:
            deleted = self.mark_deleted([(k, r) for k, r, _ in self.locate(pks)])
        g = self.growing.get(partition)
        if g is None:
            key = f"growing:{partition}:{self.lsn + 1}"
            g = Growing(GrowingSegment(key, partition, self.arrow_schema), np.zeros(0, dtype=bool))
            self.growing[partition] = g
        base = g.segment.num_rows
        g.segment = g.segment.with_batch(batch)
        g.deleted = np.concatenate([g.deleted, np.zeros(batch.num_rows, dtype=bool)])
        for i, pk in enumerate(pks):
            g.pks[pk] = base + i
        if self.schema.primary_field.auto_id and pks:
            self.last_auto_id = max(self.last_auto_id, int(max(pks)))
        return deleted

    # --- views -------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        segs = [SegmentState(s, d, True) for s, d in self.sealed]
        segs += [SegmentState(g.segment, g.deleted, False) for g in self.growing.values() if g.segment.num_rows]
        return Snapshot(tuple(segs), self.lsn)

    @property
    def growing_rows(self) -> int:
        return sum(g.segment.num_rows for g in self.growing.values())

    @property
    def growing_bytes(self) -> int:
        return sum(g.segment.nbytes for g in self.growing.values())
