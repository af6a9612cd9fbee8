"""`EmbeddedBackend`: the embedded engine on a database directory."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workbench.backends.base import ClientBackend, index_params_for
from workbench.backends.capabilities import EMBEDDED_CAPABILITIES, BackendError
from workbench.backends.shapes import CompactionSummary, IndexProgress, SegmentView


# --- the embedded engine -------------------------------------------------------------------------
class EmbeddedBackend(ClientBackend):
    """The embedded engine on a database directory."""

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        from engine import MilvusClient

        p = Path(path).expanduser()
        if not create and not p.exists():
            raise BackendError(f"no database at {p}")
        self.path = p
        self.workspace = p / "workbench"
        self.label = f"the embedded database {p}"
        self.capabilities = EMBEDDED_CAPABILITIES
        with self._errors("open"):
            p.parent.mkdir(parents=True, exist_ok=True)
            self.client = MilvusClient(str(p))

    def _api(self) -> SimpleNamespace:
        import engine
        from engine import MilvusClient

        return SimpleNamespace(AnnSearchRequest=engine.AnnSearchRequest, RRFRanker=engine.RRFRanker,
                               WeightedRanker=engine.WeightedRanker, EmbeddingList=engine.EmbeddingList,
                               DataType=engine.DataType, MilvusClient=MilvusClient)

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        s = self._build_schema(schema)
        self.client.create_collection(name, schema=s, index_params=index_params_for(self.client, indexes) if indexes
                                      else None)
        if not indexes:
            self.client.load_collection(name)

    def segments(self, name: str) -> list[SegmentView]:
        """The engine's segments: rows, deletes, bytes and per-field index state."""
        with self._errors("list_persistent_segments"):
            infos = self.client.list_persistent_segments(name)
        return [SegmentView(segment_id=s.segment_id, num_rows=s.num_rows, state=s.state,
                            partition=s.partition_name, deleted_rows=s.deleted_rows, size_bytes=s.size_bytes,
                            level=s.level, index_states=dict(s.index_states),
                            compaction_from=tuple(s.compaction_from)) for s in infos]

    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]:
        """Each segment with the primary keys of its live rows (reads the engine's segment snapshot)."""
        views = {str(v.segment_id): v for v in self.segments(name)}
        with self._errors("segment_keys"):
            coll = self.client._coll(name)
            out = []
            for seg in coll.snapshot.segments:
                key = str(seg.data.key)
                view = views.get(key) or SegmentView(segment_id=key, num_rows=seg.data.num_rows,
                                                     state="Sealed" if seg.sealed else "Growing")
                pks = seg.data.pk_column()[seg.live_mask()].tolist()
                if pks:
                    out.append((view, pks))
        return out



    def create_index_iter(self, name: str, indexes: Sequence[dict[str, Any]]) -> Iterator[IndexProgress]:
        """Record the indexes and build them segment by segment (the engine's own progress events)."""
        with self._errors("create_index"):
            ip = index_params_for(self.client, indexes)
            for ev in self.client.create_index_iter(name, ip):
                text = (f"segment {ev.segments_done + 1} of {ev.segments_total}: {ev.done:,} of {ev.total:,} vectors"
                        if ev.segments_total else "no sealed segments yet: rows are searched exactly")
                yield IndexProgress(ev.field, ev.done, ev.total, text)

    def compact(self, name: str) -> CompactionSummary:
        with self._errors("compact"):
            job = self.client.compact(name)
            res = self.client.get_compaction_result(job)
        return CompactionSummary(job_id=int(job), state=str(res.state), segments_merged=sum(len(m) for m in res.merged),
                                 segments_written=len(res.new_segments), rows_purged=int(res.rows_purged))
