"""Marking duplicates ("keep one, mark the rest") and deleting them.

A mark is the primary key of the kept row, as text, in the `duplicate_of` field (the Images template
has it, nullable), or under the same key in the dynamic field of a collection that has one. Filters
can use it: `duplicate_of is null` keeps the unmarked rows, `duplicate_of is not null` (or
`duplicate_of == "<key>"`) finds the marked ones.

Neither the engine nor Milvus before 2.6 updates part of a row (the engine refuses upserts with
`partial_update=True`), so each marked row is read whole (every field, vectors and Arrays of Structs
included) and upserted with the mark set: every other value stays as it was (tests/test_duplicates.py
checks it field by field). Rows are written `batch_size` at a time; a cancel between batches leaves
whole batches marked, and marking again is harmless.

A collection with neither the field nor a dynamic field cannot take marks: the engine cannot add a
field to an existing collection (it has no `add_collection_field`); Milvus 2.6+ can, and there
`add_mark_field` adds it (nullable, so existing rows read null). Elsewhere, ingest into a new Images
collection (it has the field), or use the clusters as they are (JSON or CSV) or delete.

`delete_rows` deletes a list of primary keys in one delete call (one transaction in the engine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.backends import Backend, BackendError, primary_field
from workbench.duplicates import ScanProgress
from workbench.settings import CollectionError, InputError
from workbench.targets import ensure_loaded, require_collection
from workbench.templates import MARK_FIELD


@dataclass
class MarkReport:
    """What `write_marks` did: rows marked (or cleared), and keys no longer in the collection."""

    marked: int = 0
    cleared: int = 0
    gone: list[Any] = dataclasses.field(default_factory=list)
    where: str = ""  # "field" or "dynamic field"


def mark_target(backend: Backend, collection: str) -> str:
    """"field" when the collection has a `duplicate_of` VARCHAR field, "dynamic field" when it has a
    dynamic field; else CollectionError saying how to get one."""
    schema = backend.schema(collection)
    f = next((f for f in schema["fields"] if f["name"] == MARK_FIELD), None)
    if f is not None:
        from workbench.backends import VARCHAR

        if f["type"] != VARCHAR:
            raise CollectionError(f"field {MARK_FIELD!r} of collection {collection!r} is not VARCHAR; marks are the "
                                  "kept row's primary key as text")
        return "field"
    if schema.get("enable_dynamic_field"):
        return "dynamic field"
    how = ("add it with add_mark_field (Milvus 2.6+ adds nullable fields to existing collections)"
           if backend.capabilities.kind == "milvus" else
           f"{backend.capabilities.describe()} cannot add a field to an existing collection; ingest into a new "
           "Images collection (it has the field), or export the clusters (--json/--csv) instead")
    raise CollectionError(f"collection {collection!r} has no {MARK_FIELD!r} field and no dynamic field to hold "
                          f"marks: {how}")


def add_mark_field(backend: Backend, collection: str) -> None:
    """Add a nullable `duplicate_of` VARCHAR field to an existing collection, where the server can
    (Milvus 2.6+, through pymilvus's `add_collection_field`); CollectionError elsewhere."""
    client = getattr(backend, "client", None)
    if backend.capabilities.kind != "milvus" or not hasattr(client, "add_collection_field"):
        raise CollectionError(f"{backend.capabilities.describe()} cannot add a field to an existing collection")
    from pymilvus import DataType

    try:
        client.add_collection_field(collection, field_name=MARK_FIELD, data_type=DataType.VARCHAR,  # type: ignore[union-attr]
                                    max_length=128, nullable=True)
    except Exception as e:
        raise BackendError(f"adding field {MARK_FIELD!r} to {collection!r} failed on {backend.label}: {e}") from None


def check_marks(marks: dict[Any, Any]) -> None:
    """InputError when a row is marked as a duplicate of itself, or of a row that is marked too."""
    for dup, kept in marks.items():
        if kept is None:
            continue
        if dup == kept:
            raise InputError(f"row {dup!r} cannot be marked as a duplicate of itself")
        if kept in marks and marks[kept] is not None:
            raise InputError(f"row {dup!r} is marked as a duplicate of {kept!r}, which is marked itself: keep one "
                             "row per cluster")


def write_marks(backend: Backend, collection: str, marks: dict[Any, Any],
                batch_size: int = 256) -> Generator[ScanProgress, None, MarkReport]:
    """Set `duplicate_of` of each key of `marks` to its value (the kept row's key; None clears the mark),
    keeping every other value of the row. A generator: yields progress, returns a `MarkReport`."""
    require_collection(backend, collection)
    ensure_loaded(backend, collection)
    check_marks(marks)
    report = MarkReport(where=mark_target(backend, collection))
    schema = backend.schema(collection)
    pk = str(primary_field(schema)["name"])
    mark = next((f for f in schema["fields"] if f["name"] == MARK_FIELD), None)
    blank = "" if mark is not None and not mark.get("nullable") else None  # Milvus before 2.5: no nulls
    keys = list(marks)
    yield ScanProgress("marking", 0, len(keys))
    for lo in range(0, len(keys), batch_size):
        chunk = keys[lo : lo + batch_size]
        rows = backend.get(collection, chunk, output_fields=["*"])  # every field: the row is written whole
        found = {r[pk] for r in rows}
        report.gone += [k for k in chunk if k not in found]
        out = []
        for r in rows:
            kept = marks[r[pk]]
            r[MARK_FIELD] = blank if kept is None else str(kept)
            out.append(r)
            if kept is None:
                report.cleared += 1
            else:
                report.marked += 1
        backend.upsert(collection, out)
        yield ScanProgress("marking", min(len(keys), lo + batch_size), len(keys))
    backend.flush(collection)
    return report


def marked_rows(backend: Backend, collection: str) -> dict[Any, str]:
    """{marked row: the key it duplicates} of every marked row."""
    pk = str(primary_field(backend.schema(collection))["name"])
    mark_target(backend, collection)
    flt = f'{MARK_FIELD} != ""'  # null is not != "" either; unmarked rows hold "" where nulls cannot be stored
    out = {}
    for batch in backend.iter_rows(collection, output_fields=[pk, MARK_FIELD], filter=flt):
        for r in batch:
            if r.get(MARK_FIELD):
                out[r[pk]] = str(r[MARK_FIELD])
    return out


def delete_rows(backend: Backend, collection: str, ids: Sequence[Any]) -> int:
    """Delete rows by primary key in one call; returns how many of them were there before."""
    if not ids:
        return 0
    require_collection(backend, collection)
    ensure_loaded(backend, collection)
    pk = str(primary_field(backend.schema(collection))["name"])
    present = sum(len(backend.get(collection, list(ids[i : i + 1000]), output_fields=[pk]))
                  for i in range(0, len(ids), 1000))
    backend.delete(collection, ids=list(ids))
    backend.flush(collection)
    return present
