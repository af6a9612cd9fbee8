"""IVF_FLAT / BIN_IVF_FLAT: k-means lists with exact scoring inside the probed lists (numpy).

Build: k-means (k-means++ seeding on a sample, Lloyd iterations) gives ``nlist``
centroids; every vector goes to its nearest centroid (largest inner product for IP,
as faiss does; cosine to normalised centroids for COSINE), and the vectors are
stored grouped by list. COSINE vectors are stored normalised and scored by inner product.
Bit vectors (HAMMING/JACCARD) are clustered as 0/1 float vectors by L2, which
orders them as Hamming distance does, and scored exactly with the bit metric.

Search: the ``nprobe`` nearest lists of each query are scanned exactly. With a
``valid_mask``, lists keep being added (nprobe doubles) until k valid rows are
found; when few rows are valid they are scored directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError, ParamError
from engine.index.base import Progress, check_int, empty_result, read_meta, write_meta
from engine.index.flat import exact_search
from engine.types import BINARY_METRICS, FLOAT_METRICS, larger_is_closer
from engine.vectors.metrics import as_float_matrix, normalize_rows, score_matrix, top_k, worst_value

__all__ = ["IVFFlatIndex", "kmeans"]

DEFAULT_NLIST = 128
DEFAULT_NPROBE = 8
MAX_NLIST = 65536
_TRAIN_PER_LIST = 256  # sample at most this many training points per list (as faiss does)
_ITERATIONS = 12
_KMEANS_PP_MAX = 1024
_EXACT_MAX_ROWS = 2048


def _assign(x: np.ndarray, centroids: np.ndarray, block: int = 16384) -> np.ndarray:
    """Index of the nearest centroid (L2) of each row of ``x``."""
    cc = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), block):
        d = cc[None, :] - 2.0 * (x[s : s + block] @ centroids.T)
        out[s : s + block] = np.argmin(d, axis=1)
    return out


def kmeans(
    x: np.ndarray, k: int, iterations: int = _ITERATIONS, seed: int = 0, progress: Progress | None = None
) -> np.ndarray:
    """L2 k-means of float32 rows ``x`` into ``k`` centroids (k-means++ seeding)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    k = min(k, n)
    if n > k * _TRAIN_PER_LIST:
        x = x[rng.choice(n, k * _TRAIN_PER_LIST, replace=False)]
        n = len(x)
    if k > _KMEANS_PP_MAX:  # k-means++ costs O(k) passes; for many lists seed at random
        centroids = x[rng.choice(n, k, replace=False)].astype(np.float32)
    else:  # k-means++ seeding on at most 64 points per centroid
        pool = x if n <= 64 * k else x[rng.choice(n, 64 * k, replace=False)]
        centroids = np.empty((k, x.shape[1]), dtype=np.float32)
        centroids[0] = pool[rng.integers(len(pool))]
        closest = ((pool - centroids[0]) ** 2).sum(axis=1)
        for c in range(1, k):
            total = float(closest.sum())
            pick = (
                int(rng.integers(len(pool))) if total <= 0 else int(rng.choice(len(pool), p=closest / total))
            )
            centroids[c] = pool[pick]
            closest = np.minimum(closest, ((pool - centroids[c]) ** 2).sum(axis=1))
    for it in range(iterations):
        labels = _assign(x, centroids)
        counts = np.bincount(labels, minlength=k)
        nonempty = counts > 0
        order = np.argsort(labels, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        sums = np.add.reduceat(x[order], starts, axis=0, dtype=np.float64)
        centroids[nonempty] = (sums / counts[nonempty, None]).astype(np.float32)
        # Re-seed empty lists with points from the largest lists, slightly perturbed.
        for empty in np.flatnonzero(~nonempty):
            big = int(np.argmax(counts))
            members = np.flatnonzero(labels == big)
            jitter = rng.standard_normal(size=(1, x.shape[1]), dtype=np.float32)[0] * np.float32(1e-4)
            centroids[empty] = x[int(rng.choice(members))] + jitter
            counts[big] -= 1
        if progress is not None:
            progress(it + 1, iterations)
    return centroids


class IVFFlatIndex:
    """Inverted lists over k-means centroids; exact scores inside probed lists."""

    def __init__(
        self, metric: str = "L2", params: dict[str, Any] | None = None, index_type: str | None = None
    ):
        self.metric = metric.upper()
        self.binary = self.metric in BINARY_METRICS
        if self.metric not in FLOAT_METRICS | BINARY_METRICS:
            raise ParamError(f"IVF_FLAT does not support metric type {metric!r}")
        self.index_type = index_type or ("BIN_IVF_FLAT" if self.binary else "IVF_FLAT")
        self.params: dict[str, Any] = dict(params or {})
        self.nlist = check_int(self.params, "nlist", DEFAULT_NLIST, 1, MAX_NLIST) or DEFAULT_NLIST
        self.default_nprobe = check_int(self.params, "nprobe", DEFAULT_NPROBE, 1, MAX_NLIST) or DEFAULT_NPROBE
        self.centroids = np.zeros((0, 0), dtype=np.float32)
        self.list_offsets = np.zeros(1, dtype=np.int64)  # (nlist + 1,)
        self.ids = np.zeros(0, dtype=np.int64)  # local id of each stored row
        self.data: np.ndarray = np.zeros((0, 0), dtype=np.float32)  # rows grouped by list
        self._positions: np.ndarray | None = None  # local id -> stored row

    @property
    def count(self) -> int:
        return len(self.ids)

    def _quantizer_space(self, x: np.ndarray) -> np.ndarray:
        """Rows as float32 vectors in the space the centroids live in."""
        if self.binary:
            return np.unpackbits(np.asarray(x, dtype=np.uint8), axis=1).astype(np.float32)
        a = as_float_matrix(x)
        return normalize_rows(a) if self.metric == "COSINE" else a

    def _probe_key(self, space: np.ndarray) -> np.ndarray:
        """(rows, nlist) keys, smaller = nearer list: L2 for L2 and bits, -IP for IP, -cosine for COSINE."""
        if self.metric in ("IP", "COSINE"):  # COSINE: rows and centroids are both normalised
            return -score_matrix("IP", space, self.centroids)
        return score_matrix("L2", space, self.centroids)

    def _score_metric(self) -> str:
        return "IP" if self.metric == "COSINE" else self.metric

    def build(self, vectors: np.ndarray, progress: Progress | None = None, threads: int = 0) -> None:
        """Train centroids and fill the lists (numpy uses its own BLAS threads)."""
        raw = np.asarray(vectors)
        if raw.ndim != 2:
            raise ParamError(f"vectors must be a 2-D array, got shape {raw.shape}")
        if self.binary and raw.dtype != np.uint8:
            raise ParamError(f"{self.metric} needs packed uint8 bit vectors, got dtype {raw.dtype}")
        space = self._quantizer_space(raw)
        n = len(raw)
        self._positions = None
        if n == 0:
            self.centroids = np.zeros((0, space.shape[1]), dtype=np.float32)
            self.list_offsets, self.ids = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
            self.data = raw[:0] if self.binary else space
            return
        total = _ITERATIONS + 1
        step = (lambda d, t: progress(d, total)) if progress is not None else None
        centroids = kmeans(space, self.nlist, progress=step)
        self.centroids = normalize_rows(centroids) if self.metric == "COSINE" else centroids
        block = max(1, (1 << 24) // len(self.centroids))
        labels = np.concatenate(
            [np.argmin(self._probe_key(space[s : s + block]), axis=1) for s in range(0, n, block)]
        )
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=len(self.centroids))
        self.list_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.ids = order.astype(np.int64)
        stored = raw if self.binary else space
        self.data = np.ascontiguousarray(stored[order])
        if progress is not None:
            progress(total, total)

    def _position_of(self) -> np.ndarray:
        if self._positions is None:
            pos = np.empty(self.count, dtype=np.int64)
            pos[self.ids] = np.arange(self.count)
            self._positions = pos
        return self._positions

    def search(
        self,
        queries: np.ndarray,
        k: int,
        valid_mask: np.ndarray | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k local ids and distances, scanning the ``nprobe`` nearest lists."""
        qraw = np.asarray(queries)
        if qraw.ndim == 1:
            qraw = qraw.reshape(1, -1)
        nq, n = len(qraw), self.count
        nprobe = check_int(search_params or {}, "nprobe", self.default_nprobe, 1, MAX_NLIST) or 1
        ids, dists = empty_result(nq, max(k, 0), worst_value(self.metric))
        if k <= 0 or n == 0 or nq == 0:
            return ids, dists
        qspace = self._quantizer_space(qraw)
        qscore = qraw if self.binary else qspace
        mask = None if valid_mask is None else np.asarray(valid_mask, dtype=bool)
        if mask is not None and mask.shape != (n,):
            raise ParamError(f"valid_mask has shape {mask.shape} but the index holds {n} vectors")
        metric = self._score_metric()
        if mask is not None and mask.sum() <= _EXACT_MAX_ROWS:
            valid = np.flatnonzero(mask)
            pos = self._position_of()[valid]
            i, d = exact_search(metric, self.data[pos], qscore, k)
            return np.where(i >= 0, valid[np.maximum(i, 0)], -1), d
        nlist = len(self.centroids)
        cent_order = np.argsort(self._probe_key(qspace), axis=1, kind="stable")
        want = min(k, n if mask is None else int(mask.sum()))
        for r in range(nq):
            probe = min(nprobe, nlist)
            while True:
                lists = cent_order[r, :probe]
                pos = np.concatenate(
                    [np.arange(self.list_offsets[c], self.list_offsets[c + 1]) for c in lists]
                )
                cand = self.ids[pos]
                order = np.argsort(cand, kind="stable")  # ties go to the lower id
                pos, cand = pos[order], cand[order]
                vm = None if mask is None else mask[cand]
                if probe >= nlist or vm is None or int(vm.sum()) >= want:
                    break
                probe = min(nlist, probe * 2)
            scores = score_matrix(metric, qscore[r : r + 1], self.data[pos])
            i, d = top_k(scores, k, metric, valid_mask=vm)
            ids[r] = np.where(i[0] >= 0, cand[np.maximum(i[0], 0)], -1)
            dists[r] = d[0]
        return ids, dists

    def save(self, path: Path) -> None:
        """Write ``ivf.npz`` (centroids, lists, vectors) and ``index.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "ivf.tmp.npz"
        with open(tmp, "wb") as f:
            np.savez(
                f, centroids=self.centroids, list_offsets=self.list_offsets, ids=self.ids, data=self.data
            )
        tmp.replace(path / "ivf.npz")
        write_meta(path, self._meta())

    def _meta(self) -> dict[str, Any]:
        return {
            "class": "IVFFlatIndex",
            "index_type": self.index_type,
            "metric": self.metric,
            "params": self.params,
            "nprobe": self.default_nprobe,
            "count": self.count,
            "dim": int(self.data.shape[1]) * (8 if self.binary else 1) if self.count else 0,
        }

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> IVFFlatIndex:
        """Read a saved index (it holds its own copy of the vectors; ``vectors`` is unused)."""
        path = Path(path)
        meta = read_meta(path)
        index = cls(meta["metric"], meta.get("params"), meta.get("index_type"))
        try:
            with np.load(path / "ivf.npz") as z:
                index.centroids, index.list_offsets = z["centroids"], z["list_offsets"]
                index.ids, index.data = z["ids"], z["data"]
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptionError(f"cannot read {path / 'ivf.npz'}: {exc}", str(path)) from exc
        if index.count != meta["count"] or int(index.list_offsets[-1]) != index.count:
            raise CorruptionError(f"{path}: IVF lists do not match the recorded count", str(path))
        return index

    def memory_bytes(self) -> int:
        return int(self.centroids.nbytes + self.list_offsets.nbytes + self.ids.nbytes + self.data.nbytes)

    def stats(self) -> dict[str, Any]:
        sizes = np.diff(self.list_offsets)
        return {
            **self._meta(),
            "nlist": len(self.centroids),
            "memory_bytes": self.memory_bytes(),
            "list_size_min": int(sizes.min()) if len(sizes) else 0,
            "list_size_max": int(sizes.max()) if len(sizes) else 0,
            "list_size_mean": float(sizes.mean()) if len(sizes) else 0.0,
            "empty_lists": int((sizes == 0).sum()),
            "larger_is_closer": larger_is_closer(self.metric),
        }
