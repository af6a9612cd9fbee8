"""Paragraph-aware chunking with a token budget, for text models that read a few hundred word pieces.

    chunks = chunk_paragraphs([Paragraph("First paragraph ...", page=1), ...], embedder.count_tokens,
                              ChunkSpec(max_tokens=128, overlap=24))

The rules, in order:

1. A paragraph that fits the budget (`max_tokens` word pieces and `max_bytes` UTF-8 bytes) is one unit.
2. A longer paragraph is cut into windows of whole words that fit, ending at a sentence end where one
   lies in the second half of the window; each window after the first starts with the last words of the
   one before (at most `overlap` word pieces), so a sentence cut in two is whole in one of them. A single
   "word" over the budget (a long URL, a base64 blob) is cut into pieces of characters.
3. Consecutive whole paragraphs of the same page are merged while they fit the budget together (short
   paragraphs and headings go with the text that follows them). Windows of a cut paragraph are never
   merged, and no chunk spans two pages, so a chunk's page is exact.

Counting is additive over whitespace-separated words (true of BERT-style word-piece tokenisers, which
split on whitespace first), so a chunk's count is the sum of its words' counts. `approx_tokens` is a
stand-in counter (words and punctuation) for when no model is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workbench.settings import InputError

TokenCounter = Callable[[Sequence[str]], list[int]]

_SENTENCE_END = re.compile(r"[.!?…][\"')\]»”’]*$")
_APPROX = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of extracted text; `page` is its 1-based PDF page, 0 where there are no pages."""

    text: str
    page: int = 0


@dataclass(frozen=True)
class Chunk:
    """One piece of a document to embed: its text, 0-based position in the document, page, size, and
    the index of the (first) paragraph of the input it comes from."""

    text: str
    position: int
    page: int
    tokens: int
    paragraph: int = 0


@dataclass(frozen=True)
class ChunkSpec:
    """The budget of a chunk: word pieces, bytes, and the overlap between windows of a cut paragraph."""

    max_tokens: int = 128
    overlap: int = 24
    max_bytes: int = 8192

    def check(self, model_max_tokens: int | None = None) -> ChunkSpec:
        """This spec, or InputError naming the option that is out of range."""
        if self.max_tokens < 8:
            raise InputError(f"chunk tokens must be at least 8, not {self.max_tokens}")
        if model_max_tokens is not None and self.max_tokens > model_max_tokens - 2:
            raise InputError(f"chunk tokens {self.max_tokens} is more than the text model reads "
                             f"({model_max_tokens} word pieces, 2 of them special); use at most {model_max_tokens - 2}")
        if not 0 <= self.overlap <= self.max_tokens // 2:
            raise InputError(f"chunk overlap must be between 0 and half the chunk tokens ({self.max_tokens // 2}), "
                             f"not {self.overlap}")
        if self.max_bytes < 256:
            raise InputError(f"chunk max bytes must be at least 256, not {self.max_bytes}")
        return self


def approx_tokens(texts: Sequence[str]) -> list[int]:
    """A model-free estimate of word pieces: words and punctuation marks, plus one per 6 characters of
    a word beyond the first 6 (long words split into several pieces)."""
    out = []
    for t in texts:
        n = 0
        for m in _APPROX.finditer(t):
            n += 1 + max(0, len(m.group()) - 6) // 6
        out.append(n)
    return out


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


def _split_word(word: str, tokens: int, spec: ChunkSpec) -> list[str]:
    """A word over the budget cut into character pieces that each fit (by proportion, with margin)."""
    limit_t = max(1, spec.max_tokens - spec.overlap)
    n = max(2, -(-tokens // limit_t), -(-_nbytes(word) // (spec.max_bytes // 2)))
    step = max(1, -(-len(word) // n))
    return [word[i:i + step] for i in range(0, len(word), step)]


def _windows(text: str, count: TokenCounter, spec: ChunkSpec) -> list[tuple[str, int]]:
    """A long paragraph as overlapping windows of whole words: (text, tokens) each."""
    words = text.split()
    counts = count(words)
    if any(c > spec.max_tokens - spec.overlap or _nbytes(w) > spec.max_bytes // 2 for w, c in zip(words, counts)):
        split: list[str] = []
        for w, c in zip(words, counts):
            too_big = c > spec.max_tokens - spec.overlap or _nbytes(w) > spec.max_bytes // 2
            split.extend(_split_word(w, c, spec) if too_big else [w])
        words = split
        counts = count(words)
    sizes = [_nbytes(w) + 1 for w in words]
    out: list[tuple[str, int]] = []
    i, n = 0, len(words)
    while i < n:
        j, tok, size = i, 0, 0
        while j < n and tok + counts[j] <= spec.max_tokens and size + sizes[j] <= spec.max_bytes:
            tok += counts[j]
            size += sizes[j]
            j += 1
        j = max(j, i + 1)
        if j < n:  # prefer to end at a sentence end in the second half of the window
            for k in range(j, i + max(1, (j - i) // 2), -1):
                if _SENTENCE_END.search(words[k - 1]):
                    j = k
                    break
        out.append((" ".join(words[i:j]), sum(counts[i:j])))
        if j >= n:
            break
        back, kept = j, 0
        while back > i + 1 and kept + counts[back - 1] <= spec.overlap:
            back -= 1
            kept += counts[back]
        i = back if back > i else j
    return out


def chunk_paragraphs(paragraphs: Sequence[Paragraph], count: TokenCounter, spec: ChunkSpec | None = None,
                     merge: bool = True) -> list[Chunk]:
    """Chunks of `paragraphs` by the rules in the module docstring; `merge=False` keeps each paragraph
    (or each window of a cut one) a chunk of its own."""
    spec = spec or ChunkSpec()
    paras = [(i, " ".join(p.text.split()), p.page) for i, p in enumerate(paragraphs)]
    paras = [p for p in paras if p[1]]
    if not paras:
        return []
    counts = count([p[1] for p in paras])
    # units: (text, page, tokens, paragraph index, whole paragraph?)
    units: list[tuple[str, int, int, int, bool]] = []
    for (i, text, page), c in zip(paras, counts):
        if c <= spec.max_tokens and _nbytes(text) <= spec.max_bytes:
            units.append((text, page, c, i, True))
        else:
            units.extend((t, page, n, i, False) for t, n in _windows(text, count, spec))
    merged: list[tuple[str, int, int, int]] = []
    open_whole = False
    for text, page, tok, i, whole in units:
        if (merge and whole and open_whole and merged and merged[-1][1] == page
                and merged[-1][2] + tok <= spec.max_tokens
                and _nbytes(merged[-1][0]) + 2 + _nbytes(text) <= spec.max_bytes):
            last = merged[-1]
            merged[-1] = (f"{last[0]}\n\n{text}", page, last[2] + tok, last[3])
        else:
            merged.append((text, page, tok, i))
        open_whole = whole
    return [Chunk(t, n, page, tok, i) for n, (t, page, tok, i) in enumerate(merged)]
