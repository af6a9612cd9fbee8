"""The writer of document ingestion: files to chunks, chunks to embeddings, embeddings to entities.

`DocumentWriter` is driven by `workbench.documents.run_documents`: `extract` runs on worker threads
(reading, text extraction, PDF page renders and their CLIP vectors), `take` chunks the text on the
calling thread and queues the document, `commit` embeds the queued chunks with the text model and
upserts the entities, a batch at a time. `paragraph_file` streams the records of a Parquet or JSONL
paragraphs file through the same queue.

Entity ids are derived from the path: part 1 of a file is `sha256(path)[:32]` (as for images and PDFs),
part k `sha256(path#partk)`, a record of a paragraphs file `sha256(path#key)` (and `#partk`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.backends import Backend, BackendError
from workbench.backends.shapes import filter_literal as lit
from workbench.chunking import Chunk, ChunkSpec, Paragraph, chunk_paragraphs
from workbench.doc_text import DocText, extract_text, pdf_page_paragraphs, pdf_text
from workbench.embedders import Embedder, PreparingEmbedder, l2_normalise
from workbench.images import (
    FileEntry,
    SkipFile,
    Skipped,
    read_file,
    save_thumbnail,
    sha256_bytes,
    sha256_file,
)
from workbench.jobs import IngestReport, Job, Meter, Progress
from workbench.paragraph_files import PARAGRAPH_EXTENSIONS, BadRecord, Record, read_records
from workbench.pdfs import OpenPdf, page_thumbnail_name
from workbench.template_schema import with_blanks
from workbench.templates import FieldMap
from workbench.text_embedders import ChunkingEmbedder

if TYPE_CHECKING:
    from workbench.ingest import IngestOptions

_LISTED_BAD_RECORDS = 20  # per file; the rest are counted in a note


class _Unchanged:
    """A file whose content hash matches the stored entity."""


UNCHANGED = _Unchanged()


@dataclass
class _Extracted:
    entry: FileEntry
    known: bool
    sha256: str
    doc: DocText
    pages: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Doc:
    """A document waiting to be embedded and written."""

    label: str  # path, or "path (row 3)" for a record
    id_base: str
    fields: dict[str, Any]
    chunks: list[Chunk]
    positions: list[int]
    vecs: np.ndarray | None = None  # precomputed (paragraphs files with emb)
    pages: list[dict[str, Any]] | None = None
    known: bool = False
    record: bool = False


@dataclass
class _FileStats:
    new: int = 0
    resumed: int = 0
    bad: int = 0


class DocumentWriter:
    """Turns files into entities of a Documents collection; see the module docstring."""

    def __init__(self, backend: Backend, collection: str, fm: FieldMap, text: ChunkingEmbedder,
                 clip: Embedder | None, opts: IngestOptions, report: IngestReport, meter: Meter, thumbs: Path,
                 thumbs_rel: str) -> None:
        self.backend, self.collection, self.fm = backend, collection, fm
        self.text, self.clip, self.opts = text, clip, opts
        self.report, self.meter = report, meter
        self.thumbs, self.thumbs_rel = thumbs, thumbs_rel
        self.blank_for_null: frozenset[str] = frozenset()
        text_bytes = fm.max_length("chunks", "text") or 8192
        self.spec = ChunkSpec(opts.chunk_tokens, opts.chunk_overlap or 0, text_bytes).check(text.max_tokens)
        self.capacity = int(fm.present["chunks"].params.get("max_capacity") or opts.max_chunks)
        pages = fm.present.get("pages")
        self.max_pages = int(pages.params.get("max_capacity") or opts.max_pages) if pages is not None else 0
        self.commit_chunks = opts.commit_size or 4 * text.batch_size
        self.batch: list[_Doc] = []
        self.batch_chunks = 0
        self._stats: _FileStats | None = None

    # --- plain files -------------------------------------------------------------------
    def extract(self, entry: FileEntry, known_sha: str | None) -> _Extracted | _Unchanged:
        """Read and extract one file (worker thread); PDFs with page images are rendered and embedded."""
        if entry.path.suffix.lower() == ".pdf":
            digest = sha256_file(entry.path)
            if known_sha == digest:
                return UNCHANGED
            if self.clip is None:
                return _Extracted(entry, known_sha is not None, digest, pdf_text(entry, digest))
            return self._pdf_with_pages(entry, known_sha is not None, digest)
        data = read_file(entry.path)
        digest = sha256_bytes(data)
        if known_sha == digest:
            return UNCHANGED
        return _Extracted(entry, known_sha is not None, digest, extract_text(entry, data))

    def _pdf_with_pages(self, entry: FileEntry, known: bool, digest: str) -> _Extracted:
        assert self.clip is not None
        clip = self.clip
        prepare = clip.prepare_image if isinstance(clip, PreparingEmbedder) else (lambda im: im)
        embed = clip.embed_prepared if isinstance(clip, PreparingEmbedder) else clip.embed_images
        step = int(getattr(clip, "batch_size", 32) or 32)
        numbers: list[int] = []
        paragraphs: list[Paragraph] = []
        vecs: list[np.ndarray] = []
        waiting: list[Any] = []
        with OpenPdf(entry, self.max_pages, 1 << 30, digest=digest) as pdf:
            for page in pdf.pages():
                save_thumbnail(page.image, self.thumbs / page_thumbnail_name(digest, page.number))
                waiting.append(prepare(page.image))
                numbers.append(page.number)
                paragraphs += pdf_page_paragraphs(page.text, page.number)
                if len(waiting) >= step:
                    vecs.append(embed(waiting))
                    waiting = []
            paragraphs += [p for number, text in pdf.page_texts(self.max_pages)
                           for p in pdf_page_paragraphs(text, number)]
            info = pdf.data
        if waiting:
            vecs.append(embed(waiting))
        img = np.concatenate(vecs) if vecs else np.zeros((0, clip.dim), np.float32)
        pages = [{"page": n, "image_vector": img[k], "thumbnail": f"{self.thumbs_rel}/{page_thumbnail_name(digest, n)}"}
                 for k, n in enumerate(numbers)]
        notes = []
        if info.page_count > self.max_pages:
            notes.append(f"{entry.path}: {info.page_count} pages; page images of the first {self.max_pages} only "
                         f"(the pages field holds {self.max_pages}), text chunks of all pages")
        doc = DocText("pdf", info.title, paragraphs, info.page_count)
        return _Extracted(entry, known, digest, doc, pages, notes)

    def take(self, entry: FileEntry, fut: Future[Any]) -> None:
        """Collect one extraction: report it, or chunk the text and queue the document."""
        try:
            res = fut.result()
        except SkipFile as e:
            res = Skipped(str(entry.path), str(e))
        except Exception as e:  # an odd file must not stop the run
            res = Skipped(str(entry.path), f"unexpected error: {type(e).__name__}: {e}")
        m = self.meter
        m.files_done += 1
        m.bytes_done += entry.size
        m.work_done += 1
        if isinstance(res, _Unchanged):
            self.report.unchanged += 1
            m.unchanged += 1
            return
        if isinstance(res, _Extracted):
            chunks = chunk_paragraphs(res.doc.paragraphs, self.text.count_tokens, self.spec)
            if chunks:
                self.report.notes += res.notes
                ent = res.entry
                fields = {"path": str(ent.path), "file_name": ent.path.name, "folder": ent.path.parent.name,
                          "bytes": ent.size, "modified": ent.mtime, "sha256": res.sha256, "record_key": None,
                          "title": res.doc.title, "format": res.doc.format, "page_count": res.doc.page_count}
                self._queue(_Doc(str(ent.path), str(ent.path), fields, chunks, [c.position for c in chunks],
                                 pages=res.pages, known=res.known))
                return
            why = "no text to embed"
            if res.doc.format == "pdf":
                why += " (the PDF has no text layer: scanned pages? --kind pdfs ingests page images only)"
            res = Skipped(str(entry.path), why)
        self.report.skipped.append(res)
        m.errors += 1

    def _queue(self, doc: _Doc) -> None:
        self.batch.append(doc)
        self.batch_chunks += len(doc.chunks)

    def due(self) -> bool:
        """Whether enough chunks wait for a commit."""
        return self.batch_chunks >= self.commit_chunks

    # --- writing -----------------------------------------------------------------------
    def _fit(self, d: _Doc, name: str, value: str | None, sub: str | None = None) -> str | None:
        """`value` cut to the field's max_length (UTF-8 bytes); the cut is listed in the report."""
        from workbench.jobs import Truncated

        if value is None:
            return None
        ml = self.fm.max_length(name, sub)
        data = value.encode("utf-8")
        if ml is None or len(data) <= ml:
            return value
        what = f"{name}[{sub}]" if sub else name
        self.report.truncated.append(Truncated(d.label, what, ml, len(data),
                                               f"{what} cut to {ml:,} of {len(data):,} bytes (the field's max_length)"))
        return data[:ml].decode("utf-8", "ignore")

    def _rows(self, d: _Doc, vecs: np.ndarray) -> list[dict[str, Any]]:
        from workbench.ingest_work import pk_value as _pk_value

        fm = self.fm
        n = len(d.chunks)
        parts = max(1, math.ceil(n / self.capacity))
        if parts > 1:
            self.report.notes.append(f"{d.label}: {n} chunks, more than the {self.capacity} one entity holds: "
                                     f"stored as {parts} entities (part 1 to {parts})")
        out = []
        for k in range(parts):
            lo, hi = k * self.capacity, min(n, (k + 1) * self.capacity)
            row: dict[str, Any] = {fm.pk_name: _pk_value(fm, d.id_base if k == 0 else f"{d.id_base}#part{k + 1}")}
            for name, value in d.fields.items():
                if fm.has(name):
                    row[name] = self._fit(d, name, value) if isinstance(value, str) else value
            row.update(part=k + 1)
            for name, value in (("parts", parts), ("chunk_count", n)):
                if fm.has(name):
                    row[name] = value
            if fm.has("embedding"):
                row["embedding"] = l2_normalise(vecs[lo:hi].mean(axis=0, keepdims=True))[0]
            row["chunks"] = [{"text": self._fit(d, "chunks", d.chunks[i].text, "text") or "",
                              "position": int(d.positions[i]), "page": int(d.chunks[i].page), "emb": vecs[i]}
                             for i in range(lo, hi)]
            if fm.has("text"):  # the input of the BM25 function (document_template): this part's chunks
                row["text"] = self._fit(d, "text", "\n\n".join(c["text"] for c in row["chunks"]))
            if fm.has("pages"):
                row["pages"] = (d.pages or []) if k == 0 else []
            if self.blank_for_null:
                row = with_blanks(row, self.blank_for_null)
            out.append(row)
        return out

    def commit(self) -> None:
        """Embed the queued chunks and upsert their documents (a rejected batch is retried one document
        at a time, all parts of a document together); stale parts of updated files are deleted."""
        from workbench.ingest import error_message

        docs, self.batch, self.batch_chunks = self.batch, [], 0
        if not docs:
            return
        texts = [c.text for d in docs if d.vecs is None for c in d.chunks]
        embedded = self.text.embed_texts(texts)
        rows: list[list[dict[str, Any]]] = []
        k = 0
        for d in docs:
            if d.vecs is None:
                v, k = embedded[k:k + len(d.chunks)], k + len(d.chunks)
            else:
                v = d.vecs
            rows.append(self._rows(d, v))
        try:
            self.backend.upsert(self.collection, [r for rs in rows for r in rs])
            ok = docs
        except BackendError:
            ok = []
            for d, rs in zip(docs, rows):
                try:
                    self.backend.upsert(self.collection, rs)
                    ok.append(d)
                except BackendError as e:
                    self._reject(d, f"rejected by the database: {error_message(e)}")
        done = {id(d) for d in ok}
        for d, rs in zip(docs, rows):
            if id(d) not in done:
                continue
            if d.known:  # an updated file may have had more parts before
                self.backend.delete(self.collection, filter=f"path == {lit(d.fields['path'])} and part > {len(rs)}")
            if d.record:
                assert self._stats is not None
                self._stats.new += 1
            else:
                self.report.updated += d.known
                self.report.new += not d.known
                self.meter.ingested += 1
        self.report.batches_committed += 1

    def _reject(self, d: _Doc, reason: str) -> None:
        if d.record:
            assert self._stats is not None
            self._stats.bad += 1
        else:
            self.meter.errors += 1
        self.report.skipped.append(Skipped(d.label, reason))

    # --- paragraphs files --------------------------------------------------------------
    def paragraph_file(self, job: Job, entry: FileEntry) -> Iterator[Progress]:
        """Ingest the records of a Parquet/JSONL paragraphs file, committing as it goes; records already
        stored from the same file content are skipped, rows of an older content deleted at the end."""
        path = str(entry.path)
        stats = self._stats = _FileStats()
        m = self.meter
        error: str | None = None
        where = f"path == {lit(path)}"
        digest = ""
        try:
            digest = sha256_file(entry.path)
            had_rows = self.backend.count(self.collection, where) > 0
            done = {r[self.fm.pk_name] for batch in self.backend.iter_rows(
                self.collection, output_fields=[self.fm.pk_name], filter=f"{where} and sha256 == {lit(digest)} "
                "and part == 1") for r in batch}
            yield from self._records(job, entry, digest, done, stats)
        except SkipFile as e:
            error = str(e)
        if self.batch and not job.cancelled:
            self.commit()
        stale = 0
        if error is None and not job.cancelled:
            stale = self.backend.count(self.collection, f"{where} and sha256 != {lit(digest)}")
            if stale:
                self.backend.delete(self.collection, filter=f"{where} and sha256 != {lit(digest)}")
        m.files_done += 1
        m.bytes_done += entry.size
        m.work_done += 1
        if error is not None:
            self.report.skipped.append(Skipped(path, error + (f" ({stats.new} record(s) before it were stored)"
                                                              if stats.new else "")))
            m.errors += 1
        elif stats.new == 0 and not stale and not stats.bad and not job.cancelled:
            self.report.unchanged += 1
            m.unchanged += 1
        elif stats.new or stale:
            self.report.updated += had_rows
            self.report.new += not had_rows
            m.ingested += 1
        self.report.notes.append(f"{path}: {stats.new} record(s) stored, {stats.resumed} already there, "
                                 f"{stats.bad} bad" + (", stopped by cancel" if job.cancelled else ""))
        if stats.bad > _LISTED_BAD_RECORDS:
            self.report.notes.append(f"{path}: {stats.bad - _LISTED_BAD_RECORDS} more bad record(s) not listed")
        self._stats = None
        yield m.event("ingesting", current=path)

    def _records(self, job: Job, entry: FileEntry, digest: str, done: set[Any],
                 stats: _FileStats) -> Iterator[Progress]:
        from workbench.ingest_work import pk_value as _pk_value

        path = str(entry.path)
        fmt = PARAGRAPH_EXTENSIONS[entry.path.suffix.lower()]
        seen: dict[str, str] = {}
        checked = False
        for item in read_records(entry.path):
            if job.cancelled:
                return
            if isinstance(item, Record) and item.key in seen:
                item = BadRecord(item.where, f"key {item.key} appears again (first at {seen[item.key]})")
            if isinstance(item, Record) and item.embs is not None and item.embs.shape[1] != self.text.dim:
                item = BadRecord(item.where, f"emb has {item.embs.shape[1]} numbers, but the text model "
                                 f"{self.text.identity.describe()} gives {self.text.dim}")
            if isinstance(item, BadRecord):
                stats.bad += 1
                if stats.bad <= _LISTED_BAD_RECORDS:
                    self.report.skipped.append(Skipped(f"{path} ({item.where})", item.reason))
                continue
            seen[item.key] = item.where
            id_base = f"{path}#{item.key}"
            if _pk_value(self.fm, id_base) in done:
                stats.resumed += 1
                continue
            if item.embs is not None and not checked:
                self._check_precomputed(item)
                checked = True
            self._queue(self._record_doc(entry, fmt, digest, item, id_base))
            if self.due():
                self.commit()
                yield self.meter.event("ingesting", current=path,
                                       message=f"{entry.path.name}: {stats.new} record(s) stored")

    def _record_doc(self, entry: FileEntry, fmt: str, digest: str, rec: Record, id_base: str) -> _Doc:
        fields = {"path": str(entry.path), "file_name": entry.path.name, "folder": entry.path.parent.name,
                  "bytes": entry.size, "modified": entry.mtime, "sha256": digest, "record_key": rec.key,
                  "title": rec.title, "format": fmt, "page_count": 0}
        label = f"{entry.path} ({rec.where})"
        if rec.embs is not None:
            chunks = [Chunk(t, i, 0, 0, i) for i, t in enumerate(rec.texts)]
            limit = self.fm.max_length("chunks", "text")
            cut = sum(1 for t in rec.texts if limit is not None and len(t.encode("utf-8")) > limit)
            if cut:
                self.report.notes.append(f"{label}: {cut} paragraph text(s) over {limit} bytes stored cut "
                                         "(their embeddings are of the whole text)")
            return _Doc(label, id_base, fields, chunks, list(rec.positions), l2_normalise(rec.embs), record=True)
        chunks = chunk_paragraphs([Paragraph(t) for t in rec.texts], self.text.count_tokens, self.spec, merge=False)
        return _Doc(label, id_base, fields, chunks, [rec.positions[c.paragraph] for c in chunks], record=True)

    def _check_precomputed(self, rec: Record) -> None:
        """SkipFile unless the file's `emb` vectors are the text model's (cosine >= 0.9 on a sample)."""
        assert rec.embs is not None
        k = min(4, len(rec.texts))
        cos = float(np.mean(np.sum(self.text.embed_texts(rec.texts[:k]) * l2_normalise(rec.embs[:k]), axis=1)))
        if cos < 0.9:
            raise SkipFile(f"the emb vectors in the file are not the text model's: {self.text.identity.describe()} "
                           f"embeds the paragraph texts of {rec.where} at cosine {cos:.2f} to them; pass "
                           "--text-model with the model that made them, or drop the emb field to embed the text here")
