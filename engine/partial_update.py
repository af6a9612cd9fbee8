"""Upsert in merge mode: `upsert(..., partial_update=True)` and the ARRAY field operators.

Milvus (docs: "Upsert Entities", merge mode, v2.6.2+) takes rows that carry the primary key and only
the fields to change. For a key that exists, the given fields replace the stored ones and every other
field keeps its value; dynamic keys merge key by key (given keys replace, the others stay); a JSON
field is replaced whole. A key that does not exist is inserted, so its row must be complete (nullable
fields and fields with a default may be left out, as in an insert). Every row of one request carries
the same fields (pymilvus refuses others). `field_ops={"tags": FieldOp.array_append()}` appends the
given elements to an ARRAY field instead of replacing it, `array_remove` removes every element equal
to one given; either implies merge mode.

The engine reads the stored rows and writes the merged full rows under one hold of the write lock,
with the state synced first (`Collection.insert(..., merge=...)`), so no other writer, thread or
process, interleaves. The log record is an ordinary UPSERT of full rows: replay and crash recovery are
those of any upsert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.collection import MergeRows
from engine.collection_state import LiveState, SegmentState
from engine.errors import DataError, ParamError, brief
from engine.executor import materialize, plan_output
from engine.rows import check_scalar
from engine.schema import CollectionSchema, FieldSchema
from engine.storage.segment import SegmentData
from engine.types import ARRAY_ELEMENT_TYPES, DYNAMIC_FIELD, DataType

__all__ = [
    "ARRAY_APPEND",
    "ARRAY_REMOVE",
    "REPLACE",
    "FieldOp",
    "check_merge_rows",
    "field_ops_arg",
    "merge_arg",
    "merge_rows",
]

# pymilvus's FieldOpType numbers (schema_pb2.FieldPartialUpdateOp.OpType).
REPLACE, ARRAY_APPEND, ARRAY_REMOVE = 0, 1, 2
_ALIASES = {"replace": REPLACE, "array_append": ARRAY_APPEND, "array_remove": ARRAY_REMOVE}
_NAMES = {v: k.upper() for k, v in _ALIASES.items()}


@dataclass(frozen=True)
class FieldPartialUpdateOp:
    """One field operator; `op` is REPLACE, ARRAY_APPEND or ARRAY_REMOVE (pymilvus's numbers)."""

    op: int


class FieldOp:
    """Factories for `field_ops` values, as pymilvus's `FieldOp` (its own objects are accepted too)."""

    @staticmethod
    def replace() -> FieldPartialUpdateOp:
        return FieldPartialUpdateOp(REPLACE)

    @staticmethod
    def array_append() -> FieldPartialUpdateOp:
        return FieldPartialUpdateOp(ARRAY_APPEND)

    @staticmethod
    def array_remove() -> FieldPartialUpdateOp:
        return FieldPartialUpdateOp(ARRAY_REMOVE)


def field_ops_arg(schema: CollectionSchema, field_ops: Any) -> dict[str, int]:
    """`field_ops` as {field: ARRAY_APPEND or ARRAY_REMOVE} (REPLACE entries dropped); ParamError if bad.

    A value may be a string alias ('array_append'), an operator number, or an object with an integer
    `op` (this module's FieldOp, or pymilvus's). The field must be an ARRAY of scalars.
    """
    if field_ops is None:
        return {}
    if not isinstance(field_ops, Mapping):
        raise ParamError(f"field_ops must be a dict of field name -> operator, got {brief(field_ops)}")
    out: dict[str, int] = {}
    for name, value in field_ops.items():
        op = _op_number(name, value)
        if op == REPLACE:
            continue
        f = schema.field(name) if isinstance(name, str) else None
        if f is None:
            raise ParamError(f"field_ops: {brief(name)} is not a field of the collection")
        if f.dtype != DataType.ARRAY or f.element_type not in ARRAY_ELEMENT_TYPES:
            raise ParamError(f"field_ops: {_NAMES[op]} needs an ARRAY field of scalars; {name!r} is "
                             f"{f.dtype.name}{'' if f.element_type is None else '<' + f.element_type.name + '>'}")
        out[name] = op
    return out


def _op_number(name: Any, value: Any) -> int:
    if isinstance(value, str):
        if value.lower() not in _ALIASES:
            raise ParamError(f"field_ops[{name!r}]: unknown operator {value!r}; use one of {sorted(_ALIASES)}")
        return _ALIASES[value.lower()]
    raw = getattr(value, "op", value)
    if isinstance(raw, (bool, np.bool_)) or not isinstance(raw, (int, np.integer)) or int(raw) not in _NAMES:
        raise ParamError(f"field_ops[{name!r}]: {brief(value)} is not a field operator "
                         "(use FieldOp.array_append(), FieldOp.array_remove() or 'array_append')")
    return int(raw)


def merge_arg(schema: CollectionSchema, rows: list[Any], partial_update: Any, field_ops: Any) -> MergeRows | None:
    """The `merge` for `Collection.insert` of an upsert: None for whole rows, else the merge of `rows`
    (checked here, before the write lock) with the field operators. ParamError/DataError if bad."""
    if partial_update is None:  # not given (pymilvus's default is False)
        partial_update = False
    if not isinstance(partial_update, (bool, np.bool_)):
        raise ParamError(f"partial_update must be True or False, got {brief(partial_update)}")
    ops = field_ops_arg(schema, field_ops)
    if not partial_update and not ops:
        return None
    check_merge_rows(schema, rows)
    return lambda st, given: merge_rows(st.schema, st, given, ops)


def check_merge_rows(schema: CollectionSchema, rows: list[Any]) -> None:
    """Refuse, before anything is read, rows merge mode cannot take: not dicts, without the primary key,
    or not all carrying the same schema fields (dynamic keys aside), as pymilvus requires."""
    pk = schema.primary_field
    known = set(schema.field_names)
    first: frozenset[str] | None = None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"row {i}: expected a dict, got {type(row).__name__}")
        if row.get(pk.name) is None:
            raise DataError(f"row {i}, field {pk.name!r}: merge mode (partial_update) needs the primary key "
                            "of every row")
        fields = frozenset(k for k in row if k in known)
        if first is None:
            first = fields
        elif fields != first:
            extra, missing = sorted(fields - first), sorted(first - fields)
            raise DataError(f"row {i}: in merge mode (partial_update) every row must carry the same fields; "
                            f"row 0 has {sorted(first)}, row {i} "
                            + (f"also has {extra}" if extra else "") + (" and " if extra and missing else "")
                            + (f"lacks {missing}" if missing else ""))


def merge_rows(schema: CollectionSchema, st: LiveState, rows: list[dict[str, Any]],
               ops: Mapping[str, int]) -> list[dict[str, Any]]:
    """The full rows to upsert: each given row merged onto the stored row with its key, if any.

    Call with the write lock held and `st` synced (inside `Collection.writing`), so the stored rows
    read here are the ones the upsert replaces.
    """
    pk = schema.primary_field
    keys = [_key(schema, row[pk.name], i) for i, row in enumerate(rows)]
    stored = _stored_rows(schema, st, keys)
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        new = dict(row)
        if DYNAMIC_FIELD in new and schema.enable_dynamic_field:
            meta = new.pop(DYNAMIC_FIELD)
            if not isinstance(meta, dict):
                raise DataError(f"row {i}, field {DYNAMIC_FIELD!r}: the dynamic field must be a dict")
            new = {**meta, **new}
        old = stored.get(i)
        if old is None:
            _check_complete(schema, new, keys[i], i)
        merged = new if old is None else {**old, **new}
        for name, op in ops.items():
            if name in new:
                f = schema.field(name)
                assert f is not None
                base = None if old is None else old.get(name)
                merged[name] = _apply(op, base, new[name], f, i, stored=old is not None)
        out.append(merged)
    return out


def _check_complete(schema: CollectionSchema, row: dict[str, Any], key: Any, i: int) -> None:
    for f in schema.fields:
        if f.name not in row and not f.nullable and f.default_value is None:
            raise DataError(f"row {i}, field {f.name!r}: missing required field (primary key {key!r} is not stored "
                            "yet, so the row is inserted and needs every field that is neither nullable nor "
                            "defaulted)")


def _key(schema: CollectionSchema, value: Any, row: int) -> Any:
    pk = schema.primary_field
    if pk.dtype == DataType.VARCHAR:
        if not isinstance(value, str):
            raise DataError(f"row {row}, field {pk.name!r}: expected a string key, got {brief(value, 60)}")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DataError(f"row {row}, field {pk.name!r}: expected an integer key, got {brief(value, 60)}")
    return int(value)


def _stored_rows(schema: CollectionSchema, st: LiveState, keys: list[Any]) -> dict[int, dict[str, Any]]:
    """Row index in `keys` -> the stored entity (every field, dynamic keys at the top level)."""
    segments: dict[str, SegmentData] = {seg.key: seg for seg, _ in st.sealed}
    segments.update({g.segment.key: g.segment for g in st.growing.values()})
    wanted: dict[str, list[tuple[int, int]]] = {}
    for seg_key, r, i in st.locate(keys):
        wanted.setdefault(seg_key, []).append((r, i))
    plan = plan_output(schema, ["*"], default_all=True)
    out: dict[int, dict[str, Any]] = {}
    for seg_key, hits in wanted.items():
        seg = SegmentState(segments[seg_key], None, True)
        ents = materialize(schema, seg, np.array([r for r, _ in hits], dtype=np.int64), plan)
        for (_, i), ent in zip(hits, ents):
            out[i] = ent
    return out


def _apply(op: int, base: Any, given: Any, f: FieldSchema, row: int, stored: bool) -> Any:
    """ARRAY_APPEND / ARRAY_REMOVE of `given` onto the stored array `base` (None: a null array, or no stored
    row when `stored` is False: then the row is new and its array starts empty)."""
    if isinstance(given, np.ndarray):
        given = given.tolist()
    if not isinstance(given, (list, tuple)):
        raise DataError(f"row {row}, field {f.name!r}: {_NAMES[op]} needs a list of elements, got {brief(given, 60)}")
    elem = FieldSchema(name=f.name, dtype=f.element_type or DataType.NONE, params=dict(f.params))
    items = []
    for j, x in enumerate(given):
        if x is None:
            raise DataError(f"row {row}, field '{f.name}[{j}]': array elements cannot be null")
        items.append(check_scalar(x, elem, row, f"{f.name}[{j}]"))
    if op == ARRAY_APPEND:
        return list(base or []) + items
    if base is None:
        return None if stored else []
    if f.element_type == DataType.FLOAT:  # stored as float32: compare as float32
        drop32 = {float(np.float32(x)) for x in items}
        return [x for x in base if float(np.float32(x)) not in drop32]
    drop = {(type(x) is bool, x) for x in items}
    return [x for x in base if (type(x) is bool, x) not in drop]
