"""Hybrid-search rankers: RRFRanker, WeightedRanker and result fusion.

The ranker classes take the same arguments and produce the same ``dict()`` as
pymilvus's ``RRFRanker`` / ``WeightedRanker`` (pymilvus/client/abstract.py).

``fuse`` reproduces Milvus's server-side scoring, read from the Milvus source
(https://github.com/milvus-io/milvus/blob/master/internal/util/function/rerank/rrf_function.go,
.../weighted_function.go and .../util.go, function ``getNormalizeFunc``) and the
docs (https://milvus.io/docs/weighted-ranker.md, https://milvus.io/docs/rrf-ranker.md):

* RRF: ``score(pk) = sum over requests of 1 / (k + rank)``, rank counted from 1
  within each request's result list; k must lie in (0, 16384).
* Weighted: ``score(pk) = sum over requests of weight_i * f_i(distance)``; weights
  must lie in [0, 1] and there must be one per request. With ``norm_score`` the
  per-metric normalisation ``f`` is: IP (and MAX_SIM_IP/COSINE) ``0.5 + atan(d)/pi``;
  COSINE ``(1 + d) / 2``; L2 and other distances ``1 - 2 atan(d)/pi``. Without
  ``norm_score`` distances are used as they are, except that when similarity and
  distance metrics are mixed the distances are still mapped with ``1 - 2 atan(d)/pi``
  so that larger is better; if every metric is a distance (and no normalisation) the
  fused list is sorted ascending.
* Results are sorted by fused score (descending unless noted), ties by lower pk, and
  ``[offset : offset + limit]`` is returned. Arithmetic is float32, as in Milvus.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from engine.errors import ParamError, ParamTypeError
from engine.types import larger_is_closer

__all__ = ["BaseRanker", "RRFRanker", "WeightedRanker", "fuse", "normalize_scores"]

RRF_K_MAX = 16384


class BaseRanker:
    """Base of the rankers; ``dict()`` gives the request form Milvus expects."""

    def dict(self) -> dict[str, Any]:
        return {}

    def __str__(self) -> str:
        return str(self.dict())

    __repr__ = __str__


class RRFRanker(BaseRanker):
    """Reciprocal Rank Fusion: ``sum 1 / (k + rank)`` over requests."""

    def __init__(self, k: int = 60) -> None:
        self._strategy = "rrf"
        self._k = k

    @property
    def k(self) -> float:
        return self._k

    def validate(self) -> None:
        """Raise ParamError unless ``0 < k < 16384``."""
        k = self._k
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not (0 < k < RRF_K_MAX):
            raise ParamError(f"RRFRanker k must be a number in the range (0, {RRF_K_MAX}), got {k!r}")

    def dict(self) -> dict[str, Any]:
        return {"strategy": self._strategy, "params": {"k": self._k}}


class WeightedRanker(BaseRanker):
    """Weighted sum of (optionally normalised) scores, one weight per request."""

    def __init__(self, *nums: float, norm_score: bool = True) -> None:
        weights = []
        for num in nums:
            if isinstance(num, bool) or not isinstance(num, (int, float)):
                raise ParamTypeError(f"WeightedRanker: weight {num!r:.40} is not a number (an int or float)")
            weights.append(num)
        self._strategy = "weighted"
        self._weights = weights
        self._norm_score = norm_score

    @property
    def weights(self) -> list[float]:
        return list(self._weights)

    @property
    def norm_score(self) -> bool:
        return self._norm_score

    def validate(self, n_requests: int | None = None) -> None:
        """Raise ParamError for weights outside [0, 1] or a count that differs from the requests."""
        if not self._weights:
            raise ParamError("WeightedRanker needs at least one weight")
        for i, w in enumerate(self._weights):
            if not (0.0 <= w <= 1.0):
                raise ParamError(f"WeightedRanker weight {i} is {w!r}; weights must be in the range [0, 1]")
        if n_requests is not None and n_requests != len(self._weights):
            raise ParamError(
                f"WeightedRanker has {len(self._weights)} weights but the hybrid search has "
                f"{n_requests} requests; give one weight per request"
            )

    def dict(self) -> dict[str, Any]:
        return {
            "strategy": self._strategy,
            "params": {"weights": self._weights, "norm_score": self._norm_score},
        }


_PI32 = np.float32(math.pi)


def normalize_scores(
    metric: str, distances: np.ndarray, norm_score: bool = True, to_greater: bool = False
) -> np.ndarray:
    """Milvus's per-metric score mapping used by the weighted ranker (float32)."""
    d = np.asarray(distances, dtype=np.float32)
    m = metric.upper()
    atan = np.arctan(d.astype(np.float64)).astype(np.float32)
    if not norm_score:
        if not to_greater or larger_is_closer(m) or m == "BM25":
            return d
        return np.float32(1.0) - np.float32(2.0) * atan / _PI32
    if m == "COSINE":
        return (np.float32(1.0) + d) * np.float32(0.5)
    if m == "BM25":
        return np.float32(2.0) * atan / _PI32
    if larger_is_closer(m):
        return np.float32(0.5) + atan / _PI32
    return np.float32(1.0) - np.float32(2.0) * atan / _PI32


def _sort_key(pk: Hashable) -> tuple[int, Any]:
    # Milvus's pks are all int64 or all strings; order ints before strings if mixed.
    return (0, pk) if isinstance(pk, (int, np.integer)) else (1, str(pk))


def fuse(
    per_request: Sequence[Sequence[tuple[Hashable, float]]],
    metrics: Sequence[str],
    ranker: BaseRanker,
    limit: int,
    offset: int = 0,
) -> list[tuple[Hashable, float]]:
    """Fuse per-request ``(pk, distance)`` lists (each best-first) into one ranked list.

    Returns ``[(pk, score)]`` for ranks ``offset .. offset + limit - 1``.
    """
    if len(per_request) != len(metrics):
        raise ParamError(f"got {len(per_request)} result lists but {len(metrics)} metric types")
    if limit < 0 or offset < 0:
        raise ParamError(f"limit and offset must be non-negative, got limit={limit}, offset={offset}")
    scores: dict[Hashable, np.float32] = {}
    descending = True
    if isinstance(ranker, RRFRanker):
        ranker.validate()
        k = np.float32(ranker.k)
        for results in per_request:
            for rank, (pk, _dist) in enumerate(results, start=1):
                add = np.float32(1.0) / (k + np.float32(rank))
                scores[pk] = scores[pk] + add if pk in scores else add
    elif isinstance(ranker, WeightedRanker):
        ranker.validate(len(per_request))
        kinds = {larger_is_closer(m) or m.upper() == "BM25" for m in metrics}
        mixed = len(kinds) == 2
        descending = ranker.norm_score or True in kinds
        for w, results, metric in zip(ranker.weights, per_request, metrics):
            if not results:
                continue
            pks = [pk for pk, _ in results]
            vals = np.float32(w) * normalize_scores(
                metric, np.array([d for _, d in results], dtype=np.float32), ranker.norm_score, mixed
            )
            for pk, v in zip(pks, vals):
                scores[pk] = scores[pk] + v if pk in scores else v
    else:
        kind = f"{type(ranker).__module__}.{type(ranker).__qualname__}"
        raise ParamError(f"fuse() scores engine.RRFRanker and engine.WeightedRanker, got {kind}; pass other rankers "
                         "(pymilvus's, Function) to hybrid_search, which reads them")
    sign = -1.0 if descending else 1.0
    ordered = sorted(scores.items(), key=lambda kv: (sign * float(kv[1]), _sort_key(kv[0])))
    return [(pk, float(s)) for pk, s in ordered[offset : offset + limit]]
