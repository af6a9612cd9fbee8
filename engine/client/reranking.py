"""Rerank functions applied to search hits: `search(ranker=)` and `hybrid_search(ranker=)`.

The rankers are read and scored by engine/vectors/function_rankers.py; this module reads what they
need from the hits' rows (the decay field, the boost filters, the random-score field) and orders the
result. A search reranks its own top `limit + offset` hits (each request's `limit` hits in a hybrid
search), as a Milvus server does; docs/engine.md says so.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from engine.client.search_extras import group_values
from engine.errors import ParamError
from engine.executor import Candidate
from engine.expr import compile_filter
from engine.schema import CollectionSchema
from engine.types import NUMERIC_TYPES, larger_is_closer
from engine.vectors.function_rankers import BoostSet, Decay, Reranker, random_scores, to_greater
from engine.vectors.rankers import BaseRanker, fuse


def check_reranker(schema: CollectionSchema, reranker: Reranker) -> None:
    """Check the fields and filters a ranker names against the collection, before anything runs."""
    if isinstance(reranker, Decay):
        f = schema.field(reranker.field)
        if f is None or f.dtype not in NUMERIC_TYPES:
            what = "no field of the collection" if f is None else f"a {f.dtype.name} field"
            raise ParamError(f"decay ranker: input field {reranker.field!r} is {what}; it needs a numeric field "
                             "(INT8, INT16, INT32, INT64, FLOAT or DOUBLE)")
    elif isinstance(reranker, BoostSet):
        for b in reranker.boosts:
            if b.filter is not None:
                compile_filter(b.filter, schema)
            if b.random_field is not None and schema.field(b.random_field) is None:
                raise ParamError(f"boost ranker: random_score field {b.random_field!r} is not a field of the collection")


def rerank(schema: CollectionSchema, per_query: list[list[Candidate]], metric: str, reranker: Reranker,
           limit: int, offset: int) -> list[list[Candidate]]:
    """Rerank each query's candidates (best first, `limit + offset` of them) and keep `[offset:offset+limit]`."""
    out = []
    for cands in per_query:
        if isinstance(reranker, BaseRanker):
            out.append(_fused(schema, [cands], [metric], reranker, limit, offset))
        elif isinstance(reranker, Decay):
            out.append(_decayed(schema, [cands], [metric], reranker, limit, offset))
        else:
            out.append(_boosted(schema, cands, metric, reranker, limit, offset))
    return out


def rerank_hybrid(schema: CollectionSchema, per_request: list[list[list[Candidate]]], metrics: list[str],
                  reranker: Reranker, limit: int, offset: int) -> list[list[Candidate]]:
    """Fuse each query's candidates of every request with an RRF, weighted or decay ranker."""
    out = []
    for qi in range(len(per_request[0])):
        lists = [cands[qi] for cands in per_request]
        if isinstance(reranker, Decay):
            out.append(_decayed(schema, lists, metrics, reranker, limit, offset))
        else:
            assert isinstance(reranker, BaseRanker)
            out.append(_fused(schema, lists, metrics, reranker, limit, offset))
    return out


def _fused(schema: CollectionSchema, lists: Sequence[list[Candidate]], metrics: Sequence[str], ranker: BaseRanker,
           limit: int, offset: int) -> list[Candidate]:
    where: dict[Any, Candidate] = {}
    for cands in lists:
        for c in cands:
            where.setdefault(c.pk, c)
    fused = fuse([[(c.pk, c.distance) for c in cands] for cands in lists], list(metrics), ranker, limit, offset)
    return [Candidate(score, pk, where[pk].seg, where[pk].row) for pk, score in fused]


def _decayed(schema: CollectionSchema, lists: Sequence[list[Candidate]], metrics: Sequence[str], decay: Decay,
             limit: int, offset: int) -> list[Candidate]:
    """max over requests of the hit's "larger is better" score, times the decay of its field value."""
    best: dict[Any, float] = {}
    where: dict[Any, Candidate] = {}
    for cands, metric in zip(lists, metrics):
        scores = to_greater(np.array([c.distance for c in cands], dtype=np.float32), metric)
        for c, s in zip(cands, scores):
            where.setdefault(c.pk, c)
            best[c.pk] = max(best.get(c.pk, -np.inf), float(s))
    unique = list(where.values())
    values = group_values(schema, unique, decay.field) if unique else []
    factors = decay.scores(np.array([np.nan if v is None else v for v in values], dtype=np.float64))
    scored = [(float(np.float32(best[c.pk]) * np.float32(f)), c) for c, f in zip(unique, factors)]
    return _ordered(scored, True, limit, offset)


def _boosted(schema: CollectionSchema, cands: list[Candidate], metric: str, boosts: BoostSet,
             limit: int, offset: int) -> list[Candidate]:
    """Each hit's score with the factors of the boosts that apply to it; the metric's order is kept."""
    factors: list[list[float | None]] = [[] for _ in cands]
    for b in boosts.boosts:
        matches = _matches(schema, cands, b.filter)
        rnd = None
        if b.random:
            keys = [c.pk for c in cands] if b.random_field is None else group_values(schema, cands, b.random_field)
            rnd = random_scores(b.seed or 0, keys)
        for i, hit in enumerate(matches):
            factors[i].append(None if not hit else b.weight * (float(rnd[i]) if rnd is not None else 1.0))
    scored = [(boosts.apply(float(c.distance), f), c) for c, f in zip(cands, factors)]
    return _ordered(scored, larger_is_closer(metric), limit, offset)


def _matches(schema: CollectionSchema, cands: list[Candidate], flt: str | None) -> list[bool]:
    if flt is None:
        return [True] * len(cands)
    compiled = compile_filter(flt, schema)
    out = [False] * len(cands)
    by_seg: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_seg.setdefault(id(c.seg), []).append(i)
    for idxs in by_seg.values():
        seg = cands[idxs[0]].seg
        rows = np.array([cands[i].row for i in idxs], dtype=np.int64)
        mask = compiled.evaluate(seg.data.table.take(rows))
        for i, m in zip(idxs, mask):
            out[i] = bool(m)
    return out


def _pk_key(pk: Hashable) -> tuple[int, Any]:
    return (0, pk) if isinstance(pk, (int, np.integer)) else (1, str(pk))


def _ordered(scored: list[tuple[float, Candidate]], descending: bool, limit: int, offset: int) -> list[Candidate]:
    sign = -1.0 if descending else 1.0
    scored.sort(key=lambda sc: (sign * sc[0], _pk_key(sc[1].pk)))
    return [Candidate(s, c.pk, c.seg, c.row) for s, c in scored[offset: offset + limit]]
