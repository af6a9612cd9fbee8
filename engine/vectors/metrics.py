"""Exact distance computation, top-k selection and MAX_SIM scoring.

All distances are in Milvus's convention:

* ``L2``: squared euclidean distance (smaller is closer);
* ``IP``: dot product (larger is closer);
* ``COSINE``: cosine similarity, both sides normalised, zero vectors score 0;
* ``HAMMING``: number of differing bits of packed ``uint8`` bit vectors;
* ``JACCARD``: ``1 - |a & b| / |a | b|`` on packed bit vectors (two empty
  vectors have distance 0).

Work is done in float32. Entries of the L2 expansion
``|q|^2 + |b|^2 - 2 q.b`` that suffer cancellation (near-duplicates) are
recomputed from the differences, so every L2 value is accurate to about
1e-6 relative. IP and COSINE are accurate to about 1e-6 of ``|q| |b|``.
Bit metrics are exact.
"""

from __future__ import annotations

import numpy as np

from engine.errors import ParamError
from engine.types import BINARY_METRICS, FLOAT_METRICS, MAX_SIM_METRICS, larger_is_closer

__all__ = [
    "as_float_matrix",
    "maxsim_scores",
    "normalize_rows",
    "score_matrix",
    "top_k",
    "worst_value",
]

# L2 entries below this fraction of |q|^2 + |b|^2 are recomputed from differences.
_L2_REFINE_FRACTION = np.float32(0.2)
# Rows of the base processed at once by the bit metrics (bounds temporary memory).
_BIT_CHUNK = 8192


def as_float_matrix(x: np.ndarray, name: str = "vectors") -> np.ndarray:
    """Return ``x`` as a C-contiguous 2-D float32 array (a 1-D vector becomes one row)."""
    a = np.asarray(x)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise ParamError(f"{name} must be a 2-D array, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (float32); zero rows stay zero."""
    a = as_float_matrix(x)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a, dtype=np.float64))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (a * scale[:, None].astype(np.float32)).astype(np.float32, copy=False)


def _sq_norms(a: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, a, dtype=np.float64).astype(np.float32)


def _l2(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    qq = _sq_norms(queries)
    bb = _sq_norms(base)
    out = queries @ base.T
    out *= np.float32(-2.0)
    out += qq[:, None]
    out += bb[None, :]
    np.maximum(out, 0, out=out)
    # Cancellation: recompute near-duplicate pairs exactly from their differences.
    scale = qq[:, None] + bb[None, :]
    qi, bi = np.nonzero(out < _L2_REFINE_FRACTION * scale)
    step = max(1, (1 << 22) // max(1, queries.shape[1]))
    for s in range(0, len(qi), step):
        q_sel, b_sel = qi[s : s + step], bi[s : s + step]
        diff = queries[q_sel] - base[b_sel]
        out[q_sel, b_sel] = np.einsum("ij,ij->i", diff, diff, dtype=np.float64)
    return out


def _check_bits(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(queries)
    b = np.asarray(base)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.dtype != np.uint8 or b.dtype != np.uint8 or b.ndim != 2:
        raise ParamError("binary metrics need packed uint8 bit vectors of shape (n, dim/8)")
    if q.shape[1] != b.shape[1]:
        raise ParamError(f"query has {q.shape[1] * 8} bits but the vectors have {b.shape[1] * 8}")
    return q, b


def _bits(queries: np.ndarray, base: np.ndarray, metric: str) -> np.ndarray:
    q, b = _check_bits(queries, base)
    qbits = np.unpackbits(q, axis=1).astype(np.float32)
    qcount = qbits.sum(axis=1)
    out = np.empty((q.shape[0], b.shape[0]), dtype=np.float32)
    for s in range(0, b.shape[0], _BIT_CHUNK):
        bbits = np.unpackbits(b[s : s + _BIT_CHUNK], axis=1).astype(np.float32)
        inter = qbits @ bbits.T  # exact: small integers in float32
        total = qcount[:, None] + bbits.sum(axis=1)[None, :]
        if metric == "HAMMING":
            out[:, s : s + _BIT_CHUNK] = total - 2 * inter
        else:
            union = total - inter
            ratio = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
            out[:, s : s + _BIT_CHUNK] = 1 - ratio
    return out


def score_matrix(metric: str, queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Distances between every query and every base vector, shape (q, n), float32."""
    m = metric.upper()
    if m in BINARY_METRICS:
        return _bits(queries, base, m)
    if m not in FLOAT_METRICS:
        raise ParamError(
            f"metric type {metric!r} is not supported here; use one of L2, IP, COSINE, HAMMING, JACCARD"
        )
    q = as_float_matrix(queries, "queries")
    b = as_float_matrix(base, "base vectors")
    if q.shape[1] != b.shape[1]:
        raise ParamError(f"query dimension {q.shape[1]} does not match vector dimension {b.shape[1]}")
    if m == "L2":
        return _l2(q, b)
    if m == "COSINE":
        q, b = normalize_rows(q), normalize_rows(b)
    return np.ascontiguousarray(q @ b.T, dtype=np.float32)


def worst_value(metric: str) -> float:
    """The padding distance for missing results: -inf for similarities, +inf for distances."""
    return -np.inf if larger_is_closer(metric) else np.inf


def top_k(
    scores: np.ndarray,
    k: int,
    metric: str,
    valid_mask: np.ndarray | None = None,
    offset: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row of ``scores`` after skipping the first ``offset``.

    ``valid_mask`` is a boolean (n,) or (q, n) array; False columns and NaN scores are
    never returned. Ties go to the lower column id. Returns ids (q, k) int64 padded
    with -1 and distances (q, k) float32 padded with ``worst_value(metric)``.
    """
    s = np.asarray(scores, dtype=np.float32)
    if s.ndim == 1:
        s = s.reshape(1, -1)
    if k < 0 or offset < 0:
        raise ParamError(f"k and offset must be non-negative, got k={k}, offset={offset}")
    nq, n = s.shape
    ids = np.full((nq, k), -1, dtype=np.int64)
    dists = np.full((nq, k), worst_value(metric), dtype=np.float32)
    if k == 0 or n == 0:
        return ids, dists
    key = -s if larger_is_closer(metric) else s.copy()
    invalid = np.isnan(key)
    if valid_mask is not None:
        vm = np.asarray(valid_mask, dtype=bool)
        if vm.shape[-1] != n:
            raise ParamError(f"valid_mask has {vm.shape[-1]} entries but there are {n} vectors")
        invalid |= ~np.broadcast_to(vm, key.shape)
    key[invalid] = np.inf
    kk = offset + k
    if kk < n:
        part = np.argpartition(key, kk - 1, axis=1)[:, kk - 1]
        thresh = key[np.arange(nq), part]
    else:
        thresh = np.full(nq, np.inf, dtype=np.float32)
    for r in range(nq):
        cand = np.flatnonzero((key[r] <= thresh[r]) & ~invalid[r])
        order = cand[np.lexsort((cand, key[r, cand]))][offset:kk]
        ids[r, : len(order)] = order
        dists[r, : len(order)] = s[r, order]
    return ids, dists


def _segment_argbest(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray, larger: bool) -> np.ndarray:
    """Index (into ``values``) of the first best value of each non-empty segment."""
    best = (np.maximum if larger else np.minimum).reduceat(values, starts)
    seg = np.repeat(np.arange(len(starts)), sizes)
    pos = np.where(values == best[seg], np.arange(len(values)), len(values))
    return np.minimum.reduceat(pos, starts)


def maxsim_scores(
    metric: str,
    query: np.ndarray,
    elements: np.ndarray,
    offsets: np.ndarray,
    return_best: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """MAX_SIM score of each entity (embedding list) against a query list.

    Entity ``i`` owns ``elements[offsets[i]:offsets[i+1]]``. Its score is the sum over
    query vectors of the best similarity among its elements (largest for MAX_SIM_IP and
    MAX_SIM_COSINE, smallest squared L2 for MAX_SIM_L2, which then ranks ascending).
    Entities without elements score NaN. With ``return_best`` also returns, per entity,
    the index into ``elements`` of the element with the single best similarity to any
    query vector (-1 for empty entities).
    """
    m = metric.upper()
    if m not in MAX_SIM_METRICS:
        raise ParamError(
            f"metric type {metric!r} is not a MAX_SIM metric; use one of {sorted(MAX_SIM_METRICS)}"
        )
    base_metric = m.removeprefix("MAX_SIM_")
    larger = larger_is_closer(m)
    off = np.asarray(offsets, dtype=np.int64)
    if off.ndim != 1 or len(off) == 0 or np.any(np.diff(off) < 0):
        raise ParamError("offsets must be a non-empty, non-decreasing 1-D array")
    n = len(off) - 1
    lo, hi = int(off[0]), int(off[-1])
    if lo < 0 or hi > len(elements):
        raise ParamError(f"offsets span [{lo}, {hi}) but there are {len(elements)} elements")
    scores = np.full(n, np.nan, dtype=np.float32)
    best_idx = np.full(n, -1, dtype=np.int64)
    sizes = np.diff(off)
    nonempty = np.flatnonzero(sizes > 0)
    if len(nonempty):
        sim = score_matrix(base_metric, query, np.asarray(elements)[lo:hi])  # (m, E)
        starts = off[:-1][nonempty] - lo
        reduce = np.maximum if larger else np.minimum
        per_query = reduce.reduceat(sim, starts, axis=1)  # (m, nonempty)
        scores[nonempty] = per_query.sum(axis=0, dtype=np.float64)
        if return_best:
            per_elem = sim.max(axis=0) if larger else sim.min(axis=0)
            best_idx[nonempty] = _segment_argbest(per_elem, starts, sizes[nonempty], larger) + lo
    if return_best:
        return scores, best_idx
    return scores
