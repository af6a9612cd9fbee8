"""Search modes of a Documents collection: words (BM25), meaning (MAX_SIM), both (hybrid), with highlights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from doc_corpus import CORPUS
from ingest_fixtures import make_pdf, tiny_clip_embedder
from text_fixtures import minilm

from engine.fulltext.analyzers import build_analyzer
from workbench.backends import bm25_fields
from workbench.collection_ops import search
from workbench.document_passages import match_spans, pick_passages
from workbench.document_template import documents_template
from workbench.ingest import IngestOptions, ingest
from workbench.settings import InputError
from workbench.targets import open_target
from workbench.template_schema import template_schema

OPTS = IngestOptions(kind="documents", chunk_tokens=40, chunk_overlap=8)


@pytest.fixture(scope="module")
def text_model() -> Any:
    return minilm()


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory, text_model: Any) -> Path:
    root = tmp_path_factory.mktemp("modes")
    docs = root / "docs"
    docs.mkdir()
    for name, (title, paras, _q) in CORPUS.items():
        (docs / f"{name}.md").write_text(f"# {title}\n\n" + "\n\n".join(paras) + "\n")
    db = root / "db"
    report = ingest([docs], db, "corpus", text_embedder=text_model, options=OPTS)
    assert report.new == len(CORPUS)
    return db


def stem(hit: Any) -> str:
    return Path(hit.fields["path"]).stem


def test_new_collection_has_a_bm25_function_over_the_joined_chunks(corpus_db: Path) -> None:
    with open_target(corpus_db, create=False) as b:
        desc = b.describe_collection("corpus")
        assert bm25_fields(desc) == {"text_sparse": "text"}
        row = b.query("corpus", filter='path like "%tides.md"', output_fields=["text", "chunks"])[0]
    assert row["text"] == "\n\n".join(c["text"] for c in row["chunks"])
    assert "gravitational pull of the Moon" in row["text"]


@pytest.mark.parametrize(("word", "doc"), [("Calvin", "photosynthesis"), ("inverter", "solar_panels"),
                                           ("chloroplasts", "photosynthesis")])
def test_words_mode_ranks_the_document_with_a_rare_word_first(corpus_db: Path, word: str, doc: str) -> None:
    hits = search(corpus_db, "corpus", text=f"tell me about the {word} please", mode="words", limit=5)
    assert stem(hits[0]) == doc
    top = hits[0].passages[0]
    assert word.lower() in top["text"].lower()
    spans = top["matches"]
    assert [top["text"][s:e] for s, e in spans if top["text"][s:e].lower() == word.lower()]
    # stop words of the query ("the", "about" is no stop word) are not highlighted
    assert all(top["text"][s:e].lower() != "the" for s, e in spans)


def test_words_mode_finds_no_document_without_the_words(corpus_db: Path) -> None:
    assert search(corpus_db, "corpus", text="zyzzyva quokka", mode="words", limit=5) == []
    assert len(search(corpus_db, "corpus", text="zyzzyva quokka", mode="meaning", limit=5,
                      embedder=minilm())) == 5


def rrf(rankings: list[list[Any]], k: int = 60) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for ranking in rankings:
        for rank, pk in enumerate(ranking):
            out[pk] = out.get(pk, 0.0) + 1.0 / (k + rank + 1)
    return out


def test_both_mode_equals_rrf_of_words_and_meaning_by_hand(corpus_db: Path, text_model: Any) -> None:
    query = "lunar gravity pulls the sea level up and down"
    words = [h.id for h in search(corpus_db, "corpus", text=query, mode="words", limit=30)]
    meaning = [h.id for h in search(corpus_db, "corpus", text=query, mode="meaning", limit=30, embedder=text_model)]
    assert 0 < len(words) < 30 and len(meaning) == 30  # BM25 only returns documents with a query word
    # limit 11 asks each request for 2 * 11 + 8 = 30 hits (the collection has parts), so all of them
    both = search(corpus_db, "corpus", text=query, mode="both", limit=11, embedder=text_model)
    hand = rrf([words, meaning])
    assert len(both) == 11
    for h in both:
        assert h.score == pytest.approx(hand[h.id], rel=1e-5)
    assert [round(h.score, 7) for h in both] == sorted((round(v, 7) for v in hand.values()), reverse=True)[:11]
    assert stem(both[0]) == "tides"
    # passages in both mode fuse the chunk rankings, and carry highlights
    assert both[0].passages and any(p["matches"] for p in both[0].passages)


def test_both_mode_weights_are_honoured(corpus_db: Path, text_model: Any) -> None:
    query = "chlorophyll in the marathon training plan"
    words = [h.id for h in search(corpus_db, "corpus", text=query, mode="words", limit=3)]
    meaning = [h.id for h in search(corpus_db, "corpus", text=query, mode="meaning", limit=3, embedder=text_model)]
    only_words = search(corpus_db, "corpus", text=query, mode="both", weights=[1.0, 0.0], limit=2,
                        embedder=text_model)
    only_meaning = search(corpus_db, "corpus", text=query, mode="both", weights=[0.0, 1.0], limit=3,
                          embedder=text_model)
    assert [h.id for h in only_words] == words[:2]
    assert [h.id for h in only_meaning] == meaning
    with pytest.raises(InputError, match="give 2 weights"):
        search(corpus_db, "corpus", text=query, mode="both", weights=[1.0], embedder=text_model)
    with pytest.raises(InputError, match="apply to --mode both"):
        search(corpus_db, "corpus", text=query, mode="words", weights=[1.0, 0.0])
    with pytest.raises(InputError, match="unknown"):
        search(corpus_db, "corpus", text=query, mode="fuzzy")


def test_collection_without_bm25_field_keeps_meaning_and_refuses_words(tmp_path: Path, text_model: Any) -> None:
    db = tmp_path / "db"
    with open_target(db) as b:  # as collections were made before the BM25 field existed
        schema, indexes = template_schema(documents_template(full_text=False), text_model.dim, b.capabilities)
        b.create_collection("old", schema, indexes)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("tides", "tea"):
        title, paras, _q = CORPUS[name]
        (docs / f"{name}.md").write_text(f"# {title}\n\n" + "\n\n".join(paras))
    report = ingest([docs], db, "old", text_embedder=text_model, options=OPTS)
    assert report.new == 2
    with open_target(db, create=False) as b:
        assert "text" not in {f["name"] for f in b.schema("old")["fields"]}
    hits = search(db, "old", text="the moon pulls the ocean", embedder=text_model, limit=1)
    assert stem(hits[0]) == "tides" and hits[0].passages[0]["matches"]  # highlights need no BM25 field
    for mode in ("words", "both"):
        with pytest.raises(InputError, match="no BM25 field.*--mode meaning.*new collection"):
            search(db, "old", text="moon", mode=mode, embedder=text_model)


def test_modes_refused_on_other_collections(tmp_path: Path) -> None:
    from ingest_fixtures import gradient

    pics = tmp_path / "pics"
    pics.mkdir()
    gradient(64, 48).save(pics / "a.png")
    db = tmp_path / "db"
    clip = tiny_clip_embedder()
    ingest([pics], db, "photos", embedder=clip)
    with pytest.raises(InputError, match="search modes"):
        search(db, "photos", text="a cat", mode="words", embedder=clip)


def test_both_mode_adds_the_page_images(tmp_path: Path, text_model: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "report.pdf", ["Annual report\nRevenue grew strongly.", "Outlook\nGrowth ahead."])
    (docs / "tea.md").write_text("# Tea\n\n" + "\n\n".join(CORPUS["tea"][1]))
    db = tmp_path / "db"
    clip = tiny_clip_embedder()
    ingest([docs], db, "docs", text_embedder=text_model, embedder=clip, options=OPTS)
    hits = search(db, "docs", text="revenue outlook", mode="both", embedder=text_model, page_embedder=clip,
                  limit=2)
    assert Path(hits[0].fields["path"]).name == "report.pdf"
    assert hits[0].passages[0]["page"] in (1, 2) and hits[0].page is not None
    with pytest.raises(InputError, match=r"give 3 weights, one per request \(text_sparse, chunks\[emb\], pages"):
        search(db, "docs", text="revenue", mode="both", weights=[0.5, 0.5], embedder=text_model,
               page_embedder=clip)
    # with the page images weighted alone, the ranking is the page-image search's
    pages_only = search(db, "docs", text="revenue", mode="both", weights=[0.0, 0.0, 1.0], embedder=text_model,
                        page_embedder=clip, limit=2)
    by_pages = search(db, "docs", text="revenue", anns_field="pages[image_vector]", embedder=clip, limit=2)
    assert [h.id for h in by_pages] == [pages_only[0].id]  # tea.md has no page images
    assert pages_only[1].score == 0.0  # the requests that found tea.md weigh nothing


def test_passage_highlights_follow_the_analyzer() -> None:
    english = build_analyzer({"type": "english"})
    text = "Parsing dates: the parser parses ISO dates."
    spans = match_spans(english, text, set(english.terms("parse the date")))
    assert [text[s:e] for s, e in spans] == ["Parsing", "dates", "parses", "dates"]  # "parser" stems apart
    standard = build_analyzer({"type": "standard"})
    assert [text[s:e] for s, e in match_spans(standard, text, {"the"})] == ["the"]
    elements = [{"text": "nothing here", "position": 0, "page": 0},
                {"text": "a parser for dates", "position": 1, "page": 2},
                {"text": "dates and more dates, parsed", "position": 2, "page": 3}]
    got = pick_passages(elements, mode="words", analyzer=english, query="parse dates", vec=None, n=2)
    assert [p["position"] for p in got] == [2, 1] and got[0]["score"] > got[1]["score"] > 0
    assert got[0]["matches"] == [[0, 5], [15, 20], [22, 28]]


def test_cli_modes_and_highlights(corpus_db: Path) -> None:
    from workbench.cli import cli

    r = CliRunner().invoke(cli, ["search", "--db", str(corpus_db), "-c", "corpus", "--text", "Calvin cycle",
                                 "--mode", "words", "-k", "2"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[2].endswith("photosynthesis.md")
    assert "[Calvin] [cycle]" in r.output
    r = CliRunner().invoke(cli, ["search", "--db", str(corpus_db), "-c", "corpus", "--text", "Calvin cycle",
                                 "--mode", "words", "-k", "1", "--json"])
    hit = json.loads(r.output)[0]
    text = hit["passages"][0]["text"]
    assert [text[s:e] for s, e in hit["passages"][0]["matches"]] == ["Calvin", "cycle"]
    r = CliRunner().invoke(cli, ["search", "--db", str(corpus_db), "-c", "corpus", "--text", "x", "--mode", "both",
                                 "--weights", "a,b"])
    assert r.exit_code == 2 and "not a comma-separated list" in r.output
