"""SPARSE_FLOAT_VECTOR values: the forms pymilvus accepts, their checks, Arrow storage, and CSR views.

A sparse vector is stored as ``list<struct<idx: uint32, val: float32>>``, sorted by index, in
segments and in the write-ahead log alike. Accepted on insert and as search data (pymilvus's
`SparseRowInputType`): a dict ``{index: value}``, an iterable of ``(index, value)`` pairs, or a
one-row scipy sparse matrix/array. Indices are integers in [0, 2**32 - 2] (2**32 - 1 is reserved
by Milvus's sparse format), values finite, non-negative and representable as float32. Zero
values are dropped (they contribute nothing to IP or BM25 and Milvus Lite drops them too); an
empty vector is allowed (it matches nothing).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import DataError, brief

MAX_INDEX = 2**32 - 2
ENTRY_TYPE = pa.struct([pa.field("idx", pa.uint32(), nullable=False), pa.field("val", pa.float32(), nullable=False)])
ARROW_TYPE = pa.list_(ENTRY_TYPE)
_F32_MAX = 3.4028234663852886e38


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    if hasattr(value, "tocoo") and hasattr(value, "shape"):  # scipy sparse matrix or array (one row)
        shape = value.shape
        if len(shape) == 2 and shape[0] != 1:
            raise ValueError(f"a scipy sparse row must have one row, got shape {shape}")
        coo = value.tocoo()
        cols = coo.col if len(shape) == 2 else coo.coords[0]
        return list(zip(cols.tolist(), coo.data.tolist()))
    if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__iter__"):
        raise ValueError(f"expected a dict {{index: value}}, (index, value) pairs or a scipy sparse row, "
                         f"got {type(value).__name__} {brief(value, 60)}")
    out = []
    for item in value:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"an entry of a sparse vector must be an (index, value) pair, got {brief(item, 60)}")
        out.append((item[0], item[1]))
    return out


def check_sparse(value: Any) -> list[tuple[int, float]]:
    """A sparse vector as sorted (index, value) pairs; ValueError naming the bad entry."""
    seen: set[int] = set()
    out: list[tuple[int, float]] = []
    for idx, val in _pairs(value):
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)):
            raise ValueError(f"sparse index {brief(idx, 40)} is not an integer")
        i = int(idx)
        if not 0 <= i <= MAX_INDEX:
            raise ValueError(f"sparse index {i} is out of range [0, {MAX_INDEX}]")
        if i in seen:
            raise ValueError(f"sparse index {i} appears twice")
        seen.add(i)
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, float, np.integer, np.floating)):
            raise ValueError(f"the value at sparse index {i} is not a number: {brief(val, 40)}")
        v = float(val)
        if not math.isfinite(v) or v < 0 or v > _F32_MAX:
            raise ValueError(f"the value at sparse index {i} must be finite, non-negative and within float32, got {v}")
        if v != 0.0:
            out.append((i, v))
    out.sort()
    return out


def check_sparse_row(value: Any, row: int, field: str) -> list[tuple[int, float]]:
    """`check_sparse` for an inserted row: DataError naming the row and field."""
    try:
        return check_sparse(value)
    except ValueError as e:
        raise DataError(f"row {row}, field {field!r}: {e}") from None


def to_arrow(rows: list[list[tuple[int, float]]]) -> pa.Array:
    """Sorted (index, value) rows as the stored Arrow column."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    idx = np.fromiter((i for r in rows for i, _ in r), dtype=np.uint32, count=int(offsets[-1]))
    val = np.fromiter((v for r in rows for _, v in r), dtype=np.float32, count=int(offsets[-1]))
    entries = pa.StructArray.from_arrays([pa.array(idx, pa.uint32()), pa.array(val, pa.float32())],
                                         fields=list(ENTRY_TYPE))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), entries, type=ARROW_TYPE)


def to_dicts(col: pa.Array | pa.ChunkedArray) -> list[dict[int, float] | None]:
    """Stored sparse vectors as pymilvus returns them: dicts {index: value}."""
    return [None if r is None else {int(e["idx"]): float(e["val"]) for e in r} for r in col.to_pylist()]


class CSR:
    """Rows of a sparse column as a CSR matrix: `indptr` (n+1), `indices` uint32, `values` float32."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> None:
        self.indptr, self.indices, self.values = indptr, indices, values

    @property
    def num_rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_column(cls, col: pa.Array | pa.ChunkedArray) -> CSR:
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks() if col.num_chunks else pa.array([], type=ARROW_TYPE)
        if col.null_count:
            col = col.fill_null(pa.scalar([], type=ARROW_TYPE))
        offsets = col.offsets.to_numpy().astype(np.int64)
        entries = col.values
        idx = entries.field("idx").to_numpy(zero_copy_only=False)
        val = entries.field("val").to_numpy(zero_copy_only=False)
        base, end = int(offsets[0]), int(offsets[-1])
        return cls(offsets - base, np.asarray(idx[base:end], np.uint32), np.asarray(val[base:end], np.float32))

    def row_sums(self) -> np.ndarray:
        """Sum of each row's values (a BM25 document's length: its token count)."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.values, dtype=np.float64)])
        return cumulative[self.indptr[1:]] - cumulative[self.indptr[:-1]]


def segment_csr(seg: Any, field: str) -> CSR:
    """The CSR view of a segment's sparse column, cached on the (immutable) segment object."""
    cache = seg.__dict__.setdefault("_sparse_cache", {})
    if field not in cache:
        cache[field] = CSR.from_column(seg.table.column(field))
    return cache[field]  # type: ignore[no-any-return]
