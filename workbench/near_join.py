"""The near-duplicate self-join on any backend: the engine's own, or batched searches from the client.

The embedded engine joins a collection with itself inside (`EmbeddedBackend.find_duplicates`, over
`MilvusClient.find_duplicates`). A Milvus server or Milvus Lite has no such call, so there the rows
are read `batch_size` at a time (primary key and vector) and each batch is one search request with
`batch_size` query vectors (nq = batch_size), through the collection's index: the same k-NN self-join,
from the client, with n / batch_size requests instead of the computer-vision guide's n. For an Array of
Structs sub-field each row's element list is one MAX_SIM query.

Both yield ``{"done", "total"}`` and end with ``{"done", "total", "metric", "pairs", "nearest"}``:
`pairs` are (pk_a, pk_b, score) at least as close as the threshold (a similarity at or above it, or
for L2 a distance at or below it), `nearest` maps each row to its nearest other row and score.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from workbench.backends import Backend, BackendError, primary_field
from workbench.settings import InputError

LARGER_IS_CLOSER = ("COSINE", "IP", "MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM")


def larger_is_closer(metric: str) -> bool:
    """Whether a larger score means closer (similarities) or a smaller one (distances: L2, HAMMING...)."""
    return metric.upper() in LARGER_IS_CLOSER


def field_metric(backend: Backend, collection: str, field: str) -> str:
    """The metric of the index on `field` (COSINE, IP, L2, MAX_SIM_COSINE...); COSINE when it has none."""
    for ix in backend.list_indexes(collection):
        if ix.field_name == field and ix.metric_type:
            return str(ix.metric_type).upper()
    return "MAX_SIM_COSINE" if "[" in field else "COSINE"


def self_join(backend: Backend, collection: str, field: str, threshold: float, k: int = 5, filter: str = "",
              batch_size: int = 512) -> Iterator[dict[str, Any]]:
    """Pairs at least as close as `threshold` among each row's `k` nearest neighbours (see the module
    docstring); the engine's join where the backend has it, else batched searches."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number, not {threshold!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1024:
        raise InputError(f"k must be a whole number from 1 to 1024, not {k!r}")
    engine_join = getattr(backend, "find_duplicates", None)
    if engine_join is not None:
        return engine_join(collection, field, float(threshold), k=k, filter=filter, batch_size=batch_size)  # type: ignore[no-any-return]
    return _batched(backend, collection, field, float(threshold), k, filter, batch_size)


def _batched(backend: Backend, collection: str, field: str, threshold: float, k: int, flt: str,
             batch_size: int) -> Iterator[dict[str, Any]]:
    schema = backend.schema(collection)
    pk = str(primary_field(schema)["name"])
    struct, sub = (field[:-1].split("[", 1) if field.endswith("]") and "[" in field else (None, None))
    metric = field_metric(backend, collection, field)
    larger = larger_is_closer(metric)
    total = backend.count(collection, filter=flt)
    done = 0
    pairs: dict[tuple[Any, Any], float] = {}
    nearest: dict[Any, tuple[Any, float]] = {}
    yield {"done": 0, "total": total}
    read = [pk, struct] if struct else [pk, field]
    for rows in backend.iter_rows(collection, batch_size=batch_size, output_fields=read, filter=flt):
        keys: list[Any] = []
        queries: list[Any] = []
        for r in rows:
            if struct:
                vecs = [e[sub] for e in (r.get(struct) or []) if e.get(sub) is not None]
                if not vecs:
                    continue  # an entity with no elements has nothing to compare
                queries.append(np.asarray(vecs, dtype=np.float32))
            else:
                if r.get(field) is None:
                    continue
                queries.append(r[field])
            keys.append(r[pk])
        if queries:
            res = backend.search(collection, queries, anns_field=field, limit=k + 1, filter=flt,
                                 search_params={"metric_type": metric, "params": {"ef": max(64, 4 * (k + 1))}})
            if len(res) != len(keys):
                raise BackendError(f"a search of {len(keys)} queries on {backend.label} returned {len(res)} "
                                   "result lists")
            collect(keys, [[(h["id"], float(h["distance"])) for h in hits] for hits in res], threshold, larger,
                    pairs, nearest)
        done += len(rows)
        yield {"done": done, "total": max(total, done)}
    yield {"done": done, "total": max(total, done), "metric": metric, "pairs": ordered(pairs, larger),
           "nearest": nearest}


def collect(keys: list[Any], hits: list[list[tuple[Any, float]]], threshold: float, larger: bool,
            pairs: dict[tuple[Any, Any], float], nearest: dict[Any, tuple[Any, float]]) -> None:
    """Add each query row's nearest other row and its pairs within `threshold` (the closer score of
    both directions)."""
    for key, found in zip(keys, hits):
        others = [(pk, s) for pk, s in found if pk != key]
        if others:
            nearest[key] = others[0]
        for other, s in others:
            if (s >= threshold) if larger else (s <= threshold):
                a, b = (key, other) if sort_key(key) <= sort_key(other) else (other, key)
                old = pairs.get((a, b))
                pairs[(a, b)] = s if old is None else (max(old, s) if larger else min(old, s))


def ordered(pairs: dict[tuple[Any, Any], float], larger: bool) -> list[tuple[Any, Any, float]]:
    """Pairs closest first (ties by key)."""
    return sorted(((a, b, s) for (a, b), s in pairs.items()),
                  key=lambda t: (-t[2] if larger else t[2], sort_key(t[0]), sort_key(t[1])))


def sort_key(pk: Any) -> tuple[int, Any]:
    """An order over mixed primary keys: integers, then strings."""
    return (0, pk) if isinstance(pk, int) else (1, str(pk))


# --- MAX_SIM between whole entities, on the scale of one similarity ----------------------------------
def entity_similarity(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """Symmetric mean MAX_SIM of two element lists: the mean over a's elements of their best match in b,
    and the same from b, averaged. 1.0 for the same set of unit vectors in any order (for
    MAX_SIM_COSINE), whatever the number of elements, unlike the MAX_SIM sum."""
    x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if metric.upper().endswith("COSINE"):
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    sims = x @ y.T
    return float((sims.max(axis=1).mean() + sims.max(axis=0).mean()) / 2)


def per_element(backend: Backend, collection: str, field: str, threshold: float, final: dict[str, Any],
                batch_size: int = 512) -> Iterator[dict[str, Any]]:
    """The self-join of an Array of Structs sub-field on a per-element scale (see `entity_similarity`).

    The join's scores are MAX_SIM sums (up to the query's element count); here each row's nearest
    score is divided by its element count, and each candidate pair is scored again from both
    entities' elements, keeping those at or above `threshold`. Every pair at or above it is among the
    candidates when `threshold` > 0 (a mean at or above it makes the sum at or above it). Yields
    progress; ends with the join's shape (`metric` gains a note, the scores are per element)."""
    struct, sub = field[:-1].split("[", 1)
    pk = str(primary_field(backend.schema(collection))["name"])
    counts: dict[Any, int] = {}
    total = int(final["total"])
    yield {"phase": "counting", "done": 0, "total": total}
    for rows in backend.iter_rows(collection, batch_size=batch_size, output_fields=[pk, struct]):
        for r in rows:
            counts[r[pk]] = sum(1 for e in (r.get(struct) or []) if e.get(sub) is not None)
        yield {"phase": "counting", "done": len(counts), "total": max(total, len(counts))}
    nearest = {a: (b, s / max(1, counts.get(a, 1))) for a, (b, s) in final["nearest"].items()}
    candidates = [(a, b) for a, b, _ in final["pairs"]]
    metric = str(final["metric"])
    pairs: dict[tuple[Any, Any], float] = {}
    yield {"phase": "scoring", "done": 0, "total": len(candidates)}
    for lo in range(0, len(candidates), batch_size):
        chunk = candidates[lo : lo + batch_size]
        ids = sorted({m for p in chunk for m in p}, key=sort_key)
        elements = {r[pk]: [e[sub] for e in (r.get(struct) or []) if e.get(sub) is not None]
                    for r in backend.get(collection, ids, output_fields=[pk, struct])}
        for a, b in chunk:
            if elements.get(a) and elements.get(b):
                s = entity_similarity(np.asarray(elements[a]), np.asarray(elements[b]), metric)
                if s >= threshold:
                    pairs[(a, b)] = s
        yield {"phase": "scoring", "done": min(len(candidates), lo + batch_size), "total": len(candidates)}
    yield {"done": total, "total": total, "metric": metric, "pairs": ordered(pairs, True), "nearest": nearest}
