"""The schema designer's model: field drafts, their engine validation, and the pymilvus code preview.

No widgets here: `ui/schema/schema_designer.py` is the form over these functions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

SCALARS = ("BOOL", "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE", "VARCHAR")
VECTORS = ("FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR", "BINARY_VECTOR")
STRUCT = "ARRAY<STRUCT>"
TOP_TYPES = (*SCALARS, "JSON", "ARRAY", *VECTORS, STRUCT)
SUB_TYPES = (*SCALARS, "FLOAT_VECTOR")
TEMPLATES = ("Blank", "Images", "PDF documents", "Product with multiple images")
_STUB_PK = "_vw_stub_pk"
_STUB_VEC = "_vw_stub_vec"


@dataclass
class FieldDraft:
    """One field as the form holds it (before it becomes an engine FieldSchema)."""

    name: str
    dtype: str
    dim: int = 512
    max_length: int = 256
    element_type: str = "INT64"
    max_capacity: int = 16
    nullable: bool = False
    default: str = ""
    is_primary: bool = False
    auto_id: bool = False
    description: str = ""
    metric: str = ""
    subs: list[FieldDraft] = field(default_factory=list)

    @property
    def is_vector(self) -> bool:
        return self.dtype in VECTORS

    @property
    def is_struct(self) -> bool:
        return self.dtype == STRUCT

    def type_text(self) -> str:
        if self.is_vector:
            return f"{self.dtype}({self.dim})"
        if self.dtype == "VARCHAR":
            return f"VARCHAR({self.max_length})"
        if self.dtype == "ARRAY":
            inner = f"VARCHAR({self.max_length})" if self.element_type == "VARCHAR" else self.element_type
            return f"ARRAY<{inner}>[{self.max_capacity}]"
        if self.is_struct:
            return f"ARRAY<STRUCT>[{self.max_capacity}]"
        return self.dtype


def parse_default(d: FieldDraft) -> Any:
    """The default value typed into the form, as the field's type (ValueError if it does not parse)."""
    text = d.default.strip()
    if not text:
        return None
    if d.dtype in ("INT8", "INT16", "INT32", "INT64"):
        return int(text)
    if d.dtype in ("FLOAT", "DOUBLE"):
        return float(text)
    if d.dtype == "BOOL":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("a BOOL default is true or false")
    if d.dtype == "JSON":
        return json.loads(text)
    return d.default


def _kwargs(d: FieldDraft, sub: bool = False) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if d.description:
        kw["description"] = d.description
    if d.is_vector:
        kw["dim"] = d.dim
    if d.dtype == "VARCHAR" or (d.dtype == "ARRAY" and d.element_type == "VARCHAR"):
        kw["max_length"] = d.max_length
    if d.dtype == "ARRAY":
        kw["element_type"] = d.element_type
        kw["max_capacity"] = d.max_capacity
    if not sub:
        if d.nullable:
            kw["nullable"] = True
        default = parse_default(d)
        if default is not None:
            kw["default_value"] = default
        if d.is_primary:
            kw["auto_id"] = d.auto_id
    return kw


def build_field(d: FieldDraft) -> Any:
    """An engine FieldSchema for one draft (struct sub-fields included)."""
    from engine import DataType, FieldSchema, StructFieldSchema

    if d.is_struct:
        st = StructFieldSchema()
        for s in d.subs:
            kw = _kwargs(s, sub=True)
            kw.pop("description", None)
            st.add_field(s.name, DataType[s.dtype], **kw)
        return FieldSchema.build(d.name, DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st,
                                 max_capacity=d.max_capacity, description=d.description,
                                 nullable=bool(d.nullable))
    kw = _kwargs(d)
    if "element_type" in kw:
        kw["element_type"] = DataType[kw["element_type"]]
    return FieldSchema.build(d.name, DataType[d.dtype], is_primary=d.is_primary, **kw)


def build_schema(fields: list[FieldDraft], dynamic: bool, description: str) -> Any:
    from engine import CollectionSchema

    schema = CollectionSchema(description=description, enable_dynamic_field=dynamic)
    for d in fields:
        schema.fields.append(build_field(d))
    pk = next((d for d in fields if d.is_primary), None)
    schema.auto_id = bool(pk and pk.auto_id)
    return schema


def _stub(name: str, dtype: str) -> FieldDraft:
    return FieldDraft(name, dtype, dim=8, max_length=64, is_primary=dtype != "FLOAT_VECTOR")


def _check_alone(d: FieldDraft) -> str | None:
    """The engine's complaint about `d` in a minimal schema (stub primary key and vector), or None."""
    from engine.errors import SchemaError

    others = [] if d.is_primary else [_stub(_STUB_PK, "INT64")]
    if not d.is_vector:
        others.append(_stub(_STUB_VEC, "FLOAT_VECTOR"))
    try:
        build_schema([*others, d], False, "").validate()
    except SchemaError as e:
        return e.message
    except (NotImplementedError, KeyError, ValueError, TypeError) as e:
        return str(e)
    return None


def field_error(d: FieldDraft) -> tuple[str, str] | None:
    """(path, message) of the first engine rule this one field breaks, checked on its own.

    Struct sub-fields are checked one at a time, so an error lands on `struct[sub]`.
    """
    try:
        parse_default(d)
    except (ValueError, TypeError) as e:
        return d.name, f"default value: {e}"
    if d.is_struct:
        for s in d.subs:
            msg = _check_alone(replace(d, subs=[s]))
            if msg is not None:
                return f"{d.name}[{s.name}]", msg
    msg = _check_alone(d)
    if msg is None:
        return None
    m = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z_][A-Za-z0-9_]*)\]'", msg)
    return (f"{m.group(1)}[{m.group(2)}]" if m else d.name), msg


def schema_errors(name: str, fields: list[FieldDraft], dynamic: bool) -> tuple[dict[str, str], list[str]]:
    """Errors by field path, and errors of the schema as a whole, using the engine's rules."""
    from engine.errors import SchemaError
    from engine.schema import check_name

    by_field: dict[str, str] = {}
    general: list[str] = []
    try:
        check_name(name, "collection name")
    except SchemaError as e:
        general.append(e.message)
    seen: set[str] = set()
    for d in fields:
        if d.name in seen:
            by_field.setdefault(d.name, f"duplicate field name {d.name!r}")
            continue
        seen.add(d.name)
        err = field_error(d)
        if err is not None:
            by_field.setdefault(err[0], err[1])
        if d.is_struct:
            names = [s.name for s in d.subs]
            for s in d.subs:
                if names.count(s.name) > 1:
                    by_field.setdefault(f"{d.name}[{s.name}]", f"duplicate sub-field {s.name!r} in {d.name!r}")
    if not by_field:
        try:
            build_schema(fields, dynamic, "").validate()
        except (SchemaError, NotImplementedError, ValueError, KeyError) as e:
            msg = e.message if isinstance(e, SchemaError) else str(e)
            m = re.search(r"(?:field|key) '([A-Za-z_][A-Za-z0-9_]*)'", msg)
            if m and any(d.name == m.group(1) for d in fields):
                by_field[m.group(1)] = msg
            else:
                general.append(msg)
    return by_field, general


def pymilvus_code(name: str, fields: list[FieldDraft], dynamic: bool, description: str, partitions: list[str],
                  with_indexes: bool) -> str:
    """The same schema as pymilvus code (runs against Milvus, Milvus Lite, or this engine)."""
    pk = next((d for d in fields if d.is_primary), None)
    lines = [
        "from pymilvus import MilvusClient, DataType",
        "",
        'client = MilvusClient("milvus_demo.db")',
        f"schema = MilvusClient.create_schema(auto_id={bool(pk and pk.auto_id)}, "
        f"enable_dynamic_field={dynamic}" + (f", description={description!r}" if description else "") + ")",
    ]

    def args(d: FieldDraft, sub: bool = False) -> str:
        parts = [repr(d.name), f"DataType.{d.dtype}"]
        if d.is_primary and not sub:
            parts.append("is_primary=True")
            if d.auto_id:
                parts.append("auto_id=True")
        if d.is_vector:
            parts.append(f"dim={d.dim}")
        if d.dtype == "ARRAY":
            parts.append(f"element_type=DataType.{d.element_type}")
            parts.append(f"max_capacity={d.max_capacity}")
        if d.dtype == "VARCHAR" or (d.dtype == "ARRAY" and d.element_type == "VARCHAR"):
            parts.append(f"max_length={d.max_length}")
        if not sub:
            if d.nullable:
                parts.append("nullable=True")
            try:
                default = parse_default(d)
            except (ValueError, TypeError):
                default = None
            if default is not None:
                parts.append(f"default_value={default!r}")
        if d.description and not sub:
            parts.append(f"description={d.description!r}")
        return ", ".join(parts)

    for d in fields:
        if d.is_struct:
            var = f"{d.name}_struct"
            lines.append(f"{var} = MilvusClient.create_struct_field_schema()")
            for s in d.subs:
                lines.append(f"{var}.add_field({args(s, sub=True)})")
            lines.append(f"schema.add_field({d.name!r}, DataType.ARRAY, element_type=DataType.STRUCT, "
                         f"struct_schema={var}, max_capacity={d.max_capacity})")
        else:
            lines.append(f"schema.add_field({args(d)})")
    create = f"client.create_collection({name!r}, schema=schema"
    if with_indexes:
        lines += ["", "index_params = client.prepare_index_params()"]
        for path, metric in vector_paths(fields):
            lines.append(f"index_params.add_index(field_name={path!r}, index_type=\"AUTOINDEX\", "
                         f"metric_type={metric!r})")
        create += ", index_params=index_params"
    lines += ["", create + ")"]
    for p in partitions:
        lines.append(f"client.create_partition({name!r}, {p!r})")
    return "\n".join(lines) + "\n"


def vector_paths(fields: list[FieldDraft]) -> list[tuple[str, str]]:
    """(path, metric) of every vector field, struct sub-fields as `struct[sub]` with MAX_SIM metrics."""
    out = []
    for d in fields:
        if d.is_vector:
            default = "HAMMING" if d.dtype == "BINARY_VECTOR" else "COSINE"
            out.append((d.name, d.metric or default))
        elif d.is_struct:
            for s in d.subs:
                if s.is_vector:
                    out.append((f"{d.name}[{s.name}]", s.metric or "MAX_SIM_COSINE"))
    return out


def template_fields(name: str, dim: int) -> list[FieldDraft]:
    """Drafts for one of the workbench's templates (or a blank id + vector)."""
    if name == "Blank":
        return [FieldDraft("id", "INT64", is_primary=True, auto_id=True),
                FieldDraft("vector", "FLOAT_VECTOR", dim=dim, metric="COSINE")]
    from workbench.templates import template_by_name

    tpl = template_by_name(name)

    def conv(spec: Any) -> FieldDraft:
        dtype = STRUCT if spec.dtype == "STRUCT_ARRAY" else spec.dtype
        d = FieldDraft(spec.name, dtype, dim=dim, max_length=spec.max_length or 256,
                       max_capacity=spec.max_capacity or 16, nullable=spec.nullable, is_primary=spec.is_primary,
                       description=spec.description, metric=spec.metric or "")
        d.subs = [conv(s) for s in spec.sub]
        return d

    return [conv(f) for f in tpl.fields]
