"""Import Parquet and JSONL files (the workbench's own, or any with an inferred schema)."""


from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.backends import (
    ARRAY,
    BINARY_VECTOR,
    FLOAT_VECTOR,
    GEOMETRY,
    INT64,
    JSON_TYPE,
    VARCHAR,
    VECTOR_TYPES,
    Backend,
    Row,
    normalize_schema,
)
from workbench.transfer.arrow_layout import _SCALAR_ARROW, table_to_rows
from workbench.transfer.copying import existing_plan, map_schema
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
    _Clock,
)
from workbench.transfer.staging import Batch, _Tally, clean_leftovers, write_staged


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
    rev = {v: k for k, v in _SCALAR_ARROW.items() if k not in (JSON_TYPE, GEOMETRY)}  # strings: VARCHAR
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


def _read_batches(path: Path, schema: dict[str, Any], batch_size: int) -> Iterator[tuple[list[Row], str]]:
    """The rows of one file, `batch_size` at a time, each batch with the lines (JSONL) or rows (Parquet) it
    came from. A line that is not a JSON object, or a file that cannot be read, raises TransferError
    naming the file (and the line)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        batch: list[Row] = []
        first = 0
        with open(path, encoding="utf-8") as fh:
            line_no = 0
            try:
                for line_no, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    first = first or line_no
                    batch.append(_parse_line(line, schema, path, line_no))
                    if len(batch) >= batch_size:
                        yield batch, f"lines {first}-{line_no}"
                        batch, first = [], 0
            except UnicodeDecodeError as e:
                raise TransferError(f"{path}:{line_no + 1}: not UTF-8 text: {e}") from None
        if batch:
            yield batch, f"lines {first}-{line_no}"
        return
    import pyarrow.parquet as pq

    start = 0
    try:
        pf = pq.ParquetFile(path)
        for rb in pf.iter_batches(batch_size=batch_size):
            rows = table_to_rows(pa.Table.from_batches([rb]), schema)
            yield rows, f"rows {start + 1}-{start + len(rows)}"
            start += len(rows)
    except (pa.ArrowException, OSError) as e:
        raise TransferError(f"{path}: cannot read the Parquet file after row {start}: {e}") from None


def _parse_line(line: str, schema: dict[str, Any], path: Path, line_no: int) -> Row:
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError(f"a JSON {type(obj).__name__}, not an object")
        return _from_jsonable(obj, schema)
    except (ValueError, TypeError) as e:
        raise TransferError(f"{path}:{line_no}: not a JSON object of this collection's rows: {e}") from None


def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def import_collection(
    backend: Backend,
    src: str | os.PathLike[str],
    name: str,
    *,
    mode: str = "create",
    primary_key: str | None = None,
    batch_size: int = 1000,
    skip_unsupported: bool = False,
    verify: str = "sample",
    samples: int = 256,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Import a Parquet or JSONL file, or a directory of them, into collection `name`.

    `mode`: "create" (a new collection from the schema recorded in the files, or inferred from
    Parquet), "replace" (the existing `name` is dropped once the import is in place) or "append" (the
    rows are upserted into the existing `name`). The rows first go into a temporary collection
    `<name>__importing_<tag>`, which is checked (its row count against the rows read, and the checksums
    of `samples` rows, or with `verify="full"` of every row; "none": the count only), and only then
    put in place or upserted (`workbench.transfer.staging`). A damaged line (the error names the file and
    line), a failed check, a cancel or any error leaves `name` as it was.
    """
    clock = _Clock()
    if mode not in ("create", "replace", "append"):
        raise TransferError(f"mode must be 'create', 'replace' or 'append', not {mode!r}")
    if verify not in ("sample", "full", "none"):
        raise TransferError(f"verify must be 'sample', 'full' or 'none', not {verify!r}")
    if batch_size < 1:
        raise TransferError("batch_size must be at least 1")
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
    cleaned = clean_leftovers(backend, name)
    exists = backend.has_collection(name)
    if exists and mode == "create":
        raise TransferError(f"{backend.label} already has a collection {name!r}; replace it or append to it"
                            + "".join(f" ({n})" for n in cleaned))
    plan = map_schema(schema, indexes, backend.capabilities, skip_unsupported, backend.label)
    report.plan, report.notes = plan, [*cleaned, *plan.notes]
    stage_plan = existing_plan(backend, name) if exists and mode == "append" else plan
    tally = _Tally(stage_plan.target, samples if verify != "none" else 0, verify == "full")
    file_schema = schema

    def batches() -> Iterator[Batch]:
        for path in files:
            for rows, where in _read_batches(path, file_schema, batch_size):
                groups: dict[str, list[Row]] = {}
                for r in plan.adapt(rows):
                    groups.setdefault(r.pop(PARTITION, None) or "_default", []).append(r)
                for part, group in groups.items():
                    tally.add(group)
                    yield group, None if part == "_default" else part, f"{path}, {where}"

    yield from write_staged(backend, name, kind="importing", mode=mode, plan=stage_plan, batches=batches(),
                            total=total, report=report, check=lambda temp, rows: tally.check(backend, temp, rows),
                            phase="reading", cancel=cancel, clock=clock, batch_size=batch_size)
