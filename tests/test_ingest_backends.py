"""Ingestion and search through the Backend protocol: a Backend object (engine or Milvus Lite) used as
it is, Array-of-Structs templates refused early where the backend lacks them, released collections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ingest_fixtures import gradient, make_pdf, tiny_clip_embedder

from workbench.backends import CapabilityError, EmbeddedBackend, MilvusBackend
from workbench.collection_ops import describe, list_collections, search, stats
from workbench.embedders import embedder_for_collection
from workbench.ingest import IngestOptions, ingest
from workbench.template_schema import template_schema
from workbench.templates import images_template, pdf_template, read_meta, thumbnails_dir


@pytest.fixture
def tiny_embedder() -> Any:
    return tiny_clip_embedder()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(4):
        gradient(120, 90, seed=i).save(root / f"i{i}.png")
    return root


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "engine.db")
    yield b
    b.close()


def test_template_schema_is_neutral() -> None:
    schema, indexes = template_schema(pdf_template(max_pages=8), dim=16)
    pages = next(f for f in schema["fields"] if f["name"] == "pages")
    assert pages["params"] == {"max_capacity": 8} and [s["name"] for s in pages["struct_fields"]][:3] == \
        ["page", "text", "image_vector"]
    assert {i["field_name"]: i["metric_type"] for i in indexes} == {
        "embedding": "COSINE", "pages[image_vector]": "MAX_SIM_COSINE", "pages[text_vector]": "MAX_SIM_COSINE"}
    pk = schema["fields"][0]
    assert pk["is_primary"] and pk["params"] == {"max_length": 64}
    _, idx = template_schema(images_template(), dim=16)
    assert idx == [{"field_name": "embedding", "index_type": "HNSW", "metric_type": "COSINE",
                    "params": {"M": 16, "efConstruction": 200}}]


@pytest.mark.parametrize("which", ["engine", "lite"])
def test_ingest_into_a_backend_object(which: str, photos: Path, tiny_embedder: Any, engine: EmbeddedBackend,
                                      lite: MilvusBackend) -> None:
    backend: Any = engine if which == "engine" else lite
    name = f"photos_{which}"
    if backend.has_collection(name):
        backend.drop_collection(name)
    report = ingest([photos], backend, name, embedder=tiny_embedder)
    assert report.new == 4 and report.created and report.db == backend.label
    assert backend.count(name) == 4  # still open: the caller's backend is not closed
    assert read_meta(backend, name)["kind"] == "images"  # type: ignore[index]
    assert len(list(thumbnails_dir(backend, name).iterdir())) == 4
    assert thumbnails_dir(backend, name).is_relative_to(backend.workspace)
    if which == "lite":
        backend.release(name)  # as Milvus Lite starts a new process: reads must load it again
    again = ingest([photos], backend, name, embedder=tiny_embedder)
    assert again.unchanged == 4 and again.new == 0
    if which == "lite":
        backend.release(name)
    hits = search(backend, name, image=photos / "i1.png", limit=2, embedder=tiny_embedder)
    assert hits[0].fields["file_name"] == "i1.png" and Path(hits[0].thumbnail or "").is_file()
    assert {c["name"]: c["rows"] for c in list_collections(backend)}[name] == 4
    s = stats(backend, name)
    assert s["rows"] == 4 and s["thumbnails"] == 4 and (s["segments"] is None) == (which == "lite")
    assert describe(backend, name)["kind"] == "images"
    emb = embedder_for_collection(backend, name)  # the recorded checkpoint, read from the backend's workspace
    assert emb.identity == tiny_embedder.identity


def test_struct_templates_are_refused_before_the_model_loads(tmp_path: Path, photos: Path,
                                                             lite: MilvusBackend) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "a.pdf", ["hello"])
    missing = tmp_path / "no-such-checkpoint.pt"  # loading a model would fail with ModelError instead
    with pytest.raises(CapabilityError, match=r"PDF ingestion keeps each document's pages in an Array of Structs "
                                              r"field \(pages\), and Milvus Lite .* use the embedded engine"):
        ingest([docs], lite, "docs", checkpoint=missing)
    with pytest.raises(CapabilityError, match="multi-view .* without --multiview"):
        ingest([photos], lite, "mv", checkpoint=missing, options=IngestOptions(multiview=True))
    assert not lite.has_collection("docs") and not lite.has_collection("mv")


def test_engine_paths_still_open_and_close(tmp_path: Path, photos: Path, tiny_embedder: Any) -> None:
    db = tmp_path / "lib.db"
    report = ingest([photos], db, "photos", embedder=tiny_embedder)
    assert report.db == str(db) and (db / "workbench" / "collections" / "photos.json").is_file()
    b = EmbeddedBackend(db)  # the job closed its own client: the database opens again
    try:
        assert b.count("photos") == 4
    finally:
        b.close()
