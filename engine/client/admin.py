"""Segment lifecycle and inspection calls of `MilvusClient`: compaction, segments, index stats, recall."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.compaction import CompactionResult, compact
from engine.errors import ParamError
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
    """Recall@k and latency of the collection's search at one `ef`."""

    ef: int
    recall: float
    p50_ms: float
    p95_ms: float
    qps: float


_job_ids = itertools.count(1)


class AdminMixin:
    """Mixed into MilvusClient; relies on its `_coll` and `_search_candidates`."""

    _compactions: dict[int, CompactionResult]

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def compact(self, collection_name: str, is_clustering: bool = False, target_size: int | None = None,
                **kwargs: Any) -> int:
        """Merge small segments and purge deleted rows now; returns a job id (already completed)."""
        if is_clustering or kwargs.get("is_l0"):
            raise NotImplementedError("clustering and L0 compaction are not supported; plain compaction is")
        coll = self._coll(collection_name)
        coll.seal()
        job = next(_job_ids)
        target_rows = None
        if target_size is not None:
            if isinstance(target_size, bool) or not isinstance(target_size, int) or target_size <= 0:
                raise ParamError(f"target_size must be a positive integer (rows), got {target_size!r}")
            target_rows = target_size
        self._compactions[job] = compact(coll, job, target_rows)
        return job

    def get_compaction_state(self, job_id: int, **kwargs: Any) -> str:
        if job_id not in self._compactions:
            raise ParamError(f"no compaction job {job_id} in this client")
        return self._compactions[job_id].state

    def get_compaction_result(self, job_id: int) -> CompactionResult:
        return self._compactions[job_id]

    def list_persistent_segments(self, collection_name: str, **kwargs: Any) -> list[SegmentInfo]:
        """Sealed and growing segments with rows, deletes, size and per-field index state."""
        coll = self._coll(collection_name)
        built = coll.indexes.built()
        specs = coll.indexes.specs()
        origins = coll.compaction_origins()
        out = []
        for s in coll.snapshot.segments:
            deleted = 0 if s.deleted is None else int(s.deleted.sum())
            if isinstance(s.data, SealedSegment):
                states = {p.field: "Finished" if (s.data.key, p.field) in built else "Pending" for p in specs}
                out.append(SegmentInfo(int(s.data.key), coll.id, coll.name, s.data.num_rows, "Sealed",
                                       s.partition, deleted, s.data.size, states,
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
                          seed: int = 0) -> Iterator[dict[str, Any]]:
        """Run sample queries exactly and through the index at each ef; yields progress, ends with results.

        The last event is `{"done": total, "total": total, "results": [RecallPoint...]}`.
        Stop iterating (or call `.close()`) to cancel.
        """
        coll = self._coll(collection_name)
        top, sub = coll.schema.resolve_vector_path(field_name)
        if sub is not None:
            raise NotImplementedError("recall_check on MAX_SIM fields; it covers top-level vector fields")
        rows = [s for s in coll.snapshot.segments if s.live_rows]
        if not rows:
            raise ParamError(f"collection {collection_name!r} has no rows to sample queries from")
        rng = np.random.default_rng(seed)
        pool = np.concatenate([s.data.vectors(top.name)[s.live_mask()] for s in rows])
        picks = pool[rng.choice(len(pool), size=min(n_queries, len(pool)), replace=False)].astype(np.float32)
        queries = picks + 0.01 * rng.standard_normal(picks.shape).astype(np.float32)
        total = len(queries) * (1 + len(ef_values))
        done = 0
        truth = []
        for q in queries:
            cands, _ = self._search_candidates(coll, [q], field_name, None, k, 0, {}, None, None,  # type: ignore[attr-defined]
                                               use_index=False)
            truth.append({c.pk for c in cands[0]})
            done += 1
            yield {"done": done, "total": total}
        results = []
        for ef in ef_values:
            lat = []
            hits = 0
            for q, exact in zip(queries, truth):
                t0 = time.perf_counter()
                cands, metric = self._search_candidates(coll, [q], field_name, None, k, 0,  # type: ignore[attr-defined]
                                                        {"params": {"ef": ef}}, None, None)
                lat.append((time.perf_counter() - t0) * 1000)
                hits += len(exact & {c.pk for c in cands[0]})
                done += 1
                yield {"done": done, "total": total}
            lat_arr = np.array(lat)
            denom = sum(len(t) for t in truth) or 1
            results.append(RecallPoint(ef, hits / denom, float(np.percentile(lat_arr, 50)),
                                       float(np.percentile(lat_arr, 95)), 1000.0 / float(lat_arr.mean())))
        yield {"done": total, "total": total, "results": results}

    def recall_check(self, collection_name: str, field_name: str, **kwargs: Any) -> list[RecallPoint]:
        events = deque(self.recall_check_iter(collection_name, field_name, **kwargs), maxlen=1)
        return list(events[0].get("results", [])) if events else []
