"""Search in a Documents collection: whole documents ranked by words, by meaning, or both, with their best passages.

Modes (`mode`):

* "meaning" (the default): the query is embedded with the collection's text model and searched on
  `chunks[emb]` with MAX_SIM_COSINE: a document scores the cosine of its best-matching chunk
  (`--field embedding`, the mean of a document's chunk vectors, takes plain COSINE instead);
* "words": BM25 on `text_sparse`, the output of the collection's BM25 function over `text` (the
  document's chunks joined; see `workbench.document_template`); no model is loaded. A collection made
  before that field existed is refused with a message saying to re-ingest it;
* "both": pymilvus-shaped requests (`AnnRequest`): BM25 on `text_sparse`, MAX_SIM on `chunks[emb]`
  and, when the collection keeps PDF page images, MAX_SIM of the query's CLIP text embedding on
  `pages[image_vector]`; fused with RRF (k 60) or, given `weights` (one per request, in that order),
  the weighted ranker, by `engine.vectors.rankers.fuse` (Milvus's scoring). Not one `hybrid_search`:
  Milvus, and the engine as Milvus, refuse MAX_SIM (EmbeddingList) requests in it.

Each hit carries its best `passages` (text, position, page, score, matches: the character spans of
the query's words; `workbench.document_passages`). A document stored as several parts (more chunks
than one entity holds) is shown once, by its best part. An image query, or a `pages[...]` field,
searches the PDF page images with the collection's CLIP model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.vectors.rankers import RRFRanker, WeightedRanker, fuse
from workbench.backends import AnnRequest, Backend, CapabilityError, bm25_fields
from workbench.settings import InputError
from workbench.targets import ensure_loaded

PASSAGES = 3  # best chunks shown per document
MODES = ("meaning", "words", "both")
SPARSE_FIELD = "text_sparse"


def search_documents(backend: Backend, collection: str, description: dict[str, Any], *, text: str | None,
                     image: str | os.PathLike[str] | None, filter: str, limit: int, anns_field: str | None,
                     text_model: str | None, device: str | None, image_search: Callable[[str], list[Any]],
                     on_status: Callable[[str], None] | None = None, embedder: Any = None,
                     passages: int = PASSAGES, mode: str = "meaning", weights: Sequence[float] | None = None,
                     page_vector: Callable[[str], np.ndarray] | None = None,
                     partitions: Sequence[str] | None = None, params: dict[str, Any] | None = None) -> list[Any]:
    """Hits (`collection_ops.SearchHit`) of a text query in `mode` (see the module docstring); anything
    else (an image, a `pages[...]` field) goes to `image_search(field)`, the generic search of
    `collection_ops`. `page_vector(text)` gives the CLIP text embedding for the page images in "both".
    `partitions` limits every search to those partitions; `params` (the index's `ef` or `nprobe`) tunes
    the one vector search of "meaning" and is refused in the other modes (which search several fields)."""
    from workbench.templates import existing_fields

    if mode not in MODES:
        raise InputError(f"search mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    if weights is not None and mode != "both":
        raise InputError(f"weights apply to --mode both (they weigh its requests), not to --mode {mode}")
    fields = existing_fields(description)
    parts = list(partitions) if partitions else None
    if params and mode != "meaning":
        raise InputError(f"search parameters {sorted(params)} tune one vector index: they apply to mode meaning, "
                         f"not to mode {mode}")
    if mode != "meaning":
        if text is None:
            raise InputError(f"--mode {mode} searches with words: give --text, not an image")
        if anns_field is not None:
            raise InputError(f"--field applies to --mode meaning; --mode {mode} searches the fields it needs")
        return _search_words(backend, collection, description, fields, text=text, filter=filter, limit=limit,
                             text_model=text_model, device=device, on_status=on_status, embedder=embedder,
                             passages=passages, mode=mode, weights=weights, page_vector=page_vector,
                             partitions=parts)
    target = anns_field or ("chunks[emb]" if text is not None else "pages[image_vector]")
    struct, _sub = _split(target)
    if struct != "chunks" and target != "embedding":
        if target == "pages[image_vector]" and "pages" not in fields:
            raise InputError(f"collection {collection!r} has no page images to search with an image; search it "
                             "with --text")
        if parts or params:
            raise InputError(f"partitions and search parameters apply to text searches of {collection!r}, not to "
                             f"its page images ({target})")
        return image_search(target)
    if text is None:
        raise InputError(f"{target} holds text-model embeddings: search it with --text")
    if not text.strip():
        raise InputError("the search text is empty")
    metric = "MAX_SIM_COSINE" if struct else "COSINE"
    reason = backend.capabilities.why_not("max_sim") if struct else None
    if reason:
        raise CapabilityError(f"cannot search {target} of {collection!r} on {backend.label}: {reason}")
    vec = _text_vector(backend, collection, text, text_model, device, on_status, embedder)
    ensure_loaded(backend, collection)
    res = backend.search(collection, [vec], anns_field=target, limit=_fetch(fields, limit), filter=filter or "",
                         output_fields=_outputs(fields, description), partitions=parts,
                         search_params={"metric_type": metric, **({"params": dict(params)} if params else {})})
    return _hits(res[0], fields, text, vec, "meaning", limit, passages)


def _search_words(backend: Backend, collection: str, description: dict[str, Any], fields: dict[str, Any], *,
                  text: str, filter: str, limit: int, text_model: str | None, device: str | None,
                  on_status: Callable[[str], None] | None, embedder: Any, passages: int, mode: str,
                  weights: Sequence[float] | None, page_vector: Callable[[str], np.ndarray] | None,
                  partitions: list[str] | None) -> list[Any]:
    """The "words" (BM25 search) and "both" (hybrid search) modes."""
    if not text.strip():
        raise InputError("the search text is empty")
    if SPARSE_FIELD not in bm25_fields(description):
        raise InputError(f"collection {collection!r} has no BM25 field ({SPARSE_FIELD!r}): it was made before "
                         f"words search existed, or on a backend without full text search. Search it with "
                         f"--mode meaning, or ingest its documents into a new collection to search by words")
    ensure_loaded(backend, collection)
    fetch = _fetch(fields, limit)
    outputs = _outputs(fields, description)
    if mode == "words":
        res = backend.search(collection, [text], anns_field=SPARSE_FIELD, limit=fetch, filter=filter or "",
                             output_fields=outputs, search_params={"metric_type": "BM25"}, partitions=partitions)
        return _hits(res[0], fields, text, None, "words", limit, passages)
    reason = backend.capabilities.why_not("max_sim")
    if reason:
        raise CapabilityError(f"cannot search chunks[emb] of {collection!r} on {backend.label}: {reason}")
    vec = _text_vector(backend, collection, text, text_model, device, on_status, embedder)
    requests = [AnnRequest(data=[text], anns_field=SPARSE_FIELD, limit=fetch, metric_type="BM25", filter=filter),
                AnnRequest(data=[vec], anns_field="chunks[emb]", limit=fetch, metric_type="MAX_SIM_COSINE",
                           filter=filter)]
    if "pages" in fields:
        if page_vector is None:
            raise InputError(f"collection {collection!r} keeps page images: --mode both needs its CLIP model")
        requests.append(AnnRequest(data=[np.asarray(page_vector(text), dtype=np.float32)],
                                   anns_field="pages[image_vector]", limit=fetch, metric_type="MAX_SIM_COSINE",
                                   filter=filter))
    ranker: Any = RRFRanker(k=60)
    if weights is not None:
        names = ", ".join(r.anns_field for r in requests)
        if len(weights) != len(requests):
            raise InputError(f"give {len(requests)} weights, one per request ({names}); got {len(weights)}")
        if any(not (0.0 <= w <= 1.0) for w in weights):
            raise InputError(f"weights must be between 0 and 1 (one per request: {names}); got {list(weights)}")
        ranker = WeightedRanker(*(float(w) for w in weights))
    # Milvus (and the engine, as Milvus) refuse a MAX_SIM (EmbeddingList) request in hybrid_search, so each
    # request is one search() and the lists are fused here with Milvus's own RRF / weighted scoring.
    per_request: list[list[tuple[Any, float]]] = []
    entities: dict[Any, dict[str, Any]] = {}
    for r in requests:
        got = backend.search(collection, r.data, anns_field=r.anns_field, limit=r.limit, filter=r.filter or "",
                             output_fields=outputs, search_params={"metric_type": r.metric_type},
                             partitions=partitions)[0]
        per_request.append([(h["id"], float(h["distance"])) for h in got])
        for h in got:
            entities.setdefault(h["id"], h.get("entity") or {})
    fused = fuse(per_request, [str(r.metric_type) for r in requests], ranker, limit=fetch)
    res = [[{"id": pk, "distance": score, "entity": entities[pk]} for pk, score in fused]]
    return _hits(res[0], fields, text, vec, "both", limit, passages)


def _split(path: str) -> tuple[str | None, str | None]:
    if "[" in path and path.endswith("]"):
        head, _, tail = path.partition("[")
        return head, tail[:-1]
    return None, None


def _fetch(fields: dict[str, Any], limit: int) -> int:
    """How many hits to ask for: more than `limit` when parts of one document may repeat."""
    return limit if "part" not in fields else min(16384, limit * 2 + 8)


def _outputs(fields: dict[str, Any], description: dict[str, Any]) -> list[str]:
    """Scalar fields and the chunks; not the BM25 input `text` (the chunks hold it) nor its output."""
    skip = {"text", *bm25_fields(description)}
    return [n for n, f in fields.items() if f.dtype not in ("FLOAT_VECTOR", "SPARSE_FLOAT_VECTOR")
            and not f.is_struct_array and n not in skip] + ["chunks"]


def _text_vector(backend: Backend, collection: str, text: str, text_model: str | None, device: str | None,
                 on_status: Callable[[str], None] | None, embedder: Any) -> np.ndarray:
    from workbench.text_embedders import text_embedder_for_collection

    emb = embedder or text_embedder_for_collection(backend, collection, text_model, device, on_status=on_status)
    return np.asarray(emb.embed_texts([text])[0], dtype=np.float32)


def _hits(raw: list[Any], fields: dict[str, Any], text: str, vec: np.ndarray | None, mode: str, limit: int,
          passages: int) -> list[Any]:
    from workbench.collection_ops import SearchHit
    from workbench.document_passages import pick_passages, text_analyzer

    analyzer = text_analyzer(fields)
    hits: list[SearchHit] = []
    seen: set[tuple[Any, Any]] = set()
    for h in raw:
        entity = dict(h.get("entity") or {})
        doc = (entity.get("path"), entity.get("record_key"))
        if "part" in entity and doc in seen:
            continue  # another part of a document already listed (hits come best first)
        seen.add(doc)
        elements = entity.pop("chunks", None) or []
        hit = SearchHit(id=h.get("id"), score=float(h.get("distance", 0.0)), fields=entity)
        hit.passages = pick_passages(elements, mode=mode, analyzer=analyzer, query=text, vec=vec, n=passages)
        hit.extra["mode"] = mode
        if hit.passages:
            hit.page = hit.passages[0]["page"] or None
            hit.page_text = hit.passages[0]["text"]
        hits.append(hit)
        if len(hits) >= limit:
            break
    return hits
