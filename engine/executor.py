"""Query and search execution over one snapshot of a collection.

Everything here reads an immutable `Snapshot`, so a call sees one consistent
view of the data while writers go on. Filters are compiled once per call and
evaluated column-wise per segment into row masks; deleted rows are masked out
before anything is scored or returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from engine.collection import SegmentState, Snapshot
from engine.errors import ParamError
from engine.expr import compile_filter
from engine.schema import CollectionSchema, FieldSchema
from engine.types import (
    BINARY_METRICS,
    DYNAMIC_FIELD,
    FLOAT_METRICS,
    MAX_SIM_METRICS,
    DataType,
    larger_is_closer,
)
from engine.vectors.metrics import maxsim_scores, score_matrix, top_k

MAX_TOPK = 16384


class Hit(dict):
    """One search hit, shaped as pymilvus's: `{<pk name>: key, "distance": d, "entity": {...}}`.

    As in pymilvus, `hit.id` / `hit.pk` give the key, `hit.distance` / `hit.score` the distance,
    `hit["title"]` and `hit.get("title")` fall back to the entity's fields, and `hit.entity`
    is the hit itself.
    """

    def __init__(self, *args: Any, pk_name: str = "id", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pk_name = pk_name

    def __getattr__(self, item: str) -> Any:
        if item == "entity":
            return self
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None

    def __getitem__(self, key: Any) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            return super().__getitem__("entity")[key]

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def id(self) -> Any:
        return dict.get(self, self._pk_name)

    @property
    def pk(self) -> Any:
        return self.id

    @property
    def distance(self) -> float:
        return float(dict.__getitem__(self, "distance"))

    @property
    def score(self) -> float:
        return self.distance

    @property
    def fields(self) -> dict[str, Any]:
        return dict.__getitem__(self, "entity")

    def to_dict(self) -> dict[str, Any]:
        return self


# --- output fields ---------------------------------------------------------


@dataclass
class OutputPlan:
    """Which columns to read and how to shape them into entity dicts."""

    columns: list[str]  # schema fields to read
    struct_subs: dict[str, list[str] | None]  # struct field -> sub-fields (None = all)
    dynamic_keys: list[str] | None  # specific dynamic keys, or None
    all_dynamic: bool
    count_only: bool = False
    pk_requested: bool = True


def plan_output(schema: CollectionSchema, output_fields: Sequence[str] | None, *, default_all: bool) -> OutputPlan:
    """Resolve pymilvus-style output_fields (`*`, names, `struct[sub]`, dynamic keys, `count(*)`)."""
    pk = schema.primary_field.name
    fields = list(output_fields or [])
    if not fields and default_all:
        fields = ["*"]
    if any(f.replace(" ", "").lower() == "count(*)" for f in fields):
        if len(fields) > 1:
            raise ParamError("count(*) cannot be combined with other output fields")
        return OutputPlan([], {}, None, False, count_only=True)
    columns: list[str] = [pk]
    struct_subs: dict[str, list[str] | None] = {}
    dyn_keys: list[str] = []
    all_dynamic = False

    def add(name: str) -> None:
        if name not in columns:
            columns.append(name)

    for name in fields:
        if not isinstance(name, str):
            raise ParamError(f"output field {name!r} is not a string")
        if name == "*":
            for f in schema.fields:
                add(f.name)
                if f.is_struct_array:
                    struct_subs[f.name] = None
            all_dynamic = schema.enable_dynamic_field
            continue
        if "[" in name and name.endswith("]"):
            top_name, sub = name[:-1].split("[", 1)
            top = schema.field(top_name)
            if top is not None and top.is_struct_array and top.struct_schema is not None:
                if top.struct_schema.field(sub) is None:
                    subs = [s.name for s in top.struct_schema.fields]
                    raise ParamError(f"output field {name!r}: struct {top_name!r} has no sub-field {sub!r} (it has {subs})")
                add(top_name)
                current = struct_subs.get(top_name, [])
                if current is not None and sub not in current:
                    struct_subs[top_name] = [*current, sub]
                continue
        found = schema.field(name)
        if found is not None:
            add(name)
            if found.is_struct_array:
                struct_subs[name] = None
            continue
        if name == DYNAMIC_FIELD and schema.enable_dynamic_field:
            all_dynamic = True
            continue
        if schema.enable_dynamic_field:
            dyn_keys.append(name)
            continue
        raise ParamError(f"output field {name!r} does not exist in the collection (fields: {schema.field_names})")
    if (dyn_keys or all_dynamic) and DYNAMIC_FIELD not in columns:
        columns.append(DYNAMIC_FIELD)
    pk_requested = pk in fields or "*" in fields
    return OutputPlan(columns, struct_subs, dyn_keys or None, all_dynamic, pk_requested=pk_requested)


def _bf16_to_float(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def materialize(schema: CollectionSchema, seg: SegmentState, rows: np.ndarray, plan: OutputPlan) -> list[dict[str, Any]]:
    """Entity dicts for `rows` of one segment, shaped by `plan`."""
    n = len(rows)
    if n == 0:
        return []
    table = seg.data.table.select(plan.columns).take(pa.array(rows, type=pa.int64()))
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name in plan.columns:
        col = table.column(name)
        if name == DYNAMIC_FIELD:
            metas = [json.loads(v) if v else {} for v in col.to_pylist()]
            for ent, meta in zip(out, metas):
                if plan.all_dynamic:
                    for k, v in meta.items():
                        ent.setdefault(k, v)
                else:
                    for k in plan.dynamic_keys or []:
                        if k in meta:
                            ent[k] = meta[k]
            continue
        f = schema.field(name)
        assert f is not None
        values = _column_values(f, col, plan.struct_subs.get(name))
        for ent, v in zip(out, values):
            ent[name] = v
    return out


def _column_values(f: FieldSchema, col: pa.ChunkedArray, subs: list[str] | None) -> list[Any]:
    if f.dtype == DataType.JSON:
        return [None if v is None else json.loads(v) for v in col.to_pylist()]
    if f.dtype == DataType.BFLOAT16_VECTOR:
        flat = col.combine_chunks()
        bits = flat.values.to_numpy(zero_copy_only=False).reshape(len(flat), -1)
        return [list(map(float, r)) for r in _bf16_to_float(bits)]
    if f.dtype == DataType.FLOAT_VECTOR:
        flat = col.combine_chunks()
        return flat.values.to_numpy(zero_copy_only=False).reshape(len(flat), -1).tolist()
    if f.is_struct_array:
        values = col.to_pylist()
        if subs is not None:
            values = [[{k: e[k] for k in subs} for e in v] for v in values]
        return values
    return col.to_pylist()


# --- filtering -------------------------------------------------------------


def row_masks(
    schema: CollectionSchema,
    segments: list[SegmentState],
    expr: str | None,
    params: dict[str, Any] | None,
) -> list[np.ndarray]:
    """Live-and-matching mask per segment."""
    compiled = compile_filter(expr, schema, params) if expr and expr.strip() else None
    masks = []
    for seg in segments:
        mask = seg.live_mask()
        if compiled is not None and seg.data.num_rows:
            mask = mask & compiled.evaluate(seg.data.table)
        masks.append(mask)
    return masks


def search_masks(
    schema: CollectionSchema,
    segments: list[SegmentState],
    expr: str | None,
    params: dict[str, Any] | None,
) -> list[np.ndarray | None]:
    """Like `row_masks`, but None for a segment whose every row is live and matches (no mask to scan)."""
    if expr and expr.strip():
        return list(row_masks(schema, segments, expr, params))
    return [None if seg.deleted is None else ~seg.deleted for seg in segments]


# --- query -----------------------------------------------------------------


def run_query(
    schema: CollectionSchema,
    snap: Snapshot,
    expr: str | None,
    output_fields: Sequence[str] | None,
    limit: int | None,
    offset: int,
    partitions: Sequence[str] | None,
    params: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    segments = snap.select(partitions)
    masks = row_masks(schema, segments, expr, params)
    plan = plan_output(schema, output_fields, default_all=True)
    if plan.count_only:
        return [{"count(*)": int(sum(int(m.sum()) for m in masks))}]
    if limit is not None and (limit < 0 or offset < 0):
        raise ParamError(f"limit and offset must be non-negative, got limit={limit}, offset={offset}")
    results: list[dict[str, Any]] = []
    skip = offset
    remaining = limit
    for seg, mask in zip(segments, masks):
        rows = np.flatnonzero(mask)
        if skip:
            take = min(skip, len(rows))
            rows = rows[take:]
            skip -= take
        if remaining is not None:
            rows = rows[:remaining]
            remaining -= len(rows)
        results.extend(materialize(schema, seg, rows, plan))
        if remaining == 0:
            break
    return results


# --- search ----------------------------------------------------------------


@dataclass
class Candidate:
    distance: float
    pk: Any
    seg: SegmentState
    row: int


def prepare_queries(field: FieldSchema, data: Any) -> np.ndarray:
    """Validate query vectors for a top-level vector field; return (nq, dim) array."""
    dim = int(field.params["dim"])
    if field.dtype == DataType.BINARY_VECTOR:
        items = data if isinstance(data, list) else [data]
        arrs = []
        for i, q in enumerate(items):
            b = q.tobytes() if isinstance(q, np.ndarray) else q
            if not isinstance(b, (bytes, bytearray)) or len(b) != dim // 8:
                raise ParamError(f"query {i}: a binary query vector must be {dim // 8} bytes (dim {dim})")
            arrs.append(np.frombuffer(bytes(b), dtype=np.uint8))
        return np.stack(arrs)
    try:
        q = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParamError(f"search data for {field.name!r} must be a list of vectors of {dim} numbers") from None
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.ndim != 2 or q.shape[1] != dim:
        raise ParamError(f"query vectors have dimension {q.shape[-1]}, but field {field.name!r} has dim {dim}")
    if not np.isfinite(q).all():
        raise ParamError("query vectors contain NaN or inf")
    return q.astype(np.float32)


def segment_vectors(field: FieldSchema, seg: SegmentState) -> np.ndarray:
    v = seg.data.vectors(field.name)
    if field.dtype == DataType.FLOAT16_VECTOR:
        return v.astype(np.float32)
    if field.dtype == DataType.BFLOAT16_VECTOR:
        return _bf16_to_float(v)
    return v


def check_metric(field_path: str, field: FieldSchema, requested: str | None, indexed: str | None, maxsim: bool) -> str:
    """Pick the metric: the index's, the request's (which must agree), or a default."""
    metric = (requested or indexed or "").upper()
    if indexed and requested and requested.upper() != indexed.upper():
        raise ParamError(
            f"metric type not match for {field_path!r}: the index uses {indexed.upper()}, the search asked for {requested.upper()}"
        )
    if not metric:
        metric = "MAX_SIM_COSINE" if maxsim else ("HAMMING" if field.dtype == DataType.BINARY_VECTOR else "COSINE")
    allowed = MAX_SIM_METRICS if maxsim else (BINARY_METRICS if field.dtype == DataType.BINARY_VECTOR else FLOAT_METRICS)
    if metric not in allowed:
        raise ParamError(f"metric type {metric} cannot be used on {field_path!r}; use one of {sorted(allowed)}")
    return metric


# searcher(segment, valid rows mask or None for all rows, k) -> (local ids, distances)
SegmentSearcher = Callable[[SegmentState, np.ndarray | None, int], tuple[np.ndarray, np.ndarray]]


def search_segments(
    segments: list[SegmentState],
    masks: list[np.ndarray | None],
    nq: int,
    k: int,
    metric: str,
    searcher: SegmentSearcher,
) -> list[list[Candidate]]:
    """Run `searcher(seg, mask, k)` on each segment and merge into one top-k per query."""
    per_query: list[list[Candidate]] = [[] for _ in range(nq)]
    for seg, mask in zip(segments, masks):
        if seg.data.num_rows == 0 or (mask is not None and not mask.any()):
            continue
        ids, dists = searcher(seg, mask, k)
        pks = seg.data.pk_column()
        for qi in range(nq):
            for r, d in zip(ids[qi], dists[qi]):
                if r < 0:
                    break
                per_query[qi].append(Candidate(float(d), pks[r].item() if hasattr(pks[r], "item") else pks[r], seg, int(r)))
    larger = larger_is_closer(metric)
    for qi in range(nq):
        per_query[qi].sort(key=lambda c: (-c.distance if larger else c.distance, _pk_key(c.pk)))
        per_query[qi] = per_query[qi][:k]
    return per_query


def _pk_key(pk: Any) -> Any:
    return (0, pk) if isinstance(pk, int) else (1, str(pk))


def exact_searcher(field: FieldSchema, queries: np.ndarray, metric: str) -> SegmentSearcher:
    def run(seg: SegmentState, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        vecs = segment_vectors(field, seg)
        if mask is None:
            return top_k(score_matrix(metric, queries, vecs), k, metric)
        rows = np.flatnonzero(mask)
        ids, dists = top_k(score_matrix(metric, queries, vecs[rows]), k, metric)
        return np.where(ids >= 0, rows[np.maximum(ids, 0)], -1), dists

    return run


def maxsim_searcher(top: FieldSchema, sub: FieldSchema, queries: list[np.ndarray], metric: str) -> SegmentSearcher:
    def run(seg: SegmentState, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        elements, offsets = seg.data.struct_vectors(top.name, sub.name)
        nq = len(queries)
        ids = np.full((nq, k), -1, dtype=np.int64)
        dists = np.zeros((nq, k), dtype=np.float32)
        for qi, q in enumerate(queries):
            scores = maxsim_scores(metric, q, elements, offsets)
            assert isinstance(scores, np.ndarray)
            i, d = top_k(scores.reshape(1, -1), k, metric, valid_mask=mask)
            ids[qi], dists[qi] = i[0], d[0]
        return ids, dists

    return run


def prepare_maxsim_queries(sub: FieldSchema, data: Any) -> list[np.ndarray]:
    """Each query is an EmbeddingList (or a 2-D array / list of vectors)."""
    dim = int(sub.params["dim"])
    out = []
    for i, q in enumerate(data if isinstance(data, list) else [data]):
        arr = q.to_numpy() if hasattr(q, "to_numpy") else np.asarray(q, dtype=np.float64)
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != dim or len(arr) == 0:
            raise ParamError(f"query {i}: an embedding list of vectors of dim {dim} is needed, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ParamError(f"query {i}: the embedding list contains NaN or inf")
        out.append(arr.astype(np.float32))
    return out


def range_filter(cands: list[Candidate], metric: str, radius: float | None, range_filter_: float | None) -> list[Candidate]:
    """Milvus's range search: keep hits inside (radius, range_filter]."""
    if radius is None:
        return cands
    if larger_is_closer(metric):
        return [c for c in cands if c.distance > radius and (range_filter_ is None or c.distance <= range_filter_)]
    return [c for c in cands if c.distance < radius and (range_filter_ is None or c.distance >= range_filter_)]


def to_hits(schema: CollectionSchema, cands: list[Candidate], plan: OutputPlan) -> list[Hit]:
    """Turn candidates into Hit dicts, fetching output fields per segment in one go."""
    entities: list[dict[str, Any]] = [{} for _ in cands]
    pk_name = schema.primary_field.name
    if len(plan.columns) > 1 or plan.pk_requested:
        by_seg: dict[int, list[int]] = {}
        for i, c in enumerate(cands):
            by_seg.setdefault(id(c.seg), []).append(i)
        for idxs in by_seg.values():
            seg = cands[idxs[0]].seg
            rows = np.array([cands[i].row for i in idxs], dtype=np.int64)
            for i, ent in zip(idxs, materialize(schema, seg, rows, plan)):
                if not plan.pk_requested:
                    ent.pop(pk_name, None)
                entities[i] = ent
    pk = schema.primary_field.name
    return [Hit({pk: c.pk, "distance": c.distance, "entity": e}, pk_name=pk) for c, e in zip(cands, entities)]

