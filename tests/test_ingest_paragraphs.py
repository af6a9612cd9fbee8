"""Parquet/JSONL paragraphs files (the Wikipedia shape) ingested with the real MiniLM: one entity per
record, precomputed `emb` used (and checked), bad records reported, resume inside a file, stale rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from text_fixtures import minilm

from workbench.backends import open_backend
from workbench.collection_ops import search
from workbench.ingest import IngestOptions, ingest, ingest_job

ARTICLES = {
    101: ("Honey bee", ["Honey bees live in colonies with a single queen.",
                        "Worker bees collect nectar and make honey in wax combs."]),
    102: ("Glacier", ["A glacier is a persistent body of dense ice that moves under its own weight.",
                      "Glaciers carve valleys as they flow slowly downhill."]),
    103: ("Printing press", ["Gutenberg's printing press used movable metal type.",
                             "It made books cheaper and spread literacy across Europe."]),
}
OPTS = IngestOptions(kind="documents")


@pytest.fixture(scope="module")
def text_model() -> Any:
    return minilm()


def wiki_parquet(path: Path, model: Any | None, ids: list[int] | None = None) -> Path:
    rows = []
    for wid in ids or list(ARTICLES):
        title, paras = ARTICLES[wid]
        embs = model.embed_texts(paras) if model is not None else None
        rows.append({"wiki_id": wid, "title": title,
                     "paragraphs": [{"text": t, **({"emb": embs[i].tolist()} if embs is not None else {})}
                                    for i, t in enumerate(paras)]})
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def stored(db: Path, collection: str) -> list[dict[str, Any]]:
    b = open_backend(str(db))
    try:
        return sorted(b.query(collection, "part >= 1", output_fields=["*"]), key=lambda r: r["record_key"])
    finally:
        b.close()


def test_wiki_parquet_with_precomputed_embeddings(tmp_path: Path, text_model: Any) -> None:
    src = wiki_parquet(tmp_path / "wiki.parquet", text_model)
    db = tmp_path / "db"
    report = ingest([src], db, "wiki", text_embedder=text_model, options=OPTS)
    assert (report.new, report.skipped) == (1, [])
    assert f"{src}: 3 record(s) stored, 0 already there, 0 bad" in report.notes
    got = stored(db, "wiki")
    assert [(r["record_key"], r["title"], r["format"], r["path"]) for r in got] == [
        ("101", "Honey bee", "parquet", str(src)), ("102", "Glacier", "parquet", str(src)),
        ("103", "Printing press", "parquet", str(src))]
    bee = got[0]
    assert [(c["position"], c["page"], c["text"]) for c in bee["chunks"]] == [
        (0, 0, ARTICLES[101][1][0]), (1, 0, ARTICLES[101][1][1])]
    hits = search(db, "wiki", text="ice rivers shaping mountain valleys", limit=2, embedder=text_model)
    assert hits[0].fields["record_key"] == "102" and hits[0].passages
    assert hits[0].passages[0]["text"] == ARTICLES[102][1][1]
    # unchanged file: nothing to do
    again = ingest([src], db, "wiki", text_embedder=text_model, options=OPTS)
    assert (again.unchanged, again.new, again.updated) == (1, 0, 0)


def test_embeddings_of_another_model_are_refused(tmp_path: Path, text_model: Any) -> None:
    rng = np.random.default_rng(0)
    rows = [{"wiki_id": 1, "paragraphs": [{"text": "Some text", "emb": rng.standard_normal(384).tolist()}]}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "alien.parquet")
    report = ingest([tmp_path / "alien.parquet"], tmp_path / "db", "wiki", text_embedder=text_model, options=OPTS)
    assert len(report.skipped) == 1 and report.new == 0
    assert report.skipped[0].reason.startswith("the emb vectors in the file are not the text model's")
    assert "--text-model" in report.skipped[0].reason


def test_jsonl_without_emb_is_embedded_and_bad_records_are_listed(tmp_path: Path, text_model: Any) -> None:
    lines = [
        {"wiki_id": "a", "title": "Bees", "paragraphs": [{"text": t} for t in ARTICLES[101][1]]},
        {"wiki_id": "b", "paragraphs": [{"text": "Short", "emb": [0.1, 0.2]}]},
        {"wiki_id": "a", "paragraphs": [{"text": "duplicate key"}]},
        {"wiki_id": "c", "paragraphs": [{"text": None}]},
    ]
    src = tmp_path / "w.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    db = tmp_path / "db"
    report = ingest([src], db, "wiki", text_embedder=text_model, options=OPTS)
    assert report.new == 1 and report.exit_code == 3
    assert {s.path: s.reason for s in report.skipped} == {
        f"{src} (line 2)": "emb has 2 numbers, but the text model sentence-transformers/all-MiniLM-L6-v2 "
                           f"(sentence-transformers, weights sha256 {text_model.identity.checkpoint_sha256[:12]}, "
                           "dim 384) gives 384",
        f"{src} (line 3)": "key a appears again (first at line 1)",
        f"{src} (line 4)": "paragraphs[0].text is NoneType, not a string",
        f"{src} (line 5)": "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
                           "(char 1)",
    }
    (row,) = stored(db, "wiki")
    assert row["format"] == "jsonl" and row["title"] == "Bees"
    emb = np.asarray(row["chunks"][1]["emb"], dtype=np.float32)
    assert np.allclose(emb, text_model.embed_texts([ARTICLES[101][1][1]])[0], atol=1e-4)


def test_cancel_inside_a_file_resumes_at_the_next_record(tmp_path: Path, text_model: Any) -> None:
    src = tmp_path / "flat.parquet"
    table = pa.table({"wiki_id": [i // 2 for i in range(40)], "paragraph_id": [i % 2 for i in range(40)],
                      "text": [f"Record {i // 2}, paragraph {i % 2}: a sentence about item {i}." for i in range(40)]})
    pq.write_table(table, src)
    db = tmp_path / "db"
    opts = IngestOptions(kind="documents", commit_size=4)
    job = ingest_job([src], db, "flat", text_embedder=text_model, options=opts)
    for ev in job:
        if ev.phase == "ingesting" and ev.message and "record(s) stored" in ev.message:
            job.cancel()
    assert job.report.cancelled
    first = len(stored(db, "flat"))
    assert 0 < first < 20
    report = ingest([src], db, "flat", text_embedder=text_model, options=opts)
    assert f"{src}: {20 - first} record(s) stored, {first} already there, 0 bad" in report.notes
    assert len(stored(db, "flat")) == 20


def test_a_changed_file_replaces_its_records(tmp_path: Path, text_model: Any) -> None:
    src = wiki_parquet(tmp_path / "wiki.parquet", None)
    db = tmp_path / "db"
    ingest([src], db, "wiki", text_embedder=text_model, options=OPTS)
    wiki_parquet(src, None, ids=[101, 103])  # 102 removed
    report = ingest([src], db, "wiki", text_embedder=text_model, options=OPTS)
    assert report.updated == 1
    assert [r["record_key"] for r in stored(db, "wiki")] == ["101", "103"]
