"""Uniqueness of each entity, and the N most diverse entities (greedy farthest-point selection).

**Uniqueness** of a row is its distance to its nearest neighbour on a vector field: 1 - cosine
similarity for COSINE, IP and MAX_SIM fields (0: an exact duplicate exists; larger: more unique), the
L2 distance for L2 fields. The nearest neighbours come from the same batched self-join as the
near-duplicate scan (`workbench.near_join`), so it costs one pass through the index.

**Most diverse** picks N rows by greedy farthest-point selection: start with the row farthest from
the mean vector, then repeatedly add the row whose distance to its closest already-picked row is
largest (cosine distance, or L2 for L2 fields). Each pick comes with that distance: the radius within
which the picks so far cover every row (non-increasing), so it also says when more picks stop adding
much. It is exact over the rows it looks at: O(N x rows x dim). Over more than `sample` rows (default
50,000) it looks at a uniform random sample of `sample` rows (seeded) and says so in its notes: the
picks are then the most diverse of the sample, an approximation. For an Array of Structs sub-field an
entity's vector is the normalised mean of its elements' vectors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.backends import Backend, primary_field
from workbench.duplicates import ScanProgress, default_vector_field
from workbench.near_join import field_metric, larger_is_closer, self_join, sort_key
from workbench.settings import InputError
from workbench.targets import ensure_loaded, require_collection

DEFAULT_SAMPLE = 50_000


@dataclass
class Uniqueness:
    """Each row's uniqueness (distance to its nearest neighbour), most unique first."""

    collection: str
    field: str
    metric: str
    scores: list[tuple[Any, float, Any]]  # (pk, uniqueness, nearest pk)


@dataclass
class Selection:
    """The most diverse rows in pick order, each with its distance to the picks before it."""

    collection: str
    field: str
    metric: str
    picks: list[tuple[Any, float]]
    rows_considered: int
    rows_total: int
    notes: list[str] = dataclasses.field(default_factory=list)


def uniqueness_scan(backend: Backend, collection: str, field: str | None = None, filter: str = "",
                    batch_size: int = 512) -> Generator[ScanProgress, None, Uniqueness]:
    """Every row's uniqueness (see the module docstring); yields progress, returns `Uniqueness`."""
    require_collection(backend, collection)
    ensure_loaded(backend, collection)
    target = field or default_vector_field(backend.schema(collection), collection)
    metric = field_metric(backend, collection, target)
    larger = larger_is_closer(metric)
    # a threshold nothing reaches: only the nearest neighbours are wanted, not pairs
    final: dict[str, Any] = {}
    for ev in self_join(backend, collection, target, 1e30 if larger else -1.0, k=1, filter=filter,
                        batch_size=batch_size):
        if "pairs" in ev:
            final = ev
        else:
            yield ScanProgress("searching", int(ev["done"]), int(ev["total"]))
    scores = [(pk, (1.0 - s) if larger else s, other) for pk, (other, s) in final["nearest"].items()]
    scores.sort(key=lambda t: (-t[1], sort_key(t[0])))
    return Uniqueness(collection, target, str(final["metric"]).upper(), scores)


def farthest_points(vectors: np.ndarray, n: int, metric: str = "COSINE") -> list[tuple[int, float]]:
    """Greedy farthest-point selection of `n` rows of `vectors`: [(row, distance to the earlier picks)];
    the first pick is the row farthest from the mean (its distance to the mean is given)."""
    x: np.ndarray = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"vectors must be a 2-d array, not {x.ndim}-d")
    n = min(int(n), len(x))
    if n <= 0:
        return []
    cosine = larger_is_closer(metric)
    if cosine:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1)

    def dist(v: np.ndarray) -> np.ndarray:
        if cosine:
            return np.asarray(1.0 - x @ v, dtype=np.float64)
        return np.asarray(np.sqrt(np.maximum(((x - v) ** 2).sum(axis=1), 0)), dtype=np.float64)

    mean = x.mean(axis=0)
    if cosine:
        m = float(np.linalg.norm(mean))
        mean = mean / m if m > 0 else mean
    d0 = dist(mean)
    first = int(np.argmax(d0))
    picks = [(first, float(d0[first]))]
    closest = dist(x[first])
    closest[first] = -np.inf
    while len(picks) < n:
        i = int(np.argmax(closest))
        picks.append((i, float(closest[i])))
        closest = np.minimum(closest, dist(x[i]))
        closest[[p for p, _ in picks]] = -np.inf
    return picks


def most_diverse(backend: Backend, collection: str, n: int, field: str | None = None, filter: str = "",
                 sample: int = DEFAULT_SAMPLE, seed: int = 0) -> Generator[ScanProgress, None, Selection]:
    """The `n` most diverse rows (see the module docstring); yields progress, returns a `Selection`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"the number of rows to pick must be a whole number of at least 1, not {n!r}")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise InputError(f"sample must be a whole number of at least 1, not {sample!r}")
    require_collection(backend, collection)
    ensure_loaded(backend, collection)
    schema = backend.schema(collection)
    target = field or default_vector_field(schema, collection)
    metric = field_metric(backend, collection, target)
    pk = str(primary_field(schema)["name"])
    struct, sub = (target[:-1].split("[", 1) if target.endswith("]") and "[" in target else (None, None))
    total = backend.count(collection, filter=filter)
    keys: list[Any] = []
    vecs: list[np.ndarray] = []
    yield ScanProgress("reading", 0, total)
    for batch in backend.iter_rows(collection, batch_size=2000, output_fields=[pk, struct or target], filter=filter):
        for r in batch:
            v = _entity_vector(r, target, struct, sub)
            if v is not None:
                keys.append(r[pk])
                vecs.append(v)
        yield ScanProgress("reading", len(keys), max(total, len(keys)))
    notes: list[str] = []
    idx = np.arange(len(keys))
    if len(keys) > sample:
        idx = np.sort(np.random.default_rng(seed).choice(len(keys), sample, replace=False))
        notes.append(f"approximate: picked from a random sample of {sample:,} of the {len(keys):,} rows (seed {seed})")
    if struct:
        notes.append(f"each entity is the normalised mean of its {target} vectors")
    matrix = np.stack([vecs[i] for i in idx]) if len(idx) else np.zeros((0, 1), np.float32)
    yield ScanProgress("picking", 0, min(n, len(idx)))
    picks = farthest_points(matrix, n, metric)
    yield ScanProgress("picking", len(picks), len(picks))
    return Selection(collection, target, metric, [(keys[idx[i]], d) for i, d in picks], len(idx), len(keys), notes)


def _entity_vector(row: dict[str, Any], target: str, struct: str | None, sub: str | None) -> np.ndarray | None:
    if struct is None:
        v = row.get(target)
        return None if v is None else np.asarray(v, dtype=np.float32)
    els = [e[sub] for e in (row.get(struct) or []) if e.get(sub) is not None]
    if not els:
        return None
    m = np.asarray(els, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(m))
    return m / norm if norm > 0 else m
