"""A collection's live state in this process: sync with the files, writes, seals and snapshots.

Any number of processes may have the same collection open. Each keeps a
`LiveState` built from the catalog (sealed segments and their deletes) plus the
write-ahead log records after `sealed_lsn`, and publishes immutable `Snapshot`s
that searches and queries read without locks.

Before every read and write, `sync` makes the state current: one `PRAGMA
data_version` says whether another process committed to the catalog (then the
collection's row, segments and partitions are re-read in one read transaction),
and the log's header says whether another process appended records (then only
the new ones are read and applied). A write holds the database's write lock
(`engine.storage.locks`) for its whole duration: sync, validate against the
current data, append to the log and fsync, apply, publish.

Sealing writes each partition's growing rows to a segment file, the changed
delete masks to new sidecar files and a fresh log, announcing each file in the
catalog's intent log first; one catalog transaction then makes them the
collection's data and moves `sealed_lsn`; the old files are deleted last. A
crash at any point leaves either the old state or the new one, plus files that
the intent log explains (removed by the next writer).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from engine.collection_state import LiveState, SegmentState, Snapshot
from engine.errors import (
    CollectionNotFoundError,
    CorruptionError,
    MilvusException,
    PartitionNotFoundError,
    PrimaryKeyError,
    ReadOnlyError,
)
from engine.partition_keys import ROUTED
from engine.rows import RowConverter
from engine.schema import CollectionSchema
from engine.storage import faults
from engine.storage.catalog import Catalog, Tx, now, recovery_advice
from engine.storage.fsutil import fsync_dir, remove_paths
from engine.storage.segment import (
    TS_COLUMN,
    SealedSegment,
    read_deletes,
    segment_metadata,
    write_deletes,
    write_segment_file,
)
from engine.storage.wal import (
    DATA_START,
    DELETE,
    INSERT,
    UPSERT,
    WalDamage,
    WalRecord,
    WriteAheadLog,
    read_log,
    wal_name,
)
from engine.ttl import live_hits, visible

if TYPE_CHECKING:
    from engine.indexing import SegmentIndexes
    from engine.storage.locks import FileLock

__all__ = ["Collection", "CollectionSettings", "DbContext", "SegmentState", "Snapshot", "storage_schema"]

T = TypeVar("T")
# Rows of an upsert in merge mode -> the full rows to write, read from the synced state (write lock held).
MergeRows = Callable[[LiveState, list[dict[str, Any]]], list[dict[str, Any]]]

DEFAULT_SEAL_ROWS = 65_536
DEFAULT_SEAL_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_SEGMENT_BYTES = 1024 * 1024 * 1024
DEFAULT_PURGE_RATIO = 0.2

# Public storage settings: collection properties (create_collection(..., properties) or
# alter_collection_properties) with these keys; see docs/storage.md.
SETTING_KEYS = {
    "engine.seal_rows": ("seal_rows", int, 1, 1 << 40),
    "engine.seal_bytes": ("seal_bytes", int, 1, 1 << 50),
    "engine.max_segment_bytes": ("max_segment_bytes", int, 1, 1 << 50),
    "engine.purge_deleted_ratio": ("purge_deleted_ratio", float, 0.0, 1.0),
}


@dataclass(frozen=True)
class CollectionSettings:
    """Storage settings of one collection (defaults, or its `engine.*` properties)."""

    seal_rows: int = DEFAULT_SEAL_ROWS
    seal_bytes: int = DEFAULT_SEAL_BYTES
    max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES
    purge_deleted_ratio: float = DEFAULT_PURGE_RATIO
    ttl_seconds: int = 0  # collection.ttl.seconds (engine.ttl); 0: rows never expire
    autocompaction: bool = True  # collection.autocompaction.enabled: background maintenance after seals
    mmap: bool = True  # mmap.enabled: sealed segment files memory-mapped, or read into memory

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> CollectionSettings:
        from engine.collection_props import AUTOCOMPACTION, MMAP, ttl_seconds

        values: dict[str, Any] = {}
        for key, (attr, kind, _lo, _hi) in SETTING_KEYS.items():
            if key in props:
                values[attr] = kind(props[key])
        values["ttl_seconds"] = ttl_seconds(props)
        off = ("0", "f", "F", "false", "False", "FALSE")
        values["autocompaction"] = str(props.get(AUTOCOMPACTION, "true")) not in off
        values["mmap"] = str(props.get(MMAP, "true")) not in off
        return cls(**values)


def storage_schema(schema: CollectionSchema) -> pa.Schema:
    """The Arrow schema of stored rows: the collection's fields, then the hidden insert time.

    Fields with a default value carry it in their metadata: rows stored before such a field was added
    (`add_collection_field`) read as the default."""
    from engine.schema_evolution import with_default_values

    base = with_default_values(schema.arrow_schema(), schema)
    return base.append(pa.field(TS_COLUMN, pa.int64()))


# The write-lock wait of the public call in progress (MilvusClient sets it: its `timeout=` argument, or the
# client's `write_lock_timeout`), so that clients of one database in one process can differ.
CALL_TIMEOUT: ContextVar[float | None] = ContextVar("engine_call_timeout", default=None)


class DbContext:
    """What a collection needs from its database: the catalog, the write lock and the directory."""

    def __init__(self, path: Path, catalog: Catalog, write_lock: FileLock, write_timeout: float | None) -> None:
        self.path = path
        self.catalog = catalog
        self.write_lock = write_lock
        self.write_timeout = write_timeout
        self.owner = f"{os.getpid()}"
        self.on_sealed: Callable[[Collection], None] = lambda coll: None

    @contextmanager
    def writing(self, what: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the database's write lock, waiting up to `timeout` (else the calling client's, else the
        database's default)."""
        if timeout is None:
            timeout = CALL_TIMEOUT.get()
        with self.write_lock.held(self.write_timeout if timeout is None else timeout, what):
            yield

    def rel(self, p: Path) -> str:
        return str(p.relative_to(self.path))


class Collection:
    """Runtime state of one collection in this process; created by the database, used by the client."""

    def __init__(self, ctx: DbContext, row: dict[str, Any]) -> None:
        from engine.indexing import SegmentIndexes

        self.ctx = ctx
        self.catalog = ctx.catalog
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.db_name: str = row.get("db_name") or "default"
        self.dir = ctx.path / "collections" / str(self.id)
        self.seg_dir = self.dir / "segments"
        self.wal_dir = self.dir / "wal"
        self._state_lock = threading.RLock()
        self._row: dict[str, Any] = row
        self._schema_json = ""
        self._set_schema(row["schema"])
        self.settings = CollectionSettings.from_properties(json.loads(row.get("properties") or "{}"))
        # Changes whenever the schema, properties, partitions or index specs may have (see SegmentIndexes.invalidate).
        self.plan_epoch = 0
        self.indexes: SegmentIndexes = SegmentIndexes(self)
        self.indexes.invalidate()
        self._segments: dict[str, SealedSegment] = {}
        self._state = LiveState(self.schema, self.arrow_schema, [], [], 0, 0)
        self._snapshot = Snapshot((), 0)
        self._dv = -1
        self._version = -1
        self._catalog_stale = True
        self._wal_name: str | None = None
        self._wal_path = self.wal_dir
        self._wal_fd = -1
        self._wal_offset = DATA_START
        self._wal_count = 0
        self._wal_records: list[WalRecord] = []
        self._wal: WriteAheadLog | None = None
        self._torn: tuple[int, int, int] | None = None  # (valid end, count, last lsn) of a torn final record
        # (size, mtime_ns) of the log when a poll found it complete (the header's end = the file's size):
        # while fstat still says so, nothing was appended, and the poll skips reading the header.
        self._wal_seen: tuple[int, int] | None = None
        self.damage: CorruptionError | None = None
        self._wal_problem: WalDamage | None = None
        self._maint_lock: FileLock | None = None
        self.gone = False
        self.sync()

    @property
    def maint_lock(self) -> FileLock:
        """The collection's maintenance lock (one maintainer across processes), opened on first use."""
        if self._maint_lock is None:
            from engine.storage.locks import FileLock

            self.dir.mkdir(parents=True, exist_ok=True)
            self._maint_lock = FileLock.shared(self.dir / "MAINT.lock")
        return self._maint_lock

    def maintenance_running(self) -> bool:
        """Whether some process (this one included) is maintaining the collection right now."""
        lock = self.maint_lock
        return lock.owned or lock.holder_pid() is not None

    def maint_lock_close(self) -> None:
        if self._maint_lock is not None:
            self._maint_lock.close()
            self._maint_lock = None

    def _set_schema(self, text: str) -> None:
        if text == self._schema_json:
            return
        self._schema_json = text
        self.schema = CollectionSchema.from_dict(json.loads(text))
        self.converter = RowConverter(self.schema)
        self.arrow_schema = storage_schema(self.schema)

    # --- syncing with the files ----------------------------------------------
    def sync(self, dv: int | None = None) -> None:
        """Bring the state up to what is committed and acknowledged (never blocks on writers).

        `dv` is a `PRAGMA data_version` the caller has just read (saves reading it again).

        Raises the damage (a `CorruptionError` naming the log) when acknowledged log records are
        damaged or missing: reading on would return deleted rows or miss acknowledged ones."""
        if self.damage is None and self.ctx.write_lock.owned and not self._catalog_stale:
            return  # this process is writing: nobody else can, and its own writes are applied already
        if not self._state_lock.acquire(blocking=False):
            return  # another thread of this process is syncing or writing: its snapshot is current
        try:
            self._sync_locked(dv)
        finally:
            self._state_lock.release()
        if self.damage is not None:
            raise self._damage_error(CorruptionError)

    def is_current(self, dv: int) -> bool:
        """Whether `sync(dv)` would find nothing new: the catalog as last read (`dv`, no stale mark), the
        log as the last poll left it complete (one fstat), no damage. False when unsure."""
        if self.damage is not None or self._catalog_stale or dv != self._dv or self._wal_seen is None:
            return False
        try:
            return self._wal_state() == self._wal_seen
        except OSError:  # closed by a switch of the log meanwhile
            return False

    def _wal_state(self) -> tuple[int, int]:
        """(size, mtime_ns) of the open log: what `_wal_seen` keeps of a poll that found it complete."""
        st = os.fstat(self._wal_fd)
        return st.st_size, st.st_mtime_ns

    def _damage_error(self, kind: type[CorruptionError] | type[ReadOnlyError]) -> MilvusException:
        assert self.damage is not None
        text = (f"collection {self.name!r} cannot be read or written: {self.damage.message}. "
                f"{recovery_advice(self.ctx.path)}")
        return CorruptionError(text, self.damage.path) if kind is CorruptionError else ReadOnlyError(text)

    def _sync_locked(self, dv: int | None = None) -> None:
        if self.damage is not None:  # look again from scratch: the file may have been restored
            self.damage, self._catalog_stale = None, True
            self._switch_wal(None)
        for attempt in range(20):
            self._wal_problem = None
            try:
                self._sync_once(dv if attempt == 0 else None)
            except (CorruptionError, FileNotFoundError):
                # A file named by a catalog state that another process has since replaced: re-read and retry.
                if not self._may_retry(attempt):
                    raise
                continue
            if self._wal_problem is not None:
                if self._may_retry(attempt):
                    continue
                self._set_damage(self._wal_problem)  # serve what is intact; refuse writes
            return

    def _may_retry(self, attempt: int) -> bool:
        if attempt == 19 or self.catalog.data_version() == self._dv:
            return False
        self._catalog_stale = True
        return True

    def _sync_once(self, dv: int | None = None) -> None:
        if dv is None:
            dv = self.catalog.data_version()
        if dv != self._dv or self._catalog_stale:
            # Taken before the read: a commit of this process that marks the collection stale while
            # another thread syncs (the maintainer) must force the next sync to read again, not be
            # cleared by a sync that read the catalog before that commit.
            stale, self._catalog_stale = self._catalog_stale, False
            try:
                with self.catalog.read() as tx:
                    row = tx.row("select * from collections where id = ?", [self.id])
                    if row is None or row["state"] != "active":
                        self.gone = True
                        raise CollectionNotFoundError(f"collection {self.name!r} was dropped")
                    changed = (row["version"] != self._version or stale
                               or row["wal_file"] != self._wal_name or row["sealed_lsn"] != self._row["sealed_lsn"])
                    if changed:
                        seg_rows = tx.all("select * from segments where collection_id = ? and state = 'sealed' "
                                          "order by id", [self.id])
                        idx_rows = tx.all("select si.* from segment_indexes si join segments s on "
                                          "s.id = si.segment_id where s.collection_id = ? and s.state = 'sealed'",
                                          [self.id])
                        parts = [r["name"] for r in tx.all("select name from partitions where collection_id = ? "
                                                          "order by created, name", [self.id])]
                self._dv = dv
                if changed:
                    for r in seg_rows:
                        r["index_rows"] = {i["field"]: _index_row(i) for i in idx_rows if i["segment_id"] == r["id"]}
                    self._rebuild(row, seg_rows, parts)
                    self._wal_seen = None  # the log's expected start may have changed: check it again
                    self._version = row["version"]
            except BaseException:
                self._catalog_stale = True
                raise
        self._tail()

    def _rebuild(self, row: dict[str, Any], seg_rows: list[dict[str, Any]], parts: list[str]) -> None:
        self._row = row
        self.name = row["name"]
        self._set_schema(row["schema"])
        self.settings = CollectionSettings.from_properties(json.loads(row.get("properties") or "{}"))
        self.indexes.invalidate()
        sealed: list[tuple[SealedSegment, np.ndarray | None]] = []
        keep: dict[str, SealedSegment] = {}
        for r in seg_rows:
            seg = self._segment_object(r)
            keep[seg.key] = seg
            sealed.append((seg, self._deletes_of(r)))
        self._segments = keep
        if row["wal_file"] != self._wal_name:
            self._switch_wal(row["wal_file"])
        state = LiveState(self.schema, self.arrow_schema, parts, sealed, int(row["sealed_lsn"]),
                          int(row["last_auto_id"]))
        for rec in self._wal_records:
            if rec.lsn > state.lsn:
                state.apply(rec)
        self._state = state
        self._publish()

    def _segment_object(self, r: dict[str, Any]) -> SealedSegment:
        key = str(r["id"])
        seg = self._segments.get(key)
        if seg is None or seg.crc32 != r["crc32"] or seg.arrow_schema != self.arrow_schema:
            seg = SealedSegment(key, r["partition"], self.seg_dir / r["file"], r["rows"], r["size"], r["crc32"],
                                self.arrow_schema, frozenset(json.loads(r["graph_fields"] or "[]")),
                                self.indexes.read_vectors, level=int(r["level"] or 0))
        if seg.mmap != self.settings.mmap:  # mmap.enabled changed: the next read loads the file the new way
            seg.release()
            seg.mmap = self.settings.mmap
        rows = r["index_rows"]
        for field in [f for f in seg.loaded_indexes
                      if rows.get(f, {}).get("crc32") != seg.index_rows.get(f, {}).get("crc32")]:
            del seg.loaded_indexes[field]  # rebuilt or dropped since it was loaded
        seg.index_rows = rows
        return seg

    def _deletes_of(self, r: dict[str, Any]) -> np.ndarray | None:
        if r["del_file"]:
            d = read_deletes(self.seg_dir / r["del_file"], int(r["rows"]), r["del_crc"])
            return d if d.any() else None
        if r["deleted"]:  # a version-1 catalog kept the bits inline
            d = np.unpackbits(np.frombuffer(r["deleted"], dtype=np.uint8), count=int(r["rows"])).astype(bool)
            return d if d.any() else None
        return None

    def _switch_wal(self, name: str | None) -> None:
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        if self._wal_fd >= 0:
            os.close(self._wal_fd)
            self._wal_fd = -1
        self._wal_name = name
        self._wal_path = self.wal_dir / str(name)
        self._wal_offset, self._wal_count, self._wal_records, self._torn = DATA_START, 0, [], None
        self._wal_seen = None
        if name is None:
            return
        path = self.wal_dir / name
        try:
            self._wal_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._wal_problem = WalDamage(f"write-ahead log {path} is missing: the catalog expects it, so "
                                          "acknowledged writes may be lost", str(path), -1)

    def _tail(self) -> None:
        """Apply the log records appended since the last poll (by any process).

        An append grows the file, then rewrites a header slot, so a log whose size and mtime are those
        of a poll that found it complete (header end = file size, nothing torn) has no new record:
        that poll costs one fstat. Any other state reads the header."""
        if self._wal_fd < 0 or self.damage is not None:
            return
        seen = self._wal_state()
        if seen == self._wal_seen:
            return
        try:
            got = read_log(self._wal_fd, self._wal_path, self._wal_offset, self._wal_count)
        except WalDamage as e:
            self._wal_problem = e
            return
        self._wal_seen = None
        for rec in got.records:
            self._wal_records.append(rec)
            if rec.lsn > self._state.lsn:
                self._state.apply(rec)
        self._wal_offset, self._wal_count = got.offset, self._wal_count + len(got.records)
        if got.torn_final:  # never acknowledged: the next writer drops it
            last = self._wal_records[-1].lsn if self._wal_records else got.header.start_lsn - 1
            self._torn = (got.offset, self._wal_count, last)
        if got.damage is not None:
            self._wal_problem = got.damage
        elif got.header.start_lsn != int(self._row["sealed_lsn"]) + 1:
            path = self.wal_dir / str(self._wal_name)
            self._wal_problem = WalDamage(
                f"write-ahead log {path} starts at record {got.header.start_lsn}, but the catalog "
                f"{self.ctx.path / 'catalog.sqlite'} says {int(self._row['sealed_lsn']) + 1}: one of them is damaged",
                str(path), -1)
        if self._wal_problem is None and not got.torn_final and got.header.end == seen[0] == got.offset:
            self._wal_seen = seen
        if got.records:
            self._publish()

    def _set_damage(self, e: CorruptionError) -> None:
        self.damage = e

    def _publish(self) -> None:
        self._snapshot = self._state.snapshot()

    @property
    def snapshot(self) -> Snapshot:
        """The current data as readers see it: rows expired by the collection's TTL count as deleted."""
        return visible(self._snapshot, self.settings.ttl_seconds)

    def read(self, fn: Callable[[Snapshot], T]) -> T:
        """Run a read over a current snapshot; if a file it needs was replaced meanwhile, sync and retry once."""
        self.sync()
        try:
            return fn(self.snapshot)
        except CorruptionError:
            if self.catalog.data_version() == self._dv:
                raise
            with self._state_lock:
                self._catalog_stale = True
                self._sync_locked()
            if self.damage is not None:
                raise self._damage_error(CorruptionError) from None
            return fn(self.snapshot)

    # --- writing -------------------------------------------------------------
    @contextmanager
    def writing(self, what: str, timeout: float | None = None) -> Iterator[LiveState]:
        """Hold the write lock, with the state synced: the body may append to the log."""
        with self.ctx.writing(what, timeout), self._state_lock:
            self._sync_locked()
            if self.damage is not None:
                raise self._damage_error(ReadOnlyError)
            yield self._state

    def _writable_wal(self) -> WriteAheadLog:
        """The log to append to (created on the first write; a torn tail dropped first)."""
        if self._wal is None:
            if self._wal_name is None:
                self._start_new_wal(self._state.lsn + 1)
            else:
                self._wal = WriteAheadLog.open(self.wal_dir / self._wal_name)
        wal = self._wal
        assert wal is not None
        wal.reload_header()  # with the write lock held: the end that every process agrees on
        if self._torn is not None:
            end, count, last = self._torn
            wal.drop_torn_tail(end, count, last)
            self._torn = None
        elif os.fstat(wal.fd).st_size > wal.header.end:
            wal.drop_torn_tail(wal.header.end, wal.header.count, wal.header.last_lsn)
        return wal

    def _start_new_wal(self, start_lsn: int) -> None:
        name = wal_name(start_lsn)
        path = self.wal_dir / name
        with self.catalog.transaction() as tx:
            tx.add_intent(self.ctx.rel(path), self.id, self.ctx.owner, "WRITE")
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        wal = WriteAheadLog.create(path, start_lsn)
        fsync_dir(self.wal_dir)
        with self.catalog.transaction() as tx:
            tx.update("collections", "id = ?", [self.id], {"wal_file": name})
            tx.bump_version(self.id)
            tx.drop_intents([self.ctx.rel(path)])
        self._switch_wal(name)
        self._wal = wal
        self._wal_offset = wal.header.end

    def _append(self, rec: WalRecord, payload_writer: Callable[[WriteAheadLog, int], None]) -> int:
        wal = self._writable_wal()
        rec.lsn = self._state.lsn + 1
        payload_writer(wal, rec.lsn)
        self._wal_records.append(rec)
        self._wal_offset, self._wal_count = wal.header.end, wal.header.count
        deleted = self._state.apply(rec)
        self._publish()
        return deleted

    def _next_auto_ids(self, n: int) -> list[int]:
        """Positive, unique, monotonic ids (time-based start, like Milvus's)."""
        start = max(self._state.last_auto_id + 1, int(time.time() * 1000) << 18)
        return list(range(start, start + n))

    def insert(self, rows: list[dict[str, Any]], partition: str = "_default", upsert: bool = False,
               timeout: float | None = None, merge: MergeRows | None = None) -> list[Any]:
        """Validate, log (fsync), apply and publish one batch; return its primary keys.

        `merge` (upserts in merge mode, engine.partial_update) turns the given rows into full rows
        from the synced state, under the same hold of the write lock as the write itself.
        """
        auto = self.schema.primary_field.auto_id and not upsert
        tz = self.properties.get("timezone")  # reads TIMESTAMPTZ strings without an offset
        batch = None if auto or merge is not None else self.converter.convert(rows, timezone=tz)
        sealed = False
        with self.writing(f"insert into {self.name!r}", timeout) as st:
            if partition not in st.partitions and partition != ROUTED:  # ROUTED: by partition key (engine.partition_keys)
                raise PartitionNotFoundError(f"partition {partition!r} does not exist in collection {self.name!r}")
            if merge is not None:
                rows = merge(st, rows)
            if batch is None or batch.schema != self.converter.arrow_schema or self.properties.get("timezone") != tz:
                batch = self.converter.convert(rows, auto_ids=self._next_auto_ids(len(rows)) if auto else None,
                                               timezone=self.properties.get("timezone"))
            pks = batch.column(0).to_pylist()
            replaces_expired = False
            if not upsert:
                hits = list(st.locate(pks))
                for _key, _r, i in live_hits(st, hits, self.settings.ttl_seconds):
                    raise PrimaryKeyError(
                        f"row {i}, field {self.schema.primary_field.name!r}: primary key {pks[i]!r} already exists "
                        f"in collection {self.name!r}; use upsert to replace it")
                replaces_expired = bool(hits)  # only rows expired by the TTL: replaced (engine.ttl)
            stamped = batch.append_column(TS_COLUMN, pa.array(np.full(batch.num_rows, int(time.time() * 1000)),
                                                              type=pa.int64()))
            kind = UPSERT if upsert or replaces_expired else INSERT
            rec = WalRecord(0, kind, partition=partition, batch=stamped)
            self._append(rec, lambda wal, lsn: wal.append_batch(lsn, kind, partition, stamped))
            if st.growing_rows >= self.settings.seal_rows or st.growing_bytes >= self.settings.seal_bytes:
                self._seal_locked()
                sealed = True
        if sealed:
            self.ctx.on_sealed(self)
        return pks

    def delete(self, pks: list[Any], timeout: float | None = None) -> int:
        """Delete the live rows with these primary keys; return how many were deleted."""
        pks = list(dict.fromkeys(pks))
        with self.writing(f"delete from {self.name!r}", timeout) as st:
            if not pks or not any(True for _ in st.locate(pks)):
                return 0
            rec = WalRecord(0, DELETE, pks=pks)
            return self._append(rec, lambda wal, lsn: wal.append_delete(lsn, pks))

    def delete_where(self, select: Callable[[Snapshot], list[Any]], timeout: float | None = None) -> int:
        """Delete the rows `select(snapshot)` names, choosing and deleting under one write lock."""
        with self.writing(f"delete from {self.name!r}", timeout):
            keys = select(self.snapshot)
            return self.delete(keys, timeout) if keys else 0

    # --- sealing ---------------------------------------------------------------
    def seal(self, timeout: float | None = None) -> list[SealedSegment]:
        """Seal all growing rows into segment files and persist changed delete masks."""
        with self.writing(f"flush {self.name!r}", timeout):
            out = self._seal_locked()
        if out:
            self.ctx.on_sealed(self)
        return out

    def _seal_locked(self) -> list[SealedSegment]:
        st = self._state
        if not st.growing and not st.dirty:
            return []
        parts = [(p, g) for p, g in st.growing.items() if (~g.deleted).any()]
        dirty = [(seg, d) for seg, d in st.sealed if seg.key in st.dirty and d is not None]
        new_wal = wal_name(st.lsn + 1)
        with self.catalog.transaction() as tx:
            ids = [tx.next_id("last_segment_id") for _ in parts]
            seg_files = [self.seg_dir / f"seg_{i:08d}.arrow" for i in ids]
            del_files = [self.seg_dir / f"seg_{int(seg.key):08d}.del.{st.lsn}" for seg, _ in dirty]
            for p in [*seg_files, *del_files, self.wal_dir / new_wal]:
                tx.add_intent(self.ctx.rel(p), self.id, self.ctx.owner, "WRITE")
        self.seg_dir.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        for (partition, g), sid, path in zip(parts, ids, seg_files):
            table = g.segment.table
            live = np.flatnonzero(~g.deleted)
            if len(live) < table.num_rows:
                table = table.take(pa.array(live, type=pa.int64()))
            meta = self.describe_for_files(partition=partition, segment_id=sid, level=0, lsn=st.lsn, compacted_from="[]")
            size, crc = write_segment_file(path, table, meta)
            rows.append({"id": sid, "collection_id": self.id, "partition": partition, "file": path.name,
                         "rows": table.num_rows, "size": size, "crc32": crc, "state": "sealed", "created": now(),
                         "deleted_count": 0, "level": 0})
        del_updates = []
        for (seg, d), path in zip(dirty, del_files):
            assert d is not None
            del_updates.append((seg.key, path.name, write_deletes(path, d), int(d.sum())))
        old_wal = self._wal_name
        old_dels = self._current_del_files([k for k, *_ in del_updates])
        wal = WriteAheadLog.create(self.wal_dir / new_wal, st.lsn + 1)
        fsync_dir(self.wal_dir)
        garbage = ([self.wal_dir / old_wal] if old_wal else []) + old_dels
        faults.point("seal.files")
        with self.catalog.transaction() as tx:
            for r in rows:
                tx.insert("segments", r)
            for key, name, crc, count in del_updates:
                tx.update("segments", "id = ?", [int(key)], {"del_file": name, "del_crc": crc, "deleted_count": count})
            tx.update("collections", "id = ?", [self.id], {"sealed_lsn": st.lsn, "last_auto_id": st.last_auto_id,
                                                          "wal_file": new_wal})
            tx.bump_version(self.id)
            tx.drop_intents([self.ctx.rel(p) for p in [*seg_files, *del_files, self.wal_dir / new_wal]])
            for p in garbage:
                tx.add_intent(self.ctx.rel(p), self.id, self.ctx.owner, "WRITE")
        faults.point("seal.committed")
        self._remove_files(garbage)
        # The new state: what was committed (reloaded from the catalog), with the fresh log.
        self._switch_wal(new_wal)
        self._wal = wal
        self._wal_offset = wal.header.end
        self._catalog_stale = True
        self._sync_locked()
        return [self._segments[str(i)] for i in ids if str(i) in self._segments]

    def _current_del_files(self, keys: list[str]) -> list[Path]:
        if not keys:
            return []
        with self.catalog.read() as tx:
            marks = ",".join("?" for _ in keys)
            rows = tx.all(f"select del_file from segments where id in ({marks})", [int(k) for k in keys])
        return [self.seg_dir / r["del_file"] for r in rows if r["del_file"]]

    def _remove_files(self, paths: list[Path]) -> None:
        """Delete files the catalog no longer references (announced as intents), then forget the intents."""
        remove_paths(paths)
        if paths:
            for d in {p.parent for p in paths}:
                if d.exists():
                    fsync_dir(d)
            with self.catalog.transaction() as tx:
                tx.drop_intents([self.ctx.rel(p) for p in paths])

    # --- partitions, truncation -------------------------------------------------
    def drop_partition_data(self, partition: str, timeout: float | None = None) -> None:
        """Drop `partition` and every row in it, in one catalog transaction."""
        with self.writing(f"drop partition {partition!r} of {self.name!r}", timeout):
            self._seal_locked()
            dropped = [seg for seg, _ in self._state.sealed if seg.partition == partition]
            garbage = self._files_of(dropped)
            with self.catalog.transaction() as tx:
                for seg in dropped:
                    tx.execute("delete from segment_indexes where segment_id = ?", [int(seg.key)])
                    tx.execute("delete from segments where id = ?", [int(seg.key)])
                tx.execute("delete from partitions where collection_id = ? and name = ?", [self.id, partition])
                tx.bump_version(self.id)
                for p in garbage:
                    tx.add_intent(self.ctx.rel(p), self.id, self.ctx.owner, "WRITE")
            self._catalog_stale = True
            self._sync_locked()
            self._remove_files(garbage)

    def truncate(self, timeout: float | None = None) -> None:
        """Remove every row (all segments and the log) in one catalog transaction; keep schema and indexes."""
        with self.writing(f"truncate {self.name!r}", timeout) as st:
            segs = [seg for seg, _ in st.sealed]
            garbage = self._files_of(segs)
            new_wal = wal_name(st.lsn + 1)
            # A log that already starts after the last record holds no acknowledged record: it is kept.
            fresh = self._wal_name != new_wal
            if fresh:
                if self._wal_name:
                    garbage.append(self.wal_dir / self._wal_name)
                with self.catalog.transaction() as tx:
                    tx.add_intent(self.ctx.rel(self.wal_dir / new_wal), self.id, self.ctx.owner, "WRITE")
                self.wal_dir.mkdir(parents=True, exist_ok=True)
                wal = WriteAheadLog.create(self.wal_dir / new_wal, st.lsn + 1)
                fsync_dir(self.wal_dir)
            with self.catalog.transaction() as tx:
                for seg in segs:
                    tx.execute("delete from segment_indexes where segment_id = ?", [int(seg.key)])
                    tx.execute("delete from segments where id = ?", [int(seg.key)])
                tx.update("collections", "id = ?", [self.id], {"sealed_lsn": st.lsn, "wal_file": new_wal})
                tx.bump_version(self.id)
                if fresh:
                    tx.drop_intents([self.ctx.rel(self.wal_dir / new_wal)])
                for p in garbage:
                    tx.add_intent(self.ctx.rel(p), self.id, self.ctx.owner, "WRITE")
            if fresh:
                self._switch_wal(new_wal)
                self._wal = wal
                self._wal_offset = wal.header.end
            self._catalog_stale = True
            self._sync_locked()
            self._remove_files(garbage)

    def _files_of(self, segs: list[SealedSegment]) -> list[Path]:
        """Every file of these segments: data, delete sidecars and index directories."""
        if not segs:
            return []
        marks = ",".join("?" for _ in segs)
        ids = [int(s.key) for s in segs]
        with self.catalog.read() as tx:
            dels = tx.all(f"select del_file from segments where id in ({marks}) and del_file is not null", ids)
            idx = tx.all(f"select file from segment_indexes where segment_id in ({marks})", ids)
        out = [s.path for s in segs]
        out += [self.seg_dir / r["del_file"] for r in dels]
        out += [self.seg_dir / r["file"] for r in idx]
        for s in segs:
            d = self.seg_dir / f"{s.path.stem}.idx"
            if d.exists() and d not in out:
                out.append(d)
        return out

    # --- views -------------------------------------------------------------------
    def partitions(self) -> list[str]:
        """The partitions as of the last sync (the client syncs once per call, in `Database.get`)."""
        return list(self._state.partitions)

    def sealed_segments(self) -> list[SealedSegment]:
        return [s.data for s in self.snapshot.segments if isinstance(s.data, SealedSegment)]

    def row_count(self) -> int:
        """Live rows as of the last sync."""
        return self.snapshot.num_live

    @property
    def properties(self) -> dict[str, Any]:
        """The collection's properties (a fresh dict; parsed once per catalog state)."""
        raw = self._row.get("properties") or "{}"
        cached = self.__dict__.get("_props_of")
        if cached is None or cached[0] is not raw:
            parsed = dict(json.loads(raw))
            flat = all(isinstance(v, (str, int, float, bool, type(None))) for v in parsed.values())
            cached = self.__dict__["_props_of"] = (raw, parsed, flat)
        return dict(cached[1]) if cached[2] else dict(json.loads(raw))

    @property
    def row(self) -> dict[str, Any]:
        return dict(self._row)

    def state_for_maintenance(self) -> LiveState:
        """The current working state (call with `_state_lock` held, e.g. inside `writing`)."""
        return self._state

    def change_token(self) -> str:
        """Changes whenever the collection's committed or acknowledged data changes (see MilvusClient)."""
        self.sync()
        return f"{self.id}:{self._version}:{self._wal_name}:{self._wal_count}"

    def describe_for_files(self, **values: Any) -> dict[str, str]:
        """Arrow schema metadata that makes a segment file self-describing (see `engine.recovery`)."""
        from engine.collection_admin import index_rows

        specs = [{k: r[k] for k in ("index_name", "field", "index_type", "metric_type", "params")}
                 for r in index_rows(self)]
        return segment_metadata(collection_id=self.id, collection=self.name, database=self.db_name,
                                schema=self._schema_json, indexes=json.dumps(specs),
                                properties=self._row.get("properties") or "{}", **values)

    def segment_origins(self) -> dict[str, list[int]]:
        """Segment key -> ids of the segments it was merged or rebuilt from."""
        with self.catalog.read() as tx:
            rows = tx.all("select id, compacted_from from segments where collection_id = ? and state = 'sealed' "
                          "and compacted_from is not null", [self.id])
        return {str(r["id"]): [int(k) for k in json.loads(r["compacted_from"])] for r in rows}

    def release(self) -> None:
        self.indexes.release()
        for seg in self._segments.values():
            seg.release()

    def mark_stale(self) -> None:
        self._catalog_stale = True

    def close(self) -> None:
        with self._state_lock:
            if self._wal is not None:
                self._wal.close()
                self._wal = None
            if self._wal_fd >= 0:
                os.close(self._wal_fd)
                self._wal_fd = -1

    def commit_tx(self) -> Any:
        """A catalog transaction that also bumps this collection's version (for its own changes)."""
        return _VersionedTx(self)


def _index_row(r: dict[str, Any]) -> dict[str, Any]:
    from engine.indexing import params_key

    params = json.loads(r["params"] or "{}")
    return {**r, "params": params, "params_key": params_key(params)}


class _VersionedTx:
    def __init__(self, coll: Collection) -> None:
        self.coll = coll
        self._cm: Any = None

    def __enter__(self) -> Tx:
        self._cm = self.coll.catalog.transaction()
        tx = self._cm.__enter__()
        tx.bump_version(self.coll.id)
        return tx

    def __exit__(self, *exc: Any) -> Any:
        out = self._cm.__exit__(*exc)
        self.coll.mark_stale()
        return out
