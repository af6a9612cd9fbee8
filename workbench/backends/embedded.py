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
                               DataType=engine.DataType, Function=engine.Function,
                               FunctionType=engine.FunctionType, MilvusClient=MilvusClient)

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        s = self._build_schema(schema)
        self.client.create_collection(name, schema=s, index_params=index_params_for(self.client, indexes) if indexes
                                      else None)
        if not indexes:
            self.client.load_collection(name)

    def replace_collection(self, source: str, target: str) -> list[str]:
        """Put `source` in the place of `target` in one catalog transaction (the engine's
        `replace_collection`): readers see the old or the new `target`, and on error nothing changes."""
        self._forget(source)
        self._forget(target)
        with self._errors("replace_collection"):
            self.client.replace_collection(source, target)
        return []

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

    def change_token(self, name: str | None = None) -> str | None:
        """The engine's change token: it changes whenever any process writes `name` (or, without a name,
        creates, drops, renames or alters a collection)."""
        with self._errors("change_token"):
            return str(self.client.change_token(name))

    def write_lock_holder(self) -> dict[str, Any] | None:
        """`{"pid", "program", "since"}` of the process holding the database's write lock, or None."""
        with self._errors("write_lock_holder"):
            holder = self.client.write_lock_holder()
        return dict(holder) if holder else None

    def find_duplicates(self, name: str, field: str | None, threshold: float, k: int = 5, filter: str = "",
                        batch_size: int = 512) -> Iterator[dict[str, Any]]:
        """The engine's batched k-NN self-join (`MilvusClient.find_duplicates`): progress events, then
        every pair at least as close as `threshold` and each row's nearest neighbour. Close to cancel."""
        with self._errors("find_duplicates"):
            gen = self.client.find_duplicates(name, field=field, threshold=threshold, k=k, filter=filter,
                                              batch_size=batch_size)
        try:
            with self._errors("find_duplicates"):
                yield from gen
        finally:
            gen.close()

    def create_index_iter(self, name: str, indexes: Sequence[dict[str, Any]]) -> Iterator[IndexProgress]:
        """Record the indexes and build them segment by segment (the engine's own progress events)."""
        with self._errors("create_index"):
            ip = index_params_for(self.client, indexes)
            for ev in self.client.create_index_iter(name, ip):
                text = (f"segment {ev.segments_done + 1} of {ev.segments_total}: {ev.done:,} of {ev.total:,} vectors"
                        if ev.segments_total else "no sealed segments yet: rows are searched exactly")
                yield IndexProgress(ev.field, ev.done, ev.total, text, step=ev.segments_done,
                                    steps=ev.segments_total)

    def compact(self, name: str) -> CompactionSummary:
        with self._errors("compact"):
            job = self.client.compact(name)
            res = self.client.get_compaction_result(job)
        return CompactionSummary(job_id=int(job), state=str(res.state), segments_merged=sum(len(m) for m in res.merged),
                                 segments_written=len(res.new_segments), rows_purged=int(res.rows_purged))
