"""The `Backend` protocol and the implementation both client libraries share."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.backends.capabilities import (
    ARRAY,
    STRUCT,
    VARCHAR,
    BackendError,
    Capabilities,
    CapabilityError,
    Hit,
    Row,
    scrub,
)
from workbench.backends.shapes import (
    AnnRequest,
    CompactionSummary,
    Grouping,
    IndexInfo,
    IndexProgress,
    Ranker,
    SegmentView,
    normalize_schema,
    plain,
    primary_field,
    render_filter,
    schema_features,
)
from workbench.settings import WorkbenchError


# --- the protocol --------------------------------------------------------------------------------
@runtime_checkable
class Backend(Protocol):
    """The operations the app and the CLI use, on either backend."""

    label: str
    capabilities: Capabilities
    workspace: Path  # a local folder for the workbench's own files about these collections

    def close(self) -> None: ...
    def list_collections(self) -> list[str]: ...
    def has_collection(self, name: str) -> bool: ...
    def describe_collection(self, name: str) -> dict[str, Any]: ...
    def schema(self, name: str) -> dict[str, Any]: ...
    def create_collection(self, name: str, schema: dict[str, Any],
                          indexes: Sequence[dict[str, Any]] = ()) -> None: ...
    def drop_collection(self, name: str) -> None: ...
    def list_partitions(self, name: str) -> list[str]: ...
    def create_partition(self, name: str, partition: str) -> None: ...
    def count(self, name: str, filter: str = "", partitions: Sequence[str] | None = None) -> int: ...
    def insert(self, name: str, rows: list[Row], partition: str | None = None) -> int: ...
    def upsert(self, name: str, rows: list[Row], partition: str | None = None) -> int: ...
    def delete(self, name: str, ids: Sequence[Any] | None = None, filter: str | None = None) -> None: ...
    def get(self, name: str, ids: Sequence[Any], output_fields: Sequence[str] | None = None,
            partitions: Sequence[str] | None = None) -> list[Row]: ...
    def query(self, name: str, filter: str = "", output_fields: Sequence[str] | None = None,
              limit: int | None = None, offset: int = 0, partitions: Sequence[str] | None = None,
              filter_params: dict[str, Any] | None = None) -> list[Row]: ...
    def iter_rows(self, name: str, batch_size: int = 1000, output_fields: Sequence[str] | None = None,
                  filter: str = "", partitions: Sequence[str] | None = None,
                  limit: int | None = None) -> Iterator[list[Row]]: ...
    def search(self, name: str, data: Sequence[Any], anns_field: str | None = None, limit: int = 10,
               filter: str = "", output_fields: Sequence[str] | None = None,
               search_params: dict[str, Any] | None = None,
               partitions: Sequence[str] | None = None, group: Grouping | None = None) -> list[list[Hit]]: ...
    def hybrid_search(self, name: str, requests: Sequence[AnnRequest], ranker: Ranker, limit: int = 10,
                      output_fields: Sequence[str] | None = None,
                      partitions: Sequence[str] | None = None,
                      group: Grouping | None = None) -> list[list[Hit]]: ...
    def flush(self, name: str) -> None: ...
    def load(self, name: str) -> None: ...
    def list_indexes(self, name: str) -> list[IndexInfo]: ...
    def segments(self, name: str) -> list[SegmentView]: ...
    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]: ...
    def rename_collection(self, old: str, new: str) -> None: ...
    def replace_collection(self, source: str, target: str) -> list[str]: ...
    def release(self, name: str) -> None: ...
    def is_loaded(self, name: str) -> bool: ...
    def drop_partition(self, name: str, partition: str) -> None: ...
    def drop_index(self, name: str, index_name: str) -> None: ...
    def create_index_iter(self, name: str, indexes: Sequence[dict[str, Any]]) -> Iterator[IndexProgress]: ...
    def compact(self, name: str) -> CompactionSummary: ...
    def index_stats(self, name: str, field_name: str) -> list[dict[str, Any]]: ...
    def recall_check_iter(self, name: str, field_name: str, k: int = 10,
                          ef_values: Sequence[int] = (16, 32, 64, 128, 256),
                          n_queries: int = 50) -> Iterator[dict[str, Any]]: ...
    def memory_usage(self, name: str) -> dict[str, int]: ...
    def list_index_names(self, name: str) -> list[str]: ...
    def change_token(self, name: str | None = None) -> str | None: ...
    def write_lock_holder(self) -> dict[str, Any] | None: ...


class ClientBackend:
    """What both backends share: the calls that are the same in pymilvus and the engine."""

    label: str
    capabilities: Capabilities
    client: Any
    workspace: Path
    _secrets: tuple[str, ...] = ()

    # hooks -------------------------------------------------------------------
    def _api(self) -> SimpleNamespace:
        """The library's classes: AnnSearchRequest, RRFRanker, WeightedRanker, EmbeddingList, DataType, MilvusClient."""
        raise NotImplementedError(f"{type(self).__name__} does not define _api")

    def _ann_request(self, r: AnnRequest) -> Any:
        param: dict[str, Any] = {"params": dict(r.params)}
        if r.metric_type:
            param["metric_type"] = r.metric_type
        return self._api().AnnSearchRequest(data=list(r.data), anns_field=r.anns_field, param=param, limit=r.limit,
                                            expr=r.filter or None)

    def _ranker(self, r: Ranker) -> Any:
        api = self._api()
        if r.kind == "rrf":
            return api.RRFRanker(r.k)
        if r.kind == "weighted":
            return api.WeightedRanker(*r.weights)
        raise BackendError(f"unknown ranker {r.kind!r}; use 'rrf' or 'weighted'")

    def _embedding_list(self, vectors: Any) -> Any:
        el = self._api().EmbeddingList()
        for v in np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1]):
            el.add(v)
        return el

    def _build_schema(self, schema: dict[str, Any]) -> Any:
        api = self._api()
        s = api.MilvusClient.create_schema(auto_id=schema.get("auto_id", False),
                                           enable_dynamic_field=schema.get("enable_dynamic_field", False),
                                           description=schema.get("description", ""))
        _add_fields(api.MilvusClient, api.DataType, s, schema)
        for fn in schema.get("functions") or []:
            s.add_function(api.Function(name=fn["name"], function_type=api.FunctionType[fn["type"]],
                                        input_field_names=list(fn["input_field_names"]),
                                        output_field_names=list(fn["output_field_names"]),
                                        params=dict(fn.get("params") or {})))
        return s

    def _build_and_create(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _build_and_create")

    def _rows_in(self, name: str, rows: list[Row]) -> list[Row]:
        """Rows as this library wants them on insert (plain lists suit both, except where overridden)."""
        return rows

    def _rows_out(self, name: str, rows: list[Row]) -> list[Row]:
        """Rows from this library in the neutral shape."""
        return rows

    # errors --------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (WorkbenchError, NotImplementedError, KeyboardInterrupt):
            raise
        except Exception as e:  # pymilvus, grpc and engine errors alike
            msg = str(getattr(e, "message", "") or e).strip().splitlines()
            text = msg[0] if msg else type(e).__name__
            raise BackendError(scrub(f"{what} failed on {self.label}: {text}", self._secrets)) from None

    # collections ---------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def list_collections(self) -> list[str]:
        with self._errors("list_collections"):
            return sorted(self.client.list_collections())

    def has_collection(self, name: str) -> bool:
        with self._errors("has_collection"):
            return bool(self.client.has_collection(name))

    def describe_collection(self, name: str) -> dict[str, Any]:
        """describe_collection() with the neutral schema's fields (struct fields included)."""
        with self._errors("describe_collection"):
            d = dict(self.client.describe_collection(name))
        norm = normalize_schema(d)
        d.pop("struct_array_fields", None)
        d["fields"] = norm["fields"]
        return d

    def schema(self, name: str) -> dict[str, Any]:
        return normalize_schema(self.describe_collection(name))

    def create_collection(self, name: str, schema: dict[str, Any], indexes: Sequence[dict[str, Any]] = ()) -> None:
        """Create `name` from a neutral schema with its indexes, and load it.

        Refuses (CapabilityError) a schema this backend cannot hold, and checks afterwards that every
        field exists: a backend that silently drops a field gets the collection dropped again.
        """
        schema = normalize_schema(schema)
        self._forget(name)
        for feat, fields in schema_features(schema).items():
            reason = self.capabilities.why_not(feat)
            if reason:
                raise CapabilityError(f"cannot create {name!r} on {self.label}: field(s) {', '.join(fields)}: "
                                      f"{reason}")
        existed = self.has_collection(name)
        try:
            with self._errors("create_collection"):
                self._build_and_create(name, schema, indexes)
        except BackendError:
            if existed or not self.has_collection(name):
                raise
            lost = self._lost_fields(name, schema)  # half-created: undo, and say why when a field was lost
            with contextlib.suppress(Exception):
                self.client.drop_collection(name)
            if lost:
                raise self._lost_error(name, lost) from None
            raise
        lost = self._lost_fields(name, schema)
        if lost:
            with contextlib.suppress(Exception):
                self.client.drop_collection(name)
            raise self._lost_error(name, lost)

    def _lost_fields(self, name: str, schema: dict[str, Any]) -> list[str]:
        got = {f["name"] for f in self.schema(name)["fields"]}
        return [f["name"] for f in schema["fields"] if f["name"] not in got]

    def _lost_error(self, name: str, lost: list[str]) -> CapabilityError:
        return CapabilityError(f"{self.label} dropped field(s) {', '.join(lost)} of {name!r} while creating it; "
                               "the collection was removed again")

    def _forget(self, name: str) -> None:
        """Drop anything cached about collection `name`."""

    def drop_collection(self, name: str) -> None:
        self._forget(name)
        with self._errors("drop_collection"):
            self.client.drop_collection(name)

    def list_partitions(self, name: str) -> list[str]:
        with self._errors("list_partitions"):
            return list(self.client.list_partitions(name))

    def create_partition(self, name: str, partition: str) -> None:
        with self._errors("create_partition"):
            if not self.client.has_partition(name, partition):
                self.client.create_partition(name, partition)

    def load(self, name: str) -> None:
        with self._errors("load_collection"):
            self.client.load_collection(name)

    def flush(self, name: str) -> None:
        with self._errors("flush"):
            self.client.flush(name)

    # rows ------------------------------------------------------------------------
    def count(self, name: str, filter: str = "", partitions: Sequence[str] | None = None) -> int:
        """Live rows (matching `filter`), with count(*): deleted rows never count."""
        if partitions and not filter and self.capabilities.kind == "milvus-lite":
            # Milvus Lite 3.x ignores partition_names in count(*) without a filter: give it one that is always true
            pk = primary_field(self.schema(name))
            filter = f'{pk["name"]} >= ""' if pk["type"] == VARCHAR else f'{pk["name"]} >= {-(2**63)}'
        with self._errors("count"):
            res = self.client.query(name, filter=filter or "", output_fields=["count(*)"],
                                    partition_names=list(partitions) if partitions else None,
                                    consistency_level="Strong")
        return int(res[0]["count(*)"]) if res else 0

    def insert(self, name: str, rows: list[Row], partition: str | None = None) -> int:
        if not rows:
            return 0
        with self._errors("insert"):
            r = self.client.insert(name, self._rows_in(name, rows), partition_name=partition or "")
        return int(r.get("insert_count", len(rows)))

    def upsert(self, name: str, rows: list[Row], partition: str | None = None) -> int:
        if not rows:
            return 0
        with self._errors("upsert"):
            r = self.client.upsert(name, self._rows_in(name, rows), partition_name=partition or "")
        return int(r.get("upsert_count", len(rows)))

    def delete(self, name: str, ids: Sequence[Any] | None = None, filter: str | None = None) -> None:
        """Delete by primary keys or by filter (the libraries report counts differently; none is returned)."""
        with self._errors("delete"):
            if ids is not None:
                if ids:
                    self.client.delete(name, ids=[plain(i) for i in ids])
            elif filter:
                self.client.delete(name, filter=filter)
            else:
                raise BackendError("delete needs ids or a filter")

    def get(self, name: str, ids: Sequence[Any], output_fields: Sequence[str] | None = None,
            partitions: Sequence[str] | None = None) -> list[Row]:
        if not ids:
            return []
        with self._errors("get"):
            rows = self.client.get(name, ids=[plain(i) for i in ids],
                                   output_fields=list(output_fields) if output_fields else None,
                                   partition_names=list(partitions) if partitions else None,
                                   consistency_level="Strong")
        return self._rows_out(name, [plain(dict(r)) for r in rows])

    def query(self, name: str, filter: str = "", output_fields: Sequence[str] | None = None,
              limit: int | None = None, offset: int = 0, partitions: Sequence[str] | None = None,
              filter_params: dict[str, Any] | None = None) -> list[Row]:
        """Rows matching `filter` (with `{name}` placeholders filled from `filter_params`)."""
        kwargs: dict[str, Any] = {"consistency_level": "Strong"}
        if limit is not None:
            kwargs["limit"] = limit
        if offset:
            kwargs["offset"] = offset
        if partitions:
            kwargs["partition_names"] = list(partitions)
        if filter_params and self.capabilities.kind == "milvus-lite":  # Milvus Lite 3.x has no templating
            filter = render_filter(filter, filter_params)
        elif filter_params:
            kwargs["filter_params"] = dict(filter_params)
        with self._errors("query"):
            rows = self.client.query(name, filter=filter or "",
                                     output_fields=list(output_fields) if output_fields else None, **kwargs)
        return self._rows_out(name, [plain(dict(r)) for r in rows])

    def iter_rows(self, name: str, batch_size: int = 1000, output_fields: Sequence[str] | None = None,
                  filter: str = "", partitions: Sequence[str] | None = None,
                  limit: int | None = None) -> Iterator[list[Row]]:
        """Every row (matching `filter`; at most `limit`), `batch_size` at a time, through query_iterator."""
        kwargs: dict[str, Any] = {}
        if limit is not None:
            kwargs["limit"] = int(limit)
        with self._errors("query_iterator"):
            it = self.client.query_iterator(name, batch_size=batch_size, filter=filter or "",
                                            output_fields=list(output_fields or ["*"]),
                                            partition_names=list(partitions) if partitions else None, **kwargs)
        try:
            while True:
                with self._errors("query_iterator"):
                    batch = it.next()
                if not batch:
                    return
                yield self._rows_out(name, [plain(dict(r)) for r in batch])
        finally:
            with contextlib.suppress(Exception):
                it.close()

    # search ------------------------------------------------------------------------
    def _queries(self, data: Sequence[Any], anns_field: str | None) -> list[Any]:
        if anns_field and "[" in anns_field:
            self.capabilities.require("max_sim")
            return [q if type(q).__name__ == "EmbeddingList" else self._embedding_list(q) for q in data]
        return [plain(q) if isinstance(q, np.ndarray) and q.dtype == np.float32 else q for q in data]

    def _hits(self, res: Any, output_fields: Sequence[str] | None, pk_name: str) -> list[list[Hit]]:
        wanted = list(output_fields or [])
        out = []
        for hits in res:
            page = []
            for h in hits:
                h = dict(h)
                pk = h["id"] if "id" in h and pk_name not in h else h.get(pk_name, h.get("id"))
                entity = plain(dict(h.get("entity") or {}))
                if not wanted:
                    entity = {}
                page.append({"id": plain(pk), "distance": float(h["distance"]), "entity": entity})
            out.append(page)
        return out

    def _pk_name(self, name: str) -> str:
        return str(primary_field(self.schema(name))["name"])

    def search(self, name: str, data: Sequence[Any], anns_field: str | None = None, limit: int = 10,
               filter: str = "", output_fields: Sequence[str] | None = None,
               search_params: dict[str, Any] | None = None,
               partitions: Sequence[str] | None = None, group: Grouping | None = None) -> list[list[Hit]]:
        """Top-`limit` hits per query (in `partitions` only, when given), `{"id", "distance", "entity"}`;
        `entity` holds only `output_fields`. With `group`, a grouping search: the best `limit` groups of
        `group.field`, up to `group.size` hits each (capability "group_by"); `radius` in
        `search_params["params"]` makes it a range search (capability "range_search")."""
        queries = self._queries(data, anns_field)
        pk_name = self._pk_name(name)
        if "radius" in dict((search_params or {}).get("params") or {}):
            self.capabilities.require("range_search")
        with self._errors("search"):
            res = self.client.search(name, data=queries, anns_field=anns_field, limit=limit, filter=filter or "",
                                     output_fields=list(output_fields) if output_fields else None,
                                     search_params=dict(search_params or {}),
                                     partition_names=list(partitions) if partitions else None,
                                     **self._group_kwargs(group, "group_by"))
        return self._hits(res, output_fields, pk_name)

    def _group_kwargs(self, group: Grouping | None, feature: str) -> dict[str, Any]:
        if group is None:
            return {}
        self.capabilities.require(feature)
        return {"group_by_field": group.field, "group_size": group.size, "strict_group_size": group.strict}

    def hybrid_search(self, name: str, requests: Sequence[AnnRequest], ranker: Ranker, limit: int = 10,
                      output_fields: Sequence[str] | None = None,
                      partitions: Sequence[str] | None = None,
                      group: Grouping | None = None) -> list[list[Hit]]:
        """Each request searched, the hit lists fused by `ranker` (capability "multi_vector"); with `group`,
        the fused hits grouped (capability "hybrid_grouping")."""
        self.capabilities.require("multi_vector")
        reqs = [self._ann_request(replace(r, data=self._queries(r.data, r.anns_field))) for r in requests]
        if any("radius" in r.params for r in requests):
            self.capabilities.require("range_search")
        pk_name = self._pk_name(name)
        grouping = self._group_kwargs(group, "hybrid_grouping")
        with self._errors("hybrid_search"):
            res = self.client.hybrid_search(name, reqs, self._ranker(ranker), limit=limit,
                                            output_fields=list(output_fields) if output_fields else None,
                                            partition_names=list(partitions) if partitions else None, **grouping)
        return self._hits(res, output_fields, pk_name)

    # indexes and segments -----------------------------------------------------------
    def list_indexes(self, name: str) -> list[IndexInfo]:
        """Every index with its definition and the backend's own build progress."""
        out = []
        with self._errors("describe_index"):
            for idx in self.client.list_indexes(name):
                d = self.client.describe_index(name, idx)
                if d is not None:  # None: dropped meanwhile (describe_index of a missing index is None)
                    out.append(IndexInfo.from_description(dict(d)))
        return out

    def list_index_names(self, name: str) -> list[str]:
        with self._errors("list_indexes"):
            return [str(i) for i in self.client.list_indexes(name)]

    # collection administration ------------------------------------------------------
    def rename_collection(self, old: str, new: str) -> None:
        self._forget(old)
        with self._errors("rename_collection"):
            self.client.rename_collection(old, new)

    def release(self, name: str) -> None:
        with self._errors("release_collection"):
            self.client.release_collection(name)

    def is_loaded(self, name: str) -> bool:
        with self._errors("get_load_state"):
            state = self.client.get_load_state(name)["state"]
        return getattr(state, "name", str(state)) == "Loaded" or str(state) in ("3", "Loaded")

    def drop_partition(self, name: str, partition: str) -> None:
        with self._errors("drop_partition"):
            if not self.client.has_partition(name, partition):
                return
            if self.capabilities.kind == "embedded":
                self.client.drop_partition(name, partition)
                return
            reload = False  # Milvus drops only released partitions; Milvus Lite releases whole collections only
            try:
                self.client.release_partitions(name, [partition])
            except Exception:
                reload = self.is_loaded(name)
                self.client.release_collection(name)
            self.client.drop_partition(name, partition)
            if reload:
                self.client.load_collection(name)

    def drop_index(self, name: str, index_name: str) -> None:
        """Drop one index. Milvus needs the collection released first (it stays released: search needs
        an index on every vector field). Indexes that vanish with it are re-created: Milvus Lite 3.2.2
        drops every index of the collection on drop_index."""
        others = [i for i in self.list_indexes(name) if i.index_name != index_name]
        with self._errors("drop_index"):
            if self.capabilities.kind != "embedded" and self.is_loaded(name):
                self.client.release_collection(name)  # Milvus refuses to drop the index of a loaded collection
            self.client.drop_index(name, index_name)
        left = {i.index_name for i in self.list_indexes(name)}
        lost = [i.spec() for i in others if i.index_name not in left]
        if lost:
            with self._errors("create_index"):
                self.client.create_index(name, index_params_for(self.client, lost))

    def create_index_iter(self, name: str, indexes: Sequence[dict[str, Any]]) -> Iterator[IndexProgress]:
        """Create each index and follow its build, `describe_index` polled every `poll_s` seconds.

        Closing the generator stops following; a server goes on building what it has started.
        """
        for spec in indexes:
            fld = str(spec["field_name"])
            yield IndexProgress(fld, 0, 0, "creating the index")
            with self._errors("create_index"):
                self.client.create_index(name, index_params_for(self.client, [spec]), sync=False)
            index_name = str(spec.get("index_name") or fld)
            while True:
                with self._errors("describe_index"):
                    d = dict(self.client.describe_index(name, index_name) or {})
                info = IndexInfo.from_description(d)
                total = info.total_rows or 0
                done = info.indexed_rows or 0
                state = info.state or ""
                if state.lower() == "failed":
                    reason = str(d.get("index_state_fail_reason") or "no reason given")
                    raise BackendError(scrub(f"building the index on {fld} failed on {self.label}: {reason}",
                                             self._secrets))
                yield IndexProgress(fld, done, total, f"{state or 'building'}: {done:,} of {total:,} rows indexed",
                                    indexed_rows=info.indexed_rows, pending_rows=info.pending_index_rows)
                if state.lower() == "finished" or (state == "" and done >= total):
                    break
                time.sleep(self.poll_s)
        self._after_index_build(name)

    poll_s: float = 0.5  # seconds between polls of a server's progress

    def _after_index_build(self, name: str) -> None:
        """Hook run when create_index_iter has built every index asked for."""

    def compact(self, name: str) -> CompactionSummary:
        """Compact now and wait for it; returns what the backend says was done."""
        self.capabilities.require("compaction")
        with self._errors("compact"):
            job = self.client.compact(name)
            state = str(self.client.get_compaction_state(job))
            deadline = time.monotonic() + 600
            while state not in ("Completed", "CompactionStateCompleted") and time.monotonic() < deadline:
                time.sleep(self.poll_s)
                state = str(self.client.get_compaction_state(job))
        return CompactionSummary(job_id=int(job), state=state)

    # engine-only inspection -----------------------------------------------------------
    def index_stats(self, name: str, field_name: str) -> list[dict[str, Any]]:
        self.capabilities.require("index_internals")
        with self._errors("index_stats"):
            return list(self.client.index_stats(name, field_name))

    def recall_check_iter(self, name: str, field_name: str, k: int = 10,
                          ef_values: Sequence[int] = (16, 32, 64, 128, 256),
                          n_queries: int = 50) -> Iterator[dict[str, Any]]:
        self.capabilities.require("recall_check")
        with self._errors("recall_check"):
            yield from self.client.recall_check_iter(name, field_name, k=k, ef_values=tuple(ef_values),
                                                     n_queries=n_queries)

    def change_token(self, name: str | None = None) -> str | None:
        """A value that changes whenever `name`'s data (or, without a name, the list of collections) changes,
        by any process; None where the backend cannot tell (capability "live_changes")."""
        return None

    def write_lock_holder(self) -> dict[str, Any] | None:
        """The process writing to the database now (`{"pid", "program", "since"}`), or None (also where the
        backend cannot tell: capability "live_changes")."""
        return None

    def memory_usage(self, name: str) -> dict[str, int]:
        self.capabilities.require("memory_usage")
        with self._errors("memory_usage"):
            return dict(self.client.memory_usage(name))

    def segments(self, name: str) -> list[SegmentView]:
        self.capabilities.require("segments")
        raise NotImplementedError(f"{type(self).__name__} does not list segments")

    def segment_keys(self, name: str) -> list[tuple[SegmentView, list[Any]]]:
        """Each segment with the primary keys of its live rows (only where the backend tells)."""
        self.capabilities.require("segment_export")
        raise NotImplementedError(f"{type(self).__name__} does not list the rows of each segment")


def index_params_for(client: Any, indexes: Sequence[dict[str, Any]]) -> Any:
    ip = client.prepare_index_params()
    for i in indexes:
        kwargs: dict[str, Any] = {"index_type": i.get("index_type") or "AUTOINDEX"}
        if i.get("metric_type"):
            kwargs["metric_type"] = i["metric_type"]
        if i.get("index_name"):
            kwargs["index_name"] = i["index_name"]
        if i.get("params"):
            kwargs["params"] = dict(i["params"])
        ip.add_index(field_name=i["field_name"], **kwargs)
    return ip


def _field_kwargs(f: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = dict(f.get("params") or {})
    if f.get("description"):
        kw["description"] = f["description"]
    for flag in ("is_primary", "auto_id", "nullable"):
        if f.get(flag):
            kw[flag] = True
    if f.get("default_value") is not None:
        kw["default_value"] = f["default_value"]
    return kw  # is_function_output is not passed: add_function marks the output field itself


def _add_fields(client_cls: Any, dtype: Any, schema_obj: Any, schema: dict[str, Any]) -> None:
    for f in schema["fields"]:
        if f.get("element_type") == STRUCT:
            st = client_cls.create_struct_field_schema()
            for s in f.get("struct_fields") or []:
                st.add_field(s["name"], dtype(s["type"]), **_field_kwargs(s))
            schema_obj.add_field(f["name"], dtype(ARRAY), element_type=dtype(STRUCT), struct_schema=st,
                                 **_field_kwargs(f))
            continue
        kw = _field_kwargs(f)
        if f.get("element_type") is not None:
            kw["element_type"] = dtype(f["element_type"])
        schema_obj.add_field(f["name"], dtype(f["type"]), **kw)


