"""Turn user rows (dicts) into one validated Arrow record batch, or reject the batch.

Every row is checked against the schema before anything is written: missing
required fields, unknown fields, wrong types, integer overflow, NaN/inf in
vectors, wrong dimensions, over-long strings, too many array or struct
elements, and duplicate primary keys inside the batch. The first problem found
raises `DataError` naming the row index and the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import DataError, brief
from engine.fulltext.bm25 import bm25_generators
from engine.fulltext.sparse import check_sparse_row
from engine.fulltext.sparse import to_arrow as sparse_to_arrow
from engine.geometry import GeometryValueError, to_wkb
from engine.jsonvalues import dump_json
from engine.schema import CollectionSchema, FieldSchema
from engine.timestamptz import TimeValueError, parse_timestamp
from engine.types import DYNAMIC_FIELD, INTEGER_RANGES, INTEGER_TYPES, DataType
from engine.vectors.checks import VectorValueError, check_range, float_array


def _fail(row: int, field: str, msg: str) -> DataError:
    return DataError(f"row {row}, field {field!r}: {msg}")


def _check_int(v: Any, dtype: DataType, row: int, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise _fail(row, name, f"expected an integer ({dtype.name}), got {type(v).__name__} {v!r}")
    iv = int(v)
    lo, hi = INTEGER_RANGES[dtype]
    if not lo <= iv <= hi:
        raise _fail(row, name, f"value {brief(iv)} is out of range for {dtype.name} [{lo}, {hi}]")
    return iv


def _check_float(v: Any, dtype: DataType, row: int, name: str) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise _fail(row, name, f"expected a number ({dtype.name}), got {type(v).__name__} {v!r}")
    try:
        fv = float(v)
    except OverflowError:
        raise _fail(row, name, f"value {brief(v, 60)} is out of the {dtype.name} range") from None
    if not math.isfinite(fv):
        raise _fail(row, name, f"value {fv} is not finite")
    if dtype == DataType.FLOAT and abs(fv) > 3.4028234663852886e38:
        raise _fail(row, name, f"value {fv} overflows FLOAT")
    return fv


def _check_str(v: Any, max_length: int, row: int, name: str) -> str:
    if not isinstance(v, str):
        raise _fail(row, name, f"expected a string, got {type(v).__name__} {brief(v, 60)}")
    n = len(utf8(v, row, name))
    if n > max_length:
        raise _fail(row, name, f"string of {n} bytes is longer than max_length {max_length}")
    return v


def utf8(v: str, row: int, name: str) -> bytes:
    """`v` encoded as UTF-8; DataError naming the character if it is not valid Unicode (a lone surrogate)."""
    try:
        return v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _fail(row, name, f"string holds {v[e.start:e.end]!r} at character {e.start}, which is not valid "
                               "Unicode (a lone surrogate)") from None


def check_scalar(v: Any, f: FieldSchema, row: int, name: str | None = None, tz: str | None = None) -> Any:
    """Validate one non-null scalar value of field `f`; return it as a plain Python value.

    TIMESTAMPTZ becomes microseconds since the epoch (a string without an offset is read in `tz`),
    GEOMETRY becomes WKB.
    """
    name = name or f.name
    dt = f.dtype
    if dt == DataType.BOOL:
        if not isinstance(v, (bool, np.bool_)):
            raise _fail(row, name, f"expected a bool, got {type(v).__name__} {v!r}")
        return bool(v)
    if dt in INTEGER_TYPES:
        return _check_int(v, dt, row, name)
    if dt in (DataType.FLOAT, DataType.DOUBLE):
        return _check_float(v, dt, row, name)
    if dt == DataType.VARCHAR:
        return _check_str(v, int(f.params["max_length"]), row, name)
    if dt == DataType.JSON:
        try:
            return dump_json(v)
        except DataError as e:
            raise _fail(row, name, e.message) from None
    if dt == DataType.TIMESTAMPTZ:
        try:
            return parse_timestamp(v, tz)
        except TimeValueError as e:
            raise _fail(row, name, str(e)) from None
    if dt == DataType.GEOMETRY:
        try:
            return to_wkb(v)
        except GeometryValueError as e:
            raise _fail(row, name, str(e)) from None
    raise _fail(row, name, f"unsupported type {dt.name}")


def check_float_vector(v: Any, dim: int, row: int, name: str, dtype: Any = np.float32) -> np.ndarray:
    """Validate a dense vector: right length, numbers only, finite, and finite once stored as `dtype`."""
    if isinstance(v, (str, bytes, dict)) or v is None:
        raise _fail(row, name, f"expected a vector of {dim} numbers, got {type(v).__name__}")
    try:
        arr = float_array(v)
    except VectorValueError as e:
        raise _fail(row, name, str(e)) from None
    if arr.ndim != 1 or arr.shape[0] != dim:
        raise _fail(row, name, f"vector has dimension {arr.shape[0] if arr.ndim == 1 else arr.shape}, expected {dim}")
    try:
        check_range(arr, dtype)
    except VectorValueError as e:
        raise _fail(row, name, str(e)) from None
    return arr.astype(dtype)


def _to_bfloat16_bits(arr: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (round-to-nearest-even) and return the raw uint16 bits."""
    bits = arr.astype(np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16)


def check_binary_vector(v: Any, dim: int, row: int, name: str) -> bytes:
    """Binary vectors are given packed, as `dim / 8` bytes (pymilvus's format)."""
    nbytes = dim // 8
    if isinstance(v, np.ndarray) and v.dtype == np.uint8:
        v = v.tobytes()
    if isinstance(v, (list, tuple)) and len(v) == 1 and isinstance(v[0], bytes):
        v = v[0]
    if not isinstance(v, (bytes, bytearray)):
        raise _fail(row, name, f"binary vector must be {nbytes} bytes (dim {dim} packed), got {type(v).__name__}")
    if len(v) != nbytes:
        raise _fail(row, name, f"binary vector has {len(v)} bytes, expected {nbytes} (dim {dim})")
    return bytes(v)


class RowConverter:
    """Validates rows for one schema and builds Arrow record batches."""

    def __init__(self, schema: CollectionSchema) -> None:
        self.schema = schema
        self.arrow_schema = schema.arrow_schema()
        self.pk = schema.primary_field
        self.generated = bm25_generators(schema)  # BM25 output field -> its filler

    def convert(self, rows: Sequence[dict[str, Any]], *, auto_ids: Sequence[int] | None = None,
                timezone: str | None = None) -> pa.RecordBatch:
        """Validate all rows and return one RecordBatch; raise DataError on the first problem.

        With an auto_id primary key, `auto_ids` supplies the generated keys and
        the rows must not contain the key themselves. `timezone` reads TIMESTAMPTZ
        strings that carry no offset (refused when None).
        """
        if isinstance(rows, dict):
            rows = [rows]
        columns: dict[str, list[Any]] = {f.name: [] for f in self.schema.fields}
        dynamic: list[Any] = []
        pk_name = self.pk.name
        seen_pks: dict[Any, int] = {}
        known = set(columns)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise DataError(f"row {i}: expected a dict, got {type(row).__name__}")
            if auto_ids is not None and pk_name in row:
                raise _fail(i, pk_name, "the primary key is auto_id; do not supply it (remove it from the row)")
            extra = {k: v for k, v in row.items() if k not in known}
            if extra:
                if not self.schema.enable_dynamic_field:
                    k = str(next(iter(extra)))
                    close = [n for n in known if n.replace("_", "") == k.replace("_", "").replace("-", "")]
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise _fail(i, k, f"unknown field (the collection has no dynamic field){hint}")
                if DYNAMIC_FIELD in extra:
                    meta = extra.pop(DYNAMIC_FIELD)
                    if not isinstance(meta, dict):
                        raise _fail(i, DYNAMIC_FIELD, "the dynamic field must be a dict")
                    extra = {**meta, **extra}
                bad_key = next((k for k in extra if not isinstance(k, str)), None)
                if bad_key is not None:
                    raise DataError(f"row {i}: dynamic field name {brief(bad_key, 60)} is not a string")
                try:
                    dynamic.append(dump_json(extra))
                except DataError as e:
                    raise DataError(f"row {i}: dynamic fields {brief(sorted(extra), 200)}: {e.message}") from None
            elif self.schema.enable_dynamic_field:
                dynamic.append("{}")
            for f in self.schema.fields:
                if f.name == pk_name and auto_ids is not None:
                    columns[f.name].append(int(auto_ids[i]))
                    continue
                columns[f.name].append(self._value(row, f, i, timezone))
            pk_val = columns[pk_name][-1]
            if pk_val in seen_pks:
                raise _fail(i, pk_name, f"duplicate primary key {pk_val!r} (also in row {seen_pks[pk_val]})")
            seen_pks[pk_val] = i
        arrays = []
        for f in self.schema.fields:
            arrays.append(self._to_arrow(columns[f.name], f))
        if self.schema.enable_dynamic_field:
            arrays.append(pa.array(dynamic, type=pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    # --- per value -------------------------------------------------------
    def _value(self, row: dict[str, Any], f: FieldSchema, i: int, tz: str | None = None) -> Any:
        if f.name in self.generated:
            return self.generated[f.name](row, i)
        if f.name not in row or row[f.name] is None:
            if f.default_value is not None:
                return check_scalar(f.default_value, f, i, tz=tz)
            if f.nullable:
                return None
            if f.name in row:
                raise _fail(i, f.name, "null given, but the field is not nullable")
            raise _fail(i, f.name, "missing required field")
        v = row[f.name]
        dt = f.dtype
        if dt == DataType.FLOAT_VECTOR:
            return check_float_vector(v, int(f.params["dim"]), i, f.name)
        if dt == DataType.FLOAT16_VECTOR:
            return check_float_vector(_maybe_bytes(v, np.float16), int(f.params["dim"]), i, f.name, np.float16)
        if dt == DataType.BFLOAT16_VECTOR:
            arr = check_float_vector(_maybe_bytes(v, None), int(f.params["dim"]), i, f.name, np.float32)
            bits = _to_bfloat16_bits(arr)
            if ((bits & 0x7F80) == 0x7F80).any():  # rounded up to infinity
                bad = int(np.flatnonzero((bits & 0x7F80) == 0x7F80)[0])
                raise _fail(i, f.name, f"vector contains {arr[bad]} at position {bad}, beyond the bfloat16 range")
            return bits
        if dt == DataType.BINARY_VECTOR:
            return check_binary_vector(v, int(f.params["dim"]), i, f.name)
        if dt == DataType.SPARSE_FLOAT_VECTOR:
            return check_sparse_row(v, i, f.name)
        if dt == DataType.ARRAY:
            return self._array_value(v, f, i)
        return check_scalar(v, f, i, tz=tz)

    def _array_value(self, v: Any, f: FieldSchema, i: int) -> list[Any]:
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (str, bytes, dict)) or not isinstance(v, (list, tuple)):
            raise _fail(i, f.name, f"expected a list, got {type(v).__name__}")
        cap = int(f.params["max_capacity"])
        if len(v) > cap:
            raise _fail(i, f.name, f"{len(v)} elements exceed max_capacity {cap}")
        if f.element_type == DataType.STRUCT:
            assert f.struct_schema is not None
            out = []
            subs = f.struct_schema.fields
            names = {s.name for s in subs}
            for j, elem in enumerate(v):
                where = f"{f.name}[{j}]"
                if not isinstance(elem, dict):
                    raise _fail(i, where, f"expected a dict (struct element), got {type(elem).__name__}")
                unknown = set(elem) - names
                if unknown:
                    raise _fail(i, f"{where}.{sorted(unknown)[0]}", f"unknown struct sub-field; the struct has {sorted(names)}")
                rec: dict[str, Any] = {}
                for s in subs:
                    path = f"{where}.{s.name}"
                    if s.name not in elem or elem[s.name] is None:
                        raise _fail(i, path, "missing struct sub-field")
                    if s.dtype == DataType.FLOAT_VECTOR:
                        rec[s.name] = check_float_vector(elem[s.name], int(s.params["dim"]), i, path)
                    else:
                        rec[s.name] = check_scalar(elem[s.name], s, i, path)
                out.append(rec)
            return out
        elem_field = FieldSchema(name=f.name, dtype=f.element_type or DataType.NONE, params=dict(f.params))
        return [
            _reject_null(check_scalar(x, elem_field, i, f"{f.name}[{j}]") if x is not None else None, i, f, j)
            for j, x in enumerate(v)
        ]

    def _to_arrow(self, values: list[Any], f: FieldSchema) -> pa.Array:
        t = f.arrow_type()
        dt = f.dtype
        if dt in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
            dim = int(f.params["dim"])
            flat = np.concatenate(values) if values else np.zeros(0, dtype=t.value_type.to_pandas_dtype())
            flat = flat.astype(t.value_type.to_pandas_dtype(), copy=False)
            return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=t.value_type), dim)
        if f.is_struct_array:
            return _struct_array_to_arrow(values, f, t)
        if dt == DataType.SPARSE_FLOAT_VECTOR:
            return sparse_to_arrow(values)
        return pa.array(values, type=t)


def _reject_null(v: Any, i: int, f: FieldSchema, j: int) -> Any:
    if v is None:
        raise _fail(i, f"{f.name}[{j}]", "array elements cannot be null")
    return v


def _maybe_bytes(v: Any, dtype: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        if dtype is None:
            raise DataError("bfloat16 vectors given as bytes are not supported; pass a list or float32 numpy array")
        return np.frombuffer(v, dtype=dtype)
    return v


def _struct_array_to_arrow(values: list[list[dict[str, Any]]], f: FieldSchema, t: pa.ListType) -> pa.Array:
    """Build list<struct<...>> column-wise (vectors as fixed-size lists)."""
    assert f.struct_schema is not None
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(v) for v in values])
    children = []
    struct_type = t.value_type
    for s in f.struct_schema.fields:
        items = [elem[s.name] for v in values for elem in v]
        child_t = struct_type.field(s.name).type
        if s.dtype == DataType.FLOAT_VECTOR:
            dim = int(s.params["dim"])
            flat = np.concatenate(items).astype(np.float32) if items else np.zeros(0, np.float32)
            children.append(pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim))
        else:
            children.append(pa.array(items, type=child_t))
    struct_arr = pa.StructArray.from_arrays(children, fields=list(struct_type))
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), struct_arr, type=t)
