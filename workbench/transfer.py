"""Moving data: copy a collection between backends; export and import Parquet and JSONL.

Every job is a generator of `TransferProgress` events, so the app can show a progress bar and the CLI
a progress line; the last event has `report` set. Cancel with a `CancelToken` (checked between
batches) or by closing the generator.

    for ev in copy_collection(EmbeddedBackend("photos.db"), open_backend("https://..."), "photos"):
        print(ev.phase, ev.rows_done, ev.rows_total)
    report = ev.report                     # rows copied, schema plan, verification

    report = run(export_collection(backend, "photos", "photos.parquet"))
    report = run(import_collection(backend, "photos.parquet", "photos_copy"))

Copies end with a verification: live row counts on both sides, and a checksum of each sampled row
(or of every row, with `verify="full"`) computed from a canonical form in which FLOAT values are
compared as float32, vectors as their float32 (float16, bytes) representation, and JSON with sorted
keys.

Parquet files hold one column per field: vectors as fixed-size lists (FLOAT16 and BFLOAT16 vectors
widened to float32, which is exact), BINARY vectors as fixed-size binary, ARRAY fields as lists,
Arrays of Structs as lists of structs, JSON fields as JSON text, and the dynamic fields as JSON text in
a `$meta` column. The collection's schema and indexes are in the file's metadata
(`milvus.schema`, `milvus.indexes`), so an import recreates the collection exactly; pandas, DuckDB and
Polars read the files as they are.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.backends import (
    ARRAY,
    BFLOAT16_VECTOR,
    BINARY_VECTOR,
    BOOL,
    DOUBLE,
    FLOAT,
    FLOAT16_VECTOR,
    FLOAT_VECTOR,
    INT8,
    INT8_VECTOR,
    INT16,
    INT32,
    INT64,
    JSON_TYPE,
    SPARSE_FLOAT_VECTOR,
    STRUCT,
    TYPE_NAMES,
    VARCHAR,
    VECTOR_TYPES,
    Backend,
    BackendError,
    CapabilityError,
    Row,
    normalize_schema,
    primary_field,
    schema_features,
)
from workbench.settings import WorkbenchError

DYNAMIC = "$meta"
PARTITION = "$partition"  # export column naming each row's partition (only when there are several)
FORMAT_VERSION = "1"
META_SCHEMA = b"milvus.schema"
META_INDEXES = b"milvus.indexes"
META_COLLECTION = b"milvus.collection"
META_FORMAT = b"workbench.format"


class TransferError(WorkbenchError):
    """A copy, export or import cannot go on; the message says why."""


class CancelToken:
    """Set from any thread to stop a job after the current batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


# --- reports and progress ---------------------------------------------------------------------
@dataclass
class SchemaPlan:
    """How a source schema maps onto the target: the schema to create, its indexes, and what changed."""

    source: dict[str, Any]
    target: dict[str, Any]
    indexes: list[dict[str, Any]]
    dropped: list[str] = field(default_factory=list)  # fields (or dynamic keys) not copied
    notes: list[str] = field(default_factory=list)


@dataclass
class Verification:
    """Row counts and checksums of source and target after a copy or an import."""

    source_rows: int
    target_rows: int
    checked: int = 0
    mismatched: list[Any] = field(default_factory=list)  # primary keys (first 20)
    missing: list[Any] = field(default_factory=list)  # primary keys absent from the target (first 20)
    source_checksum: str | None = None  # over every row, with verify="full"
    target_checksum: str | None = None

    @property
    def ok(self) -> bool:
        return (self.source_rows == self.target_rows and not self.mismatched and not self.missing
                and self.source_checksum == self.target_checksum)

    def summary(self) -> str:
        if self.ok:
            return (f"verified: {self.target_rows} rows on both sides"
                    + (f", {self.checked} rows' checksums equal" if self.checked else "")
                    + (" (full checksum equal)" if self.source_checksum else ""))
        parts = []
        if self.source_rows != self.target_rows:
            parts.append(f"row counts differ: source {self.source_rows}, target {self.target_rows}")
        if self.missing:
            parts.append(f"{len(self.missing)} sampled rows missing from the target, e.g. {self.missing[0]!r}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} sampled rows differ, e.g. {self.mismatched[0]!r}")
        if self.source_checksum != self.target_checksum:
            parts.append("full checksums differ")
        return "verification FAILED: " + "; ".join(parts)


@dataclass
class TransferReport:
    """What a job did."""

    kind: str  # "copy", "export" or "import"
    collection: str
    rows: int = 0
    batches: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    files: list[str] = field(default_factory=list)
    plan: SchemaPlan | None = None
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.cancelled and (self.verification is None or self.verification.ok)

    def summary(self) -> str:
        what = {"copy": "copied", "export": "exported", "import": "imported"}.get(self.kind, self.kind)
        s = f"{what} {self.rows} rows of {self.collection!r} in {self.elapsed_s:.1f} s"
        if self.cancelled:
            s += " (cancelled)"
        if self.files:
            s += f" to {len(self.files)} file(s)" if self.kind == "export" else ""
        if self.verification is not None:
            s += "; " + self.verification.summary()
        return s


@dataclass
class TransferProgress:
    """One progress event. `rows_total` is None when unknown; the last event carries `report`."""

    phase: str  # planning, creating, copying, writing, reading, flushing, verifying, done, cancelled
    rows_done: int
    rows_total: int | None
    elapsed_s: float
    message: str = ""
    report: TransferReport | None = None

    @property
    def fraction(self) -> float:
        if self.phase == "done":
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(1.0, self.rows_done / self.rows_total)

    @property
    def rate(self) -> float:
        return self.rows_done / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run(job: Iterator[TransferProgress], on_progress: Callable[[TransferProgress], None] | None = None
        ) -> TransferReport:
    """Run a job to its end and return its report (`on_progress` sees every event)."""
    last = None
    for ev in job:
        if on_progress is not None:
            on_progress(ev)
        last = ev
    if last is None or last.report is None:
        raise TransferError("the job ended without a report")
    return last.report


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


# --- canonical rows and checksums ------------------------------------------------------------------
def _f32(v: Any) -> Any:
    if v is None:
        return None
    x = float(np.float32(v))
    return x if math.isfinite(x) else repr(x)


def _binary(v: Any) -> bytes:
    """A binary vector as bytes (pymilvus may return it as a one-element list of bytes)."""
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], (bytes, bytearray)):
        v = v[0]
    return bytes(v)


def _canon(v: Any, f: dict[str, Any]) -> Any:
    if v is None:
        return None
    t = f["type"]
    if t == FLOAT:
        return _f32(v)
    if t == DOUBLE:
        return float(v)
    if t in (INT8, INT16, INT32, INT64):
        return int(v)
    if t == BOOL:
        return bool(v)
    if t == FLOAT_VECTOR or t == BFLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float32).tobytes().hex()
    if t == FLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float16).tobytes().hex()
    if t == INT8_VECTOR:
        return np.asarray(v, dtype=np.int8).tobytes().hex()
    if t == BINARY_VECTOR:
        return _binary(v).hex()
    if t == SPARSE_FLOAT_VECTOR:
        return sorted([int(k), _f32(x)] for k, x in dict(v).items())
    if t == ARRAY and f.get("element_type") == STRUCT:
        subs = f.get("struct_fields") or []
        return [{s["name"]: _canon(e.get(s["name"]), s) for s in subs} for e in v]
    if t == ARRAY:
        et = f.get("element_type")
        return [_f32(x) if et == FLOAT else x for x in v]
    if t == JSON_TYPE:
        return _canon_json(v)
    return v


def _canon_json(v: Any) -> Any:
    """JSON values with integral floats as ints (1.0 and 1 are the same JSON number)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, dict):
        return {str(k): _canon_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_canon_json(x) for x in v]
    return v


def canonical_row(row: Row, schema: dict[str, Any], skip: Sequence[str] = ()) -> bytes:
    """A row's canonical bytes: its fields by type (see the module docstring), then its dynamic keys."""
    out: dict[str, Any] = {}
    names = set()
    for f in schema["fields"]:
        names.add(f["name"])
        if f["name"] in skip:
            continue
        out[f["name"]] = _canon(row.get(f["name"]), f)
    if schema.get("enable_dynamic_field"):
        dyn = dict(row.get(DYNAMIC) or {})
        dyn.update({k: v for k, v in row.items() if k not in names and k not in (DYNAMIC, PARTITION)
                    and k not in skip})
        out[DYNAMIC] = _canon_json(dyn)
    return json.dumps(out, sort_keys=True, separators=(",", ":"), default=str).encode()


def row_digest(row: Row, schema: dict[str, Any], skip: Sequence[str] = ()) -> bytes:
    return hashlib.sha256(canonical_row(row, schema, skip)).digest()


class _Checksum:
    """An order-independent checksum of a set of rows (sum of row digests mod 2^256)."""

    def __init__(self) -> None:
        self.total = 0
        self.n = 0

    def add(self, digest: bytes) -> None:
        self.total = (self.total + int.from_bytes(digest, "big")) % (1 << 256)
        self.n += 1

    def hexdigest(self) -> str:
        return f"{self.n}:{self.total:064x}"


class _Reservoir:
    """A uniform sample of up to `k` primary keys (seeded, so runs are reproducible)."""

    def __init__(self, k: int, seed: int = 0) -> None:
        self.k = k
        self.seen = 0
        self.items: list[Any] = []
        self.rng = random.Random(seed)

    def add(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append(item)
        elif self.k:
            j = self.rng.randrange(self.seen)
            if j < self.k:
                self.items[j] = item


# --- schema mapping ------------------------------------------------------------------------------------
def _index_specs(backend: Backend, name: str) -> list[dict[str, Any]]:
    return [i.spec() for i in backend.list_indexes(name)]


def plan_copy(source: Backend, target: Backend, name: str, skip_unsupported: bool = False) -> SchemaPlan:
    """Map `name`'s schema and indexes onto `target`.

    Fields the target cannot hold (an Array of Structs on Milvus Lite, FLOAT16 vectors on Milvus Lite,
    ...) raise CapabilityError naming them, unless `skip_unsupported`, which leaves them out (noted in
    the plan). An auto_id primary key becomes a plain one so that the keys are copied as they are.
    """
    src = source.schema(name)
    return map_schema(src, _index_specs(source, name), target.capabilities, skip_unsupported,
                      target_label=target.label)


def map_schema(src: dict[str, Any], indexes: list[dict[str, Any]], caps: Any, skip_unsupported: bool = False,
               target_label: str = "the target") -> SchemaPlan:
    """The plan for creating schema `src` with `indexes` on a backend with capabilities `caps`."""
    src = normalize_schema(src)
    dropped: list[str] = []
    notes: list[str] = []
    problems = []
    for feat, names in schema_features(src).items():
        reason = caps.why_not(feat)
        if reason is None:
            continue
        dropped.extend(names)
        problems.append(f"{', '.join(names)}: {reason}")
    if problems and not skip_unsupported:
        raise CapabilityError(f"cannot copy field(s) {', '.join(dropped)} to {target_label} ("
                              + "; ".join(problems) + "). Copy without them with skip_unsupported=True "
                              "(--skip-unsupported)")
    notes.extend(f"left out {p}" for p in problems)
    fields = []
    for f in src["fields"]:
        if f["name"] in dropped:
            continue
        f = json.loads(json.dumps(f, default=str))
        if f["type"] == ARRAY and f.get("element_type") == VARCHAR and not f["params"].get("max_length"):
            f["params"]["max_length"] = 65535
            notes.append(f"ARRAY field {f['name']!r}: the source does not report its elements' max_length "
                         "(Milvus Lite does not); 65535 is used")
        if f.get("is_primary") and f.get("auto_id"):
            f.pop("auto_id")
            notes.append(f"primary key {f['name']!r} was auto_id; the copy keeps the same keys, so it is not")
        fields.append(f)
    target = dict(src, fields=fields, auto_id=False)
    if not any(f["type"] in VECTOR_TYPES or f.get("element_type") == STRUCT for f in fields):
        raise CapabilityError(f"cannot copy to {target_label}: every vector field would be left out")
    out_idx = []
    for i in indexes:
        top = i["field_name"].split("[", 1)[0]
        if top in dropped:
            continue
        i = dict(i)
        itype = (i.get("index_type") or "AUTOINDEX").upper()
        if caps.index_types and itype not in caps.index_types:
            if i.get("metric_type"):
                notes.append(f"index on {i['field_name']!r}: {itype} is not available on {target_label}; "
                             "AUTOINDEX instead")
                i["index_type"], i["params"] = "AUTOINDEX", {}
            else:
                notes.append(f"scalar index {itype} on {i['field_name']!r} is not available on {target_label}; "
                             "left out")
                continue
        out_idx.append(i)
    return SchemaPlan(source=src, target=target, indexes=out_idx, dropped=dropped, notes=notes)


# --- copy --------------------------------------------------------------------------------------------
def _strip(rows: list[Row], dropped: Sequence[str]) -> list[Row]:
    if not dropped:
        return rows
    return [{k: v for k, v in r.items() if k not in dropped} for r in rows]


def copy_collection(
    source: Backend,
    target: Backend,
    name: str,
    *,
    target_name: str | None = None,
    batch_size: int = 1000,
    if_exists: str = "fail",
    skip_unsupported: bool = False,
    verify: str = "sample",
    samples: int = 256,
    keep_partial: bool = False,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Copy collection `name` from `source` to `target` (as `target_name`), batch by batch.

    `if_exists`: "fail" (default), "replace" (drop the target collection first) or "append" (upsert
    into it). `verify`: "sample" (counts and `samples` rows' checksums), "full" (also a checksum of
    every row on both sides) or "none". On cancel the collection created for the copy is dropped
    unless `keep_partial`.
    """
    clock = _Clock()
    dest = target_name or name
    if if_exists not in ("fail", "replace", "append"):
        raise TransferError(f"if_exists must be 'fail', 'replace' or 'append', not {if_exists!r}")
    if verify not in ("sample", "full", "none"):
        raise TransferError(f"verify must be 'sample', 'full' or 'none', not {verify!r}")
    if batch_size < 1:
        raise TransferError("batch_size must be at least 1")
    if not source.has_collection(name):
        raise TransferError(f"no collection {name!r} on {source.label}")
    yield TransferProgress("planning", 0, None, clock(), f"mapping the schema of {name!r}")
    plan = plan_copy(source, target, name, skip_unsupported)
    report = TransferReport("copy", name, plan=plan, notes=list(plan.notes))
    total = source.count(name)
    exists = target.has_collection(dest)
    created = False
    if exists and if_exists == "fail":
        raise TransferError(f"{target.label} already has a collection {dest!r}; choose another name, or "
                            "replace or append to it")
    if exists and if_exists == "replace":
        target.drop_collection(dest)
        exists = False
    if not exists:
        yield TransferProgress("creating", 0, total, clock(), f"creating {dest!r} on {target.label}")
        target.create_collection(dest, plan.target, plan.indexes)
        created = True
    partitions = [p for p in source.list_partitions(name)]
    for p in partitions:
        if p != "_default":
            target.create_partition(dest, p)
    pk = primary_field(plan.source)["name"]
    sample = _Reservoir(samples if verify != "none" else 0)
    full = _Checksum() if verify == "full" else None
    write = target.upsert if exists else target.insert
    done = 0
    try:
        for part in partitions:
            for batch in source.iter_rows(name, batch_size=batch_size, output_fields=["*"],
                                          partitions=[part] if len(partitions) > 1 else None):
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled
                rows = _strip(batch, plan.dropped)
                write(dest, rows, partition=part if part != "_default" else None)
                for r in rows:
                    sample.add(r[pk])
                    if full is not None:
                        full.add(row_digest(r, plan.target))
                done += len(rows)
                report.batches += 1
                yield TransferProgress("copying", done, total, clock(), f"{done}/{total} rows")
    except (_Cancelled, GeneratorExit, Exception) as e:
        report.rows, report.cancelled, report.elapsed_s = done, True, clock()
        if created and not keep_partial:
            try:
                target.drop_collection(dest)
                report.notes.append(f"stopped: {dest!r} was removed from {target.label}")
            except BackendError as err:
                report.notes.append(f"stopped: could not remove {dest!r}: {err}")
        if not isinstance(e, _Cancelled):
            raise
        yield TransferProgress("cancelled", done, total, clock(), "cancelled", report)
        return
    report.rows = done
    yield TransferProgress("flushing", done, total, clock(), f"flushing {dest!r}")
    target.flush(dest)
    if verify != "none":
        yield TransferProgress("verifying", done, total, clock(), "checking row counts and checksums")
        report.verification = verify_copy(source, name, target, dest, plan, sample.items, full)
    report.elapsed_s = clock()
    yield TransferProgress("done", done, total, clock(), report.summary(), report)


class _Cancelled(Exception):
    pass


def verify_copy(source: Backend, name: str, target: Backend, dest: str, plan: SchemaPlan, keys: Sequence[Any],
                full: _Checksum | None = None, batch_size: int = 500) -> Verification:
    """Compare counts and the checksums of rows `keys` (and, with `full`, of every target row)."""
    v = Verification(source_rows=source.count(name), target_rows=target.count(dest))
    pk = primary_field(plan.source)["name"]
    keys = list(keys)
    for i in range(0, len(keys), batch_size):
        chunk = keys[i:i + batch_size]
        a = {r[pk]: row_digest(_strip([r], plan.dropped)[0], plan.target) for r in source.get(name, chunk)}
        b = {r[pk]: row_digest(r, plan.target) for r in target.get(dest, chunk)}
        for k in chunk:
            v.checked += 1
            if k not in b:
                if len(v.missing) < 20:
                    v.missing.append(k)
            elif k in a and a[k] != b[k] and len(v.mismatched) < 20:
                v.mismatched.append(k)
    if full is not None:
        other = _Checksum()
        for batch in target.iter_rows(dest, batch_size=1000, output_fields=["*"]):
            for r in batch:
                other.add(row_digest(r, plan.target))
        v.source_checksum, v.target_checksum = full.hexdigest(), other.hexdigest()
    return v


# --- Arrow layout --------------------------------------------------------------------------------------
_SCALAR_ARROW: dict[int, pa.DataType] = {
    BOOL: pa.bool_(), INT8: pa.int8(), INT16: pa.int16(), INT32: pa.int32(), INT64: pa.int64(),
    FLOAT: pa.float32(), DOUBLE: pa.float64(), VARCHAR: pa.string(), JSON_TYPE: pa.string(),
}


def _arrow_type(f: dict[str, Any]) -> pa.DataType:
    t = f["type"]
    dim = int((f.get("params") or {}).get("dim") or 0)
    if t in _SCALAR_ARROW:
        return _SCALAR_ARROW[t]
    if t in (FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR):
        return pa.list_(pa.float32(), dim)
    if t == INT8_VECTOR:
        return pa.list_(pa.int8(), dim)
    if t == BINARY_VECTOR:
        return pa.binary(dim // 8)
    if t == SPARSE_FLOAT_VECTOR:
        return pa.map_(pa.int64(), pa.float32())
    if t == ARRAY and f.get("element_type") == STRUCT:
        return pa.list_(pa.struct([pa.field(s["name"], _arrow_type(s), nullable=False)
                                   for s in f.get("struct_fields") or []]))
    if t == ARRAY:
        return pa.list_(pa.field("element", _SCALAR_ARROW[int(f["element_type"])], nullable=False))
    raise NotImplementedError(f"field {f['name']!r}: {TYPE_NAMES.get(t, t)} has no Parquet layout yet")


def arrow_schema(schema: dict[str, Any], indexes: Sequence[dict[str, Any]] = (), collection: str = "",
                 partitioned: bool = False) -> pa.Schema:
    """The Arrow schema of an export: one column per field (+ `$meta`, + `$partition` when `partitioned`),
    the Milvus schema and indexes in the metadata."""
    cols = []
    for f in schema["fields"]:
        meta = {b"milvus.type": TYPE_NAMES.get(f["type"], str(f["type"])).encode()}
        cols.append(pa.field(f["name"], _arrow_type(f), nullable=bool(f.get("nullable")), metadata=meta))
    if schema.get("enable_dynamic_field"):
        cols.append(pa.field(DYNAMIC, pa.string(), nullable=True, metadata={b"milvus.type": b"DYNAMIC"}))
    if partitioned:
        cols.append(pa.field(PARTITION, pa.string(), nullable=False, metadata={b"milvus.type": b"PARTITION"}))
    meta = {META_SCHEMA: json.dumps(schema, default=str).encode(),
            META_INDEXES: json.dumps(list(indexes), default=str).encode(),
            META_COLLECTION: collection.encode(), META_FORMAT: FORMAT_VERSION.encode()}
    return pa.schema(cols, metadata=meta)


def _column(values: list[Any], f: dict[str, Any], typ: pa.DataType) -> pa.Array:
    t = f["type"]
    if t in (FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR, INT8_VECTOR) and all(v is not None for v in values):
        dim = typ.list_size
        np_t = np.int8 if t == INT8_VECTOR else np.float32
        flat = np.asarray(values, dtype=np_t).reshape(-1) if values else np.zeros(0, np_t)
        if len(flat) != len(values) * dim:
            raise TransferError(f"field {f['name']!r}: a vector does not have dimension {dim}")
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=typ.value_type), dim)
    if t == JSON_TYPE:
        values = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
    elif t == SPARSE_FLOAT_VECTOR:
        values = [None if v is None else sorted((int(k), float(x)) for k, x in dict(v).items()) for v in values]
    elif t == BINARY_VECTOR:
        values = [None if v is None else _binary(v) for v in values]
    return pa.array(values, type=typ)


def rows_to_table(rows: list[Row], schema: dict[str, Any], arrow: pa.Schema) -> pa.Table:
    """Rows (as the backends return them) as an Arrow table of schema `arrow`."""
    names = {f["name"] for f in schema["fields"]}
    arrays = []
    for f in schema["fields"]:
        arrays.append(_column([r.get(f["name"]) for r in rows], f, arrow.field(f["name"]).type))
    if schema.get("enable_dynamic_field"):
        dyn = []
        for r in rows:
            d = dict(r.get(DYNAMIC) or {})
            d.update({k: v for k, v in r.items() if k not in names and k not in (DYNAMIC, PARTITION)})
            dyn.append(json.dumps(d, ensure_ascii=False, sort_keys=True) if d else None)
        arrays.append(pa.array(dyn, type=pa.string()))
    if PARTITION in arrow.names:
        arrays.append(pa.array([r.get(PARTITION) or "_default" for r in rows], type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=arrow)


def _from_arrow_value(v: Any, f: dict[str, Any]) -> Any:
    if v is None:
        return None
    t = f["type"]
    if t == JSON_TYPE:
        return json.loads(v) if isinstance(v, str) else v
    if t == SPARSE_FLOAT_VECTOR:
        return {int(k): float(x) for k, x in v}
    if t == FLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float16)
    return v


def table_to_rows(table: pa.Table, schema: dict[str, Any]) -> list[Row]:
    """An Arrow table (as written by `rows_to_table`, or any table with the same columns) as rows."""
    fields = {f["name"]: f for f in schema["fields"]}
    fix = {n: f for n, f in fields.items() if f["type"] in (JSON_TYPE, SPARSE_FLOAT_VECTOR, FLOAT16_VECTOR)}
    rows = table.to_pylist()
    for r in rows:
        for n, f in fix.items():
            if n in r:
                r[n] = _from_arrow_value(r[n], f)
        if DYNAMIC in r:
            meta = r.pop(DYNAMIC)
            if meta:
                for k, v in json.loads(meta).items():
                    r.setdefault(k, v)
    return rows


# --- export ----------------------------------------------------------------------------------------------
def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("parquet", "jsonl"):
            raise TransferError(f"format must be 'parquet' or 'jsonl', not {fmt!r}")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "parquet"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-") or "x"


def _jsonable(row: Row, schema: dict[str, Any]) -> Row:
    """A row for JSONL: binary vectors as hex, float16 vectors as lists, everything else as is."""
    out = dict(row)
    for f in schema["fields"]:
        v = out.get(f["name"])
        if v is None:
            continue
        if f["type"] == BINARY_VECTOR:
            out[f["name"]] = _binary(v).hex()
        elif f["type"] == SPARSE_FLOAT_VECTOR:
            out[f["name"]] = {str(k): x for k, x in dict(v).items()}
        elif isinstance(v, np.ndarray):
            out[f["name"]] = v.tolist()
    return out


def _from_jsonable(row: Row, schema: dict[str, Any]) -> Row:
    for f in schema["fields"]:
        v = row.get(f["name"])
        if v is None:
            continue
        if f["type"] == BINARY_VECTOR and isinstance(v, str):
            row[f["name"]] = bytes.fromhex(v)
        elif f["type"] == SPARSE_FLOAT_VECTOR:
            row[f["name"]] = {int(k): float(x) for k, x in dict(v).items()}
        elif f["type"] == FLOAT16_VECTOR:
            row[f["name"]] = np.asarray(v, dtype=np.float16)
    return row


class _Writer:
    """Writes one export file (Parquet or JSONL) through a temporary name; `commit` renames it."""

    def __init__(self, path: Path, fmt: str, schema: dict[str, Any], arrow: pa.Schema) -> None:
        self.path, self.fmt, self.schema, self.arrow = path, fmt, schema, arrow
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.rows = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._pq = pq.ParquetWriter(self.tmp, arrow)
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8")

    def write(self, rows: list[Row]) -> None:
        if self.fmt == "parquet":
            self._pq.write_table(rows_to_table(rows, self.schema, self.arrow))
        else:
            for r in rows:
                self._fh.write(json.dumps(_jsonable(r, self.schema), ensure_ascii=False, default=str) + "\n")
        self.rows += len(rows)

    def close(self) -> None:
        if self.fmt == "parquet":
            self._pq.close()
        else:
            self._fh.close()

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".schema.json")


def export_collection(
    backend: Backend,
    name: str,
    dest: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    layout: str = "single",
    rows_per_file: int = 100_000,
    batch_size: int = 1000,
    cancel: CancelToken | None = None,
) -> Generator[TransferProgress, None, None]:
    """Export every live row of `name` to `dest`.

    `layout`: "single" (one file, `dest`), "segments" (a directory `dest` with one file per segment,
    where the backend says which rows are in which segment: the embedded engine does, Milvus does not),
    or "split" (a directory with files of at most `rows_per_file` rows, for any backend). `fmt` is
    "parquet" or "jsonl" (default: from the file name; directories get Parquet). JSONL files get the
    schema in a `<file>.schema.json` sidecar. Files appear only when complete; a cancelled export
    leaves none of its own behind.
    """
    clock = _Clock()
    dest_path = Path(dest).expanduser()
    if layout not in ("single", "segments", "split"):
        raise TransferError(f"layout must be 'single', 'segments' or 'split', not {layout!r}")
    f = _format_of(dest_path, fmt)
    ext = ".parquet" if f == "parquet" else ".jsonl"
    if not backend.has_collection(name):
        raise TransferError(f"no collection {name!r} on {backend.label}")
    schema = backend.schema(name)
    indexes = [i.spec() for i in backend.list_indexes(name)]
    partitions = backend.list_partitions(name)
    partitioned = len(partitions) > 1
    arrow = arrow_schema(schema, indexes, name, partitioned)
    total = backend.count(name)
    report = TransferReport("export", name)
    yield TransferProgress("planning", 0, total, clock(), f"exporting {total} rows of {name!r}")
    done = 0
    writers: list[_Writer] = []
    committed: list[Path] = []

    def new_writer(path: Path) -> _Writer:
        w = _Writer(path, f, schema, arrow)
        writers.append(w)
        return w

    def batches(size: int) -> Iterator[list[Row]]:
        for part in partitions if partitioned else [None]:
            for batch in backend.iter_rows(name, batch_size=size, output_fields=["*"],
                                           partitions=[part] if part else None):
                if part:
                    for r in batch:
                        r[PARTITION] = part
                yield batch

    try:
        if layout == "single":
            dest_path.parent.mkdir(parents=True, exist_ok=True)
            w = new_writer(dest_path)
            for batch in batches(batch_size):
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled
                w.write(batch)
                done += len(batch)
                report.batches += 1
                yield TransferProgress("writing", done, total, clock(), f"{done}/{total} rows")
            if not w.rows and f == "parquet":
                w.write([])
        elif layout == "segments":
            segs = backend.segment_keys(name)
            dest_path.mkdir(parents=True, exist_ok=True)
            pk = primary_field(schema)["name"]
            for view, keys in segs:
                w = new_writer(dest_path / f"segment-{_safe(str(view.segment_id))}{ext}")
                for i in range(0, len(keys), batch_size):
                    if cancel is not None and cancel.cancelled:
                        raise _Cancelled
                    chunk = keys[i:i + batch_size]
                    rows = backend.get(name, chunk, output_fields=["*"])
                    order = {k: j for j, k in enumerate(chunk)}
                    rows.sort(key=lambda r: order.get(r[pk], 0))
                    if partitioned:
                        for r in rows:
                            r[PARTITION] = view.partition or "_default"
                    w.write(rows)
                    done += len(rows)
                    report.batches += 1
                    yield TransferProgress("writing", done, total, clock(),
                                           f"segment {view.segment_id}: {done}/{total} rows")
        else:
            if rows_per_file < 1:
                raise TransferError("rows_per_file must be at least 1")
            dest_path.mkdir(parents=True, exist_ok=True)
            w = None
            for batch in batches(min(batch_size, rows_per_file)):
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled
                while batch:
                    if w is None or w.rows >= rows_per_file:
                        w = new_writer(dest_path / f"part-{len(writers):05d}{ext}")
                    take = batch[: rows_per_file - w.rows]
                    batch = batch[len(take):]
                    w.write(take)
                    done += len(take)
                report.batches += 1
                yield TransferProgress("writing", done, total, clock(), f"{done}/{total} rows")
        for w in writers:
            w.commit()
            committed.append(w.path)
            if f == "jsonl":
                _sidecar(w.path).write_text(json.dumps({"collection": name, "schema": schema, "indexes": indexes},
                                                       indent=2, default=str))
    except (_Cancelled, GeneratorExit, Exception) as e:
        for w in writers:
            if w.path not in committed:
                w.abort()
        if isinstance(e, _Cancelled):
            report.rows, report.cancelled, report.elapsed_s = done, True, clock()
            yield TransferProgress("cancelled", done, total, clock(), "cancelled", report)
            return
        raise
    report.rows, report.files, report.elapsed_s = done, [str(p) for p in committed], clock()
    yield TransferProgress("done", done, total, clock(), report.summary(), report)


def export_to_file(backend: Backend, name: str, dest: str | os.PathLike[str], **options: Any) -> TransferReport:
    """`export_collection` run to its end (what the CLI's `export` command calls)."""
    return run(export_collection(backend, name, dest, **options))


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
            _write_by_partition(backend, name, _strip(batch, plan.dropped), write)
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


__all__ = [
    "CancelToken",
    "SchemaPlan",
    "TransferError",
    "TransferProgress",
    "TransferReport",
    "Verification",
    "arrow_schema",
    "canonical_row",
    "copy_collection",
    "export_collection",
    "export_to_file",
    "import_collection",
    "infer_schema",
    "map_schema",
    "plan_copy",
    "read_export_schema",
    "rows_to_table",
    "run",
    "table_to_rows",
    "verify_copy",
]
