"""MAX_SIM index for embedding lists (Milvus's Array-of-Structs vector sub-fields).

Entity (row) ``i`` of a segment owns the element vectors
``elements[offsets[i]:offsets[i+1]]``. One HNSW graph covers every element of the
segment. A search for a query list (m vectors) asks the graph for about
``k * retrieval_ann_ratio`` nearest elements per query vector, collects the
(valid) entities owning them, scores each candidate *exactly* with
`engine.vectors.metrics.maxsim_scores` over its full element list, and returns the
best k. When few entities are valid, or the candidate set would hold most of
them, every valid entity is scored exactly instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError, ParamError
from engine.index.base import Progress, empty_result, read_meta, write_meta
from engine.index.hnsw import HNSWIndex
from engine.types import MAX_SIM_METRICS
from engine.vectors.metrics import maxsim_scores, top_k, worst_value

__all__ = ["DEFAULT_RETRIEVAL_ANN_RATIO", "MaxSimIndex"]

DEFAULT_RETRIEVAL_ANN_RATIO = 3.0
# At least this many elements are retrieved per query vector, whatever k is.
MIN_RETRIEVED = 32
# Score every valid entity exactly when their elements number at most this.
EXACT_MAX_ELEMENTS = 4096
# Candidate entities scored exactly: at least limit × retrieval_ann_ratio × this. Nearby elements
# often share an entity, and the best entity by summed MAX_SIM need not own the single nearest
# element of any query vector; scoring a wider candidate set exactly is cheap and lifts recall
# (bench/bench_engine.py MAX_SIM: 0.93 at 1×, see docs/benchmarks.md).
CANDIDATE_FACTOR = 2.0


class MaxSimIndex:
    """HNSW over all element vectors plus an element -> entity map; exact MAX_SIM re-scoring."""

    def __init__(
        self, metric: str = "MAX_SIM_COSINE", params: dict[str, Any] | None = None, index_type: str = "HNSW"
    ):
        self.metric = metric.upper()
        if self.metric not in MAX_SIM_METRICS:
            raise ParamError(
                f"an embedding-list index needs a MAX_SIM metric ({sorted(MAX_SIM_METRICS)}), not {metric!r}"
            )
        self.index_type = index_type
        self.params: dict[str, Any] = dict(params or {})
        self._hnsw = HNSWIndex(self.metric.removeprefix("MAX_SIM_"), self.params, index_type)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._elem_row = np.zeros(0, dtype=np.int64)

    @property
    def count(self) -> int:
        """Number of entities (rows)."""
        return len(self._offsets) - 1

    @property
    def offsets(self) -> np.ndarray:
        """(n+1,) int64: entity i owns elements offsets[i]:offsets[i+1]."""
        return self._offsets

    @property
    def element_count(self) -> int:
        return int(self._offsets[-1] - self._offsets[0])

    def _set_offsets(self, offsets: np.ndarray, n_elements: int) -> None:
        off = np.asarray(offsets, dtype=np.int64)
        if off.ndim != 1 or len(off) == 0 or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != n_elements:
            raise ParamError(
                f"offsets must rise from 0 to the element count {n_elements}, one more than the rows"
            )
        self._offsets = off
        self._elem_row = np.repeat(np.arange(len(off) - 1, dtype=np.int64), np.diff(off))

    def build(
        self,
        vectors: np.ndarray,
        progress: Progress | None = None,
        threads: int = 0,
        offsets: np.ndarray | None = None,
    ) -> None:
        """Index element ``vectors`` (E, d); ``offsets`` (n+1,) says which rows own them."""
        if isinstance(progress, np.ndarray):
            raise ParamError("MaxSimIndex.build: pass offsets as a keyword: build(elements, offsets=offsets)")
        if offsets is None:
            raise ParamError(
                "MaxSimIndex.build needs offsets: entity i owns elements[offsets[i]:offsets[i+1]]"
            )
        self._set_offsets(offsets, len(vectors))
        self._hnsw.build(vectors, progress, threads)

    def add(self, vectors: np.ndarray, offsets: np.ndarray, progress: Progress | None = None,
            threads: int = 0) -> None:
        """Append rows: ``offsets`` (m+1,) from 0 says which of the new rows own which of ``vectors``."""
        new = np.asarray(offsets, dtype=np.int64)
        if new.ndim != 1 or len(new) == 0 or new[0] != 0 or np.any(np.diff(new) < 0) or new[-1] != len(vectors):
            raise ParamError(f"offsets must rise from 0 to the element count {len(vectors)}")
        combined = np.concatenate([self._offsets[:-1], self._offsets[-1] + new])
        if len(vectors):
            self._hnsw.add(vectors, progress, threads)
        self._set_offsets(combined, self._hnsw.count)

    def freeze(self) -> None:
        self._hnsw.freeze()

    def reserve(self, total_elements: int) -> None:
        self._hnsw.reserve(total_elements)

    def _gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elements of ``rows`` (concatenated) and their offsets."""
        starts, ends = self._offsets[rows], self._offsets[rows + 1]
        sizes = ends - starts
        sub = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        idx = np.repeat(starts - sub[:-1], sizes) + np.arange(int(sub[-1]))
        vecs, _ = self._hnsw._raw_vectors(idx)
        return vecs, sub

    def _score_rows(self, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        elements, sub = self._gather(rows)
        scores = maxsim_scores(self.metric, query, elements, sub)
        assert isinstance(scores, np.ndarray)
        i, d = top_k(scores.reshape(1, -1), k, self.metric)
        return np.where(i[0] >= 0, rows[np.maximum(i[0], 0)], -1), d[0]

    def search(
        self,
        queries: np.ndarray | Sequence[np.ndarray],
        k: int,
        valid_mask: np.ndarray | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows per query list, with exact MAX_SIM scores.

        ``queries`` is one query list (m, d), a (nq, m, d) array, or a sequence of lists.
        ``search_params``: ``ef`` (graph search breadth) and ``retrieval_ann_ratio``.
        """
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            qlists: list[np.ndarray] = [queries]
        else:
            qlists = [np.asarray(q, dtype=np.float32) for q in queries]
        params = dict(search_params or {})
        ratio = params.pop("retrieval_ann_ratio", DEFAULT_RETRIEVAL_ANN_RATIO)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float, str)):
            raise ParamError(f"retrieval_ann_ratio must be a positive number, got {ratio!r}")
        try:
            ratio = float(ratio)
        except ValueError:
            raise ParamError(f"retrieval_ann_ratio must be a positive number, got {ratio!r}") from None
        if not ratio > 0 or math.isinf(ratio):
            raise ParamError(f"retrieval_ann_ratio must be a positive number, got {ratio!r}")
        n = self.count
        ids, dists = empty_result(len(qlists), max(k, 0), worst_value(self.metric))
        if k <= 0 or n == 0:
            return ids, dists
        mask = None if valid_mask is None else np.asarray(valid_mask, dtype=bool)
        if mask is not None and mask.shape != (n,):
            raise ParamError(f"valid_mask has shape {mask.shape} but the index holds {n} rows")
        valid_rows = np.flatnonzero(
            mask & (np.diff(self._offsets) > 0) if mask is not None else np.diff(self._offsets) > 0
        )
        if len(valid_rows) == 0:
            return ids, dists
        kk = max(MIN_RETRIEVED, math.ceil(k * ratio))
        valid_elements = int((self._offsets[valid_rows + 1] - self._offsets[valid_rows]).sum())
        exact = valid_elements <= EXACT_MAX_ELEMENTS or len(valid_rows) <= kk
        elem_mask = None if mask is None else mask[self._elem_row]
        kk = min(kk, valid_elements)
        ef = max(kk, self._hnsw.resolve_ef(1, params))
        for qi, query in enumerate(qlists):
            q = np.asarray(query, dtype=np.float32)
            if q.ndim == 1:
                q = q.reshape(1, -1)
            if q.ndim != 2 or len(q) == 0 or q.shape[1] != self._hnsw.dim:
                raise ParamError(f"query list {qi} must have shape (m, {self._hnsw.dim}), got {q.shape}")
            rows = valid_rows if exact else self._candidates(q, kk, ef, elem_mask, valid_rows, k, ratio)
            ids[qi], dists[qi] = self._score_rows(q, rows, k)
        return ids, dists

    def _candidates(self, q: np.ndarray, kk: int, ef: int, elem_mask: np.ndarray | None, valid_rows: np.ndarray,
                    k: int, ratio: float) -> np.ndarray:
        """Entities owning the elements nearest to any query vector: at least ``k × ratio × CANDIDATE_FACTOR``.

        Nearby elements often belong to the same few entities, so the element search is widened
        (doubling) until that many distinct entities are found, or scores every valid entity once
        the search would cover a quarter of the elements.
        """
        target = min(len(valid_rows), max(k, math.ceil(k * ratio * CANDIDATE_FACTOR)))
        n_elements = len(self._elem_row) if elem_mask is None else int(elem_mask.sum())
        while True:
            labels, _ = self._hnsw.search(q, kk, elem_mask, {"ef": max(ef, kk)})
            rows = np.unique(self._elem_row[labels[labels >= 0]])
            if len(rows) >= target or kk >= n_elements:
                return rows
            if kk * 2 > n_elements // 4:
                return valid_rows
            kk *= 2

    def save(self, path: Path) -> None:
        """Write the element graph (``elements/``), ``offsets.npy`` and ``index.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._hnsw.save(path / "elements")
        tmp = path / "offsets.tmp.npy"
        np.save(tmp, self._offsets)
        tmp.replace(path / "offsets.npy")
        write_meta(path, self._meta())

    def _meta(self) -> dict[str, Any]:
        return {
            "class": "MaxSimIndex",
            "index_type": self.index_type,
            "metric": self.metric,
            "params": self.params,
            "count": self.count,
            "element_count": self.element_count,
            "dim": self._hnsw.dim,
        }

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> MaxSimIndex:
        """Read a saved index; ``vectors`` are the segment's element vectors (optional)."""
        path = Path(path)
        meta = read_meta(path)
        index = cls(meta["metric"], meta.get("params"), meta.get("index_type", "HNSW"))
        index._hnsw = HNSWIndex.load(path / "elements", vectors)
        try:
            offsets = np.load(path / "offsets.npy")
        except (OSError, ValueError) as exc:
            raise CorruptionError(f"cannot read {path / 'offsets.npy'}: {exc}", str(path)) from exc
        index._set_offsets(offsets, index._hnsw.count)
        if index.count != meta["count"]:
            raise CorruptionError(f"{path}: {index.count} rows, expected {meta['count']}", str(path))
        return index

    def memory_bytes(self) -> int:
        return self._hnsw.memory_bytes() + int(self._offsets.nbytes + self._elem_row.nbytes)

    def stats(self) -> dict[str, Any]:
        sizes = np.diff(self._offsets)
        return {
            **self._hnsw.stats(),
            **self._meta(),
            "memory_bytes": self.memory_bytes(),
            "elements_per_row_min": int(sizes.min()) if len(sizes) else 0,
            "elements_per_row_max": int(sizes.max()) if len(sizes) else 0,
            "elements_per_row_mean": float(sizes.mean()) if len(sizes) else 0.0,
            "empty_rows": int((sizes == 0).sum()),
        }
