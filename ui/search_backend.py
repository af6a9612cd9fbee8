"""Running a search for the search panel (on a worker thread).

An adapter over `workbench.collection_ops`: that module's `search()` covers text
and image-file queries with default parameters; the panel also needs `ef`,
partitions, pasted images and "find similar" from a stored row's vector, so this
module builds the query and calls the backend's `search` itself (hits are
`{"id", "distance", "entity"}` on every backend), then describes each hit the
same way (`SearchHit`: best page of a PDF, best crop of a multi-view image).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.collection_ops import SearchHit, default_anns_field
from workbench.settings import InputError
from workbench.templates import collection_kind, existing_fields, thumbnails_dir, workspace_of

VECTOR_TYPE_NAMES = frozenset({"FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR", "BINARY_VECTOR",
                               "SPARSE_FLOAT_VECTOR", "INT8_VECTOR"})


@dataclass
class SearchRequest:
    """One query: exactly one of text, image_path, image_bytes or similar_to (a primary key)."""

    collection: str
    text: str | None = None
    image_path: str | None = None
    image_bytes: bytes | None = None
    similar_to: Any = None
    anns_field: str | None = None
    filter: str = ""
    limit: int = 20
    ef: int | None = None
    partitions: list[str] | None = None

    @property
    def label(self) -> str:
        if self.text is not None:
            return f"text {self.text!r}"
        if self.image_path:
            return f"image {Path(self.image_path).name}"
        if self.image_bytes is not None:
            return "pasted image"
        return f"similar to {self.similar_to!r}"


@dataclass
class SearchResult:
    request: SearchRequest
    hits: list[SearchHit]
    anns_field: str
    metric: str
    search_ms: float
    embed_ms: float = 0.0
    notes: list[str] = field(default_factory=list)


def split_path(path: str) -> tuple[str | None, str | None]:
    if "[" in path and path.endswith("]"):
        top, sub = path[:-1].split("[", 1)
        return top, sub
    return None, None


def _decode(req: SearchRequest) -> Any:
    from PIL import Image

    from workbench.images import FileEntry, SkipFile, decode_image, to_rgb

    if req.image_bytes is not None:
        try:
            im = Image.open(io.BytesIO(req.image_bytes))
            im.load()
            return to_rgb(im)
        except Exception as e:
            raise InputError(f"cannot read the pasted image: {e}") from None
    p = Path(str(req.image_path)).expanduser().absolute()
    try:
        st = p.stat()
        return decode_image(FileEntry(p, st.st_size, st.st_mtime_ns)).image
    except FileNotFoundError:
        raise InputError(f"image file not found: {p}") from None
    except SkipFile as e:
        raise InputError(f"cannot use {p.name} as a query image: {e}") from None


def _stored_query(backend: Any, req: SearchRequest, target: str) -> list[np.ndarray]:
    struct, sub = split_path(target)
    out_field = target if struct is None else f"{struct}[{sub}]"
    rows = backend.get(req.collection, [req.similar_to], output_fields=[out_field])
    if not rows:
        raise InputError(f"row {req.similar_to!r} is not in collection {req.collection!r} any more")
    if struct is None:
        return [np.asarray(rows[0][target], dtype=np.float32)]
    elements = rows[0].get(struct) or []
    vecs = [np.asarray(e[sub], dtype=np.float32) for e in elements if e.get(sub) is not None]
    if not vecs:
        raise InputError(f"row {req.similar_to!r} has no {target} vectors to search with")
    return vecs


def run_search(backend: Any, provider: Any, req: SearchRequest) -> SearchResult:
    """Embed the query (or read the stored vector), search through the backend, and describe each hit."""
    desc = dict(backend.describe_collection(req.collection))
    fields = existing_fields(desc)
    kind = collection_kind(backend, req.collection, desc)
    target = req.anns_field or default_anns_field(kind, fields, req.text is not None)
    struct, sub = split_path(target)
    if struct is not None:
        backend.capabilities.require("max_sim")
    notes: list[str] = []
    t0 = time.perf_counter()
    if req.similar_to is not None:
        qvecs = _stored_query(backend, req, target)
    else:
        embedder = provider.for_collection(backend, req.collection)
        if req.text is not None:
            if not req.text.strip():
                raise InputError("type something to search for")
            qvecs = [np.asarray(embedder.embed_texts([req.text])[0], dtype=np.float32)]
        else:
            qvecs = [np.asarray(embedder.embed_images([_decode(req)])[0], dtype=np.float32)]
    embed_ms = (time.perf_counter() - t0) * 1000
    if struct is not None:  # one multi-vector query (the backend makes it an EmbeddingList)
        data: list[Any] = [np.stack(qvecs).astype(np.float32)]
    else:
        data = [qvecs[0]]
    outputs = [n for n, f in fields.items() if f.dtype not in VECTOR_TYPE_NAMES and not f.is_struct_array]
    if struct is not None:
        outputs.append(struct)
    elif "pages" in fields and fields["pages"].is_struct_array:
        outputs.append("pages[thumbnail]")
    params: dict[str, Any] = {}
    if req.ef:
        ef = max(int(req.ef), req.limit)
        if ef != req.ef:
            notes.append(f"ef raised to {ef} (it must be at least the limit)")
        params["ef"] = ef
    parts = [p for p in (req.partitions or []) if p]
    t1 = time.perf_counter()
    res = backend.search(req.collection, data, anns_field=target, limit=req.limit, filter=req.filter or "",
                         output_fields=outputs, search_params={"params": params} if params else {},
                         partitions=parts or None)
    found = list(res[0]) if res else []
    search_ms = (time.perf_counter() - t1) * 1000
    metric = _metric(backend, req.collection, target, struct is not None)
    probe = qvecs[0] if len(qvecs) == 1 else _unit(np.mean(qvecs, axis=0))
    hits = [describe_hit(h, probe, struct, sub, backend, req.collection) for h in found]
    return SearchResult(req, hits, target, metric, search_ms, embed_ms, notes)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


def _metric(backend: Any, collection: str, path: str, maxsim: bool) -> str:
    for ix in backend.list_indexes(collection):
        if ix.field_name == path and ix.metric_type:
            return str(ix.metric_type)
    return "MAX_SIM_COSINE" if maxsim else "COSINE"


def describe_hit(h: dict[str, Any], vec: np.ndarray, struct: str | None, sub: str | None, db: Any,
                 collection: str) -> SearchHit:
    """A `SearchHit` with its thumbnail, and for MAX_SIM hits the element that matched best.

    `db` is the Backend (or a database directory): stored thumbnail paths are relative to its workspace.
    """
    # a backend hit: {"id", "distance", "entity"} whatever the primary key field is called
    pk = h.get("id")
    score = h.get("distance", 0.0)
    entity = dict(h.get("entity") or {})
    elements = entity.pop(struct, None) if struct else None
    pages = entity.pop("pages", None) if not struct else None
    hit = SearchHit(id=pk, score=float(score), fields=entity)
    base = workspace_of(db)
    if entity.get("thumbnail"):
        hit.thumbnail = str(base / entity["thumbnail"])
    elif isinstance(pages, list) and pages and pages[0].get("thumbnail"):
        hit.thumbnail = str(base / pages[0]["thumbnail"])
    elif entity.get("sha256"):
        t = thumbnails_dir(db, collection) / f"{entity['sha256']}.jpg"
        hit.thumbnail = str(t) if t.exists() else None
    if hit.thumbnail is None and isinstance(entity.get("path"), str) and \
            Path(entity["path"]).suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"):
        hit.thumbnail = entity["path"]
    if elements and sub:
        sims = []
        for e in elements:
            v = e.get(sub)
            sims.append(float(np.dot(np.asarray(v, dtype=np.float32), vec)) if v is not None else -np.inf)
        if sims:
            best_i = int(np.argmax(sims))
            best = elements[best_i]
            hit.extra["element"] = best_i
            hit.extra["element_score"] = sims[best_i]
            hit.extra["elements"] = len(elements)
            if "page" in best:
                hit.page = int(best["page"])
                hit.page_text = best.get("text")
                if best.get("thumbnail"):
                    hit.thumbnail = str(base / best["thumbnail"])
            if all(best.get(k) is not None for k in ("x0", "y0", "x1", "y1")):
                hit.box = (int(best["x0"]), int(best["y0"]), int(best["x1"]), int(best["y1"]))
    return hit
