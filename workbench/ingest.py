"""Ingestion: files and folders into a collection, as a cancellable `Job` of progress events.

    job = ingest_job(["~/Pictures"], db="my.db", collection="photos", checkpoint="vit-b-32.pt")
    for event in job:
        print(event.files_done, "/", event.files_total)
    print(job.report.summary())

`db` is a `workbench.backends.Backend` (used as it is, never closed), or what `open_backend` opens: an
engine directory, `lite:FILE` for Milvus Lite, `http(s)://host:port` for a Milvus server (see
`workbench.targets`). A database given by name is opened only briefly before the model loads, so an
engine directory stays unlocked meanwhile. Every database call goes through the Backend protocol.

Decoding, EXIF, thumbnails and preprocessing run in a thread pool that feeds
batched model inference on the calling thread; at most a few batches are in
memory at a time. Each batch is upserted as a whole, so a cancelled job leaves
only whole committed batches, and running the same job again resumes: files
whose path and content are unchanged are skipped without being decoded.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.backends import Backend, BackendError
from workbench.embedders import Embedder, PreparingEmbedder, embedder_for_collection, l2_normalise
from workbench.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    MODEL_SIDE,
    PDF_EXTENSIONS,
    FileEntry,
    SkipFile,
    Skipped,
    decode_image,
    discover,
    read_file,
    save_thumbnail,
    sha256_bytes,
    sha256_file,
    views_of,
)
from workbench.jobs import IngestReport, Job, Meter, Progress
from workbench.pdfs import DEFAULT_MAX_PAGES, DEFAULT_TEXT_MAX_BYTES, OpenPdf, page_thumbnail_name
from workbench.settings import CollectionError, InputError
from workbench.targets import DbTarget, ensure_loaded, open_target
from workbench.template_schema import blank_varchar_fields, check_template_fits, template_schema
from workbench.templates import (
    FieldMap,
    Template,
    check_collection,
    check_collection_name,
    existing_fields,
    guess_kind,
    images_template,
    pdf_template,
    read_meta,
    thumbnails_dir,
    write_meta,
)


@dataclass
class IngestOptions:
    """Tuning knobs of an ingest run (the defaults suit most folders)."""

    kind: str = "auto"  # "auto", "images" or "pdfs"
    multiview: bool = False
    grid: int = 3
    workers: int | None = None
    commit_size: int | None = None  # images (or PDF pages) per committed batch
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int = DEFAULT_MAX_PAGES
    text_max_bytes: int = DEFAULT_TEXT_MAX_BYTES


class Unchanged:
    """Worker result for a file whose content hash matches the stored row."""


UNCHANGED = Unchanged()


def path_id(path: str) -> str:
    """Primary key of a file: the first 32 hex digits of the sha256 of its absolute path."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]


def _pk_value(fm: FieldMap, path: str) -> Any:
    pid = path_id(path)
    return int(pid[:16], 16) & (2**63 - 1) if fm.pk_is_int else pid


def _fit(fm: FieldMap, name: str, value: str | None, sub: str | None = None) -> str | None:
    if value is None:
        return None
    ml = fm.max_length(name, sub)
    if ml is not None and len(value.encode("utf-8")) > ml:
        return value.encode("utf-8")[:ml].decode("utf-8", "ignore")
    return value


# --- per-kind work -----------------------------------------------------------------
@dataclass
class _Result:
    entry: FileEntry
    known: bool
    units: int
    payload: Any


class _Kind:
    """What differs between image and PDF ingestion."""

    name = ""
    extensions: frozenset[str] = frozenset()

    def __init__(self, embedder: Embedder, fm: FieldMap, thumbs: Path, thumbs_rel: str, opts: IngestOptions) -> None:
        self.embedder = embedder
        self.fm = fm
        self.blank_for_null: frozenset[str] = frozenset()  # VARCHAR fields that cannot hold null: "" instead
        self.thumbs = thumbs
        self.thumbs_rel = thumbs_rel
        self.opts = opts
        self._prepare: Callable[[Any], Any] = (
            embedder.prepare_image if isinstance(embedder, PreparingEmbedder) else (lambda im: im)
        )

    def embed_prepared(self, items: Sequence[Any]) -> np.ndarray:
        if isinstance(self.embedder, PreparingEmbedder):
            return self.embedder.embed_prepared(items)
        return self.embedder.embed_images(items)

    def task(self, entry: FileEntry, known_sha: str | None) -> _Result | Unchanged:
        raise NotImplementedError

    def rows(self, results: list[_Result]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def common(self, d: Any) -> dict[str, Any]:
        fm = self.fm
        row: dict[str, Any] = {fm.pk_name: _pk_value(fm, d.path)}
        for name in ("path", "file_name", "folder", "sha256"):
            if fm.has(name):
                row[name] = _fit(fm, name, getattr(d, name))
        if fm.has("bytes"):
            row["bytes"] = int(d.bytes)
        if fm.has("modified"):
            row["modified"] = float(d.modified)
        return row


class _Images(_Kind):
    name = "images"
    extensions = IMAGE_EXTENSIONS

    def task(self, entry: FileEntry, known_sha: str | None) -> _Result | Unchanged:
        data = read_file(entry.path)
        digest = sha256_bytes(data)
        if known_sha == digest:
            return UNCHANGED
        grid = self.opts.grid if self.opts.multiview else 1
        dec = decode_image(entry, min_side=MODEL_SIDE * grid, max_pixels=self.opts.max_pixels, data=data,
                           digest=digest)
        save_thumbnail(dec.image, self.thumbs / f"{digest}.jpg")
        if self.opts.multiview:
            views = views_of(dec.image, self.opts.grid)
            prepared = [self._prepare(crop) for _, crop in views]
            boxes = [tuple(round(v * dec.scale) for v in box) for box, _ in views]
        else:
            prepared, boxes = [self._prepare(dec.image)], []
        return _Result(entry, known_sha is not None, len(prepared), (dec.info, prepared, boxes))

    def rows(self, results: list[_Result]) -> list[dict[str, Any]]:
        flat = [p for r in results for p in r.payload[1]]
        vecs = self.embed_prepared(flat)
        out, i = [], 0
        fm = self.fm
        for r in results:
            info, prepared, boxes = r.payload
            vs = vecs[i : i + len(prepared)]
            i += len(prepared)
            row = self.common(info)
            for name in ("width", "height"):
                if fm.has(name):
                    row[name] = int(getattr(info, name))
            for name in ("format", "taken_at", "camera"):
                if fm.has(name):
                    row[name] = _fit(fm, name, getattr(info, name))
            if fm.has("thumbnail"):
                row["thumbnail"] = f"{self.thumbs_rel}/{info.sha256}.jpg"
            row["embedding"] = vs[0]
            if self.opts.multiview:
                views = []
                for vec, (x0, y0, x1, y1) in zip(vs, boxes):
                    v: dict[str, Any] = {"embedding": vec}
                    for key, val in (("x0", x0), ("y0", y0), ("x1", x1), ("y1", y1)):
                        if fm.has_sub("views", key):
                            v[key] = int(val)
                    views.append(v)
                row["views"] = views
            out.append(row)
        return out


class _Pdfs(_Kind):
    """PDFs are rendered and embedded on the worker threads, a chunk of pages at a time, so that
    memory holds vectors, not page images (the embedder serialises inference)."""

    name = "pdfs"
    extensions = PDF_EXTENSIONS

    def task(self, entry: FileEntry, known_sha: str | None) -> _Result | Unchanged:
        digest = sha256_file(entry.path)
        if known_sha == digest:
            return UNCHANGED
        chunk_size = int(getattr(self.embedder, "batch_size", 32) or 32)
        numbers: list[int] = []
        texts: list[str] = []
        vecs: list[np.ndarray] = []
        chunk: list[Any] = []
        with OpenPdf(entry, self.opts.max_pages, self.opts.text_max_bytes, digest=digest) as pdf:
            for page in pdf.pages():
                save_thumbnail(page.image, self.thumbs / page_thumbnail_name(digest, page.number))
                chunk.append(self._prepare(page.image))
                numbers.append(page.number)
                texts.append(page.text)
                if len(chunk) >= chunk_size:
                    vecs.append(self.embed_prepared(chunk))
                    chunk = []
            data = pdf.data
        if chunk:
            vecs.append(self.embed_prepared(chunk))
        img = np.concatenate(vecs) if vecs else np.zeros((0, self.embedder.dim), np.float32)
        with_text = [i for i, t in enumerate(texts) if t]
        txt = img.copy()  # pages without text use their image vector
        if with_text:
            txt[with_text] = self.embedder.embed_texts([texts[i] for i in with_text])
        return _Result(entry, known_sha is not None, len(numbers), (data, numbers, texts, img, txt))

    def rows(self, results: list[_Result]) -> list[dict[str, Any]]:
        fm = self.fm
        out = []
        for r in results:
            data, numbers, texts, img, txt = r.payload
            row = self.common(data)
            for name in ("title", "author"):
                if fm.has(name):
                    row[name] = _fit(fm, name, getattr(data, name))
            if fm.has("page_count"):
                row["page_count"] = int(data.page_count)
            pages = []
            for k, number in enumerate(numbers):
                p: dict[str, Any] = {"page": number, "image_vector": img[k]}
                if fm.has_sub("pages", "text"):
                    p["text"] = _fit(fm, "pages", texts[k], "text") or ""
                if fm.has_sub("pages", "text_vector"):
                    p["text_vector"] = txt[k]
                if fm.has_sub("pages", "thumbnail"):
                    p["thumbnail"] = f"{self.thumbs_rel}/{page_thumbnail_name(data.sha256, number)}"
                pages.append(p)
            if fm.has("embedding"):
                row["embedding"] = l2_normalise(img.mean(axis=0, keepdims=True))[0]
            row["pages"] = pages
            out.append(row)
        return out


# --- the job -----------------------------------------------------------------------
def ingest_job(
    paths: Iterable[str | os.PathLike[str]],
    db: DbTarget,
    collection: str,
    *,
    embedder: Embedder | None = None,
    model: str | None = None,
    pretrained: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    options: IngestOptions | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Job:
    """A Job that ingests `paths` (files and folders) into `collection` of database `db` (a Backend, or
    a directory, `lite:FILE` or server URI to open).

    The collection is created from the "Images" or "PDF documents" template when
    it does not exist. Iterate the job for `Progress` events; `job.report` is an
    `IngestReport` at the end. Raises WorkbenchError subclasses for problems that
    stop the whole run (model, database, incompatible collection).
    """
    check_collection_name(collection)
    path_list = [Path(p).expanduser() for p in paths]
    opts = options or IngestOptions()
    if opts.kind not in ("auto", "images", "pdfs"):
        raise InputError(f"kind must be auto, images or pdfs, not {opts.kind!r}")

    def body(job: Job) -> Iterator[Progress]:
        return _run(job, path_list, db, collection, embedder, model, pretrained, checkpoint,
                    device, batch_size, opts, on_status)

    return Job(body, title=f"ingest into {collection}")


def _run(job: Job, paths: list[Path], db: DbTarget, collection: str, embedder: Embedder | None, model: str | None,
         pretrained: str | None, checkpoint: str | os.PathLike[str] | None, device: str | None,
         batch_size: int | None, opts: IngestOptions, on_status: Callable[[str], None] | None) -> Iterator[Progress]:
    if isinstance(db, (str, os.PathLike)) and "://" not in os.fspath(db):
        db = os.path.expanduser(os.fspath(db))
    opts = replace(opts)  # adjusted below to fit an existing collection
    meter = Meter()
    yield meter.event("scanning")
    with open_target(db) as backend:  # only briefly: an engine database stays unlocked while the model loads
        exists = backend.has_collection(collection)
        description = backend.describe_collection(collection) if exists else None
        ws = backend  # its workspace (sidecars, thumbnails) stays valid after closing
        caps, label = backend.capabilities, backend.label
    meta = read_meta(ws, collection) if exists else None
    kind = opts.kind
    if kind == "auto":
        kind = (meta or {}).get("kind") or (guess_kind(description) if description else None) or ""
    if kind not in ("images", "pdfs") and exists:
        raise CollectionError(
            f"collection {collection!r} does not look like an Images or PDF documents collection "
            "(no 'path' + 'embedding' or 'pages' fields); pass --kind images or --kind pdfs to check it"
        )
    found_images = discover(paths, IMAGE_EXTENSIONS, PDF_EXTENSIONS)
    if kind == "pdfs":
        found = discover(paths, PDF_EXTENSIONS, IMAGE_EXTENSIONS)
    elif kind == "images" or found_images.files or not found_images.other_kind:
        kind, found = "images", found_images
    else:
        kind, found = "pdfs", discover(paths, PDF_EXTENSIONS, IMAGE_EXTENSIONS)
    if kind == "pdfs" and opts.multiview:
        raise InputError("multi-view applies to images; PDFs are embedded page by page already")
    # before the model loads: a template the backend cannot hold (Array of Structs on Milvus Lite, ...)
    check_template_fits(_template_for(kind, replace(opts), description)[0], caps, label, collection)
    report = IngestReport(os.fspath(db) if isinstance(db, (str, os.PathLike)) else label, collection, kind,
                          files_total=len(found.files) + len(found.skipped),
                          skipped=list(found.skipped), other_kind=len(found.other_kind), ignored=found.ignored)
    job.report = report
    if not found.files and not found.skipped:
        what = "image" if kind == "images" else "PDF"
        raise InputError(f"no {what} files found in {', '.join(str(p) for p in paths)}")
    meter.files_total = report.files_total
    meter.bytes_total = sum(e.size for e in found.files)
    meter.files_done = meter.errors = len(found.skipped)
    if job.cancelled:
        yield from _finish(db, collection, report, meter, cancelled=True)
        return

    yield meter.event("loading model")
    if embedder is None:
        embedder = embedder_for_collection(ws, collection, model, pretrained, checkpoint, device, batch_size,
                                           on_status) if exists else \
            _load_new(model, pretrained, checkpoint, device, batch_size, on_status)
    report.model = embedder.identity.describe()
    template, opts.multiview = _template_for(kind, opts, description)

    with open_target(db) as backend:
        if not backend.has_collection(collection):
            schema, indexes = template_schema(template, embedder.dim, backend.capabilities)
            backend.create_collection(collection, schema, indexes)
            report.created = True
        description = backend.describe_collection(collection)
        fm = check_collection(collection, description, template, embedder.dim)
        ensure_loaded(backend, collection)  # Milvus reads need it loaded (Milvus Lite starts released)
        _check_identity(backend, collection, meta, embedder)
        write_meta(backend, collection, _new_meta(meta, kind, template, embedder, opts))

        yield meter.event("checking")
        known = _known_rows(backend, collection, fm, found.files)
        work: list[tuple[FileEntry, str | None]] = []
        for e in found.files:
            row = known.get(str(e.path))
            if row is not None and row.get("bytes") == e.size and row.get("modified") is not None \
                    and abs(float(row["modified"]) - e.mtime) < 1e-6:
                meter.unchanged += 1
                meter.files_done += 1
                meter.bytes_done += e.size
                report.unchanged += 1
            else:
                work.append((e, row.get("sha256") if row else None))
        meter.begin_work(len(work))
        yield meter.event("ingesting")

        thumbs = thumbnails_dir(backend, collection)
        thumbs_rel = thumbs.relative_to(backend.workspace).as_posix()
        handler: _Kind = (_Images if kind == "images" else _Pdfs)(embedder, fm, thumbs, thumbs_rel, opts)
        handler.blank_for_null = blank_varchar_fields(description)
        yield from _pipeline(job, backend, collection, handler, work, report, meter)
    yield from _finish(db, collection, report, meter, cancelled=job.cancelled)


def _load_new(model: str | None, pretrained: str | None, checkpoint: str | os.PathLike[str] | None,
              device: str | None, batch_size: int | None, on_status: Callable[[str], None] | None) -> Embedder:
    from workbench.embedders import load_clip_embedder

    return load_clip_embedder(model, pretrained, checkpoint, device, batch_size, on_status)


def _template_for(kind: str, opts: IngestOptions, description: dict[str, Any] | None) -> tuple[Template, bool]:
    if kind == "pdfs":
        if description is not None:
            pages = existing_fields(description).get("pages")
            if pages is not None:
                opts.max_pages = int(pages.params.get("max_capacity") or opts.max_pages)
                text = pages.sub.get("text")
                if text is not None and text.params.get("max_length"):
                    opts.text_max_bytes = int(text.params["max_length"])
        return pdf_template(opts.max_pages, opts.text_max_bytes), False
    multiview = opts.multiview
    if description is not None:
        views = existing_fields(description).get("views")
        if views is not None and views.is_struct_array:
            multiview = True
            cap = int(views.params.get("max_capacity") or 1 + opts.grid**2)
            opts.grid = max(1, math.isqrt(max(cap - 1, 1)))
    return images_template(multiview, opts.grid), multiview


def _check_identity(backend: Backend, collection: str, meta: dict[str, Any] | None, embedder: Embedder) -> None:
    from workbench.embedders import EmbedderIdentity

    rec = (meta or {}).get("embedder")
    if not rec:
        return
    if backend.count(collection) == 0:
        return  # an empty collection may take any model of the right dimension
    EmbedderIdentity.from_dict(rec).check_same(embedder.identity, collection)


def _new_meta(meta: dict[str, Any] | None, kind: str, template: Template, embedder: Embedder,
              opts: IngestOptions) -> dict[str, Any]:
    out = dict(meta or {})
    out.update(kind=kind, template=template.name, embedder=embedder.identity.to_dict(), multiview=opts.multiview,
               grid=opts.grid if opts.multiview else None, format=1)
    out["checkpoint_path"] = getattr(embedder, "checkpoint_path", None)
    out.setdefault("created", time.time())
    return out


def _known_rows(backend: Backend, collection: str, fm: FieldMap, files: list[FileEntry]) -> dict[str, dict[str, Any]]:
    """Stored rows of the files about to be ingested, by path (only the fields needed to skip them)."""
    wanted = [f for f in ("path", "sha256", "bytes", "modified") if fm.has(f)]
    out: dict[str, dict[str, Any]] = {}
    ids = [_pk_value(fm, str(e.path)) for e in files]
    for i in range(0, len(ids), 512):
        for row in backend.get(collection, ids[i : i + 512], output_fields=wanted):
            if row.get("path"):
                out[str(row["path"])] = row
    return out


def _pipeline(job: Job, backend: Backend, collection: str, handler: _Kind, work: list[tuple[FileEntry, str | None]],
              report: IngestReport, meter: Meter) -> Iterator[Progress]:
    embed_batch = int(getattr(handler.embedder, "batch_size", 32) or 32)
    commit_units = handler.opts.commit_size or embed_batch
    workers = handler.opts.workers or max(1, min(8, os.cpu_count() or 1))
    if handler.name == "pdfs":
        workers = min(workers, 2)  # PDFium is serialised anyway
    views = 1 + handler.opts.grid**2 if (handler.name == "images" and handler.opts.multiview) else 1
    window = max(2 * max(1, commit_units // views), 2 * workers)
    todo = iter(work)
    pending: deque[tuple[FileEntry, Future[Any]]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")

    def fill() -> None:
        while len(pending) < window and not job.cancelled:
            nxt = next(todo, None)
            if nxt is None:
                return
            pending.append((nxt[0], pool.submit(handler.task, nxt[0], nxt[1])))

    batch: list[_Result] = []
    units = 0
    try:
        fill()
        while pending and not job.cancelled:
            entry, fut = pending.popleft()
            try:
                res = fut.result()
            except SkipFile as e:
                res = Skipped(str(entry.path), str(e))
            except Exception as e:  # a bug or an odd file must not stop the run
                res = Skipped(str(entry.path), f"unexpected error: {type(e).__name__}: {e}")
            meter.files_done += 1
            meter.bytes_done += entry.size
            meter.work_done += 1
            if isinstance(res, Skipped):
                report.skipped.append(res)
                meter.errors += 1
            elif isinstance(res, Unchanged):
                report.unchanged += 1
                meter.unchanged += 1
            else:
                batch.append(res)
                units += res.units
            fill()
            if units >= commit_units and not job.cancelled:
                _commit(backend, collection, handler, batch, report, meter)
                batch, units = [], 0
            yield meter.event("ingesting", current=str(entry.path))
        if batch and not job.cancelled:
            _commit(backend, collection, handler, batch, report, meter)
            yield meter.event("ingesting")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _commit(backend: Backend, collection: str, handler: _Kind, batch: list[_Result], report: IngestReport,
            meter: Meter) -> None:
    """Embed a batch and upsert it as a whole; rows the database rejects are retried one by one.

    Always upsert: a Milvus server's insert keeps both rows of a duplicate primary key."""
    rows = handler.rows(batch)
    if handler.blank_for_null:
        rows = [{k: ("" if v is None and k in handler.blank_for_null else v) for k, v in row.items()} for row in rows]
    try:
        backend.upsert(collection, rows)
        ok = batch
    except BackendError:
        ok = []
        for r, row in zip(batch, rows):
            try:
                backend.upsert(collection, [row])
                ok.append(r)
            except BackendError as e:
                report.skipped.append(Skipped(str(r.entry.path), f"rejected by the database: {_msg(e)}"))
                meter.errors += 1
    for r in ok:
        if r.known:
            report.updated += 1
        else:
            report.new += 1
        meter.ingested += 1
    report.batches_committed += 1


def _msg(e: Exception) -> str:
    text = str(getattr(e, "message", None) or e).splitlines()[0]
    _, sep, rest = text.partition(" failed on ")  # "upsert failed on <label>: <reason>" -> "<reason>"
    return rest.split(": ", 1)[-1] if sep and ": " in rest else text


def _finish(db: DbTarget, collection: str, report: IngestReport, meter: Meter, cancelled: bool
            ) -> Iterator[Progress]:
    with open_target(db) as backend:
        if backend.has_collection(collection):
            backend.flush(collection)
            report.rows_in_collection = backend.count(collection)
    report.cancelled = cancelled
    report.elapsed_s = time.monotonic() - meter.start
    yield meter.event("cancelled" if cancelled else "done")


def ingest(paths: Iterable[str | os.PathLike[str]], db: DbTarget, collection: str,
           on_progress: Callable[[Progress], None] | None = None, **kwargs: Any) -> IngestReport:
    """Run `ingest_job(...)` to the end and return its report."""
    report: IngestReport = ingest_job(paths, db, collection, **kwargs).run(on_progress)
    return report
