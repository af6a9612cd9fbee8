"""Segment lifecycle and inspection calls of `MilvusClient`: compaction, segments, index stats, recall."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.client.validation import check_int_arg, check_search_window
from engine.errors import ParamError, UnsupportedError, brief
from engine.index.base import INT32_MAX
from engine.maintenance import CompactionResult, maintain
from engine.storage.segment import SealedSegment

if TYPE_CHECKING:
    from engine.collection import Collection


@dataclass
class SegmentInfo:
    """One segment, with pymilvus's SegmentInfo attribute names plus the app's extras."""

    segment_id: int | str
    collection_id: int
    collection_name: str
    num_rows: int
    state: str  # Growing, Sealed (Flushed in Milvus), Compacted or Dropped
    partition_name: str
    deleted_rows: int
    size_bytes: int
    index_states: dict[str, str] = field(default_factory=dict)  # field -> Finished / Pending / Exact
    level: str = "L1"
    compaction_from: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RecallPoint:
    """Recall@k and latency of the collection's search at one value of its search parameter.

    `ef` holds the value, `param` names it ("ef" for HNSW, "nprobe" for IVF, "" for an exact index)."""

    ef: int
    recall: float
    p50_ms: float
    p95_ms: float
    qps: float
    param: str = "ef"


def search_param_for(index_type: str | None) -> str:
    """The search-time parameter an index type takes: "nprobe" (IVF), "ef" (HNSW, AUTOINDEX), "" (exact)."""
    t = (index_type or "").upper()
    if "IVF" in t:
        return "nprobe"
    if "HNSW" in t or t == "AUTOINDEX":
        return "ef"
    return ""


_job_ids = itertools.count(1)


class AdminMixin:
    """Mixed into MilvusClient; relies on its `_coll` and `_search_candidates`."""

    _compactions: dict[int, CompactionResult]

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def compact(self, collection_name: str, is_clustering: bool = False, is_l0: bool = False,
                target_size: int | None = None, target_size_unit: str = "mb", timeout: float | None = None,
                **kwargs: Any) -> int:
        """Seal, merge level-0 segments and purge every deleted row now; returns a job id (already completed).

        Merged segments grow up to `target_size` (in `target_size_unit`, as in pymilvus), else up to the
        collection's `engine.max_segment_bytes` property (see docs/storage.md)."""
        if is_clustering or is_l0:
            raise UnsupportedError("clustering and L0 compaction are not supported; plain compaction is")
        if kwargs:
            raise ParamError(f"compact does not support {sorted(kwargs)}")
        max_bytes = None
        if target_size is not None:
            size = check_int_arg(target_size, "target_size", 1, 1 << 50)
            units = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
            if not isinstance(target_size_unit, str) or target_size_unit.lower() not in units:
                raise ParamError(f"target_size_unit must be one of {sorted(units)}, got {brief(target_size_unit, 40)}")
            max_bytes = size * units[target_size_unit.lower()]
        coll = self._coll(collection_name)
        coll.seal(timeout)
        job = next(_job_ids)
        before = {s.data.key: s.data.num_rows for s in coll.snapshot.segments if s.sealed}
        for _ in maintain(coll, purge_all=True, max_segment_bytes=max_bytes):
            pass
        coll.sync()
        after = {s.data.key: s for s in coll.snapshot.segments if s.sealed}
        result = CompactionResult(job)
        origins_of = coll.segment_origins()
        for key in after:
            if key not in before:
                origins = [str(k) for k in origins_of.get(key, [])]
                result.merged.append([k for k in origins if k in before])
                result.new_segments.append(key)
        result.rows_purged = sum(before.values()) - sum(s.data.num_rows for s in after.values())
        self._compactions[job] = result
        return job

    def get_compaction_state(self, job_id: int, **kwargs: Any) -> str:
        return self.get_compaction_result(job_id).state

    def get_compaction_result(self, job_id: int) -> CompactionResult:
        if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id not in self._compactions:
            raise ParamError(f"no compaction job {brief(job_id, 80)} in this client")
        return self._compactions[job_id]

    def list_persistent_segments(self, collection_name: str, **kwargs: Any) -> list[SegmentInfo]:
        """Sealed and growing segments with rows, deletes, size and per-field index state."""
        coll = self._coll(collection_name)
        specs = coll.indexes.specs()
        origins = coll.segment_origins()
        out = []
        for s in coll.snapshot.segments:
            deleted = 0 if s.deleted is None else int(s.deleted.sum())
            if isinstance(s.data, SealedSegment):
                states = {p.field: "Finished" if coll.indexes.serves(s.data, p) else "Pending" for p in specs}
                out.append(SegmentInfo(int(s.data.key), coll.id, coll.name, s.data.num_rows, "Sealed",
                                       s.partition, deleted, s.data.size, states, level=f"L{s.data.level}",
                                       compaction_from=origins.get(s.data.key, [])))
            else:
                out.append(SegmentInfo(s.data.key, coll.id, coll.name, s.data.num_rows, "Growing", s.partition,
                                       deleted, 0, {p.field: "Exact" for p in specs}))
        return out

    def index_stats(self, collection_name: str, field_name: str) -> list[dict[str, Any]]:
        """Per sealed segment: the index's own stats (HNSW level counts, layer-0 degrees, memory)."""
        coll = self._coll(collection_name)
        spec = coll.indexes.spec_for(field_name)
        if spec is None:
            raise ParamError(f"field {field_name!r} has no index in collection {collection_name!r}")
        out = []
        for seg in coll.sealed_segments():
            index = coll.indexes.get(seg, field_name, spec)
            if index is not None:
                out.append({"segment_id": int(seg.key), "rows": seg.num_rows, **index.stats()})
        return out

    def memory_usage(self, collection_name: str) -> dict[str, int]:
        """Bytes of loaded (memory-mapped) segments and loaded indexes."""
        coll = self._coll(collection_name)
        mapped = sum(s.size for s in coll.sealed_segments() if s.loaded)
        growing = sum(getattr(s.data, "nbytes", 0) for s in coll.snapshot.segments if not s.sealed)
        return {"segments_mapped": mapped, "growing": growing, "indexes": coll.indexes.memory_bytes(),
                "total": mapped + growing + coll.indexes.memory_bytes()}

    def recall_check_iter(self, collection_name: str, field_name: str, k: int = 10,
                          ef_values: tuple[int, ...] = (16, 32, 64, 128, 256), n_queries: int = 50,
                          seed: int = 0, param: str | None = None) -> Iterator[dict[str, Any]]:
        """Run sample queries exactly and through the index at each value of its search parameter; yields
        progress, ends with results.

        `param` is the search parameter that `ef_values` set; by default the one of the field's index type
        (`search_param_for`: "ef" for HNSW, "nprobe" for IVF; an exact index is measured once). On an
        Array of Structs vector sub-field (MAX_SIM) each sample query is one row's element vectors.
        The last event is `{"done": total, "total": total, "results": [RecallPoint...]}`.
        Stop iterating (or call `.close()`) to cancel.
        """
        coll = self._coll(collection_name)
        if not isinstance(field_name, str):
            raise ParamError(f"field_name must be a vector field name, got {brief(field_name, 80)}")
        for name, value in (("n_queries", n_queries), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "n_queries" else 0):
                raise ParamError(f"{name} must be a{' positive' if name == 'n_queries' else ' non-negative'} "
                                 f"integer, got {brief(value, 80)}")
        if not isinstance(ef_values, (list, tuple)) or not ef_values:
            raise ParamError(f"ef_values must be a list of integers, got {brief(ef_values, 80)}")
        check_search_window(k, 0)
        for ef in ef_values:
            check_int_arg(ef, "ef", 1, INT32_MAX)
        top, sub = coll.schema.resolve_vector_path(field_name)
        if param is None:
            spec = coll.indexes.spec_for(field_name)
            param = search_param_for(spec.index_type if spec is not None else "FLAT")
        values: tuple[int, ...] = tuple(ef_values) if param else (0,)
        rows = [s for s in coll.snapshot.segments if s.live_rows]
        if not rows:
            raise ParamError(f"collection {collection_name!r} has no rows to sample queries from")
        rng = np.random.default_rng(seed)
        queries: list[Any]
        if sub is None:
            pool = np.concatenate([s.data.vectors(top.name)[s.live_mask()] for s in rows])
            picks = pool[rng.choice(len(pool), size=min(n_queries, len(pool)), replace=False)].astype(np.float32)
            queries = list(picks + 0.01 * rng.standard_normal(picks.shape).astype(np.float32))
        else:  # one row's elements per query
            sets = []
            for s in rows:
                elements, offsets = s.data.struct_vectors(top.name, sub.name)
                sets += [elements[offsets[r]:offsets[r + 1]] for r in np.flatnonzero(s.live_mask())
                         if offsets[r + 1] > offsets[r]]
            if not sets:
                raise ParamError(f"collection {collection_name!r} has no {field_name} vectors to sample queries from")
            picks_i = rng.choice(len(sets), size=min(n_queries, len(sets)), replace=False)
            queries = [np.asarray(sets[i], dtype=np.float32) for i in picks_i]
            queries = [q + 0.01 * rng.standard_normal(q.shape).astype(np.float32) for q in queries]
        total = len(queries) * (1 + len(values))
        done = 0
        truth = []
        for q in queries:
            cands, _ = self._search_candidates(coll, [q], field_name, None, k, 0, {}, None, None,  # type: ignore[attr-defined]
                                               use_index=False)
            truth.append({c.pk for c in cands[0]})
            done += 1
            yield {"done": done, "total": total}
        results = []
        for ef in values:
            lat = []
            hits = 0
            search_params = {"params": {param: max(ef, k) if param == "ef" else ef}} if param else {}
            for q, exact in zip(queries, truth):
                t0 = time.perf_counter()
                cands, metric = self._search_candidates(coll, [q], field_name, None, k, 0,  # type: ignore[attr-defined]
                                                        search_params, None, None)
                lat.append((time.perf_counter() - t0) * 1000)
                hits += len(exact & {c.pk for c in cands[0]})
                done += 1
                yield {"done": done, "total": total}
            lat_arr = np.array(lat)
            denom = sum(len(t) for t in truth) or 1
            results.append(RecallPoint(ef, hits / denom, float(np.percentile(lat_arr, 50)),
                                       float(np.percentile(lat_arr, 95)), 1000.0 / float(lat_arr.mean()), param))
        yield {"done": total, "total": total, "results": results}

    def recall_check(self, collection_name: str, field_name: str, **kwargs: Any) -> list[RecallPoint]:
        events = deque(self.recall_check_iter(collection_name, field_name, **kwargs), maxlen=1)
        return list(events[0].get("results", [])) if events else []
