"""The SQLite catalog: databases, collections, aliases, partitions, indexes, segments and file intents.

The catalog is the source of truth for which files exist. Every change is one
`BEGIN IMMEDIATE … COMMIT` transaction, made while holding the database's write
lock (see `engine.storage.locks`). Reads run in a deferred transaction, so one
read sees one committed state even while another process writes (SQLite's WAL
journal gives every reader a snapshot).

Every file the engine creates is announced first in `pending_files` (an intent
log) in its own committed transaction; the transaction that makes the file part
of the data removes the intent. So at any moment every data file is explained:
either the catalog references it, or an intent names it. A file that is neither
is never deleted on a guess: opening the database reports it (see
`engine.storage.layout`).

Ids of collections and segments come from counters in `meta` and are never
reused, even after a drop, so a directory or file name can never be adopted by
a later collection.

Plain `sqlite3` is used (no sqlite-utils): it keeps the engine's import cheap.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import CorruptionError, MilvusException
from engine.storage import faults

SCHEMA_VERSION = 2
DEFAULT_DB = "default"

_TABLES = """
create table if not exists meta (key text primary key, value text);
create table if not exists databases (name text primary key, properties text not null default '{}',
    created real);
create table if not exists collections (
    id integer primary key, db_name text not null default 'default', name text not null,
    schema text not null, description text, created real, properties text, consistency_level text,
    sealed_lsn integer not null default 0, last_auto_id integer not null default 0,
    loaded integer not null default 0, state text not null default 'active', wal_file text,
    version integer not null default 0);
create unique index if not exists collections_active_name on collections (db_name, name) where state = 'active';
create table if not exists aliases (db_name text not null, alias text not null, collection_id integer not null,
    created real, primary key (db_name, alias));
create table if not exists partitions (collection_id integer not null, name text not null, created real,
    primary key (collection_id, name));
create table if not exists indexes (collection_id integer not null, index_name text not null, field text,
    index_type text, metric_type text, params text, created real, primary key (collection_id, index_name));
create table if not exists segments (
    id integer primary key, collection_id integer not null, partition text, file text, rows integer,
    size integer, crc32 integer, state text, created real, deleted blob, deleted_count integer not null default 0,
    level integer not null default 0, del_file text, del_crc integer, compacted_from text,
    graph_fields text);
create table if not exists segment_indexes (segment_id integer not null, field text not null, file text,
    size integer, crc32 integer, params text, holds_vectors integer not null default 0,
    primary key (segment_id, field));
create table if not exists pending_files (path text primary key, collection_id integer, owner text,
    lock text, created real);
"""

# Columns added in schema version 2 to tables that version 1 (sqlite-utils) created.
_V2_COLUMNS = {
    "collections": [("db_name", "text not null default 'default'"), ("state", "text not null default 'active'"),
                    ("wal_file", "text"), ("version", "integer not null default 0")],
    "segments": [("level", "integer not null default 0"), ("del_file", "text"), ("del_crc", "integer"),
                 ("compacted_from", "text"), ("graph_fields", "text")],
    "segment_indexes": [("holds_vectors", "integer not null default 0")],
}


class CatalogBusyError(MilvusException):
    """SQLite stayed locked by another process for longer than the busy timeout."""


def now() -> float:
    return time.time()


class Catalog:
    """Metadata store of one database directory (one connection, shared by the process's threads)."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.commits = 0  # this connection's commits (PRAGMA data_version counts only other connections')
        self._pinned = threading.local()  # see pin_data_version
        try:
            self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
            self.conn.execute("pragma busy_timeout = 30000")
            mode = self.conn.execute("pragma journal_mode = wal").fetchone()[0]
            self.conn.execute("pragma synchronous = full")
            if str(mode).lower() != "wal":
                raise CorruptionError(f"catalog {path}: cannot use SQLite's WAL journal (got {mode})", str(path))
            tables = {r[0] for r in self.conn.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise damaged(path, f"is damaged or is not an engine catalog: {e}") from None
        self.version_on_open = self._stored_version(tables)
        if not tables and not create:
            raise damaged(path, "is empty")

    def has_tables(self) -> bool:
        """Whether the catalog holds any table (False for one created but never initialised)."""
        with self.lock:
            return self.conn.execute("select 1 from sqlite_master where type = 'table' limit 1").fetchone() is not None

    # --- schema ------------------------------------------------------------
    def _stored_version(self, tables: set[str]) -> int:
        if "meta" not in tables:
            return 0
        row = self.conn.execute("select value from meta where key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def check_integrity(self) -> None:
        """`PRAGMA quick_check`; raises CorruptionError naming the file when SQLite finds damage."""
        with self.lock:
            try:
                rows = [r[0] for r in self.conn.execute("pragma quick_check")]
            except sqlite3.DatabaseError as e:
                raise damaged(self.path, f"is damaged: {e}") from None
        if rows != ["ok"]:
            raise damaged(self.path, f"is damaged: {'; '.join(rows[:5])}")

    def create_or_migrate(self) -> None:
        """Create the tables, or migrate a version-1 catalog in place (call with the write lock held)."""
        with self.transaction() as c:
            existing = {r[0] for r in c.execute("select name from sqlite_master where type = 'table'")}
            version = self._stored_version(existing)
            if version > SCHEMA_VERSION:
                raise MilvusException(
                    f"catalog {self.path} has schema version {version}; this engine reads up to {SCHEMA_VERSION}: "
                    "upgrade vector-workbench")
            if version == 1:
                for table, cols in _V2_COLUMNS.items():
                    have = {r[1] for r in c.execute(f"pragma table_info({table})")}
                    for name, decl in cols:
                        if name not in have:
                            c.execute(f"alter table {table} add column {name} {decl}")
                c.execute("drop index if exists idx_collections_name")
            c.executescript_in_tx(_TABLES)
            c.execute("insert or ignore into databases (name, properties, created) values (?, '{}', ?)",
                      [DEFAULT_DB, now()])
            for key, sql in (("last_collection_id", "select coalesce(max(id), 0) from collections"),
                             ("last_segment_id", "select coalesce(max(id), 0) from segments")):
                current = c.one(sql)[0]
                c.execute("insert or ignore into meta (key, value) values (?, ?)", [key, str(current)])
            c.execute("insert or replace into meta (key, value) values ('schema_version', ?)", [str(SCHEMA_VERSION)])

    # --- transactions ------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One atomic write transaction (BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error)."""
        with self.lock:
            self._begin("begin immediate")
            try:
                yield Tx(self.conn, self.path)
                faults.point("catalog.precommit")
            except BaseException:
                self.conn.execute("rollback")
                raise
            try:
                self.conn.execute("commit")
            except sqlite3.DatabaseError as e:
                self.conn.execute("rollback")
                raise _wrap(e, self.path) from None
            self.commits += 1

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction: every query inside sees one committed state."""
        with self.lock:
            self._begin("begin")
            try:
                yield Tx(self.conn, self.path)
            finally:
                self.conn.execute("commit")

    def _begin(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except sqlite3.OperationalError as e:
            raise _wrap(e, self.path) from None
        except sqlite3.DatabaseError as e:
            raise _wrap(e, self.path) from None

    def data_version(self) -> int:
        """Changes whenever another connection (process) commits to the catalog.

        Always SQLite's own `PRAGMA data_version`. The engine never opens SQLite's files (the catalog,
        its ``-wal`` or ``-shm``) with descriptors of its own: closing any descriptor of a file drops
        every POSIX lock this process holds on it, SQLite's included, and then another process opening
        the database believes itself alone and re-initialises the WAL index this one is using
        (sqlite.org/howtocorrupt.html, 2.2; tests/test_sqlite_locks.py)."""
        with self.lock:
            return int(self.conn.execute("pragma data_version").fetchone()[0])

    def stamp(self) -> tuple[int, int]:
        """Changes whenever anyone, this process included, commits to the catalog."""
        return self.data_version(), self.commits

    def recent_stamp(self) -> tuple[int, int]:
        """`stamp()` with the data_version this thread's call pinned (see `pin_data_version`), if any."""
        return self.recent_data_version(), self.commits

    def pin_data_version(self, dv: int | None) -> None:
        """Let this thread's `recent_data_version` answer `dv` (None: ask SQLite again).

        A public read call reads `data_version` once as it starts (engine/client/retry.py) and pins
        it, so resolving its collection does not ask SQLite a second time: the state a call sees is
        the one committed when it began."""
        self._pinned.dv = dv

    def recent_data_version(self) -> int:
        dv = getattr(self._pinned, "dv", None)
        return self.data_version() if dv is None else dv

    # --- reads (each in its own read transaction) ----------------------------
    def collection_rows(self, db_name: str | None = None) -> list[dict[str, Any]]:
        with self.read() as c:
            if db_name is None:
                return c.all("select * from collections where state = 'active' order by id")
            return c.all("select * from collections where state = 'active' and db_name = ? order by id", [db_name])

    def collection_row(self, db_name: str, name: str) -> dict[str, Any] | None:
        with self.read() as c:
            return c.row("select * from collections where state = 'active' and db_name = ? and name = ?",
                         [db_name, name])

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class Tx:
    """The cursor-level helpers used inside `Catalog.transaction` / `Catalog.read`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, list(params))
        except sqlite3.IntegrityError as e:
            raise MilvusException(f"catalog {self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise _wrap(e, self.path) from None

    def executescript_in_tx(self, script: str) -> None:
        for stmt in script.split(";"):
            if stmt.strip():
                self.execute(stmt)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        row = self.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        cur = self.execute(sql, params)
        r = cur.fetchone()
        if r is None:
            return None
        return dict(zip([d[0] for d in cur.description], r))

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def insert(self, table: str, values: dict[str, Any]) -> None:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.execute(f"insert into {table} ({cols}) values ({marks})", list(values.values()))

    def update(self, table: str, where: str, where_params: Sequence[Any], values: dict[str, Any]) -> int:
        sets = ", ".join(f"{k} = ?" for k in values)
        return self.execute(f"update {table} set {sets} where {where}", [*values.values(), *where_params]).rowcount

    def next_id(self, counter: str) -> int:
        """The next value of a `meta` counter (`last_collection_id`, `last_segment_id`); never reused."""
        value = int(self.one("select value from meta where key = ?", [counter])[0]) + 1
        self.execute("update meta set value = ? where key = ?", [str(value), counter])
        return value

    def bump_version(self, collection_id: int) -> None:
        self.execute("update collections set version = version + 1 where id = ?", [collection_id])

    def add_intent(self, path: str, collection_id: int | None, owner: str, lock: str) -> None:
        self.insert("pending_files", {"path": path, "collection_id": collection_id, "owner": owner, "lock": lock,
                                      "created": now()})

    def drop_intents(self, paths: Sequence[str]) -> None:
        for p in paths:
            self.execute("delete from pending_files where path = ?", [p])


def _wrap(e: sqlite3.DatabaseError, path: Path) -> MilvusException:
    text = str(e)
    if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return CatalogBusyError(f"catalog {path} stayed locked by another process: {text}")
    if isinstance(e, sqlite3.OperationalError) and "readonly" in text:
        return MilvusException(f"catalog {path} is read-only here: {text}")
    return damaged(path, f"is damaged: {text}")


def recovery_advice(root: Path) -> str:
    return (f"Nothing was changed. Run `workbench db check {root}` for a report, and "
            f"`workbench db recover {root} --to NEW_PATH` to rebuild a database from the segment and log files.")


def damaged(path: Path, what: str) -> CorruptionError:
    """The error for a damaged catalog: names the file and says what to do."""
    return CorruptionError(f"catalog {path} {what}. {recovery_advice(path.parent)}", str(path))


def json_list(text: str | None) -> list[Any]:
    return list(json.loads(text)) if text else []
