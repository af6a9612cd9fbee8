"""A collection template as a neutral schema and index list, which either backend can create.

    schema, indexes = template_schema(images_template(), dim=512, backend.capabilities)
    backend.create_collection("photos", schema, indexes)
"""

from __future__ import annotations

from typing import Any

from workbench.backends import ARRAY, STRUCT, TYPE_NAMES, Capabilities, CapabilityError, schema_features
from workbench.templates import FieldSpec, Template

_TYPE_CODES = {name: code for code, name in TYPE_NAMES.items()}
_HNSW = {"M": 16, "efConstruction": 200}


def _field(f: FieldSpec, dim: int, nullable_ok: bool = True, dims: dict[str, int] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if f.max_length is not None:
        params["max_length"] = f.max_length
    if f.analyzer:
        params.update(enable_analyzer=True, enable_match=True, analyzer_params={"type": f.analyzer})
    if f.vector:
        if f.space and f.space not in (dims or {}):
            raise CapabilityError(f"field {f.name!r} holds vectors of the {f.space} model, whose dimension "
                                  "was not given (dims=)")
        params["dim"] = (dims or {})[f.space] if f.space else dim
    out: dict[str, Any] = {"name": f.name, "type": _TYPE_CODES[f.dtype], "description": f.description,
                           "params": params}
    if f.is_primary:
        out["is_primary"] = True
    if f.nullable and nullable_ok:
        out["nullable"] = True
    elif f.nullable and f.dtype != "VARCHAR":
        raise CapabilityError(f"field {f.name!r} ({f.dtype}) must be nullable, and this backend has no nullable "
                              "fields")
    return out


def _index(path: str, f: FieldSpec, in_struct: bool, caps: Capabilities | None) -> dict[str, Any]:
    metric = f.metric or ("MAX_SIM_COSINE" if in_struct else "COSINE")
    if caps is None or "HNSW" in caps.index_types:
        return {"field_name": path, "index_type": "HNSW", "metric_type": metric, "params": dict(_HNSW)}
    return {"field_name": path, "index_type": "AUTOINDEX", "metric_type": metric, "params": {}}


def template_schema(template: Template, dim: int, caps: Capabilities | None = None,
                    dims: dict[str, int] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(neutral schema, indexes) of `template` with `dim`-dimensional vectors: HNSW (M 16,
    efConstruction 200) on every vector field where the backend has HNSW, else AUTOINDEX. A field of
    another model's space (`FieldSpec.space`, "image" beside a text model) takes its dimension from `dims`.
    A sparse field with `bm25_of` gets a BM25 function from its VARCHAR field and a SPARSE_INVERTED_INDEX
    (metric BM25).

    On a backend without nullable fields (Milvus before 2.5) the template's nullable VARCHAR fields (an
    image's EXIF date and camera, a PDF's title and author) become plain ones, and ingestion stores ""
    where the value is missing (`blank_varchar_fields`)."""
    nullable_ok = caps is None or caps.supports("nullable_fields")
    fields: list[dict[str, Any]] = []
    indexes: list[dict[str, Any]] = []
    functions: list[dict[str, Any]] = []
    for f in template.fields:
        if f.dtype == "STRUCT_ARRAY":
            subs = [_field(s, dim, nullable_ok, dims) for s in f.sub]
            fields.append({"name": f.name, "type": ARRAY, "element_type": STRUCT, "description": f.description,
                           "params": {"max_capacity": int(f.max_capacity or 1)}, "struct_fields": subs})
            indexes += [_index(f"{f.name}[{s.name}]", s, True, caps) for s in f.sub if s.vector]
            continue
        fields.append(_field(f, dim, nullable_ok, dims))
        if f.vector:
            indexes.append(_index(f.name, f, False, caps))
        if f.bm25_of:
            functions.append({"name": f"{f.name}_bm25", "type": "BM25", "input_field_names": [f.bm25_of],
                              "output_field_names": [f.name], "params": {}})
            indexes.append({"field_name": f.name, "index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25",
                            "params": {}})
    schema: dict[str, Any] = {"description": template.description, "auto_id": False, "enable_dynamic_field": False,
                              "fields": fields}
    if functions:
        schema["functions"] = functions
    return schema, indexes


_WHAT = {"pdfs": "PDF ingestion keeps each document's pages",
         "documents": "document ingestion keeps each document's chunks",
         "images": "multi-view image ingestion keeps each image's crops",
         "products": "the product template keeps each product's images"}


def check_template_fits(template: Template, caps: Capabilities, label: str, collection: str) -> None:
    """CapabilityError, saying which feature and what to use instead, when `template` needs something
    the backend lacks (Array of Structs on Milvus Lite or an older Milvus, say)."""
    schema, _ = template_schema(template, 2, caps, {f.space: 2 for t in template.fields for f in (t, *t.sub)
                                                    if f.space})
    for feature, names in schema_features(schema).items():
        reason = caps.why_not(feature)
        if reason is None:
            continue
        if feature == "struct_arrays":
            what = _WHAT.get(template.kind, f"the {template.name} template keeps its items")
            instead = "" if "use " in reason else "; use the embedded engine (--db DIRECTORY) or Milvus 2.6.4+"
            if template.kind == "images":
                instead += ", or ingest without --multiview"
            raise CapabilityError(f"cannot ingest into {collection!r} on {label}: {what} in an Array of Structs "
                                  f"field ({', '.join(names)}), and {reason}{instead}")
        raise CapabilityError(f"cannot ingest into {collection!r} on {label}: field(s) {', '.join(names)}: {reason}")


def blank_varchar_fields(description: dict[str, Any]) -> frozenset[str]:
    """Top-level VARCHAR fields of a collection that cannot hold null: ingestion stores "" there for a
    missing value (collections made on a backend without nullable fields)."""
    from workbench.backends import VARCHAR, normalize_schema

    return frozenset(f["name"] for f in normalize_schema(description)["fields"]
                     if f["type"] == VARCHAR and not f.get("nullable") and not f.get("is_primary"))


def with_blanks(row: dict[str, Any], blank: frozenset[str]) -> dict[str, Any]:
    """`row` for a collection whose `blank` VARCHAR fields cannot hold null (`blank_varchar_fields`): a None
    there becomes "", and a field the row leaves out (such as `duplicate_of`, written later by marks) is
    given "", since such a backend refuses a row without it."""
    if not blank:
        return row
    return {**{name: "" for name in blank}, **{k: ("" if v is None and k in blank else v) for k, v in row.items()}}
