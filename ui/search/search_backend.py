"""Running a search for the search panel (on a worker thread).

An adapter over `workbench.search_modes`, what `workbench search` runs too: this module makes the query
vectors the panel has (a text, an image file or a pasted image, both for a hybrid search, or a stored
row's vector for "find similar") with the app's model provider, and `run_parts` searches them with the
panel's modes (hybrid, grouping, range), `ef` or `nprobe` and partitions. Each hit is then described
(`SearchHit`: best page of a PDF, best crop of a multi-view image, its group, its score per request).

A text query of a Documents collection goes to `workbench.document_search.search_documents`
instead, in the request's `mode` ("meaning", "words", "both"), so each hit carries its best
passages with the query's words (`matches`) and their pages.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.collection_ops import SearchHit
from workbench.search_modes import (
    QueryPart,
    SearchModes,
    documents_refusal,
    field_metric,
    products_refusal,
    request_scores,
    run_parts,
    score_label,
)
from workbench.searching import default_target
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
    ef: int | None = None  # the value of `search_param`
    search_param: str = "ef"  # "ef" (HNSW) or "nprobe" (IVF)
    partitions: list[str] | None = None
    model: Any = None  # a ModelChoice: embed with it (the user chose it for a collection with no model record)
    fields: list[str] | None = None  # several vector fields: a hybrid search of the query on each
    modes: SearchModes = field(default_factory=SearchModes)
    mode: str | None = None  # Documents text queries: "meaning", "words" or "both" (None: meaning)

    @property
    def label(self) -> str:
        bits = []
        if self.text is not None:
            bits.append(f"text {self.text!r}")
        if self.image_path:
            bits.append(f"image {Path(self.image_path).name}")
        elif self.image_bytes is not None:
            bits.append("pasted image")
        return " + ".join(bits) if bits else f"similar to {self.similar_to!r}"

    @property
    def image_label(self) -> str:
        return f"image {Path(self.image_path).name}" if self.image_path else "pasted image"


class NoModelRecord(InputError):
    """The collection does not say which model made its vectors: a text or image cannot be put in its space."""

    def __init__(self, collection: str, field: str, dim: int | None) -> None:
        self.collection, self.field, self.dim = collection, field, dim
        d = f"{dim}-d " if dim else ""
        super().__init__(
            f"Collection {collection!r} does not record which model made its {d}vectors on {field} (it was made by "
            "code, not imported by the workbench), so a text or an image cannot be embedded into its space. "
            "You can search with a stored row's own vector (Find similar), or, if you know that the model chosen "
            f"in Settings › Model made these vectors, use it for this collection"
            + (f" (it must make {dim}-d vectors)." if dim else "."))


def field_dim(fields: dict[str, Any], path: str) -> int | None:
    """The dimension of a vector field or struct sub-field, where the description gives it."""
    struct, sub = split_path(path)
    f = fields.get(path) if struct is None else (fields[struct].sub.get(sub) if struct in fields else None)
    try:
        return int(f.params["dim"]) if f is not None and "dim" in f.params else None
    except (TypeError, ValueError):
        return None


def query_embedder(backend: Any, provider: Any, req: SearchRequest, target: str, fields: dict[str, Any]) -> Any:
    """The embedder for a text or image query: the collection's recorded model, or the one the user chose
    for a collection without a record (whose dimension must match the field's)."""
    from workbench.templates import read_meta

    dim = field_dim(fields, target)
    if req.model is None:
        if not (read_meta(backend, req.collection) or {}).get("embedder"):
            raise NoModelRecord(req.collection, target, dim)
        return provider.for_collection(backend, req.collection)
    embedder = provider.for_choice(req.model)
    if dim is not None and int(embedder.dim) != dim:
        raise InputError(f"the model chosen in Settings › Model makes {embedder.dim}-d vectors, but {target} of "
                         f"{req.collection!r} holds {dim}-d vectors: they come from another model. Search with a "
                         "stored row's vector (Find similar), or choose the model that made them.")
    return embedder


@dataclass
class SearchResult:
    request: SearchRequest
    hits: list[SearchHit]
    anns_field: str
    metric: str
    search_ms: float
    embed_ms: float = 0.0
    notes: list[str] = field(default_factory=list)
    parts: list[tuple[str, str, str]] = field(default_factory=list)  # each request: label, field, metric


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
    """Embed the query (or read the stored vector), search with the request's modes, and describe each hit."""
    desc = dict(backend.describe_collection(req.collection))
    fields = existing_fields(desc)
    kind = collection_kind(backend, req.collection, desc)
    has_image = req.image_path is not None or req.image_bytes is not None
    combined = (len(req.fields or []) > 1 or req.modes.group is not None or req.modes.ranged
                or (req.text is not None and has_image))
    if kind == "documents" and combined:
        raise InputError(documents_refusal(req.collection))
    if kind == "products" and combined:
        raise InputError(products_refusal(req.collection))
    if kind == "documents" and req.text is not None and req.similar_to is None:
        return run_document_search(backend, provider, req, desc)
    if kind == "documents" and req.similar_to is None and "pages" not in fields:
        raise InputError(f"{req.collection!r} keeps no PDF page images, so an image cannot be searched in it; "
                         "search it with text")
    if req.mode is not None and req.mode != "meaning":
        raise InputError(f"search mode {req.mode!r} applies to text queries of Documents collections; "
                         f"{req.collection!r} is searched by its vectors")
    notes: list[str] = []
    t0 = time.perf_counter()
    queries: list[tuple[str, str, Any]] = []  # (label, "text" / "image" / "stored", what)
    if req.similar_to is not None:
        queries.append((f"similar to {req.similar_to!r}", "stored", None))
    else:
        if req.text is not None:
            if not req.text.strip():
                raise InputError("type something to search for")
            queries.append((f"text {req.text!r}", "text", req.text))
        if has_image:
            queries.append((req.image_label, "image", None))
    parts: list[QueryPart] = []
    embedder = None
    for label, what, text in queries:
        targets = req.fields or [req.anns_field or default_target(kind, fields, what == "text", req.modes,
                                                                   hybrid=len(queries) > 1)]
        vec = None
        for target in targets:
            if "[" in target:
                backend.capabilities.require("max_sim")
            if what == "stored":
                stored = _stored_query(backend, req, target)
                v = stored[0] if len(stored) == 1 else np.stack(stored).astype(np.float32)
            else:
                if vec is None:
                    embedder = embedder or query_embedder(backend, provider, req, target, fields)
                    vec = np.asarray((embedder.embed_texts([text]) if what == "text"
                                      else embedder.embed_images([_decode(req)]))[0], dtype=np.float32)
                v = vec
            parts.append(QueryPart(label, v, target, field_metric(backend, req.collection, target)))
    embed_ms = (time.perf_counter() - t0) * 1000 if req.similar_to is None else 0.0  # a stored vector: no model
    structs = list(dict.fromkeys(s for s in (split_path(p.field)[0] for p in parts) if s is not None))
    outputs = [n for n, f in fields.items() if f.dtype not in VECTOR_TYPE_NAMES and not f.is_struct_array]
    outputs += structs
    if not structs and "pages" in fields and fields["pages"].is_struct_array:
        outputs.append("pages[thumbnail]")
    params: dict[str, Any] = {}
    if req.ef and req.search_param == "ef":
        ef = max(int(req.ef), req.limit)
        if ef != req.ef:
            notes.append(f"ef raised to {ef} (it must be at least the limit)")
        params["ef"] = ef
    elif req.ef:
        params[req.search_param] = int(req.ef)
    parts_names = [p for p in (req.partitions or []) if p]
    t1 = time.perf_counter()
    found = run_parts(backend, req.collection, parts, limit=req.limit, filter=req.filter or "",
                      output_fields=outputs, params=params, partitions=parts_names or None, modes=req.modes,
                      fields=fields)
    search_ms = (time.perf_counter() - t1) * 1000
    first = parts[0]
    struct, sub = split_path(first.field)
    vecs = first.vector if first.vector.ndim == 2 else first.vector[None, :]
    probe = vecs[0] if len(vecs) == 1 else _unit(np.mean(vecs, axis=0))
    if kind == "products" and struct == "images":  # a product: its best image and the others
        from workbench.product_search import describe_product

        hits: list[SearchHit] = [describe_product(h, probe, backend) for h in found]
    else:
        hits = [describe_hit(h, probe, struct, sub, backend, req.collection) for h in found]
    group = req.modes.group
    for h in hits:
        for s in structs:
            h.fields.pop(s, None)
        if group is not None:
            h.group = h.fields.get(group.field)
            h.extra["group_field"] = group.field
    if len(parts) > 1:
        per_request = request_scores(backend, req.collection, parts, [h.id for h in hits])
        for h in hits:
            h.scores = per_request.get(h.id)
    label = score_label(parts, req.modes)
    for h in hits:
        h.extra["score_kind"] = label
    metric = label if len(parts) > 1 else first.metric
    res = SearchResult(req, hits, ", ".join(dict.fromkeys(p.field for p in parts)), metric, search_ms, embed_ms,
                       notes)
    res.parts = [(p.label, p.field, p.metric) for p in parts]
    return res


MODE_FIELDS = {"meaning": ("chunks[emb]", "MAX_SIM_COSINE"), "words": ("text_sparse", "BM25"),
               "both": ("text_sparse + chunks[emb]", "RRF")}


def run_document_search(backend: Any, provider: Any, req: SearchRequest, desc: dict[str, Any]) -> SearchResult:
    """A text query of a Documents collection through `workbench.document_search.search_documents`."""
    from workbench.document_search import search_documents

    if req.model is not None:
        raise InputError(f"{req.collection!r} is a Documents collection: its text model is the one recorded for "
                         "it, not the CLIP model of Settings › Model")
    mode = req.mode or "meaning"
    params: dict[str, Any] = {}
    notes: list[str] = []
    if req.ef:
        value = int(req.ef)
        if req.search_param == "ef" and value < req.limit:
            value = req.limit
            notes.append(f"ef raised to {value} (it must be at least the limit)")
        params[req.search_param] = value
    t0 = time.perf_counter()
    text_model = provider.text_for_collection(backend, req.collection) if mode != "words" else None
    fields = existing_fields(desc)
    clip = provider.for_collection(backend, req.collection) if mode == "both" and "pages" in fields else None
    load_ms = (time.perf_counter() - t0) * 1000

    def page_vector(query: str) -> np.ndarray:
        if clip is None:
            raise InputError(f"collection {req.collection!r} has no CLIP model for its page images")
        return np.asarray(clip.embed_texts([query])[0], dtype=np.float32)

    def no_image_search(target: str) -> list[SearchHit]:
        raise InputError(f"a text query cannot search {target} of {req.collection!r} here: choose chunks[emb] "
                         "or embedding, or search with an image")

    t1 = time.perf_counter()
    hits = search_documents(backend, req.collection, desc, text=req.text, image=None, filter=req.filter,
                            limit=req.limit, anns_field=req.anns_field, text_model=None, device=None,
                            image_search=no_image_search, embedder=text_model, mode=mode,
                            page_vector=page_vector, partitions=[p for p in (req.partitions or []) if p] or None,
                            params=params or None)
    search_ms = (time.perf_counter() - t1) * 1000
    field_name, metric = MODE_FIELDS[mode]
    if mode == "meaning" and req.anns_field:
        field_name, metric = req.anns_field, ("COSINE" if "[" not in req.anns_field else "MAX_SIM_COSINE")
    if mode == "both" and "pages" in fields:
        field_name += " + pages[image_vector]"
    notes.insert(0, f"by {mode}" + (", query embedding included" if mode != "words" else ""))
    if load_ms >= 50:
        notes.append(f"models loaded in {load_ms:.0f} ms")
    return SearchResult(req, hits, field_name, metric, search_ms, 0.0, notes)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


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
