"""Catalog changes of one collection that the client makes: load state, partitions, index specs, properties.

Each is one catalog transaction made under the database's write lock, bumping the
collection's version so that other processes re-read it.
"""

from __future__ import annotations

import json
from typing import Any

from engine.collection import Collection
from engine.errors import IndexNotFoundError, MilvusException
from engine.storage.catalog import now


def index_rows(coll: Collection) -> list[dict[str, Any]]:
    """The collection's index specs as catalog rows (params decoded), oldest first."""
    with coll.catalog.read() as tx:
        rows = tx.all("select * from indexes where collection_id = ? order by created", [coll.id])
    for r in rows:
        r["params"] = json.loads(r["params"] or "{}")
    return rows


def set_loaded(coll: Collection, loaded: bool, timeout: float | None = None) -> None:
    with coll.ctx.writing(f"{'load' if loaded else 'release'} {coll.name!r}", timeout), coll.commit_tx() as tx:
        tx.update("collections", "id = ?", [coll.id], {"loaded": int(loaded)})


def create_partition(coll: Collection, name: str, timeout: float | None = None) -> None:
    with coll.ctx.writing(f"create partition {name!r} in {coll.name!r}", timeout), coll.commit_tx() as tx:
        if tx.row("select 1 from partitions where collection_id = ? and name = ?", [coll.id, name]) is not None:
            raise MilvusException(f"partition {name!r} already exists in collection {coll.name!r}")
        tx.insert("partitions", {"collection_id": coll.id, "name": name, "created": now()})


def record_indexes(coll: Collection, specs: list[dict[str, Any]], timeout: float | None = None) -> None:
    """Insert index specs (`index_name, field, index_type, metric_type, params`); all or nothing."""
    with coll.ctx.writing(f"create index on {coll.name!r}", timeout), coll.commit_tx() as tx:
        for spec in specs:
            tx.execute("insert or replace into indexes (collection_id, index_name, field, index_type, metric_type, "
                       "params, created) values (?, ?, ?, ?, ?, ?, ?)",
                       [coll.id, spec["index_name"], spec["field"], spec["index_type"], spec["metric_type"],
                        json.dumps(spec["params"]), now()])
    coll.indexes.invalidate()


def drop_index(coll: Collection, index_name: str, timeout: float | None = None) -> None:
    """Forget an index spec and delete the per-segment index files it had.

    Graph files that store a merged segment's vectors stay (they are that segment's data);
    searches then scan those vectors exactly, and the next rebuild moves them as needed."""
    with coll.ctx.writing(f"drop index {index_name!r} of {coll.name!r}", timeout):
        with coll.catalog.read() as tx:
            row = tx.row("select * from indexes where collection_id = ? and index_name = ?", [coll.id, index_name])
            if row is None:
                raise IndexNotFoundError(f"index {index_name!r} does not exist in collection {coll.name!r}")
            built = tx.all("select si.segment_id, si.file from segment_indexes si join segments s "
                           "on s.id = si.segment_id where s.collection_id = ? and si.field = ? "
                           "and si.holds_vectors = 0", [coll.id, row["field"]])
        garbage = [coll.seg_dir / r["file"] for r in built]
        with coll.commit_tx() as tx:
            tx.execute("delete from indexes where collection_id = ? and index_name = ?", [coll.id, index_name])
            for r in built:
                tx.execute("delete from segment_indexes where segment_id = ? and field = ?",
                           [r["segment_id"], row["field"]])
            for p in garbage:
                tx.add_intent(coll.ctx.rel(p), coll.id, coll.ctx.owner, "WRITE")
        coll.indexes.invalidate()
        coll._remove_files(garbage)


def set_properties(coll: Collection, props: dict[str, Any], timeout: float | None = None) -> None:
    """Replace the collection's properties (the caller validates them)."""
    with coll.ctx.writing(f"alter properties of {coll.name!r}", timeout), coll.commit_tx() as tx:
        tx.update("collections", "id = ?", [coll.id], {"properties": json.dumps(props)})
