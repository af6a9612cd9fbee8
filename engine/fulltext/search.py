"""Search of a SPARSE_FLOAT_VECTOR field: IP with sparse query vectors, BM25 with query text.

Called by `MilvusClient.search` (and so `hybrid_search`, grouping and iterators) for a sparse
`anns_field`. Sealed segments with a built SPARSE_INVERTED_INDEX use it; growing rows and
unindexed segments use postings built from their column; both score exactly alike. For BM25 the
statistics (document count, document frequencies, average length) are summed over every live
row of the collection first (engine/fulltext/bm25.py says why), then each searched segment is
scored with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.collection import SegmentState
from engine.errors import ParamError, brief
from engine.executor import Candidate, search_masks, search_segments
from engine.fulltext.analyzers import field_analyzer
from engine.fulltext.bm25 import BM25Params, avgdl, drop_small, idf, query_terms
from engine.fulltext.functions import bm25_functions
from engine.fulltext.inverted_index import SparseInvertedIndex
from engine.fulltext.sparse import check_sparse, segment_csr
from engine.schema import FieldSchema
from engine.storage.segment import SealedSegment

if TYPE_CHECKING:
    from engine.collection import Collection

Query = tuple[np.ndarray, np.ndarray]  # sorted dimensions, weights


def sparse_metric(coll: Collection, field: FieldSchema, requested: Any) -> str:
    """BM25 for a BM25 function's output, IP for other sparse fields; a different request is refused."""
    expected = "BM25" if field.name in bm25_functions(coll.schema) else "IP"
    if requested is not None:
        if not isinstance(requested, str):
            raise ParamError(f"metric_type must be a string, got {brief(requested, 80)}")
        if requested.upper() != expected:
            raise ParamError(f"metric type not match for {field.name!r}: it is searched with {expected}, "
                             f"the search asked for {requested.upper()}")
    return expected


def _postings(coll: Collection, seg: SegmentState, field: str) -> SparseInvertedIndex:
    spec = coll.indexes.spec_for(field)
    if spec is not None and isinstance(seg.data, SealedSegment):
        index = coll.indexes.get(seg.data, field, spec)
        if isinstance(index, SparseInvertedIndex):
            return index
    cache = seg.data.__dict__.setdefault("_sparse_postings", {})
    if field not in cache:
        cache[field] = SparseInvertedIndex.from_csr(segment_csr(seg.data, field))
    return cache[field]  # type: ignore[no-any-return]


def _queries(coll: Collection, field: FieldSchema, metric: str, data: Any) -> list[Query]:
    items = data if isinstance(data, list) else [data]
    if hasattr(data, "tocsr") and getattr(data, "ndim", 2) == 2:  # a scipy matrix: one query per row
        items = [data.getrow(i) if hasattr(data, "getrow") else data[[i]] for i in range(data.shape[0])]
    if not items:
        raise ParamError("search needs data= (query texts or sparse vectors)")
    out: list[Query] = []
    if metric == "BM25":
        _fn, src = bm25_functions(coll.schema)[field.name]
        source = coll.schema.field(src)
        assert source is not None
        analyzer = field_analyzer(source.params, src)
        return [query_terms(analyzer, q, i) for i, q in enumerate(items)]
    for i, q in enumerate(items):
        if isinstance(q, str):
            raise ParamError(f"query {i}: {field.name!r} holds sparse vectors given by you (no BM25 function fills "
                             "it), so it is searched with sparse vectors, not text")
        try:
            pairs = check_sparse(q)
        except ValueError as e:
            raise ParamError(f"query {i}: {e}") from None
        out.append((np.array([p[0] for p in pairs], dtype=np.uint32), np.array([p[1] for p in pairs], dtype=np.float64)))
    return out


def _search_params(params: dict[str, Any], metric: str, coll: Collection, field: str) -> tuple[float, BM25Params]:
    ratio = params.get("drop_ratio_search", 0)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise ParamError(f"drop_ratio_search must be a number in [0, 1), got {brief(ratio)}")
    if metric != "BM25":
        given = [k for k in ("bm25_k1", "bm25_b") if k in params]
        if given:
            raise ParamError(f"{given} apply to BM25 searches only; {field!r} is searched with {metric}")
        return float(ratio), BM25Params()
    spec = coll.indexes.spec_for(field)
    return float(ratio), BM25Params.read(params, spec.params if spec is not None else {})


def sparse_candidates(coll: Collection, field: FieldSchema, data: Any, requested_metric: Any, params: dict[str, Any],
                      segs: list[SegmentState], flt: str | None, filter_params: dict[str, Any] | None, k: int,
                      probe: bool = False) -> tuple[list[list[Candidate]], str]:
    """The best `k` candidates per query over `segs` (a range search when `params` has radius)."""
    metric = sparse_metric(coll, field, requested_metric)
    ratio, bm25 = _search_params(params, metric, coll, field.name)
    queries = _queries(coll, field, metric, data)
    if probe:
        if flt is not None:
            search_masks(coll.schema, segs[:0], flt, filter_params)
        return [[] for _ in queries], metric
    everything = list(coll.snapshot.segments)
    if metric == "BM25":
        queries = _weigh(coll, field.name, everything, queries)
    queries = [(t[drop_small(w, ratio)], w[drop_small(w, ratio)]) for t, w in queries]
    stats = _collection_avgdl(coll, field.name, everything) if metric == "BM25" else 1.0
    masks = search_masks(coll.schema, segs, flt, filter_params)

    def run(seg: SegmentState, mask: np.ndarray | None, kk: int) -> tuple[np.ndarray, np.ndarray]:
        index = _postings(coll, seg, field.name)
        ids = np.full((len(queries), kk), -1, dtype=np.int64)
        dists = np.zeros((len(queries), kk), dtype=np.float32)
        for qi, (terms, weights) in enumerate(queries):
            rows, scores = index.top(terms, weights, kk, mask, (bm25, stats) if metric == "BM25" else None)
            ids[qi, : len(rows)], dists[qi, : len(rows)] = rows, scores
        return ids, dists

    return search_segments(segs, masks, len(queries), k, metric, run), metric


def _live(seg: SegmentState) -> np.ndarray | None:
    return None if seg.deleted is None else ~seg.deleted


def _weigh(coll: Collection, field: str, segments: list[SegmentState], queries: list[Query]) -> list[Query]:
    """Query term counts times their IDF over every live row of the collection."""
    n_docs = 0
    for seg in segments:
        n_docs += _postings(coll, seg, field).live_stats(_live(seg))[0]
    out = []
    for terms, counts in queries:
        df = np.zeros(len(terms), dtype=np.float64)
        for seg in segments:
            df += _postings(coll, seg, field).doc_freqs(terms, _live(seg))
        out.append((terms, counts * idf(n_docs, df)))
    return out


def _collection_avgdl(coll: Collection, field: str, segments: list[SegmentState]) -> float:
    n_docs, total = 0, 0.0
    for seg in segments:
        n, length = _postings(coll, seg, field).live_stats(_live(seg))
        n_docs, total = n_docs + n, total + length
    return avgdl(total, n_docs)
