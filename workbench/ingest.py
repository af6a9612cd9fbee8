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
batched model inference on the calling thread (the per-file work is in
`workbench.ingest_work`). The workers share one `DecodeBudget` of decoded pixels
in flight (`IngestOptions.decode_memory`); the model inputs of at most a few
batches wait for inference. Each batch is upserted as a whole, so a cancelled job
leaves only whole committed batches, and running the same job again resumes: files
whose path and content are unchanged are skipped without being decoded.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.backends import Backend, BackendError
from workbench.embedders import Embedder, TextEmbedder, embedder_for_collection
from workbench.images import IMAGE_EXTENSIONS, PDF_EXTENSIONS, FileEntry, SkipFile, Skipped, discover
from workbench.ingest_work import Images, Kind, Pdfs, Result, Unchanged, pk_value
from workbench.ingest_work import IngestOptions as IngestOptions
from workbench.ingest_work import path_id as path_id
from workbench.jobs import IngestReport, Job, Meter, Progress
from workbench.memory import MIN_BUDGET, DecodeBudget, default_decode_budget
from workbench.settings import CollectionError, InputError
from workbench.targets import DbTarget, ensure_loaded, open_target
from workbench.template_schema import blank_varchar_fields, check_template_fits, template_schema, with_blanks
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
    text_embedder: TextEmbedder | None = None,
) -> Job:
    """A Job that ingests `paths` (files and folders) into `collection` of database `db` (a Backend, or
    a directory, `lite:FILE` or server URI to open).

    The collection is created from the "Images", "PDF documents" or "Documents" template when
    it does not exist. Iterate the job for `Progress` events; `job.report` is an
    `IngestReport` at the end. Raises WorkbenchError subclasses for problems that
    stop the whole run (model, database, incompatible collection). Documents (kind "documents", or
    "auto" on text files, a documents collection or with a text model given) go to
    `workbench.documents`, which embeds text with `text_embedder` (or the text model named in the
    options) and PDF page images with `embedder` (CLIP).
    """
    check_collection_name(collection)
    path_list = [Path(p).expanduser() for p in paths]
    opts = options or IngestOptions()
    if opts.kind not in ("auto", "images", "pdfs", "documents", "products"):
        raise InputError(f"kind must be auto, images, pdfs, documents or products, not {opts.kind!r}")
    if opts.decode_memory is not None and opts.decode_memory < MIN_BUDGET:
        raise InputError(f"decode_memory must be at least {MIN_BUDGET:,} bytes (1 MiB), not {opts.decode_memory!r}")

    def documents(job: Job) -> Iterator[Progress]:
        from workbench.documents import run_documents

        return run_documents(job, path_list, db, collection, opts, text_embedder=text_embedder, embedder=embedder,
                             model=model, pretrained=pretrained, checkpoint=checkpoint, device=device,
                             batch_size=batch_size, on_status=on_status)

    def products(job: Job) -> Iterator[Progress]:
        from workbench.products import run_products

        return run_products(job, path_list, db, collection, opts, embedder=embedder, model=model,
                            pretrained=pretrained, checkpoint=checkpoint, device=device, batch_size=batch_size,
                            on_status=on_status)

    def body(job: Job) -> Iterator[Progress]:
        if opts.kind == "documents" or (opts.kind == "auto" and opts.text_model is not None):
            return documents(job)
        if opts.kind == "products":
            return products(job)
        return _run(job, path_list, db, collection, embedder, model, pretrained, checkpoint,
                    device, batch_size, opts, on_status, documents, products)

    return Job(body, title=f"ingest into {collection}")


def _run(job: Job, paths: list[Path], db: DbTarget, collection: str, embedder: Embedder | None, model: str | None,
         pretrained: str | None, checkpoint: str | os.PathLike[str] | None, device: str | None,
         batch_size: int | None, opts: IngestOptions, on_status: Callable[[str], None] | None,
         documents: Callable[[Job], Iterator[Progress]],
         products: Callable[[Job], Iterator[Progress]]) -> Iterator[Progress]:
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
    if kind == "documents" or (not kind and _documents_only(paths)):
        yield from documents(job)
        return
    if kind == "products":  # a products collection takes product folders and manifests
        yield from products(job)
        return
    if kind not in ("images", "pdfs") and exists:
        raise CollectionError(
            f"collection {collection!r} does not look like an Images, PDF documents or Documents collection "
            "(no 'path' + 'embedding', 'pages' or 'chunks' fields); pass --kind images, pdfs or documents to check it"
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
        work = changed_files(found.files, _known_rows(backend, collection, fm, found.files), meter, report)
        meter.begin_work(len(work))
        yield meter.event("ingesting")

        thumbs = thumbnails_dir(backend, collection)
        thumbs_rel = thumbs.relative_to(backend.workspace).as_posix()
        budget = DecodeBudget(opts.decode_memory or default_decode_budget())
        report.decode_memory = budget.limit
        handler: Kind = (Images if kind == "images" else Pdfs)(embedder, fm, thumbs, thumbs_rel, opts, budget)
        handler.blank_for_null = blank_varchar_fields(description)
        yield from _pipeline(job, backend, collection, handler, work, report, meter)
    yield from _finish(db, collection, report, meter, cancelled=job.cancelled)


def _documents_only(paths: list[Path]) -> bool:
    """True when the paths hold text documents (.txt, .md, .html, paragraphs files) and no images."""
    from workbench.documents import NON_PDF_DOCUMENT_EXTENSIONS

    return bool(discover(paths, NON_PDF_DOCUMENT_EXTENSIONS).files) and not discover(paths, IMAGE_EXTENSIONS).files


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


def changed_files(files: list[FileEntry], known: dict[str, dict[str, Any]], meter: Meter,
                  report: IngestReport) -> list[tuple[FileEntry, str | None]]:
    """The files to (re)ingest, each with its stored sha256 (None when new); a file whose size and
    modification time match its stored row is counted as unchanged and left out."""
    work: list[tuple[FileEntry, str | None]] = []
    for e in files:
        row = known.get(str(e.path))
        if row is not None and row.get("bytes") == e.size and row.get("modified") is not None \
                and abs(float(row["modified"]) - e.mtime) < 1e-6:
            meter.unchanged += 1
            meter.files_done += 1
            meter.bytes_done += e.size
            report.unchanged += 1
        else:
            work.append((e, row.get("sha256") if row else None))
    return work


def _known_rows(backend: Backend, collection: str, fm: FieldMap, files: list[FileEntry]) -> dict[str, dict[str, Any]]:
    """Stored rows of the files about to be ingested, by path (only the fields needed to skip them)."""
    wanted = [f for f in ("path", "sha256", "bytes", "modified") if fm.has(f)]
    out: dict[str, dict[str, Any]] = {}
    ids = [pk_value(fm, str(e.path)) for e in files]
    for i in range(0, len(ids), 512):
        for row in backend.get(collection, ids[i : i + 512], output_fields=wanted):
            if row.get("path"):
                out[str(row["path"])] = row
    return out


def _pipeline(job: Job, backend: Backend, collection: str, handler: Kind, work: list[tuple[FileEntry, str | None]],
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

    batch: list[Result] = []
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
        report.decode_memory_peak = handler.budget.peak


def _commit(backend: Backend, collection: str, handler: Kind, batch: list[Result], report: IngestReport,
            meter: Meter) -> None:
    """Embed a batch and upsert it as a whole; rows the database rejects are retried one by one.

    Always upsert: a Milvus server's insert keeps both rows of a duplicate primary key."""
    rows = handler.rows(batch)
    if handler.blank_for_null:
        rows = [with_blanks(row, handler.blank_for_null) for row in rows]
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
                report.skipped.append(Skipped(str(r.entry.path), f"rejected by the database: {error_message(e)}"))
                meter.errors += 1
    for r in ok:
        report.truncated.extend(r.notes)
        if r.known:
            report.updated += 1
        else:
            report.new += 1
        meter.ingested += 1
    report.batches_committed += 1


def error_message(e: Exception) -> str:
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
