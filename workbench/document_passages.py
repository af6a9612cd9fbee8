"""Passages of a document hit: which chunks to show, and where the query's words are in them.

Every passage carries `matches`, the character spans `[start, end)` of its words whose analyzed term
(the collection's BM25 analyzer, `english` by default: lowercase, Snowball stem, stop words dropped) is
one of the query's terms, so a view can highlight "parsing" for the query "parse". Which chunks are
shown depends on the search mode:

* meaning: the chunks most similar to the query vector (cosine);
* words: BM25 of the query over the document's own chunks (k1 1.2, b 0.75; document frequencies
  counted among those chunks), ties by position;
* both: the two chunk rankings fused with RRF (k 60), as the documents themselves are.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from engine.fulltext.analyzers import Analyzer, build_analyzer

DEFAULT_ANALYZER: dict[str, Any] = {"type": "english"}
RRF_K = 60
_WORD = re.compile(r"[^\W_]+")  # the standard tokenizer's words (engine.fulltext.analyzers)
_SPACE_WORD = re.compile(r"\S+")


def text_analyzer(description_fields: dict[str, Any], field: str = "text") -> Analyzer:
    """The analyzer of the collection's BM25 input field, or the `english` one when it has none."""
    f = description_fields.get(field)
    params = (f.params.get("analyzer_params") if f is not None else None) or DEFAULT_ANALYZER
    return build_analyzer(params, f"field {field!r}: analyzer_params")


def query_terms(analyzer: Analyzer, text: str) -> set[str]:
    """The distinct analyzed terms of a query."""
    return set(analyzer.terms(text))


def match_spans(analyzer: Analyzer, text: str, terms: set[str]) -> list[list[int]]:
    """Character spans `[start, end]` (end exclusive) of the words of `text` whose term is in `terms`."""
    if not terms or not text:
        return []
    words = list((_SPACE_WORD if analyzer.tokenizer == "whitespace" else _WORD).finditer(text))
    out = []
    for term, pos in analyzer.tokens(text):
        if term in terms and pos < len(words):
            out.append([words[pos].start(), words[pos].end()])
    return out


def _bm25_scores(analyzer: Analyzer, texts: list[str], terms: set[str], k1: float = 1.2,
                 b: float = 0.75) -> list[float]:
    """BM25 (Milvus's idf `ln(1 + (N - n + 0.5) / (n + 0.5))`) of `terms` over `texts` as the corpus."""
    docs = [analyzer.terms(t) for t in texts]
    n = len(docs)
    if not n or not terms:
        return [0.0] * n
    avgdl = max(1.0, sum(len(d) for d in docs) / n)
    df = {t: sum(1 for d in docs if t in d) for t in terms}
    out = []
    for d in docs:
        s = 0.0
        for t in terms:
            tf = d.count(t)
            if tf:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
        out.append(s)
    return out


def _cosines(elements: list[dict[str, Any]], sub: str, vec: np.ndarray) -> list[float]:
    return [float(np.dot(np.asarray(e[sub], dtype=np.float32), vec)) if sub in e else -1.0 for e in elements]


def _order(scores: list[float]) -> list[int]:
    """Indices by score, best first; ties by index (document position)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def pick_passages(elements: list[dict[str, Any]], *, mode: str, analyzer: Analyzer, query: str,
                  vec: np.ndarray | None, n: int, sub: str = "emb") -> list[dict[str, Any]]:
    """The `n` best chunks of a document for `mode` ("meaning", "words", "both"), best first, each
    {text, position, page, score, matches}. `vec` (the query embedding) is needed for meaning and both."""
    terms = query_terms(analyzer, query)
    texts = [str(e.get("text", "")) for e in elements]
    if mode == "meaning":
        if vec is None:
            raise ValueError("meaning passages need the query vector")
        scores = _cosines(elements, sub, vec)
    elif mode == "words":
        scores = _bm25_scores(analyzer, texts, terms)
    elif mode == "both":
        if vec is None:
            raise ValueError("both passages need the query vector")
        fused = [0.0] * len(elements)
        for ranking in (_order(_cosines(elements, sub, vec)), _order(_bm25_scores(analyzer, texts, terms))):
            for rank, i in enumerate(ranking):
                fused[i] += 1.0 / (RRF_K + rank + 1)
        scores = fused
    else:
        raise ValueError(f"unknown passage mode {mode!r}")
    return [{"text": texts[i], "position": int(elements[i].get("position", 0)),
             "page": int(elements[i].get("page", 0)), "score": scores[i],
             "matches": match_spans(analyzer, texts[i], terms)} for i in _order(scores)[:n]]
