"""Collection schemas: fields, struct fields, validation, and their Arrow layout.

`CollectionSchema`, `FieldSchema` and `StructFieldSchema` follow pymilvus's
classes of the same names (`add_field`, `fields`, `to_dict`). `validate()`
applies Milvus's rules and raises `SchemaError` naming the field at fault.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from engine.errors import SchemaError
from engine.types import (
    ARRAY_ELEMENT_TYPES,
    DYNAMIC_FIELD,
    INTEGER_RANGES,
    INTEGER_TYPES,
    NUMERIC_TYPES,
    SCALAR_ARROW_TYPES,
    STRUCT_SUBFIELD_TYPES,
    VECTOR_TYPES,
    DataType,
)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME_LENGTH = 255
MAX_FIELDS = 64
MAX_VECTOR_FIELDS = 10
MAX_DIM = 32768
MAX_BINARY_DIM = 262144
MAX_VARCHAR_LENGTH = 65535
MAX_ARRAY_CAPACITY = 4096
FIRST_FIELD_ID = 100

_KNOWN_FIELD_KWARGS = {
    "dim",
    "max_length",
    "element_type",
    "max_capacity",
    "auto_id",
    "nullable",
    "default_value",
    "description",
    "struct_schema",
    "mmap_enabled",
    "is_partition_key",
    "is_clustering_key",
    "enable_analyzer",
    "enable_match",
    "analyzer_params",
    "is_function_output",
}


def check_name(name: Any, what: str) -> str:
    """Return `name` if it is a valid Milvus identifier, else raise SchemaError."""
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(f"{what} {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not NAME_RE.match(name):
        raise SchemaError(
            f"{what} {name!r} is invalid: use letters, digits and underscores, starting with a letter or underscore"
        )
    return name


def _coerce_dtype(value: Any, what: str) -> DataType:
    try:
        return DataType(int(value))
    except (TypeError, ValueError):
        raise SchemaError(f"{what}: unknown data type {value!r}") from None


@dataclass
class FieldSchema:
    """One field of a collection (or of a struct)."""

    name: str
    dtype: DataType
    description: str = ""
    is_primary: bool = False
    auto_id: bool = False
    nullable: bool = False
    default_value: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    element_type: DataType | None = None
    struct_schema: StructFieldSchema | None = None
    field_id: int = 0
    is_partition_key: bool = False

    @classmethod
    def build(
        cls,
        name: str,
        datatype: Any,
        is_primary: bool = False,
        description: str = "",
        **kwargs: Any,
    ) -> FieldSchema:
        unknown = set(kwargs) - _KNOWN_FIELD_KWARGS
        if unknown:
            raise SchemaError(f"field {name!r}: unknown parameter(s) {sorted(unknown)}")
        dtype = _coerce_dtype(datatype, f"field {name!r}")
        params: dict[str, Any] = {}
        for key in ("dim", "max_length", "max_capacity"):
            if kwargs.get(key) is not None:
                params[key] = kwargs[key]
        if kwargs.get("mmap_enabled") is not None:
            params["mmap_enabled"] = bool(kwargs["mmap_enabled"])
        element_type = kwargs.get("element_type")
        return cls(
            name=name,
            dtype=dtype,
            description=kwargs.get("description", description) or "",
            is_primary=bool(is_primary),
            auto_id=bool(kwargs.get("auto_id", False)),
            nullable=bool(kwargs.get("nullable", False)),
            default_value=kwargs.get("default_value"),
            params=params,
            element_type=None if element_type is None else _coerce_dtype(element_type, f"field {name!r}"),
            struct_schema=kwargs.get("struct_schema"),
            is_partition_key=bool(kwargs.get("is_partition_key", False)),
        )

    # --- convenience -----------------------------------------------------
    @property
    def dim(self) -> int | None:
        return self.params.get("dim")

    @property
    def max_length(self) -> int | None:
        return self.params.get("max_length")

    @property
    def max_capacity(self) -> int | None:
        return self.params.get("max_capacity")

    @property
    def is_vector(self) -> bool:
        return self.dtype in VECTOR_TYPES

    @property
    def is_struct_array(self) -> bool:
        return self.dtype == DataType.ARRAY and self.element_type == DataType.STRUCT

    def arrow_type(self) -> pa.DataType:
        """The Arrow type this field is stored as."""
        return arrow_type_of(self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field_id": self.field_id,
            "name": self.name,
            "description": self.description,
            "type": self.dtype,
            "params": dict(self.params),
        }
        if self.element_type is not None:
            out["element_type"] = self.element_type
        if self.is_primary:
            out["is_primary"] = True
        if self.auto_id:
            out["auto_id"] = True
        if self.nullable:
            out["nullable"] = True
        if self.default_value is not None:
            out["default_value"] = self.default_value
        if self.struct_schema is not None:
            out["struct_fields"] = [f.to_dict() for f in self.struct_schema.fields]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FieldSchema:
        struct = None
        if d.get("struct_fields") is not None:
            struct = StructFieldSchema()
            for sub in d["struct_fields"]:
                struct.fields.append(FieldSchema.from_dict(sub))
        return cls(
            name=d["name"],
            dtype=DataType(int(d["type"])),
            description=d.get("description", ""),
            is_primary=bool(d.get("is_primary", False)),
            auto_id=bool(d.get("auto_id", False)),
            nullable=bool(d.get("nullable", False)),
            default_value=d.get("default_value"),
            params=dict(d.get("params", {})),
            element_type=None if d.get("element_type") is None else DataType(int(d["element_type"])),
            struct_schema=struct,
            field_id=int(d.get("field_id", 0)),
        )


class StructFieldSchema:
    """The element schema of an Array of Structs field (pymilvus's name)."""

    def __init__(self) -> None:
        self.fields: list[FieldSchema] = []

    def add_field(self, field_name: str, datatype: Any, **kwargs: Any) -> StructFieldSchema:
        self.fields.append(FieldSchema.build(field_name, datatype, **kwargs))
        return self

    def field(self, name: str) -> FieldSchema | None:
        return next((f for f in self.fields if f.name == name), None)

    def __repr__(self) -> str:
        return f"StructFieldSchema({[f.name for f in self.fields]})"


class CollectionSchema:
    """A collection's fields and options, as built with `MilvusClient.create_schema()`."""

    def __init__(
        self,
        fields: list[FieldSchema] | None = None,
        description: str = "",
        auto_id: bool = False,
        enable_dynamic_field: bool = False,
        **kwargs: Any,
    ) -> None:
        self.fields: list[FieldSchema] = list(fields or [])
        self.description = description or ""
        self.auto_id = bool(auto_id)
        self.enable_dynamic_field = bool(enable_dynamic_field)
        if kwargs.get("primary_field"):
            self._primary_hint: str | None = kwargs["primary_field"]
        else:
            self._primary_hint = None
        if kwargs.get("partition_key_field"):
            raise NotImplementedError("partition keys (partition_key_field) are not supported by the engine yet")

    def add_field(self, field_name: str, datatype: Any, is_primary: bool = False, **kwargs: Any) -> CollectionSchema:
        """Add a field; returns the schema so calls can be chained, as in pymilvus."""
        if is_primary and self.auto_id and "auto_id" not in kwargs:
            kwargs["auto_id"] = True
        f = FieldSchema.build(field_name, datatype, is_primary=is_primary, **kwargs)
        if f.is_primary and f.auto_id:
            self.auto_id = True
        self.fields.append(f)
        return self

    # --- lookups ---------------------------------------------------------
    @property
    def primary_field(self) -> FieldSchema:
        for f in self.fields:
            if f.is_primary:
                return f
        raise SchemaError("the schema has no primary key field")

    def field(self, name: str) -> FieldSchema | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def vector_fields(self) -> Iterator[tuple[str, FieldSchema]]:
        """Every vector field as (path, field): top-level names, and `struct[sub]` paths."""
        for f in self.fields:
            if f.is_vector:
                yield f.name, f
            elif f.is_struct_array and f.struct_schema is not None:
                for sub in f.struct_schema.fields:
                    if sub.is_vector:
                        yield f"{f.name}[{sub.name}]", sub

    def resolve_vector_path(self, path: str) -> tuple[FieldSchema, FieldSchema | None]:
        """Resolve `vec` or `struct[sub]` to (top-level field, sub-field or None)."""
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z_][A-Za-z0-9_]*)\]", path)
        if m:
            top = self.field(m.group(1))
            if top is None or not top.is_struct_array or top.struct_schema is None:
                raise SchemaError(f"{path!r}: {m.group(1)!r} is not an Array of Structs field")
            sub = top.struct_schema.field(m.group(2))
            if sub is None:
                names = [s.name for s in top.struct_schema.fields]
                raise SchemaError(f"{path!r}: struct {top.name!r} has no sub-field {m.group(2)!r} (it has {names})")
            return top, sub
        top = self.field(path)
        if top is None:
            raise SchemaError(f"unknown field {path!r}; the vector fields are {[p for p, _ in self.vector_fields()]}")
        return top, None

    # --- validation ------------------------------------------------------
    def validate(self) -> None:
        """Check every Milvus rule; raise SchemaError naming the offending field."""
        if not self.fields:
            raise SchemaError("the schema has no fields")
        if len(self.fields) > MAX_FIELDS:
            raise SchemaError(f"the schema has {len(self.fields)} fields; at most {MAX_FIELDS} are allowed")
        if self._primary_hint:
            hinted = self.field(self._primary_hint)
            if hinted is None:
                raise SchemaError(f"primary_field {self._primary_hint!r} is not a field of the schema")
            hinted.is_primary = True
        primaries = [f for f in self.fields if f.is_primary]
        if len(primaries) != 1:
            names = [f.name for f in primaries]
            raise SchemaError(
                "the schema must have exactly one primary key field"
                + (f"; found {len(primaries)}: {names}" if primaries else "; none is marked is_primary=True")
            )
        seen: set[str] = set()
        n_vectors = 0
        for f in self.fields:
            check_name(f.name, "field name")
            if f.name in seen:
                raise SchemaError(f"duplicate field name {f.name!r}")
            if f.name == DYNAMIC_FIELD:
                raise SchemaError(f"field name {f.name!r} is reserved for the dynamic field")
            seen.add(f.name)
            _validate_field(f)
            if f.is_vector:
                n_vectors += 1
            if f.is_struct_array and f.struct_schema is not None:
                n_vectors += sum(1 for s in f.struct_schema.fields if s.is_vector)
        if n_vectors == 0:
            raise SchemaError("the schema has no vector field; add a FLOAT_VECTOR (or other vector) field")
        if n_vectors > MAX_VECTOR_FIELDS:
            raise SchemaError(
                f"the schema has {n_vectors} vector fields (counting those inside structs); "
                f"at most {MAX_VECTOR_FIELDS} are allowed"
            )
        pk = primaries[0]
        if pk.dtype not in (DataType.INT64, DataType.VARCHAR):
            raise SchemaError(f"primary key {pk.name!r} must be INT64 or VARCHAR, not {pk.dtype.name}")
        if pk.auto_id and pk.dtype != DataType.INT64:
            raise SchemaError(f"primary key {pk.name!r}: auto_id is only supported for INT64 primary keys")
        if pk.nullable or pk.default_value is not None:
            raise SchemaError(f"primary key {pk.name!r} cannot be nullable or have a default value")
        for f in self.fields:
            if f.auto_id and not f.is_primary:
                raise SchemaError(f"field {f.name!r}: auto_id is only allowed on the primary key")
        self.auto_id = pk.auto_id
        for i, f in enumerate(self.fields):
            f.field_id = FIRST_FIELD_ID + i

    # --- serialisation ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "auto_id": self.auto_id,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "enable_dynamic_field": self.enable_dynamic_field,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=int)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CollectionSchema:
        s = cls(
            fields=[FieldSchema.from_dict(f) for f in d["fields"]],
            description=d.get("description", ""),
            auto_id=d.get("auto_id", False),
            enable_dynamic_field=d.get("enable_dynamic_field", False),
        )
        return s

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of a segment: one column per field, plus `$meta` when dynamic."""
        cols = [pa.field(f.name, f.arrow_type(), nullable=True) for f in self.fields]
        if self.enable_dynamic_field:
            cols.append(pa.field(DYNAMIC_FIELD, pa.string(), nullable=True))
        return pa.schema(cols)

    def __repr__(self) -> str:
        return f"CollectionSchema({json.dumps(self.to_dict(), default=int)})"


def arrow_type_of(f: FieldSchema) -> pa.DataType:
    """Arrow storage type of a field (vectors as fixed-size lists, structs as list<struct>)."""
    if f.dtype in SCALAR_ARROW_TYPES:
        return SCALAR_ARROW_TYPES[f.dtype]
    dim = int(f.params.get("dim") or 0)
    if f.dtype == DataType.FLOAT_VECTOR:
        return pa.list_(pa.float32(), dim)
    if f.dtype == DataType.FLOAT16_VECTOR:
        return pa.list_(pa.float16(), dim)
    if f.dtype == DataType.BFLOAT16_VECTOR:
        return pa.list_(pa.uint16(), dim)  # raw bfloat16 bits
    if f.dtype == DataType.BINARY_VECTOR:
        return pa.binary(dim // 8)
    if f.dtype == DataType.ARRAY:
        if f.element_type == DataType.STRUCT:
            assert f.struct_schema is not None
            return pa.list_(pa.struct([pa.field(s.name, arrow_type_of(s)) for s in f.struct_schema.fields]))
        assert f.element_type is not None
        return pa.list_(SCALAR_ARROW_TYPES[f.element_type])
    raise SchemaError(f"field {f.name!r}: data type {f.dtype.name} is not supported by the engine")


def _validate_dim(f: FieldSchema) -> None:
    dim = f.params.get("dim")
    if dim is None:
        raise SchemaError(f"vector field {f.name!r} needs dim=")
    if isinstance(dim, bool) or not isinstance(dim, int):
        try:
            dim = int(dim)
        except (TypeError, ValueError):
            raise SchemaError(f"vector field {f.name!r}: dim must be an integer, got {dim!r}") from None
        f.params["dim"] = dim
    if f.dtype == DataType.BINARY_VECTOR:
        if dim <= 0 or dim % 8 or dim > MAX_BINARY_DIM:
            raise SchemaError(
                f"binary vector field {f.name!r}: dim {dim} must be a positive multiple of 8, at most {MAX_BINARY_DIM}"
            )
    elif not 2 <= dim <= MAX_DIM:
        raise SchemaError(f"vector field {f.name!r}: dim {dim} is out of range [2, {MAX_DIM}]")


def _validate_max_length(f: FieldSchema, what: str) -> None:
    ml = f.params.get("max_length")
    if ml is None:
        raise SchemaError(f"{what} {f.name!r} needs max_length=")
    if isinstance(ml, bool) or not isinstance(ml, int) or not 1 <= ml <= MAX_VARCHAR_LENGTH:
        raise SchemaError(f"{what} {f.name!r}: max_length {ml!r} is out of range [1, {MAX_VARCHAR_LENGTH}]")


def _validate_capacity(f: FieldSchema) -> None:
    cap = f.params.get("max_capacity")
    if cap is None:
        raise SchemaError(f"array field {f.name!r} needs max_capacity=")
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_ARRAY_CAPACITY:
        raise SchemaError(f"array field {f.name!r}: max_capacity {cap!r} is out of range [1, {MAX_ARRAY_CAPACITY}]")


def _validate_field(f: FieldSchema) -> None:
    if f.is_partition_key:
        raise NotImplementedError(f"field {f.name!r}: partition keys (is_partition_key) are not supported yet")
    if f.dtype == DataType.STRING:
        raise SchemaError(f"field {f.name!r}: use DataType.VARCHAR (with max_length) instead of STRING")
    if f.dtype in (DataType.SPARSE_FLOAT_VECTOR, DataType.INT8_VECTOR, DataType.GEOMETRY, DataType.TEXT):
        raise NotImplementedError(f"field {f.name!r}: data type {f.dtype.name} is not supported by the engine yet")
    if f.dtype in (DataType.NONE, DataType.UNKNOWN, DataType.STRUCT):
        raise SchemaError(
            f"field {f.name!r}: data type {f.dtype.name} cannot be used for a field"
            + ("; use DataType.ARRAY with element_type=DataType.STRUCT" if f.dtype == DataType.STRUCT else "")
        )
    if f.is_vector:
        _validate_dim(f)
        if f.nullable or f.default_value is not None:
            raise SchemaError(f"vector field {f.name!r} cannot be nullable or have a default value")
        return
    if f.dtype == DataType.VARCHAR:
        _validate_max_length(f, "VARCHAR field")
    if f.dtype == DataType.ARRAY:
        _validate_array(f)
        if f.is_struct_array:
            return
    if f.default_value is not None:
        _validate_default(f)


def _validate_array(f: FieldSchema) -> None:
    if f.element_type is None:
        raise SchemaError(f"array field {f.name!r} needs element_type=")
    _validate_capacity(f)
    if f.element_type == DataType.STRUCT:
        if f.struct_schema is None or not isinstance(f.struct_schema, StructFieldSchema):
            raise SchemaError(
                f"Array of Structs field {f.name!r} needs struct_schema= (from MilvusClient.create_struct_field_schema())"
            )
        if f.nullable:
            raise SchemaError(f"Array of Structs field {f.name!r} cannot be nullable")
        if f.default_value is not None:
            raise SchemaError(f"Array of Structs field {f.name!r} cannot have a default value")
        if not f.struct_schema.fields:
            raise SchemaError(f"Array of Structs field {f.name!r} has no sub-fields")
        names: set[str] = set()
        for sub in f.struct_schema.fields:
            path = f"{f.name}[{sub.name}]"
            check_name(sub.name, f"struct sub-field name in {f.name!r}")
            if sub.name in names:
                raise SchemaError(f"duplicate sub-field {path!r}")
            names.add(sub.name)
            if sub.dtype not in STRUCT_SUBFIELD_TYPES:
                raise SchemaError(
                    f"struct sub-field {path!r}: type {sub.dtype.name} is not allowed; "
                    "use a scalar (BOOL, INT8..INT64, FLOAT, DOUBLE, VARCHAR) or FLOAT_VECTOR"
                )
            if sub.is_primary or sub.auto_id:
                raise SchemaError(f"struct sub-field {path!r} cannot be a primary key")
            if sub.nullable or sub.default_value is not None:
                raise SchemaError(f"struct sub-field {path!r} cannot be nullable or have a default value")
            if sub.dtype == DataType.FLOAT_VECTOR:
                _validate_dim(sub)
            if sub.dtype == DataType.VARCHAR:
                _validate_max_length(sub, "struct sub-field")
        return
    if f.struct_schema is not None:
        raise SchemaError(f"array field {f.name!r}: struct_schema needs element_type=DataType.STRUCT")
    if f.element_type not in ARRAY_ELEMENT_TYPES:
        raise SchemaError(
            f"array field {f.name!r}: element_type {f.element_type.name} is not allowed; "
            "use BOOL, INT8..INT64, FLOAT, DOUBLE or VARCHAR"
        )
    if f.element_type == DataType.VARCHAR:
        _validate_max_length(f, "VARCHAR array field")


def _validate_default(f: FieldSchema) -> None:
    v = f.default_value
    where = f"field {f.name!r}: default_value {v!r}"
    if f.dtype == DataType.BOOL:
        if not isinstance(v, bool):
            raise SchemaError(f"{where} is not a bool")
    elif f.dtype in INTEGER_TYPES:
        if isinstance(v, bool) or not isinstance(v, int):
            raise SchemaError(f"{where} is not an integer")
        lo, hi = INTEGER_RANGES[f.dtype]
        if not lo <= v <= hi:
            raise SchemaError(f"{where} is out of range for {f.dtype.name}")
    elif f.dtype in NUMERIC_TYPES:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SchemaError(f"{where} is not a finite number")
    elif f.dtype == DataType.VARCHAR:
        if not isinstance(v, str):
            raise SchemaError(f"{where} is not a string")
        if len(v.encode()) > int(f.params["max_length"]):
            raise SchemaError(f"{where} is longer than max_length {f.params['max_length']}")
    elif f.dtype == DataType.JSON:
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            raise SchemaError(f"{where} is not JSON-serialisable") from None
    else:
        raise SchemaError(f"field {f.name!r}: type {f.dtype.name} does not take a default value")
