"""Reading collections: list, describe, stats, Parquet export, and search by text or image.

Each function is what one `workbench` command calls. Search embeds the query
with the model recorded for the collection (or the one given, which must be
the same), and for Array-of-Structs fields runs a MAX_SIM search, then says
which page (PDFs) or crop (multi-view images) matched best.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.settings import CollectionError, InputError, WorkbenchError, workbench_dir
from workbench.templates import (
    collection_kind,
    existing_fields,
    open_client,
    read_meta,
    require_collection,
    thumbnails_dir,
)


def _dir_size(path: Path) -> tuple[int, int]:
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
                count += 1
            except OSError:
                pass
    return total, count


def list_collections(db: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Each collection with its row count, kind and model."""
    client = open_client(db, create=False)
    try:
        out = []
        for name in sorted(client.list_collections()):
            desc = dict(client.describe_collection(name))
            meta = read_meta(db, name) or {}
            out.append({
                "name": name,
                "rows": int(client.get_collection_stats(name).get("row_count", 0)),
                "kind": collection_kind(db, name, desc),
                "model": _model_text(meta),
            })
        return out
    finally:
        client.close()


def _model_text(meta: dict[str, Any]) -> str | None:
    from workbench.embedders import EmbedderIdentity

    rec = meta.get("embedder")
    return EmbedderIdentity.from_dict(rec).describe() if rec else None


def _field_summary(desc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in existing_fields(desc).values():
        d: dict[str, Any] = {"name": f.name, "type": f.dtype}
        d.update({k: v for k, v in f.params.items() if k in ("dim", "max_length", "max_capacity")})
        if f.is_primary:
            d["primary"] = True
        if f.nullable:
            d["nullable"] = True
        if f.sub:
            d["fields"] = [dict({"name": s.name, "type": s.dtype},
                                **{k: v for k, v in s.params.items() if k in ("dim", "max_length")})
                           for s in f.sub.values()]
        out.append(d)
    return out


def describe(db: str | os.PathLike[str], collection: str) -> dict[str, Any]:
    """Schema (fields, sub-fields), kind, and the workbench's record (model, template, options)."""
    client = open_client(db, create=False)
    try:
        desc = require_collection(client, db, collection)
        meta = read_meta(db, collection) or {}
        return {
            "name": collection,
            "kind": collection_kind(db, collection, desc),
            "description": desc.get("description", ""),
            "fields": _field_summary(desc),
            "model": _model_text(meta),
            "workbench": meta,
        }
    finally:
        client.close()


def stats(db: str | os.PathLike[str], collection: str) -> dict[str, Any]:
    """Row count, thumbnails on disk, database size, model."""
    client = open_client(db, create=False)
    try:
        require_collection(client, db, collection)
        rows = int(client.get_collection_stats(collection).get("row_count", 0))
    finally:
        client.close()
    thumb_bytes, thumb_count = _dir_size(thumbnails_dir(db, collection))
    db_bytes, _ = _dir_size(Path(db))
    meta = read_meta(db, collection) or {}
    return {"name": collection, "rows": rows, "thumbnails": thumb_count, "thumbnail_bytes": thumb_bytes,
            "database_bytes": db_bytes, "model": _model_text(meta), "kind": meta.get("kind")}


def export_parquet(db: str | os.PathLike[str], collection: str, dest: str | os.PathLike[str],
                   batch_size: int = 1000) -> int:
    """Write every row (vectors as lists of floats) to a Parquet file, batch by batch; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine import CollectionSchema

    client = open_client(db, create=False)
    try:
        desc = require_collection(client, db, collection)
        schema = CollectionSchema.from_dict(desc).arrow_schema()
        names = [f.name for f in schema if not f.name.startswith("$")]
        schema = pa.schema([schema.field(n) for n in names])
        dest_path = Path(dest).expanduser()
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        it = client.query_iterator(collection, batch_size=batch_size, filter="", output_fields=names)
        n = 0
        tmp = dest_path.with_name(f".{dest_path.name}.tmp")
        with pq.ParquetWriter(tmp, schema) as writer:
            while True:
                rows = it.next()
                if not rows:
                    break
                writer.write_table(pa.Table.from_pylist([_plain(r) for r in rows], schema=schema))
                n += len(rows)
        it.close()
        os.replace(tmp, dest_path)
        return n
    finally:
        client.close()


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


# --- search ------------------------------------------------------------------------
@dataclass
class SearchHit:
    """One result: score (cosine similarity, larger is closer), stored fields, and what matched best."""

    id: Any
    score: float
    fields: dict[str, Any]
    page: int | None = None  # PDFs: the page that matched best
    page_text: str | None = None
    box: tuple[int, int, int, int] | None = None  # multi-view: the crop that matched best
    thumbnail: str | None = None  # absolute path of the (page) thumbnail
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "score": self.score, **self.fields}
        if self.page is not None:
            d["page"] = self.page
            d["page_text"] = self.page_text
        if self.box is not None:
            d["box"] = list(self.box)
        d["thumbnail"] = self.thumbnail
        return d


def default_anns_field(kind: str | None, fields: dict[str, Any], query_is_text: bool) -> str:
    """Which vector field a search uses when none is given."""
    if kind == "pdfs" and "pages" in fields:
        subs = fields["pages"].sub
        if query_is_text and "text_vector" in subs:
            return "pages[text_vector]"
        return "pages[image_vector]"
    if "views" in fields and fields["views"].is_struct_array:
        return "views[embedding]"
    if "embedding" in fields:
        return "embedding"
    vectors = [n for n, f in fields.items() if f.dtype == "FLOAT_VECTOR"]
    if len(vectors) == 1:
        return vectors[0]
    raise CollectionError(f"cannot tell which vector field to search; pass --field (one of {vectors})")


def search(
    db: str | os.PathLike[str],
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
) -> list[SearchHit]:
    """Search a collection by text or by an image file; best first."""
    from engine import EmbeddingList, MilvusException
    from workbench.embedders import EmbedderIdentity, embedder_for_collection

    if (text is None) == (image is None):
        raise InputError("give exactly one of a text or an image to search with")
    if limit < 1:
        raise InputError("limit must be at least 1")
    client = open_client(db, create=False)
    try:
        desc = require_collection(client, db, collection)
        fields = existing_fields(desc)
        kind = collection_kind(db, collection, desc)
        meta = read_meta(db, collection) or {}
        if embedder is None:
            embedder = embedder_for_collection(db, collection, model, pretrained, checkpoint, device,
                                               on_status=on_status)
        if meta.get("embedder"):
            EmbedderIdentity.from_dict(meta["embedder"]).check_same(embedder.identity, collection)
        vec = _query_vector(embedder, text, image)
        target = anns_field or default_anns_field(kind, fields, text is not None)
        struct_name, sub_name = _split_path(target)
        outputs = [n for n, f in fields.items() if f.dtype != "FLOAT_VECTOR" and not f.is_struct_array]
        if struct_name is not None:
            q = EmbeddingList()
            q.add(vec)
            data: list[Any] = [q]
            metric = "MAX_SIM_COSINE"
            outputs.append(struct_name)
        else:
            data, metric = [vec], "COSINE"
        try:
            res = client.search(collection, data=data, anns_field=target, limit=limit, filter=filter or "",
                                output_fields=outputs, search_params={"metric_type": metric})
        except MilvusException as e:
            raise WorkbenchError(f"search failed: {str(getattr(e, 'message', '') or e).splitlines()[0]}") from e
        return [_hit(h, vec, struct_name, sub_name, db, collection) for h in res[0]]
    finally:
        client.close()


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
         db: str | os.PathLike[str], collection: str) -> SearchHit:
    entity = dict(h.get("entity") or {})
    elements = entity.pop(struct_name, None) if struct_name else None
    hit = SearchHit(id=getattr(h, "id", None) if hasattr(h, "id") else h.get("id"),  # keyed by the pk name
                    score=float(h.get("distance", 0.0)), fields=entity)
    base = workbench_dir(db)
    if entity.get("thumbnail"):
        hit.thumbnail = str(base / entity["thumbnail"])
    elif entity.get("sha256"):
        t = thumbnails_dir(db, collection) / f"{entity['sha256']}.jpg"
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
