"""Image ingestion: discovery, decoding, EXIF, thumbnails, the bad-file report, idempotent re-runs, cancel-resume."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ingest_fixtures import (
    BAD_IMAGES,
    GOOD_IMAGES,
    gradient,
    jpeg_with_exif,
    make_image_folder,
    tiny_checkpoint_file,
    tiny_clip_embedder,
)
from PIL import Image

from workbench.images import (
    IMAGE_EXTENSIONS,
    PDF_EXTENSIONS,
    FileEntry,
    SkipFile,
    decode_image,
    discover,
    grid_boxes,
    save_thumbnail,
)
from workbench.ingest import IngestOptions, ingest, ingest_job, path_id
from workbench.jobs import EXIT_OK, EXIT_SKIPPED, IngestReport
from workbench.settings import CollectionError, ModelMismatchError
from workbench.templates import read_meta, thumbnails_dir


@pytest.fixture
def tiny_checkpoint() -> Path:
    return tiny_checkpoint_file()


@pytest.fixture
def tiny_embedder() -> Any:
    return tiny_clip_embedder()



def _entry(p: Path) -> FileEntry:
    st = p.stat()
    return FileEntry(p, st.st_size, st.st_mtime_ns)


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "photos"
    return root, make_image_folder(root)


# --- discovery and decoding (no database) -----------------------------------------------


def test_discovery_recursive_sorted_and_filtered(folder: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    root, files = folder
    (root / "doc.pdf").write_bytes(b"%PDF-1.4")
    notes = root / "readme.txt"
    d = discover([root, root / "pic.bmp", tmp_path / "nope", notes], IMAGE_EXTENSIONS, PDF_EXTENSIONS)
    names = [e.path.name for e in d.files]
    assert names == sorted(names, key=lambda n: str([e.path for e in d.files if e.path.name == n][0]))
    assert {e.path for e in d.files} == {files[k] for k in GOOD_IMAGES + BAD_IMAGES}  # deduplicated
    assert ".hidden.jpg" not in names
    assert [e.path.name for e in d.other_kind] == ["doc.pdf"]
    reasons = {Path(s.path).name: s.reason for s in d.skipped}
    assert reasons == {"nope": "path does not exist", "readme.txt": "unsupported file type .txt"}
    assert d.ignored == 1  # readme.txt inside the folder


def test_undecodable_file_name_is_reported(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("byte file names are a POSIX thing")
    root = tmp_path / "odd"
    root.mkdir()
    gradient(30, 20).save(root / "fine.png")
    try:
        with open(os.path.join(os.fsencode(root), b"bad-\xff.png"), "wb") as f:
            f.write((root / "fine.png").read_bytes())
    except OSError:
        pytest.skip("the file system refuses non-UTF-8 names")
    d = discover([root], IMAGE_EXTENSIONS)
    assert [e.path.name for e in d.files] == ["fine.png"]
    assert len(d.skipped) == 1 and "not valid UTF-8" in d.skipped[0].reason


def test_decode_formats_exif_and_modes(folder: tuple[Path, dict[str, Path]]) -> None:
    _, files = folder
    rot = decode_image(_entry(files["rotated"]))
    assert (rot.info.width, rot.info.height) == (480, 640)  # EXIF orientation 6 applied
    assert rot.image.width < rot.image.height
    assert rot.info.taken_at == "2021-07-04T12:30:00" and rot.info.camera == "Canon EOS 5D"
    assert rot.info.format == "JPEG" and 256 <= min(rot.image.size) < 512  # reduced for the model
    plain = decode_image(_entry(files["plain_jpeg"]))
    assert plain.info.taken_at is None and plain.info.camera is None
    expected = {"rgba_png": ("PNG", 300, 200), "gif": ("GIF", 120, 90), "webp": ("WEBP", 200, 260),
                "bmp": ("BMP", 64, 48), "tiff": ("TIFF", 150, 150), "palette_png": ("PNG", 100, 80)}
    for key, (fmt, w, h) in expected.items():
        d = decode_image(_entry(files[key]))
        assert (d.info.format, d.info.width, d.info.height) == (fmt, w, h), key
        assert d.image.mode == "RGB", key
        assert d.info.sha256 and len(d.info.sha256) == 64
        assert d.info.file_name == files[key].name and d.info.folder == files[key].parent.name
    # RGBA is composited on white: the fully transparent top row is white
    rgba = decode_image(_entry(files["rgba_png"])).image
    assert rgba.getpixel((150, 0)) == (255, 255, 255)


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (40, 30), c).convert("P") for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "two.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    px = decode_image(_entry(p)).image.getpixel((5, 5))
    assert isinstance(px, tuple) and px[0] > 200 and px[2] < 50


def test_bad_files_have_reasons(folder: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    _, files = folder
    reasons = {}
    for key in BAD_IMAGES:
        with pytest.raises(SkipFile) as e:
            decode_image(_entry(files[key]))
        reasons[key] = str(e.value)
    assert reasons["empty"] == "empty file (0 bytes)"
    assert reasons["text"].startswith("not an image")
    assert reasons["truncated"].startswith("truncated image")
    gone = _entry(files["bmp"])
    files["bmp"].unlink()
    with pytest.raises(SkipFile, match="file is gone"):
        decode_image(gone)

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(SkipFile, match="permission denied"):
        decode_image(_entry(files["tiff"]))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_real_permissions(folder: tuple[Path, dict[str, Path]]) -> None:
    _, files = folder
    files["tiff"].chmod(0)
    try:
        with pytest.raises(SkipFile, match="permission denied"):
            decode_image(_entry(files["tiff"]))
    finally:
        files["tiff"].chmod(0o644)


def test_decompression_bomb_guard(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(p)
    with pytest.raises(SkipFile, match="decompression-bomb limit"):
        decode_image(_entry(p), max_pixels=1_000_000)
    assert decode_image(_entry(p)).info.width == 3000


def test_thumbnail_and_grid(tmp_path: Path) -> None:
    im = gradient(1000, 500, 1)
    t = save_thumbnail(im, tmp_path / "t" / "x.jpg")
    with Image.open(t) as th:
        assert th.format == "JPEG" and max(th.size) == 256 and th.size == (256, 128)
    boxes = grid_boxes(900, 600, 3)
    assert len(boxes) == 9
    assert boxes[0][:2] == (0, 0) and boxes[-1][2:] == (900, 600)
    assert all(x1 - x0 > 300 and y1 - y0 > 200 for x0, y0, x1, y1 in boxes)  # overlapping cells


# --- ingestion into the engine ------------------------------------------------------------


def _rows(db: Path, collection: str, fields: list[str]) -> dict[str, dict[str, Any]]:
    from engine import MilvusClient

    c = MilvusClient(str(db))
    try:
        rows = c.query(collection, filter="", output_fields=sorted(set(fields) | {"path"}), limit=1000)
    finally:
        c.close()
    return {Path(r["path"]).name: r for r in rows}


FIELDS = ["path", "file_name", "folder", "width", "height", "bytes", "modified", "format", "sha256",
          "taken_at", "camera", "thumbnail", "embedding"]


def test_ingest_rows_thumbnails_and_report(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                           tiny_embedder: Any) -> None:
    root, files = folder
    db = tmp_path / "lib.db"
    events: list[Any] = []
    report = ingest([root], db, "photos", embedder=tiny_embedder, on_progress=events.append)
    assert isinstance(report, IngestReport)
    assert report.created and report.kind == "images"
    assert report.new == len(GOOD_IMAGES) and report.rows_in_collection == len(GOOD_IMAGES)
    assert {Path(s.path).name: s.reason.split(" ")[0] for s in report.skipped} == {
        "truncated.jpg": "truncated", "empty.jpg": "empty", "notes.jpg": "not"}
    assert report.exit_code == EXIT_SKIPPED
    # progress events: phases in order, counts add up, the last one is "done"
    phases = [e.phase for e in events]
    assert phases[0] == "scanning" and phases[-1] == "done" and "ingesting" in phases
    last = events[-1]
    assert last.files_done == last.files_total == len(GOOD_IMAGES) + len(BAD_IMAGES)
    assert last.errors == 3 and last.ingested == len(GOOD_IMAGES)
    assert last.bytes_done == last.bytes_total > 0
    assert any(e.current for e in events)

    rows = _rows(db, "photos", FIELDS)
    assert set(rows) == {files[k].name for k in GOOD_IMAGES}
    r = rows["rotated.jpg"]
    assert (r["width"], r["height"], r["format"]) == (480, 640, "JPEG")
    assert r["taken_at"] == "2021-07-04T12:30:00" and r["camera"] == "Canon EOS 5D"
    assert r["folder"] == "photos" and r["path"] == str(files["rotated"])
    assert r["bytes"] == files["rotated"].stat().st_size
    assert abs(r["modified"] - files["rotated"].stat().st_mtime) < 1e-3
    assert rows["pic.webp"]["folder"] == "deeper" and rows["pic.webp"]["camera"] is None
    vec = np.asarray(r["embedding"], dtype=np.float32)
    assert vec.shape == (64,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-4
    for row in rows.values():
        thumb = db / "workbench" / row["thumbnail"]
        assert thumb.parent == thumbnails_dir(db, "photos") and thumb.name == f"{row['sha256']}.jpg"
        with Image.open(thumb) as th:
            assert max(th.size) <= 256
    meta = read_meta(db, "photos")
    assert meta is not None and meta["kind"] == "images" and meta["embedder"] == tiny_embedder.identity.to_dict()


def test_rerun_is_idempotent_and_changed_files_are_upserted(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                                              tiny_embedder: Any) -> None:
    root, files = folder
    db = tmp_path / "lib.db"
    ingest([root], db, "photos", embedder=tiny_embedder)
    before = _rows(db, "photos", ["sha256", "embedding"])
    again = ingest([root], db, "photos", embedder=tiny_embedder)
    assert (again.new, again.updated, again.unchanged) == (0, 0, len(GOOD_IMAGES))
    assert again.rows_in_collection == len(GOOD_IMAGES) and not again.created
    # change one file's content, touch another (same content, new mtime)
    gradient(320, 200, seed=42).save(files["plain_jpeg"], "JPEG")
    later = time.time() + 5
    os.utime(files["bmp"], (later, later))
    third = ingest([root], db, "photos", embedder=tiny_embedder)
    assert (third.new, third.updated, third.unchanged) == (0, 1, len(GOOD_IMAGES) - 1)
    after = _rows(db, "photos", ["sha256", "embedding"])
    assert len(after) == len(GOOD_IMAGES)
    assert after["plain.jpeg"]["sha256"] != before["plain.jpeg"]["sha256"]
    assert after["pic.bmp"]["sha256"] == before["pic.bmp"]["sha256"]
    # a new file is added, nothing else re-embedded
    jpeg_with_exif(root / "new.jpg", 100, 80, seed=9)
    fourth = ingest([root], db, "photos", embedder=tiny_embedder)
    assert (fourth.new, fourth.updated) == (1, 0)


def test_cancel_then_resume(tmp_path: Path, tiny_embedder: Any) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(20):
        gradient(120, 90, seed=i).save(root / f"img{i:02d}.png")
    db = tmp_path / "lib.db"
    job = ingest_job([root], db, "photos", embedder=tiny_embedder, options=IngestOptions(commit_size=4, workers=2))
    for ev in job:
        if ev.ingested >= 4:
            job.cancel()
    report = job.report
    assert report.cancelled and job.last is not None and job.last.phase == "cancelled"
    assert report.rows_in_collection == report.new == 4 * report.batches_committed
    assert 4 <= report.new < 20
    resumed = job.resume().run()
    assert not resumed.cancelled
    assert resumed.unchanged == report.new and resumed.new == 20 - report.new
    assert resumed.rows_in_collection == 20
    with pytest.raises(RuntimeError, match="runs once"):
        list(job)


def test_cancel_before_start_commits_nothing(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                            tiny_embedder: Any) -> None:
    root, _ = folder
    job = ingest_job([root], tmp_path / "lib.db", "photos", embedder=tiny_embedder)
    job.quit()
    job.run()
    assert job.report.cancelled and job.report.new == 0


def test_file_deleted_during_run_is_reported(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                             tiny_embedder: Any) -> None:
    root, files = folder
    job = ingest_job([root], tmp_path / "lib.db", "photos", embedder=tiny_embedder)
    for ev in job:
        if ev.phase == "checking" and files["tiff"].exists():
            files["tiff"].unlink()
    reasons = {Path(s.path).name: s.reason for s in job.report.skipped}
    assert reasons["pic.tiff"].startswith("file is gone")


def test_multiview_rows_and_search(tmp_path: Path, tiny_embedder: Any) -> None:
    from workbench.collection_ops import search

    root = tmp_path / "big"
    root.mkdir()
    for i in range(3):
        gradient(900, 600, seed=i).save(root / f"b{i}.jpg")
    db = tmp_path / "lib.db"
    report = ingest([root], db, "mv", embedder=tiny_embedder, options=IngestOptions(multiview=True, grid=3))
    assert report.new == 3
    rows = _rows(db, "mv", ["path", "views", "width", "height"])
    views = rows["b0.jpg"]["views"]
    assert len(views) == 10
    assert (views[0]["x0"], views[0]["y0"], views[0]["x1"], views[0]["y1"]) == (0, 0, 900, 600)
    assert all(0 <= v["x0"] < v["x1"] <= 900 and 0 <= v["y0"] < v["y1"] <= 600 for v in views)
    assert read_meta(db, "mv")["multiview"] is True  # type: ignore[index]
    hits = search(db, "mv", image=root / "b1.jpg", limit=3, embedder=tiny_embedder)
    assert hits[0].fields["path"].endswith("b1.jpg") and hits[0].box is not None
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)
    # a later plain run keeps multi-view (the collection has `views`)
    (root / "b3.jpg").write_bytes((root / "b0.jpg").read_bytes())
    assert ingest([root], db, "mv", embedder=tiny_embedder).new == 1
    assert len(_rows(db, "mv", ["path", "views"])["b3.jpg"]["views"]) == 10


def test_multiview_on_plain_collection_names_missing_field(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                                            tiny_embedder: Any) -> None:
    root, _ = folder
    db = tmp_path / "lib.db"
    ingest([root], db, "photos", embedder=tiny_embedder)
    with pytest.raises(CollectionError, match="has no field 'views'"):
        ingest([root], db, "photos", embedder=tiny_embedder, options=IngestOptions(multiview=True))


def test_search_by_text_image_and_filter(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                         tiny_embedder: Any) -> None:
    from workbench.collection_ops import search

    root, files = folder
    db = tmp_path / "lib.db"
    ingest([root], db, "photos", embedder=tiny_embedder)
    hits = search(db, "photos", image=files["webp"], limit=3, embedder=tiny_embedder)
    assert hits[0].fields["file_name"] == "pic.webp" and hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert hits[0].thumbnail and Path(hits[0].thumbnail).exists()
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)
    text_hits = search(db, "photos", text="a photo of a dog", limit=20, embedder=tiny_embedder)
    assert len(text_hits) == len(GOOD_IMAGES)
    filtered = search(db, "photos", text="anything", filter='format == "PNG"', embedder=tiny_embedder)
    assert {h.fields["format"] for h in filtered} == {"PNG"} and len(filtered) == 2


def test_existing_collection_mapping_and_model_guard(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                                      tiny_embedder: Any) -> None:
    from engine import DataType, MilvusClient
    from workbench.embedders import EmbedderIdentity

    root, _ = folder
    db = tmp_path / "lib.db"
    c = MilvusClient(str(db))
    s = c.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("path", DataType.VARCHAR, max_length=2048)
    s.add_field("sha256", DataType.VARCHAR, max_length=64)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=64)
    s.add_field("rating", DataType.INT32, nullable=True)
    ip = c.prepare_index_params()
    ip.add_index(field_name="embedding", index_type="HNSW", metric_type="COSINE")
    c.create_collection("mine", schema=s, index_params=ip)
    c.create_collection("nopath", dimension=64)  # quick form: id + vector only
    c.close()
    report = ingest([root], db, "mine", embedder=tiny_embedder)
    assert report.new == len(GOOD_IMAGES) and not report.created
    rows = _rows(db, "mine", ["key", "path", "sha256"])
    assert rows["pic.bmp"]["key"] == path_id(rows["pic.bmp"]["path"])
    with pytest.raises(CollectionError, match="collection 'nopath' does not look like"):
        ingest([root], db, "nopath", embedder=tiny_embedder)

    class Other:
        """The tiny model under another identity (as if another checkpoint)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(tiny_embedder, name)

        @property
        def identity(self) -> EmbedderIdentity:
            return EmbedderIdentity("other-model", None, "f" * 64, 64)

    with pytest.raises(ModelMismatchError, match="was embedded with"):
        ingest([root], db, "mine", embedder=Other())


def test_ingest_loads_model_from_checkpoint_and_reuses_it(folder: tuple[Path, dict[str, Path]], tmp_path: Path,
                                                          tiny_checkpoint: Path) -> None:
    root, _ = folder
    db = tmp_path / "lib.db"
    first = ingest([root], db, "photos", checkpoint=tiny_checkpoint, device="cpu")
    assert first.new == len(GOOD_IMAGES) and first.model and "workbench-tiny-test" in first.model
    # no model named: the collection's recorded checkpoint is used
    second = ingest([root], db, "photos")
    assert second.unchanged == len(GOOD_IMAGES) and second.exit_code == EXIT_SKIPPED
    only_good = ingest([root / "pic.bmp"], db, "photos")
    assert only_good.exit_code == EXIT_OK
