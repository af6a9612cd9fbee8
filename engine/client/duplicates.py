"""`find_duplicates`: every pair of rows at least as similar as a threshold, by a batched k-NN self-join.

The computer-vision guide finds near-duplicates with one search per row from the client and keeps the
pairs above 0.98. Here the collection is searched with its own vectors in batches (one index call per
batch of up to `batch_size` rows, through the same path as `search`, so indexes, filters and partitions
apply), and the result is every pair (a, b) with a's k nearest neighbours containing b at a similarity at
or above `threshold` (for L2: a distance at or below it), plus each row's nearest neighbour and its score
(the histogram that helps choose the threshold). An Array of Structs vector sub-field (`chunks[emb]`)
compares whole entities by MAX_SIM, each row's element list being its query.

It is a generator: it yields progress events ``{"done": rows, "total": rows}`` and ends with
``{"done", "total", "metric", "pairs": [(pk_a, pk_b, score), ...], "nearest": {pk: (pk, score)}}``.
Stop iterating (or close it) to cancel; nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.client.validation import check_int_arg
from engine.errors import ParamError, brief
from engine.types import larger_is_closer

if TYPE_CHECKING:
    from engine.collection import Collection
    from engine.executor import Candidate


class DuplicatesMixin:
    """Mixed into MilvusClient; relies on its `_coll`, `_check_partitions` and `_search_candidates`."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def find_duplicates(self, collection_name: str, field: str | None = None, threshold: float = 0.98, k: int = 5,
                        filter: str = "", partition_names: list[str] | None = None, batch_size: int = 512,
                        ef: int | None = None) -> Iterator[dict[str, Any]]:
        """Engine extension: near-duplicate pairs by a batched self-join (see the module docstring)."""
        coll = self._coll(collection_name)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
            raise ParamError(f"threshold must be a finite number, got {brief(threshold, 40)}")
        k = check_int_arg(k, "k", 1, 1024)
        batch_size = check_int_arg(batch_size, "batch_size", 1, 65536)
        breadth = check_int_arg(ef if ef is not None else max(64, 4 * (k + 1)), "ef", k + 1, 1 << 20)
        if field is None:
            paths = [p for p, _ in coll.schema.vector_fields()]
            if len(paths) != 1:
                raise ParamError(f"the collection has several vector fields {paths}; pass field=")
            field = paths[0]
        top, sub = coll.schema.resolve_vector_path(field)
        params = {"params": {"ef": breadth}}
        # checks every argument (and learns the metric) before any work: a probe search
        _, metric = self._search_candidates(coll, _probe_query(top, sub), field, filter, k + 1, 0, params,  # type: ignore[attr-defined]
                                            partition_names, None, probe=True)
        return _run(self, coll, field, top.name, sub.name if sub is not None else None, float(threshold), k,
                    filter, partition_names, batch_size, params, metric)


def _probe_query(top: Any, sub: Any) -> Any:
    dim = int((sub or top).params.get("dim", 8))
    if sub is not None:
        return [np.zeros((1, dim), dtype=np.float32)]
    if top.dtype.name == "BINARY_VECTOR":
        return [bytes(dim // 8)]
    return [[0.0] * dim]


def _run(client: Any, coll: Collection, field: str, top: str, sub: str | None, threshold: float, k: int, flt: str,
         partitions: list[str] | None, batch_size: int, params: dict[str, Any],
         metric: str) -> Iterator[dict[str, Any]]:
    from engine.executor import row_masks

    larger = larger_is_closer(metric)
    snap = coll.snapshot
    segs = snap.select(client._check_partitions(coll, partitions))
    masks = row_masks(coll.schema, segs, flt or None, None)
    total = int(sum(int(m.sum()) for m in masks))
    done = 0
    pairs: dict[tuple[Any, Any], float] = {}
    nearest: dict[Any, tuple[Any, float]] = {}
    yield {"done": 0, "total": total}
    for seg, mask in zip(segs, masks):
        rows = np.flatnonzero(mask)
        pks = seg.data.pk_column()
        for lo in range(0, len(rows), batch_size):
            chunk = rows[lo : lo + batch_size]
            if sub is None:
                queries: Any = np.asarray(seg.data.vectors_at(top, chunk))
                if queries.dtype == np.uint8:  # binary vectors: one bytes object per query
                    queries = [bytes(q) for q in queries]
            else:
                elements, offsets = seg.data.struct_vectors(top, sub)
                queries = [elements[offsets[r] : offsets[r + 1]] for r in chunk]
            keep = [i for i, q in enumerate(queries) if len(q)]
            if len(keep) < len(queries):  # an entity with no elements has nothing to compare
                queries = [queries[i] for i in keep] if isinstance(queries, list) else queries[keep]
                chunk = chunk[keep]
            if len(chunk):
                cands, _ = client._search_candidates(coll, queries, field, flt, k + 1, 0, params, partitions, None)
                _collect(pks[chunk].tolist(), cands, threshold, larger, pairs, nearest)
            done += len(rows[lo : lo + batch_size])
            yield {"done": done, "total": total}
    ordered = sorted(((a, b, s) for (a, b), s in pairs.items()), key=lambda t: (-t[2] if larger else t[2], str(t[0])))
    yield {"done": total, "total": total, "metric": metric, "pairs": ordered, "nearest": nearest}


def _collect(keys: list[Any], cands: list[list[Candidate]], threshold: float, larger: bool,
             pairs: dict[tuple[Any, Any], float], nearest: dict[Any, tuple[Any, float]]) -> None:
    for key, hits in zip(keys, cands):
        others = [c for c in hits if c.pk != key]
        if others:
            nearest[key] = (others[0].pk, others[0].distance)
        for c in others:
            if (c.distance >= threshold) if larger else (c.distance <= threshold):
                a, b = (key, c.pk) if _order(key) <= _order(c.pk) else (c.pk, key)
                pairs[(a, b)] = max(pairs.get((a, b), c.distance), c.distance) if larger else \
                    min(pairs.get((a, b), c.distance), c.distance)


def _order(pk: Any) -> tuple[int, Any]:
    return (0, pk) if isinstance(pk, int) else (1, str(pk))
