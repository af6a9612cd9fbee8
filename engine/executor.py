"""Query and search execution over one snapshot of a collection.

Everything here reads an immutable `Snapshot`, so a call sees one consistent
view of the data while writers go on. Filters are compiled once per call and
evaluated column-wise per segment into row masks; deleted rows are masked out
before anything is scored or returned.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from engine.collection import SegmentState, Snapshot
from engine.errors import ParamError
from engine.expr import compile_filter
from engine.fulltext.sparse import to_dicts as sparse_dicts
from engine.geometry import wkt_of
from engine.ranking import hit_page
from engine.schema import CollectionSchema, FieldSchema
from engine.storage.arrow_numpy import array_to_numpy, int64_array
from engine.timestamptz import format_micros, time_components
from engine.types import (
    BINARY_METRICS,
    DYNAMIC_FIELD,
    FLOAT_METRICS,
    MAX_SIM_METRICS,
    DataType,
    larger_is_closer,
)
from engine.vectors.checks import FLOAT32_MAX, VectorValueError, check_range, float_array
from engine.vectors.metrics import maxsim_scores, normalize_rows, score_matrix, top_k

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
    timezone: str | None = None  # TIMESTAMPTZ values are written in this zone (UTC when None)
    time_fields: tuple[str, ...] | None = None  # or as these components (engine/timestamptz.py)


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
                if f.is_function_output:  # Milvus never returns a function's output
                    continue
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
        if found is not None and found.is_function_output:
            raise ParamError(f"not allowed to retrieve raw data of field {name}: it is the output of a BM25 "
                             "function (Milvus's rule)")
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
    in_graph = [c for c in plan.columns if c in seg.data.graph_fields]  # vectors stored in the segment's graph
    take = int64_array(rows)
    table = seg.data.table.select([c for c in plan.columns if c not in in_graph]).take(take)
    for name in in_graph:
        vecs = np.ascontiguousarray(seg.data.vectors_at(name, rows), dtype=np.float32)
        dim = vecs.shape[1] if vecs.ndim == 2 else 0
        flat = pa.Array.from_buffers(pa.float32(), vecs.size, [None, pa.py_buffer(vecs.reshape(-1))])
        table = table.append_column(name, pa.FixedSizeListArray.from_arrays(flat, dim))
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
        values = _column_values(f, col, plan.struct_subs.get(name), plan)
        for ent, v in zip(out, values):
            ent[name] = v
    return out


def _column_values(f: FieldSchema, col: pa.ChunkedArray, subs: list[str] | None, plan: OutputPlan) -> list[Any]:
    if f.dtype == DataType.TIMESTAMPTZ:
        if plan.time_fields:
            return time_components(col, plan.time_fields, plan.timezone)
        return format_micros(col, plan.timezone)
    if f.dtype == DataType.GEOMETRY:
        return wkt_of(col)
    if f.dtype == DataType.JSON:
        return [None if v is None else json.loads(v) for v in col.to_pylist()]
    if f.dtype == DataType.BFLOAT16_VECTOR:
        flat = col.combine_chunks()
        bits = array_to_numpy(flat.values).reshape(len(flat), -1)
        return [list(map(float, r)) for r in _bf16_to_float(bits)]
    if f.dtype == DataType.FLOAT_VECTOR:
        flat = col.combine_chunks()
        return array_to_numpy(flat.values).reshape(len(flat), -1).tolist()
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        return sparse_dicts(col)
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
    timezone: str | None = None,
) -> list[np.ndarray]:
    """Live-and-matching mask per segment (`timezone` reads ISO literals that carry no offset)."""
    compiled = compile_filter(expr, schema, params, timezone=timezone) if expr and expr.strip() else None
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
    timezone: str | None = None,
) -> list[np.ndarray | None]:
    """Like `row_masks`, but None for a segment whose every row is live and matches (no mask to scan)."""
    if expr and expr.strip():
        return list(row_masks(schema, segments, expr, params, timezone))
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
    timezone: str | None = None,
    time_fields: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Matching rows after `offset`, at most `limit`; `timezone`/`time_fields` for TIMESTAMPTZ (OutputPlan)."""
    segments = snap.select(partitions)
    masks = row_masks(schema, segments, expr, params, timezone)
    plan = plan_output(schema, output_fields, default_all=True)
    plan.timezone, plan.time_fields = timezone, time_fields
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


@dataclass(slots=True)
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
    q = _float32_fast(data)
    if q is not None and q.ndim <= 2 and q.shape[-1] == dim:
        return q.reshape(1, -1) if q.ndim == 1 else q
    q = _float_array(data, f"search data for {field.name!r} must be a list of vectors of {dim} numbers")
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.ndim != 2 or q.shape[1] != dim:
        raise ParamError(f"query vectors have dimension {q.shape[-1]}, but field {field.name!r} has dim {dim}")
    return _finite_float32(q, "query vectors")


def _float32_fast(data: Any) -> np.ndarray | None:
    """Query vectors given as float32/float64 numpy arrays (an array, or a list of 1-D ones), all finite
    and within float32: as a C-contiguous float32 array. None for anything else (the general path checks
    it and says what is wrong)."""
    if type(data) is list and len(data) == 1 and type(data[0]) is np.ndarray and data[0].ndim == 1:
        arr = data[0]  # one query (the common case)
        if arr.dtype == np.float32 and arr.flags.c_contiguous and np.isfinite(arr).all():
            return arr.reshape(1, -1)  # a view, no copy
        arr = arr.reshape(1, -1)  # float64, strided, or not finite: the checks below
    elif type(data) is list and data and all(type(x) is np.ndarray and x.ndim == 1 for x in data):
        kinds = {x.dtype for x in data}
        if len(kinds) != 1 or len({len(x) for x in data}) != 1:
            return None
        arr = np.stack(data)
    elif type(data) is np.ndarray and data.ndim in (1, 2):
        arr = data
    else:
        return None
    if arr.dtype == np.float64:
        if not (np.abs(arr) <= FLOAT32_MAX).all():  # also false for NaN
            return None
    elif arr.dtype != np.float32 or not np.isfinite(arr).all():
        return None
    return np.ascontiguousarray(arr, dtype=np.float32)


def _float_array(data: Any, message: str) -> np.ndarray:
    try:
        return float_array(data)
    except VectorValueError as e:
        raise ParamError(f"{message}: {e}") from None


def _finite_float32(q: np.ndarray, what: str) -> np.ndarray:
    """`q` as float32; ParamError if a number is beyond float32 (it would become inf)."""
    try:
        check_range(q, np.float32)
    except VectorValueError as e:
        raise ParamError(f"{what}: {e}") from None
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
            rows = ids[qi]
            rl = rows.tolist()  # Python ints: tests over the few hits of a query cost less than numpy calls
            if rl and min(rl) < 0:  # padded with -1: keep the hits before the first missing one
                cut = next(i for i, r in enumerate(rl) if r < 0)
                rows, rl = rows[:cut], rl[:cut]
            keys = pks[rows].tolist()  # one conversion to Python values per query, not one per hit
            per_query[qi] += [Candidate(d, pk, seg, r) for d, pk, r in zip(dists[qi].tolist(), keys, rl)]
    larger = larger_is_closer(metric)
    for qi in range(nq):
        if len(segments) > 1 or len(per_query[qi]) > k or not _ordered(per_query[qi], larger):
            per_query[qi].sort(key=lambda c: (-c.distance if larger else c.distance, _pk_key(c.pk)))
            per_query[qi] = per_query[qi][:k]
    return per_query


def search_hits(
    segments: list[SegmentState],
    masks: list[np.ndarray | None],
    nq: int,
    k: int,
    metric: str,
    searcher: SegmentSearcher,
    pk_name: str,
    offset: int,
) -> list[list[Hit]] | None:
    """`search_segments` then `to_hits` of a plan with no output fields, hits past `offset`, built straight
    from the searcher's arrays (no `Candidate`s) when one segment has rows to search; None otherwise
    (nothing searched: the caller merges candidates of several segments). Same hits, same order."""
    live = live_segments(segments, masks)
    if len(live) != 1:
        return None
    seg, mask = live[0]
    ids, dists = searcher(seg, mask, k)
    return pages_of_hits(ids, dists, seg.data.pk_column(), pk_name, k, offset, larger_is_closer(metric))


def live_segments(segments: list[SegmentState], masks: list[np.ndarray | None]
                  ) -> list[tuple[SegmentState, np.ndarray | None]]:
    """The (segment, mask) pairs a search reads: segments with rows, and some valid row under their mask."""
    return [(seg, mask) for seg, mask in zip(segments, masks) if seg.data.num_rows != 0 and (mask is None or mask.any())]


def pages_of_hits(ids: np.ndarray, dists: np.ndarray, pks: np.ndarray, pk_name: str, k: int, offset: int,
                  larger: bool) -> list[list[Hit]]:
    """Each query's hits past `offset`, from one segment searcher's row ids and distances (rows padded with
    -1 at the end): best first, ties by primary key, at most `k` before the offset."""
    return [page_of_hit_lists(ids[qi].tolist(), dists[qi].tolist(), pks, pk_name, k, offset, larger)
            for qi in range(len(ids))]


def page_of_hit_lists(rows: list[int], ds: list[float], pks: np.ndarray, pk_name: str, k: int, offset: int,
                      larger: bool) -> list[Hit]:
    """One query's page of `pages_of_hits`, from its row ids and distances as lists."""
    if len(rows) <= k:
        page = hit_page(Hit, rows, ds, pks, pk_name, offset, larger)  # compiled, when already in order
        if page is not None:
            return page
    if rows and min(rows) < 0:  # padded with -1: keep the hits before the first missing one
        cut = next(i for i, r in enumerate(rows) if r < 0)
        rows, ds = rows[:cut], ds[:cut]
    keys = pks[rows].tolist()
    if len(keys) > k or not _ordered_pairs(ds, keys, larger):
        pairs = sorted(zip(ds, keys), key=lambda p: (-p[0] if larger else p[0], _pk_key(p[1])))[:k]
        ds, keys = [d for d, _ in pairs], [pk for _, pk in pairs]
    return [new_hit(pk_name, pk, d, {}) for d, pk in zip(ds[offset:], keys[offset:])]


def _ordered_pairs(d: list[float], pks: list[Any], larger: bool) -> bool:
    """Whether hits (distances `d`, primary keys `pks`) are best first, ties by primary key."""
    if all(map(operator.gt if larger else operator.lt, d, d[1:])):  # strictly ordered: no ties to check
        return True
    for i in range(len(d) - 1):
        if (d[i] < d[i + 1]) if larger else (d[i] > d[i + 1]):
            return False
        if d[i] == d[i + 1] and _pk_key(pks[i]) > _pk_key(pks[i + 1]):
            return False
    return True


def _ordered(cands: list[Candidate], larger: bool) -> bool:
    """Whether one segment's hits are already best first, ties by primary key (as the sort would leave them)."""
    return _ordered_pairs([c.distance for c in cands], [c.pk for c in cands], larger)


def _pk_key(pk: Any) -> Any:
    return (0, pk) if isinstance(pk, int) else (1, str(pk))


def exact_searcher(field: FieldSchema, queries: np.ndarray, metric: str) -> SegmentSearcher:
    """Score every (valid) row of a segment: for the segments no index covers (growing rows, sealed
    segments not indexed yet, collections without an index).

    Float vectors are scored block by block as the segment keeps them (a growing segment: one block per
    inserted batch, reused by the next snapshot); COSINE divides inner products by the cached inverse
    norms of the stored vectors instead of normalising them at every search."""
    convert, tag = _float32_converter(field)
    cosine = metric == "COSINE" and convert is not None
    unit: list[np.ndarray] = []  # the normalised queries, made by the first segment scored exactly

    def scores(blocks: list[np.ndarray], inverse: list[np.ndarray] | None) -> np.ndarray:
        if cosine and inverse is not None:
            if not unit:
                unit.append(normalize_rows(queries))
            parts = [(unit[0] @ b.T) * inv for b, inv in zip(blocks, inverse)]
        else:
            parts = [score_matrix(metric, queries, b) for b in blocks]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def run(seg: SegmentState, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        if convert is None:  # binary vectors
            vecs = segment_vectors(field, seg)
            if mask is None:
                return top_k(score_matrix(metric, queries, vecs), k, metric)
            rows = np.flatnonzero(mask)
            ids, dists = top_k(score_matrix(metric, queries, vecs[rows]), k, metric)
            return np.where(ids >= 0, rows[np.maximum(ids, 0)], -1), dists
        blocks = seg.data.vector_blocks(field.name, convert, tag)
        inverse = seg.data.inverse_norm_blocks(field.name, convert, tag) if cosine else None
        if mask is None or len(blocks) > 1 or int(mask.sum()) * 2 > len(mask):
            return top_k(scores(blocks, inverse), k, metric, valid_mask=mask)
        rows = np.flatnonzero(mask)  # a selective filter on one block: score only the valid rows
        ids, dists = top_k(scores([blocks[0][rows]], None if inverse is None else [inverse[0][rows]]), k, metric)
        return np.where(ids >= 0, rows[np.maximum(ids, 0)], -1), dists

    return run


def _float32_converter(field: FieldSchema) -> tuple[Callable[[np.ndarray], np.ndarray] | None, str]:
    """How a vector field's stored values become float32 (None: binary vectors, scored as bits)."""
    if field.dtype == DataType.FLOAT16_VECTOR:
        return (lambda v: v.astype(np.float32)), "f32"
    if field.dtype == DataType.BFLOAT16_VECTOR:
        return _bf16_to_float, "f32"
    if field.dtype == DataType.BINARY_VECTOR:
        return None, ""
    return (lambda v: v), ""


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
        need = f"query {i}: an embedding list of vectors of dim {dim} is needed"
        if hasattr(q, "to_numpy") and hasattr(q, "__len__") and len(q) == 0:  # pymilvus's raises a plain ValueError
            raise ParamError(f"{need}, got an empty EmbeddingList")
        arr = _float_array(q.to_numpy() if hasattr(q, "to_numpy") else q, need)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != dim or len(arr) == 0:
            raise ParamError(f"{need}, got shape {arr.shape}")
        out.append(_finite_float32(arr, f"query {i}: the embedding list's vectors"))
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
    pk_name = schema.primary_field.name
    if len(plan.columns) <= 1 and not plan.pk_requested:  # id and distance only (the default): no fields to read
        return [new_hit(pk_name, c.pk, c.distance, {}) for c in cands]
    entities: list[dict[str, Any]] = [{} for _ in cands]
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
    return [new_hit(pk_name, c.pk, c.distance, e) for c, e in zip(cands, entities)]


def new_hit(pk_name: str, pk: Any, distance: float, entity: dict[str, Any]) -> Hit:
    """`Hit({pk_name: pk, "distance": distance, "entity": entity}, pk_name=pk_name)`, built without Python-level
    `__init__` calls (a search makes one per hit)."""
    hit = dict.__new__(Hit)
    hit[pk_name] = pk
    hit["distance"] = distance
    hit["entity"] = entity
    hit._pk_name = pk_name
    return hit

