"""PDF ingestion: text layer, renders, bad PDFs, one entity per document, MAX_SIM search with the best page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ingest_fixtures import BAD_PDFS, GOOD_PDFS, make_pdf, make_pdf_folder, tiny_clip_embedder
from PIL import Image

from workbench.images import PDF_EXTENSIONS, FileEntry, SkipFile, discover
from workbench.ingest import IngestOptions, ingest
from workbench.pdfs import clean_text, load_pdf, truncate_utf8


@pytest.fixture
def tiny_embedder() -> Any:
    return tiny_clip_embedder()



def _entry(p: Path) -> FileEntry:
    st = p.stat()
    return FileEntry(p, st.st_size, st.st_mtime_ns)


@pytest.fixture
def pdfs(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "docs"
    return root, make_pdf_folder(root)


def test_text_layer_and_renders(pdfs: tuple[Path, dict[str, Path]]) -> None:
    _, files = pdfs
    d = load_pdf(_entry(files["cats"]))
    assert d.page_count == 2 and [p.number for p in d.pages] == [1, 2]
    assert d.pages[0].text == "All about cats\nCats purr and sleep."
    assert d.pages[1].text == "Kittens play."
    assert max(d.pages[0].image.size) == 512 and d.pages[0].image.mode == "RGB"
    assert len(d.sha256) == 64 and d.file_name == "cats.pdf" and d.folder == "docs"
    scanned = load_pdf(_entry(files["scanned"]))
    assert scanned.pages[0].text == "" and scanned.pages[1].text.startswith("A page with text")
    assert scanned.pages[0].image.getextrema() != ((255, 255), (255, 255), (255, 255))  # not blank


def test_bad_pdfs_have_reasons(pdfs: tuple[Path, dict[str, Path]]) -> None:
    _, files = pdfs
    reasons = {}
    for key in BAD_PDFS:
        with pytest.raises(SkipFile) as e:
            load_pdf(_entry(files[key]))
        reasons[key] = str(e.value)
    assert reasons == {
        "encrypted": "PDF is encrypted (password-protected)",
        "corrupt": "not a valid PDF (corrupt, truncated or not a PDF at all)",
        "no_pages": "PDF has no pages (empty document)",
        "zero": "empty file (0 bytes)",
    }


def test_page_limit_and_text_truncation(tmp_path: Path) -> None:
    p = make_pdf(tmp_path / "long.pdf", [f"page {i} " + "é" * 40 for i in range(5)])
    d = load_pdf(_entry(p), max_pages=3, text_max_bytes=20)
    assert d.page_count == 5 and len(d.pages) == 3
    assert all(len(pg.text.encode()) <= 20 for pg in d.pages)
    assert truncate_utf8("aé", 2) == "a" and truncate_utf8("abc", 10) == "abc"
    assert clean_text(" a \r\nb\x00  \r\n") == "a\nb"


def _docs(db: Path, collection: str) -> dict[str, dict[str, Any]]:
    from engine import MilvusClient

    c = MilvusClient(str(db))
    try:
        rows = c.query(collection, filter="", limit=100,
                       output_fields=["path", "file_name", "page_count", "sha256", "bytes", "embedding", "pages"])
    finally:
        c.close()
    return {r["file_name"]: r for r in rows}


def test_ingest_pdfs_one_entity_per_document(pdfs: tuple[Path, dict[str, Path]], tmp_path: Path,
                                             tiny_embedder: Any) -> None:
    root, files = pdfs
    db = tmp_path / "lib.db"
    report = ingest([root], db, "docs", embedder=tiny_embedder)
    assert report.kind == "pdfs" and report.created
    assert report.new == len(GOOD_PDFS) and report.rows_in_collection == len(GOOD_PDFS)
    assert {Path(s.path).name for s in report.skipped} == {files[k].name for k in BAD_PDFS}
    assert report.exit_code == 3
    docs = _docs(db, "docs")
    cats = docs["cats.pdf"]
    assert cats["page_count"] == 2 and len(cats["pages"]) == 2
    p1 = cats["pages"][0]
    assert p1["page"] == 1 and p1["text"].startswith("All about cats")
    img, txt = np.asarray(p1["image_vector"]), np.asarray(p1["text_vector"])
    assert img.shape == txt.shape == (64,)
    assert abs(np.linalg.norm(img) - 1) < 1e-4 and abs(np.linalg.norm(txt) - 1) < 1e-4
    np.testing.assert_allclose(txt, tiny_embedder.embed_texts([p1["text"]])[0], atol=1e-5)
    thumb = db / "workbench" / p1["thumbnail"]
    with Image.open(thumb) as th:
        assert max(th.size) == 256
    # the scanned page has no text: its text vector is its image vector
    scan = docs["scan.pdf"]["pages"][0]
    assert scan["text"] == ""
    np.testing.assert_allclose(scan["text_vector"], scan["image_vector"], atol=1e-6)
    assert abs(np.linalg.norm(docs["boats.pdf"]["embedding"]) - 1) < 1e-4
    again = ingest([root], db, "docs", embedder=tiny_embedder)
    assert (again.new, again.updated, again.unchanged) == (0, 0, len(GOOD_PDFS))


def test_maxsim_search_returns_documents_with_best_page(pdfs: tuple[Path, dict[str, Path]], tmp_path: Path,
                                                        tiny_embedder: Any) -> None:
    from workbench.collection_ops import search

    root, _ = pdfs
    db = tmp_path / "lib.db"
    ingest([root], db, "docs", embedder=tiny_embedder)
    hits = search(db, "docs", text="Harbours and ships", limit=3, embedder=tiny_embedder)
    assert len(hits) == 3 and len({h.id for h in hits}) == 3  # whole documents, no duplicates
    assert hits[0].fields["file_name"] == "boats.pdf" and hits[0].page == 2
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].page_text == "Harbours and ships"
    assert hits[0].thumbnail and hits[0].thumbnail.endswith("-p2.jpg") and Path(hits[0].thumbnail).exists()
    by_image = search(db, "docs", text="x", anns_field="pages[image_vector]", limit=2, embedder=tiny_embedder)
    assert len(by_image) == 2 and all(h.page is not None for h in by_image)


def test_mixed_folder_ingests_one_kind_and_counts_the_other(tmp_path: Path, tiny_embedder: Any) -> None:
    from ingest_fixtures import gradient

    root = tmp_path / "mixed"
    root.mkdir()
    make_pdf(root / "a.pdf", ["hello"])
    gradient(50, 40).save(root / "a.png")
    r = ingest([root], tmp_path / "lib.db", "things", embedder=tiny_embedder)
    assert r.kind == "images" and r.new == 1 and r.other_kind == 1 and r.exit_code == 0
    r2 = ingest([root], tmp_path / "lib.db", "papers", embedder=tiny_embedder,
                options=IngestOptions(kind="pdfs"))
    assert r2.kind == "pdfs" and r2.new == 1 and r2.other_kind == 1
    assert [e.path.name for e in discover([root], PDF_EXTENSIONS).files] == ["a.pdf"]


def test_templates_create_and_map_onto_themselves(tmp_path: Path) -> None:
    from engine import MilvusClient
    from workbench.settings import CollectionError
    from workbench.templates import (
        TEMPLATE_NAMES,
        check_collection,
        create_from_template,
        guess_kind,
        pdf_template,
        template_by_name,
    )

    c = MilvusClient(str(tmp_path / "t.db"))
    try:
        for i, name in enumerate(TEMPLATE_NAMES):
            t = template_by_name(name)
            create_from_template(c, f"c{i}", t, 32)
            desc = c.describe_collection(f"c{i}")
            fm = check_collection(f"c{i}", desc, t, 32)
            assert fm.pk_name == "id" and not fm.pk_is_int
            assert guess_kind(desc) == t.kind
            with pytest.raises(CollectionError, match="dim 32, but the model gives 64"):
                check_collection(f"c{i}", desc, t, 64)
        # a PDF collection whose pages lack image_vector: the message names the sub-field
        from engine import DataType

        s = c.create_schema(auto_id=False)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        for f in ("path", "sha256"):
            s.add_field(f, DataType.VARCHAR, max_length=512)
        st = c.create_struct_field_schema()
        st.add_field("page", DataType.INT32)
        st.add_field("vec", DataType.FLOAT_VECTOR, dim=32)
        s.add_field("pages", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=8)
        ip = c.prepare_index_params()
        ip.add_index(field_name="pages[vec]", index_type="HNSW", metric_type="MAX_SIM_COSINE")
        c.create_collection("odd", schema=s, index_params=ip)
        with pytest.raises(CollectionError, match=r"no sub-field pages\[image_vector\]"):
            check_collection("odd", c.describe_collection("odd"), pdf_template(), 32)
    finally:
        c.close()
    with pytest.raises(CollectionError, match="unknown template"):
        template_by_name("Videos")


def test_job_on_a_worker_thread_cancelled_from_another(tmp_path: Path, tiny_embedder: Any) -> None:
    """The app's pattern: iterate on a worker thread, cancel from the GUI thread."""
    import threading

    from workbench.ingest import ingest_job

    root = tmp_path / "docs"
    root.mkdir()
    for i in range(12):
        make_pdf(root / f"d{i:02d}.pdf", [f"document {i} page {j}" for j in range(3)])
    job = ingest_job([root], tmp_path / "lib.db", "docs", embedder=tiny_embedder,
                     options=IngestOptions(commit_size=3, workers=1))
    committed = threading.Event()
    events: list[Any] = []

    def work() -> None:
        for ev in job:
            events.append(ev)
            if ev.ingested:
                committed.set()

    t = threading.Thread(target=work)
    t.start()
    assert committed.wait(60)
    job.cancel()
    t.join(60)
    assert not t.is_alive() and job.error is None
    r = job.report
    assert r.cancelled and events[-1].phase == "cancelled"
    assert 1 <= r.new < 12 and r.rows_in_collection == r.new == r.batches_committed  # 3 pages = 1 PDF per batch
