"""`MilvusClient`: the engine's public API, with pymilvus's signatures and return shapes.

Code written for Milvus Lite runs after changing the import. Differences from
Milvus are listed in docs/engine.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

import numpy as np

from engine.client.admin import AdminMixin
from engine.client.search_extras import SearchIterator, grouped_search
from engine.collection import Collection, SegmentState
from engine.database import close_database, open_database
from engine.errors import IndexNotFoundError, MilvusException, ParamError, PartitionNotFoundError
from engine.executor import (
    MAX_TOPK,
    Candidate,
    Hit,
    SegmentSearcher,
    check_metric,
    exact_searcher,
    maxsim_searcher,
    plan_output,
    prepare_maxsim_queries,
    prepare_queries,
    range_filter,
    row_masks,
    run_query,
    search_masks,
    search_segments,
    to_hits,
)
from engine.index import create_index
from engine.index_params import SCALAR_INDEX_TYPES, IndexParams
from engine.indexing import BuildProgress
from engine.schema import CollectionSchema, FieldSchema, StructFieldSchema, check_name
from engine.storage.catalog import now
from engine.storage.segment import SealedSegment
from engine.types import MAX_SIM_METRICS, DataType
from engine.vectors.rankers import BaseRanker, fuse

CONSISTENCY_LEVELS = {"Strong": 0, "Session": 1, "Bounded": 2, "Eventually": 3, "Customized": 4}


class LoadState(IntEnum):
    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self) -> str:
        return f"<LoadState: {self.name}>"

    __str__ = __repr__


class AnnSearchRequest:
    """One vector search of a `hybrid_search` (pymilvus's constructor)."""

    def __init__(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any],
        limit: int,
        expr: str | None = None,
        expr_params: dict[str, Any] | None = None,
        filter: str | None = None,
    ) -> None:
        if expr is not None and filter is not None:
            raise ParamError("Provide either 'expr' or 'filter', not both.")
        self.data = data
        self.anns_field = anns_field
        self.param = dict(param or {})
        self.limit = limit
        self.expr = filter if filter is not None else expr
        self.expr_params = expr_params

    @property
    def filter(self) -> str | None:
        return self.expr


class QueryIterator:
    """Pages through a query over one snapshot (`next()` returns [] at the end)."""

    def __init__(self, rows: Iterator[dict[str, Any]], batch_size: int) -> None:
        self._rows = rows
        self._batch = batch_size

    def next(self) -> list[dict[str, Any]]:
        out = []
        for row in self._rows:
            out.append(row)
            if len(out) >= self._batch:
                break
        return out

    def close(self) -> None:
        self._rows = iter(())


class MilvusClient(AdminMixin):
    """Open (or create) a local database directory and work with its collections."""

    def __init__(self, uri: str = "milvus_demo.db", user: str = "", password: str = "", db_name: str = "",
                 token: str = "", timeout: float | None = None, **kwargs: Any) -> None:
        if uri.startswith(("http://", "https://", "tcp://", "grpc://")):
            raise ParamError(
                f"{uri!r} is a server address; the embedded engine opens local paths. "
                "Use pymilvus.MilvusClient for a Milvus server."
            )
        self.uri = uri
        self._db = open_database(uri)
        self._closed = False
        self._compactions = {}

    # --- schema helpers (static in pymilvus) ------------------------------
    @staticmethod
    def create_schema(**kwargs: Any) -> CollectionSchema:
        return CollectionSchema(**kwargs)

    @staticmethod
    def create_field_schema(name: str, data_type: DataType, desc: str = "", **kwargs: Any) -> FieldSchema:
        return FieldSchema.build(name, data_type, description=desc, **kwargs)

    @staticmethod
    def create_struct_field_schema() -> StructFieldSchema:
        return StructFieldSchema()

    @staticmethod
    def prepare_index_params(field_name: str = "", **kwargs: Any) -> IndexParams:
        return IndexParams(field_name, **kwargs)

    # --- collections -------------------------------------------------------
    def _coll(self, name: str) -> Collection:
        if self._closed:
            raise MilvusException("this client is closed")
        if not isinstance(name, str) or not name:
            raise ParamError(f"collection_name must be a non-empty string, got {name!r}")
        return self._db.get(name)

    def create_collection(
        self,
        collection_name: str,
        dimension: int | None = None,
        primary_field_name: str = "id",
        id_type: str = "int",
        vector_field_name: str = "vector",
        metric_type: str = "COSINE",
        auto_id: bool = False,
        timeout: float | None = None,
        schema: CollectionSchema | None = None,
        index_params: IndexParams | None = None,
        **kwargs: Any,
    ) -> None:
        consistency = str(kwargs.pop("consistency_level", "Bounded"))
        properties = {k: v for k, v in kwargs.items() if k not in ("enable_dynamic_field", "max_length", "description")}
        if schema is None:
            if dimension is None:
                raise ParamError("create_collection needs dimension= (quick form) or schema=")
            if isinstance(dimension, bool) or not isinstance(dimension, int):
                raise ParamError(f"dimension must be an integer, got {dimension!r}")
            schema = CollectionSchema(
                auto_id=auto_id,
                enable_dynamic_field=kwargs.get("enable_dynamic_field", True),
                description=kwargs.get("description", ""),
            )
            if id_type in ("int", DataType.INT64):
                schema.add_field(primary_field_name, DataType.INT64, is_primary=True, auto_id=auto_id)
            elif id_type in ("string", "str", DataType.VARCHAR):
                schema.add_field(primary_field_name, DataType.VARCHAR, is_primary=True,
                                 max_length=kwargs.get("max_length", 65535))
            else:
                raise ParamError(f"id_type must be 'int' or 'string', got {id_type!r}")
            schema.add_field(vector_field_name, DataType.FLOAT_VECTOR, dim=dimension)
            index_params = IndexParams()
            index_params.add_index(vector_field_name, index_type="AUTOINDEX", metric_type=metric_type)
            self._db.create(collection_name, schema, properties, consistency)
            self.create_index(collection_name, index_params)
            self.load_collection(collection_name)
            return
        if isinstance(schema, dict):
            schema = CollectionSchema.from_dict(schema)
        if index_params is not None:
            self._validate_index_params(schema, index_params)
        self._db.create(collection_name, schema, properties, consistency)
        if index_params is not None:
            self.create_index(collection_name, index_params)
            self.load_collection(collection_name)

    def has_collection(self, collection_name: str, **kwargs: Any) -> bool:
        return self._db.has(collection_name)

    def list_collections(self, **kwargs: Any) -> list[str]:
        return self._db.names()

    def drop_collection(self, collection_name: str, **kwargs: Any) -> None:
        self._db.drop(collection_name)

    def rename_collection(self, old_name: str, new_name: str, target_db: str = "", **kwargs: Any) -> None:
        self._db.rename(old_name, new_name)

    def describe_collection(self, collection_name: str, **kwargs: Any) -> dict[str, Any]:
        coll = self._coll(collection_name)
        row = self._db.catalog.collection(collection_name) or {}
        s = coll.schema
        return {
            "collection_name": collection_name,
            "auto_id": s.auto_id,
            "num_shards": 1,
            "description": s.description,
            "fields": [f.to_dict() for f in s.fields],
            "functions": [],
            "aliases": [],
            "collection_id": coll.id,
            "consistency_level": CONSISTENCY_LEVELS.get(row.get("consistency_level") or "Bounded", 2),
            "properties": json.loads(row.get("properties") or "{}"),
            "num_partitions": len(coll.partitions()),
            "enable_dynamic_field": s.enable_dynamic_field,
            "created_timestamp": int((row.get("created") or 0) * 1000),
        }

    def get_collection_stats(self, collection_name: str, **kwargs: Any) -> dict[str, int]:
        return {"row_count": self._coll(collection_name).row_count()}

    def load_collection(self, collection_name: str, **kwargs: Any) -> None:
        """Map every sealed segment and load its built indexes now (otherwise done on first search)."""
        coll = self._coll(collection_name)
        specs = coll.indexes.specs()
        for seg in coll.sealed_segments():
            _ = seg.table
            for spec in specs:
                coll.indexes.get(seg, spec.field, spec)
        with self._db.catalog.transaction() as db:
            db.table("collections").update(coll.id, {"loaded": 1})

    def release_collection(self, collection_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        with self._db.catalog.transaction() as db:
            db.table("collections").update(coll.id, {"loaded": 0})
        coll.release()

    def get_load_state(self, collection_name: str, partition_name: str = "", **kwargs: Any) -> dict[str, LoadState]:
        row = self._db.catalog.collection(collection_name)
        if row is None:
            return {"state": LoadState.NotExist}
        return {"state": LoadState.Loaded if row["loaded"] else LoadState.NotLoad}

    def flush(self, collection_name: str, **kwargs: Any) -> None:
        """Seal all growing rows; returns once every sealed segment is indexed."""
        coll = self._coll(collection_name)
        coll.seal()
        coll.wait_for_indexes()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            close_database(self._db)

    # --- partitions -------------------------------------------------------
    def create_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        check_name(partition_name, "partition name")
        if partition_name in coll.partitions():
            raise MilvusException(f"partition {partition_name!r} already exists in collection {collection_name!r}")
        with self._db.catalog.transaction() as db:
            db.table("partitions").insert({"collection_id": coll.id, "name": partition_name, "created": now()})

    def drop_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        if partition_name == "_default":
            raise MilvusException("the _default partition cannot be dropped")
        if partition_name not in coll.partitions():
            return
        coll.drop_partition_data(partition_name)

    def has_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> bool:
        return partition_name in self._coll(collection_name).partitions()

    def list_partitions(self, collection_name: str, **kwargs: Any) -> list[str]:
        return self._coll(collection_name).partitions()

    def load_partitions(self, collection_name: str, partition_names: list[str] | str, **kwargs: Any) -> None:
        """Map the sealed segments of these partitions and load their built indexes now."""
        coll = self._coll(collection_name)
        names = set(self._check_partitions(coll, [partition_names] if isinstance(partition_names, str)
                                           else list(partition_names)) or [])
        specs = coll.indexes.specs()
        for seg in coll.sealed_segments():
            if seg.partition in names:
                _ = seg.table
                for spec in specs:
                    coll.indexes.get(seg, spec.field, spec)

    def release_partitions(self, collection_name: str, partition_names: list[str] | str, **kwargs: Any) -> None:
        """Unmap the sealed segments of these partitions and drop their loaded indexes from memory.

        As with release_collection, searches still work: they map what they need again."""
        coll = self._coll(collection_name)
        names = set(self._check_partitions(coll, [partition_names] if isinstance(partition_names, str)
                                           else list(partition_names)) or [])
        for seg in coll.sealed_segments():
            if seg.partition in names:
                coll.indexes.forget_segment(seg.key)
                seg.release()

    def _check_partitions(self, coll: Collection, names: list[str] | None) -> list[str] | None:
        if not names:
            return None
        existing = coll.partitions()
        for p in names:
            if p not in existing:
                raise PartitionNotFoundError(f"partition {p!r} does not exist in collection {coll.name!r}")
        return list(names)

    # --- indexes ----------------------------------------------------------
    def _validate_index_params(self, schema: CollectionSchema, index_params: IndexParams) -> None:
        for ip in index_params:
            index_type = (ip.index_type or "AUTOINDEX").upper()
            target, is_sub = _index_target(schema, ip.field_name)
            if target.is_vector:
                metric = check_metric(ip.field_name, target, ip.metric_type, None, is_sub)
                create_index(index_type, metric, ip.params, maxsim=is_sub)  # validates type and params
            elif target.is_struct_array:
                raise ParamError(f"index {ip.field_name!r} as 'struct[vector_sub_field]'")
            elif index_type.upper() not in {t.upper() for t in SCALAR_INDEX_TYPES}:
                raise ParamError(f"index type {ip.index_type} is not a scalar index type ({sorted(SCALAR_INDEX_TYPES - {''})})")

    def create_index(self, collection_name: str, index_params: IndexParams, **kwargs: Any) -> None:
        """Record the indexes and build them for every sealed segment (blocking)."""
        for _ in self.create_index_iter(collection_name, index_params):
            pass

    def create_index_iter(self, collection_name: str, index_params: IndexParams) -> Iterator[BuildProgress]:
        """`create_index` as a generator of build progress events (for progress bars)."""
        coll = self._coll(collection_name)
        self._record_indexes(coll, index_params)
        for ip in index_params:
            yield from coll.build_indexes(ip.field_name)

    def _record_indexes(self, coll: Collection, index_params: IndexParams) -> None:
        self._validate_index_params(coll.schema, index_params)
        existing = {r["index_name"]: r for r in self._db.catalog.indexes(coll.id)}
        with self._db.catalog.transaction() as db:
            for ip in index_params:
                name = ip.index_name or ip.field_name
                for other in existing.values():
                    if other["field"] == ip.field_name and other["index_name"] != name:
                        raise MilvusException(f"field {ip.field_name!r} already has index {other['index_name']!r}")
                metric = ip.metric_type
                target, is_sub = _index_target(coll.schema, ip.field_name)
                if target.is_vector:
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
                db.table("indexes").upsert(
                    {
                        "collection_id": coll.id,
                        "index_name": name,
                        "field": ip.field_name,
                        "index_type": (ip.index_type or "AUTOINDEX"),
                        "metric_type": metric or "",
                        "params": json.dumps(ip.params),
                        "created": now(),
                    },
                    pk=("collection_id", "index_name"),
                )
        coll.indexes.invalidate()

    def list_indexes(self, collection_name: str, field_name: str | None = "", **kwargs: Any) -> list[str]:
        coll = self._coll(collection_name)
        return [r["index_name"] for r in self._db.catalog.indexes(coll.id) if not field_name or r["field"] == field_name]

    def describe_index(self, collection_name: str, index_name: str, **kwargs: Any) -> dict[str, Any]:
        coll = self._coll(collection_name)
        for r in self._db.catalog.indexes(coll.id):
            if r["index_name"] == index_name:
                return {
                    **{k: str(v) for k, v in r["params"].items()},
                    "index_type": r["index_type"],
                    "metric_type": r["metric_type"],
                    "field_name": r["field"],
                    "index_name": r["index_name"],
                    **self._index_progress(coll, r["field"], bool(r["metric_type"])),
                }
        raise IndexNotFoundError(f"index {index_name!r} does not exist in collection {collection_name!r}")

    def _index_progress(self, coll: Collection, field: str, is_vector: bool) -> dict[str, Any]:
        """total/indexed/pending rows and state; growing rows count as pending (searched exactly)."""
        snap = coll.snapshot
        total = snap.num_live
        if not is_vector:  # scalar indexes are evaluated column-wise; nothing to build
            return {"total_rows": total, "indexed_rows": total, "pending_index_rows": 0, "state": "Finished"}
        built = coll.indexes.built()
        indexed = sum(s.live_rows for s in snap.segments if s.sealed and (s.data.key, field) in built)
        unbuilt_sealed = any(s.sealed and (s.data.key, field) not in built for s in snap.segments)
        return {
            "total_rows": total,
            "indexed_rows": indexed,
            "pending_index_rows": total - indexed,
            "state": "InProgress" if unbuilt_sealed else "Finished",
        }

    def drop_index(self, collection_name: str, index_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        rows = [r for r in self._db.catalog.indexes(coll.id) if r["index_name"] == index_name]
        with self._db.catalog.transaction() as db:
            db.execute("delete from indexes where collection_id = ? and index_name = ?", [coll.id, index_name])
        coll.indexes.invalidate()
        for r in rows:
            coll.indexes.drop(r["field"])

    def _index_metric(self, coll: Collection, field_path: str) -> str | None:
        spec = coll.indexes.spec_for(field_path)
        return spec.metric if spec is not None else None

    # --- writes -----------------------------------------------------------
    def insert(self, collection_name: str, data: dict[str, Any] | list[dict[str, Any]], timeout: float | None = None,
               partition_name: str | None = "", **kwargs: Any) -> dict[str, Any]:
        rows = _as_rows(data)
        if not rows:
            return {"insert_count": 0, "ids": []}
        ids = self._coll(collection_name).insert(rows, partition_name or "_default")
        return {"insert_count": len(ids), "ids": ids}

    def upsert(self, collection_name: str, data: dict[str, Any] | list[dict[str, Any]], timeout: float | None = None,
               partition_name: str | None = "", **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("partial_update"):
            raise NotImplementedError("upsert in merge mode (partial_update=True) is not supported; upsert whole rows")
        rows = _as_rows(data)
        if not rows:
            return {"upsert_count": 0, "ids": []}
        ids = self._coll(collection_name).insert(rows, partition_name or "_default", upsert=True)
        return {"upsert_count": len(ids), "ids": ids}

    def delete(self, collection_name: str, ids: Any = None, timeout: float | None = None, filter: str | None = None,
               partition_name: str | None = None, **kwargs: Any) -> dict[str, int]:
        coll = self._coll(collection_name)
        pks = kwargs.get("pks")
        if ids is None and pks is not None:
            ids = pks
        if ids is not None and filter:
            raise ParamError("delete takes ids= or filter=, not both")
        if ids is None and not filter:
            raise ParamError("delete needs ids= or filter=")
        if ids is not None:
            keys = ids if isinstance(ids, list) else [ids]
            for k in keys:
                if not isinstance(k, (int, str, np.integer)):
                    raise ParamError(f"ids must be int or str primary keys, got {type(k).__name__}")
            return {"delete_count": coll.delete([k.item() if isinstance(k, np.integer) else k for k in keys])}
        with coll.lock:  # the filter and the delete see the same data
            snap = coll.snapshot
            segs = snap.select([partition_name] if partition_name else None)
            masks = row_masks(coll.schema, segs, filter, kwargs.get("filter_params"))
            keys = []
            for seg, mask in zip(segs, masks):
                keys.extend(seg.data.pk_column()[mask].tolist())
            return {"delete_count": coll.delete(keys)}

    # --- reads ------------------------------------------------------------
    def query(self, collection_name: str, filter: str = "", output_fields: list[str] | None = None,
              timeout: float | None = None, ids: Any = None, partition_names: list[str] | None = None,
              **kwargs: Any) -> list[dict[str, Any]]:
        coll = self._coll(collection_name)
        if filter and ids is not None:
            raise ParamError("query takes ids= or filter=, not both")
        if filter is not None and not isinstance(filter, str):
            raise ParamError(f"filter must be a string, got {type(filter).__name__}")
        params = kwargs.get("filter_params")
        if ids is not None:
            filter, params = _pk_filter(coll, ids)
        elif not filter and kwargs.get("limit") is None and not _is_count(output_fields):
            raise ParamError("query needs a filter, ids or a limit (Milvus refuses an unbounded query)")
        return run_query(coll.schema, coll.snapshot, filter, output_fields, kwargs.get("limit"),
                         int(kwargs.get("offset", 0) or 0), self._check_partitions(coll, partition_names), params)

    def get(self, collection_name: str, ids: Any, output_fields: list[str] | None = None,
            timeout: float | None = None, partition_names: list[str] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        if not isinstance(ids, list):
            ids = [ids]
        if not ids:
            return []
        return self.query(collection_name, ids=ids, output_fields=output_fields, partition_names=partition_names)

    def query_iterator(self, collection_name: str, batch_size: int = 1000, limit: int | None = -1,
                       filter: str = "", output_fields: list[str] | None = None,
                       partition_names: list[str] | None = None, **kwargs: Any) -> QueryIterator:
        coll = self._coll(collection_name)
        snap = coll.snapshot
        parts = self._check_partitions(coll, partition_names)
        total = None if limit is None or limit < 0 else int(limit)
        rows = run_query(coll.schema, snap, filter, output_fields, total, 0, parts, kwargs.get("filter_params"))
        return QueryIterator(iter(rows), int(batch_size))

    def search(self, collection_name: str, data: Any = None, filter: str = "", limit: int = 10,
               output_fields: list[str] | None = None, search_params: dict[str, Any] | None = None,
               timeout: float | None = None, partition_names: list[str] | None = None,
               anns_field: str | None = None, **kwargs: Any) -> list[list[Hit]]:
        coll = self._coll(collection_name)
        sp = dict(search_params or {})
        offset = int(kwargs.get("offset", sp.get("offset", 0)) or 0)
        plan = plan_output(coll.schema, output_fields, default_all=False)
        group_field = kwargs.get("group_by_field") or sp.get("group_by_field")
        if group_field:
            def candidates(k: int) -> list[list[Candidate]]:
                return self._search_candidates(coll, data, anns_field, filter, k, 0, sp, partition_names,
                                               kwargs.get("filter_params"))[0]

            return grouped_search(coll.schema, candidates, group_field, limit,
                                  int(kwargs.get("group_size", sp.get("group_size", 1)) or 1),
                                  bool(kwargs.get("strict_group_size", sp.get("strict_group_size", False))), plan)
        cands, _metric = self._search_candidates(coll, data, anns_field, filter, limit, offset, sp,
                                                 partition_names, kwargs.get("filter_params"))
        return [to_hits(coll.schema, c[offset:], plan) for c in cands]

    def search_iterator(self, collection_name: str, data: Any, batch_size: int = 1000, filter: str | None = None,
                        limit: int = -1, output_fields: list[str] | None = None,
                        search_params: dict[str, Any] | None = None, timeout: float | None = None,
                        partition_names: list[str] | None = None, anns_field: str | None = None,
                        **kwargs: Any) -> SearchIterator:
        """Page through the hits of one query over one snapshot (at most 16,384 hits in all)."""
        queries = data if isinstance(data, list) else [data]
        if len(queries) != 1:
            raise ParamError("search_iterator takes exactly one query vector")
        coll = self._coll(collection_name)
        total = min(MAX_TOPK, coll.row_count() if limit is None or limit < 0 else int(limit))
        if total <= 0:
            return SearchIterator([], batch_size)
        hits = self.search(collection_name, queries, filter or "", total, output_fields, search_params,
                           partition_names=partition_names, anns_field=anns_field, **kwargs)[0]
        return SearchIterator(hits, batch_size)

    def _search_candidates(self, coll: Collection, data: Any, anns_field: str | None, filter: str | None, limit: int,
                           offset: int, search_params: dict[str, Any], partition_names: list[str] | None,
                           filter_params: dict[str, Any] | None, use_index: bool = True,
                           ) -> tuple[list[list[Candidate]], str]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit + offset <= MAX_TOPK:
            raise ParamError(f"limit must be an integer in [1, {MAX_TOPK}] (with offset), got {limit!r}")
        if data is None or (isinstance(data, list) and not data):
            raise ParamError("search needs data= (a list of query vectors)")
        schema = coll.schema
        if not anns_field:
            paths = [p for p, _ in schema.vector_fields()]
            if len(paths) != 1:
                raise ParamError(f"the collection has several vector fields {paths}; pass anns_field=")
            anns_field = paths[0]
        top, sub = schema.resolve_vector_path(anns_field)
        if sub is None and not top.is_vector:
            raise ParamError(f"anns_field {anns_field!r} is not a vector field")
        metric = check_metric(anns_field, sub or top, search_params.get("metric_type"),
                              self._index_metric(coll, anns_field), sub is not None)
        params = search_time_params(search_params)
        snap = coll.snapshot
        segs = snap.select(self._check_partitions(coll, partition_names))
        masks = search_masks(schema, segs, filter, filter_params)
        k = limit + offset
        queries: Any
        if sub is not None:
            queries = prepare_maxsim_queries(sub, data)
            exact = maxsim_searcher(top, sub, queries, metric)
        else:
            if metric in MAX_SIM_METRICS:
                raise ParamError(f"{metric} needs an Array of Structs vector sub-field as anns_field")
            queries = prepare_queries(top, data)
            exact = exact_searcher(top, queries, metric)
        nq = len(queries)
        searcher = indexed_searcher(coll, anns_field, queries, params, exact) if use_index else exact
        radius = params.get("radius")
        if radius is not None:
            k = MAX_TOPK  # range search: gather widely, then cut by distance
        cands = search_segments(segs, masks, nq, k, metric, searcher)
        if radius is not None:
            cands = [range_filter(c, metric, float(radius), _opt_float(params.get("range_filter")))[: limit + offset]
                     for c in cands]
        return cands, metric

    def hybrid_search(self, collection_name: str, reqs: list[AnnSearchRequest], ranker: BaseRanker,
                      limit: int = 10, output_fields: list[str] | None = None, timeout: float | None = None,
                      partition_names: list[str] | None = None, **kwargs: Any) -> list[list[Hit]]:
        coll = self._coll(collection_name)
        if not reqs:
            raise ParamError("hybrid_search needs at least one AnnSearchRequest")
        offset = int(kwargs.get("offset", 0) or 0)
        per_req: list[list[list[Candidate]]] = []
        metrics: list[str] = []
        for req in reqs:
            cands, metric = self._search_candidates(coll, req.data, req.anns_field, req.expr, req.limit, 0,
                                                    req.param, partition_names, req.expr_params)
            per_req.append(cands)
            metrics.append(metric)
        nq = len(per_req[0])
        if any(len(c) != nq for c in per_req):
            raise ParamError("every AnnSearchRequest of a hybrid_search must have the same number of queries")
        plan = plan_output(coll.schema, output_fields, default_all=False)
        out = []
        for qi in range(nq):
            where: dict[Any, Candidate] = {}
            lists = []
            for cands in per_req:
                lists.append([(c.pk, c.distance) for c in cands[qi]])
                for c in cands[qi]:
                    where.setdefault(c.pk, c)
            fused = fuse(lists, metrics, ranker, limit, offset)
            hits = [Candidate(score, pk, where[pk].seg, where[pk].row) for pk, score in fused]
            out.append(to_hits(coll.schema, hits, plan))
        return out


_NOT_INDEX_PARAMS = {"metric_type", "params", "offset", "group_by_field", "group_size", "strict_group_size",
                     "ignore_growing", "round_decimal", "consistency_level"}


def search_time_params(search_params: dict[str, Any]) -> dict[str, Any]:
    """Index parameters of a search: `{"params": {"ef": 64}}` or flat (`{"ef": 64}`, `{"nprobe": 10}`)."""
    flat = {k: v for k, v in search_params.items() if k not in _NOT_INDEX_PARAMS}
    return {**flat, **dict(search_params.get("params") or {})}


def indexed_searcher(coll: Collection, field: str, queries: Any, params: dict[str, Any],
                     exact: SegmentSearcher) -> SegmentSearcher:
    """Search sealed segments through their index when one is built; everything else exactly."""
    spec = coll.indexes.spec_for(field)

    def run(seg: SegmentState, mask: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        if spec is not None and isinstance(seg.data, SealedSegment):
            index = coll.indexes.get(seg.data, field, spec)
            if index is not None:
                return index.search(queries, k, valid_mask=mask, search_params=params)
        return exact(seg, mask, k)

    return run


def _index_target(schema: CollectionSchema, field_name: str) -> tuple[FieldSchema, bool]:
    """The field an index is on, and whether it is a struct sub-field (`struct[sub]`)."""
    if "[" in field_name:
        top, sub = schema.resolve_vector_path(field_name)
        assert sub is not None
        return sub, True
    f = schema.field(field_name)
    if f is None:
        raise ParamError(f"cannot index {field_name!r}: no such field (fields: {schema.field_names})")
    return f, False


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _is_count(output_fields: list[str] | None) -> bool:
    return bool(output_fields) and any(f.replace(" ", "").lower() == "count(*)" for f in output_fields or [])


def _as_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise ParamError(f"wrong type of argument 'data', expected a dict or a list of dicts, got {type(data).__name__}")
    return data


def _pk_filter(coll: Collection, ids: Any) -> tuple[str, dict[str, Any]]:
    keys = ids if isinstance(ids, list) else [ids]
    pk = coll.schema.primary_field
    for k in keys:
        ok = isinstance(k, str) if pk.dtype == DataType.VARCHAR else isinstance(k, (int, np.integer)) and not isinstance(k, bool)
        if not ok:
            raise ParamError(f"ids: {k!r} is not a valid {pk.dtype.name} primary key for field {pk.name!r}")
    return f"{pk.name} in {{__ids}}", {"__ids": [k.item() if isinstance(k, np.integer) else k for k in keys]}


__all__ = ["AnnSearchRequest", "LoadState", "MilvusClient", "QueryIterator"]
