"""A collection's live state: sealed segments, growing rows, deletes and snapshots.

One writer at a time (a lock per collection); readers never take it. Every
write builds a new immutable `Snapshot` and publishes it with one reference
assignment, so a search or query sees one consistent view of the data.

Durability: a write is appended to the write-ahead log and fsynced before it
is applied and acknowledged. Sealing writes the growing rows of each partition
to an Arrow segment file, then commits, in one catalog transaction, the new
segments, the delete bitmaps of older segments and `sealed_lsn`; only then is
the log rotated. Reopening replays the log records newer than `sealed_lsn`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import PartitionNotFoundError, PrimaryKeyError
from engine.indexing import BuildProgress, SegmentIndexes
from engine.rows import RowConverter
from engine.schema import CollectionSchema
from engine.storage.catalog import Catalog, now
from engine.storage.fsutil import fsync_dir
from engine.storage.segment import GrowingSegment, SealedSegment, SegmentData, write_segment_file
from engine.storage.wal import DELETE, INSERT, UPSERT, WriteAheadLog
from engine.types import DataType

DEFAULT_SEAL_ROWS = 65_536
DEFAULT_SEAL_BYTES = 256 * 1024 * 1024


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
class _Growing:
    segment: GrowingSegment
    deleted: np.ndarray
    pks: dict[Any, int] = field(default_factory=dict)


class Collection:
    """Runtime state of one collection; created by the database, used by the client."""

    def __init__(self, catalog: Catalog, row: dict[str, Any], directory: Path) -> None:
        self.catalog = catalog
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.schema = CollectionSchema.from_dict(json.loads(row["schema"]))
        self.converter = RowConverter(self.schema)
        self.dir = directory
        self.seg_dir = directory / "segments"
        self.wal_dir = directory / "wal"
        self.lock = threading.RLock()
        self.seal_rows = DEFAULT_SEAL_ROWS
        self.seal_bytes = DEFAULT_SEAL_BYTES
        self._sealed: list[tuple[SealedSegment, np.ndarray | None]] = []
        self._growing: dict[str, _Growing] = {}
        self._dirty: set[str] = set()
        self._lsn = int(row["sealed_lsn"] or 0)
        self._last_auto_id = int(row["last_auto_id"] or 0)
        self._wal: WriteAheadLog | None = None
        self.snapshot = Snapshot((), self._lsn)
        self.indexes = SegmentIndexes(catalog, self.id, self.seg_dir)
        self._builder: threading.Thread | None = None
        self._open()

    # --- opening ---------------------------------------------------------
    def _open(self) -> None:
        self.seg_dir.mkdir(parents=True, exist_ok=True)
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        rows = self.catalog.segments(self.id)
        known = {r["file"] for r in rows}
        for p in self.seg_dir.iterdir():  # orphans of interrupted seals, compactions or drops
            if p.name.split(".")[0] + ".arrow" not in known or p.name.endswith(".tmp"):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        for r in rows:
            seg = SealedSegment(str(r["id"]), r["partition"], self.seg_dir / r["file"], r["rows"], r["size"], r["crc32"])
            deleted = None
            if r["deleted"]:
                deleted = np.unpackbits(np.frombuffer(r["deleted"], dtype=np.uint8), count=r["rows"]).astype(bool)
            self._sealed.append((seg, deleted))
        sealed_lsn = self._lsn
        wal_files = sorted(self.wal_dir.glob("wal_*.log"))
        for path in wal_files:
            for rec in WriteAheadLog.replay(path):
                if rec.lsn <= sealed_lsn:
                    continue
                if rec.kind in (INSERT, UPSERT):
                    assert rec.batch is not None
                    if rec.partition not in self.partitions():
                        continue  # the partition was dropped after this record
                    self._apply_insert(rec.partition, rec.batch, upsert=rec.kind == UPSERT)
                elif rec.kind == DELETE:
                    self._apply_delete(list(rec.pks or []))
                self._lsn = max(self._lsn, rec.lsn)
        for path in wal_files[:-1]:
            path.unlink()
        wal_path = wal_files[-1] if wal_files else self.wal_dir / f"wal_{self._lsn + 1:016d}.log"
        self._wal = WriteAheadLog(wal_path)
        fsync_dir(self.wal_dir)
        self._publish()

    def partitions(self) -> list[str]:
        return self.catalog.partitions(self.id)

    # --- snapshots -------------------------------------------------------
    def _publish(self) -> None:
        segs = [SegmentState(s, d, True) for s, d in self._sealed]
        segs += [SegmentState(g.segment, g.deleted, False) for g in self._growing.values() if g.segment.num_rows]
        self.snapshot = Snapshot(tuple(segs), self._lsn)

    # --- primary keys ----------------------------------------------------
    def _locate(self, pks: list[Any]) -> Iterator[tuple[str, int, int]]:
        """Yield (segment key, row, index in pks) for each pk that is live."""
        if not pks:
            return
        values = np.asarray(pks, dtype=object if self.schema.primary_field.dtype == DataType.VARCHAR else np.int64)
        for seg, deleted in self._sealed:
            rows = seg.lookup_pks(values)
            for i in np.flatnonzero(rows >= 0):
                r = int(rows[i])
                if deleted is None or not deleted[r]:
                    yield seg.key, r, int(i)
        for g in self._growing.values():
            for j, pk in enumerate(pks):
                row = g.pks.get(pk)
                if row is not None and not g.deleted[row]:
                    yield g.segment.key, row, j

    def _mark_deleted(self, hits: list[tuple[str, int]]) -> int:
        by_key: dict[str, list[int]] = {}
        for key, r in hits:
            by_key.setdefault(key, []).append(r)
        count = 0
        for i, (seg, deleted) in enumerate(self._sealed):
            if seg.key in by_key:
                d = np.zeros(seg.num_rows, dtype=bool) if deleted is None else deleted.copy()
                rows = by_key[seg.key]
                count += int((~d[rows]).sum())
                d[rows] = True
                self._sealed[i] = (seg, d)
                self._dirty.add(seg.key)
        for g in self._growing.values():
            if g.segment.key in by_key:
                d = g.deleted.copy()
                rows = by_key[g.segment.key]
                count += int((~d[rows]).sum())
                d[rows] = True
                g.deleted = d
                gone = set(rows)
                g.pks = {k: v for k, v in g.pks.items() if v not in gone}
        return count

    # --- applying log records (shared by live writes and replay) ---------
    def _apply_insert(self, partition: str, batch: pa.RecordBatch, upsert: bool) -> None:
        pks = batch.column(0).to_pylist()
        if upsert:
            self._mark_deleted([(k, r) for k, r, _ in self._locate(pks)])
        g = self._growing.get(partition)
        if g is None:
            key = f"growing:{partition}:{self._lsn + 1}"
            g = _Growing(GrowingSegment(key, partition, self.converter.arrow_schema), np.zeros(0, dtype=bool))
            self._growing[partition] = g
        base = g.segment.num_rows
        g.segment = g.segment.with_batch(batch)
        g.deleted = np.concatenate([g.deleted, np.zeros(batch.num_rows, dtype=bool)])
        for i, pk in enumerate(pks):
            g.pks[pk] = base + i
        if self.schema.primary_field.auto_id and pks:
            self._last_auto_id = max(self._last_auto_id, int(max(pks)))

    def _apply_delete(self, pks: list[Any]) -> int:
        return self._mark_deleted([(k, r) for k, r, _ in self._locate(pks)])

    # --- writes ----------------------------------------------------------
    def _next_auto_ids(self, n: int) -> list[int]:
        """Positive, unique, monotonic ids (time-based start, like Milvus's)."""
        start = max(self._last_auto_id + 1, int(time.time() * 1000) << 18)
        return list(range(start, start + n))

    def _check_partition(self, partition: str) -> None:
        if partition not in self.partitions():
            raise PartitionNotFoundError(f"partition {partition!r} does not exist in collection {self.name!r}")

    def insert(self, rows: list[dict[str, Any]], partition: str = "_default", upsert: bool = False) -> list[Any]:
        """Validate, log (fsync), apply and publish one batch; return its primary keys."""
        with self.lock:
            self._check_partition(partition)
            auto = self.schema.primary_field.auto_id and not upsert
            ids = self._next_auto_ids(len(rows)) if auto else None
            batch = self.converter.convert(rows, auto_ids=ids)
            pks = batch.column(0).to_pylist()
            if not upsert:
                for _key, _r, i in self._locate(pks):
                    raise PrimaryKeyError(
                        f"row {i}, field {self.schema.primary_field.name!r}: primary key {pks[i]!r} already exists "
                        f"in collection {self.name!r}; use upsert to replace it"
                    )
            assert self._wal is not None
            self._lsn += 1
            self._wal.append_batch(self._lsn, UPSERT if upsert else INSERT, partition, batch)
            self._apply_insert(partition, batch, upsert)
            self._publish()
            if self._should_seal():
                self.seal()
                self.build_in_background()
            return pks

    def delete(self, pks: list[Any]) -> int:
        """Delete the live rows with these primary keys; return how many were deleted."""
        with self.lock:
            pks = list(dict.fromkeys(pks))
            if not pks or not any(True for _ in self._locate(pks)):
                return 0
            assert self._wal is not None
            self._lsn += 1
            self._wal.append_delete(self._lsn, pks)
            n = self._apply_delete(pks)
            self._publish()
            return n

    def _should_seal(self) -> bool:
        rows = sum(g.segment.num_rows for g in self._growing.values())
        size = sum(g.segment.nbytes for g in self._growing.values())
        return rows >= self.seal_rows or size >= self.seal_bytes

    def seal(self) -> list[SealedSegment]:
        """Seal all growing rows into segment files and persist delete bitmaps."""
        with self.lock:
            if not self._growing and not self._dirty:
                return []
            new: list[tuple[SealedSegment, dict[str, Any]]] = []
            for partition, g in self._growing.items():
                live = np.flatnonzero(~g.deleted)
                if len(live) == 0:
                    continue
                next_id = self.catalog.next_segment_id()
                table = g.segment.table
                if len(live) < table.num_rows:
                    table = table.take(pa.array(live, type=pa.int64()))
                fname = f"seg_{next_id:08d}.arrow"
                size, crc = write_segment_file(self.seg_dir / fname, table)
                seg = SealedSegment(str(next_id), partition, self.seg_dir / fname, table.num_rows, size, crc)
                row = {
                    "id": next_id,
                    "collection_id": self.id,
                    "partition": partition,
                    "file": fname,
                    "rows": table.num_rows,
                    "size": size,
                    "crc32": crc,
                    "state": "sealed",
                    "created": now(),
                    "deleted": None,
                    "deleted_count": 0,
                }
                new.append((seg, row))
            with self.catalog.transaction() as db:
                for _seg, row in new:
                    db.table("segments").insert(row)
                for seg, deleted in self._sealed:
                    if seg.key in self._dirty and deleted is not None:
                        db.table("segments").update(
                            int(seg.key),
                            {"deleted": np.packbits(deleted).tobytes(), "deleted_count": int(deleted.sum())},
                        )
                db.table("collections").update(self.id, {"sealed_lsn": self._lsn, "last_auto_id": self._last_auto_id})
            self._sealed.extend((seg, None) for seg, _ in new)
            self._growing = {}
            self._dirty = set()
            self._rotate_wal()
            self._publish()
            return [seg for seg, _ in new]

    def _rotate_wal(self) -> None:
        assert self._wal is not None
        old = self._wal
        old.close()
        self._wal = WriteAheadLog(self.wal_dir / f"wal_{self._lsn + 1:016d}.log")
        fsync_dir(self.wal_dir)
        if old.path != self._wal.path:
            old.path.unlink(missing_ok=True)
            fsync_dir(self.wal_dir)

    # --- indexes -----------------------------------------------------------
    def sealed_segments(self) -> list[SealedSegment]:
        return [s.data for s in self.snapshot.segments if isinstance(s.data, SealedSegment)]

    def build_indexes(self, field: str | None = None) -> Iterator[BuildProgress]:
        """Build every missing segment index (of one field, or all), yielding progress."""
        return self.indexes.build_iter(self.sealed_segments(), field)

    def build_in_background(self) -> None:
        """Start building missing indexes on a daemon thread (searches stay exact meanwhile)."""
        if self._builder is not None and self._builder.is_alive():
            return

        def run() -> None:
            for _ in self.build_indexes():
                pass

        self._builder = threading.Thread(target=run, name=f"index-build-{self.name}", daemon=True)
        self._builder.start()

    def wait_for_indexes(self) -> None:
        """Block until every sealed segment has all its indexes."""
        if self._builder is not None:
            self._builder.join()
        for _ in self.build_indexes():
            pass

    def compaction_origins(self) -> dict[str, list[int]]:
        """Segment key -> ids of the segments it was compacted from."""
        with self.catalog.lock:
            rows = self.catalog.db.execute("select key, value from meta where key like 'compaction:%'").fetchall()
        return {key.rsplit(":", 1)[1]: [int(k) for k in json.loads(value)] for key, value in rows}

    # --- partitions ------------------------------------------------------
    def drop_partition_data(self, partition: str) -> None:
        """Seal, then drop every segment of `partition` (the caller removes the catalog row)."""
        with self.lock:
            self.seal()
            builder = self._builder  # it may be indexing a segment of this partition: let it finish first
            if builder is not None:
                builder.join()
            dropped = [seg for seg, _ in self._sealed if seg.partition == partition]
            with self.catalog.transaction() as db:
                for seg in dropped:
                    db.table("segments").update(int(seg.key), {"state": "dropped"})
                db.table("partitions").delete((self.id, partition))
            self._sealed = [(s, d) for s, d in self._sealed if s.partition != partition]
            self._publish()
            for seg in dropped:
                self.indexes.forget_segment(seg.key)
                seg.path.unlink(missing_ok=True)
                shutil.rmtree(seg.path.with_suffix(".idx"), ignore_errors=True)

    # --- stats -----------------------------------------------------------
    def row_count(self) -> int:
        return self.snapshot.num_live

    def release(self) -> None:
        self.indexes.release()
        for seg, _ in self._sealed:
            seg.release()

    def close(self) -> None:
        # The background index build uses the catalog and the segment directory: let it finish
        # before the database closes the catalog and gives up its lock on the directory.
        builder = self._builder
        if builder is not None:
            builder.join()
        with self.lock:
            if self._wal is not None:
                self._wal.close()
                self._wal = None
