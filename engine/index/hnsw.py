"""HNSW via hnswlib, with exact fallbacks for filtered searches.

Metric mapping: L2 uses hnswlib's ``l2`` space (squared L2, as Milvus reports);
IP uses ``ip`` (hnswlib returns ``1 - ip``, converted back); COSINE normalises the
vectors and queries and uses ``ip``.

Filtered search (``valid_mask``, selectivity s = valid / all): the graph search
keeps ``ef / s`` candidates (about ``ef`` valid ones) and returns
``k / s * 1.5 + 8`` neighbours; invalid ones are dropped, and query rows that still
lack k results are retried with both doubled, then scored exactly once the request
would exceed a quarter of the index. When so few rows are valid that scanning them
is cheaper (see ``EXACT_COST_RATIO``), they are scored exactly with numpy.

hnswlib's ``add_items`` must not run concurrently with ``knn_query``: an `RWLock`
lets searches share the index and makes build/add exclusive. hnswlib's ``ef`` is
global state, so it is left at 1 and each search sets its breadth through the
number of results it asks for (see ``_knn``).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from engine.errors import CorruptionError, ParamError
from engine.index import hnsw_reorder
from engine.index.base import INT32_MAX, Progress, RWLock, check_int, empty_result, read_meta, write_meta
from engine.index.flat import exact_search
from engine.index.hnsw_format import HnswStructure, parse_hnsw_index
from engine.ranking import query_inverse_norm, row_inverse_norms, top_lists
from engine.types import FLOAT_METRICS
from engine.vectors.metrics import as_float_matrix, normalize_rows, worst_value

__all__ = ["DEFAULT_EF", "EXACT_COST_RATIO", "EXACT_MAX_ROWS", "HNSWIndex"]

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF = 64
EXACT_MAX_ROWS = 2048
# Filtered searches score the valid rows exactly when there are at most
# max(EXACT_MAX_ROWS, EXACT_COST_RATIO * widened_ef * M) of them: about where a numpy scan (measured on
# 100k x 512 in bench/bench_engine.py: at 10% selectivity the graph took 5.5 ms and the scan 46 ms)
# of the valid rows costs less than the widened graph search.
EXACT_COST_RATIO = 0.5
_WIDEN = 1.5
_ADD_BATCH = 8192


UNIT_TOLERANCE = 1e-3


def all_unit(vectors: np.ndarray) -> bool:
    """Whether every row has length 1 within UNIT_TOLERANCE (as normalised embeddings do)."""
    a = np.asarray(vectors, dtype=np.float64)
    return bool(len(a) == 0 or np.all(np.abs(np.linalg.norm(a, axis=1) - 1.0) <= UNIT_TOLERANCE))


class HNSWIndex:
    """An hnswlib graph over one segment's float vectors (labels = local row ids)."""

    index_type = "HNSW"

    def __init__(
        self, metric: str = "COSINE", params: dict[str, Any] | None = None, index_type: str = "HNSW"
    ):
        self.metric = metric.upper()
        if self.metric not in FLOAT_METRICS:
            raise ParamError(f"HNSW supports metric types L2, IP and COSINE, not {metric!r}")
        self.index_type = index_type
        self.params: dict[str, Any] = dict(params or {})
        self.M = check_int(self.params, "M", DEFAULT_M, 2, 2048) or DEFAULT_M
        self.ef_construction = (
            check_int(self.params, "efConstruction", DEFAULT_EF_CONSTRUCTION, 1, INT32_MAX)
            or DEFAULT_EF_CONSTRUCTION
        )
        self.default_ef = check_int(self.params, "ef", DEFAULT_EF, 1, INT32_MAX) or DEFAULT_EF
        self._index: hnswlib.Index | None = None
        self._vectors: np.ndarray | None = None  # the raw vectors, for exact fallbacks
        # COSINE over vectors that are already unit length (|norm - 1| <= UNIT_TOLERANCE): the graph
        # stores them as they are, so it can serve as their only copy; hits are re-scored by true cosine.
        self.raw_cosine = False
        self._norms = np.zeros(0, dtype=np.float32)
        self._frozen = False  # searched by many threads, never changed: no lock needed
        self._dim = 0
        self._lock = RWLock()
        self._saved_file: tuple[Path, int, int] | None = None  # (file, size, mtime_ns) saved, for stats()

    # ------------------------------------------------------------------ building

    @property
    def count(self) -> int:
        return 0 if self._index is None else int(self._index.get_current_count())

    @property
    def dim(self) -> int:
        return self._dim

    def _space(self) -> str:
        return "l2" if self.metric == "L2" else "ip"

    def _prep_data(self, x: np.ndarray) -> np.ndarray:
        """Vectors to store: unit length for COSINE, unless they are stored as given (`raw_cosine`)."""
        a = as_float_matrix(x)
        if self.metric == "COSINE" and self.raw_cosine:
            return a
        return normalize_rows(a) if self.metric == "COSINE" else a

    @property
    def stores_raw(self) -> bool:
        """Whether `get_vectors` returns the vectors exactly as they were added."""
        return self.metric != "COSINE" or self.raw_cosine

    def use_raw_cosine_if_unit(self, vectors: np.ndarray) -> bool:
        """Before the first build: store COSINE vectors as given when all are unit length; returns the choice."""
        if self.metric == "COSINE" and self.count == 0:
            self.raw_cosine = bool(all_unit(vectors))
        return self.raw_cosine

    def build(self, vectors: np.ndarray, progress: Progress | None = None, threads: int = 0) -> None:
        """Build the graph over ``vectors``; keeps a reference to them for exact fallbacks."""
        if self._frozen:
            raise RuntimeError("this index is shared by searches and cannot change; load a copy to change it")
        data = as_float_matrix(vectors)
        index = hnswlib.Index(space=self._space(), dim=int(data.shape[1]))
        index.init_index(max_elements=max(1, len(data)), M=self.M, ef_construction=self.ef_construction)
        index.set_ef(1)  # see _knn
        with self._lock.write():
            self._index, self._dim = index, int(data.shape[1])
            self._vectors = np.asarray(vectors) if np.asarray(vectors).dtype == np.float32 else data
            self._saved_file = None
            self._add(data, 0, progress, threads)

    def add(self, vectors: np.ndarray, progress: Progress | None = None, threads: int = 0) -> None:
        """Append rows (ids continue from the current count). Exclusive with searches."""
        if self._frozen:
            raise RuntimeError("this index is shared by searches and cannot change; load a copy to change it")
        data = as_float_matrix(vectors)
        if self._index is None:
            self.build(data, progress, threads)
            return
        if data.shape[1] != self._dim:
            raise ParamError(f"vectors have dimension {data.shape[1]}, the index has {self._dim}")
        with self._lock.write():
            start = self.count
            if self._index.get_max_elements() < start + len(data):
                self._index.resize_index(start + len(data))
            if self._vectors is not None:
                self._vectors = np.concatenate([self._vectors, data])
            self._saved_file = None
            self._add(data, start, progress, threads)

    def freeze(self) -> None:
        """From now on the index only serves searches (any change raises), so they need no lock."""
        self._frozen = True

    def reserve(self, total: int) -> None:
        """Make room for `total` vectors at once (so a series of `add` calls does not reallocate)."""
        if self._index is not None and self._index.get_max_elements() < total:
            with self._lock.write():
                self._index.resize_index(total)

    def _add(self, data: np.ndarray, start: int, progress: Progress | None, threads: int) -> None:
        assert self._index is not None
        n = len(data)
        if self.raw_cosine and len(data) and not all_unit(data):
            raise ParamError("this graph stores unit-length COSINE vectors as given; these are not unit length")
        if self.raw_cosine:
            self._norms = np.concatenate([self._norms[:start], np.linalg.norm(data, axis=1).astype(np.float32)])
        for s in range(0, n, _ADD_BATCH):
            chunk = self._prep_data(data[s : s + _ADD_BATCH])
            labels = np.arange(start + s, start + s + len(chunk), dtype=np.int64)
            self._index.add_items(chunk, labels, num_threads=threads if threads > 0 else -1)
            if progress is not None:
                progress(min(s + _ADD_BATCH, n), n)
        if n == 0 and progress is not None:
            progress(0, 0)

    # ------------------------------------------------------------------ searching

    def resolve_ef(self, k: int, search_params: dict[str, Any] | None) -> int:
        """The ``ef`` to search with: the given one (must be >= k, as in Milvus) or max(k, default)."""
        ef = check_int(search_params or {}, "ef", None, 1, INT32_MAX)
        if ef is None:
            return max(k, self.default_ef)
        if ef < k:
            raise ParamError(f"ef ({ef}) should be larger than or equal to k ({k})")
        return ef

    def _knn(
        self, q: np.ndarray, kk: int, ef: int, inv_norm: np.ndarray | np.float32 | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The kk nearest of each query, searching with breadth ``ef``; Milvus distances.

        hnswlib searches with ``max(ef_, k)``. Its ``ef_`` stays at 1 and the breadth is
        set by asking for ``max(ef, kk)`` results, so ef is never shared state and
        searches only need the read side of the lock.

        For COSINE, ``q`` is searched as given (scaling a query does not change the order of
        inner products, so the graph walk is the same) and ``inv_norm`` (1 / |q| per row, 0 for a
        zero row) turns the inner products of the hits into cosines.
        """
        labels, dist = self._walk(q, min(max(ef, kk), self.count))
        # hnswlib's labels are uint64 row numbers (< 2**63): viewed as int64, not copied
        if self.metric == "L2":
            return labels[:, :kk].view(np.int64), dist[:, :kk]
        sim = np.subtract(np.float32(1.0), dist, out=dist)  # hnswlib's fresh array, reused
        if inv_norm is not None:  # a float32 scalar (one query, see _search_one) or one value per row
            sim *= inv_norm[:, None] if isinstance(inv_norm, np.ndarray) else inv_norm
        if self.raw_cosine:  # inner products with near-unit vectors: divide by their norms, re-rank all fetched
            sim *= self._inverse_norms()[labels]
            if np.count_nonzero(sim[:, 1:] > sim[:, :-1]):
                if len(sim) == 1:  # one query: plain indexing (take_along_axis costs microseconds in Python)
                    order = np.argsort(-sim[0], kind="stable")[:kk]
                    return labels[0][order].view(np.int64)[None], sim[0][order][None]
                order = np.argsort(-sim, axis=1, kind="stable")[:, :kk]
                return np.take_along_axis(labels, order, 1).view(np.int64), np.take_along_axis(sim, order, 1)
        return labels[:, :kk].view(np.int64), sim[:, :kk]

    def _walk(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """hnswlib's k nearest (breadth k, see `_knn`); a frozen index needs no lock."""
        assert self._index is not None
        if self._frozen:
            return self._index.knn_query(q, k=k)  # type: ignore[no-any-return]
        with self._lock.read():
            return self._index.knn_query(q, k=k)  # type: ignore[no-any-return]

    def _inverse_norms(self) -> np.ndarray:
        """1 / |x| of the stored vectors (raw_cosine), computed once per change of the norms."""
        cached = self.__dict__.get("_inv_norms_of")
        if cached is None or cached[0] is not self._norms:
            inv = np.float32(1.0) / np.maximum(self._norms, np.float32(1e-30))
            cached = self.__dict__["_inv_norms_of"] = (self._norms, inv)
        return cached[1]

    def _query_matrix(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Queries as a C-contiguous float32 matrix, and 1 / |q| per row for COSINE (0 for a zero row)."""
        q = queries
        if not (type(q) is np.ndarray and q.dtype == np.float32 and q.ndim == 2 and q.flags.c_contiguous):
            q = as_float_matrix(q)
        if self.metric != "COSINE":
            return q, None
        return q, row_inverse_norms(q)

    def _search_one(
        self, q: np.ndarray, k: int, search_params: dict[str, Any] | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """One unfiltered query (the common call) with fewer numpy calls than the general path; None
        where that path is needed (conversion, a zero or non-finite query, k beyond the index, a
        dimension error, a sparse graph). The same arithmetic, so the same ids and distances to the bit."""
        if q.dtype != np.float32 or not q.flags.c_contiguous or q.shape[1] != self._dim:
            return None
        n = self.count
        if not 0 < k <= n:
            return None
        ef = self.resolve_ef(k, search_params)
        inv_norm = None
        if self.metric == "COSINE":
            inv = query_inverse_norm(q)  # the value `row_inverse_norms` gives this row
            if inv is None:
                return None
            inv_norm = np.float32(inv)
        try:
            return self._knn(q, k, ef, inv_norm)
        except RuntimeError:
            return None  # hnswlib found fewer than k (a sparse graph): the general path copes

    def search_one_lists(self, q: np.ndarray, k: int, ef: int) -> tuple[list[int], list[float]] | None:
        """`_search_one` of a float32 C-contiguous query of the index's dimension, (dim,) or (1, dim), with
        the breadth `resolve_ef` gave for `k`; the hits as lists (row ids, distances), best first. None
        where `_search_one` would hand over to the general path, and for a query that is not all finite
        (its squared norm tells: NaN and inf carry into it) or whose squared norm overflows float32,
        which the caller must refuse or convert with the full checks.

        The same arithmetic in the same order as `_knn`, so the same ids and distances to the bit. The
        work before and after the graph walk is one call each (`engine/ranking.py`, compiled where it is
        built): a walk over a large graph leaves the CPU caches cold, and each numpy call after it costs
        microseconds (docs/indexes.md)."""
        n = self.count
        if not 0 < k <= n or q.size != self._dim:
            return None
        inv_norm = query_inverse_norm(q)  # for every metric: None also tells a query that is not finite
        if inv_norm is None:
            return None
        cosine = self.metric == "COSINE"
        inv_rows = self._inverse_norms() if cosine and self.raw_cosine else None
        try:
            labels, dist = self._walk(q, min(max(ef, k), n))
        except RuntimeError:
            return None  # hnswlib found fewer than asked (a sparse graph): the general path copes
        return top_lists(labels, dist, k, self.metric != "L2", inv_norm if cosine else None, inv_rows)

    def _raw_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, str]:
        """Vectors of ``rows`` and the metric to score them with."""
        if self._vectors is not None:
            return np.asarray(self._vectors[rows], dtype=np.float32), self.metric
        assert self._index is not None
        vecs = np.asarray(self._index.get_items(rows), dtype=np.float32)
        if self.metric == "COSINE" and not self.raw_cosine:
            return vecs, "IP"  # stored normalised
        return vecs, self.metric

    def get_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (unit vectors for COSINE when the graph stores them)."""
        if self.count == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        vecs, _ = self._raw_vectors(np.asarray(rows, dtype=np.int64))
        return vecs

    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vecs, metric = self._raw_vectors(rows)
        ids, dists = exact_search(metric, vecs, q, k)
        return np.where(ids >= 0, rows[np.maximum(ids, 0)], -1), dists

    def search(
        self,
        queries: np.ndarray,
        k: int,
        valid_mask: np.ndarray | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k local ids and distances; see the module docstring for filtering."""
        if valid_mask is None and type(queries) is np.ndarray and queries.ndim == 2 and len(queries) == 1:
            found = self._search_one(queries, k, search_params)
            if found is not None:
                return found
        q, inv_norm = self._query_matrix(queries)
        nq, n = len(q), self.count
        ef = self.resolve_ef(k, search_params)
        if q.shape[1] != self._dim and n and nq:
            raise ParamError(f"query dimension {q.shape[1]} does not match the index dimension {self._dim}")
        if valid_mask is None and 0 < k <= n and nq:  # the common case: one graph search, already ordered best first
            try:
                return self._knn(q, k, ef, inv_norm)
            except RuntimeError:
                pass  # hnswlib found fewer than k (a sparse graph): the general path below copes
        pad = worst_value(self.metric)
        ids, dists = empty_result(nq, max(k, 0), pad)
        if k <= 0 or n == 0 or nq == 0:
            return ids, dists
        mask: np.ndarray | None = None
        n_valid = n
        if valid_mask is not None:
            mask = np.asarray(valid_mask, dtype=bool)
            if mask.shape != (n,):
                raise ParamError(f"valid_mask has shape {mask.shape} but the index holds {n} vectors")
            n_valid = int(mask.sum())
            if n_valid == n:
                mask = None
        if n_valid == 0:
            return ids, dists
        sel = n_valid / n
        # Keep about ef *valid* candidates in the graph search: widen ef by 1/selectivity.
        ef_eff = max(ef, math.ceil(ef / sel))
        qu = normalize_rows(q) if self.metric == "COSINE" else q  # for exact scoring
        if mask is not None and n_valid <= max(EXACT_MAX_ROWS, EXACT_COST_RATIO * ef_eff * self.M):
            return self._exact(qu, k, np.flatnonzero(mask))
        want = min(k, n_valid)
        kk = min(n, k if mask is None else math.ceil(k / sel * _WIDEN) + 8)
        if mask is not None and kk > n // 4:  # the graph would visit most of the index anyway
            return self._exact(qu, k, np.flatnonzero(mask))
        todo = np.arange(nq)
        while len(todo):
            try:
                labels, dist = self._knn(q[todo], kk, max(ef_eff, kk), None if inv_norm is None else inv_norm[todo])
            except RuntimeError:  # hnswlib found fewer than kk: treat those rows as unresolved
                labels, dist = (
                    np.full((len(todo), kk), -1, np.int64),
                    np.full((len(todo), kk), pad, np.float32),
                )
            ok = labels >= 0
            if mask is not None:
                ok &= mask[np.maximum(labels, 0)]
            done = ok.sum(axis=1) >= want
            for r in np.flatnonzero(done):
                sel_l, sel_d = labels[r][ok[r]], dist[r][ok[r]]
                order = np.lexsort((sel_l, -sel_d if self.metric != "L2" else sel_d))[:k]
                ids[todo[r], : len(order)] = sel_l[order]
                dists[todo[r], : len(order)] = sel_d[order]
            todo = todo[~done]
            if len(todo) and (kk >= n or kk * 2 > n // 4):
                rows = np.flatnonzero(mask) if mask is not None else np.arange(n)
                ids[todo], dists[todo] = self._exact(qu[todo], k, rows)
                break
            kk, ef_eff = min(n, kk * 2), ef_eff * 2
        return ids, dists

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path) -> None:
        """Write ``hnsw.bin`` (hnswlib's format) and ``index.json`` (params and ef)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self._index is not None:
            tmp = path / "hnsw.bin.tmp"
            with self._lock.read():
                self._index.save_index(str(tmp))
            if self.count >= hnsw_reorder.MIN_ROWS:  # elements renumbered for memory locality (hnsw_reorder)
                hnsw_reorder.reorder_index_file(tmp, path / "hnsw.bin.order.tmp", self._dim)
                (path / "hnsw.bin.order.tmp").replace(tmp)
            else:
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
            tmp.replace(path / "hnsw.bin")
            if self.raw_cosine:
                np.save(path / "norms.tmp.npy", self._norms)
                (path / "norms.tmp.npy").replace(path / "norms.npy")
            st = (path / "hnsw.bin").stat()
            self._saved_file = (path / "hnsw.bin", st.st_size, st.st_mtime_ns)
        write_meta(path, self._meta())

    def _meta(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "index_type": self.index_type,
            "metric": self.metric,
            "params": self.params,
            "ef": self.default_ef,
            "count": self.count,
            "dim": self._dim,
            "raw_cosine": self.raw_cosine,
        }

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> HNSWIndex:
        """Read a saved index; ``vectors`` (the segment's raw vectors) speeds up exact fallbacks."""
        path = Path(path)
        meta = read_meta(path)
        index = cls(meta["metric"], meta.get("params"), meta.get("index_type", "HNSW"))
        index.default_ef = int(meta.get("ef", index.default_ef))
        index._dim = int(meta.get("dim", 0))
        index.raw_cosine = bool(meta.get("raw_cosine", False))
        if meta.get("count", 0) > 0:
            file = path / "hnsw.bin"
            raw = hnswlib.Index(space=index._space(), dim=index._dim)
            try:
                raw.load_index(str(file), max_elements=int(meta["count"]))
            except (RuntimeError, OSError) as exc:
                raise CorruptionError(f"cannot load HNSW index {file}: {exc}", str(file)) from exc
            if raw.get_current_count() != meta["count"]:
                raise CorruptionError(
                    f"{file} holds {raw.get_current_count()} vectors, expected {meta['count']}"
                )
            raw.set_ef(1)  # see _knn
            if index.raw_cosine:
                try:
                    index._norms = np.load(path / "norms.npy").astype(np.float32)
                except (OSError, ValueError) as exc:
                    raise CorruptionError(f"cannot read {path / 'norms.npy'}: {exc}", str(path)) from exc
                if len(index._norms) != meta["count"]:
                    raise CorruptionError(f"{path / 'norms.npy'} does not match its graph", str(path))
            st = file.stat()
            index._index = raw
            index._saved_file = (file, st.st_size, st.st_mtime_ns)
        if vectors is not None:
            if len(vectors) != index.count:
                raise ParamError(f"got {len(vectors)} vectors for an index of {index.count}")
            index._vectors = np.asarray(vectors)
        return index

    # ------------------------------------------------------------------ introspection

    def structure(self) -> HnswStructure | None:
        """Levels and degrees, parsed from the saved index bytes (saving to a temp file if needed)."""
        if self._index is None:
            return None
        if self._saved_file is not None:
            file, size, mtime = self._saved_file
            try:
                st = file.stat()
                if (st.st_size, st.st_mtime_ns) == (size, mtime):
                    return parse_hnsw_index(np.memmap(file, dtype=np.uint8, mode="r"))
            except OSError:
                pass  # moved or deleted since: save a fresh copy below
        fd, name = tempfile.mkstemp(suffix=".hnsw")
        os.close(fd)
        try:
            with self._lock.read():
                self._index.save_index(name)
            return parse_hnsw_index(Path(name).read_bytes())
        finally:
            os.unlink(name)

    def memory_bytes(self) -> int:
        """hnswlib's allocations, estimated from its layout (see hnswalg.h).

        Layer-0 blocks (links, vector, label) per capacity slot; upper-layer lists for the
        expected 1/(M-1) extra levels per element; per slot a mutex, level, link pointer and
        visited mark; about 48 bytes per label-map entry; 65536 label-op mutexes.
        """
        if self._index is None:
            return 0
        n, cap = self.count, int(self._index.get_max_elements())
        level0 = cap * ((2 * self.M) * 4 + 4 + self._dim * 4 + 8)
        upper = n / (self.M - 1) * (self.M * 4 + 4)
        return int(level0 + upper + cap * (40 + 4 + 8 + 2) + n * 48 + 65536 * 40)

    def stats(self) -> dict[str, Any]:
        """Counts, memory, level counts and the layer-0 degree histogram."""
        out: dict[str, Any] = {
            **self._meta(),
            "M": self.M,
            "efConstruction": self.ef_construction,
            "memory_bytes": self.memory_bytes(),
        }
        s = self.structure()
        if s is not None:
            out.update(
                element_count=s.count,
                max_level=int(s.header["max_level"]),
                entry_point=int(s.header["enterpoint_node"]),
                level_counts=s.level_counts(),
                degree_histogram=s.degree_histogram(),
                mean_degree=float(s.degree0.mean()) if s.count else 0.0,
                deleted=int(s.deleted.sum()),
                upper_link_bytes=s.upper_bytes,
            )
        return out
