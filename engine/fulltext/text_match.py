"""TEXT_MATCH and PHRASE_MATCH filter terms (Milvus's "Text Match" and "Phrase Match").

* ``TEXT_MATCH(field, 'words')``: rows whose text holds at least one of the query's terms.
* ``PHRASE_MATCH(field, 'a phrase', slop)``: rows holding every term of the phrase at positions
  p_i such that max(p_i - i) - min(p_i - i) <= slop (slop defaults to 0: the exact phrase, in
  order and adjacent). This is the sloppy-phrase distance the docs describe: with slop 1
  "machine learning" matches "machine deep learning"; with slop 2 it matches "learning machine".

Both analyze the query with the field's analyzer, need a VARCHAR field with ``enable_match=True``
(Milvus refuses them otherwise) and combine with any other filter term. A null text matches
nothing. A column's terms are computed once per Arrow column and kept while it is in use (an
LRU that holds the column itself, so its buffers cannot be reused by another column).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from engine.expr.ast import Call, Literal, Name
from engine.expr.bound import B, BMatch, Ty
from engine.fulltext.analyzers import Analyzer, field_analyzer
from engine.fulltext.functions import is_on
from engine.types import DataType

if TYPE_CHECKING:
    from engine.expr.compiler import Binder

_CACHE_SIZE = 32


@dataclass
class _Column:
    array: pa.Array  # kept alive: the cache key holds its buffer address
    tokens: list[list[tuple[str, int]]]
    postings: dict[str, np.ndarray]


_cache: OrderedDict[tuple[tuple[int, ...], int, int, str], _Column] = OrderedDict()
_lock = threading.Lock()


def _analyzed(array: pa.Array, analyzer: Analyzer) -> _Column:
    addresses = tuple(b.address if b is not None else 0 for b in array.buffers())
    key = (addresses, array.offset, len(array), analyzer.key)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    tokens = [analyzer.tokens(t) if t is not None else [] for t in array.to_pylist()]
    rows: dict[str, list[int]] = {}
    for i, toks in enumerate(tokens):
        for term in {t for t, _ in toks}:
            rows.setdefault(term, []).append(i)
    col = _Column(array, tokens, {t: np.array(r, dtype=np.int64) for t, r in rows.items()})
    with _lock:
        _cache[key] = col
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return col


def text_match(array: pa.Array, analyzer: Analyzer, query: str) -> np.ndarray:
    """Rows holding any term of `query`."""
    col = _analyzed(array, analyzer)
    out = np.zeros(len(array), dtype=bool)
    for term in set(analyzer.terms(query)):
        rows = col.postings.get(term)
        if rows is not None:
            out[rows] = True
    return out


def _phrase_at(toks: list[tuple[str, int]], phrase: list[str], slop: int) -> bool:
    where: dict[str, list[int]] = {}
    for t, p in toks:
        where.setdefault(t, []).append(p)
    if len(set(phrase)) == len(phrase):  # smallest window over (p - i) picking one from each term
        events = sorted((p - i, i) for i, t in enumerate(phrase) for p in where[t])
        need, lo = len(phrase), 0
        have: dict[int, int] = {}
        for hi in range(len(events)):
            have[events[hi][1]] = have.get(events[hi][1], 0) + 1
            while len(have) == need:
                if events[hi][0] - events[lo][0] <= slop:
                    return True
                j = events[lo][1]
                have[j] -= 1
                if not have[j]:
                    del have[j]
                lo += 1
        return False
    for choice in product(*(where[t] for t in phrase)):  # a repeated term needs distinct positions
        if len(set(choice)) == len(choice):
            shifts = [p - i for i, p in enumerate(choice)]
            if max(shifts) - min(shifts) <= slop:
                return True
    return False


def phrase_match(array: pa.Array, analyzer: Analyzer, query: str, slop: int) -> np.ndarray:
    """Rows holding the analyzed phrase within `slop`."""
    col = _analyzed(array, analyzer)
    phrase = analyzer.terms(query)
    out = np.zeros(len(array), dtype=bool)
    if not phrase:
        return out
    candidates: np.ndarray | None = None
    for term in set(phrase):
        rows = col.postings.get(term)
        if rows is None:
            return out
        candidates = rows if candidates is None else np.intersect1d(candidates, rows, assume_unique=True)
    assert candidates is not None
    for r in candidates.tolist():
        out[r] = _phrase_at(col.tokens[r], phrase, slop)
    return out


def bind_match(binder: Binder, node: Call) -> B:
    """Bind TEXT_MATCH(field, 'text') or PHRASE_MATCH(field, 'text'[, slop]); FilterError with the column."""
    upper = node.name.upper()
    phrase = node.name == "phrase_match"
    allowed = (2, 3) if phrase else (2,)
    if len(node.args) not in allowed:
        want = "2 or 3 arguments (field, 'phrase', slop)" if phrase else "2 arguments (field, 'words')"
        raise binder.fail(f"{upper} takes {want}, got {len(node.args)}", node.pos)
    target, text = node.args[0], node.args[1]
    if not isinstance(target, Name):
        raise binder.fail(f"the first argument of {upper} must be a VARCHAR field name", target.pos or node.pos)
    f = binder.schema.field(target.name)
    if f is None or f.dtype != DataType.VARCHAR:
        what = "no such field" if f is None else f"a {f.dtype.name} field"
        raise binder.fail(f"{upper} needs a VARCHAR field with enable_match=True; {target.name!r} is {what}",
                          target.pos or node.pos)
    if not is_on(f, "enable_match"):
        raise binder.fail(f"{upper} needs enable_match=True on field {f.name!r} (Milvus builds its match index "
                          "only then)", target.pos or node.pos)
    if not isinstance(text, Literal) or not isinstance(text.value, str):
        raise binder.fail(f"the second argument of {upper} must be a string constant", text.pos or node.pos)
    slop = 0
    if len(node.args) == 3:
        s = node.args[2]
        if not isinstance(s, Literal) or isinstance(s.value, bool) or not isinstance(s.value, int) or \
                not 0 <= s.value <= 2**31 - 1:
            raise binder.fail(f"the slop of {upper} must be a non-negative integer", s.pos or node.pos)
        slop = s.value
    analyzer = field_analyzer(f.params, f.name)
    binder.fields.add(f.name)
    query = text.value

    def match(array: pa.Array) -> np.ndarray:
        if phrase:
            return phrase_match(array, analyzer, query, slop)
        return text_match(array, analyzer, query)

    return BMatch(Ty.BOOL, f.name, match, pos=node.pos, desc=f"{upper}({f.name}, ...)")
