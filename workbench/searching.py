"""Search by text or image: what `workbench search` and a library user call (`collection_ops.search`).

The query is embedded with the model recorded for the collection (or the one given, which must be the
same). One query on one field is a plain search, with optional grouping (`SearchModes.group`) or score
range (`SearchModes.score_range`); a second query (`also_text`, `also_image`) or several fields
(`anns_fields`) make a hybrid search, fused by RRF or weights (`SearchModes.fusion`; see
`workbench.search_modes`). Array-of-Structs fields are searched with MAX_SIM (where the backend has it),
and each hit says which page (PDFs) or crop (multi-view images) matched best. Documents collections go
to `workbench.document_search` (text model, best passages).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.backends import Backend, CapabilityError
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
from workbench.settings import CollectionError, InputError
from workbench.targets import DbTarget, ensure_loaded, open_target, require_collection
from workbench.templates import collection_kind, existing_fields, read_meta, thumbnails_dir


@dataclass
class SearchHit:
    """One result: score (cosine similarity, larger is closer; the fused score of a hybrid search),
    stored fields, and what matched best."""

    id: Any
    score: float
    fields: dict[str, Any]
    page: int | None = None  # PDFs: the page that matched best
    page_text: str | None = None
    box: tuple[int, int, int, int] | None = None  # multi-view: the crop that matched best
    thumbnail: str | None = None  # absolute path of the (page) thumbnail
    extra: dict[str, Any] = field(default_factory=dict)
    passages: list[dict[str, Any]] | None = None  # documents: best chunks (text, position, page, score)
    group: Any = None  # a grouping search: the hit's value of the group field
    scores: dict[str, float] | None = None  # a hybrid search: the hit's own score for each request

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "score": self.score, **self.fields}
        if self.page is not None:
            d["page"] = self.page
            d["page_text"] = self.page_text
        if self.box is not None:
            d["box"] = list(self.box)
        d["thumbnail"] = self.thumbnail
        if self.passages is not None:
            d["passages"] = self.passages
        if self.group is not None:
            d["group"] = self.group
        if self.scores is not None:
            d["scores"] = self.scores
        return d


def default_anns_field(kind: str | None, fields: dict[str, Any], query_is_text: bool) -> str:
    """Which vector field a search uses when none is given."""
    if kind == "documents" and "chunks" in fields:
        return "chunks[emb]" if query_is_text or "pages" not in fields else "pages[image_vector]"
    if kind == "pdfs" and "pages" in fields:
        subs = fields["pages"].sub
        if query_is_text and "text_vector" in subs:
            return "pages[text_vector]"
        return "pages[image_vector]"
    if kind == "products" and "images" in fields and fields["images"].is_struct_array:
        return "images[embedding]"  # MAX_SIM over each product's images
    if "views" in fields and fields["views"].is_struct_array:
        return "views[embedding]"
    if "embedding" in fields:
        return "embedding"
    vectors = [n for n, f in fields.items() if f.dtype == "FLOAT_VECTOR"]
    if len(vectors) == 1:
        return vectors[0]
    raise CollectionError(f"cannot tell which vector field to search; pass --field (one of {vectors})")


def search(
    db: DbTarget,
    collection: str,
    *,
    text: str | None = None,
    image: str | os.PathLike[str] | None = None,
    filter: str = "",
    limit: int = 10,
    anns_field: str | None = None,
    embedder: Any = None,
    model: str | None = None,
    pretrained: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
    on_status: Callable[[str], None] | None = None,
    text_model: str | None = None,
    also_text: str | None = None,
    also_image: str | os.PathLike[str] | None = None,
    anns_fields: Sequence[str] = (),
    modes: SearchModes | None = None,
    mode: str | None = None,
    weights: Sequence[float] | None = None,
    page_embedder: Any = None,
) -> list[SearchHit]:
    """Search a collection by text or by an image file; best first.

    `also_text` / `also_image` add a second query (a text with an image, or an image with a text) and
    `anns_fields` several vector fields: a hybrid search of every query on every field, fused as
    `modes.fusion` says. `modes.group` groups the hits, `modes.score_range` keeps scores in a range.
    A Documents collection is searched by `workbench.document_search`: in `mode` "meaning" (the
    default) a text query with its text model (`text_model` must be that model when given) on
    `chunks[emb]`; "words" by BM25; "both" by both (and the page images, with `page_embedder` or the
    collection's CLIP model), fused with RRF or `weights`; each hit with its best `passages`. `mode` and
    `weights` apply to documents only (the hybrid search modes of other collections are `modes`)."""
    if (text is None) == (image is None):
        raise InputError("give exactly one of a text or an image to search with")
    if also_text is not None and text is not None or also_image is not None and image is not None:
        raise InputError("the second query must be of the other kind: a text with an image, or an image with a "
                         "text")
    if limit < 1:
        raise InputError("limit must be at least 1")
    if anns_field is not None and anns_fields:
        raise InputError("give the vector field once (anns_field) or several fields (anns_fields), not both")
    if len(anns_fields) == 1:
        anns_field, anns_fields = anns_fields[0], ()
    fields_given = list(anns_fields) or ([anns_field] if anns_field else [])
    modes = modes or SearchModes()
    plain = not (also_text is not None or also_image is not None or len(fields_given) > 1
                 or modes.group is not None or modes.ranged)
    with open_target(db, create=False) as backend:
        desc = require_collection(backend, collection)
        kind = collection_kind(backend, collection, desc)

        def vectors(target: str | None) -> list[SearchHit]:
            queries: list[tuple[str, str | None, Any]] = [
                ("text", text, None) if text is not None else ("image", None, image)]
            if also_text is not None:
                queries.append(("text", also_text, None))
            if also_image is not None:
                queries.append(("image", None, also_image))
            targets = [target] if target else fields_given
            return _search_vectors(backend, collection, desc, kind, targets, queries, filter, limit, embedder,
                                   model, pretrained, checkpoint, device, on_status, modes)

        if kind == "documents":
            if not plain:
                raise InputError(documents_refusal(collection))
            from workbench.document_search import search_documents

            def page_vector(query: str) -> np.ndarray:
                from workbench.embedders import EmbedderIdentity, embedder_for_collection

                clip = page_embedder or embedder_for_collection(backend, collection, model, pretrained, checkpoint,
                                                                device, on_status=on_status)
                rec = (read_meta(backend, collection) or {}).get("image_embedder")
                if rec:
                    EmbedderIdentity.from_dict(rec).check_same(clip.identity, collection)
                return _query_vector(clip, query, None)

            return search_documents(backend, collection, desc, text=text, image=image, filter=filter, limit=limit,
                                    anns_field=anns_field, text_model=text_model, device=device,
                                    image_search=vectors, on_status=on_status, embedder=embedder,
                                    mode=mode or "meaning", weights=weights, page_vector=page_vector)
        if mode is not None or weights is not None:
            raise InputError(f"collection {collection!r} is not a Documents collection; search modes (words, "
                             "meaning, both) and weights apply to documents")
        if text_model is not None:
            raise InputError(f"collection {collection!r} is not a Documents collection; --text-model applies to "
                             "documents (it is searched with its CLIP model)")
        if kind == "products":
            if not plain:
                raise InputError(products_refusal(collection))
            from workbench.product_search import search_products

            return list(search_products(backend, collection, desc, text=text, image=image, filter=filter, limit=limit,
                                        anns_field=anns_field, embedder=embedder, model=model, pretrained=pretrained,
                                        checkpoint=checkpoint, device=device, on_status=on_status))
        return vectors(None)


def _search_vectors(backend: Backend, collection: str, desc: dict[str, Any], kind: str | None,
                    targets: Sequence[str], queries: Sequence[tuple[str, str | None, Any]], filter: str,
                    limit: int, embedder: Any, model: str | None, pretrained: str | None,
                    checkpoint: str | os.PathLike[str] | None, device: str | None,
                    on_status: Callable[[str], None] | None, modes: SearchModes) -> list[SearchHit]:
    """Every query on every target field (each query's default field when none is given), with the
    collection's CLIP model (or the embedder given), as one search or one hybrid search."""
    from workbench.embedders import EmbedderIdentity, embedder_for_collection

    fields = existing_fields(desc)
    meta = read_meta(backend, collection) or {}
    for t in targets:
        if "[" in t:
            reason = backend.capabilities.why_not("max_sim")
            if reason:
                raise CapabilityError(f"cannot search {t} of {collection!r} on {backend.label}: {reason}")
    if embedder is None:
        embedder = embedder_for_collection(backend, collection, model, pretrained, checkpoint, device,
                                           on_status=on_status)
    rec = meta.get("image_embedder") if kind == "documents" else meta.get("embedder")
    if rec:
        EmbedderIdentity.from_dict(rec).check_same(embedder.identity, collection)
    parts: list[QueryPart] = []
    for what, text, image in queries:
        vec = _query_vector(embedder, text, image)
        label = f"text {text!r}" if what == "text" else f"image {Path(str(image)).name}"
        for t in targets or [default_target(kind, fields, what == "text", modes, hybrid=len(queries) > 1)]:
            if "[" not in t and t not in fields:
                raise InputError(f"collection {collection!r} has no vector field {t!r}")
            parts.append(QueryPart(label, vec, t, field_metric(backend, collection, t)))
    outputs = [n for n, f in fields.items() if f.dtype not in ("FLOAT_VECTOR", "SPARSE_FLOAT_VECTOR")
               and not f.is_struct_array]
    structs = list(dict.fromkeys(s for s in (_split_path(p.field)[0] for p in parts) if s is not None))
    ensure_loaded(backend, collection)
    found = run_parts(backend, collection, parts, limit=limit, filter=filter or "", output_fields=outputs + structs,
                      modes=modes, fields=fields)
    first = parts[0]
    struct_name, sub_name = _split_path(first.field)
    hits = [_hit(h, first.vector, struct_name, sub_name, backend, collection) for h in found]
    for h in hits:
        for s in structs:
            h.fields.pop(s, None)
        if modes.group is not None:
            h.group = h.fields.get(modes.group.field)
    if len(parts) > 1:
        per_request = request_scores(backend, collection, parts, [h.id for h in hits])
        for h in hits:
            h.scores = per_request.get(h.id)
    label = score_label(parts, modes)
    for h in hits:
        h.extra["score_kind"] = label
    return hits


def default_target(kind: str | None, fields: dict[str, Any], query_is_text: bool, modes: SearchModes,
                   hybrid: bool = False) -> str:
    """The field a query searches when none is given (`default_anns_field`); a grouping, range or hybrid
    search takes the top-level `embedding` over a MAX_SIM field (Milvus groups, ranges and fuses no
    EmbeddingList search)."""
    target = default_anns_field(kind, fields, query_is_text)
    if "[" in target and (hybrid or modes.group is not None or modes.ranged) and "embedding" in fields:
        return "embedding"
    return target


def _split_path(path: str) -> tuple[str | None, str | None]:
    if "[" in path and path.endswith("]"):
        top, sub = path[:-1].split("[", 1)
        return top, sub
    return None, None


def _query_vector(embedder: Any, text: str | None, image: str | os.PathLike[str] | None) -> np.ndarray:
    if text is not None:
        if not text.strip():
            raise InputError("the search text is empty")
        return np.asarray(embedder.embed_texts([text])[0], dtype=np.float32)
    from workbench.images import FileEntry, SkipFile, decode_image

    p = Path(str(image)).expanduser().absolute()
    try:
        st = p.stat()
        dec = decode_image(FileEntry(p, st.st_size, st.st_mtime_ns))
    except FileNotFoundError:
        raise InputError(f"image file not found: {p}") from None
    except SkipFile as e:
        raise InputError(f"cannot use {p} as a query image: {e}") from None
    return np.asarray(embedder.embed_images([dec.image])[0], dtype=np.float32)


def _hit(h: dict[str, Any], vec: np.ndarray, struct_name: str | None, sub_name: str | None,
         backend: Backend, collection: str) -> SearchHit:
    entity = dict(h.get("entity") or {})
    elements = entity.pop(struct_name, None) if struct_name else None
    hit = SearchHit(id=h.get("id"), score=float(h.get("distance", 0.0)), fields=entity)
    base = Path(backend.workspace)  # thumbnail paths in rows are relative to it
    if entity.get("thumbnail"):
        hit.thumbnail = str(base / entity["thumbnail"])
    elif entity.get("sha256"):
        t = thumbnails_dir(backend, collection) / f"{entity['sha256']}.jpg"
        hit.thumbnail = str(t) if t.exists() else None
    if elements and sub_name:
        sims = [float(np.dot(np.asarray(e[sub_name], dtype=np.float32), vec)) for e in elements if sub_name in e]
        if sims:
            best = elements[int(np.argmax(sims))]
            if "page" in best:
                hit.page = int(best["page"])
                hit.page_text = best.get("text")
                if best.get("thumbnail"):
                    hit.thumbnail = str(base / best["thumbnail"])
            if all(k in best for k in ("x0", "y0", "x1", "y1")):
                hit.box = (int(best["x0"]), int(best["y0"]), int(best["x1"]), int(best["y1"]))
    return hit
