"""Collection aliases: a second, movable name for a collection, within one database.

Milvus's rules (rootcoord's meta table, which these follow):

* an alias names a collection of the same database; a collection may have several aliases, an alias
  names one collection; an alias may not equal a collection name of its database (nor a collection
  be created or renamed to an alias);
* an alias is created for a *collection name*, never for another alias; creating the same alias for
  the same collection again is no error;
* `alter_alias` moves an existing alias to another collection; `drop_alias` of an alias that does not
  exist is an error;
* a collection cannot be dropped through an alias, nor while aliases name it (drop them first); it
  cannot be renamed through an alias, nor moved to another database while aliases name it.

Every call that takes a collection name also takes an alias (`Database.get` resolves it). Each change
is one catalog transaction under the write lock; other processes see it at their next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import AliasNotFoundError, CollectionNotFoundError, MilvusException
from engine.namespaces import database_row
from engine.schema import check_name
from engine.storage.catalog import Tx, now

if TYPE_CHECKING:
    from engine.database import Database


class AliasConflictError(MilvusException):
    """An alias that equals a collection name, or that already names another collection."""

    default_code = 1601


def _collection(tx: Tx, db_name: str, name: str) -> dict[str, Any]:
    """The active collection *named* `name` (an alias does not count)."""
    row = tx.row("select * from collections where db_name = ? and name = ? and state = 'active'", [db_name, name])
    if row is None:
        raise CollectionNotFoundError(f"collection {name!r} does not exist in database {db_name!r}")
    return row


def _alias(tx: Tx, db_name: str, alias: str) -> dict[str, Any] | None:
    return tx.row("select * from aliases where db_name = ? and alias = ?", [db_name, alias])


def _names(tx: Tx, collection_id: int) -> list[str]:
    return [r["alias"] for r in tx.all("select alias from aliases where collection_id = ? order by alias",
                                       [collection_id])]


def create_alias(db: Database, db_name: str, collection: str, alias: str, timeout: float | None = None) -> None:
    check_name(alias, "alias")
    with db.ctx.writing(f"create alias {alias!r}", timeout), db.catalog.transaction() as tx:
        database_row(tx, db_name)
        if tx.row("select 1 from collections where db_name = ? and name = ? and state = 'active'",
                  [db_name, alias]) is not None:
            raise AliasConflictError(f"alias {alias!r} conflicts with collection {alias!r} of database {db_name!r}")
        row = _collection(tx, db_name, collection)
        current = _alias(tx, db_name, alias)
        if current is not None and current["collection_id"] == row["id"]:
            return  # the same alias again: nothing to do, as in Milvus
        if current is not None:
            other = tx.row("select name from collections where id = ?", [current["collection_id"]])
            raise AliasConflictError(f"alias {alias!r} already exists in database {db_name!r}: it names collection "
                                     f"{other['name'] if other else '?'!r}; use alter_alias to move it", code=1602)
        tx.insert("aliases", {"db_name": db_name, "alias": alias, "collection_id": row["id"], "created": now()})
    db._names_changed()


def alter_alias(db: Database, db_name: str, collection: str, alias: str, timeout: float | None = None) -> None:
    """Point an existing alias at `collection` (readers see the old collection or the new one)."""
    if not isinstance(alias, str) or not alias:
        raise AliasNotFoundError(f"alias {alias!r} does not exist in database {db_name!r}")
    with db.ctx.writing(f"alter alias {alias!r}", timeout), db.catalog.transaction() as tx:
        database_row(tx, db_name)
        if tx.row("select 1 from collections where db_name = ? and name = ? and state = 'active'",
                  [db_name, alias]) is not None:
            raise AliasConflictError(f"alias {alias!r} conflicts with collection {alias!r} of database {db_name!r}")
        row = _collection(tx, db_name, collection)
        if _alias(tx, db_name, alias) is None:
            raise AliasNotFoundError(f"alias {alias!r} does not exist in database {db_name!r}")
        tx.update("aliases", "db_name = ? and alias = ?", [db_name, alias], {"collection_id": row["id"]})
    db._names_changed()


def drop_alias(db: Database, db_name: str, alias: str, timeout: float | None = None) -> None:
    with db.ctx.writing(f"drop alias {alias!r}", timeout), db.catalog.transaction() as tx:
        database_row(tx, db_name)
        if _alias(tx, db_name, alias) is None:
            raise AliasNotFoundError(f"alias {alias!r} does not exist in database {db_name!r}")
        tx.execute("delete from aliases where db_name = ? and alias = ?", [db_name, alias])
    db._names_changed()


def describe_alias(db: Database, db_name: str, alias: str) -> dict[str, Any]:
    """`{"alias", "collection_name", "db_name"}`, as pymilvus returns it from a Milvus server."""
    with db.catalog.read() as tx:
        database_row(tx, db_name)
        row = _alias(tx, db_name, alias)
        coll = None if row is None else tx.row("select name from collections where id = ? and state = 'active'",
                                               [row["collection_id"]])
    if coll is None:
        raise AliasNotFoundError(f"alias {alias!r} does not exist in database {db_name!r}")
    return {"alias": alias, "collection_name": coll["name"], "db_name": db_name}


def list_aliases(db: Database, db_name: str, collection: str = "") -> dict[str, Any]:
    """The aliases of one collection (by its name, not an alias), or of the whole database."""
    with db.catalog.read() as tx:
        database_row(tx, db_name)
        if collection:
            names = _names(tx, _collection(tx, db_name, collection)["id"])
        else:
            names = [r["alias"] for r in tx.all(
                "select a.alias from aliases a join collections c on c.id = a.collection_id "
                "where a.db_name = ? and c.state = 'active' order by a.alias", [db_name])]
    out: dict[str, Any] = {"aliases": names}
    if collection:
        out["collection_name"] = collection
    out["db_name"] = db_name
    return out


def aliases_of(db: Database, collection_id: int) -> list[str]:
    with db.catalog.read() as tx:
        return _names(tx, collection_id)


# --- rules other catalog changes follow (called inside their transactions) -----------------
def check_droppable(tx: Tx, db_name: str, name: str, row: dict[str, Any] | None) -> None:
    """Milvus refuses dropping a collection through an alias, or while aliases name it."""
    if row is None:
        if _alias(tx, db_name, name) is not None:
            raise MilvusException(f"cannot drop the collection via alias = {name}")
        return
    names = _names(tx, int(row["id"]))
    if names:
        raise MilvusException(f"unable to drop the collection [{name}] because it has associated aliases {names}, "
                              "please remove all aliases before dropping the collection")


def check_renamable(tx: Tx, db_name: str, old: str, target_db: str, row: dict[str, Any] | None) -> None:
    """Milvus refuses renaming through an alias, and moving a collection that has aliases to another database."""
    if row is None and _alias(tx, db_name, old) is not None:
        raise MilvusException(f"unsupported use an alias to rename collection, alias:{old}")
    if row is not None and target_db != db_name and _names(tx, int(row["id"])):
        raise MilvusException(f"fail to rename db name, must drop all aliases of collection {old!r} "
                              f"({_names(tx, int(row['id']))}) before moving it to database {target_db!r}")
