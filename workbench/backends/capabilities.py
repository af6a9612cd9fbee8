"""Type codes, backend errors, secret scrubbing, and what each backend can do (`Capabilities`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.settings import WorkbenchError

Row = dict[str, Any]
Hit = dict[str, Any]

# DataType codes (the same in pymilvus and the engine).
BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE = 1, 2, 3, 4, 5, 10, 11
VARCHAR, ARRAY, JSON_TYPE = 21, 22, 23
GEOMETRY, TIMESTAMPTZ = 24, 26
BINARY_VECTOR, FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR = 100, 101, 102, 103
SPARSE_FLOAT_VECTOR, INT8_VECTOR = 104, 105
STRUCT = 201
VECTOR_TYPES = frozenset({BINARY_VECTOR, FLOAT_VECTOR, FLOAT16_VECTOR, BFLOAT16_VECTOR, SPARSE_FLOAT_VECTOR,
                          INT8_VECTOR})
TYPE_NAMES = {BOOL: "BOOL", INT8: "INT8", INT16: "INT16", INT32: "INT32", INT64: "INT64", FLOAT: "FLOAT",
              DOUBLE: "DOUBLE", VARCHAR: "VARCHAR", ARRAY: "ARRAY", JSON_TYPE: "JSON",
              BINARY_VECTOR: "BINARY_VECTOR", FLOAT_VECTOR: "FLOAT_VECTOR", FLOAT16_VECTOR: "FLOAT16_VECTOR",
              BFLOAT16_VECTOR: "BFLOAT16_VECTOR", SPARSE_FLOAT_VECTOR: "SPARSE_FLOAT_VECTOR",
              INT8_VECTOR: "INT8_VECTOR", STRUCT: "STRUCT", GEOMETRY: "GEOMETRY", TIMESTAMPTZ: "TIMESTAMPTZ"}
# Which capability a vector type needs.
VECTOR_TYPE_FEATURES = {FLOAT16_VECTOR: "float16_vectors", BFLOAT16_VECTOR: "bfloat16_vectors",
                        BINARY_VECTOR: "binary_vectors", SPARSE_FLOAT_VECTOR: "sparse_vectors",
                        INT8_VECTOR: "int8_vectors"}
# Which capability a field type needs (vectors, and the Milvus 2.6 scalar types).
TYPE_FEATURES = {**VECTOR_TYPE_FEATURES, TIMESTAMPTZ: "timestamptz", GEOMETRY: "geometry"}


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
    "full_text": "BM25 functions (full text search)",
    "int8_vectors": "INT8_VECTOR fields",
    "search_released": "search on a released collection",
    "segment_export": "export with one file per segment",
    "compaction": "manual compaction",
    "databases": "databases (db_name)",
    "live_row_count": "row counts that exclude deleted rows",
    "nullable_fields": "nullable fields and default values",
    "multi_vector": "several vector fields in one collection, and hybrid search over them",
    "index_internals": "index internals (HNSW graph levels and degrees per segment)",
    "recall_check": "recall check of an index against exact search",
    "memory_usage": "memory use of loaded segments and indexes",
    "live_changes": "change tokens and the write-lock holder, for watching writes by other processes",
    "group_by": "grouping search (group_by_field, group_size, strict_group_size)",
    "range_search": "range search (radius and range_filter)",
    "hybrid_grouping": "grouping of hybrid search results",
    "timestamptz": "TIMESTAMPTZ fields",
    "geometry": "GEOMETRY fields and spatial filters",
    "partial_update": "upsert in merge mode (partial_update=True)",
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
# Milvus docs: "Upsert in merge mode | Milvus v2.6.2+", "Geometry Field — Compatible with Milvus 2.6.4+",
# "TIMESTAMPTZ Field — Compatible with Milvus 2.6.6+".
SINCE = {"partial_update": (2, 6, 2), "geometry": (2, 6, 4), "timestamptz": (2, 6, 6)}
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
                         "bfloat16_vectors", "binary_vectors", "segment_export",
                         "compaction", "live_row_count", "multi_vector", "nullable_fields", "index_internals",
                         "recall_check", "memory_usage", "live_changes", "sparse_vectors", "full_text", "timestamptz",
                         "geometry", "partial_update", "group_by", "range_search"}),
    missing={
        "int8_vectors": "the embedded engine has no INT8_VECTOR fields yet; use Milvus",
        "databases": "the embedded engine has one database per directory; open another directory instead",
        "hybrid_grouping": "the embedded engine does not group hybrid search results; group a search of one "
                           "query on one field, or use Milvus 2.5 or later (or Milvus Lite)",
        "search_released": "the embedded engine refuses reads of a released collection, as Milvus does; load it first",
    },
    index_types=ENGINE_INDEX_TYPES,
    duplicate_pk_insert="replaces",
)


def milvus_capabilities(version: str, lite: bool, struct_probe: bool | None = None) -> Capabilities:
    """Capabilities of a Milvus server (by version) or of Milvus Lite (by what it is known to do).

    `struct_probe` is the result of `probe_struct_arrays` when one was run; it overrides the rule.
    """
    v = parse_version(version)
    missing: dict[str, str] = {}
    supported = {"index_progress", "compaction"}
    if lite or not v or v >= (2, 5):
        supported.add("nullable_fields")
    else:
        missing["nullable_fields"] = (f"Milvus {version} has no nullable fields or default values (they need "
                                      "Milvus 2.5 or later)")
    if lite or not v or v >= (2, 5):
        supported.add("full_text")
    else:
        missing["full_text"] = f"Milvus {version} has no BM25 functions (full text search needs Milvus 2.5 or later)"
    if lite or not v or v >= (2, 4):
        supported.add("multi_vector")
    else:
        missing["multi_vector"] = (f"Milvus {version} allows one vector field per collection and has no hybrid "
                                   "search (both need Milvus 2.4 or later)")
    if lite or not v or v >= (2, 3):
        supported.add("range_search")
    else:
        missing["range_search"] = f"Milvus {version} has no range search (it needs Milvus 2.3 or later)"
    if lite or not v or v >= (2, 4):
        supported.add("group_by")
    else:
        missing["group_by"] = f"Milvus {version} has no grouping search (it needs Milvus 2.4 or later)"
    if lite or not v or v >= (2, 5):
        supported.add("hybrid_grouping")
    else:
        missing["hybrid_grouping"] = f"Milvus {version} does not group hybrid search results (it needs Milvus 2.5 or later)"
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
        supported |= set(SINCE)  # GEOMETRY: POINT and POLYGON only (docs/differences-tested.md)
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
        supported |= {"segments", "binary_vectors", "databases"}
        if not v or v >= (2, 4):  # FLOAT16, BFLOAT16 and SPARSE_FLOAT vectors arrived in Milvus 2.4
            supported |= {"float16_vectors", "bfloat16_vectors", "sparse_vectors"}
        else:
            for t in (FLOAT16_VECTOR, BFLOAT16_VECTOR, SPARSE_FLOAT_VECTOR):
                missing[VECTOR_TYPE_FEATURES[t]] = f"Milvus {version} has no {TYPE_NAMES[t]} (it needs Milvus 2.4 or later)"
        for feat, since in SINCE.items():
            if not v or v >= since:
                supported.add(feat)
            else:
                missing[feat] = (f"Milvus {version} has no {FEATURES[feat]} (it needs Milvus "
                                 f"{'.'.join(map(str, since))} or later)")
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
    server = "Milvus Lite" if lite else "Milvus"
    missing["segment_export"] = (f"{server} does not say which rows are in which segment; "
                                 "export split every N rows instead (layout=\"split\", rows_per_file)")
    missing["index_internals"] = f"{server} does not expose its index graphs to clients"
    missing["recall_check"] = (f"the recall check compares an index with exact search inside the embedded engine; "
                               f"{server} has no client call for it")
    missing["memory_usage"] = f"{server} reports memory per query node in its own metrics, not per collection"
    missing["live_changes"] = (f"{server} offers no cheap call that says when another client wrote; "
                               "press F5 (Collection › Refresh) to see its writes")
    return Capabilities(kind=kind, server_version=version, supported=frozenset(supported),
                        missing={k: m for k, m in missing.items() if k not in supported},
                        index_types=index_types, duplicate_pk_insert=duplicate)


