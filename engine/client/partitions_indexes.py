"""Partition and index calls of `MilvusClient` (mixed into it; they rely on its `_coll`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine import collection_admin as admin_ops
from engine.client.key_mode import refuse_in_key_mode
from engine.client.pymilvus_compat import as_index_params
from engine.client.validation import (
    check_lookup_name,
    check_partition_names,
    index_target,
    names_arg,
    validate_index_params,
)
from engine.errors import MilvusException, ParamError, PartitionNotFoundError
from engine.executor import check_metric
from engine.fulltext.functions import sparse_index_metric
from engine.index_params import IndexParams
from engine.indexing import BuildProgress
from engine.maintenance import maintain
from engine.schema import check_partition_name
from engine.storage.segment import SealedSegment

if TYPE_CHECKING:
    from engine.collection import Collection


class PartitionsMixin:
    """create/drop/has/list/load/release partitions."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def create_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        refuse_in_key_mode(coll, "create partition")
        check_partition_name(partition_name)
        admin_ops.create_partition(coll, partition_name)

    def drop_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        refuse_in_key_mode(coll, "drop partition")
        check_lookup_name(partition_name, "partition_name")
        if partition_name == "_default":
            raise MilvusException("the _default partition cannot be dropped")
        if partition_name not in coll.partitions():
            return
        coll.drop_partition_data(partition_name)

    def has_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> bool:
        return check_lookup_name(partition_name, "partition_name") in self._coll(collection_name).partitions()

    def list_partitions(self, collection_name: str, **kwargs: Any) -> list[str]:
        """The partitions in creation order (`_default_0`… in partition key mode)."""
        return self._coll(collection_name).partitions()

    def load_partitions(self, collection_name: str, partition_names: list[str] | str, **kwargs: Any) -> None:
        """Map the sealed segments of these partitions and load their built indexes now.

        A released collection becomes loaded again (reads are allowed): the engine keeps one load state per
        collection, which its partitions share (a Milvus server loads partitions one by one)."""
        coll = self._coll(collection_name)
        refuse_in_key_mode(coll, "load partitions")
        self._check_replicas(coll)  # type: ignore[attr-defined]
        names = set(self._check_partitions(coll, names_arg(partition_names, "partition_names")) or [])
        specs = coll.indexes.specs()
        for seg in coll.sealed_segments():
            if seg.partition in names:
                _ = seg.table
                for spec in specs:
                    coll.indexes.get(seg, spec.field, spec)
        if not coll.row.get("loaded"):  # reads of the collection are allowed again (Milvus: partially loaded)
            admin_ops.set_loaded(coll, True)

    def release_partitions(self, collection_name: str, partition_names: list[str] | str, **kwargs: Any) -> None:
        """Unmap the sealed segments of these partitions and drop their loaded indexes from memory.

        As with release_collection, searches still work: they map what they need again."""
        coll = self._coll(collection_name)
        refuse_in_key_mode(coll, "release partitions")
        names = set(self._check_partitions(coll, names_arg(partition_names, "partition_names")) or [])
        for seg in coll.sealed_segments():
            if seg.partition in names:
                seg.release()

    def _check_partitions(self, coll: Collection, names: Any) -> list[str] | None:
        names = check_partition_names(names)
        if not names:
            return None
        existing = coll.partitions()
        for p in names:
            if p not in existing:
                raise PartitionNotFoundError(f"partition {p!r} does not exist in collection {coll.name!r}")
        return list(names)


class IndexesMixin:
    """create/list/describe/drop indexes."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def create_index(self, collection_name: str, index_params: IndexParams, **kwargs: Any) -> None:
        """Record the indexes and build them for every sealed segment (blocking)."""
        for _ in self.create_index_iter(collection_name, index_params):
            pass

    def create_index_iter(self, collection_name: str, index_params: IndexParams) -> Iterator[BuildProgress]:
        """`create_index` as a generator of build progress events (for progress bars).

        The arguments are checked and the indexes recorded when it is called, before the first event."""
        coll = self._coll(collection_name)
        index_params = as_index_params(index_params)  # pymilvus's IndexParams too
        if isinstance(index_params, IndexParams) and not len(index_params):
            raise ParamError("index_params is empty: add_index() at least one index to create")
        self._record_indexes(coll, index_params)
        return self._build(coll, index_params)

    @staticmethod
    def _build(coll: Collection, index_params: IndexParams) -> Iterator[BuildProgress]:
        """Maintenance's progress events, then one final event per field saying what is built.

        Another maintainer (a background thread after a seal, or another process) may have built the
        index before this call got the maintenance lock: the final event still says so truthfully."""
        last: BuildProgress | None = None
        for last in maintain(coll):
            yield last
        coll.sync()
        segs = [s for s in coll.snapshot.segments if isinstance(s.data, SealedSegment)]
        for ip in index_params:
            spec = coll.indexes.spec_for(ip.field_name)
            if spec is None:
                continue
            served = [s for s in segs if coll.indexes.serves(s.data, spec)]  # type: ignore[arg-type]
            rows = sum(s.data.num_rows for s in served)
            final = BuildProgress(ip.field_name, "", rows, rows, len(served), len(segs))
            if last is None or (last.field, last.done, last.segments_done) != (final.field, final.done,
                                                                              final.segments_done):
                yield final

    def _record_indexes(self, coll: Collection, index_params: IndexParams) -> None:
        validate_index_params(coll.schema, index_params)
        existing = {r["index_name"]: r for r in admin_ops.index_rows(coll)}
        new: list[dict[str, Any]] = []  # all or nothing: checked first, recorded in one transaction
        for ip in index_params:
            name = ip.index_name or ip.field_name
            for other in existing.values():
                if other["field"] == ip.field_name and other["index_name"] != name:
                    raise MilvusException(f"field {ip.field_name!r} already has index {other['index_name']!r}")
            metric = ip.metric_type
            target, is_sub = index_target(coll.schema, ip.field_name)
            if target.is_sparse:
                metric = sparse_index_metric(coll.schema, target, metric)
            elif target.is_vector:
                metric = check_metric(ip.field_name, target, metric, None, is_sub)
            same = existing.get(name)
            if same is not None:
                wanted = ((ip.index_type or "AUTOINDEX").upper(), (metric or "").upper(), ip.params)
                have = (same["index_type"].upper(), (same["metric_type"] or "").upper(), same["params"])
                if wanted == have:
                    continue  # the same index again: nothing to do, as in Milvus
                raise MilvusException(
                    f"index {name!r} on {ip.field_name!r} already exists with other settings "
                    f"({have[0]}, {have[1] or 'no metric'}, {have[2]}); drop_index first to change it"
                )
            new.append({"index_name": name, "field": ip.field_name, "index_type": ip.index_type or "AUTOINDEX",
                        "metric_type": metric or "", "params": ip.params})
        if new:
            admin_ops.record_indexes(coll, new)

    def list_indexes(self, collection_name: str, field_name: str | None = "", **kwargs: Any) -> list[str]:
        coll = self._coll(collection_name)
        if field_name:
            check_lookup_name(field_name, "field_name")
        return [r["index_name"] for r in admin_ops.index_rows(coll) if not field_name or r["field"] == field_name]

    def describe_index(self, collection_name: str, index_name: str, **kwargs: Any) -> dict[str, Any] | None:
        """The index's definition and build progress; None when there is no such index (as pymilvus
        returns against Milvus). A scalar index has no `metric_type` key (Milvus gives it none)."""
        coll = self._coll(collection_name)
        check_lookup_name(index_name, "index_name")
        for r in admin_ops.index_rows(coll):
            if r["index_name"] == index_name:
                metric = {"metric_type": r["metric_type"]} if r["metric_type"] else {}
                return {
                    **{k: str(v) for k, v in r["params"].items()},
                    "index_type": r["index_type"],
                    **metric,
                    "field_name": r["field"],
                    "index_name": r["index_name"],
                    **self._index_progress(coll, r["field"], bool(r["metric_type"])),
                }
        return None

    def _index_progress(self, coll: Collection, field: str, is_vector: bool) -> dict[str, Any]:
        """total/indexed/pending rows and a truthful state; growing rows count as pending (searched exactly).

        "InProgress" only while some process maintains the collection; unbuilt segments with nobody
        building them (a build that was cancelled or killed) are "Unissued", with the reason."""
        snap = coll.snapshot
        total = snap.num_live
        if not is_vector:  # scalar indexes are evaluated column-wise; nothing to build
            return {"total_rows": total, "indexed_rows": total, "pending_index_rows": 0, "state": "Finished"}
        spec = coll.indexes.spec_for(field)
        served = [s for s in snap.segments if isinstance(s.data, SealedSegment) and spec is not None
                  and coll.indexes.serves(s.data, spec)]
        indexed = sum(s.live_rows for s in served)
        unbuilt = sum(1 for s in snap.segments if s.sealed) - len(served)
        out: dict[str, Any] = {"total_rows": total, "indexed_rows": indexed, "pending_index_rows": total - indexed}
        if not unbuilt:
            out["state"] = "Finished"
        elif coll.maintenance_running():
            out["state"] = "InProgress"
        else:
            out["state"] = "Unissued"
            out["index_state_fail_reason"] = (f"{unbuilt} sealed segment(s) are not indexed and no build is running "
                                              "(it was cancelled or interrupted); flush() or create_index() builds them")
        return out

    def drop_index(self, collection_name: str, index_name: str, **kwargs: Any) -> None:
        """Drop one index; dropping an index that does not exist does nothing, as in Milvus (idempotent)."""
        coll = self._coll(collection_name)
        check_lookup_name(index_name, "index_name")
        if all(r["index_name"] != index_name for r in admin_ops.index_rows(coll)):
            return
        admin_ops.drop_index(coll, index_name)
        for _ in maintain(coll):  # segments whose vectors lived in the dropped graphs get them back in Arrow
            pass

    def _index_metric(self, coll: Collection, field_path: str) -> str | None:
        spec = coll.indexes.spec_for(field_path)
        return spec.metric if spec is not None else None
