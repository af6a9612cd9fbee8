"""A database directory: its catalog, its write lock, its collections, shared by every process that opens it.

Layout::

    my.db/
      catalog.sqlite         databases, collections, aliases, partitions, indexes, segments, file intents
      WRITE.lock             held (POSIX lock) by the process writing right now, with its pid and program
      collections/<id>/segments/seg_XXXXXXXX.arrow, seg_XXXXXXXX.del.<lsn>, seg_XXXXXXXX.idx/<field>/
      collections/<id>/wal/wal_XXXXXXXXXXXXXXXX.log
      collections/<id>/MAINT.lock   held by the process maintaining the collection (merges, index builds)
      trash/                 directories of dropped collections while they are being removed

Any number of processes open the same directory: reads take no lock, and each
write takes `WRITE.lock` for its own duration (see `engine.storage.locks`).
Within a process, every `MilvusClient` on one directory shares one `Database`;
it is closed when the last client is closed or garbage-collected. A forked child
never uses its parent's `Database` (see `_after_fork_in_child`).

Opening accounts for every file: each must be referenced by the catalog or
announced in its intent log. A data file that is neither, or a missing or
damaged catalog beside existing data, is reported (`CorruptionError` naming the
paths and what to do) and nothing is deleted on a guess.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import aliases, namespaces
from engine.collection import Collection, DbContext
from engine.errors import CollectionNotFoundError, CorruptionError, MilvusException, ParamError
from engine.maintenance import Maintainer
from engine.schema import CollectionSchema, check_name
from engine.storage import faults
from engine.storage.catalog import DEFAULT_DB, SCHEMA_VERSION, Catalog, now, recovery_advice
from engine.storage.fsutil import fsync_dir
from engine.storage.layout import account_for_files, clean_maint_intents, recover_intents
from engine.storage.locks import DEFAULT_WRITE_TIMEOUT, FileLock
from engine.storage.migrate import legacy_logs_pending, migrate_v1_logs

_REGISTRY: dict[str, weakref.ref[Database]] = {}
_REGISTRY_LOCK = threading.Lock()
_INHERITED: list[Any] = []  # what a forked child inherited: kept alive, never closed or used
_FORKS = [0]  # how many forks deep this process is (a client compares it instead of calling getpid)


def fork_generation() -> int:
    return _FORKS[0]


def _after_fork_in_child() -> None:
    """A forked child starts with no open database: it must not share its parent's locks or connections.

    The inherited objects are kept referenced (so no finalizer closes the parent's SQLite
    connection or unlocks anything from the child) and forgotten; a client used in the
    child reopens the database as a new process would."""
    global _REGISTRY_LOCK
    _REGISTRY_LOCK = threading.Lock()
    _FORKS[0] += 1
    for ref in list(_REGISTRY.values()):
        db = ref()
        if db is not None:
            db._inherited = True
            _INHERITED.append(db)
    _REGISTRY.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def no_opening_here(path: str | os.PathLike[str]) -> Iterator[bool]:
    """Hold off opening databases in this process, and tell whether the one at `path` is open here.

    While this process has a database open, SQLite holds POSIX locks on its catalog and the engine on
    its lock files, and closing *any* other descriptor of those files drops them (the kernel's rule).
    Code that reads such a file with a descriptor of its own (`engine.recovery_scan`) does so only
    inside this block and only when this yields False: then nothing of this process holds a lock
    there, and nothing can start to until the block ends."""
    key = str(Path(path).expanduser().resolve())
    with _REGISTRY_LOCK:
        ref = _REGISTRY.get(key)
        db = ref() if ref is not None else None
        yield db is not None and not db.closed


def open_database(path: str | os.PathLike[str], write_timeout: float | None = DEFAULT_WRITE_TIMEOUT) -> Database:
    """Open (or create) the database at `path`, shared with the other clients of this process."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ParamError(
            f"{p} is a file, not an engine database directory (is it a Milvus Lite file? open it with pymilvus)")
    p.mkdir(parents=True, exist_ok=True)
    key = str(p.resolve())
    with _REGISTRY_LOCK:
        ref = _REGISTRY.get(key)
        db = ref() if ref is not None else None
        if db is not None and not db.closed:
            return db
        db = Database(Path(key), write_timeout)
        _REGISTRY[key] = weakref.ref(db)
        return db


class _Resources:
    """What must be released when a Database goes away (kept apart so the finalizer holds no cycle)."""

    def __init__(self) -> None:
        self.catalog: Catalog | None = None
        self.write_lock: FileLock | None = None
        self.maintainer: Maintainer | None = None
        self.collections: dict[int, Collection] = {}
        self.pid = os.getpid()

    def close(self) -> None:
        if os.getpid() != self.pid:
            return  # inherited by a fork: the parent still owns all of it
        if self.maintainer is not None:
            self.maintainer.stop()
        for coll in list(self.collections.values()):
            coll.close()
            coll.maint_lock_close()
        self.collections.clear()
        if self.catalog is not None:
            self.catalog.close()
        if self.write_lock is not None:
            self.write_lock.close()


class Database:
    """One open database directory (use `open_database`)."""

    def __init__(self, path: Path, write_timeout: float | None = DEFAULT_WRITE_TIMEOUT) -> None:
        self.path = path
        self.closed = False
        self._inherited = False
        self.lock = threading.RLock()
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, self._res.close)
        catalog_path = path / "catalog.sqlite"
        fresh = not catalog_path.exists() or catalog_path.stat().st_size == 0
        if fresh:
            _refuse_if_data_without_catalog(path, catalog_path)
        self.write_lock = self._res.write_lock = FileLock.shared(path / "WRITE.lock")
        # A catalog without tables is either one another process is creating right now (it holds the
        # write lock until the tables exist) or one whose creator was killed first: both are decided
        # under the write lock, where an empty catalog beside collection data is still refused.
        self.catalog = self._res.catalog = Catalog(catalog_path, create=True)
        if fresh or self.catalog.version_on_open < SCHEMA_VERSION or legacy_logs_pending(path, self.catalog):
            with self.write_lock.held(write_timeout, f"create or upgrade {path}"):
                if not fresh and not self.catalog.has_tables():
                    _refuse_if_data_without_catalog(path, catalog_path)
                self.catalog.create_or_migrate()
                migrate_v1_logs(self.path, self.catalog)
        self.catalog.check_integrity()
        account_for_files(path, self.catalog)
        self.ctx = DbContext(path, self.catalog, self.write_lock, write_timeout)
        self.maintainer = self._res.maintainer = Maintainer()
        self.ctx.on_sealed = self.maintainer.kick
        self._collections = self._res.collections
        self._by_name: dict[tuple[str, str], Collection] = {}
        self._by_name_dv = -1
        if self.write_lock.try_acquire():  # nobody writes now: finish what a crashed writer left
            try:
                self._recover()
            finally:
                self.write_lock.release()

    # --- recovery ----------------------------------------------------------------
    def _recover(self) -> None:
        with self.catalog.read() as tx:
            dropping = tx.all("select id from collections where state = 'dropping'")
        for r in dropping:
            self._finish_drop(int(r["id"]))
        self._make_missing_directories()
        recover_intents(self.path, self.catalog)
        for empty in self.path.glob("collections/*/segments/*.idx"):
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()  # a crash came between removing an index and its directory
        with self.catalog.read() as tx:
            maint = [r["collection_id"] for r in tx.all("select distinct collection_id from pending_files "
                                                        "where lock = 'MAINT'")]
        for cid in maint:  # a maintainer died mid-job: clean up if no live process maintains it now
            lock = FileLock.shared(self.path / "collections" / str(cid) / "MAINT.lock")
            try:
                if lock.try_acquire():
                    try:
                        clean_maint_intents(self.path, self.catalog, cid)
                    finally:
                        lock.release()
            finally:
                lock.close()

    def _make_missing_directories(self) -> None:
        """Finish a create that committed its collection and was killed before making its directory.

        Only a collection that never stored anything (no segment, no log) can lack its directory that
        way; one holding data without a directory is damage, and reading it reports the missing path."""
        with self.catalog.read() as tx:
            rows = tx.all("select id from collections c where state = 'active' and wal_file is null and "
                          "not exists (select 1 from segments s where s.collection_id = c.id)")
        for r in rows:
            directory = self.path / "collections" / str(r["id"])
            if not directory.exists():
                directory.mkdir(parents=True)
                fsync_dir(directory.parent)

    def _finish_drop(self, cid: int) -> None:
        """Remove a dropped collection's directory (renamed into trash/ first) and forget it."""
        src = self.path / "collections" / str(cid)
        if src.exists():
            trash = self.path / "trash"
            trash.mkdir(exist_ok=True)
            dst = trash / f"{cid}-{uuid.uuid4().hex[:8]}"
            os.rename(src, dst)
            fsync_dir(src.parent)
            fsync_dir(trash)
            faults.point("drop.trashed")
        for leftover in (self.path / "trash").glob(f"{cid}-*") if (self.path / "trash").exists() else []:
            shutil.rmtree(leftover, ignore_errors=True)
        with self.catalog.transaction() as tx:
            seg_ids = [r["id"] for r in tx.all("select id from segments where collection_id = ?", [cid])]
            for sid in seg_ids:
                tx.execute("delete from segment_indexes where segment_id = ?", [sid])
            for table in ("segments", "indexes", "partitions", "aliases", "pending_files"):
                tx.execute(f"delete from {table} where collection_id = ?", [cid])
            tx.execute("delete from collections where id = ?", [cid])

    # --- collections -------------------------------------------------------------
    def _row(self, name: str, db_name: str) -> dict[str, Any] | None:
        row = self.catalog.collection_row(db_name, name)
        if row is None:
            with self.catalog.read() as tx:
                alias = tx.row("select collection_id from aliases where db_name = ? and alias = ?", [db_name, name])
                if alias is not None:
                    row = tx.row("select * from collections where id = ? and state = 'active'",
                                 [alias["collection_id"]])
        return row

    def names(self, db_name: str = DEFAULT_DB) -> list[str]:
        return [r["name"] for r in self.catalog.collection_rows(db_name)]

    def get(self, name: str, db_name: str = DEFAULT_DB) -> Collection:
        self._check_open()
        dv = self.catalog.recent_data_version()
        coll = self._by_name.get((db_name, name))
        if coll is None or coll.gone or dv != self._by_name_dv:  # resolve the name in the catalog again
            row = self._row(name, db_name)
            if row is None:
                raise CollectionNotFoundError(
                    f"collection {name!r} does not exist in database {db_name!r}; existing: {self.names(db_name)}")
            with self.lock:
                if dv != self._by_name_dv:
                    self._by_name, self._by_name_dv = {}, dv
                coll = self._collections.get(row["id"])
                if coll is None or coll.gone:
                    coll = Collection(self.ctx, row)
                    self._collections[row["id"]] = coll
                self._by_name[(db_name, name)] = coll
        coll.sync(dv)
        return coll

    def _names_changed(self) -> None:
        """This process renamed, dropped or replaced a collection: names resolve anew."""
        with self.lock:
            self._by_name = {}

    def has(self, name: str, db_name: str = DEFAULT_DB) -> bool:
        return self._row(name, db_name) is not None

    def create(self, name: str, schema: CollectionSchema, properties: dict[str, Any], consistency: str,
               db_name: str = DEFAULT_DB, timeout: float | None = None, partitions: list[str] | None = None,
               loaded: bool = False) -> int:
        """Create a collection with `partitions` (default: `_default`), loaded or not, in one catalog
        transaction; returns its id. Ids and directories are never reused."""
        check_name(name, "collection name")
        schema.validate()
        with self.ctx.writing(f"create collection {name!r}", timeout):
            with self.catalog.transaction() as tx:
                namespaces.check_room_for_collection(tx, db_name)
                if tx.row("select id from collections where db_name = ? and name = ? and state = 'active'",
                          [db_name, name]) is not None:
                    raise MilvusException(f"collection {name!r} already exists in database {db_name!r}")
                if tx.row("select 1 from aliases where db_name = ? and alias = ?", [db_name, name]) is not None:
                    raise MilvusException(f"{name!r} is already an alias in database {db_name!r}")
                cid = tx.next_id("last_collection_id")
                tx.insert("collections", {
                    "id": cid, "db_name": db_name, "name": name, "schema": schema.to_json(),
                    "description": schema.description, "created": now(), "properties": json.dumps(properties),
                    "consistency_level": consistency, "sealed_lsn": 0, "last_auto_id": 0, "loaded": int(loaded),
                    "state": "active", "wal_file": None, "version": 0})
                created = now()
                for i, part in enumerate(partitions or ["_default"]):  # listed in this order
                    tx.insert("partitions", {"collection_id": cid, "name": part, "created": created + i * 1e-6})
            faults.point("create.committed")
            directory = self.path / "collections" / str(cid)
            directory.mkdir(parents=True, exist_ok=False)
            fsync_dir(directory.parent)
        return cid

    def drop(self, name: str, db_name: str = DEFAULT_DB, timeout: float | None = None) -> None:
        """Drop a collection: one commit marks it dropped (it is gone from then on); its files go after."""
        with self.ctx.writing(f"drop collection {name!r}", timeout):
            with self.catalog.transaction() as tx:
                row = tx.row("select * from collections where db_name = ? and name = ? and state = 'active'",
                             [db_name, name])
                aliases.check_droppable(tx, db_name, name, row)
                if row is None:
                    return
                tx.update("collections", "id = ?", [row["id"]], {"state": "dropping", "version": row["version"] + 1})
                tx.execute("delete from aliases where collection_id = ?", [row["id"]])
            self._names_changed()
            faults.point("drop.marked")
            self._forget(row["id"])
            self._finish_drop(int(row["id"]))

    def _forget(self, cid: int) -> None:
        with self.lock:
            coll = self._collections.pop(cid, None)
        if coll is not None:
            coll.gone = True
            coll.close()

    def rename(self, old: str, new: str, db_name: str = DEFAULT_DB, new_db: str | None = None,
               timeout: float | None = None) -> None:
        check_name(new, "collection name")
        target_db = new_db or db_name
        with self.ctx.writing(f"rename collection {old!r}", timeout):
            with self.catalog.transaction() as tx:
                row = tx.row("select * from collections where db_name = ? and name = ? and state = 'active'",
                             [db_name, old])
                aliases.check_renamable(tx, db_name, old, target_db, row)
                if row is None:
                    raise CollectionNotFoundError(f"collection {old!r} does not exist in database {db_name!r}")
                if target_db != db_name:
                    namespaces.check_room_for_collection(tx, target_db)
                else:
                    namespaces.database_row(tx, target_db)
                if tx.row("select 1 from collections where db_name = ? and name = ? and state = 'active'",
                          [target_db, new]) is not None:
                    raise MilvusException(f"collection {new!r} already exists in database {target_db!r}")
                if tx.row("select 1 from aliases where db_name = ? and alias = ?", [target_db, new]) is not None:
                    raise MilvusException(f"{new!r} is already an alias in database {target_db!r}")
                tx.update("collections", "id = ?", [row["id"]],
                          {"name": new, "db_name": target_db, "version": row["version"] + 1})
            self._names_changed()
            with self.lock:
                coll = self._collections.get(row["id"])
            if coll is not None:
                coll.name, coll.db_name = new, target_db
                coll.mark_stale()

    def replace(self, source: str, target: str, db_name: str = DEFAULT_DB, timeout: float | None = None) -> None:
        """Make `source` the collection named `target` in one commit, dropping the old `target` (if any).

        Readers see the old `target` or the new one, never neither; on error nothing changes."""
        check_name(target, "collection name")
        if source == target:
            raise ParamError(f"cannot replace collection {target!r} with itself")
        with self.ctx.writing(f"replace collection {target!r} with {source!r}", timeout):
            src, old = self._replace_in_catalog(source, target, db_name)
            if src is None:
                return
            with self.lock:
                coll = self._collections.get(src["id"])
            if coll is not None:
                coll.name = target
                coll.mark_stale()
            self._names_changed()
            faults.point("replace.committed")
            if old is not None:
                self._forget(old["id"])
                self._finish_drop(int(old["id"]))

    def _replace_in_catalog(self, source: str, target: str, db_name: str) -> tuple[Any, Any]:
        """The one transaction of `replace`: (source row, old target row), or (None, None) if nothing to do."""
        try:
            with self.catalog.transaction() as tx:
                src = tx.row("select * from collections where db_name = ? and name = ? and state = 'active'",
                             [db_name, source])
                if src is None:
                    raise CollectionNotFoundError(f"cannot replace {target!r} with {source!r}: collection "
                                                  f"{source!r} does not exist in database {db_name!r}")
                old = tx.row("select * from collections where db_name = ? and name = ? and state = 'active'",
                             [db_name, target])
                if old is not None:  # the old target's aliases now name the collection in its place
                    tx.update("collections", "id = ?", [old["id"]], {"state": "dropping", "version": old["version"] + 1})
                    tx.execute("update aliases set collection_id = ? where collection_id = ?", [src["id"], old["id"]])
                tx.update("collections", "id = ?", [src["id"]], {"name": target, "version": src["version"] + 1})
        except MilvusException:
            raise
        except Exception as e:  # rolled back: both collections are as they were
            raise MilvusException(f"replacing collection {target!r} with {source!r} failed, nothing was changed: "
                                  f"{type(e).__name__}: {e}") from e
        return src, old

    # --- state ---------------------------------------------------------------------
    def write_holder(self) -> dict[str, Any] | None:
        """Who holds the write lock now (pid, program, since), or None."""
        return self.write_lock.holder()

    def _check_open(self) -> None:
        if self.closed:
            raise MilvusException(f"database {self.path} is closed")

    def close(self) -> None:
        """Close now: stop background maintenance, close files and release locks."""
        if self.closed or self._inherited:
            return
        self.closed = True
        with _REGISTRY_LOCK:
            ref = _REGISTRY.get(str(self.path))
            if ref is not None and ref() is self:
                del _REGISTRY[str(self.path)]
        self._finalizer()


def _refuse_if_data_without_catalog(path: Path, catalog_path: Path) -> None:
    colls = path / "collections"
    leftovers = sorted(p.name for p in colls.iterdir()) if colls.is_dir() else []
    if leftovers:
        state = "is empty" if catalog_path.exists() else "is missing"
        raise CorruptionError(
            f"{catalog_path} {state}, but {colls} holds data of collections {leftovers[:10]}: the catalog was lost "
            f"or damaged. {recovery_advice(path)}", str(catalog_path))
