"""Collection schemas: fields, struct fields, validation, and their Arrow layout.

`CollectionSchema`, `FieldSchema` and `StructFieldSchema` follow pymilvus's
classes of the same names (`add_field`, `fields`, `to_dict`). `validate()`
applies Milvus's rules and raises `SchemaError` naming the field at fault.
"""

from __future__ import annotations

import json
import re
import reprlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import DataError, SchemaError, UnsupportedError, brief
from engine.fulltext.functions import Function, as_function, validate_functions
from engine.fulltext.sparse import ARROW_TYPE as SPARSE_ARROW_TYPE
from engine.fulltext.text_params import check_text_params, text_params
from engine.geometry import GeometryValueError, parse_wkt
from engine.jsonvalues import dump_json
from engine.schema_compat import (
    as_struct_schema,
    check_field_keywords,
    check_functions,
    field_from_object,
    proto_value,
    struct_from_object,
    type_params,
)
from engine.timestamptz import TimeValueError, parse_timestamp
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

# Milvus's rules (validateCollectionNameOrAlias, validateFieldName, validateIndexName): ASCII letters,
# digits and underscores, not starting with a digit. Partition names (validatePartitionTag) may also
# start with a digit and contain '-'. Always matched in full: `$` would accept a trailing newline.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARTITION_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
MAX_NAME_LENGTH = 255
FLOAT32_MAX = 3.4028234663852886e38
MAX_FIELDS = 64
MAX_VECTOR_FIELDS = 10
MAX_DIM = 32768
MAX_BINARY_DIM = 262144
MAX_VARCHAR_LENGTH = 65535
MAX_ARRAY_CAPACITY = 4096
FIRST_FIELD_ID = 100



def check_name(name: Any, what: str) -> str:
    """Return `name` if it is a valid Milvus name (collection, field, index, alias), else raise SchemaError.

    1 to 255 ASCII letters, digits and underscores, not starting with a digit.
    """
    _check_length(name, what)
    if not NAME_RE.fullmatch(name):
        raise SchemaError(
            f"{what} {name!r} is invalid: use letters, digits and underscores, starting with a letter or underscore"
        )
    return name


def check_partition_name(name: Any) -> str:
    """Return `name` if it is a valid Milvus partition name, else raise SchemaError.

    1 to 255 ASCII letters, digits, underscores and '-', starting with a letter, digit or underscore.
    """
    _check_length(name, "partition name")
    if not PARTITION_NAME_RE.fullmatch(name):
        raise SchemaError(
            f"partition name {name!r} is invalid: use letters, digits, underscores and '-', "
            "starting with a letter, digit or underscore"
        )
    return name


def _check_length(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{what} must be a non-empty string, got {brief(name, 80)}")
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(f"{what} {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")


def _coerce_dtype(value: Any, what: str) -> DataType:
    try:
        return DataType(int(value))
    except (TypeError, ValueError):
        raise SchemaError(f"{what}: unknown data type {value!r}") from None


@dataclass(init=False)
class FieldSchema:
    """One field of a collection (or of a struct).

    Takes pymilvus's constructor keywords: `FieldSchema("v", DataType.FLOAT_VECTOR, dim=8)`,
    `max_length`, `element_type`, `max_capacity`, `nullable`, `default_value`, `is_partition_key`,
    `is_clustering_key`, `enable_analyzer`, `enable_match`, `analyzer_params`, `mmap_enabled`...
    Type parameters are kept in `params` as Milvus stores them (docs/engine.md says what each does).
    """

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
    is_clustering_key: bool = False
    is_function_output: bool = False

    def __init__(self, name: str, dtype: Any, description: str = "", is_primary: bool = False,
                 auto_id: bool = False, nullable: bool = False, default_value: Any = None,
                 params: dict[str, Any] | None = None, element_type: Any = None, struct_schema: Any = None,
                 field_id: int = 0, is_partition_key: bool = False, is_clustering_key: bool = False,
                 is_function_output: bool = False, **kwargs: Any) -> None:
        check_field_keywords(name, kwargs)
        if kwargs.pop("is_dynamic", False):
            raise SchemaError(f"field {name!r}: is_dynamic fields are made by enable_dynamic_field=True")
        flags = {"is_primary": is_primary, "auto_id": auto_id, "nullable": nullable,
                 "is_partition_key": is_partition_key, "is_clustering_key": is_clustering_key,
                 "is_function_output": is_function_output}
        for key, value in flags.items():
            if not isinstance(value, (bool, np.bool_)):
                raise SchemaError(f"field {name!r}: {key} must be True or False, got {brief(value)}")
        if not isinstance(description, str):
            raise SchemaError(f"field {name!r}: description must be a string, got {brief(description)}")
        self.name = name
        self.dtype = _coerce_dtype(dtype, f"field {name!r}")
        self.description = description
        self.is_primary, self.auto_id, self.nullable = bool(is_primary), bool(auto_id), bool(nullable)
        self.is_partition_key, self.is_clustering_key = bool(is_partition_key), bool(is_clustering_key)
        self.is_function_output = bool(is_function_output)
        self.default_value = proto_value(default_value)
        # text keywords through text_params: Milvus's storage form, multi_analyzer_params refused
        self.params = {**dict(params or {}), **type_params(name, kwargs), **text_params(name, kwargs)}
        self.element_type = None if element_type is None else _coerce_dtype(element_type, f"field {name!r}")
        self.struct_schema = as_struct_schema(struct_schema)
        self.field_id = field_id

    @classmethod
    def build(
        cls,
        name: str,
        datatype: Any,
        is_primary: bool = False,
        description: str = "",
        **kwargs: Any,
    ) -> FieldSchema:
        """A field from `add_field`'s arguments (pymilvus's keywords)."""
        return cls(name, datatype, kwargs.pop("description", description) or "", is_primary=is_primary, **kwargs)

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
    def is_sparse(self) -> bool:
        return self.dtype == DataType.SPARSE_FLOAT_VECTOR

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
        if self.is_partition_key:
            out["is_partition_key"] = True
        if self.is_clustering_key:
            out["is_clustering_key"] = True
        if self.is_function_output:
            out["is_function_output"] = True
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
            is_partition_key=bool(d.get("is_partition_key", False)),
            is_clustering_key=bool(d.get("is_clustering_key", False)),
            is_function_output=bool(d.get("is_function_output", False)),
        )


class StructFieldSchema:
    """The element schema of an Array of Structs field (pymilvus's name and constructor).

    `name` and `max_capacity` are set when it is added with `CollectionSchema.add_struct_field`
    (pymilvus's way); with `add_field(..., struct_schema=)` the array field carries them.
    """

    def __init__(self, nullable: bool = False, description: str = "") -> None:
        if nullable is not False:
            raise SchemaError("an Array of Structs field cannot be nullable (Milvus's rule)")
        if not isinstance(description, str):
            raise SchemaError(f"description must be a string, got {brief(description)}")
        self.fields: list[FieldSchema] = []
        self.name = ""
        self.description = description
        self.max_capacity: int | None = None

    def add_field(self, field_name: str, datatype: Any, **kwargs: Any) -> StructFieldSchema:
        self.fields.append(FieldSchema.build(field_name, datatype, **kwargs))
        return self

    def field(self, name: str) -> FieldSchema | None:
        return next((f for f in self.fields if f.name == name), None)

    def __repr__(self) -> str:
        return f"StructFieldSchema({[f.name for f in self.fields]})"


_SCHEMA_KEYWORDS = {"primary_field", "partition_key_field", "clustering_key_field", "check_fields", "functions",
                    "struct_fields", "enable_namespace"}


class CollectionSchema:
    """A collection's fields and options, as built with `MilvusClient.create_schema()`.

    `fields` may hold pymilvus `FieldSchema`s and `struct_fields` pymilvus `StructFieldSchema`s
    (read by their attributes); `primary_field=` and `clustering_key_field=` name those fields.
    """

    def __init__(
        self,
        fields: list[FieldSchema] | None = None,
        description: str = "",
        auto_id: bool = False,
        enable_dynamic_field: bool = False,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - _SCHEMA_KEYWORDS)
        if unknown:
            raise SchemaError(f"CollectionSchema: unknown parameter(s) {unknown}; the parameters are "
                              f"{sorted(_SCHEMA_KEYWORDS | {'fields', 'description', 'auto_id', 'enable_dynamic_field'})}")
        if fields is not None and not isinstance(fields, (list, tuple)):
            raise SchemaError(f"fields must be a list of FieldSchema (from create_field_schema()), got {brief(fields)}")
        for name in ("auto_id", "enable_dynamic_field"):
            value = locals()[name]
            if not isinstance(value, (bool, np.bool_)):
                raise SchemaError(f"{name} must be True or False, got {brief(value)}")
        if kwargs.get("enable_namespace"):
            raise UnsupportedError("enable_namespace (namespaces) is not supported by the engine")
        check_functions(list(kwargs.get("functions") or []))
        self.fields: list[FieldSchema] = [field_from_object(f) for f in fields or []]
        for st in kwargs.get("struct_fields") or []:
            self.add_struct_field(st)
        self.description = description or ""
        self.auto_id = bool(auto_id)
        self.enable_dynamic_field = bool(enable_dynamic_field)
        self.functions: list[Function] = [as_function(fn) for fn in kwargs.get("functions") or []]
        self._primary_hint: str | None = kwargs.get("primary_field") or None
        self._clustering_hint: str | None = kwargs.get("clustering_key_field") or None
        key_hint = kwargs.get("partition_key_field")
        if key_hint is not None and not isinstance(key_hint, str):
            raise SchemaError(f"Param partition_key_field must be str type, got {brief(key_hint)}")
        self._partition_key_hint: str | None = key_hint

    def add_struct_field(self, struct_field_schema: Any) -> CollectionSchema:
        """pymilvus's way to add an Array of Structs: a `StructFieldSchema` with `name` and `max_capacity` set."""
        struct, extra = struct_from_object(struct_field_schema)
        if extra["nullable"]:
            raise SchemaError(f"Array of Structs field {extra['name']!r} cannot be nullable")
        self.fields.append(FieldSchema(extra["name"], DataType.ARRAY, extra["description"],
                                       element_type=DataType.STRUCT, struct_schema=struct,
                                       max_capacity=extra["max_capacity"],
                                       **({"mmap_enabled": extra["mmap_enabled"]} if "mmap_enabled" in extra else {})))
        return self

    def add_field(self, field_name: str, datatype: Any, is_primary: bool = False, **kwargs: Any) -> CollectionSchema:
        """Add a field; returns the schema so calls can be chained, as in pymilvus."""
        if is_primary and self.auto_id and "auto_id" not in kwargs:
            kwargs["auto_id"] = True
        f = FieldSchema.build(field_name, datatype, is_primary=is_primary, **kwargs)
        if f.is_primary and f.auto_id:
            self.auto_id = True
        self.fields.append(f)
        return self

    def add_function(self, function: Any) -> CollectionSchema:
        """Add a schema function (a BM25 `Function`, ours or pymilvus's); checked by `validate()`."""
        check_functions([function])
        self.functions.append(as_function(function))
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
            if f.is_vector or f.is_sparse:
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
        if self._clustering_hint:
            hinted = self.field(self._clustering_hint)
            if hinted is None:
                raise SchemaError(f"clustering_key_field {self._clustering_hint!r} is not a field of the schema")
            hinted.is_clustering_key = True
        _validate_clustering_key([f for f in self.fields if f.is_clustering_key])
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
            if f.is_vector or f.is_sparse:
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
        from engine.partition_keys import check_schema

        check_schema(self, getattr(self, "_partition_key_hint", None))
        for i, f in enumerate(self.fields):
            f.field_id = FIRST_FIELD_ID + i
        validate_functions(self)

    # --- serialisation ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "auto_id": self.auto_id,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "enable_dynamic_field": self.enable_dynamic_field,
            **({"functions": [fn.to_dict() for fn in self.functions]} if self.functions else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=int)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CollectionSchema:
        """The schema `to_dict` gave (a `describe_collection` result works too); SchemaError if malformed."""
        try:
            return cls(
                fields=[FieldSchema.from_dict(f) for f in d["fields"]],
                description=d.get("description", ""),
                auto_id=d.get("auto_id", False),
                enable_dynamic_field=d.get("enable_dynamic_field", False),
                functions=[Function.from_dict(fn) for fn in d.get("functions") or []],
            )
        except SchemaError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise SchemaError(f"the schema dict {brief(d)} is malformed: {type(e).__name__} {e}") from None

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
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        return SPARSE_ARROW_TYPE
    if f.dtype == DataType.ARRAY:
        if f.element_type == DataType.STRUCT:
            assert f.struct_schema is not None
            return pa.list_(pa.struct([pa.field(s.name, arrow_type_of(s)) for s in f.struct_schema.fields]))
        assert f.element_type is not None
        return pa.list_(SCALAR_ARROW_TYPES[f.element_type])
    raise SchemaError(f"field {f.name!r}: data type {f.dtype.name} is not supported by the engine")


CLUSTERING_KEY_TYPES = INTEGER_TYPES | {DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR, DataType.FLOAT_VECTOR}


def _validate_clustering_key(keys: list[FieldSchema]) -> None:
    """Milvus's rules: at most one clustering key, of a numeric, VARCHAR or FLOAT_VECTOR field."""
    if len(keys) > 1:
        raise SchemaError(f"only one field can be the clustering key; found {[f.name for f in keys]}")
    for f in keys:
        if f.dtype not in CLUSTERING_KEY_TYPES:
            raise SchemaError(f"field {f.name!r}: a clustering key must be INT8, INT16, INT32, INT64, FLOAT, DOUBLE, "
                              f"VARCHAR or FLOAT_VECTOR, not {f.dtype.name}")


def _validate_text_params(f: FieldSchema) -> None:
    """enable_analyzer / enable_match / analyzer_params: VARCHAR fields only; match needs the analyzer."""
    given = [k for k in ("enable_analyzer", "enable_match", "analyzer_params", "multi_analyzer_params") if k in f.params]
    if given and f.dtype != DataType.VARCHAR:
        raise SchemaError(f"field {f.name!r}: {given} apply to VARCHAR fields only, not {f.dtype.name}")
    if f.params.get("enable_match") == "true" and f.params.get("enable_analyzer") != "true":
        raise SchemaError(f"field {f.name!r}: enable_match=True needs enable_analyzer=True (text match runs on the "
                          "analyzer's tokens)")


def _validate_dim(f: FieldSchema) -> None:
    dim = f.params.get("dim")
    if dim is None:
        raise SchemaError(f"vector field {f.name!r} needs dim=")
    if isinstance(dim, bool) or not isinstance(dim, int):
        # Milvus takes type params as text: an int, or a string of ASCII digits (never 4.5 read as 4)
        if not isinstance(dim, str) or not re.fullmatch(r"[0-9]{1,6}", dim.strip()):
            raise SchemaError(f"vector field {f.name!r}: dim must be an integer, got {brief(dim)}")
        dim = int(dim)
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
    _validate_text_params(f)
    if f.dtype == DataType.STRING:
        raise SchemaError(f"field {f.name!r}: use DataType.VARCHAR (with max_length) instead of STRING")
    check_text_params(f)
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        if f.nullable or f.default_value is not None or f.params.get("dim") is not None:
            raise SchemaError(f"sparse vector field {f.name!r} takes no dim and cannot be nullable or have a default")
        return
    if f.dtype in (DataType.INT8_VECTOR, DataType.TEXT):
        raise UnsupportedError(f"field {f.name!r}: data type {f.dtype.name} is not supported by the engine yet")
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
            if sub.is_partition_key or sub.is_clustering_key:
                raise SchemaError(f"struct sub-field {path!r} cannot be a partition key or a clustering key")
            _validate_text_params(sub)
            if sub.nullable or sub.default_value is not None:
                raise SchemaError(f"struct sub-field {path!r} cannot be nullable or have a default value")
            if any(k in sub.params for k in ("enable_analyzer", "enable_match", "analyzer_params")):
                raise SchemaError(f"struct sub-field {path!r}: text analysis (enable_analyzer, enable_match) applies "
                                  "to top-level VARCHAR fields only")
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
    where = f"field {f.name!r}: default_value {reprlib.repr(v)}"
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
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SchemaError(f"{where} is not a number")
        limit = FLOAT32_MAX if f.dtype == DataType.FLOAT else sys.float_info.max
        if not (-limit <= v <= limit):  # compares ints exactly; false for NaN
            raise SchemaError(f"{where} is not a finite number in the {f.dtype.name} range")
    elif f.dtype == DataType.VARCHAR:
        if not isinstance(v, str):
            raise SchemaError(f"{where} is not a string")
        try:
            n = len(v.encode("utf-8"))
        except UnicodeEncodeError:
            raise SchemaError(f"{where} is not valid Unicode (it holds a lone surrogate)") from None
        if n > int(f.params["max_length"]):
            raise SchemaError(f"{where} is longer than max_length {f.params['max_length']}")
    elif f.dtype == DataType.JSON:
        try:
            dump_json(v)
        except DataError as e:
            raise SchemaError(f"{where}: {e.message}") from None
    elif f.dtype == DataType.TIMESTAMPTZ:
        try:
            parse_timestamp(v, None)  # an ISO 8601 string with its offset, as Milvus documents
        except TimeValueError as e:
            raise SchemaError(f"{where}: {e}") from None
    elif f.dtype == DataType.GEOMETRY:
        try:
            parse_wkt(v)
        except GeometryValueError as e:
            raise SchemaError(f"{where}: {e}") from None
    else:
        raise SchemaError(f"field {f.name!r}: type {f.dtype.name} does not take a default value")
