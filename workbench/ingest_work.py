"""What ingestion does with each file, by kind: the worker-thread task and the rows it becomes.

`Images.task` and `Pdfs.task` run on the ingestion thread pool. Every decode holds bytes of the
job's `DecodeBudget` from before its pixels are decoded until the thumbnail and the model input
are made, so the decoded pixels in flight across all workers stay within the budget (an image
larger than the whole budget is decoded alone). Limits that make a file go in only in part (PDF
pages, page text, field lengths, multi-page TIFFs) become `Truncated` notes of the report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.embedders import Embedder, PreparingEmbedder, l2_normalise
from workbench.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    MODEL_SIDE,
    PDF_EXTENSIONS,
    FileEntry,
    SkipFile,
    open_image,
    read_source,
    save_thumbnail,
    sha256_file,
    views_of,
)
from workbench.jobs import Truncated
from workbench.memory import DecodeBudget, default_decode_budget
from workbench.pdfs import DEFAULT_MAX_PAGES, DEFAULT_TEXT_MAX_BYTES, OpenPdf, page_thumbnail_name
from workbench.perceptual import image_hashes
from workbench.templates import FieldMap


@dataclass
class IngestOptions:
    """Tuning knobs of an ingest run (the defaults suit most folders).

    `decode_memory` is the budget, in bytes, of decoded pixels that all decoding workers may hold
    at once; None means `workbench.memory.default_decode_budget()` (a quarter of the available
    memory, between 256 MiB and 1 GiB).
    """

    kind: str = "auto"  # "auto", "images", "pdfs", "documents" (workbench.documents) or "products" (workbench.products)
    multiview: bool = False
    grid: int = 3
    workers: int | None = None
    commit_size: int | None = None  # images (or PDF pages) per committed batch
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int = DEFAULT_MAX_PAGES
    text_max_bytes: int = DEFAULT_TEXT_MAX_BYTES
    decode_memory: int | None = None
    # documents (workbench.documents): text model, chunking, and CLIP page images of PDFs (None: auto)
    text_model: str | None = None
    chunk_tokens: int = 128
    chunk_overlap: int | None = None  # None: 3/16 of chunk_tokens (24 for 128)
    max_chunks: int = 1024
    page_images: bool | None = None


class Unchanged:
    """Worker result for a file whose content hash matches the stored row."""


UNCHANGED = Unchanged()


def path_id(path: str) -> str:
    """Primary key of a file: the first 32 hex digits of the sha256 of its absolute path."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]


def pk_value(fm: FieldMap, path: str) -> Any:
    """The primary key value of `path` for the collection's key type (VARCHAR or INT64)."""
    pid = path_id(path)
    return int(pid[:16], 16) & (2**63 - 1) if fm.pk_is_int else pid


@dataclass
class Result:
    """What a worker made of one file: `units` model inputs (images or pages) and the payload
    that `Kind.rows` turns into rows; `notes` say what of the file did not fit."""

    entry: FileEntry
    known: bool
    units: int
    payload: Any
    notes: list[Truncated] = field(default_factory=list)


class Kind:
    """What differs between image and PDF ingestion."""

    name = ""
    extensions: frozenset[str] = frozenset()

    def __init__(self, embedder: Embedder, fm: FieldMap, thumbs: Path, thumbs_rel: str, opts: IngestOptions,
                 budget: DecodeBudget | None = None) -> None:
        self.embedder = embedder
        self.fm = fm
        self.blank_for_null: frozenset[str] = frozenset()  # VARCHAR fields that cannot hold null: "" instead
        self.thumbs = thumbs
        self.thumbs_rel = thumbs_rel
        self.opts = opts
        self.budget = budget or DecodeBudget(opts.decode_memory or default_decode_budget())
        self._prepare: Callable[[Any], Any] = (
            embedder.prepare_image if isinstance(embedder, PreparingEmbedder) else (lambda im: im)
        )

    def embed_prepared(self, items: Sequence[Any]) -> np.ndarray:
        if isinstance(self.embedder, PreparingEmbedder):
            return self.embedder.embed_prepared(items)
        return self.embedder.embed_images(items)

    def task(self, entry: FileEntry, known_sha: str | None) -> Result | Unchanged:
        raise NotImplementedError

    def rows(self, results: list[Result]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def check_path(self, entry: FileEntry) -> None:
        """SkipFile when the file's path does not fit the collection's `path` field (a cut path
        would name no file, and the next run could not recognise the file as done)."""
        ml = self.fm.max_length("path")
        size = len(str(entry.path).encode("utf-8"))
        if ml is not None and size > ml:
            raise SkipFile(f"path is {size:,} bytes, longer than the collection's path field "
                           f"(max_length {ml:,})")

    def fit(self, r: Result, name: str, value: str | None, sub: str | None = None) -> str | None:
        """`value` cut to the field's max_length (UTF-8 bytes), noting the cut in `r.notes`."""
        if value is None:
            return None
        ml = self.fm.max_length(name, sub)
        data = value.encode("utf-8")
        if ml is None or len(data) <= ml:
            return value
        what = f"{name}[{sub}]" if sub else name
        r.notes.append(Truncated(str(r.entry.path), what, ml, len(data),
                                 f"{what} cut to {ml:,} of {len(data):,} bytes (the field's max_length)"))
        return data[:ml].decode("utf-8", "ignore")

    def common(self, r: Result, d: Any) -> dict[str, Any]:
        fm = self.fm
        row: dict[str, Any] = {fm.pk_name: pk_value(fm, d.path)}
        for name in ("path", "file_name", "folder", "sha256"):
            if fm.has(name):
                row[name] = self.fit(r, name, getattr(d, name))
        if fm.has("bytes"):
            row["bytes"] = int(d.bytes)
        if fm.has("modified"):
            row["modified"] = float(d.modified)
        return row


class Images(Kind):
    name = "images"
    extensions = IMAGE_EXTENSIONS

    def task(self, entry: FileEntry, known_sha: str | None) -> Result | Unchanged:
        self.check_path(entry)
        data, digest = read_source(entry)
        if known_sha == digest:
            return UNCHANGED
        grid = self.opts.grid if self.opts.multiview else 1
        notes: list[Truncated] = []
        with open_image(entry, min_side=MODEL_SIDE * grid, max_pixels=self.opts.max_pixels, data=data,
                        digest=digest) as opened:
            del data  # the decoder holds it while it needs it
            if opened.frames > 1 and opened.info.format == "TIFF":
                notes.append(Truncated(str(entry.path), "pages", 1, opened.frames,
                                       f"indexed page 1 of {opened.frames} (a multi-page TIFF: only the "
                                       "first page is ingested)"))
            with self.budget.hold(opened.cost):
                dec = opened.decode()
                save_thumbnail(dec.image, self.thumbs / f"{digest}.jpg")
                if self.opts.multiview:
                    views = views_of(dec.image, self.opts.grid)
                    prepared = [self._prepare(crop) for _, crop in views]
                    boxes = [tuple(round(v * dec.scale) for v in box) for box, _ in views]
                    del views
                else:
                    prepared, boxes = [self._prepare(dec.image)], []
                phash = image_hashes(dec.image) if self.fm.has("phash") else None
                info = dec.info
                del dec  # the working image goes before the budget is given back
        return Result(entry, known_sha is not None, len(prepared), (info, prepared, boxes, phash), notes)

    def rows(self, results: list[Result]) -> list[dict[str, Any]]:
        flat = [p for r in results for p in r.payload[1]]
        vecs = self.embed_prepared(flat)
        out, i = [], 0
        fm = self.fm
        for r in results:
            info, prepared, boxes, phash = r.payload
            vs = vecs[i : i + len(prepared)]
            i += len(prepared)
            row = self.common(r, info)
            for name in ("width", "height"):
                if fm.has(name):
                    row[name] = int(getattr(info, name))
            for name in ("format", "taken_at", "camera"):
                if fm.has(name):
                    row[name] = self.fit(r, name, getattr(info, name))
            if fm.has("thumbnail"):
                row["thumbnail"] = f"{self.thumbs_rel}/{info.sha256}.jpg"
            if phash is not None:
                row["phash"] = phash
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


class Pdfs(Kind):
    """PDFs are rendered and embedded on the worker threads, a chunk of pages at a time, so that
    memory holds vectors, not page images (the embedder serialises inference)."""

    name = "pdfs"
    extensions = PDF_EXTENSIONS

    def task(self, entry: FileEntry, known_sha: str | None) -> Result | Unchanged:
        self.check_path(entry)
        digest = sha256_file(entry.path)
        if known_sha == digest:
            return UNCHANGED
        chunk_size = int(getattr(self.embedder, "batch_size", 32) or 32)
        numbers: list[int] = []
        texts: list[str] = []
        vecs: list[np.ndarray] = []
        chunk: list[Any] = []
        cut_texts: list[int] = []  # UTF-8 bytes of the page texts that were cut
        limit = self.opts.text_max_bytes
        with OpenPdf(entry, self.opts.max_pages, limit, digest=digest) as pdf, \
                closing(pdf.pages(self.budget)) as pages:
            for page in pages:
                save_thumbnail(page.image, self.thumbs / page_thumbnail_name(digest, page.number))
                chunk.append(self._prepare(page.image))
                numbers.append(page.number)
                texts.append(page.text)
                if page.text_bytes > limit:
                    cut_texts.append(page.text_bytes)
                del page
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
        notes = []
        if data.page_count > len(numbers):
            notes.append(Truncated(str(entry.path), "pages", len(numbers), data.page_count,
                                   f"indexed {len(numbers):,} of {data.page_count:,} pages (the collection "
                                   f"holds at most {self.opts.max_pages:,} pages per document)"))
        if cut_texts:
            notes.append(Truncated(str(entry.path), "page text", limit, max(cut_texts),
                                   f"text of {len(cut_texts):,} page(s) cut to {limit:,} bytes (the longest "
                                   f"had {max(cut_texts):,})"))
        return Result(entry, known_sha is not None, len(numbers), (data, numbers, texts, img, txt), notes)

    def rows(self, results: list[Result]) -> list[dict[str, Any]]:
        fm = self.fm
        out = []
        for r in results:
            data, numbers, texts, img, txt = r.payload
            row = self.common(r, data)
            for name in ("title", "author"):
                if fm.has(name):
                    row[name] = self.fit(r, name, getattr(data, name))
            if fm.has("page_count"):
                row["page_count"] = int(data.page_count)
            pages = []
            for k, number in enumerate(numbers):
                p: dict[str, Any] = {"page": number, "image_vector": img[k]}
                if fm.has_sub("pages", "text"):
                    p["text"] = self.fit(r, "pages", texts[k], "text") or ""
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
