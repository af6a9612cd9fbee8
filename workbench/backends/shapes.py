"""Neutral shapes both backends speak: schemas as dicts, indexes, segments, search requests."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.backends.capabilities import ARRAY, STRUCT, TYPE_FEATURES, VECTOR_TYPES, BackendError


# --- neutral schema ---------------------------------------------------------------------------
def _plain_value(v: Any) -> Any:
    """A protobuf ValueField (pymilvus's default_value) or numpy value as a plain Python value."""
    if v is None:
        return None
    if hasattr(v, "WhichOneof"):
        kind = v.WhichOneof("data")
        if kind is None:
            return None
        value = getattr(v, kind)
        if kind in ("json_data", "bytes_data") and isinstance(value, bytes):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value
    if isinstance(v, np.generic):
        return v.item()
    return v


def _norm_field(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": str(d["name"]), "type": int(d["type"]),
                           "description": str(d.get("description") or "")}
    params = {}
    for k, v in dict(d.get("params") or {}).items():
        if k in ("dim", "max_length", "max_capacity"):
            params[k] = int(v)
        elif k in ("mmap_enabled",):
            continue
        elif k in ("enable_analyzer", "enable_match"):  # pymilvus and the engine report "true"
            params[k] = v is True or str(v).lower() == "true"
        elif k == "analyzer_params" and isinstance(v, str):
            with contextlib.suppress(ValueError):
                v = json.loads(v)
            params[k] = v
        else:
            params[k] = v
    out["params"] = params
    if d.get("element_type") is not None:
        out["element_type"] = int(d["element_type"])
    for flag in ("is_primary", "auto_id", "nullable", "is_function_output"):
        if d.get(flag):
            out[flag] = True
    dv = _plain_value(d.get("default_value"))
    if dv is not None:
        out["default_value"] = dv
    subs = d.get("struct_fields")
    if subs is not None or out.get("element_type") == STRUCT:
        out["type"], out["element_type"] = ARRAY, STRUCT
        out["struct_fields"] = [_norm_field(s) for s in subs or []]
    return out


def normalize_schema(description: dict[str, Any]) -> dict[str, Any]:
    """A neutral schema from either library's describe_collection() (or a neutral schema).

    {"description", "auto_id", "enable_dynamic_field", "fields": [{"name", "type" (int code),
    "params", "element_type", "is_primary", "auto_id", "nullable", "is_function_output", "default_value",
    "struct_fields"}], "functions": [{"name", "type" ("BM25"), "input_field_names", "output_field_names",
    "params"}]} ("functions" only when there are some)
    """
    fields = [_norm_field(f) for f in description.get("fields") or []]
    for raw in description.get("struct_array_fields") or []:  # pymilvus's internal layout
        from pymilvus.client.utils import convert_struct_fields_to_user_format

        fields.extend(_norm_field(f) for f in convert_struct_fields_to_user_format([raw]))
    auto_id = bool(description.get("auto_id")) or any(f.get("is_primary") and f.get("auto_id") for f in fields)
    out = {"description": str(description.get("description") or ""), "auto_id": auto_id,
           "enable_dynamic_field": bool(description.get("enable_dynamic_field")), "fields": fields}
    functions = [_norm_function(f) for f in description.get("functions") or []]
    if functions:
        out["functions"] = functions
    return out


def _norm_function(d: dict[str, Any]) -> dict[str, Any]:
    """A schema function (BM25) as {"name", "type" (its name), "input_field_names", "output_field_names",
    "params"}; `type` is a FunctionType of either library, its int code or its name."""
    kind = d.get("type", d.get("function_type"))
    name = getattr(kind, "name", None)
    if name is None:
        name = {1: "BM25", 2: "TEXTEMBEDDING", 3: "RERANK"}.get(kind, str(kind)) if isinstance(kind, int) \
            else str(kind).upper()
    return {"name": str(d.get("name") or ""), "type": str(name),
            "input_field_names": [str(x) for x in d.get("input_field_names") or []],
            "output_field_names": [str(x) for x in d.get("output_field_names") or []],
            "params": dict(d.get("params") or {})}


def bm25_fields(schema: dict[str, Any]) -> dict[str, str]:
    """{sparse output field: its VARCHAR input field} of every BM25 function of a neutral schema (or a
    describe_collection() result)."""
    out = {}
    for f in schema.get("functions") or []:
        fn = f if isinstance(f.get("type"), str) else _norm_function(f)
        if fn["type"] == "BM25" and fn["input_field_names"] and fn["output_field_names"]:
            out[fn["output_field_names"][0]] = fn["input_field_names"][0]
    return out


def primary_field(schema: dict[str, Any]) -> dict[str, Any]:
    for f in schema["fields"]:
        if f.get("is_primary"):
            return f
    raise BackendError("the collection has no primary key field")


def schema_features(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Features (see FEATURES) a schema needs, each with the fields that need it."""
    need: dict[str, list[str]] = {}
    for f in schema["fields"]:
        if f.get("element_type") == STRUCT:
            need.setdefault("struct_arrays", []).append(f["name"])
        feat = TYPE_FEATURES.get(f["type"])
        if feat:
            need.setdefault(feat, []).append(f["name"])
    nullable = [f["name"] for f in schema["fields"] if f.get("nullable") or f.get("default_value") is not None]
    if nullable:
        need["nullable_fields"] = nullable
    functions = [f["output_field_names"][0] for f in schema.get("functions") or [] if f.get("output_field_names")]
    if functions:
        need["full_text"] = functions
    top_vectors = [f["name"] for f in schema["fields"] if f["type"] in VECTOR_TYPES]
    if len(top_vectors) > 1:
        need["multi_vector"] = top_vectors
    return need


def vector_paths(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every vector field as (path, field): top-level names and `struct[sub]` paths."""
    out = []
    for f in schema["fields"]:
        if f["type"] in VECTOR_TYPES:
            out.append((f["name"], f))
        for s in f.get("struct_fields") or []:
            if s["type"] in VECTOR_TYPES:
                out.append((f"{f['name']}[{s['name']}]", s))
    return out


# --- neutral index, segment, request shapes ---------------------------------------------------
_INDEX_KEYS = {"index_type", "metric_type", "field_name", "index_name", "total_rows", "indexed_rows",
               "pending_index_rows", "state", "params", "index_state_fail_reason"}


def _param_value(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


@dataclass(frozen=True)
class IndexInfo:
    """One index: its definition and, where the backend reports it, build progress."""

    field_name: str
    index_type: str
    metric_type: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    index_name: str = ""
    total_rows: int | None = None
    indexed_rows: int | None = None
    pending_index_rows: int | None = None
    state: str = ""
    state_reason: str = ""  # why it is not "Finished" where the backend says (index_state_fail_reason)

    @classmethod
    def from_description(cls, d: dict[str, Any]) -> IndexInfo:
        params = {k: _param_value(v) for k, v in d.items() if k not in _INDEX_KEYS}
        if isinstance(d.get("params"), dict):
            params.update(d["params"])
        if isinstance(params.get("params"), dict):  # some servers nest the build params as JSON text
            params.update(params.pop("params"))

        def opt_int(k: str) -> int | None:
            return None if d.get(k) is None else int(d[k])

        return cls(field_name=str(d.get("field_name", "")), index_type=str(d.get("index_type", "")),
                   metric_type=str(d.get("metric_type") or ""), params=params,
                   index_name=str(d.get("index_name") or d.get("field_name", "")),
                   total_rows=opt_int("total_rows"), indexed_rows=opt_int("indexed_rows"),
                   pending_index_rows=opt_int("pending_index_rows"), state=str(d.get("state") or ""),
                   state_reason=str(d.get("index_state_fail_reason") or ""))

    def spec(self) -> dict[str, Any]:
        """The definition alone, as add_index() takes it."""
        return {"field_name": self.field_name, "index_type": self.index_type, "metric_type": self.metric_type,
                "params": dict(self.params), "index_name": self.index_name}

    @property
    def is_vector(self) -> bool:
        return bool(self.metric_type)


@dataclass(frozen=True)
class SegmentView:
    """One segment as the backend reports it; fields it does not report are None."""

    segment_id: int | str
    num_rows: int
    state: str
    partition: str | None = None
    deleted_rows: int | None = None
    size_bytes: int | None = None
    level: str | None = None
    index_states: dict[str, str] = field(default_factory=dict)
    compaction_from: tuple[int, ...] = ()


@dataclass(frozen=True)
class AnnRequest:
    """One vector search of a hybrid search (either library's AnnSearchRequest is built from it)."""

    data: Any
    anns_field: str
    limit: int
    metric_type: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    filter: str = ""


@dataclass(frozen=True)
class Grouping:
    """A grouping search: the best groups of `field`'s values, up to `size` hits each (1 to 10); `strict`
    leaves out groups with fewer than `size` hits."""

    field: str
    size: int = 1
    strict: bool = False


@dataclass(frozen=True)
class Ranker:
    """RRF (with `k`) or weighted (with `weights`) fusion of hybrid search results."""

    kind: str = "rrf"
    k: int = 60
    weights: tuple[float, ...] = ()



def plain(v: Any) -> Any:
    """numpy arrays and scalars (anywhere in `v`) as lists and Python scalars."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v



@dataclass(frozen=True)
class IndexProgress:
    """One progress event of an index build: `done` of `total` units (vectors or rows) and a line of text.

    Where the build goes step by step (the engine: one segment per step), `step` steps of `steps` are
    done before this one, and `done`/`total` count within the current step."""

    field_name: str
    done: int
    total: int
    text: str
    indexed_rows: int | None = None
    pending_rows: int | None = None
    step: int = 0
    steps: int = 0

    @property
    def fraction(self) -> float:
        """How much of the whole build is done, 0..1."""
        within = self.done / self.total if self.total else 0.0
        if self.steps:
            return min(1.0, (self.step + within) / self.steps)
        return min(1.0, within)


@dataclass(frozen=True)
class CompactionSummary:
    """What a compaction did, as far as the backend says."""

    job_id: int
    state: str
    segments_merged: int | None = None
    segments_written: int | None = None
    rows_purged: int | None = None

    def describe(self) -> str:
        if self.segments_merged is None:
            return f"compaction {self.job_id}: {self.state}"
        return (f"merged {self.segments_merged} segment(s) into {self.segments_written}, "
                f"purged {self.rows_purged:,} deleted row(s)")


def filter_literal(v: Any) -> str:
    """A value as a literal of Milvus's filter language."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return repr(plain(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(filter_literal(x) for x in v) + "]"
    raise BackendError(f"filter parameter value {v!r} is not a number, string, bool or list")


def render_filter(expr: str, params: dict[str, Any]) -> str:
    """`expr` with each `{name}` placeholder replaced by the literal of `params[name]` (for servers without
    filter templating). Braces inside string literals are left alone."""
    out, i, quote = [], 0, ""
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(expr):
                out.append(expr[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            out.append(c)
        elif c == "{":
            j = expr.find("}", i)
            name = expr[i + 1 : j].strip() if j > 0 else ""
            if not name or name not in params:
                raise BackendError(f"filter placeholder {{{name}}} at column {i + 1} has no value in filter_params")
            out.append(filter_literal(params[name]))
            i = j
        else:
            out.append(c)
        i += 1
    return "".join(out)
