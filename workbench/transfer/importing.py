"""Import Parquet and JSONL files (the workbench's own, or any with an inferred schema)."""


from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.backends import (
    ARRAY,
    BINARY_VECTOR,
    FLOAT_VECTOR,
    INT64,
    JSON_TYPE,
    VARCHAR,
    VECTOR_TYPES,
    Backend,
    Row,
    normalize_schema,
)
from workbench.transfer.arrow_layout import _SCALAR_ARROW, table_to_rows
from workbench.transfer.copying import map_schema
from workbench.transfer.exporting import _from_jsonable, _sidecar
from workbench.transfer.progress import (
    DYNAMIC,
    META_INDEXES,
    META_SCHEMA,
    PARTITION,
    CancelToken,
    TransferError,
    TransferProgress,
    TransferReport,
    Verification,
    _Clock,
)


# --- import ------------------------------------------------------------------------------------------------
def _source_files(src: Path) -> list[Path]:
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".parquet", ".jsonl", ".ndjson")
                       and not p.name.startswith("."))
        if not files:
            raise TransferError(f"no .parquet or .jsonl files in {src}")
        return files
    if not src.exists():
        raise TransferError(f"no such file: {src}")
    return [src]


def read_export_schema(path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(schema, indexes) recorded in an export file (Parquet metadata, or a JSONL sidecar); None when absent."""
    p = Path(path)
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        side = _sidecar(p)
        if not side.exists():
            return None, []
        d = json.loads(side.read_text())
        return normalize_schema(d["schema"]), list(d.get("indexes") or [])
    import pyarrow.parquet as pq

    meta = pq.read_schema(p).metadata or {}
    if META_SCHEMA not in meta:
        return None, []
    return normalize_schema(json.loads(meta[META_SCHEMA])), list(json.loads(meta.get(META_INDEXES, b"[]")))


def infer_schema(arrow: pa.Schema, primary_key: str | None = None, vector_fields: Sequence[str] = ()
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A schema (and AUTOINDEX COSINE indexes) for a Parquet file written by another tool.

    Fixed-size lists of floats are FLOAT_VECTOR fields, as are the list columns named in `vector_fields`;
    the primary key is `primary_key`, else a column named "id" or "pk". Other columns map to the Milvus
    type of their Arrow type (strings to VARCHAR(65535); lists to ARRAY; structs and maps to JSON).
    """
    names = arrow.names
    pk = primary_key or next((n for n in ("id", "pk") if n in names), None)
    if pk is None or pk not in names:
        raise TransferError(f"which column is the primary key? pass primary_key= (columns: {', '.join(names)})")
    rev = {v: k for k, v in _SCALAR_ARROW.items() if k != JSON_TYPE}
    fields: list[dict[str, Any]] = []
    indexes = []
    dynamic = False
    for af in arrow:
        t = af.type
        f: dict[str, Any] = {"name": af.name, "params": {}}
        if af.name == DYNAMIC:
            dynamic = True
            continue
        if af.name == PARTITION:
            continue
        if pa.types.is_fixed_size_list(t) and pa.types.is_floating(t.value_type):
            f.update(type=FLOAT_VECTOR, params={"dim": t.list_size})
        elif (pa.types.is_list(t) or pa.types.is_large_list(t)) and af.name in vector_fields:
            raise TransferError(f"column {af.name!r}: give vectors as fixed-size lists (pyarrow list_(float32(), "
                                "dim)) so their dimension is known")
        elif pa.types.is_fixed_size_binary(t):
            f.update(type=BINARY_VECTOR, params={"dim": t.byte_width * 8})
        elif pa.types.is_large_string(t) or pa.types.is_string(t):
            f.update(type=VARCHAR, params={"max_length": 65535})
        elif t in rev:
            f["type"] = rev[t]
        elif pa.types.is_list(t) and t.value_type in rev:
            f.update(type=ARRAY, element_type=rev[t.value_type], params={"max_capacity": 4096})
            if rev[t.value_type] == VARCHAR:
                f["params"]["max_length"] = 65535
        elif pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_list(t):
            f["type"] = JSON_TYPE
        else:
            raise TransferError(f"column {af.name!r}: Arrow type {t} has no Milvus field type")
        if af.name == pk:
            if f["type"] not in (INT64, VARCHAR):
                raise TransferError(f"primary key {pk!r} must be int64 or string, not {t}")
            f["is_primary"] = True
        elif af.nullable and f["type"] not in VECTOR_TYPES:
            f["nullable"] = True
        if f["type"] == FLOAT_VECTOR or f["type"] == BINARY_VECTOR:
            indexes.append({"field_name": af.name, "index_type": "AUTOINDEX",
                            "metric_type": "COSINE" if f["type"] == FLOAT_VECTOR else "HAMMING", "params": {}})
        fields.append(f)
    if not indexes:
        raise TransferError("no vector column (a fixed-size list of floats) in the file")
    return {"description": "", "auto_id": False, "enable_dynamic_field": dynamic, "fields": fields}, indexes


def _read_batches(path: Path, schema: dict[str, Any], batch_size: int) -> Iterator[list[Row]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        batch: list[Row] = []
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    batch.append(_from_jsonable(json.loads(line), schema))
                except ValueError as e:
                    raise TransferError(f"{path}:{line_no}: not a JSON object: {e}") from None
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch
        return
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for rb in pf.iter_batches(batch_size=batch_size):
        yield table_to_rows(pa.Table.from_batches([rb]), schema)


def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _write_by_partition(backend: Backend, name: str, rows: list[Row], write: Callable[..., int]) -> None:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.pop(PARTITION, None) or "_default", []).append(r)
    for part, group in groups.items():
        if part != "_default":
            backend.create_partition(name, part)
        write(name, group, partition=None if part == "_default" else part)


def import_collection(
    backend: Backend,
    src: str | os.PathLike[str],
    name: str,
    *,
    mode: str = "create",
    primary_key: str | None = None,
    batch_size: int = 1000,
    skip_unsupported: bool = False,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Import a Parquet or JSONL file, or a directory of them, into collection `name`.

    `mode`: "create" (a new collection from the schema recorded in the files, or inferred from
    Parquet), "replace" (drop `name` first) or "append" (upsert into the existing `name`). The last
    event's report checks that the collection's row count grew by the rows read.
    """
    clock = _Clock()
    if mode not in ("create", "replace", "append"):
        raise TransferError(f"mode must be 'create', 'replace' or 'append', not {mode!r}")
    files = _source_files(Path(src).expanduser())
    schema, indexes = read_export_schema(files[0])
    if schema is None:
        if files[0].suffix.lower() != ".parquet":
            raise TransferError(f"{files[0]} has no schema sidecar ({_sidecar(files[0]).name}); "
                                "import JSONL files written by the workbench, or Parquet")
        import pyarrow.parquet as pq

        schema, indexes = infer_schema(pq.read_schema(files[0]), primary_key)
    counts = [_count_rows(p) for p in files]
    total = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
    report = TransferReport("import", name, files=[str(p) for p in files])
    exists = backend.has_collection(name)
    if exists and mode == "create":
        raise TransferError(f"{backend.label} already has a collection {name!r}; replace it or append to it")
    if exists and mode == "replace":
        backend.drop_collection(name)
        exists = False
    plan = map_schema(schema, indexes, backend.capabilities, skip_unsupported, backend.label)
    report.plan, report.notes = plan, list(plan.notes)
    if not exists:
        yield TransferProgress("creating", 0, total, clock(), f"creating {name!r}")
        backend.create_collection(name, plan.target, plan.indexes)
    before = backend.count(name) if exists else 0
    write = backend.upsert if exists else backend.insert
    done = 0
    for path in files:
        for batch in _read_batches(path, schema, batch_size):
            if cancel is not None and cancel.cancelled:
                report.rows, report.cancelled, report.elapsed_s = done, True, clock()
                yield TransferProgress("cancelled", done, total, clock(), "cancelled", report)
                return
            _write_by_partition(backend, name, plan.adapt(batch), write)
            done += len(batch)
            report.batches += 1
            yield TransferProgress("reading", done, total, clock(), f"{path.name}: {done} rows")
    backend.flush(name)
    after = backend.count(name)
    report.rows, report.elapsed_s = done, clock()
    if not exists:
        report.verification = Verification(source_rows=done, target_rows=after - before)
    else:
        report.notes.append(f"appended: the collection had {before} rows and now has {after}")
    yield TransferProgress("done", done, total, clock(), report.summary(), report)


