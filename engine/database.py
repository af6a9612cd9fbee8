"""A database directory: its lock, its catalog and its open collections.

Layout::

    my.db/
      LOCK                   held (flock) by the one process that writes
      catalog.sqlite         collections, partitions, indexes, segments
      collections/<id>/segments/seg_XXXXXXXX.arrow
      collections/<id>/wal/wal_XXXXXXXXXXXXXXXX.log

Several `MilvusClient`s in one process share one `Database` per directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from engine.collection import Collection
from engine.errors import CollectionNotFoundError, MilvusException, ParamError, ReadOnlyError
from engine.schema import CollectionSchema, check_name
from engine.storage.catalog import Catalog, now

_REGISTRY: dict[str, tuple[Database, int]] = {}
_REGISTRY_LOCK = threading.Lock()


def open_database(path: str | os.PathLike[str]) -> Database:
    """Open (or create) the database at `path`, sharing it within the process."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ParamError(
            f"{p} is a file, not an engine database directory (is it a Milvus Lite file? open it with pymilvus)"
        )
    p.mkdir(parents=True, exist_ok=True)
    key = str(p.resolve())
    with _REGISTRY_LOCK:
        if key in _REGISTRY:
            db, refs = _REGISTRY[key]
            _REGISTRY[key] = (db, refs + 1)
            return db
        db = Database(Path(key))
        _REGISTRY[key] = (db, 1)
        return db


def close_database(db: Database) -> None:
    key = str(db.path)
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            return
        _, refs = _REGISTRY[key]
        if refs > 1:
            _REGISTRY[key] = (db, refs - 1)
            return
        del _REGISTRY[key]
    db.close()


class Database:
    """One open database directory (use `open_database`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fh = open(path / "LOCK", "a+")
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            raise ReadOnlyError(f"database {path} is open in another process; close it there first") from None
        self._lock_fh.seek(0)
        self._lock_fh.truncate()
        self._lock_fh.write(str(os.getpid()))
        self._lock_fh.flush()
        self.catalog = Catalog(path / "catalog.sqlite")
        self.lock = threading.RLock()
        self._collections: dict[str, Collection] = {}

    # --- collections -----------------------------------------------------
    def names(self) -> list[str]:
        return [r["name"] for r in self.catalog.collections()]

    def get(self, name: str) -> Collection:
        with self.lock:
            coll = self._collections.get(name)
            if coll is not None:
                return coll
            row = self.catalog.collection(name)
            if row is None:
                raise CollectionNotFoundError(f"collection {name!r} does not exist; existing: {self.names()}")
            coll = Collection(self.catalog, row, self.path / "collections" / str(row["id"]))
            self._collections[name] = coll
            return coll

    def has(self, name: str) -> bool:
        return self.catalog.collection(name) is not None

    def create(self, name: str, schema: CollectionSchema, properties: dict[str, Any], consistency: str) -> None:
        check_name(name, "collection name")
        schema.validate()
        with self.lock:
            if self.has(name):
                raise MilvusException(f"collection {name!r} already exists")
            with self.catalog.transaction() as db:
                db.table("collections").insert(
                    {
                        "name": name,
                        "schema": schema.to_json(),
                        "description": schema.description,
                        "created": now(),
                        "properties": json.dumps(properties),
                        "consistency_level": consistency,
                        "sealed_lsn": 0,
                        "last_auto_id": 0,
                        "loaded": 0,
                    }
                )
                cid = db.execute("select id from collections where name = ?", [name]).fetchone()[0]
                db.table("partitions").insert({"collection_id": cid, "name": "_default", "created": now()})

    def drop(self, name: str) -> None:
        with self.lock:
            row = self.catalog.collection(name)
            if row is None:
                return
            coll = self._collections.pop(name, None)
            if coll is not None:
                coll.close()
            cid = row["id"]
            with self.catalog.transaction() as db:
                seg_ids = [r[0] for r in db.execute("select id from segments where collection_id = ?", [cid])]
                for sid in seg_ids:
                    db.execute("delete from segment_indexes where segment_id = ?", [sid])
                for table in ("segments", "indexes", "partitions"):
                    db.execute(f"delete from {table} where collection_id = ?", [cid])
                db.execute("delete from collections where id = ?", [cid])
            shutil.rmtree(self.path / "collections" / str(cid), ignore_errors=True)

    def rename(self, old: str, new: str) -> None:
        check_name(new, "collection name")
        with self.lock:
            if not self.has(old):
                raise CollectionNotFoundError(f"collection {old!r} does not exist")
            if self.has(new):
                raise MilvusException(f"collection {new!r} already exists")
            with self.catalog.transaction() as db:
                db.execute("update collections set name = ? where name = ?", [new, old])
            coll = self._collections.pop(old, None)
            if coll is not None:
                coll.name = new
                self._collections[new] = coll

    def close(self) -> None:
        with self.lock:
            for coll in self._collections.values():
                coll.close()
            self._collections.clear()
            self.catalog.close()
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
