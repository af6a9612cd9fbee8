"""How rows map to Arrow tables and back (one column per field)."""


from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from engine.timestamptz import TimeValueError, parse_timestamp
from workbench.backends import (
    ARRAY,
    BFLOAT16_VECTOR,
    BINARY_VECTOR,
    BOOL,
    DOUBLE,
    FLOAT,
    FLOAT16_VECTOR,
    FLOAT_VECTOR,
    GEOMETRY,
    INT8,
    INT8_VECTOR,
    INT16,
    INT32,
    INT64,
    JSON_TYPE,
    SPARSE_FLOAT_VECTOR,
    STRUCT,
    TIMESTAMPTZ,
    TYPE_NAMES,
    VARCHAR,
    Row,
)
from workbench.transfer.checksums import _binary
from workbench.transfer.progress import (
    DYNAMIC,
    FORMAT_VERSION,
    META_COLLECTION,
    META_FORMAT,
    META_INDEXES,
    META_SCHEMA,
    PARTITION,
    TransferError,
)

# --- Arrow layout --------------------------------------------------------------------------------------
_SCALAR_ARROW: dict[int, pa.DataType] = {
    BOOL: pa.bool_(), INT8: pa.int8(), INT16: pa.int16(), INT32: pa.int32(), INT64: pa.int64(),
    FLOAT: pa.float32(), DOUBLE: pa.float64(), VARCHAR: pa.string(), JSON_TYPE: pa.string(),
    # TIMESTAMPTZ: the instant (ISO text from the backends, in any offset) as microseconds in UTC;
    # GEOMETRY: the WKT text the backends return.
    TIMESTAMPTZ: pa.timestamp("us", tz="UTC"), GEOMETRY: pa.string(),
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
    elif t == TIMESTAMPTZ:
        return pa.array([None if v is None else _micros(v, f) for v in values], type=pa.int64()).cast(typ)
    return pa.array(values, type=typ)


def _micros(v: Any, f: dict[str, Any]) -> int:
    """Microseconds (UTC) of a TIMESTAMPTZ value as the backends return it (ISO text with an offset)."""
    try:
        return parse_timestamp(v, "UTC")
    except TimeValueError as e:
        raise TransferError(f"field {f['name']!r}: {e}") from None


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
    if t == TIMESTAMPTZ:  # a datetime in UTC; the backends take ISO text
        return v.isoformat() if hasattr(v, "isoformat") else v
    return v


def table_to_rows(table: pa.Table, schema: dict[str, Any]) -> list[Row]:
    """An Arrow table (as written by `rows_to_table`, or any table with the same columns) as rows."""
    fields = {f["name"]: f for f in schema["fields"]}
    fix = {n: f for n, f in fields.items()
           if f["type"] in (JSON_TYPE, SPARSE_FLOAT_VECTOR, FLOAT16_VECTOR, TIMESTAMPTZ)}
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


