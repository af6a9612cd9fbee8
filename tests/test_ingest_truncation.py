"""Files ingested only in part (PDF page limit, page text, field lengths, multi-page TIFFs) are listed in
the report, with the file and what was kept of how much; the CLI shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ingest_fixtures import gradient, jpeg_with_exif, make_pdf, tiny_checkpoint_file, tiny_clip_embedder

from workbench.cli import cli
from workbench.ingest import IngestOptions, ingest
from workbench.jobs import EXIT_OK, EXIT_SKIPPED, Truncated


@pytest.fixture
def tiny_embedder() -> Any:
    return tiny_clip_embedder()


def _pages(db: Path, collection: str) -> dict[str, dict[str, Any]]:
    from engine import MilvusClient

    c = MilvusClient(str(db))
    try:
        rows = c.query(collection, filter="", limit=100, output_fields=["path", "page_count", "pages"])
    finally:
        c.close()
    return {Path(r["path"]).name: r for r in rows}


def test_pdf_over_the_page_limit_is_reported(tmp_path: Path, tiny_embedder: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    long = make_pdf(docs / "long.pdf", [f"page {i}" for i in range(7)])
    make_pdf(docs / "short.pdf", ["one", "two"])
    db = tmp_path / "db"
    report = ingest([docs], db, "docs", embedder=tiny_embedder, options=IngestOptions(max_pages=4))
    assert report.ingested == 2 and report.exit_code == EXIT_OK
    assert len(report.truncated) == 1
    note = report.truncated[0]
    assert (note.path, note.what, note.kept, note.total) == (str(long), "pages", 4, 7)
    assert "indexed 4 of 7 pages" in note.reason and "at most 4 pages" in note.reason
    assert f"ingested in part:\n    {long}: indexed 4 of 7 pages" in report.summary()
    assert report.to_dict()["truncated"][0]["total"] == 7
    rows = _pages(db, "docs")
    assert rows["long.pdf"]["page_count"] == 7 and len(rows["long.pdf"]["pages"]) == 4


def test_page_text_over_the_field_length_is_reported(tmp_path: Path, tiny_embedder: Any) -> None:
    p = make_pdf(tmp_path / "wordy.pdf", ["short", "x" * 30 + " " + "y" * 30, "tiny"])
    report = ingest([p], tmp_path / "db", "docs", embedder=tiny_embedder, options=IngestOptions(text_max_bytes=40))
    [note] = report.truncated
    assert (note.what, note.kept, note.total) == ("page text", 40, 61)
    assert note.reason == "text of 1 page(s) cut to 40 bytes (the longest had 61)"


def test_field_values_cut_to_the_collection_are_reported(tmp_path: Path, tiny_embedder: Any) -> None:
    from engine import DataType, MilvusClient

    db = tmp_path / "lib.db"
    c = MilvusClient(str(db))
    s = c.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("path", DataType.VARCHAR, max_length=2048)
    s.add_field("sha256", DataType.VARCHAR, max_length=64)
    s.add_field("camera", DataType.VARCHAR, max_length=8, nullable=True)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=64)
    ip = c.prepare_index_params()
    ip.add_index(field_name="embedding", index_type="HNSW", metric_type="COSINE")
    c.create_collection("mine", schema=s, index_params=ip)
    c.close()
    photo = jpeg_with_exif(tmp_path / "cam.jpg", 320, 240, make="Canon", model="Canon EOS 5D")
    report = ingest([photo], db, "mine", embedder=tiny_embedder)
    assert report.ingested == 1
    assert [(t.what, t.kept, t.total, t.reason) for t in report.truncated] == [
        ("camera", 8, 12, "camera cut to 8 of 12 bytes (the field's max_length)")]


def test_path_longer_than_the_path_field_is_skipped(tmp_path: Path, tiny_embedder: Any) -> None:
    from engine import DataType, MilvusClient

    db = tmp_path / "lib.db"
    c = MilvusClient(str(db))
    s = c.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("path", DataType.VARCHAR, max_length=40)
    s.add_field("sha256", DataType.VARCHAR, max_length=64)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=64)
    ip = c.prepare_index_params()
    ip.add_index(field_name="embedding", index_type="HNSW", metric_type="COSINE")
    c.create_collection("mine", schema=s, index_params=ip)
    c.close()
    photo = tmp_path / "a-folder-with-a-long-name" / "photo.jpg"
    photo.parent.mkdir()
    gradient(100, 80).save(photo)
    assert len(str(photo)) > 40
    report = ingest([photo], db, "mine", embedder=tiny_embedder)
    assert report.ingested == 0 and report.exit_code == EXIT_SKIPPED
    assert [(s.path, s.reason) for s in report.skipped] == [
        (str(photo), f"path is {len(str(photo))} bytes, longer than the collection's path field (max_length 40)")]


def test_multipage_tiff_is_reported(tmp_path: Path, tiny_embedder: Any) -> None:
    tiff = tmp_path / "scan.tiff"
    pages = [gradient(120, 160, i) for i in range(3)]
    pages[0].save(tiff, save_all=True, append_images=pages[1:])
    gif = tmp_path / "anim.gif"
    pages[0].save(gif, save_all=True, append_images=pages[1:], duration=100)  # an animation: not a cut
    report = ingest([tmp_path], tmp_path / "db", "imgs", embedder=tiny_embedder)
    assert report.ingested == 2
    assert report.truncated == [Truncated(str(tiff), "pages", 1, 3,
                                          "indexed page 1 of 3 (a multi-page TIFF: only the first page is ingested)")]


def test_cli_shows_cut_pdfs_and_takes_a_decode_memory(tmp_path: Path) -> None:
    ckpt = str(tiny_checkpoint_file())
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "a.pdf", ["first"])
    ingest([docs], tmp_path / "db", "docs", checkpoint=ckpt, device="cpu",
           options=IngestOptions(max_pages=2))  # the collection holds 2 pages per document
    long = make_pdf(docs / "long.pdf", [f"page {i}" for i in range(5)])
    runner = CliRunner()
    r = runner.invoke(cli, ["ingest", str(docs), "--db", str(tmp_path / "db"), "-c", "docs", "-q",
                            "--decode-memory", "64M"])
    assert r.exit_code == 0, r.output
    assert f"ingested in part:\n    {long}: indexed 2 of 5 pages" in r.stdout
    long.touch()  # changed mtime, same content: re-checked, not re-embedded
    r = runner.invoke(cli, ["ingest", str(long), "--db", str(tmp_path / "db"), "-c", "docs", "--json",
                            "--decode-memory", "1.5GiB"])
    report = json.loads(r.stdout)
    assert report["decode_memory"] == 3 << 29 and report["unchanged"] == 1 and report["truncated"] == []


def test_cli_rejects_bad_decode_memory(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["ingest", str(tmp_path), "--db", str(tmp_path / "db"), "-c", "c", "--decode-memory", "lots"])
    assert r.exit_code == 2 and "--decode-memory" in r.stderr and "'lots' is not a size" in r.stderr
    r = runner.invoke(cli, ["ingest", str(tmp_path), "--db", str(tmp_path / "db"), "-c", "c", "--decode-memory", "-1G"])
    assert r.exit_code == 2 and "'-1G' is not a positive size" in r.stderr
    r = runner.invoke(cli, ["ingest", str(tmp_path), "--db", str(tmp_path / "db"), "-c", "c", "--decode-memory", "100K"])
    assert r.exit_code == 1 and "decode_memory must be at least 1,048,576 bytes (1 MiB), not 102400" in r.stderr
