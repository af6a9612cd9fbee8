"""SPARSE_INVERTED_INDEX: one segment's sparse vectors as posting lists, scored exactly (IP or BM25).

The postings are the segment's sparse matrix in compressed-column form: the distinct dimensions
(term ids) sorted, and for each its documents and values; BM25 also keeps each document's
length. A search looks up only the query's dimensions and accumulates their contributions, so
its cost follows the postings it reads, not the segment's size; the result is exact (Milvus's
TAAT_NAIVE; its DAAT_WAND and DAAT_MAXSCORE give the same top-k). Growing rows and segments
without a built index are searched by the same code over postings built on the fly (cached on
the immutable segment object), so indexed and exact results are identical.

On disk (``segments/seg_N.idx/<field>/``): ``terms.npy``, ``ptr.npy``, ``docs.npy``, ``vals.npy``,
``lengths.npy`` and ``index.json``, written through the engine's index path (announced in the
catalog's intent log, fsynced, CRC32 checked before loading).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError, ParamError, UnsupportedError
from engine.fulltext.bm25 import BM25Params, check_bm25_param, doc_factor
from engine.fulltext.sparse import CSR
from engine.index.base import read_meta, write_meta

SPARSE_INDEX_TYPES = ("SPARSE_INVERTED_INDEX", "SPARSE_WAND", "AUTOINDEX")
ALGORITHMS = ("TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE")
_FILES = ("terms", "ptr", "docs", "vals", "lengths")


def check_sparse_index_params(index_type: str, metric: str, params: dict[str, Any]) -> None:
    """Milvus's build parameters of a sparse index; ParamError/UnsupportedError naming the bad one."""
    if index_type not in SPARSE_INDEX_TYPES:
        raise ParamError(f"index type {index_type} does not fit a SPARSE_FLOAT_VECTOR field; use "
                         "SPARSE_INVERTED_INDEX")
    for key, value in params.items():
        if key == "drop_ratio_build":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ParamError(f"drop_ratio_build must be a number in [0, 1), got {value!r}")
            if value != 0:
                raise UnsupportedError("drop_ratio_build > 0 (dropping small values at build time) is not "
                                       "supported: the index keeps every value")
        elif key == "inverted_index_algo":
            if str(value).upper() not in ALGORITHMS:
                raise ParamError(f"inverted_index_algo must be one of {list(ALGORITHMS)}, got {value!r}")
        elif key in ("bm25_k1", "bm25_b"):
            if metric != "BM25":
                raise ParamError(f"{key} applies to metric BM25 only, not {metric}")
            check_bm25_param(key, value)
        else:
            raise ParamError(f"unknown parameter {key!r} of a sparse index; the parameters are "
                             "drop_ratio_build, inverted_index_algo, bm25_k1, bm25_b")


class SparseInvertedIndex:
    """Posting lists of one segment's sparse column (row i of the segment is document i)."""

    def __init__(self, metric: str, params: dict[str, Any] | None = None,
                 index_type: str = "SPARSE_INVERTED_INDEX") -> None:
        self.metric = metric.upper()
        self.params = dict(params or {})
        self.index_type = index_type
        empty = np.zeros(0, dtype=np.uint32)
        self.terms, self.ptr = empty, np.zeros(1, dtype=np.int64)
        self.docs, self.vals = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        self.lengths = np.zeros(0, dtype=np.float64)

    @property
    def count(self) -> int:
        return len(self.lengths)

    def build(self, data: Any, progress: Any = None, threads: int = 0) -> None:
        """Index a sparse column (Arrow list<struct<idx, val>>) or a `CSR`."""
        csr = data if isinstance(data, CSR) else CSR.from_column(data)
        rows = np.repeat(np.arange(csr.num_rows, dtype=np.int32), np.diff(csr.indptr))
        order = np.lexsort((rows, csr.indices))  # by dimension, then by row
        dims = csr.indices[order]
        found = np.unique(dims, return_index=True)
        self.terms, starts = found[0], found[1]
        self.ptr = np.append(starts, len(dims)).astype(np.int64)
        self.docs = rows[order]
        self.vals = csr.values[order]
        self.lengths = csr.row_sums()
        if progress is not None:
            progress(csr.num_rows, csr.num_rows)

    @classmethod
    def from_csr(cls, csr: CSR, metric: str = "IP") -> SparseInvertedIndex:
        index = cls(metric)
        index.build(csr)
        return index

    # --- statistics (BM25) ----------------------------------------------------
    def _postings(self, terms: np.ndarray) -> list[tuple[int, slice]]:
        """(position in `terms`, slice of the postings) of every query dimension this segment holds."""
        pos = np.searchsorted(self.terms, terms)
        out = []
        for i, p in enumerate(pos.tolist()):
            if p < len(self.terms) and self.terms[p] == terms[i]:
                out.append((i, slice(int(self.ptr[p]), int(self.ptr[p + 1]))))
        return out

    def doc_freqs(self, terms: np.ndarray, live: np.ndarray | None) -> np.ndarray:
        """How many live documents hold each of `terms`."""
        out = np.zeros(len(terms), dtype=np.float64)
        for i, sl in self._postings(terms):
            docs = self.docs[sl]
            out[i] = len(docs) if live is None else int(live[docs].sum())
        return out

    def live_stats(self, live: np.ndarray | None) -> tuple[int, float]:
        """(live documents, their total length)."""
        if live is None:
            return self.count, float(self.lengths.sum())
        return int(live.sum()), float(self.lengths[live].sum())

    # --- search -----------------------------------------------------------------
    def scores(self, terms: np.ndarray, weights: np.ndarray, mask: np.ndarray | None,
               bm25: tuple[BM25Params, float] | None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of every document of `mask` sharing a dimension with the query."""
        acc = np.zeros(self.count, dtype=np.float64)
        hit = np.zeros(self.count, dtype=bool)
        for i, sl in self._postings(terms):
            docs = self.docs[sl]
            tf = self.vals[sl].astype(np.float64)
            value = doc_factor(tf, self.lengths[docs], bm25[0], bm25[1]) if bm25 is not None else tf
            acc[docs] += weights[i] * value  # a document appears once per dimension
            hit[docs] = True
        if mask is not None:
            hit &= mask
        rows = np.flatnonzero(hit)
        return rows, acc[rows]

    def top(self, terms: np.ndarray, weights: np.ndarray, k: int, mask: np.ndarray | None,
            bm25: tuple[BM25Params, float] | None) -> tuple[np.ndarray, np.ndarray]:
        """The best `k` (rows, scores), best first, ties by row."""
        rows, scores = self.scores(terms, weights, mask, bm25)
        scores32 = scores.astype(np.float32)
        order = np.lexsort((rows, -scores32))[:k]
        return rows[order], scores32[order]

    def search(self, queries: Any, k: int, valid_mask: np.ndarray | None = None,
               search_params: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        raise UnsupportedError("a sparse index is searched through engine.fulltext.search")

    # --- files ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            with open(path / f"{name}.npy", "wb") as fh:
                np.save(fh, getattr(self, name), allow_pickle=False)
        write_meta(path, {"class": "SparseInvertedIndex", "index_type": self.index_type, "metric": self.metric,
                          "params": self.params, "rows": self.count})

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> SparseInvertedIndex:
        meta = read_meta(path)
        index = cls(meta["metric"], meta.get("params"), meta.get("index_type", "SPARSE_INVERTED_INDEX"))
        try:
            for name in _FILES:
                setattr(index, name, np.load(Path(path) / f"{name}.npy", allow_pickle=False))
        except (OSError, ValueError, EOFError) as e:
            raise CorruptionError(f"sparse index {path} cannot be read: {e}", str(path)) from None
        if index.count != meta.get("rows") or len(index.ptr) != len(index.terms) + 1 or \
                int(index.ptr[-1]) != len(index.docs) or len(index.docs) != len(index.vals):
            raise CorruptionError(f"sparse index {path} is inconsistent (its arrays do not fit together)", str(path))
        return index

    def freeze(self) -> None:
        for name in _FILES:
            getattr(self, name).flags.writeable = False

    def memory_bytes(self) -> int:
        return int(sum(getattr(self, name).nbytes for name in _FILES))

    def stats(self) -> dict[str, Any]:
        return {"rows": self.count, "dimensions": len(self.terms), "postings": len(self.docs)}
