"""Database (namespace) calls of `MilvusClient`, and the per-database access switches.

A client works in one database at a time: `MilvusClient(path, db_name=...)` (default `default`) or
`use_database(name)` (`using_database` is pymilvus's deprecated name for it) choose it, and every
collection call then names a collection of that database. As with pymilvus, naming a database that
does not exist is not an error until a call needs it (`use_database` checks at once).

`guard_database_access` makes `insert`, `upsert` and `delete` refuse while the current database's
`database.force.deny.writing` is true, and reads (`search`, `query`, `get`, `hybrid_search`, the
iterators) while `database.force.deny.reading` is true, as Milvus's quota centre does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engine import namespaces
from engine.errors import AccessDeniedError, DatabaseNotFoundError, ParamError, brief
from engine.storage.catalog import DEFAULT_DB

if TYPE_CHECKING:
    from engine.collection import Collection
    from engine.database import Database

T = TypeVar("T")

DENIED_WRITES = ("insert", "upsert", "delete")
DENIED_READS = ("search", "query", "get", "hybrid_search", "query_iterator", "search_iterator")


def current_db_arg(db_name: Any) -> str:
    """The database a client starts in: `db_name` ("" means `default`), checked by Milvus's naming rules."""
    if db_name is None or db_name == "":
        return DEFAULT_DB
    return namespaces.check_db_name(db_name)


class DatabasesMixin:
    """Mixed into MilvusClient; relies on its `db` and `_db_name`."""

    _db_name: str

    @property
    def db(self) -> Database:  # provided by MilvusClient
        raise NotImplementedError

    def create_database(self, db_name: str, properties: dict[str, Any] | None = None, timeout: float | None = None,
                        **kwargs: Any) -> None:
        """Create a database (a namespace for collections), with optional properties (see docs/engine.md)."""
        namespaces.create_database(self.db, db_name, properties, timeout)

    def drop_database(self, db_name: str, **kwargs: Any) -> None:
        """Drop an empty database; `default`, a missing database and one holding collections are refused."""
        namespaces.drop_database(self.db, db_name, kwargs.get("timeout"))

    def list_databases(self, timeout: float | None = None, **kwargs: Any) -> list[str]:
        return namespaces.list_databases(self.db)

    def describe_database(self, db_name: str, **kwargs: Any) -> dict[str, Any]:
        """`{"name": ..., <property>: <value as text>...}`; "" describes the current database."""
        return namespaces.describe_database(self.db, db_name or self._db_name)

    def alter_database_properties(self, db_name: str, properties: dict[str, Any], **kwargs: Any) -> None:
        namespaces.alter_database_properties(self.db, db_name, properties, kwargs.get("timeout"))

    def drop_database_properties(self, db_name: str, property_keys: list[str], **kwargs: Any) -> None:
        namespaces.drop_database_properties(self.db, db_name, property_keys, kwargs.get("timeout"))

    def use_database(self, db_name: str, **kwargs: Any) -> None:
        """Make `db_name` the current database; DatabaseNotFoundError if it does not exist."""
        if not isinstance(db_name, str) or not db_name:
            raise ParamError(f"db_name must be a non-empty string, got {brief(db_name, 80)}")
        namespaces.describe_database(self.db, db_name)
        self._db_name = db_name

    def using_database(self, db_name: str, **kwargs: Any) -> None:
        """pymilvus's deprecated name for `use_database`."""
        self.use_database(db_name, **kwargs)

    def _missing_database(self) -> DatabaseNotFoundError | None:
        """The error to raise when the current database does not exist (dropped, or never created)."""
        if self._db_name == DEFAULT_DB or self._db_name in namespaces.list_databases(self.db):
            return None
        return DatabaseNotFoundError(f"database {self._db_name!r} does not exist")

    def _check_replicas(self, coll: Collection) -> None:
        """`database.replica.number` / `collection.replica.number` other than 1 make a load fail, as on a Milvus
        with one query node."""
        from engine.collection_props import REPLICAS

        props = namespaces.database_properties(self.db, coll.db_name)
        namespaces.check_replicas(namespaces.REPLICA_NUMBER, props.get(namespaces.REPLICA_NUMBER),
                                  f"collection {coll.name!r} of database {coll.db_name!r}")
        value = coll.properties.get(REPLICAS)
        namespaces.check_replicas(REPLICAS, None if value is None else str(value), f"collection {coll.name!r}")

    def _check_access(self, kind: str) -> None:
        """Refuse a write or read that the current database's `database.force.deny.*` property forbids."""
        db = self.db
        stamp = db.catalog.recent_stamp()  # the state the call resolves at (engine/client/retry.py pins it)
        cached = getattr(self, "_access_cache", None)
        if cached is None or cached[0] != (stamp, self._db_name):
            try:
                props = namespaces.database_properties(db, self._db_name)
            except DatabaseNotFoundError:
                props = {}
            cached = ((stamp, self._db_name), props)
            self._access_cache = cached
        key = namespaces.DENY_WRITING if kind == "write" else namespaces.DENY_READING
        text = cached[1].get(key)
        if text is not None and namespaces.parse_bool(key, text):
            raise AccessDeniedError(f"deny to {kind}: database {self._db_name!r} has {key}={text}")


def guard_database_access(cls: type[T]) -> type[T]:
    """Class decorator: DML and reads first check the current database's `database.force.deny.*`."""
    for names, kind in ((DENIED_WRITES, "write"), (DENIED_READS, "read")):
        for name in names:
            fn = getattr(cls, name, None)
            if fn is not None:
                setattr(cls, name, _guarded(fn, kind))
    return cls


def _guarded(fn: Callable[..., Any], kind: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._check_access(kind)
        return fn(self, *args, **kwargs)

    return call
