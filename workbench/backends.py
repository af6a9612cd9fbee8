"""Where collections live: the embedded engine, or Milvus (a server, or a Milvus Lite file).

`Backend` holds exactly the operations that the app and the `workbench` command line use; both
implementations return the same plain shapes, so callers never need to know which one they have:

- rows are dicts of plain Python values (vectors as lists of floats, binary vectors as bytes);
- search hits are `{"id": pk, "distance": float, "entity": {...}}`, whatever the primary key field is
  called, and `entity` holds only the output fields asked for (pymilvus on Milvus Lite 3.x returns
  every field when none are asked for; the engine returns none);
- schemas are neutral dicts (see `normalize_schema`) that either backend can create.

`Capabilities` says what a backend can do (Array of Structs, MAX_SIM, segment listings, vector types,
...) and, for what it cannot, why: the app hides or explains a feature instead of failing.

    backend = open_backend("~/photos.db")                       # the embedded engine (a directory)
    backend = open_backend("lite:/tmp/milvus.db")               # a Milvus Lite file
    backend = open_backend(BackendSpec(kind="milvus", uri="https://milvus.example:19530", token=...))

Reads (`count`, `get`, `query`) ask for Strong consistency, so they see the writes just made.
Secrets (tokens, passwords) are never part of an error message or a log line: every error that comes
out of a backend passes through `scrub`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.settings import WorkbenchError

Row = dict[str, Any]
Hit = dict[str, Any]

# DataType codes (the same in pymilvus and the engine).
BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE = 1, 2, 3, 4, 5, 10, 11
VARCHAR, ARRAY, JSON_TYPE = 21, 22, 23
BINARY_VECTOR, FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR = 100, 101, 102, 103
SPARSE_FLOAT_VECTOR, INT8_VECTOR = 104, 105
STRUCT = 201
VECTOR_TYPES = frozenset({BINARY_VECTOR, FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR, SPARSE_FLOAT_VECTOR,
                          INT8_VECTOR})
TYPE_NAMES = {BOOL: "BOOL", INT8: "INT8", INT16: "INT16", INT32: "INT32", INT64: "INT64", FLOAT: "FLOAT",
              DOUBLE: "DOUBLE", VARCHAR: "VARCHAR", ARRAY: "ARRAY", JSON_TYPE: "JSON",
              BINARY_VECTOR: "BINARY_VECTOR", FLOAT_VECTOR: "FLOAT_VECTOR", FLOAT16_VECTOR: "FLOAT16_VECTOR",
              BFLOAT16_VECTOR: "BFLOAT16_VECTOR", SPARSE_FLOAT_VECTOR: "SPARSE_FLOAT_VECTOR",
              INT8_VECTOR: "INT8_VECTOR", STRUCT: "STRUCT"}
# Which capability a vector type needs.
VECTOR_TYPE_FEATURES = {FLOAT16_VECTOR: "float16_vectors", BFLOAT16_VECTOR: "bfloat16_vectors",
                        BINARY_VECTOR: "binary_vectors", SPARSE_FLOAT_VECTOR: "sparse_vectors",
                        INT8_VECTOR: "int8_vectors"}


class BackendError(WorkbenchError):
    """A backend call failed; the message is one line, with any secret replaced by ***."""


class CapabilityError(BackendError):
    """The backend cannot do what was asked; the message says why (for the app to show)."""


# --- secrets in messages -------------------------------------------------------------------
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@:\s]*):(?P<pw>[^/@\s]*)@")


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """`text` with every secret, and any password in a URI's user info, replaced by ***."""
    out = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", str(text))
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(s, "***")
        if ":" in s:  # "user:password" tokens: the password alone may appear too
            pw = s.split(":", 1)[1]
            if len(pw) >= 4:
                out = out.replace(pw, "***")
    return out


# --- capabilities ----------------------------------------------------------------------------
FEATURES: dict[str, str] = {
    "struct_arrays": "Array of Structs fields",
    "max_sim": "MAX_SIM search over Array of Structs vectors",
    "segments": "segment listing (list_persistent_segments)",
    "index_progress": "index build progress (describe_index)",
    "float16_vectors": "FLOAT16_VECTOR fields",
    "bfloat16_vectors": "BFLOAT16_VECTOR fields",
    "binary_vectors": "BINARY_VECTOR fields",
    "sparse_vectors": "SPARSE_FLOAT_VECTOR fields",
    "int8_vectors": "INT8_VECTOR fields",
    "search_released": "search on a released collection",
    "segment_export": "export with one file per segment",
    "compaction": "manual compaction",
    "databases": "databases (db_name)",
    "live_row_count": "row counts that exclude deleted rows",
}


@dataclass(frozen=True)
class Capabilities:
    """What one backend supports. `missing` maps each unsupported feature to the reason."""

    kind: str  # "embedded", "milvus-lite" or "milvus"
    server_version: str
    supported: frozenset[str]
    missing: dict[str, str] = field(default_factory=dict)
    index_types: frozenset[str] = frozenset()
    duplicate_pk_insert: str = "refused"  # "refused", "replaces" or "keeps both"

    def supports(self, feature: str) -> bool:
        if feature not in FEATURES:
            raise KeyError(f"unknown feature {feature!r}; the features are {sorted(FEATURES)}")
        return feature in self.supported

    def why_not(self, feature: str) -> str | None:
        """None when supported; else one sentence for the user."""
        if self.supports(feature):
            return None
        return self.missing.get(feature) or f"{FEATURES[feature]} are not supported by {self.describe()}"

    def require(self, feature: str) -> None:
        """Raise CapabilityError (with the reason) unless `feature` is supported."""
        reason = self.why_not(feature)
        if reason is not None:
            raise CapabilityError(reason)

    def describe(self) -> str:
        return {"embedded": "the embedded engine", "milvus-lite": f"Milvus Lite ({self.server_version})"}.get(
            self.kind, f"Milvus {self.server_version}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "server_version": self.server_version,
                "features": {f: f in self.supported for f in FEATURES},
                "missing": dict(self.missing), "index_types": sorted(self.index_types),
                "duplicate_pk_insert": self.duplicate_pk_insert}


def parse_version(text: str) -> tuple[int, ...]:
    """(2, 6, 4) from "v2.6.4", "2.6.4-rc1" or "milvus_lite-3.2.2"; () when there is no version."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not m:
        return ()
    return tuple(int(g) for g in m.groups() if g is not None)


STRUCT_ARRAYS_SINCE = (2, 6, 4)  # Milvus docs: "Array of Structs — Compatible with Milvus 2.6.4+"
ENGINE_INDEX_TYPES = frozenset({"AUTOINDEX", "FLAT", "HNSW", "IVF_FLAT", "BIN_FLAT", "BIN_IVF_FLAT"})
MILVUS_INDEX_TYPES = frozenset({"AUTOINDEX", "FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "SCANN", "DISKANN",
                                "HNSW_SQ", "HNSW_PQ", "HNSW_PRQ", "IVF_RABITQ", "BIN_FLAT", "BIN_IVF_FLAT",
                                "SPARSE_INVERTED_INDEX", "SPARSE_WAND", "GPU_CAGRA", "GPU_IVF_FLAT",
                                "GPU_IVF_PQ", "GPU_BRUTE_FORCE"})
# milvus_lite/index/factory.py (3.2.x): brute force, FLAT, AUTOINDEX, sparse, and faiss types.
LITE_INDEX_TYPES = frozenset({"AUTOINDEX", "FLAT", "BRUTE_FORCE", "HNSW", "IVF_FLAT", "IVF_SQ8", "HNSW_SQ",
                              "SPARSE_INVERTED_INDEX"})

EMBEDDED_CAPABILITIES = Capabilities(
    kind="embedded",
    server_version="engine",
    supported=frozenset({"struct_arrays", "max_sim", "segments", "index_progress", "float16_vectors",
                         "bfloat16_vectors", "binary_vectors", "search_released", "segment_export",
                         "compaction", "live_row_count"}),
    missing={
        "sparse_vectors": "the embedded engine has no SPARSE_FLOAT_VECTOR fields yet; use Milvus",
        "int8_vectors": "the embedded engine has no INT8_VECTOR fields yet; use Milvus",
        "databases": "the embedded engine has one database per directory; open another directory instead",
    },
    index_types=ENGINE_INDEX_TYPES,
    duplicate_pk_insert="refused",
)


def milvus_capabilities(version: str, lite: bool, struct_probe: bool | None = None) -> Capabilities:
    """Capabilities of a Milvus server (by version) or of Milvus Lite (by what it is known to do).

    `struct_probe` is the result of `probe_struct_arrays` when one was run; it overrides the rule.
    """
    v = parse_version(version)
    missing: dict[str, str] = {}
    supported = {"index_progress", "compaction"}
    if lite:
        kind = "milvus-lite"
        lite_name = f"Milvus Lite {'.'.join(map(str, v)) or version}"
        structs = bool(struct_probe)
        if not structs:
            missing["struct_arrays"] = (f"{lite_name} has no Array of Structs: it drops such fields from the "
                                        "schema without an error; use the embedded engine or Milvus 2.6.4+")
            missing["max_sim"] = f"{lite_name} has no Array of Structs, so no MAX_SIM search"
        for t in (FLOAT16_VECTOR, BFLOAT16_VECTOR, BINARY_VECTOR, INT8_VECTOR):
            missing[VECTOR_TYPE_FEATURES[t]] = (f"{lite_name} refuses {TYPE_NAMES[t]} fields (it supports "
                                                "FLOAT_VECTOR and SPARSE_FLOAT_VECTOR)")
        supported.add("sparse_vectors")
        supported.add("live_row_count")
        missing["segments"] = f"{lite_name} does not implement list_persistent_segments"
        missing["search_released"] = f"{lite_name} refuses searches on a released collection; load it first"
        missing["databases"] = f"{lite_name} keeps one database per file"
        index_types = LITE_INDEX_TYPES
        duplicate = "replaces"
    else:
        kind = "milvus"
        structs = struct_probe if struct_probe is not None else (bool(v) and v >= STRUCT_ARRAYS_SINCE)
        if not structs:
            missing["struct_arrays"] = f"Milvus {version} has no Array of Structs (it needs Milvus 2.6.4 or later)"
            missing["max_sim"] = f"Milvus {version} has no MAX_SIM search (it needs Milvus 2.6.4 or later)"
        supported |= {"segments", "float16_vectors", "bfloat16_vectors", "binary_vectors", "sparse_vectors",
                      "databases"}
        if bool(v) and v >= (2, 6):
            supported.add("int8_vectors")
        else:
            missing["int8_vectors"] = f"Milvus {version} has no INT8_VECTOR (it needs Milvus 2.6 or later)"
        missing["search_released"] = "Milvus refuses searches on a released collection; load it first"
        missing["live_row_count"] = ("Milvus counts deleted rows in get_collection_stats until compaction; "
                                     "the workbench counts with count(*) instead")
        index_types = MILVUS_INDEX_TYPES
        duplicate = "keeps both"
    if structs:
        supported |= {"struct_arrays", "max_sim"}
    missing["segment_export"] = ("Milvus does not say which rows are in which segment; "
                                 "export with rows_per_file instead")
    return Capabilities(kind=kind, server_version=version, supported=frozenset(supported),
                        missing={k: m for k, m in missing.items() if k not in supported},
                        index_types=index_types, duplicate_pk_insert=duplicate)


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
        else:
            params[k] = v
    out["params"] = params
    if d.get("element_type") is not None:
        out["element_type"] = int(d["element_type"])
    for flag in ("is_primary", "auto_id", "nullable"):
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
    "params", "element_type", "is_primary", "auto_id", "nullable", "default_value", "struct_fields"}]}
    """
    fields = [_norm_field(f) for f in description.get("fields") or []]
    for raw in description.get("struct_array_fields") or []:  # pymilvus's internal layout
        from pymilvus.client.utils import convert_struct_fields_to_user_format

        fields.extend(_norm_field(f) for f in convert_struct_fields_to_user_format([raw]))
    auto_id = bool(description.get("auto_id")) or any(f.get("is_primary") and f.get("auto_id") for f in fields)
    return {"description": str(description.get("description") or ""), "auto_id": auto_id,
            "enable_dynamic_field": bool(description.get("enable_dynamic_field")), "fields": fields}


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
        feat = VECTOR_TYPE_FEATURES.get(f["type"])
        if feat:
            need.setdefault(feat, []).append(f["name"])
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
                   pending_index_rows=opt_int("pending_index_rows"), state=str(d.get("state") or ""))

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
class Ranker:
    """RRF (with `k`) or weighted (with `weights`) fusion of hybrid search results."""

    kind: str = "rrf"
    k: int = 60
    weights: tuple[float, ...] = ()


# --- the protocol --------------------------------------------------------------------------------
@runtime_checkable
class Backend(Protocol):
    """The operations the app and the CLI use, on either backend."""

    label: str
    capabilities: Capabilities

    def close(self) -> None: ...
    def list_collections(self) -> list[str]: ...
    def has_collection(self, name: str) -> bool: ...
    def describe_collection(self, name: str) -> dict[str, Any]: ...
    def schema(self, name: str) -> dict[str, Any]: ...
    def create_collection(self, name: str, schema: dict[str, Any],
                          indexes: Sequence[dict[str, Any]] = ()) -> None: ...
    def drop_collection(self, name: str) -> None: ...
    def list_partitions(self, name: str) -> list[str]: ...
    def create_partition(self, name: str, partition: str) -> None: ...
    def count(self, name: str, filter: str = "", partitions: Sequence[str] | None = None) -> int: ...
    def insert(self, name: str, rows: list[Row], partition: str | None = None) -> int: ...
    def upsert(self, name: str, rows: list[Row], partition: str | None = None) -> int: ...
    def delete(self, name: str, ids: Sequence[Any] | None = None, filter: str | None = None) -> None: ...
    def get(self, name: str, ids: Sequence[Any], output_fields: Sequence[str] | None = None) -> list[Row]: ...
    def query(self, name: str, filter: str = "", output_fields: Sequence[str] | None = None,
              limit: int | None = None, offset: int = 0) -> list[Row]: ...
    def iter_rows(self, name: str, batch_size: int = 1000, output_fields: Sequence[str] | None = None,
                  filter: str = "", partitions: Sequence[str] | None = None) -> Iterator[list[Row]]: ...
    def search(self, name: str, data: Sequence[Any], anns_field: str | None = None, limit: int = 10,
               filter: str = "", output_fields: Sequence[str] | None = None,
               search_params: dict[str, Any] | None = None) -> list[list[Hit]]: ...
    def hybrid_search(self, name: str, requests: Sequence[AnnRequest], ranker: Ranker, limit: int = 10,
                      output_fields: Sequence[str] | None = None) -> list[list[Hit]]: ...
    def flush(self, name: str) -> None: ...
    def load(self, name: str) -> None: ...
    def list_indexes(self, name: str) -> list[IndexInfo]: ...
    def segments(self, name: str) -> list[SegmentView]: ...
    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]: ...


# --- shared implementation -----------------------------------------------------------------------
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


class _ClientBackend:
    """What both backends share: the calls that are the same in pymilvus and the engine."""

    label: str
    capabilities: Capabilities
    client: Any
    _secrets: tuple[str, ...] = ()

    # hooks -------------------------------------------------------------------
    def _api(self) -> SimpleNamespace:
        """The library's classes: AnnSearchRequest, RRFRanker, WeightedRanker, EmbeddingList, DataType, MilvusClient."""
        raise NotImplementedError(f"{type(self).__name__} does not define _api")

    def _ann_request(self, r: AnnRequest) -> Any:
        param: dict[str, Any] = {"params": dict(r.params)}
        if r.metric_type:
            param["metric_type"] = r.metric_type
        return self._api().AnnSearchRequest(data=list(r.data), anns_field=r.anns_field, param=param, limit=r.limit,
                                            expr=r.filter or None)

    def _ranker(self, r: Ranker) -> Any:
        api = self._api()
        if r.kind == "rrf":
            return api.RRFRanker(r.k)
        if r.kind == "weighted":
            return api.WeightedRanker(*r.weights)
        raise BackendError(f"unknown ranker {r.kind!r}; use 'rrf' or 'weighted'")

    def _embedding_list(self, vectors: Any) -> Any:
        el = self._api().EmbeddingList()
        for v in np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1]):
            el.add(v)
        return el

    def _build_schema(self, schema: dict[str, Any]) -> Any:
        api = self._api()
        s = api.MilvusClient.create_schema(auto_id=schema.get("auto_id", False),
                                           enable_dynamic_field=schema.get("enable_dynamic_field", False),
                                           description=schema.get("description", ""))
        _add_fields(api.MilvusClient, api.DataType, s, schema)
        return s

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _build_and_create")

    def _rows_in(self, name: str, rows: list[Row]) -> list[Row]:
        """Rows as this library wants them on insert (plain lists suit both, except where overridden)."""
        return rows

    def _rows_out(self, name: str, rows: list[Row]) -> list[Row]:
        """Rows from this library in the neutral shape."""
        return rows

    # errors --------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (WorkbenchError, NotImplementedError, KeyboardInterrupt):
            raise
        except Exception as e:  # pymilvus, grpc and engine errors alike
            msg = str(getattr(e, "message", "") or e).strip().splitlines()
            text = msg[0] if msg else type(e).__name__
            raise BackendError(scrub(f"{what} failed on {self.label}: {text}", self._secrets)) from None

    # collections ---------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def list_collections(self) -> list[str]:
        with self._errors("list_collections"):
            return sorted(self.client.list_collections())

    def has_collection(self, name: str) -> bool:
        with self._errors("has_collection"):
            return bool(self.client.has_collection(name))

    def describe_collection(self, name: str) -> dict[str, Any]:
        """describe_collection() with the neutral schema's fields (struct fields included)."""
        with self._errors("describe_collection"):
            d = dict(self.client.describe_collection(name))
        norm = normalize_schema(d)
        d.pop("struct_array_fields", None)
        d["fields"] = norm["fields"]
        return d

    def schema(self, name: str) -> dict[str, Any]:
        return normalize_schema(self.describe_collection(name))

    def create_collection(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]] = ()) -> None:
        """Create `name` from a neutral schema with its indexes, and load it.

        Refuses (CapabilityError) a schema this backend cannot hold, and checks afterwards that every
        field exists: a backend that silently drops a field gets the collection dropped again.
        """
        schema = normalize_schema(schema)
        self._forget(name)
        for feat, fields in schema_features(schema).items():
            reason = self.capabilities.why_not(feat)
            if reason:
                raise CapabilityError(f"cannot create {name!r} on {self.label}: field(s) {', '.join(fields)}: "
                                      f"{reason}")
        existed = self.has_collection(name)
        try:
            with self._errors("create_collection"):
                self._build_and_create(name, schema, indexes)
        except BackendError:
            if existed or not self.has_collection(name):
                raise
            lost = self._lost_fields(name, schema)  # half-created: undo, and say why when a field was lost
            with contextlib.suppress(Exception):
                self.client.drop_collection(name)
            if lost:
                raise self._lost_error(name, lost) from None
            raise
        lost = self._lost_fields(name, schema)
        if lost:
            with contextlib.suppress(Exception):
                self.client.drop_collection(name)
            raise self._lost_error(name, lost)

    def _lost_fields(self, name: str, schema: dict[str, Any]) -> list[str]:
        got = {f["name"] for f in self.schema(name)["fields"]}
        return [f["name"] for f in schema["fields"] if f["name"] not in got]

    def _lost_error(self, name: str, lost: list[str]) -> CapabilityError:
        return CapabilityError(f"{self.label} dropped field(s) {', '.join(lost)} of {name!r} while creating it; "
                               "the collection was removed again")

    def _forget(self, name: str) -> None:
        """Drop anything cached about collection `name`."""

    def drop_collection(self, name: str) -> None:
        self._forget(name)
        with self._errors("drop_collection"):
            self.client.drop_collection(name)

    def list_partitions(self, name: str) -> list[str]:
        with self._errors("list_partitions"):
            return list(self.client.list_partitions(name))

    def create_partition(self, name: str, partition: str) -> None:
        with self._errors("create_partition"):
            if not self.client.has_partition(name, partition):
                self.client.create_partition(name, partition)

    def load(self, name: str) -> None:
        with self._errors("load_collection"):
            self.client.load_collection(name)

    def flush(self, name: str) -> None:
        with self._errors("flush"):
            self.client.flush(name)

    # rows ------------------------------------------------------------------------
    def count(self, name: str, filter: str = "", partitions: Sequence[str] | None = None) -> int:
        """Live rows (matching `filter`), with count(*): deleted rows never count."""
        if partitions and not filter and self.capabilities.kind == "milvus-lite":
            # Milvus Lite 3.x ignores partition_names in count(*) without a filter: give it one that is always true
            pk = primary_field(self.schema(name))
            filter = f'{pk["name"]} >= ""' if pk["type"] == VARCHAR else f'{pk["name"]} >= {-(2**63)}'
        with self._errors("count"):
            res = self.client.query(name, filter=filter or "", output_fields=["count(*)"],
                                    partition_names=list(partitions) if partitions else None,
                                    consistency_level="Strong")
        return int(res[0]["count(*)"]) if res else 0

    def insert(self, name: str, rows: list[Row], partition: str | None = None) -> int:
        if not rows:
            return 0
        with self._errors("insert"):
            r = self.client.insert(name, self._rows_in(name, rows), partition_name=partition or "")
        return int(r.get("insert_count", len(rows)))

    def upsert(self, name: str, rows: list[Row], partition: str | None = None) -> int:
        if not rows:
            return 0
        with self._errors("upsert"):
            r = self.client.upsert(name, self._rows_in(name, rows), partition_name=partition or "")
        return int(r.get("upsert_count", len(rows)))

    def delete(self, name: str, ids: Sequence[Any] | None = None, filter: str | None = None) -> None:
        """Delete by primary keys or by filter (the libraries report counts differently; none is returned)."""
        with self._errors("delete"):
            if ids is not None:
                if ids:
                    self.client.delete(name, ids=[plain(i) for i in ids])
            elif filter:
                self.client.delete(name, filter=filter)
            else:
                raise BackendError("delete needs ids or a filter")

    def get(self, name: str, ids: Sequence[Any], output_fields: Sequence[str] | None = None) -> list[Row]:
        if not ids:
            return []
        with self._errors("get"):
            rows = self.client.get(name, ids=[plain(i) for i in ids],
                                   output_fields=list(output_fields) if output_fields else None,
                                   consistency_level="Strong")
        return self._rows_out(name, [plain(dict(r)) for r in rows])

    def query(self, name: str, filter: str = "", output_fields: Sequence[str] | None = None,
              limit: int | None = None, offset: int = 0) -> list[Row]:
        kwargs: dict[str, Any] = {"consistency_level": "Strong"}
        if limit is not None:
            kwargs["limit"] = limit
        if offset:
            kwargs["offset"] = offset
        with self._errors("query"):
            rows = self.client.query(name, filter=filter or "",
                                     output_fields=list(output_fields) if output_fields else None, **kwargs)
        return self._rows_out(name, [plain(dict(r)) for r in rows])

    def iter_rows(self, name: str, batch_size: int = 1000, output_fields: Sequence[str] | None = None,
                  filter: str = "", partitions: Sequence[str] | None = None) -> Iterator[list[Row]]:
        """Every row (matching `filter`), `batch_size` at a time, through query_iterator."""
        with self._errors("query_iterator"):
            it = self.client.query_iterator(name, batch_size=batch_size, filter=filter or "",
                                            output_fields=list(output_fields or ["*"]),
                                            partition_names=list(partitions) if partitions else None)
        try:
            while True:
                with self._errors("query_iterator"):
                    batch = it.next()
                if not batch:
                    return
                yield self._rows_out(name, [plain(dict(r)) for r in batch])
        finally:
            with contextlib.suppress(Exception):
                it.close()

    # search ------------------------------------------------------------------------
    def _queries(self, data: Sequence[Any], anns_field: str | None) -> list[Any]:
        if anns_field and "[" in anns_field:
            self.capabilities.require("max_sim")
            return [q if type(q).__name__ == "EmbeddingList" else self._embedding_list(q) for q in data]
        return [plain(q) if isinstance(q, np.ndarray) and q.dtype == np.float32 else q for q in data]

    def _hits(self, res: Any, output_fields: Sequence[str] | None, pk_name: str) -> list[list[Hit]]:
        wanted = list(output_fields or [])
        out = []
        for hits in res:
            page = []
            for h in hits:
                h = dict(h)
                pk = h["id"] if "id" in h and pk_name not in h else h.get(pk_name, h.get("id"))
                entity = plain(dict(h.get("entity") or {}))
                if not wanted:
                    entity = {}
                page.append({"id": plain(pk), "distance": float(h["distance"]), "entity": entity})
            out.append(page)
        return out

    def _pk_name(self, name: str) -> str:
        return str(primary_field(self.schema(name))["name"])

    def search(self, name: str, data: Sequence[Any], anns_field: str | None = None, limit: int = 10,
               filter: str = "", output_fields: Sequence[str] | None = None,
               search_params: dict[str, Any] | None = None) -> list[list[Hit]]:
        """Top-`limit` hits per query, `{"id", "distance", "entity"}`; `entity` holds only `output_fields`."""
        queries = self._queries(data, anns_field)
        pk_name = self._pk_name(name)
        with self._errors("search"):
            res = self.client.search(name, data=queries, anns_field=anns_field, limit=limit, filter=filter or "",
                                     output_fields=list(output_fields) if output_fields else None,
                                     search_params=dict(search_params or {}))
        return self._hits(res, output_fields, pk_name)

    def hybrid_search(self, name: str, requests: Sequence[AnnRequest], ranker: Ranker, limit: int = 10,
                      output_fields: Sequence[str] | None = None) -> list[list[Hit]]:
        reqs = [self._ann_request(replace(r, data=self._queries(r.data, r.anns_field))) for r in requests]
        pk_name = self._pk_name(name)
        with self._errors("hybrid_search"):
            res = self.client.hybrid_search(name, reqs, self._ranker(ranker), limit=limit,
                                            output_fields=list(output_fields) if output_fields else None)
        return self._hits(res, output_fields, pk_name)

    # indexes and segments -----------------------------------------------------------
    def list_indexes(self, name: str) -> list[IndexInfo]:
        """Every index with its definition and the backend's own build progress."""
        out = []
        with self._errors("describe_index"):
            for idx in self.client.list_indexes(name):
                out.append(IndexInfo.from_description(dict(self.client.describe_index(name, idx))))
        return out

    def segments(self, name: str) -> list[SegmentView]:
        self.capabilities.require("segments")
        raise NotImplementedError(f"{type(self).__name__} does not list segments")

    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]:
        """Each segment with the primary keys of its live rows (only where the backend tells)."""
        self.capabilities.require("segment_export")
        raise NotImplementedError(f"{type(self).__name__} does not list the rows of each segment")


def _index_params(client: Any, indexes: Sequence[dict[str, Any]]) -> Any:
    ip = client.prepare_index_params()
    for i in indexes:
        kwargs: dict[str, Any] = {"index_type": i.get("index_type") or "AUTOINDEX"}
        if i.get("metric_type"):
            kwargs["metric_type"] = i["metric_type"]
        if i.get("index_name"):
            kwargs["index_name"] = i["index_name"]
        if i.get("params"):
            kwargs["params"] = dict(i["params"])
        ip.add_index(field_name=i["field_name"], **kwargs)
    return ip


def _field_kwargs(f: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = dict(f.get("params") or {})
    if f.get("description"):
        kw["description"] = f["description"]
    for flag in ("is_primary", "auto_id", "nullable"):
        if f.get(flag):
            kw[flag] = True
    if f.get("default_value") is not None:
        kw["default_value"] = f["default_value"]
    return kw


def _add_fields(client_cls: Any, dtype: Any, schema_obj: Any, schema: dict[str, Any]) -> None:
    for f in schema["fields"]:
        if f.get("element_type") == STRUCT:
            st = client_cls.create_struct_field_schema()
            for s in f.get("struct_fields") or []:
                st.add_field(s["name"], dtype(s["type"]), **_field_kwargs(s))
            schema_obj.add_field(f["name"], dtype(ARRAY), element_type=dtype(STRUCT), struct_schema=st,
                                 **_field_kwargs(f))
            continue
        kw = _field_kwargs(f)
        if f.get("element_type") is not None:
            kw["element_type"] = dtype(f["element_type"])
        schema_obj.add_field(f["name"], dtype(f["type"]), **kw)


# --- the embedded engine -------------------------------------------------------------------------
class EmbeddedBackend(_ClientBackend):
    """The embedded engine on a database directory."""

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        from engine import MilvusClient

        p = Path(path).expanduser()
        if not create and not p.exists():
            raise BackendError(f"no database at {p}")
        self.path = p
        self.label = f"the embedded database {p}"
        self.capabilities = EMBEDDED_CAPABILITIES
        with self._errors("open"):
            p.parent.mkdir(parents=True, exist_ok=True)
            self.client = MilvusClient(str(p))

    def _api(self) -> SimpleNamespace:
        import engine
        from engine import MilvusClient

        return SimpleNamespace(AnnSearchRequest=engine.AnnSearchRequest, RRFRanker=engine.RRFRanker,
                               WeightedRanker=engine.WeightedRanker, EmbeddingList=engine.EmbeddingList,
                               DataType=engine.DataType, MilvusClient=MilvusClient)

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        s = self._build_schema(schema)
        self.client.create_collection(name, schema=s, index_params=_index_params(self.client, indexes) if indexes
                                      else None)
        if not indexes:
            self.client.load_collection(name)

    def segments(self, name: str) -> list[SegmentView]:
        """The engine's segments: rows, deletes, bytes and per-field index state."""
        with self._errors("list_persistent_segments"):
            infos = self.client.list_persistent_segments(name)
        return [SegmentView(segment_id=s.segment_id, num_rows=s.num_rows, state=s.state,
                            partition=s.partition_name, deleted_rows=s.deleted_rows, size_bytes=s.size_bytes,
                            level=s.level, index_states=dict(s.index_states),
                            compaction_from=tuple(s.compaction_from)) for s in infos]

    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]:
        """Each segment with the primary keys of its live rows (reads the engine's segment snapshot)."""
        views = {str(v.segment_id): v for v in self.segments(name)}
        with self._errors("segment_keys"):
            coll = self.client._coll(name)
            out = []
            for seg in coll.snapshot.segments:
                key = str(seg.data.key)
                view = views.get(key) or SegmentView(segment_id=key, num_rows=seg.data.num_rows,
                                                     state="Sealed" if seg.sealed else "Growing")
                pks = seg.data.pk_column()[seg.live_mask()].tolist()
                if pks:
                    out.append((view, pks))
        return out


# --- Milvus (server or Milvus Lite) --------------------------------------------------------------
@dataclass(frozen=True)
class BackendSpec:
    """How to open a backend. `token` and `password` never appear in repr() or messages."""

    kind: str  # "embedded", "milvus" or "milvus-lite"
    uri: str
    user: str = ""
    db_name: str = ""
    token: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    secure: bool | None = None
    server_pem_path: str = ""
    server_name: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    ca_pem_path: str = ""
    timeout: float | None = None
    probe: bool = False  # probe Array-of-Structs support on a server (creates and drops a collection)

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.password, f"{self.user}:{self.password}" if self.password else "")
                     if s)

    def client_kwargs(self) -> dict[str, Any]:
        """pymilvus.MilvusClient keyword arguments (secrets included: pass them on, never print them)."""
        kw: dict[str, Any] = {"uri": self.uri}
        for k in ("user", "password", "db_name", "token", "server_pem_path", "server_name", "client_pem_path",
                  "client_key_path", "ca_pem_path"):
            if getattr(self, k):
                kw[k] = getattr(self, k)
        if self.secure is not None:
            kw["secure"] = self.secure
        if self.timeout is not None:
            kw["timeout"] = self.timeout
        return kw


_SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "grpcs://", "unix:")


def probe_struct_arrays(client: Any) -> bool:
    """Whether the server keeps an Array of Structs field: create a scratch collection, look, drop it."""
    from pymilvus import DataType, MilvusClient

    name = f"_workbench_probe_{uuid.uuid4().hex[:12]}"
    try:
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        st = MilvusClient.create_struct_field_schema()
        st.add_field("e", DataType.FLOAT_VECTOR, dim=2)
        s.add_field("s", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=2)
        client.create_collection(name, schema=s)
        fields = normalize_schema(dict(client.describe_collection(name)))["fields"]
        return any(f["name"] == "s" for f in fields)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.drop_collection(name)


class MilvusBackend(_ClientBackend):
    """pymilvus.MilvusClient: a Milvus server (uri, token, db_name, TLS) or a Milvus Lite file."""

    def __init__(self, spec: BackendSpec | str, **client_kwargs: Any) -> None:
        if isinstance(spec, str):
            spec = BackendSpec(kind="milvus-lite" if not spec.startswith(_SERVER_SCHEMES) else "milvus", uri=spec)
        self.spec = spec
        self._secrets = spec.secrets()
        self._half: dict[str, dict[str, int]] = {}
        lite = spec.kind == "milvus-lite"
        self.label = f"Milvus Lite {spec.uri}" if lite else f"Milvus at {scrub(spec.uri)}"
        try:
            import pymilvus
        except ImportError:
            raise BackendError("pymilvus is not installed; install the 'milvus' extra "
                               "(pip install 'vector-workbench[milvus]')") from None
        if lite:
            if not spec.uri.endswith(".db"):
                raise BackendError(f"a Milvus Lite database is a file whose name ends in .db, not {spec.uri!r}")
            Path(spec.uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.capabilities = EMBEDDED_CAPABILITIES  # replaced below, once connected
        with self._errors("connect"):
            kw = spec.client_kwargs()
            if lite:
                kw["uri"] = str(Path(spec.uri).expanduser())
            self.client = pymilvus.MilvusClient(**kw, **client_kwargs)
        with self._errors("get_server_version"):
            version = str(self.client.get_server_version())
        lite = lite or version.startswith("milvus_lite")
        probe = probe_struct_arrays(self.client) if (lite or spec.probe) else None
        self.capabilities = milvus_capabilities(version, lite=lite, struct_probe=probe)

    def _api(self) -> SimpleNamespace:
        import pymilvus
        from pymilvus.client.embedding_list import EmbeddingList

        return SimpleNamespace(AnnSearchRequest=pymilvus.AnnSearchRequest, RRFRanker=pymilvus.RRFRanker,
                               WeightedRanker=pymilvus.WeightedRanker, EmbeddingList=EmbeddingList,
                               DataType=pymilvus.DataType, MilvusClient=pymilvus.MilvusClient)

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        s = self._build_schema(schema)
        if not indexes:  # Milvus cannot load a collection whose vector fields have no index
            indexes = [{"field_name": p, "index_type": "AUTOINDEX",
                        "metric_type": _default_metric(f, "[" in p)} for p, f in vector_paths(schema)]
        self.client.create_collection(name, schema=s, index_params=_index_params(self.client, indexes))

    def _forget(self, name: str) -> None:
        self._half.pop(name, None)

    def _half_fields(self, name: str) -> dict[str, int]:
        if name not in self._half:
            self._half[name] = {f["name"]: f["type"] for f in self.schema(name)["fields"]
                                if f["type"] in (FLOAT16_VECTOR, BFLOAT16_VECTOR)}
        return self._half[name]

    def _rows_in(self, name: str, rows: list[Row]) -> list[Row]:
        """FLOAT16 vectors as float16 arrays and BFLOAT16 vectors as raw bytes, as pymilvus takes them."""
        half = self._half_fields(name)
        if not half:
            return rows
        out = []
        for r in rows:
            r = dict(r)
            for k, t in half.items():
                v = r.get(k)
                if v is None or isinstance(v, bytes):
                    continue
                r[k] = np.asarray(v, dtype=np.float16) if t == FLOAT16_VECTOR else bf16_bytes(v)
            out.append(r)
        return out

    def _rows_out(self, name: str, rows: list[Row]) -> list[Row]:
        """FLOAT16/BFLOAT16 vectors (bytes from pymilvus) as lists of floats."""
        half = self._half_fields(name)
        if not half:
            return rows
        for r in rows:
            for k, t in half.items():
                v = r.get(k)
                if isinstance(v, list) and len(v) == 1 and isinstance(v[0], bytes):
                    v = v[0]
                if isinstance(v, (bytes, bytearray)):
                    r[k] = (np.frombuffer(v, dtype=np.float16).astype(np.float32).tolist() if t == FLOAT16_VECTOR
                            else bf16_floats(v))
        return rows

    def segments(self, name: str) -> list[SegmentView]:
        """The server's persistent segments (list_persistent_segments)."""
        self.capabilities.require("segments")
        with self._errors("list_persistent_segments"):
            infos = self.client.list_persistent_segments(name)
        return [SegmentView(segment_id=getattr(s, "segment_id", 0), num_rows=int(getattr(s, "num_rows", 0)),
                            state=_state_name(getattr(s, "state", "")), level=_state_name(getattr(s, "level", "")),
                            compaction_from=tuple(getattr(s, "compaction_from", ()) or ()))
                for s in infos]


def bf16_bytes(v: Any) -> bytes:
    """bfloat16 bits (round to nearest even) of float values, little-endian."""
    f = np.ascontiguousarray(np.asarray(v, dtype=np.float32)).view(np.uint32)
    bits = ((f + 0x7FFF + ((f >> 16) & 1)) >> 16).astype("<u2")
    return bits.tobytes()


def bf16_floats(b: bytes) -> list[float]:
    """Float values of little-endian bfloat16 bits."""
    bits = np.frombuffer(b, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).astype(float).tolist()


def _state_name(v: Any) -> str:
    name = getattr(v, "name", None)
    return str(name if name is not None else v)


def _default_metric(f: dict[str, Any], in_struct: bool) -> str:
    if in_struct:
        return "MAX_SIM_COSINE"
    if f["type"] == BINARY_VECTOR:
        return "HAMMING"
    if f["type"] == SPARSE_FLOAT_VECTOR:
        return "IP"
    return "COSINE"


# --- opening ---------------------------------------------------------------------------------------
def spec_from_string(text: str) -> BackendSpec:
    """A spec from a command-line string.

    `http(s)://…`, `tcp://…`, `grpc://…`, `unix:…` → a Milvus server; `lite:PATH` or an existing *file*
    → Milvus Lite; anything else is an engine database directory (created when missing).
    """
    t = text.strip()
    if t.startswith(_SERVER_SCHEMES):
        return BackendSpec(kind="milvus", uri=t)
    for prefix in ("lite:", "milvus-lite:"):
        if t.startswith(prefix):
            return BackendSpec(kind="milvus-lite", uri=t[len(prefix):])
    for prefix in ("embedded:", "engine:"):
        if t.startswith(prefix):
            return BackendSpec(kind="embedded", uri=t[len(prefix):])
    if Path(t).expanduser().is_file():
        return BackendSpec(kind="milvus-lite", uri=t)
    return BackendSpec(kind="embedded", uri=t)


def open_backend(spec: BackendSpec | str | os.PathLike[str], create: bool = True) -> Backend:
    """The backend a spec names (see `spec_from_string` for strings)."""
    if not isinstance(spec, BackendSpec):
        spec = spec_from_string(os.fspath(spec))
    if spec.kind == "embedded":
        return EmbeddedBackend(spec.uri, create=create)
    if spec.kind in ("milvus", "milvus-lite"):
        return MilvusBackend(spec)
    raise BackendError(f"unknown backend kind {spec.kind!r}; use 'embedded', 'milvus' or 'milvus-lite'")


__all__ = [
    "AnnRequest",
    "Backend",
    "BackendError",
    "BackendSpec",
    "Capabilities",
    "CapabilityError",
    "EmbeddedBackend",
    "IndexInfo",
    "MilvusBackend",
    "Ranker",
    "SegmentView",
    "milvus_capabilities",
    "normalize_schema",
    "open_backend",
    "probe_struct_arrays",
    "scrub",
    "spec_from_string",
]
