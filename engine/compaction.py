"""Compaction: merge small sealed segments and purge deleted rows, atomically.

The long part (writing the merged segment and building its indexes) runs
without the collection's writer lock, so inserts, deletes and searches go on.
The swap then takes the lock, carries over deletes that happened meanwhile
(by mapping old rows to their new positions), and commits in one catalog
transaction: the new segment becomes `sealed`, the old ones `compacted`.
Their files are removed at the next open, so running searches that still
hold them keep working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from engine.storage.catalog import now
from engine.storage.segment import SealedSegment, write_segment_file

if TYPE_CHECKING:
    from engine.collection import Collection

DELETED_RATIO_TO_PURGE = 0.1


@dataclass
class CompactionResult:
    """What one compaction did."""

    job_id: int
    merged: list[list[str]] = field(default_factory=list)  # old segment keys per new segment
    new_segments: list[str] = field(default_factory=list)
    rows_purged: int = 0
    state: str = "Completed"


def plan_groups(coll: Collection, target_rows: int) -> list[list[tuple[SealedSegment, np.ndarray | None]]]:
    """Groups of sealed segments (same partition) worth rewriting into one segment each."""
    by_partition: dict[str, list[tuple[SealedSegment, np.ndarray | None]]] = {}
    for seg, deleted in list(coll._sealed):
        by_partition.setdefault(seg.partition, []).append((seg, deleted))
    groups = []
    for segs in by_partition.values():
        small = [(s, d) for s, d in segs if s.num_rows < target_rows // 2]
        dirty = [(s, d) for s, d in segs if d is not None and d.sum() >= DELETED_RATIO_TO_PURGE * s.num_rows]
        chosen = {s.key: (s, d) for s, d in small + dirty}
        current: list[tuple[SealedSegment, np.ndarray | None]] = []
        rows = 0
        for s, d in sorted(chosen.values(), key=lambda sd: int(sd[0].key)):
            live = s.num_rows - (0 if d is None else int(d.sum()))
            if current and rows + live > target_rows:
                groups.append(current)
                current, rows = [], 0
            current.append((s, d))
            rows += live
        if current:
            groups.append(current)
    # a lone segment is only rewritten when it has deletes to purge
    return [g for g in groups if len(g) > 1 or (g[0][1] is not None and g[0][1].any())]


def compact(coll: Collection, job_id: int, target_rows: int | None = None) -> CompactionResult:
    """Merge and purge per `plan_groups`; returns what was done."""
    result = CompactionResult(job_id)
    target = target_rows or max(coll.seal_rows, 1)
    for group in plan_groups(coll, target):
        _compact_group(coll, group, result)
    return result


def _compact_group(coll: Collection, group: list[tuple[SealedSegment, np.ndarray | None]], result: CompactionResult) -> None:
    tables, live_rows = [], []
    for seg, deleted in group:
        live = np.arange(seg.num_rows) if deleted is None else np.flatnonzero(~deleted)
        live_rows.append(live)
        tables.append(seg.table.take(pa.array(live, type=pa.int64())))
    merged = pa.concat_tables(tables).combine_chunks()
    new_id = coll.catalog.next_segment_id()
    fname = f"seg_{new_id:08d}.arrow"
    size, crc = write_segment_file(coll.seg_dir / fname, merged)
    new_seg = SealedSegment(str(new_id), group[0][0].partition, coll.seg_dir / fname, merged.num_rows, size, crc)
    with coll.catalog.transaction() as db:  # registered as 'building' so a crash leaves no live duplicate
        db.table("segments").insert(
            {
                "id": new_id, "collection_id": coll.id, "partition": new_seg.partition, "file": fname,
                "rows": merged.num_rows, "size": size, "crc32": crc, "state": "building", "created": now(),
                "deleted": None, "deleted_count": 0,
            }
        )
    for _ in coll.indexes.build_iter([new_seg]):
        pass
    with coll.lock:
        current = {s.key: d for s, d in coll._sealed}
        new_deleted = np.zeros(merged.num_rows, dtype=bool)
        base = 0
        for (seg, before), live in zip(group, live_rows):
            now_deleted = current.get(seg.key)
            if now_deleted is not None:
                was = np.zeros(seg.num_rows, dtype=bool) if before is None else before
                newly = now_deleted[live] & ~was[live]
                new_deleted[base : base + len(live)] |= newly
            base += len(live)
        old_keys = [seg.key for seg, _ in group]
        with coll.catalog.transaction() as db:
            db.table("segments").update(
                new_id,
                {
                    "state": "sealed",
                    "deleted": np.packbits(new_deleted).tobytes() if new_deleted.any() else None,
                    "deleted_count": int(new_deleted.sum()),
                },
            )
            for key in old_keys:
                db.table("segments").update(int(key), {"state": "compacted"})
            db.table("meta").upsert(
                {"key": f"compaction:{result.job_id}:{new_id}", "value": json.dumps(old_keys)}, pk="key"
            )
        coll._sealed = [(s, d) for s, d in coll._sealed if s.key not in old_keys]
        coll._sealed.append((new_seg, new_deleted if new_deleted.any() else None))
        coll._sealed.sort(key=lambda sd: int(sd[0].key))
        coll._dirty -= set(old_keys)
        coll._publish()
    for key in old_keys:
        coll.indexes.forget_segment(key)
    result.merged.append(old_keys)
    result.new_segments.append(new_seg.key)
    result.rows_purged += sum(seg.num_rows for seg, _ in group) - merged.num_rows
