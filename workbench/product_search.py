"""Search in a products collection: products ranked by MAX_SIM over their images, each with the image
that matched best and the others as a strip.

A text or photo query is embedded with the collection's CLIP model and searched on `images[embedding]`
with MAX_SIM_COSINE: a product scores by its images' best matches, and is returned once however many
of its photos match (`--field embedding` searches the main images alone, with COSINE). Each hit's
images are scored against the query here, so the hit says which image matched best (its angle, path,
thumbnail and cosine) and lists the others, best first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.backends import Backend, CapabilityError
from workbench.collection_ops import SearchHit, _query_vector
from workbench.settings import InputError
from workbench.targets import ensure_loaded
from workbench.templates import existing_fields, read_meta, workspace_of

PRODUCT_FIELD = "images[embedding]"


class ProductHit(SearchHit):
    """A product: `best` is the image that matched the query best, `strip` the others, best first; each
    is {"path", "angle", "is_primary", "thumbnail", "score"}."""

    @property
    def best(self) -> dict[str, Any] | None:
        best = self.extra.get("best_image")
        return dict(best) if isinstance(best, dict) else None

    @property
    def strip(self) -> list[dict[str, Any]]:
        return list(self.extra.get("other_images") or [])

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["best_image"] = self.best
        d["other_images"] = self.strip
        return d


def describe_product(h: dict[str, Any], vec: np.ndarray, db: Any) -> ProductHit:
    """A `ProductHit` from a backend hit whose entity holds `images`: every image scored against `vec`
    (cosine), the best one's thumbnail shown for the product. `db`: the Backend (thumbnail paths in rows
    are relative to its workspace)."""
    entity = dict(h.get("entity") or {})
    elements = entity.pop("images", None) or []
    hit = ProductHit(id=h.get("id"), score=float(h.get("distance", 0.0)), fields=entity)
    base = workspace_of(db)
    q = np.asarray(vec, dtype=np.float32)
    qn = q / max(float(np.linalg.norm(q)), 1e-12)
    scored = []
    for i, e in enumerate(elements):
        v = e.get("embedding")
        if v is None:
            continue
        v = np.asarray(v, dtype=np.float32)
        s = float(v @ qn / max(float(np.linalg.norm(v)), 1e-12))
        thumb = e.get("thumbnail")
        scored.append((s, i, {"path": e.get("path"), "angle": e.get("angle") or "", "is_primary":
                              bool(e.get("is_primary")), "thumbnail": str(base / thumb) if thumb else
                              _image_path(e.get("path")), "score": s}))
    scored.sort(key=lambda t: (-t[0], t[1]))
    if scored:
        s, i, best = scored[0]
        hit.extra.update(best_image=best, other_images=[x for _, _, x in scored[1:]], element=i, element_score=s,
                         elements=len(elements))
        hit.thumbnail = best["thumbnail"]
    return hit


def _image_path(path: Any) -> str | None:
    if isinstance(path, str) and Path(path).suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"):
        return path
    return None


def search_products(backend: Backend, collection: str, description: dict[str, Any], *, text: str | None,
                    image: str | os.PathLike[str] | None, filter: str = "", limit: int = 10,
                    anns_field: str | None = None, embedder: Any = None, model: str | None = None,
                    pretrained: str | None = None, checkpoint: str | os.PathLike[str] | None = None,
                    device: str | None = None, on_status: Callable[[str], None] | None = None) -> list[ProductHit]:
    """Products best first (see the module docstring); `anns_field` is `images[embedding]` (default) or
    `embedding` (the main images)."""
    from workbench.embedders import EmbedderIdentity, embedder_for_collection

    fields = existing_fields(description)
    target = anns_field or PRODUCT_FIELD
    if target not in (PRODUCT_FIELD, "embedding") or (target == "embedding" and "embedding" not in fields):
        raise InputError(f"a products collection is searched on {PRODUCT_FIELD} (its images) or embedding (the main "
                         f"images), not {target!r}")
    metric = "MAX_SIM_COSINE" if target == PRODUCT_FIELD else "COSINE"
    if target == PRODUCT_FIELD:
        reason = backend.capabilities.why_not("max_sim")
        if reason:
            raise CapabilityError(f"cannot search {target} of {collection!r} on {backend.label}: {reason}")
    if embedder is None:
        embedder = embedder_for_collection(backend, collection, model, pretrained, checkpoint, device,
                                           on_status=on_status)
    rec = (read_meta(backend, collection) or {}).get("embedder")
    if rec:
        EmbedderIdentity.from_dict(rec).check_same(embedder.identity, collection)
    vec = _query_vector(embedder, text, image)
    outputs = [n for n, f in fields.items() if f.dtype != "FLOAT_VECTOR" and not f.is_struct_array] + ["images"]
    ensure_loaded(backend, collection)
    res = backend.search(collection, [vec], anns_field=target, limit=limit, filter=filter or "",
                         output_fields=outputs, search_params={"metric_type": metric})
    return [describe_product(h, vec, backend) for h in res[0]]
