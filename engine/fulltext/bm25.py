"""BM25 as Milvus defines it: documents as term frequencies, queries weighted by IDF, the score.

A document's sparse vector holds, for each distinct term of its analyzed text, the term's count
(its index is `term_id(term)`); its length is the sum of those counts. A query's vector holds,
for each distinct query term, ``count in the query * IDF(term)``. The score of a document is

    score(q, d) = sum over query terms t of  w_q(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    w_q(t)      = count of t in the query * IDF(t)
    IDF(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

with k1 = 1.2 and b = 0.75 unless the index sets `bm25_k1` / `bm25_b`, and avgdl = max(total
length / N, 1) (knowhere's clamp). These are Milvus's formulas (storage.BM25Stats.BuildIDF and
knowhere's GetDocValueBM25Computer).

**The statistics N, n(t) and avgdl** are taken over every live (not deleted) row of the
collection, in every partition, sealed and growing: a search restricted to partitions or by a
filter scores with the whole collection's statistics, as Milvus does (its statistics are per
shard; a collection here is one shard). Milvus counts a deleted row until compaction rewrites its
segment, so its figures depend on when compaction ran; here they are what Milvus reaches after
compaction, the same whatever the segment layout. tests/test_fulltext_bm25.py checks scores and
rankings against an exact Python evaluation of these formulas.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import DataError, ParamError, brief
from engine.fulltext.analyzers import Analyzer, field_analyzer, term_id
from engine.fulltext.functions import bm25_functions

if TYPE_CHECKING:
    from engine.schema import CollectionSchema

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75


def doc_vector(analyzer: Analyzer, text: str | None) -> list[tuple[int, float]]:
    """A document's BM25 vector: sorted (term id, count) pairs; None or "" give an empty vector."""
    if not text:
        return []
    counts = Counter(term_id(t) for t in analyzer.terms(text))
    return sorted((k, float(v)) for k, v in counts.items())


def bm25_generators(schema: CollectionSchema) -> dict[str, Callable[[dict[str, Any], int], list[tuple[int, float]]]]:
    """For each BM25 output field, the function filling it from a row (refusing a row that supplies it)."""
    out: dict[str, Callable[[dict[str, Any], int], list[tuple[int, float]]]] = {}
    for dst, (fn_name, src) in bm25_functions(schema).items():
        f = schema.field(src)
        assert f is not None
        out[dst] = _filler(dst, src, fn_name, field_analyzer(f.params, src))
    return out


def _filler(dst: str, src: str, fn_name: str,
            analyzer: Analyzer) -> Callable[[dict[str, Any], int], list[tuple[int, float]]]:
    def fill(row: dict[str, Any], i: int) -> list[tuple[int, float]]:
        if dst in row:
            raise DataError(f"row {i}, field {dst!r}: it is the output of BM25 function {fn_name!r}, filled "
                            f"from {src!r} by the engine; do not supply it")
        text = row.get(src)
        return doc_vector(analyzer, text if isinstance(text, str) else None)

    return fill


@dataclass(frozen=True)
class BM25Params:
    """k1 and b of a BM25 search."""

    k1: float = DEFAULT_K1
    b: float = DEFAULT_B

    @classmethod
    def read(cls, *sources: dict[str, Any]) -> BM25Params:
        """`bm25_k1` / `bm25_b` from the first source that gives each (search params, then index params)."""
        k1, b = DEFAULT_K1, DEFAULT_B
        for name in ("bm25_k1", "bm25_b"):
            value = next((s[name] for s in sources if s.get(name) is not None), None)
            if value is None:
                continue
            v = check_bm25_param(name, value)
            if name == "bm25_k1":
                k1 = v
            else:
                b = v
        return cls(k1, b)


def check_bm25_param(name: str, value: Any) -> float:
    """bm25_k1 in [0, 3], bm25_b in [0, 1] (knowhere's ranges); numbers or numeric strings."""
    try:
        v = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        v = math.nan
    hi = 3.0 if name == "bm25_k1" else 1.0
    if not 0.0 <= v <= hi:
        raise ParamError(f"{name} must be a number in [0, {hi:g}], got {brief(value)}")
    return v


def query_terms(analyzer: Analyzer, text: Any, i: int) -> tuple[np.ndarray, np.ndarray]:
    """A text query's distinct term ids (sorted) and their counts."""
    if not isinstance(text, str):
        raise ParamError(f"query {i}: a BM25 field is searched with text (a string), got "
                         f"{type(text).__name__} {brief(text, 60)}")
    counts = Counter(term_id(t) for t in analyzer.terms(text))
    terms = np.array(sorted(counts), dtype=np.uint32)
    return terms, np.array([counts[int(t)] for t in terms], dtype=np.float64)


def idf(n_docs: int, df: np.ndarray) -> np.ndarray:
    """Milvus's IDF: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def avgdl(total_length: float, n_docs: int) -> float:
    """The average document length, at least 1 (knowhere clamps it so)."""
    return max(total_length / n_docs, 1.0) if n_docs else 1.0


def doc_factor(tf: np.ndarray, length: np.ndarray, p: BM25Params, mean_length: float) -> np.ndarray:
    """tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl)), per posting."""
    return tf * (p.k1 + 1.0) / (tf + p.k1 * (1.0 - p.b + p.b * length / mean_length))


def drop_small(weights: np.ndarray, ratio: float) -> np.ndarray:
    """Milvus's drop_ratio_search: which query weights to keep once the smallest `ratio` share is dropped."""
    keep = np.ones(len(weights), dtype=bool)
    n_drop = int(len(weights) * ratio)
    if n_drop > 0:
        threshold = np.sort(weights)[n_drop]
        keep = weights >= threshold
    return keep
