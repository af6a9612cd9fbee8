"""Data types, metric types and their Arrow storage types.

`DataType` uses the same integer codes as pymilvus, so code that compares or
serialises them behaves the same with either library.
"""

from __future__ import annotations

from enum import IntEnum

import pyarrow as pa


class DataType(IntEnum):
    """Field data types, numbered as in Milvus's protocol (and pymilvus)."""

    NONE = 0
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    STRING = 20
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    GEOMETRY = 24
    TEXT = 25
    TIMESTAMPTZ = 26
    BINARY_VECTOR = 100
    FLOAT_VECTOR = 101
    FLOAT16_VECTOR = 102
    BFLOAT16_VECTOR = 103
    SPARSE_FLOAT_VECTOR = 104
    INT8_VECTOR = 105
    _ARRAY_OF_VECTOR = 106
    _ARRAY_OF_STRUCT = 200
    STRUCT = 201
    UNKNOWN = 999

    def __str__(self) -> str:  # pymilvus prints the code
        return str(self.value)


INTEGER_TYPES = frozenset({DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64})
FLOAT_TYPES = frozenset({DataType.FLOAT, DataType.DOUBLE})
NUMERIC_TYPES = INTEGER_TYPES | FLOAT_TYPES
SCALAR_TYPES = NUMERIC_TYPES | {DataType.BOOL, DataType.VARCHAR}
VECTOR_TYPES = frozenset(
    {
        DataType.FLOAT_VECTOR,
        DataType.FLOAT16_VECTOR,
        DataType.BFLOAT16_VECTOR,
        DataType.BINARY_VECTOR,
    }
)
# Types an ARRAY field may hold (besides STRUCT, which is handled apart).
ARRAY_ELEMENT_TYPES = SCALAR_TYPES
# Types a struct sub-field may have.
STRUCT_SUBFIELD_TYPES = SCALAR_TYPES | {DataType.FLOAT_VECTOR}

INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
}

# Arrow storage of scalar types. JSON is stored as its UTF-8 text, TIMESTAMPTZ as microseconds since
# the epoch in UTC (engine/timestamptz.py), GEOMETRY as WKB (engine/geometry.py).
SCALAR_ARROW_TYPES: dict[DataType, pa.DataType] = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int8(),
    DataType.INT16: pa.int16(),
    DataType.INT32: pa.int32(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.VARCHAR: pa.string(),
    DataType.JSON: pa.string(),
    DataType.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    DataType.GEOMETRY: pa.binary(),
}

# Name of the Arrow column that holds the dynamic field (a JSON object per row).
DYNAMIC_FIELD = "$meta"

FLOAT_METRICS = frozenset({"L2", "IP", "COSINE"})
BINARY_METRICS = frozenset({"HAMMING", "JACCARD"})
MAX_SIM_METRICS = frozenset({"MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"})
# SPARSE_FLOAT_VECTOR fields: IP on vectors given by the user, BM25 on a BM25 function's output.
SPARSE_METRICS = frozenset({"IP", "BM25"})
# Metrics where a larger distance value means a closer match.
SIMILARITY_METRICS = frozenset({"IP", "COSINE", "MAX_SIM_COSINE", "MAX_SIM_IP", "BM25"})


def larger_is_closer(metric: str) -> bool:
    """True when a larger score is a better match (IP, COSINE, MAX_SIM_IP/COSINE)."""
    return metric.upper() in SIMILARITY_METRICS
