"""Document ingestion: text files, PDFs and paragraphs files into one entity per document.

    job = ingest_job(["~/notes"], db="my.db", collection="notes", options=IngestOptions(kind="documents"))
    for event in job: ...
    print(job.report.summary())

`.txt`, `.md`, `.html` and `.pdf` files are read (`workbench.doc_text`), cut into chunks of at most
`chunk_tokens` word pieces (`workbench.chunking`), and embedded with a text model
(`workbench.text_embedders`, the packaged all-MiniLM-L6-v2 by default). Each document becomes one
entity of the "Documents" template (`workbench.document_template`): its chunks are the elements of
the `chunks` Array of Structs, with text, position and page. PDFs also get their pages rendered and
embedded with CLIP into `pages`, when the collection has page images (by default: when it is created
from files that include PDFs). Parquet and JSONL paragraphs files (`workbench.paragraph_files`) give
one entity per record, their paragraphs as chunks, embedded here unless they carry `emb` vectors.

A document with more chunks than the `chunks` field holds is stored as several entities (parts) and
the report's notes say so. Unchanged files are skipped (same size and time, or same sha256), records of
a paragraphs file already stored with the file's sha256 are skipped, so a cancelled run resumes where
it stopped; bad files and bad records are reported with the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.chunking import ChunkSpec
from workbench.doc_text import TEXT_EXTENSIONS
from workbench.document_template import documents_template
from workbench.embedders import Embedder, EmbedderIdentity, TextEmbedder
from workbench.images import IMAGE_EXTENSIONS, FileEntry, discover
from workbench.jobs import IngestReport, Job, Meter, Progress
from workbench.paragraph_files import PARAGRAPH_EXTENSIONS
from workbench.settings import CollectionError, InputError
from workbench.targets import DbTarget, ensure_loaded, open_target
from workbench.template_schema import blank_varchar_fields, check_template_fits, template_schema
from workbench.templates import (
    Template,
    check_collection,
    existing_fields,
    read_meta,
    thumbnails_dir,
    write_meta,
)
from workbench.text_embedders import ChunkingEmbedder

if TYPE_CHECKING:
    from workbench.ingest import IngestOptions

DOCUMENT_EXTENSIONS = frozenset(TEXT_EXTENSIONS) | frozenset(PARAGRAPH_EXTENSIONS)
NON_PDF_DOCUMENT_EXTENSIONS = DOCUMENT_EXTENSIONS - {".pdf"}


def default_overlap(chunk_tokens: int) -> int:
    """The overlap used when none is given: 3/16 of the chunk budget (24 word pieces of 128)."""
    return chunk_tokens * 3 // 16


@dataclass
class _Setup:
    """What the run learned before the model loads."""

    exists: bool
    rows: int
    description: dict[str, Any] | None
    meta: dict[str, Any] | None
    page_images: bool
    template: Template


def _plan(backend: Any, collection: str, opts: IngestOptions, has_pdfs: bool) -> _Setup:
    exists = backend.has_collection(collection)
    description = backend.describe_collection(collection) if exists else None
    meta = read_meta(backend, collection) if exists else None
    max_chunks, max_pages, text_bytes = opts.max_chunks, opts.max_pages, None
    page_images = has_pdfs if opts.page_images is None else opts.page_images
    full_text = backend.capabilities.supports("full_text")  # a new collection gets words search where it can
    if description is not None:
        fields = existing_fields(description)
        kind = (meta or {}).get("kind")
        chunks = fields.get("chunks")
        if kind not in (None, "documents") or chunks is None or not chunks.is_struct_array:
            raise CollectionError(f"collection {collection!r} is not a Documents collection (it has no 'chunks' "
                                  "Array of Structs); ingest documents into a new collection")
        max_chunks = int(chunks.params.get("max_capacity") or max_chunks)
        text = chunks.sub.get("text")
        if text is not None and text.params.get("max_length"):
            text_bytes = int(text.params["max_length"])
        pages = fields.get("pages")
        if opts.page_images is True and pages is None:
            raise CollectionError(f"collection {collection!r} was made without page images (no 'pages' field); "
                                  "leave --page-images out, or ingest into a new collection")
        if opts.page_images is False and pages is not None:
            raise InputError(f"collection {collection!r} keeps PDF page images ('pages' field): every PDF "
                             "gets them; leave --no-page-images out")
        page_images = pages is not None
        full_text = "text_sparse" in fields and "text" in fields  # collections made before it keep working
        if pages is not None:
            max_pages = int(pages.params.get("max_capacity") or max_pages)
    options: dict[str, Any] = {"max_chunks": max_chunks, "page_images": page_images, "max_pages": max_pages,
                               "full_text": full_text}
    if text_bytes:
        options["text_max_bytes"] = text_bytes
    rows = backend.count(collection) if exists else 0
    return _Setup(exists, rows, description, meta, page_images, documents_template(**options))


def run_documents(job: Job, paths: list[Path], db: DbTarget, collection: str, opts: IngestOptions, *,
                  text_embedder: TextEmbedder | None = None, embedder: Embedder | None = None,
                  model: str | None = None, pretrained: str | None = None,
                  checkpoint: str | os.PathLike[str] | None = None, device: str | None = None,
                  batch_size: int | None = None,
                  on_status: Callable[[str], None] | None = None) -> Iterator[Progress]:
    """The body of a documents ingest job (see `workbench.ingest.ingest_job`, which calls it)."""
    from workbench.document_ingest import DocumentWriter
    from workbench.ingest import _known_rows, changed_files

    if isinstance(db, (str, os.PathLike)) and "://" not in os.fspath(db):
        db = os.path.expanduser(os.fspath(db))
    opts = replace(opts, chunk_overlap=default_overlap(opts.chunk_tokens) if opts.chunk_overlap is None
                   else opts.chunk_overlap)
    ChunkSpec(opts.chunk_tokens, opts.chunk_overlap or 0).check()  # before the model loads
    meter = Meter()
    yield meter.event("scanning")
    found = discover(paths, DOCUMENT_EXTENSIONS, IMAGE_EXTENSIONS)
    has_pdfs = any(e.path.suffix.lower() == ".pdf" for e in found.files)
    with open_target(db) as backend:  # briefly: an engine database stays unlocked while the models load
        setup = _plan(backend, collection, opts, has_pdfs)
        ws, caps, label = backend, backend.capabilities, backend.label
    check_template_fits(setup.template, caps, label, collection)
    report = IngestReport(os.fspath(db) if isinstance(db, (str, os.PathLike)) else label, collection, "documents",
                          files_total=len(found.files) + len(found.skipped), skipped=list(found.skipped),
                          other_kind=len(found.other_kind), ignored=found.ignored)
    job.report = report
    if not found.files and not found.skipped:
        raise InputError(f"no document files ({', '.join(sorted(DOCUMENT_EXTENSIONS))}) found in "
                         f"{', '.join(str(p) for p in paths)}")
    meter.files_total = report.files_total
    meter.bytes_total = sum(e.size for e in found.files)
    meter.files_done = meter.errors = len(found.skipped)
    if job.cancelled:
        yield from _finish(db, collection, report, meter, cancelled=True)
        return

    yield meter.event("loading model")
    text = _text_model(ws, collection, setup, opts, text_embedder, device, batch_size, on_status)
    clip = _image_model(ws, collection, setup, embedder, model, pretrained, checkpoint, device, batch_size,
                        on_status) if setup.page_images else None
    report.model = text.identity.describe() + (f"; page images: {clip.identity.describe()}" if clip else "")
    dims = {"image": clip.dim} if clip is not None else None

    with open_target(db) as backend:
        if not backend.has_collection(collection):
            schema, indexes = template_schema(setup.template, text.dim, backend.capabilities, dims)
            backend.create_collection(collection, schema, indexes)
            report.created = True
        description = backend.describe_collection(collection)
        fm = check_collection(collection, description, setup.template, text.dim, dims)
        ensure_loaded(backend, collection)
        write_meta(backend, collection, _new_meta(setup.meta, setup.template, text, clip, opts))

        yield meter.event("checking")
        plain = [e for e in found.files if e.path.suffix.lower() in TEXT_EXTENSIONS]
        tables = [e for e in found.files if e.path.suffix.lower() in PARAGRAPH_EXTENSIONS]
        work = changed_files(plain, _known_rows(backend, collection, fm, plain), meter, report)
        meter.begin_work(len(work) + len(tables))
        yield meter.event("ingesting")
        thumbs = thumbnails_dir(backend, collection)
        writer = DocumentWriter(backend, collection, fm, text, clip, opts, report, meter,
                                thumbs, thumbs.relative_to(backend.workspace).as_posix())
        writer.blank_for_null = blank_varchar_fields(description)
        yield from _plain_files(job, writer, work, opts)
        for entry in tables:
            if job.cancelled:
                break
            yield from writer.paragraph_file(job, entry)
    yield from _finish(db, collection, report, meter, cancelled=job.cancelled)


def _plain_files(job: Job, writer: Any, work: list[tuple[FileEntry, str | None]],
                 opts: IngestOptions) -> Iterator[Progress]:
    """Extraction (and PDF page images) on worker threads, chunking and text embedding here."""
    workers = max(1, min(opts.workers or 2, 4))
    window = 4 * workers
    todo = iter(work)
    pending: list[tuple[FileEntry, Future[Any]]] = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="documents")

    def fill() -> None:
        while len(pending) < window and not job.cancelled:
            nxt = next(todo, None)
            if nxt is None:
                return
            pending.append((nxt[0], pool.submit(writer.extract, nxt[0], nxt[1])))

    try:
        fill()
        while pending and not job.cancelled:
            entry, fut = pending.pop(0)
            writer.take(entry, fut)
            fill()
            if writer.due() and not job.cancelled:
                writer.commit()
            yield writer.meter.event("ingesting", current=str(entry.path))
        if not job.cancelled:
            writer.commit()
            yield writer.meter.event("ingesting")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _text_model(ws: Any, collection: str, setup: _Setup, opts: IngestOptions, given: TextEmbedder | None,
                device: str | None, batch_size: int | None,
                on_status: Callable[[str], None] | None) -> ChunkingEmbedder:
    from workbench.text_embedders import load_text_embedder, text_embedder_for_collection

    rec = (setup.meta or {}).get("embedder")
    if given is not None:
        if rec and setup.rows:
            EmbedderIdentity.from_dict(rec).check_same(given.identity, collection)
        text: TextEmbedder = given
    elif setup.exists and setup.rows and rec:
        text = text_embedder_for_collection(ws, collection, opts.text_model, device, batch_size, on_status)
    else:  # a new or empty collection takes any text model
        text = load_text_embedder(opts.text_model, device, batch_size, on_status)
    if not isinstance(text, ChunkingEmbedder):
        raise InputError(f"the text model {text.identity.describe()} cannot count tokens, which chunking needs")
    return text


def _image_model(ws: Any, collection: str, setup: _Setup, given: Embedder | None, model: str | None,
                 pretrained: str | None, checkpoint: str | os.PathLike[str] | None, device: str | None,
                 batch_size: int | None, on_status: Callable[[str], None] | None) -> Embedder:
    from workbench.embedders import embedder_for_collection, load_clip_embedder

    rec = (setup.meta or {}).get("image_embedder")
    if given is not None:
        clip = given
    elif rec and setup.rows:
        clip = embedder_for_collection(ws, collection, model, pretrained, checkpoint, device, batch_size, on_status)
    else:
        clip = load_clip_embedder(model, pretrained, checkpoint, device, batch_size, on_status)
    if rec and setup.rows:
        EmbedderIdentity.from_dict(rec).check_same(clip.identity, collection)
    return clip


def _new_meta(meta: dict[str, Any] | None, template: Template, text: ChunkingEmbedder, clip: Embedder | None,
              opts: IngestOptions) -> dict[str, Any]:
    out = dict(meta or {})
    out.update(kind="documents", template=template.name, embedder=text.identity.to_dict(),
               text_model_source=getattr(text, "source", None),
               image_embedder=clip.identity.to_dict() if clip is not None else None,
               checkpoint_path=getattr(clip, "checkpoint_path", None),
               chunking={"max_tokens": opts.chunk_tokens, "overlap": opts.chunk_overlap}, multiview=False,
               grid=None, format=1)
    out.setdefault("created", time.time())
    return out


def _finish(db: DbTarget, collection: str, report: IngestReport, meter: Meter, cancelled: bool) -> Iterator[Progress]:
    from workbench.ingest import _finish as finish

    yield from finish(db, collection, report, meter, cancelled=cancelled)
