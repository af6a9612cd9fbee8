"""The SQLite catalog (through sqlite-utils): collections, partitions, indexes, segments.

Every change is one transaction. The catalog is the source of truth for which
segment files exist; a file on disk that the catalog does not list is an
orphan from an interrupted seal and is removed at open.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

SCHEMA_VERSION = 1


class Catalog:
    """Metadata store of one database directory."""

    def __init__(self, path: Path) -> None:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        self._last_segment_id = 0  # the highest id next_segment_id handed out (reserved until committed)
        self._create_tables()

    def _create_tables(self) -> None:
        db = self.db
        with self.transaction():
            db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db.table("collections").create(
                {
                    "id": int,
                    "name": str,
                    "schema": str,
                    "description": str,
                    "created": float,
                    "properties": str,
                    "consistency_level": str,
                    "sealed_lsn": int,
                    "last_auto_id": int,
                    "loaded": int,
                },
                pk="id",
                not_null={"name", "schema"},
                if_not_exists=True,
            )
            db.table("collections").create_index(["name"], unique=True, if_not_exists=True)
            db.table("partitions").create(
                {"collection_id": int, "name": str, "created": float},
                pk=("collection_id", "name"),
                foreign_keys=[("collection_id", "collections", "id")],
                if_not_exists=True,
            )
            db.table("indexes").create(
                {
                    "collection_id": int,
                    "index_name": str,
                    "field": str,
                    "index_type": str,
                    "metric_type": str,
                    "params": str,
                    "created": float,
                },
                pk=("collection_id", "index_name"),
                foreign_keys=[("collection_id", "collections", "id")],
                if_not_exists=True,
            )
            db.table("segments").create(
                {
                    "id": int,
                    "collection_id": int,
                    "partition": str,
                    "file": str,
                    "rows": int,
                    "size": int,
                    "crc32": int,
                    "state": str,
                    "created": float,
                    "deleted": bytes,
                    "deleted_count": int,
                },
                pk="id",
                foreign_keys=[("collection_id", "collections", "id")],
                if_not_exists=True,
            )
            db.table("segment_indexes").create(
                {"segment_id": int, "field": str, "file": str, "size": int, "crc32": int, "params": str},
                pk=("segment_id", "field"),
                if_not_exists=True,
            )
            db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One atomic transaction (BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error)."""
        with self.lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- reads -----------------------------------------------------------
    def collections(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.db.table("collections").rows_where(order_by="id"))

    def collection(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            rows = list(self.db.table("collections").rows_where("name = ?", [name]))
        return rows[0] if rows else None

    def partitions(self, collection_id: int) -> list[str]:
        with self.lock:
            return [
                r["name"]
                for r in self.db.table("partitions").rows_where("collection_id = ?", [collection_id], order_by="created, name")
            ]

    def indexes(self, collection_id: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = list(self.db.table("indexes").rows_where("collection_id = ?", [collection_id], order_by="created"))
        for r in rows:
            r["params"] = json.loads(r["params"] or "{}")
        return rows

    def segments(self, collection_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(
                self.db.table("segments").rows_where("collection_id = ? and state = 'sealed'", [collection_id], order_by="id")
            )

    def next_segment_id(self) -> int:
        """A new segment id, never handed out twice: a seal and a compaction running at once
        (or seals of two collections) must not both write and register `seg_<id>`."""
        with self.lock:
            row = self.db.execute("select coalesce(max(id), 0) + 1 from segments").fetchone()
            self._last_segment_id = max(int(row[0]), self._last_segment_id + 1)
            return self._last_segment_id

    def close(self) -> None:
        with self.lock:
            self.db.conn.close()


def now() -> float:
    return time.time()
