"""Databases: the namespaces of a database directory (`default`, plus those created).

A Milvus *database* is a namespace of collections. Here every namespace lives in
the one directory the engine owns: the catalog's `databases` table lists them
(with their properties, as text, the way pymilvus sends them), and every
collection and alias row names its database. Creating, altering and dropping a
database is one catalog transaction made under the write lock, like every other
catalog change; no file is written, so there is nothing else to recover.

Properties (docs/engine.md, "Databases"): Milvus gives meaning to some keys.
The engine honours `database.max.collections` (creating or moving a collection
into a full database is refused), `database.force.deny.writing` and
`database.force.deny.reading` (checked by `engine.client.databases`), and
`database.replica.number` as a Milvus with one query node does: stored, and
applied when a collection of the database is loaded, where any number but 1 is
refused (one process serves one copy). Keys it cannot honour
(`database.resource_groups`, `database.diskQuota.mb`, `timezone` and the
encryption keys `cipher.*`) are refused with `UnsupportedError`. Any other key
is stored and reported, as Milvus stores it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from engine.errors import DatabaseNotFoundError, MilvusException, ParamError, UnsupportedError, brief
from engine.storage.catalog import DEFAULT_DB, Tx, now

if TYPE_CHECKING:
    from engine.database import Database

MAX_DATABASES = 64  # Milvus's rootCoord.maxDatabaseNum, not counting `default`
MAX_NAME_LENGTH = 255
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

REPLICA_NUMBER = "database.replica.number"
MAX_COLLECTIONS = "database.max.collections"
DENY_WRITING = "database.force.deny.writing"
DENY_READING = "database.force.deny.reading"
_UNSUPPORTED = {
    "database.resource_groups": "resource groups are a Milvus cluster feature; the engine is one process",
    "database.diskQuota.mb": "the engine does not enforce disk quotas",
    "timezone": "a database-level time zone is not implemented; set the collection's timezone property or pass "
                "timezone= per call",
}
# Go's strconv.ParseBool, which Milvus uses for boolean properties
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class DatabaseNameError(ParamError):
    """A database name that breaks Milvus's rules (Milvus's code 802)."""

    default_code = 802


def check_db_name(name: Any) -> str:
    """`name` if it is a valid database name (Milvus's `ValidateDatabaseName`), else DatabaseNameError."""
    if not isinstance(name, str) or not name:
        raise DatabaseNameError(f"database name must be a non-empty string, got {brief(name, 80)}")
    if len(name) > MAX_NAME_LENGTH:
        raise DatabaseNameError(f"database name {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME_RE.fullmatch(name):
        raise DatabaseNameError(f"database name {name!r} is invalid: use letters, digits and underscores, "
                                "starting with a letter or underscore")
    return name


def parse_bool(key: str, text: str) -> bool:
    """A boolean property value as Milvus reads it (Go's ParseBool); ParamError otherwise."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ParamError(f"property {key!r} must be a boolean (true or false), got {text!r}")


def parse_int(key: str, text: str, lo: int, hi: int) -> int:
    """An integer property value (digits, optionally signed) within [lo, hi]; ParamError otherwise."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise ParamError(f"property {key!r} must be an integer, got {text!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise ParamError(f"property {key!r} = {value} is out of range [{lo}, {hi}]")
    return value


def property_text(key: str, value: Any) -> str:
    """A property value as the text Milvus stores (pymilvus sends `str(value)`)."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (dict, list, tuple, set, bytes)):
        raise ParamError(f"property {key!r} must be a string, number or bool, got {brief(value, 80)}")
    return str(value)


def check_database_properties(props: Any) -> dict[str, str]:
    """Validate database properties; return them as stored (text values)."""
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ParamError(f"properties must be a dict, got {type(props).__name__} {brief(props, 80)}")
    out: dict[str, str] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise ParamError(f"property keys must be non-empty strings, got {brief(key, 80)}")
        text = property_text(key, value)
        if key in _UNSUPPORTED:
            raise UnsupportedError(f"database property {key!r} is not supported: {_UNSUPPORTED[key]}")
        if key.startswith("cipher."):
            raise UnsupportedError(f"database property {key!r} is not supported: the engine does not encrypt data")
        if key == REPLICA_NUMBER:
            parse_int(key, text, 1, 1 << 31)  # applied at load time (check_replicas)
        elif key == MAX_COLLECTIONS:
            parse_int(key, text, 0, 1 << 31)
        elif key in (DENY_WRITING, DENY_READING):
            parse_bool(key, text)
        out[key] = text
    return out


# --- catalog reads -------------------------------------------------------------------
def database_row(tx: Tx, name: str) -> dict[str, Any]:
    """The database's catalog row; DatabaseNotFoundError naming it when there is none."""
    row = tx.row("select * from databases where name = ?", [name])
    if row is None:
        raise DatabaseNotFoundError(f"database {name!r} does not exist")
    return row


def properties_of(row: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(row.get("properties") or "{}").items()}


def check_room_for_collection(tx: Tx, db_name: str) -> None:
    """Inside a catalog transaction: refuse adding a collection to a database that is missing or full."""
    row = database_row(tx, db_name)
    limit = properties_of(row).get(MAX_COLLECTIONS)
    if limit is None:
        return
    count = int(tx.one("select count(*) from collections where db_name = ? and state = 'active'", [db_name])[0])
    if count >= int(limit):
        raise MilvusException(f"database {db_name!r} already holds {count} collections, its "
                              f"{MAX_COLLECTIONS} property allows {limit}", code=1)


def check_replicas(key: str, text: str | None, what: str) -> None:
    """Loading with more than one replica is refused, as by a Milvus whose one query node cannot hold two."""
    if text is not None and parse_int(key, text, 1, 1 << 31) != 1:
        raise UnsupportedError(f"cannot load {what} with {key}={text}: the engine is one process and serves one "
                               "copy of every collection (a Milvus with one query node refuses this load too); "
                               f"set {key} to 1 or drop it")


def list_databases(db: Database) -> list[str]:
    with db.catalog.read() as tx:
        return sorted(r["name"] for r in tx.all("select name from databases"))


def describe_database(db: Database, name: str) -> dict[str, Any]:
    """`{"name": name, **properties}`, as pymilvus's describe_database returns it."""
    with db.catalog.read() as tx:
        row = database_row(tx, check_db_name(name))
    return {"name": name, **properties_of(row)}


def database_properties(db: Database, name: str) -> dict[str, str]:
    with db.catalog.read() as tx:
        return properties_of(database_row(tx, name))


# --- changes (each one catalog transaction under the write lock) ----------------------
def create_database(db: Database, name: str, properties: Any = None, timeout: float | None = None) -> None:
    check_db_name(name)
    props = check_database_properties(properties)
    with db.ctx.writing(f"create database {name!r}", timeout), db.catalog.transaction() as tx:
        if tx.row("select 1 from databases where name = ?", [name]) is not None:
            raise MilvusException(f"database {name!r} already exists")
        count = int(tx.one("select count(*) from databases where name != ?", [DEFAULT_DB])[0])
        if count >= MAX_DATABASES:
            raise MilvusException(f"cannot create database {name!r}: the limit of {MAX_DATABASES} databases "
                                  "(besides 'default') is reached", code=801)
        tx.insert("databases", {"name": name, "properties": json.dumps(props), "created": now()})


def drop_database(db: Database, name: str, timeout: float | None = None) -> None:
    """Drop an empty database; `default` and databases holding collections are refused, as in Milvus."""
    check_db_name(name)
    if name == DEFAULT_DB:
        raise MilvusException("can not drop default database")
    with db.ctx.writing(f"drop database {name!r}", timeout), db.catalog.transaction() as tx:
        database_row(tx, name)
        left = [r["name"] for r in tx.all("select name from collections where db_name = ? and state = 'active' "
                                          "order by name", [name])]
        if left:
            raise MilvusException(f"database:{name} not empty, must drop all collections before drop database "
                                  f"(it holds {left[:10]})")
        tx.execute("delete from aliases where db_name = ?", [name])
        tx.execute("delete from databases where name = ?", [name])


def alter_database_properties(db: Database, name: str, properties: Any, timeout: float | None = None) -> None:
    """Set (merge in) database properties."""
    check_db_name(name)
    if not isinstance(properties, dict) or not properties:
        raise ParamError(f"alter_database_properties needs a non-empty dict of properties, got {brief(properties)}")
    props = check_database_properties(properties)
    with db.ctx.writing(f"alter database {name!r}", timeout), db.catalog.transaction() as tx:
        merged = {**properties_of(database_row(tx, name)), **props}
        tx.update("databases", "name = ?", [name], {"properties": json.dumps(merged)})


def drop_database_properties(db: Database, name: str, keys: Any, timeout: float | None = None) -> None:
    """Remove database properties (keys that are not set are no error)."""
    check_db_name(name)
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not keys \
            or not all(isinstance(k, str) for k in keys):
        raise ParamError(f"property_keys must be a non-empty list of strings, got {brief(keys)}")
    with db.ctx.writing(f"alter database {name!r}", timeout), db.catalog.transaction() as tx:
        kept = {k: v for k, v in properties_of(database_row(tx, name)).items() if k not in set(keys)}
        tx.update("databases", "name = ?", [name], {"properties": json.dumps(kept)})
