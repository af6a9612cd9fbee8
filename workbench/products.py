"""Product ingestion: one entity per product, its photos as the elements of an Array of Structs.

    job = ingest_job(["catalogue/products"], db="shop.db", collection="products",
                     options=IngestOptions(kind="products"))       # or a manifest.csv / .jsonl
    for event in job: ...
    print(job.report.summary())

Products come from product folders or a manifest (`workbench.product_sources`). Each becomes one
entity of the "Product with multiple images" template (`workbench.templates.product_template`): the SKU
is the primary key, title, price, description and category land in scalar fields, and each image is an
element of `images` with its path, CLIP embedding, angle, is_primary, thumbnail and sha256. The
product's `embedding` is its main image's. Search then ranks products by MAX_SIM over their images
(`workbench.product_search`), so a product appears once however many of its photos match.

Images are read, checked, thumbnailed and prepared on a thread pool (decoded pixels within one
`DecodeBudget`), embedded in batches here, and each batch of products is upserted as a whole. A
product's `digest` (sha256 of its record and of its image files' sizes and times) is stored: running
the same job again skips unchanged products, so a cancelled run resumes. An image that cannot be used
is reported (with its product) and left out; a product with no usable image is reported and not
written; a product with more images than the field holds keeps its main image and the first others.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.backends import Backend, BackendError
from workbench.embedders import Embedder, PreparingEmbedder
from workbench.images import FileEntry, SkipFile, Skipped, open_image, read_source, save_thumbnail
from workbench.jobs import IngestReport, Job, Meter, Progress, Truncated
from workbench.memory import DecodeBudget, default_decode_budget
from workbench.product_sources import ProductSpec, read_sources
from workbench.settings import CollectionError, InputError
from workbench.targets import DbTarget, ensure_loaded, open_target
from workbench.template_schema import blank_varchar_fields, check_template_fits, template_schema
from workbench.templates import (
    FieldMap,
    check_collection,
    existing_fields,
    guess_kind,
    product_template,
    read_meta,
    thumbnails_dir,
    write_meta,
)

if TYPE_CHECKING:
    from workbench.ingest import IngestOptions


@dataclass
class _Prepared:
    """A product whose images were read on a worker: the usable ones, prepared for the model."""

    spec: ProductSpec
    digest: str
    known: bool
    images: list[tuple[Any, str, Any]] = field(default_factory=list)  # (ProductImage, sha256, model input)
    bad: list[Skipped] = field(default_factory=list)


def product_digest(spec: ProductSpec) -> str:
    """sha256 of the product's record and of each image file's size and modification time."""
    files = []
    for im in spec.images:
        try:
            st = im.path.stat()
            files.append((str(im.path), st.st_size, st.st_mtime_ns))
        except OSError:
            files.append((str(im.path), -1, -1))
    return hashlib.sha256(json.dumps([spec.record(), files], sort_keys=True).encode()).hexdigest()


def run_products(job: Job, paths: list[Path], db: DbTarget, collection: str, opts: IngestOptions, *,
                 embedder: Embedder | None = None, model: str | None = None, pretrained: str | None = None,
                 checkpoint: str | os.PathLike[str] | None = None, device: str | None = None,
                 batch_size: int | None = None, on_status: Callable[[str], None] | None = None) -> Iterator[Progress]:
    """The body of a products ingest job (`workbench.ingest.ingest_job` with kind "products")."""
    from workbench.ingest import _finish, _load_new

    if isinstance(db, (str, os.PathLike)) and "://" not in os.fspath(db):
        db = os.path.expanduser(os.fspath(db))
    meter = Meter()
    yield meter.event("scanning")
    sources = read_sources(paths)
    with open_target(db) as backend:  # briefly: an engine database stays unlocked while the model loads
        exists = backend.has_collection(collection)
        description = backend.describe_collection(collection) if exists else None
        ws, caps, label = backend, backend.capabilities, backend.label
        rows_before = backend.count(collection) if exists else 0
    meta = read_meta(ws, collection) if exists else None
    if description is not None and ((meta or {}).get("kind") or guess_kind(description)) != "products":
        raise CollectionError(f"collection {collection!r} is not a products collection (no 'images' Array of "
                              "Structs); ingest products into a new collection")
    capacity = 16
    if description is not None:
        images = existing_fields(description).get("images")
        capacity = int(images.params.get("max_capacity") or capacity) if images is not None else capacity
    template = product_template(capacity)
    check_template_fits(template, caps, label, collection)
    report = IngestReport(os.fspath(db) if isinstance(db, (str, os.PathLike)) else label, collection, "products",
                          files_total=len(sources.products) + len(sources.bad), skipped=list(sources.bad))
    job.report = report
    if not sources.products and not sources.bad:
        raise InputError(f"no products found in {', '.join(str(p) for p in paths)}")
    meter.files_total = report.files_total
    meter.files_done = meter.errors = len(sources.bad)
    if job.cancelled:
        yield from _finish(db, collection, report, meter, cancelled=True)
        return

    yield meter.event("loading model")
    if embedder is None:
        from workbench.embedders import embedder_for_collection

        embedder = embedder_for_collection(ws, collection, model, pretrained, checkpoint, device, batch_size,
                                           on_status) if exists and (meta or {}).get("embedder") else \
            _load_new(model, pretrained, checkpoint, device, batch_size, on_status)
    report.model = embedder.identity.describe()
    with open_target(db) as backend:
        if not backend.has_collection(collection):
            schema, indexes = template_schema(template, embedder.dim, backend.capabilities)
            backend.create_collection(collection, schema, indexes)
            report.created = True
        description = backend.describe_collection(collection)
        fm = check_collection(collection, description, template, embedder.dim)
        ensure_loaded(backend, collection)
        rec = (meta or {}).get("embedder")
        if rec and rows_before:
            from workbench.embedders import EmbedderIdentity

            EmbedderIdentity.from_dict(rec).check_same(embedder.identity, collection)
        out = dict(meta or {})
        out.update(kind="products", template=template.name, embedder=embedder.identity.to_dict(), multiview=False,
                   grid=None, format=1, checkpoint_path=getattr(embedder, "checkpoint_path", None))
        out.setdefault("created", time.time())
        write_meta(backend, collection, out)

        yield meter.event("checking")
        known = _known_digests(backend, collection, fm, [p.sku for p in sources.products])
        work = []
        limit = fm.max_length(fm.pk_name)
        for spec in sources.products:
            problem = ("the id field holds whole numbers" if _pk(fm, spec.sku) is None else
                       f"longer than the id field's max_length {limit}"
                       if limit is not None and len(spec.sku.encode()) > limit else None)
            if problem:
                report.skipped.append(Skipped(spec.source, f"SKU {spec.sku[:40]!r}: {problem}; not ingested"))
                meter.files_done += 1
                meter.errors += 1
                continue
            digest = product_digest(spec)
            if known.get(spec.sku) == digest:
                report.unchanged += 1
                meter.unchanged += 1
                meter.files_done += 1
            else:
                work.append((spec, digest, spec.sku in known))
        meter.begin_work(len(work))
        yield meter.event("ingesting")
        thumbs = thumbnails_dir(backend, collection)
        writer = _Writer(backend, collection, fm, embedder, thumbs, thumbs.relative_to(backend.workspace).as_posix(),
                         capacity, report, meter, DecodeBudget(opts.decode_memory or default_decode_budget()))
        writer.blank = blank_varchar_fields(description)
        yield from writer.run(job, work, opts.workers, opts.commit_size)
    yield from _finish(db, collection, report, meter, cancelled=job.cancelled)


def _known_digests(backend: Backend, collection: str, fm: FieldMap, skus: list[str]) -> dict[str, str | None]:
    """{sku: stored digest} of the products already in the collection."""
    if not fm.has("digest"):
        return {}
    ids = [_pk(fm, s) for s in skus]
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), 512):
        for row in backend.get(collection, [x for x in ids[i : i + 512] if x is not None],
                               output_fields=[fm.pk_name, "digest"]):
            out[str(row[fm.pk_name])] = row.get("digest")
    return out


def _pk(fm: FieldMap, sku: str) -> Any:
    if not fm.pk_is_int:
        return sku
    try:
        return int(sku)
    except ValueError:
        return None


class _Writer:
    """Reads products on worker threads (`prepare`), embeds and upserts them in batches (`commit`)."""

    def __init__(self, backend: Backend, collection: str, fm: FieldMap, embedder: Embedder, thumbs: Path,
                 thumbs_rel: str, capacity: int, report: IngestReport, meter: Meter, budget: DecodeBudget) -> None:
        self.backend, self.collection, self.fm, self.embedder = backend, collection, fm, embedder
        self.thumbs, self.thumbs_rel, self.capacity = thumbs, thumbs_rel, capacity
        self.report, self.meter, self.budget = report, meter, budget
        self.blank: frozenset[str] = frozenset()
        self._prepare: Callable[[Any], Any] = (
            embedder.prepare_image if isinstance(embedder, PreparingEmbedder) else (lambda im: im))

    def prepare(self, spec: ProductSpec, digest: str, known: bool) -> _Prepared:
        """Read, check, thumbnail and prepare each image of a product (a worker thread)."""
        out = _Prepared(spec, digest, known)
        for im in spec.images:
            where = f"{spec.sku}: {im.path}"
            try:
                st = im.path.stat()
                entry = FileEntry(im.path, st.st_size, st.st_mtime_ns)
                data, sha = read_source(entry)
                with open_image(entry, data=data, digest=sha) as opened, self.budget.hold(opened.cost):
                    dec = opened.decode()
                    save_thumbnail(dec.image, self.thumbs / f"{sha}.jpg")
                    out.images.append((im, sha, self._prepare(dec.image)))
                    del dec
            except FileNotFoundError:
                out.bad.append(Skipped(where, "image file not found"))
            except SkipFile as e:
                out.bad.append(Skipped(where, str(e)))
            except OSError as e:
                out.bad.append(Skipped(where, f"cannot read file: {e.strerror or e}"))
        return out

    def run(self, job: Job, work: list[tuple[ProductSpec, str, bool]], workers: int | None,
            commit_size: int | None) -> Iterator[Progress]:
        n_workers = workers or max(1, min(8, os.cpu_count() or 1))
        commit = commit_size or int(getattr(self.embedder, "batch_size", 32) or 32)
        todo = iter(work)
        pending: deque[Future[_Prepared]] = deque()
        pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="products")
        batch: list[_Prepared] = []

        def fill() -> None:
            while len(pending) < 2 * n_workers and not job.cancelled:
                nxt = next(todo, None)
                if nxt is None:
                    return
                pending.append(pool.submit(self.prepare, *nxt))

        try:
            fill()
            while pending and not job.cancelled:
                prod = pending.popleft().result()
                self.meter.files_done += 1
                self.meter.work_done += 1
                self.report.skipped += prod.bad
                self.report.notes += prod.spec.notes
                if prod.images:
                    batch.append(prod)
                else:
                    self.report.skipped.append(Skipped(prod.spec.sku, "no image of this product could be used "
                                                       f"({len(prod.spec.images)} listed); not ingested"))
                    self.meter.errors += 1
                fill()
                if sum(len(p.images) for p in batch) >= commit and not job.cancelled:
                    self.commit(batch)
                    batch = []
                yield self.meter.event("ingesting", current=prod.spec.sku)
            if batch and not job.cancelled:
                self.commit(batch)
                yield self.meter.event("ingesting")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def row(self, prod: _Prepared, vecs: np.ndarray) -> dict[str, Any]:
        fm, spec = self.fm, prod.spec
        kept = prod.images[: self.capacity]
        if len(prod.images) > self.capacity:
            self.report.truncated.append(Truncated(spec.sku, "images", self.capacity, len(prod.images),
                                                   f"kept {self.capacity} of {len(prod.images)} images (the images "
                                                   "field holds that many)"))
        primary = next((i for i, (im, _, _) in enumerate(kept) if im.is_primary), 0)
        row: dict[str, Any] = {fm.pk_name: _pk(fm, spec.sku), "name": spec.title or spec.sku}
        for name, value in (("description", spec.description), ("category", spec.category), ("price", spec.price),
                            ("source", spec.source), ("digest", prod.digest), ("image_count", len(kept))):
            if fm.has(name):
                row[name] = "" if value is None and name in self.blank else value
        row["embedding"] = vecs[primary]
        elements = []
        for i, (im, sha, _) in enumerate(kept):
            el: dict[str, Any] = {"path": str(im.path), "embedding": vecs[i]}
            for sub, value in (("angle", im.angle), ("is_primary", i == primary),
                               ("thumbnail", f"{self.thumbs_rel}/{sha}.jpg"), ("sha256", sha)):
                if fm.has_sub("images", sub):
                    el[sub] = value
            elements.append(el)
        row["images"] = elements
        return row

    def commit(self, batch: list[_Prepared]) -> None:
        """Embed a batch's images and upsert its products as a whole (one by one when it is refused)."""
        from workbench.ingest import error_message

        inputs = [x for p in batch for _, _, x in p.images[: self.capacity]]
        if isinstance(self.embedder, PreparingEmbedder):
            vecs = self.embedder.embed_prepared(inputs)
        else:
            vecs = self.embedder.embed_images(inputs)
        rows, k = [], 0
        for p in batch:
            n = len(p.images[: self.capacity])
            rows.append(self.row(p, vecs[k : k + n]))
            k += n
        try:
            self.backend.upsert(self.collection, rows)
            ok = batch
        except BackendError:
            ok = []
            for p, row in zip(batch, rows):
                try:
                    self.backend.upsert(self.collection, [row])
                    ok.append(p)
                except BackendError as e:
                    self.report.skipped.append(Skipped(p.spec.sku, f"rejected by the database: {error_message(e)}"))
                    self.meter.errors += 1
        for p in ok:
            self.report.updated += p.known
            self.report.new += not p.known
            self.meter.ingested += 1
        self.report.batches_committed += 1
