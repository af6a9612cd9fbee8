"""The embedding map's model, free of widgets: PCA to 2D, lasso hit-tests, and the projection job.

`projection_events` reads a vector field in batches (with the colour field, thumbnails and titles),
drawing a random sample (seed 0) when the collection has more rows than asked for, and projects it
with PCA, or with PCA first and then UMAP (`umap_layout`, in a process of its own); it is a generator
of progress events, run on a worker by the map. `label_events` reads another colour field for the
points already drawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ui.shared.thumbnails import thumbnail_path


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components of the rows of `x` (float32, n × 2)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(len(x) - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:2]
    proj = centred @ vecs[:, order]
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    return proj.astype(np.float32)


def points_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside a polygon (even-odd rule), vectorised over points."""
    if len(poly) < 3 or len(pts) == 0:
        return np.zeros(len(pts), dtype=bool)
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), dtype=bool)
    px, py = poly[:, 0], poly[:, 1]
    qx, qy = np.roll(px, 1), np.roll(py, 1)
    for x0, y0, x1, y1 in zip(px, py, qx, qy):
        cond = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = (x1 - x0) * (y - y0) / (y1 - y0) + x0
        inside ^= cond & (x < xc)
    return inside


# Vector types the map can project (as float vectors; the backends return these as lists of floats).
PROJECTABLE = ("FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR")


def _read_sample(backend: Any, collection: str, pk: str, outputs: list[str], total: int, max_points: int,
                 batch: int) -> Iterator[dict[str, Any]]:
    """Rows of a random sample of `max_points` of the `total` rows (seed 0): the keys first, then the rows."""
    keys: list[Any] = []
    for rows in backend.iter_rows(collection, batch_size=max(batch, 5000), output_fields=[pk]):
        keys.extend(r[pk] for r in rows)
        yield {"done": len(keys), "total": total, "text": f"choosing a random sample: {len(keys):,}/{total:,} keys"}
    rng = np.random.default_rng(0)
    chosen = [keys[i] for i in np.sort(rng.choice(len(keys), size=min(max_points, len(keys)), replace=False))]
    for start in range(0, len(chosen), batch):
        yield {"rows": backend.get(collection, chosen[start:start + batch], output_fields=outputs)}


def projection_events(backend: Any, collection: str, field: str, color_by: str | None,
                      max_points: int, batch: int = 2000, method: str = "pca",
                      metric: str = "cosine") -> Iterator[dict[str, Any]]:
    """Read pk, vector, colour field and thumbnail fields in batches; project; return the map data.

    `method` "umap": the PCA map comes first (every later event carries it as "preview"), then UMAP."""
    desc = backend.describe_collection(collection)
    names = {f["name"] for f in desc["fields"]}
    pk = next(f["name"] for f in desc["fields"] if f.get("is_primary"))
    count = int(backend.count(collection))
    total = min(count, max_points)
    sample = (f"a random sample of {total:,} of {count:,} rows (seed 0)" if count > max_points
              else f"all {count:,} rows")
    outputs = [pk, field] + [n for n in (color_by, "thumbnail", "sha256", "path", "file_name") if n and n in names]
    outputs = list(dict.fromkeys(outputs))
    ids: list[Any] = []
    vecs: list[np.ndarray] = []
    labels: list[Any] = []
    thumbs: list[str | None] = []
    titles: list[str] = []
    if count > max_points:
        source: Any = _read_sample(backend, collection, pk, outputs, count, max_points, batch)
    else:
        source = ({"rows": rows} for rows in backend.iter_rows(collection, batch_size=batch, output_fields=outputs,
                                                               limit=total)) if total else iter(())
    try:
        for ev in source:
            if "rows" not in ev:
                yield ev
                continue
            rows = ev["rows"][: total - len(ids)]
            if not rows:
                break
            vecs.append(np.asarray([r[field] for r in rows], dtype=np.float32))
            for r in rows:
                ids.append(r[pk])
                labels.append(r.get(color_by) if color_by else None)
                thumbs.append(thumbnail_path(backend, collection, r))
                titles.append(str(r.get("file_name") or r.get("path") or r[pk]))
            yield {"done": len(ids), "total": total, "text": f"read {len(ids):,}/{total:,} vectors ({sample})"}
            if len(ids) >= total:
                break
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    yield {"done": total, "total": total, "text": "projecting (PCA)…"}
    x = np.concatenate(vecs) if vecs else np.zeros((0, 2), dtype=np.float32)
    data = {"ids": ids, "xy": pca_2d(x), "labels": labels, "thumbs": thumbs, "titles": titles, "field": field,
            "color_by": color_by, "collection": collection, "method": "PCA", "sample": sample}
    if method != "umap" or len(ids) < 4:
        return data
    from ui.embedding_map.umap_layout import umap_events

    events = umap_events(x, metric=metric)
    try:
        while True:
            ev = next(events)
            yield {**ev, "preview": data}
    except StopIteration as stop:
        xy = stop.value
    finally:
        events.close()
    return {**data, "xy": xy, "method": "UMAP"}


def label_events(backend: Any, collection: str, ids: list[Any], field: str | None,
                 batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Read `field` for the rows `ids` (the points drawn), in their order; returns the list of values."""
    if not field:
        return [None] * len(ids)
    desc = backend.describe_collection(collection)
    pk = next(f["name"] for f in desc["fields"] if f.get("is_primary"))
    found: dict[Any, Any] = {}
    for start in range(0, len(ids), batch):
        for r in backend.get(collection, ids[start:start + batch], output_fields=[pk, field]):
            found[r[pk]] = r.get(field)
        yield {"done": min(len(ids), start + batch), "total": len(ids),
               "text": f"reading {field}: {min(len(ids), start + batch):,}/{len(ids):,}"}
    return [found.get(i) for i in ids]
