"""Text analyzers: Milvus's `analyzer_params`, turned into token streams with positions.

Supported (checked against the Milvus docs "Analyzer overview", "Standard Tokenizer", "English"):

* built-in analyzers: ``{"type": "standard"}`` (the default: standard tokenizer + lowercase,
  optional ``"stop_words": [...]``) and ``{"type": "english"}`` (standard tokenizer, lowercase,
  Snowball English stemmer, then the ``_english_`` stop words, in that order as the docs define it;
  ``"stop_words"`` replaces the list);
* custom analyzers: ``{"tokenizer": "standard" | "whitespace", "filter": [...]}`` with the filters
  ``"lowercase"``, ``"asciifolding"``, ``{"type": "stop", "stop_words": [...] | "_english_"}``,
  ``{"type": "stemmer", "language": ...}`` (the Snowball languages) and ``{"type": "length", "max": n}``.

Everything else (``chinese``, ``jieba``, ``lindera``, ``icu``, ``multi_analyzer_params``...) is refused
with an error naming it. The standard tokenizer splits on every character that is not a Unicode
letter or digit (so ``hello-world`` and ``foo_bar`` give two tokens each), as tantivy's simple
tokenizer under Milvus's ``standard`` does. Positions count tokens before stop words are removed,
as tantivy's do, so a phrase never matches across a removed word.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.errors import SchemaError, UnsupportedError, brief

# The stop words of tantivy's English filter (Lucene's classic list), which Milvus calls `_english_`.
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)
_WORD = re.compile(r"[^\W_]+")
_TOKENIZERS = ("standard", "whitespace")
_BUILT_IN = ("standard", "english")
_UNSUPPORTED = ("chinese", "jieba", "lindera", "icu", "language_identifier", "jieba_hmm")

Filter = Callable[[list[tuple[str, int]]], list[tuple[str, int]]]


@dataclass(frozen=True)
class Analyzer:
    """A tokenizer and its filters; `tokens(text)` gives (term, position) pairs."""

    key: str  # the normalised params, as JSON: equal keys analyze equally
    tokenizer: str
    filters: tuple[Filter, ...]

    def tokens(self, text: str) -> list[tuple[str, int]]:
        """The terms of `text` with their positions (0-based, counted before stop words were removed)."""
        if self.tokenizer == "whitespace":
            toks = [(t, i) for i, t in enumerate(text.split())]
        else:
            toks = [(m.group(), i) for i, m in enumerate(_WORD.finditer(text))]
        for f in self.filters:
            toks = f(toks)
        return toks

    def terms(self, text: str) -> list[str]:
        """Just the terms of `text`, in order."""
        return [t for t, _ in self.tokens(text)]


def _lowercase(toks: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(t.lower(), p) for t, p in toks]


def _fold(toks: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out = []
    for t, p in toks:
        folded = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        out.append((folded, p))
    return out


def _stop(words: frozenset[str]) -> Filter:
    return lambda toks: [(t, p) for t, p in toks if t not in words]


def _length(limit: int) -> Filter:
    return lambda toks: [(t, p) for t, p in toks if len(t.encode("utf-8")) <= limit]


def _stemmer(language: str, where: str) -> Filter:
    import snowballstemmer

    name = language.lower()
    if name not in snowballstemmer.algorithms():
        raise SchemaError(f"{where}: stemmer language {language!r} is not supported; use one of "
                          f"{sorted(snowballstemmer.algorithms())}")
    stem = snowballstemmer.stemmer(name).stemWord
    return lambda toks: [(stem(t), p) for t, p in toks]


def _stop_words(value: Any, where: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
        raise SchemaError(f"{where}: stop_words must be a list of strings, got {brief(value)}")
    words: set[str] = set()
    for w in items:
        if w == "_english_":
            words |= ENGLISH_STOP_WORDS
        elif w.startswith("_") and w.endswith("_"):
            raise SchemaError(f"{where}: stop word list {w!r} is not supported; use '_english_' or your own words")
        else:
            words.add(w)
    return frozenset(words)


def _filter(spec: Any, where: str) -> Filter:
    if spec == "lowercase":
        return _lowercase
    if spec == "asciifolding":
        return _fold
    if isinstance(spec, str):
        raise UnsupportedError(f"{where}: filter {spec!r} is not supported; use lowercase, asciifolding, "
                               "stop, stemmer or length")
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise SchemaError(f"{where}: a filter is a name or a dict with 'type', got {brief(spec)}")
    kind = spec["type"]
    known = {"stop": {"stop_words"}, "stemmer": {"language"}, "length": {"max", "min"}}
    if kind not in known:
        raise UnsupportedError(f"{where}: filter type {kind!r} is not supported; use stop, stemmer or length")
    extra = set(spec) - known[kind] - {"type"}
    if extra:
        raise SchemaError(f"{where}: filter {kind!r} does not take {sorted(extra)}")
    if kind == "stop":
        return _stop(_stop_words(spec.get("stop_words", []), where))
    if kind == "stemmer":
        if not isinstance(spec.get("language"), str):
            raise SchemaError(f"{where}: the stemmer filter needs language=, like 'english'")
        return _stemmer(spec["language"], where)
    if "min" in spec:
        raise UnsupportedError(f"{where}: the length filter's 'min' is not supported; give 'max'")
    limit = spec.get("max")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SchemaError(f"{where}: the length filter needs max= a positive integer, got {brief(limit)}")
    return _length(limit)


def build_analyzer(params: dict[str, Any] | str | None, where: str = "analyzer_params") -> Analyzer:
    """The analyzer Milvus's `analyzer_params` describe (None: the standard analyzer).

    Raises SchemaError for malformed params and UnsupportedError for analyzers, tokenizers and
    filters this engine does not implement, naming them."""
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            raise SchemaError(f"{where} {brief(params)} is not JSON") from None
    return _build(json.dumps(params or {"type": "standard"}, sort_keys=True), where)


@lru_cache(maxsize=256)
def _build(key: str, where: str) -> Analyzer:
    params = json.loads(key)
    if not isinstance(params, dict):
        raise SchemaError(f"{where} must be a dict, got {brief(params)}")
    if "type" in params:
        kind = params["type"]
        extra = set(params) - {"type", "stop_words"}
        if extra:
            raise SchemaError(f"{where}: the built-in analyzer {kind!r} does not take {sorted(extra)}")
        if kind in _UNSUPPORTED:
            raise UnsupportedError(f"{where}: the {kind!r} analyzer is not supported by this engine; "
                                   f"use one of {list(_BUILT_IN)} or a custom analyzer")
        if kind not in _BUILT_IN:
            raise SchemaError(f"{where}: unknown analyzer type {brief(kind)}; use one of {list(_BUILT_IN)}")
        filters: list[Filter] = [_lowercase]
        if kind == "english":
            filters.append(_stemmer("english", where))
            words = _stop_words(params.get("stop_words", ["_english_"]), where)
        else:
            words = _stop_words(params.get("stop_words", []), where)
        if words:
            filters.append(_stop(words))
        return Analyzer(key, "standard", tuple(filters))
    extra = set(params) - {"tokenizer", "filter"}
    if extra:
        raise SchemaError(f"{where}: unknown key(s) {sorted(extra)}; give 'type', or 'tokenizer' and 'filter'")
    tokenizer = params.get("tokenizer", "standard")
    if isinstance(tokenizer, dict):
        if set(tokenizer) != {"type"}:
            raise UnsupportedError(f"{where}: tokenizer options {sorted(set(tokenizer) - {'type'})} are not supported")
        tokenizer = tokenizer["type"]
    if tokenizer not in _TOKENIZERS:
        cls = UnsupportedError if isinstance(tokenizer, str) else SchemaError
        raise cls(f"{where}: tokenizer {brief(tokenizer)} is not supported; use one of {list(_TOKENIZERS)}")
    specs = params.get("filter", [])
    if not isinstance(specs, list):
        raise SchemaError(f"{where}: 'filter' must be a list, got {brief(specs)}")
    return Analyzer(key, tokenizer, tuple(_filter(s, where) for s in specs))


def field_analyzer(params: dict[str, Any], field: str) -> Analyzer:
    """The analyzer of a VARCHAR field from its stored type params (`analyzer_params` as JSON text or a dict)."""
    return build_analyzer(params.get("analyzer_params"), f"field {field!r}: analyzer_params")


_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
MAX_SPARSE_INDEX = 2**32 - 2


@lru_cache(maxsize=1 << 18)
def term_id(term: str) -> int:
    """A term's sparse dimension: 32-bit FNV-1a over its UTF-8 bytes (Milvus Lite's choice; deterministic)."""
    h = _FNV_OFFSET
    for b in term.encode("utf-8", "surrogatepass"):
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return min(h, MAX_SPARSE_INDEX)  # 2**32 - 1 is not a valid sparse dimension
