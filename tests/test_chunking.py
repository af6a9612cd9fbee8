"""Chunking: paragraphs merged and cut within a token budget, with overlap, pages kept apart."""

from __future__ import annotations

import pytest

from workbench.chunking import ChunkSpec, Paragraph, approx_tokens, chunk_paragraphs
from workbench.settings import InputError


def words_count(texts: list[str]) -> list[int]:
    """One token per whitespace-separated word: makes the budgets easy to check by hand."""
    return [len(t.split()) for t in texts]


def test_short_paragraphs_merge_up_to_the_budget() -> None:
    paras = [Paragraph("one two three"), Paragraph("four five"), Paragraph("six seven eight nine"),
             Paragraph("ten")]
    chunks = chunk_paragraphs(paras, words_count, ChunkSpec(max_tokens=8, overlap=2))
    assert [c.text for c in chunks] == ["one two three\n\nfour five", "six seven eight nine\n\nten"]
    assert [c.position for c in chunks] == [0, 1]
    assert [c.tokens for c in chunks] == [5, 5]
    assert [c.paragraph for c in chunks] == [0, 2]


def test_chunks_never_span_pages() -> None:
    paras = [Paragraph("a b", 1), Paragraph("c d", 1), Paragraph("e f", 2)]
    chunks = chunk_paragraphs(paras, words_count, ChunkSpec(max_tokens=50, overlap=4))
    assert [(c.text, c.page) for c in chunks] == [("a b\n\nc d", 1), ("e f", 2)]


def test_long_paragraph_is_cut_with_overlap_and_covers_every_word() -> None:
    words = [f"w{i}" for i in range(100)]
    chunks = chunk_paragraphs([Paragraph(" ".join(words))], words_count, ChunkSpec(max_tokens=20, overlap=5))
    assert len(chunks) > 5
    assert all(c.tokens <= 20 for c in chunks)
    seen: list[str] = []
    for a, b in zip(chunks, chunks[1:]):
        tail = a.text.split()[-5:]
        assert b.text.split()[:5] == tail  # the next window starts with the last words of the one before
    for c in chunks:
        for w in c.text.split():
            if not seen or int(w[1:]) > int(seen[-1][1:]):
                seen.append(w)
    assert seen == words  # in order, nothing lost


def test_cut_prefers_a_sentence_end() -> None:
    text = "Alpha beta gamma delta epsilon. Zeta eta theta iota kappa lambda mu nu xi omicron pi rho"
    chunks = chunk_paragraphs([Paragraph(text)], words_count, ChunkSpec(max_tokens=8, overlap=0))
    assert chunks[0].text == "Alpha beta gamma delta epsilon."
    assert chunks[1].text.startswith("Zeta")


def test_windows_of_a_cut_paragraph_are_not_merged_with_neighbours() -> None:
    paras = [Paragraph("short one"), Paragraph(" ".join(["x"] * 30)), Paragraph("tail")]
    chunks = chunk_paragraphs(paras, words_count, ChunkSpec(max_tokens=12, overlap=0))
    assert chunks[0].text == "short one"
    assert chunks[-1].text == "tail"
    assert all(c.tokens <= 12 for c in chunks)


def test_a_giant_word_is_cut_into_pieces_that_fit() -> None:
    blob = "Q" * 5000
    spec = ChunkSpec(max_tokens=32, overlap=4, max_bytes=512)
    chunks = chunk_paragraphs([Paragraph(f"before {blob} after")], approx_tokens, spec)
    assert "".join(c.text.replace(" ", "") for c in chunks).count("Q") >= 5000
    assert all(len(c.text.encode()) <= 512 for c in chunks)


def test_byte_budget_holds_for_multibyte_text() -> None:
    text = " ".join(["日本語のテキスト"] * 400)
    chunks = chunk_paragraphs([Paragraph(text)], words_count, ChunkSpec(max_tokens=1000, overlap=0, max_bytes=600))
    assert len(chunks) > 1
    assert all(len(c.text.encode("utf-8")) <= 600 for c in chunks)


def test_merge_false_keeps_each_paragraph_apart() -> None:
    paras = [Paragraph("a"), Paragraph("  "), Paragraph("b c")]
    chunks = chunk_paragraphs(paras, words_count, ChunkSpec(max_tokens=50, overlap=0), merge=False)
    assert [(c.text, c.paragraph) for c in chunks] == [("a", 0), ("b c", 2)]


def test_empty_input_gives_no_chunks() -> None:
    assert chunk_paragraphs([Paragraph(" \n ")], words_count) == []


def test_spec_check_names_the_option() -> None:
    with pytest.raises(InputError, match="chunk tokens 300 is more than the text model reads"):
        ChunkSpec(max_tokens=300).check(256)
    with pytest.raises(InputError, match="chunk overlap"):
        ChunkSpec(max_tokens=64, overlap=40).check(256)
    with pytest.raises(InputError, match="at least 8"):
        ChunkSpec(max_tokens=4).check()
    assert ChunkSpec(max_tokens=254).check(256).max_tokens == 254


def test_approx_tokens_counts_words_and_punctuation() -> None:
    assert approx_tokens(["Hello, world!", "", "internationalisation"]) == [4, 0, 3]
