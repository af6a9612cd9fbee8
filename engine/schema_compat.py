"""pymilvus's schema keywords and objects, as the engine's schema reads them.

"Change one import" means pymilvus code hands the engine pymilvus's own objects too: a
`pymilvus.CollectionSchema` built with `FieldSchema(...)`s, `StructFieldSchema`s and
`Function`s. The engine never imports pymilvus (it would become a hard dependency); these
helpers read such objects by their public attributes (`name`, `dtype`, `to_dict()`,
`fields`, `struct_fields`, `functions`...) and build the engine's own classes from them.

`type_params` normalises the field keywords pymilvus accepts (`dim`, `max_length`,
`enable_analyzer`, `analyzer_params`...) the way Milvus stores them, so that
`describe_collection` reports every one of them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from engine.errors import SchemaError, UnsupportedError, brief
from engine.types import DataType

if TYPE_CHECKING:
    from engine.schema import CollectionSchema, FieldSchema, StructFieldSchema

# Keywords stored as type parameters (Milvus's `type_params`), reported by describe_collection.
SIZE_PARAMS = ("dim", "max_length", "max_capacity")
TEXT_FLAGS = ("enable_analyzer", "enable_match")
TEXT_JSON_PARAMS = ("analyzer_params", "multi_analyzer_params")
TYPE_PARAM_KEYWORDS = frozenset(SIZE_PARAMS + TEXT_FLAGS + TEXT_JSON_PARAMS + ("mmap_enabled",))
# Every keyword `FieldSchema` / `add_field` takes (pymilvus's names).
FIELD_KEYWORDS = TYPE_PARAM_KEYWORDS | {
    "element_type", "auto_id", "nullable", "default_value", "description", "struct_schema", "is_primary",
    "is_partition_key", "is_clustering_key", "is_function_output", "is_dynamic",
}


def type_params(field: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The type parameters among `kwargs`, normalised; sizes are checked later by `validate()`. The text
    keywords are read by `engine.fulltext.text_params.text_params`, which stores them as Milvus does."""
    params: dict[str, Any] = {}
    for key in SIZE_PARAMS:
        if kwargs.get(key) is not None:
            params[key] = kwargs[key]
    if kwargs.get("mmap_enabled") is not None:
        params["mmap_enabled"] = kwargs["mmap_enabled"] not in (False, "false", "False", 0)
    return params


def proto_value(value: Any) -> Any:
    """A default value as Python: pymilvus keeps it as a protobuf `ValueField` (read by its `data` oneof)."""
    which = getattr(value, "WhichOneof", None)
    if which is None:
        return value
    kind = which("data")
    return None if kind is None else getattr(value, kind)


def is_engine_object(obj: Any) -> bool:
    return type(obj).__module__.startswith("engine.")


def field_from_object(obj: Any) -> FieldSchema:
    """The engine's `FieldSchema` for a pymilvus `FieldSchema` (read through its `to_dict()`)."""
    from engine.schema import FieldSchema

    if isinstance(obj, FieldSchema):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is None or not hasattr(obj, "name"):
        raise SchemaError(f"{brief(obj)} is not a FieldSchema")
    d = dict(to_dict())
    if d.get("external_field"):
        raise UnsupportedError(f"field {d.get('name')!r}: external fields are not supported by the engine")
    kwargs: dict[str, Any] = dict(d.get("params") or {})
    for key in ("auto_id", "nullable", "is_partition_key", "is_clustering_key", "is_function_output", "element_type"):
        if d.get(key) is not None:
            kwargs[key] = d[key]
    if d.get("default_value") is not None:
        kwargs["default_value"] = proto_value(d["default_value"])
    if d.get("is_dynamic"):
        raise SchemaError(f"field {d.get('name')!r}: is_dynamic fields are made by enable_dynamic_field=True")
    return FieldSchema(d["name"], d["type"], d.get("description") or "", is_primary=bool(d.get("is_primary")),
                       **kwargs)


def struct_from_object(obj: Any) -> tuple[StructFieldSchema, dict[str, Any]]:
    """A pymilvus `StructFieldSchema` as the engine's, and the array field's keywords (name, capacity...)."""
    from engine.schema import StructFieldSchema

    struct = StructFieldSchema()
    for sub in getattr(obj, "fields", None) or []:
        struct.fields.append(field_from_object(sub))
    extra: dict[str, Any] = {"name": getattr(obj, "name", ""), "max_capacity": getattr(obj, "max_capacity", None),
                             "description": getattr(obj, "description", "") or "",
                             "nullable": bool(getattr(obj, "nullable", False))}
    params = dict(getattr(obj, "params", None) or {})
    if "mmap_enabled" in params:
        extra["mmap_enabled"] = params.pop("mmap_enabled")
    if params:
        raise SchemaError(f"Array of Structs field {extra['name']!r}: unknown parameter(s) {sorted(params)}")
    return struct, extra


def as_struct_schema(obj: Any) -> Any:
    """`struct_schema=` as the engine's `StructFieldSchema` (a pymilvus one is converted); others unchanged."""
    if obj is None or is_engine_object(obj) or not hasattr(obj, "fields"):
        return obj
    return struct_from_object(obj)[0]


def schema_from_object(obj: Any) -> CollectionSchema:
    """The engine's `CollectionSchema` for a pymilvus one: fields, struct fields, options.

    BM25 functions are carried over; text embedding and MinHash functions are refused (not supported
    yet), and rerank functions belong in `search(ranker=...)`, not in a schema.
    """
    from engine.schema import CollectionSchema, FieldSchema

    if isinstance(obj, CollectionSchema):
        return obj
    if not hasattr(obj, "fields") or not hasattr(obj, "to_dict"):
        raise SchemaError(f"schema must be a CollectionSchema (from create_schema()), got {type(obj).__name__}")
    check_functions(getattr(obj, "functions", None) or [])
    fields = [field_from_object(f) for f in obj.fields]
    for st in getattr(obj, "struct_fields", None) or []:
        struct, extra = struct_from_object(st)
        fields.append(FieldSchema(extra.pop("name"), DataType.ARRAY, extra.pop("description"),
                                  element_type=DataType.STRUCT, struct_schema=struct, **extra))
    schema = CollectionSchema(fields=fields, description=getattr(obj, "description", "") or "",
                              enable_dynamic_field=bool(getattr(obj, "enable_dynamic_field", False)),
                              functions=list(getattr(obj, "functions", None) or []))
    schema.auto_id = bool(getattr(obj, "auto_id", False))
    if getattr(obj, "enable_namespace", False):
        raise UnsupportedError("enable_namespace (namespaces) is not supported by the engine")
    return schema


_FUNCTION_KINDS = {1: "BM25 (full-text search)", 2: "TEXTEMBEDDING (text embedding)", 4: "MINHASH"}


def check_functions(functions: list[Any]) -> None:
    """Refuse the schema functions the engine lacks, naming them: BM25 passes (checked in full by
    `engine.fulltext.functions.validate_functions`); a RERANK function goes to `search(ranker=)`."""
    for fn in functions:
        kind = int(getattr(fn, "type", 0))
        name = getattr(fn, "name", "?")
        if kind == 1:
            continue
        if kind == 3:
            raise SchemaError(f"function {name!r} is a RERANK function: pass it to search(ranker=...) or "
                              "hybrid_search(ranker=...), not to the schema")
        raise UnsupportedError(f"function {name!r}: {_FUNCTION_KINDS.get(kind, f'function type {kind}')} functions "
                               "are not supported by the engine yet")


def check_field_keywords(field: str, kwargs: dict[str, Any]) -> None:
    """Refuse keywords `FieldSchema` does not know, naming them (and a near miss)."""
    unknown = sorted(set(kwargs) - FIELD_KEYWORDS)
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = [n for n in sorted(FIELD_KEYWORDS) if re.sub("[_-]", "", n.lower()) == re.sub("[_-]", "", k.lower())]
        if close:
            hints.append(f"{k!r}: did you mean {close[0]!r}?")
    raise SchemaError(f"field {field!r}: unknown parameter(s) {unknown}" + (f" ({'; '.join(hints)})" if hints else "")
                      + f"; the parameters are {sorted(FIELD_KEYWORDS)}")
