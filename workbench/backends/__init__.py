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

from workbench.backends.base import (
    Backend,
    ClientBackend,
    index_params_for,
)
from workbench.backends.capabilities import (
    ARRAY,
    BFLOAT16_VECTOR,
    BINARY_VECTOR,
    BOOL,
    DOUBLE,
    EMBEDDED_CAPABILITIES,
    ENGINE_INDEX_TYPES,
    FEATURES,
    FLOAT,
    FLOAT16_VECTOR,
    FLOAT_VECTOR,
    GEOMETRY,
    INT8,
    INT8_VECTOR,
    INT16,
    INT32,
    INT64,
    JSON_TYPE,
    LITE_INDEX_TYPES,
    MILVUS_INDEX_TYPES,
    SPARSE_FLOAT_VECTOR,
    STRUCT,
    STRUCT_ARRAYS_SINCE,
    TIMESTAMPTZ,
    TYPE_FEATURES,
    TYPE_NAMES,
    VARCHAR,
    VECTOR_TYPE_FEATURES,
    VECTOR_TYPES,
    BackendError,
    Capabilities,
    CapabilityError,
    Hit,
    Row,
    milvus_capabilities,
    parse_version,
    scrub,
)
from workbench.backends.embedded import (
    EmbeddedBackend,
)
from workbench.backends.milvus import (
    SERVER_SCHEMES,
    BackendSpec,
    MilvusBackend,
    bf16_bytes,
    bf16_floats,
    probe_struct_arrays,
    workspace_for,
)
from workbench.backends.opening import (
    looks_like_milvus_lite,
    open_backend,
    spec_from_string,
)
from workbench.backends.shapes import (
    AnnRequest,
    Grouping,
    IndexInfo,
    Ranker,
    SegmentView,
    bm25_fields,
    normalize_schema,
    plain,
    primary_field,
    schema_features,
    vector_paths,
)
from workbench.backends.swap import (
    TEMP_KINDS,
    describe_leftover,
    parse_temp_name,
    replace_by_renames,
    temp_name,
)

__all__ = [
    "bm25_fields",
    "ARRAY",
    "AnnRequest",
    "BFLOAT16_VECTOR",
    "BINARY_VECTOR",
    "BOOL",
    "Backend",
    "BackendError",
    "BackendSpec",
    "Capabilities",
    "CapabilityError",
    "ClientBackend",
    "DOUBLE",
    "EMBEDDED_CAPABILITIES",
    "ENGINE_INDEX_TYPES",
    "EmbeddedBackend",
    "FEATURES",
    "FLOAT",
    "FLOAT16_VECTOR",
    "FLOAT_VECTOR",
    "Grouping",
    "Hit",
    "INT16",
    "INT32",
    "INT64",
    "INT8",
    "INT8_VECTOR",
    "IndexInfo",
    "JSON_TYPE",
    "LITE_INDEX_TYPES",
    "MILVUS_INDEX_TYPES",
    "MilvusBackend",
    "Ranker",
    "Row",
    "SERVER_SCHEMES",
    "SPARSE_FLOAT_VECTOR",
    "STRUCT",
    "STRUCT_ARRAYS_SINCE",
    "TEMP_KINDS",
    "SegmentView",
    "GEOMETRY",
    "TIMESTAMPTZ",
    "TYPE_FEATURES",
    "TYPE_NAMES",
    "VARCHAR",
    "VECTOR_TYPES",
    "VECTOR_TYPE_FEATURES",
    "bf16_bytes",
    "bf16_floats",
    "describe_leftover",
    "index_params_for",
    "looks_like_milvus_lite",
    "milvus_capabilities",
    "normalize_schema",
    "open_backend",
    "parse_temp_name",
    "parse_version",
    "plain",
    "primary_field",
    "probe_struct_arrays",
    "replace_by_renames",
    "schema_features",
    "scrub",
    "spec_from_string",
    "temp_name",
    "vector_paths",
    "workspace_for",
]
