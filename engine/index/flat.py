"""FLAT / BIN_FLAT: exact search with numpy. Also the recall oracle for the ANN indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError, ParamError
from engine.index.base import Progress, empty_result, read_meta, write_meta
from engine.types import BINARY_METRICS, FLOAT_METRICS
from engine.vectors.metrics import score_matrix, top_k, worst_value

__all__ = ["BruteForceIndex", "exact_search"]

# Scores computed at once are bounded to about this many floats (64 MB).
_BLOCK_FLOATS = 1 << 24


def _prepare_vectors(vectors: np.ndarray, metric: str) -> np.ndarray:
    a = np.asarray(vectors)
    if a.ndim != 2:
        raise ParamError(f"vectors must be a 2-D array, got shape {a.shape}")
    if metric in BINARY_METRICS:
        if a.dtype != np.uint8:
            raise ParamError(f"{metric} needs packed uint8 bit vectors, got dtype {a.dtype}")
        return a
    return a if a.dtype == np.float32 else a.astype(np.float32)


def exact_search(
    metric: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int,
    valid_mask: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of ``queries`` among ``vectors`` (optionally only ``rows`` / valid rows).

    Works in blocks of base rows so the score matrix stays small; ties go to the lower id.
    """
    q = np.asarray(queries)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    nq = q.shape[0]
    if rows is None and valid_mask is not None:
        mask = np.asarray(valid_mask, dtype=bool)
        if mask.shape != (len(vectors),):
            raise ParamError(f"valid_mask has shape {mask.shape} but the index holds {len(vectors)} vectors")
        if mask.all():
            valid_mask = None
        else:
            rows = np.flatnonzero(mask)
    n = len(vectors) if rows is None else len(rows)
    if k <= 0 or n == 0 or nq == 0:
        return empty_result(nq, max(k, 0), worst_value(metric))
    block = max(1024, _BLOCK_FLOATS // max(1, nq))
    if n <= block:
        base = vectors if rows is None else vectors[rows]
        ids, dists = top_k(score_matrix(metric, q, base), k, metric)
        if rows is not None:
            ids = np.where(ids >= 0, rows[np.maximum(ids, 0)], -1)
        return ids, dists
    # Block-wise: the best k of each block, then the best k of those. Candidates are laid out
    # block by block in id order, so top_k's column tie-break still prefers the lower id.
    all_ids, all_d = [], []
    for s in range(0, n, block):
        sel = slice(s, s + block)
        base = vectors[sel] if rows is None else vectors[rows[sel]]
        ids, dists = top_k(score_matrix(metric, q, base), k, metric)
        glob = np.arange(s, min(s + block, n)) if rows is None else rows[sel]
        all_ids.append(np.where(ids >= 0, glob[np.maximum(ids, 0)], -1))
        all_d.append(dists)
    cand_ids = np.concatenate(all_ids, axis=1)
    cand_d = np.concatenate(all_d, axis=1)
    pick, dists = top_k(cand_d, k, metric, valid_mask=cand_ids >= 0)
    ids = np.where(pick >= 0, np.take_along_axis(cand_ids, np.maximum(pick, 0), axis=1), -1)
    return ids, dists


class BruteForceIndex:
    """Exact search over the segment's own vectors (no copy is made)."""

    def __init__(
        self, metric: str = "L2", params: dict[str, Any] | None = None, index_type: str | None = None
    ):
        self.metric = metric.upper()
        if self.metric not in FLOAT_METRICS | BINARY_METRICS:
            raise ParamError(f"FLAT does not support metric type {metric!r}")
        binary = self.metric in BINARY_METRICS
        self.index_type = index_type or ("BIN_FLAT" if binary else "FLAT")
        self.params: dict[str, Any] = dict(params or {})
        self._vectors: np.ndarray | None = None

    @property
    def count(self) -> int:
        return 0 if self._vectors is None else len(self._vectors)

    def build(self, vectors: np.ndarray, progress: Progress | None = None, threads: int = 0) -> None:
        """Keep a reference to ``vectors``; FLAT has nothing to compute."""
        self._vectors = _prepare_vectors(vectors, self.metric)
        if progress is not None:
            progress(len(self._vectors), len(self._vectors))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        valid_mask: np.ndarray | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k; ``search_params`` is accepted and ignored, as Milvus does for FLAT."""
        if self._vectors is None:
            q = np.asarray(queries)
            return empty_result(1 if q.ndim == 1 else len(q), k, worst_value(self.metric))
        return exact_search(self.metric, self._vectors, queries, k, valid_mask)

    def save(self, path: Path) -> None:
        """Write the vectors (``vectors.npy``) and ``index.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        vecs = self._vectors if self._vectors is not None else np.zeros((0, 0), dtype=np.float32)
        tmp = path / "vectors.tmp.npy"
        np.save(tmp, np.ascontiguousarray(vecs))
        tmp.replace(path / "vectors.npy")
        write_meta(path, self._meta())

    def _meta(self) -> dict[str, Any]:
        dim = 0 if self._vectors is None else int(self._vectors.shape[1])
        return {
            "class": "BruteForceIndex",
            "index_type": self.index_type,
            "metric": self.metric,
            "params": self.params,
            "count": self.count,
            "dim": dim,
        }

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> BruteForceIndex:
        """Read a saved index; its vectors are memory-mapped unless ``vectors`` is given."""
        path = Path(path)
        meta = read_meta(path)
        index = cls(meta["metric"], meta.get("params"), meta.get("index_type"))
        if vectors is None:
            try:
                vectors = np.load(path / "vectors.npy", mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise CorruptionError(f"cannot read {path / 'vectors.npy'}: {exc}", str(path)) from exc
        if len(vectors) != meta["count"]:
            raise CorruptionError(
                f"{path}: index holds {meta['count']} vectors, got {len(vectors)}", str(path)
            )
        index._vectors = _prepare_vectors(vectors, index.metric) if len(vectors) else None
        return index

    def memory_bytes(self) -> int:
        """Bytes of the vectors searched (shared with the segment, not a copy)."""
        return 0 if self._vectors is None else int(self._vectors.nbytes)

    def stats(self) -> dict[str, Any]:
        return {**self._meta(), "memory_bytes": self.memory_bytes()}
