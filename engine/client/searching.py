"""Search helpers of `MilvusClient`: index parameters of a search, indexed segment search, distance rounding."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.collection import SegmentState
from engine.errors import ParamError, brief
from engine.executor import Hit, SegmentSearcher
from engine.storage.segment import SealedSegment
from engine.types import BINARY_METRICS, MAX_SIM_METRICS

if TYPE_CHECKING:
    from engine.collection import Collection

# Keys of search_params that are not index parameters.
NOT_INDEX_PARAMS = {"metric_type", "params", "offset", "group_by_field", "group_size", "strict_group_size",
                    "ignore_growing", "round_decimal", "consistency_level", "timezone", "time_fields"}
_GRAPH_INDEXES = {"HNSW", "AUTOINDEX"}


def search_time_params(search_params: dict[str, Any]) -> dict[str, Any]:
    """Index parameters of a search: `{"params": {"ef": 64}}` or flat (`{"ef": 64}`, `{"nprobe": 10}`)."""
    inner = search_params.get("params")
    if inner is not None and not isinstance(inner, dict):
        raise ParamError(f"search_params['params'] must be a dict, got {type(inner).__name__} {brief(inner, 80)}")
    flat = {k: v for k, v in search_params.items() if k not in NOT_INDEX_PARAMS}
    return {**flat, **(inner or {})}


def search_breadth(coll: Collection, field: str, metric: str, params: dict[str, Any], user_k: int,
                   fetch: int) -> dict[str, Any]:
    """The index parameters to search with: HNSW's `ef` checked against Milvus's rule, then widened.

    Milvus requires ef >= k (limit + offset) of a top-k search on an HNSW index; this checks it for
    every search of such a field, so a search of growing rows is not accepted where the same search
    after a flush would be refused. When the engine fetches more than k on its own (range search,
    grouping), ef is raised to that fetch: the user's ef stays the least breadth searched.
    """
    ef = params.get("ef")
    if ef is None or metric in MAX_SIM_METRICS or metric in BINARY_METRICS:
        return params
    spec = coll.indexes.spec_for(field)
    if spec is None or spec.index_type.upper() not in _GRAPH_INDEXES:
        return params
    ef = int(ef)  # checked by check_search_params: an int or a string of ASCII digits
    if "radius" not in params and ef < user_k:
        raise ParamError(f"ef ({ef}) should be larger than or equal to k ({user_k}): the search's limit + offset")
    return {**params, "ef": max(ef, fetch)}


def indexed_searcher(coll: Collection, field: str, queries: Any, params: dict[str, Any],
                     exact: SegmentSearcher) -> SegmentSearcher:
    """Search sealed segments through their index when one is built; everything else exactly."""
    spec = coll.indexes.spec_for(field)

    def run(seg: SegmentState, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        if spec is not None and isinstance(seg.data, SealedSegment):
            index = coll.indexes.get(seg.data, field, spec)
            if index is not None:
                return index.search(queries, k, valid_mask=mask, search_params=params)
        return exact(seg, mask, k)

    return run


def round_distance(d: float, decimals: int) -> float:
    """Milvus's round_decimal: round half away from zero to `decimals` places (-1: unchanged)."""
    if decimals < 0:
        return d
    m = 10.0**decimals
    return math.copysign(math.floor(abs(d) * m + 0.5), d) / m


def round_hits(pages: list[list[Hit]], decimals: int) -> list[list[Hit]]:
    if decimals >= 0:
        for page in pages:
            for h in page:
                h["distance"] = round_distance(float(h["distance"]), decimals)
    return pages
