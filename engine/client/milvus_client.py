"""`MilvusClient`: the engine's public API, with pymilvus's signatures and return shapes.

Code written for Milvus Lite runs after changing the import. Differences from
Milvus are listed in docs/engine.md.

Every argument is checked (engine/client/validation.py) before the call reaches a
collection, so a refused call changes nothing, and every error is a
`MilvusException`. After `close()`, every method refuses with `ClientClosedError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from engine import aliases as alias_ops
from engine import collection_admin as admin_ops
from engine import partial_update
from engine.client.admin import AdminMixin
from engine.client.aliases import AliasesMixin
from engine.client.databases import DatabasesMixin, current_db_arg, guard_database_access
from engine.client.duplicates import DuplicatesMixin
from engine.client.hot_search import HotOffer, HotSearches, hot_front
from engine.client.info import InfoMixin
from engine.client.key_mode import KeyModeMixin
from engine.client.keywords import check_keywords
from engine.client.lifecycle import LifecycleMixin
from engine.client.live import LiveMixin
from engine.client.not_implemented import unsupported_call
from engine.client.partitions_indexes import IndexesMixin, PartitionsMixin
from engine.client.properties import PropertiesMixin, check_collection_properties
from engine.client.pymilvus_compat import (
    as_ann_request,
    as_index_params,
    check_quick_form_args,
    collection_properties,
)
from engine.client.read_checks import (
    EMBEDDING_LIST_RULE,
    check_flag,
    refuse_embedding_list,
    refuse_unsupported_search_args,
    require_loaded,
    sealed_only,
)
from engine.client.requests import AnnSearchRequest, LoadState, MutationResult, QueryIterator, ResultList
from engine.client.reranking import check_reranker, rerank, rerank_hybrid
from engine.client.retry import retry_when_replaced
from engine.client.search_extras import SearchIterator, grouped_search
from engine.client.search_plan import SearchPlan, SearchPlanCache, SearchShape, plan_key
from engine.client.searching import (
    indexed_searcher,
    round_hits,
    search_breadth,
    search_time_params,
)
from engine.client.time_args import time_args
from engine.client.timeouts import bound_write_timeouts, check_timeout
from engine.client.validation import (
    CONSISTENCY_LEVELS,
    check_batch_size,
    check_consistency,
    check_filter,
    check_filter_params,
    check_group_size,
    check_int_arg,
    check_iterator_limit,
    check_lookup_name,
    check_output_fields,
    check_pks,
    check_query_window,
    check_round_decimal,
    check_search_params,
    check_search_window,
    guard_open,
    validate_index_params,
)
from engine.collection import Collection, SegmentState
from engine.collection_state import Snapshot
from engine.database import Database, fork_generation, open_database
from engine.errors import CollectionNotFoundError, MilvusException, ParamError, UnsupportedError, brief
from engine.executor import (
    MAX_TOPK,
    Candidate,
    Hit,
    SegmentSearcher,
    check_metric,
    exact_searcher,
    live_segments,
    maxsim_searcher,
    plan_output,
    prepare_maxsim_queries,
    prepare_queries,
    range_filter,
    row_masks,
    run_query,
    search_hits,
    search_masks,
    search_segments,
    to_hits,
)
from engine.expr import compile_filter
from engine.fulltext.search import sparse_candidates
from engine.index.hnsw import HNSWIndex
from engine.index_params import IndexParams
from engine.maintenance import maintain
from engine.partition_keys import num_partitions_arg, partition_names
from engine.schema import CollectionSchema, FieldSchema, StructFieldSchema, check_name
from engine.schema_compat import schema_from_object
from engine.storage.locks import DEFAULT_WRITE_TIMEOUT
from engine.storage.segment import SealedSegment
from engine.types import MAX_SIM_METRICS, DataType
from engine.vectors.function_rankers import read_ranker


@guard_open
@check_keywords
@retry_when_replaced
@guard_database_access
@bound_write_timeouts
class MilvusClient(PartitionsMixin, IndexesMixin, AdminMixin, PropertiesMixin, LiveMixin, DuplicatesMixin, InfoMixin,
                   DatabasesMixin, AliasesMixin, KeyModeMixin, LifecycleMixin):
    """Open (or create) a local database directory and work with the collections of one of its databases
    (`db_name=`, default `default`; see `use_database`)."""

    __getattr__ = unsupported_call  # pymilvus calls the engine lacks: UnsupportedError naming them

    def __init__(self, uri: str = "milvus_demo.db", user: str = "", password: str = "", db_name: str = "",
                 token: str = "", timeout: float | None = None, **kwargs: Any) -> None:
        if isinstance(uri, os.PathLike):
            uri = os.fspath(uri)
        if not isinstance(uri, str) or not uri:
            raise ParamError(f"uri must be a database directory path, got {brief(uri, 80)}")
        if uri.startswith(("http://", "https://", "tcp://", "grpc://")):
            raise ParamError(
                f"{uri!r} is a server address; the embedded engine opens local paths. "
                "Use pymilvus.MilvusClient for a Milvus server."
            )
        self.uri = uri
        write_timeout = check_timeout(kwargs.pop("write_lock_timeout", DEFAULT_WRITE_TIMEOUT), "write_lock_timeout")
        if kwargs:
            raise ParamError(f"MilvusClient does not support {sorted(kwargs)} for a local database")
        self._write_timeout = write_timeout
        self._db_name = current_db_arg(db_name)
        try:
            self._db: Database | None = open_database(uri, write_timeout)
        except (OSError, ValueError) as e:  # no permission, a NUL in the path, a name too long...
            if isinstance(e, MilvusException):
                raise
            raise ParamError(f"cannot open the database directory {brief(uri, 200)}: {e}") from None
        self._forks = fork_generation()
        self._closed = False
        self._search_plans = SearchPlanCache()
        self._hot_searches = HotSearches()
        self._compactions = {}

    def __enter__(self) -> MilvusClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def db(self) -> Database:
        """The open database (reopened in a forked child, which never uses its parent's)."""
        if self._closed or self._db is None:
            raise MilvusException("this client is closed")
        if fork_generation() != self._forks:
            self._db = open_database(self.uri, self._write_timeout)
            self._forks = fork_generation()
        return self._db

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
        """The collection (or alias) `name` of the current database."""
        check_lookup_name(name, "collection_name")
        try:
            return self.db.get(name, self._db_name)
        except CollectionNotFoundError:
            raise self._missing_database() or CollectionNotFoundError(
                f"collection {name!r} does not exist in database {self._db_name!r}; existing: "
                f"{self.db.names(self._db_name)}") from None

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
        """Create a collection: the quick form (`dimension=`) or from `schema=` (and `index_params=`).

        Everything is checked first (name, schema, index parameters, consistency level), so a
        refused call creates nothing.
        """
        check_name(collection_name, "collection name")
        consistency = check_consistency(kwargs.pop("consistency_level", "Bounded"))
        num_partitions = kwargs.pop("num_partitions", None)
        properties = collection_properties(kwargs)
        try:
            json.dumps(properties, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as e:
            raise ParamError(f"collection properties {sorted(map(str, properties))} cannot be stored: {e}") from None
        quick_args = None if schema is None else (dimension, primary_field_name, id_type, vector_field_name,
                                                  metric_type, auto_id)
        if schema is None:
            schema, index_params = self._quick_schema(dimension, primary_field_name, id_type, vector_field_name,
                                                      metric_type, auto_id, kwargs)
        elif isinstance(schema, dict):
            schema = CollectionSchema.from_dict(schema)
        else:
            schema = schema_from_object(schema)  # pymilvus's CollectionSchema too, read by its attributes
        schema.validate()
        if quick_args is not None:
            check_quick_form_args(schema, *quick_args, kwargs)
        partitions = num_partitions_arg(num_partitions, schema)
        properties = check_collection_properties(properties, schema)
        index_params = as_index_params(index_params) or None  # pymilvus's too; an empty one creates no index
        if index_params is not None:
            validate_index_params(schema, index_params)
        # Created loaded, in the same commit, so no other process (or a crash) ever sees it released in between;
        # without index_params as in Milvus Lite (searched exactly until indexed), with them as in Milvus.
        self.db.create(collection_name, schema, properties, consistency, self._db_name,
                       partitions=None if partitions is None else partition_names(partitions), loaded=True)
        if index_params is None:
            return
        try:
            self.create_index(collection_name, index_params)
            self.load_collection(collection_name)
        except BaseException:
            self.db.drop(collection_name, self._db_name)  # all or nothing
            raise

    @staticmethod
    def _quick_schema(dimension: Any, primary_field_name: str, id_type: Any, vector_field_name: str,
                      metric_type: Any, auto_id: Any, kwargs: dict[str, Any]) -> tuple[CollectionSchema, IndexParams]:
        if dimension is None:
            raise ParamError("create_collection needs dimension= (quick form) or schema=")
        if isinstance(dimension, bool) or not isinstance(dimension, int):
            raise ParamError(f"dimension must be an integer, got {type(dimension).__name__} {brief(dimension, 80)}")
        if not isinstance(auto_id, bool):
            raise ParamError(f"auto_id must be a bool, got {brief(auto_id, 80)}")
        schema = CollectionSchema(
            auto_id=auto_id,
            enable_dynamic_field=kwargs.get("enable_dynamic_field", True),
            description=kwargs.get("description", ""),
            partition_key_field=kwargs.get("partition_key_field"),
        )
        if id_type in ("int", DataType.INT64):
            schema.add_field(primary_field_name, DataType.INT64, is_primary=True, auto_id=auto_id)
        elif id_type in ("string", "str", DataType.VARCHAR):
            schema.add_field(primary_field_name, DataType.VARCHAR, is_primary=True,
                             max_length=kwargs.get("max_length", 65535))
        else:
            raise ParamError(f"id_type must be 'int' or 'string', got {brief(id_type, 80)}")
        schema.add_field(vector_field_name, DataType.FLOAT_VECTOR, dim=dimension)
        index_params = IndexParams()
        index_params.add_index(vector_field_name, index_type="AUTOINDEX", metric_type=metric_type)
        return schema, index_params

    def has_collection(self, collection_name: str, **kwargs: Any) -> bool:
        """Whether the current database has a collection (or an alias) of this name."""
        return self.db.has(check_lookup_name(collection_name, "collection_name"), self._db_name)

    def list_collections(self, **kwargs: Any) -> list[str]:
        missing = self._missing_database()
        if missing is not None:
            raise missing
        return sorted(self.db.names(self._db_name))  # sorted, as Milvus Lite lists them (a server gives no order)

    def drop_collection(self, collection_name: str, **kwargs: Any) -> None:
        """Drop a collection of the current database (not through an alias, nor while aliases name it)."""
        self.db.drop(check_lookup_name(collection_name, "collection_name"), self._db_name)

    def rename_collection(self, old_name: str, new_name: str, target_db: str | None = "", **kwargs: Any) -> None:
        """Rename a collection of the current database, and move it to `target_db` when one is named."""
        check_lookup_name(old_name, "old_name")
        check_name(new_name, "collection name")
        new_db = current_db_arg(target_db) if target_db else self._db_name
        if new_db == self._db_name and new_name == old_name:
            raise ParamError(f"rename_collection: the new name {new_name!r} and database {new_db!r} are the "
                             "collection's own; collection name or database name should be different")
        self.db.rename(old_name, new_name, self._db_name, new_db)

    def replace_collection(self, source: str, target: str, timeout: float | None = None) -> None:
        """Engine extension (not in pymilvus): put collection `source` in the place of `target`.

        In one catalog transaction the old `target` (if there is one) is dropped and `source` is renamed
        `target`: readers (in any process) see the old or the new collection, never neither, and on any
        error nothing changes. `source` keeps its rows, indexes and partitions. Errors are
        `MilvusException`s naming both collections.
        """
        for what, name in (("source", source), ("target", target)):
            if not isinstance(name, str) or not name:
                raise ParamError(f"replace_collection: {what} must be a non-empty collection name, got {name!r}")
        self.db.replace(source, target, self._db_name, timeout=timeout)

    def describe_collection(self, collection_name: str, **kwargs: Any) -> dict[str, Any]:
        coll = self._coll(collection_name)
        row = coll.row
        s = coll.schema
        return {
            "collection_name": coll.name,
            "auto_id": s.auto_id,
            "num_shards": 1,
            "description": s.description,
            "fields": [f.to_dict() for f in s.fields],
            "functions": [fn.to_dict() for fn in s.functions],
            "aliases": alias_ops.aliases_of(self.db, coll.id),
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
        self._check_replicas(coll)
        specs = coll.indexes.specs()
        for seg in coll.sealed_segments():
            _ = seg.table
            for spec in specs:
                coll.indexes.get(seg, spec.field, spec)
        admin_ops.set_loaded(coll, True)

    def release_collection(self, collection_name: str, **kwargs: Any) -> None:
        coll = self._coll(collection_name)
        admin_ops.set_loaded(coll, False)
        coll.release()

    def get_load_state(self, collection_name: str, partition_name: str = "", **kwargs: Any) -> dict[str, LoadState]:
        """Loaded or NotLoad (NotExist for a missing collection); a partition shares its collection's state."""
        if not self.db.has(check_lookup_name(collection_name, "collection_name"), self._db_name):
            return {"state": LoadState.NotExist}
        coll = self._coll(collection_name)
        if partition_name:
            self._check_partitions(coll, [partition_name])
        return {"state": LoadState.Loaded if coll.row["loaded"] else LoadState.NotLoad}

    def flush(self, collection_name: str, **kwargs: Any) -> None:
        """Seal all growing rows; returns once every sealed segment is merged and indexed."""
        coll = self._coll(collection_name)
        coll.seal()
        for _ in maintain(coll):
            pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db = None  # the database closes when its last client is gone

    # --- writes -----------------------------------------------------------
    def insert(self, collection_name: str, data: dict[str, Any] | list[dict[str, Any]], timeout: float | None = None,
               partition_name: str | None = "", **kwargs: Any) -> dict[str, Any]:
        """Insert rows; a row whose primary key exists replaces that entity (see docs/engine.md)."""
        coll = self._coll(collection_name)
        rows = _as_rows(data)
        partition = self._write_partition(coll, _partition_arg(partition_name), bool(partition_name))
        if not rows:
            return MutationResult(insert_count=0, ids=[], cost=0)
        # A key that exists already: the new row replaces the old one, as Milvus Lite does and as a Milvus
        # server's searches see it (docs/engine.md, "Inserting a key that exists").
        ids = coll.insert(rows, partition, upsert=not coll.schema.primary_field.auto_id)
        return MutationResult(insert_count=len(ids), ids=ids, cost=0)

    def upsert(self, collection_name: str, data: dict[str, Any] | list[dict[str, Any]], timeout: float | None = None,
               partition_name: str | None = "", **kwargs: Any) -> dict[str, Any]:
        """Insert or replace whole rows; with `partial_update=True` (or `field_ops`) merge the given fields
        into the stored rows (engine/partial_update.py)."""
        coll = self._coll(collection_name)
        rows = _as_rows(data)
        partition = self._write_partition(coll, _partition_arg(partition_name), bool(partition_name))
        merge = partial_update.merge_arg(coll.schema, rows, kwargs.pop("partial_update", False),
                                         kwargs.pop("field_ops", None))
        if not rows:
            return MutationResult(upsert_count=0, cost=0, ids=[])
        ids = coll.insert(rows, partition, upsert=True, merge=merge)
        return MutationResult(upsert_count=len(ids), cost=0, ids=ids)

    def delete(self, collection_name: str, ids: Any = None, timeout: float | None = None, filter: str | None = None,
               partition_name: str | None = None, **kwargs: Any) -> dict[str, int]:
        """Delete by primary keys (`ids`, of the key's exact type) or by `filter`, in one partition if named.

        A blank filter (only white space) is no filter: with no ids either, the call is refused.
        """
        coll = self._coll(collection_name)
        pks = kwargs.get("pks")
        if ids is None and pks is not None:
            ids = pks
        flt = check_filter(filter)
        params = check_filter_params(kwargs.get("filter_params"))
        if ids is not None and flt is not None:
            raise ParamError("delete takes ids= or filter=, not both")
        if ids is None and flt is None:
            raise ParamError(f"delete needs ids= or a filter= (a blank filter is no filter), got filter={brief(filter, 40)}")
        if partition_name:
            self._write_partition(coll, "", True)
        parts = self._check_partitions(coll, None if partition_name is None else [partition_name]) \
            if partition_name else None
        if ids is not None:
            keys = check_pks(coll.schema, ids)
            if parts is None:
                return MutationResult(delete_count=coll.delete(keys), cost=0)
            flt, params = _pk_filter(coll, keys)
        assert flt is not None
        tz, _ = time_args(coll, {})

        def matching(snap: Any) -> list[Any]:  # chosen and deleted under one write lock
            segs = snap.select(parts)
            masks = row_masks(coll.schema, segs, flt, params, tz)
            found: list[Any] = []
            for seg, mask in zip(segs, masks):
                found.extend(seg.data.pk_column()[mask].tolist())
            return found

        return MutationResult(delete_count=coll.delete_where(matching), cost=0)

    # --- reads ------------------------------------------------------------
    def query(self, collection_name: str, filter: str = "", output_fields: list[str] | None = None,
              timeout: float | None = None, ids: Any = None, partition_names: list[str] | None = None,
              **kwargs: Any) -> list[dict[str, Any]]:
        """Rows matching `filter` (or with these `ids`); a blank filter is no filter, and then a limit is needed."""
        coll = self._coll(collection_name)
        require_loaded(coll, "query")
        flt = check_filter(filter)
        if flt is not None and ids is not None:
            raise ParamError("query takes ids= or filter=, not both")
        snap = sealed_only(coll.snapshot) if check_flag(kwargs.get("ignore_growing"), "ignore_growing") \
            else coll.snapshot
        params = check_filter_params(kwargs.get("filter_params"))
        limit, offset = check_query_window(kwargs.get("limit"), kwargs.get("offset"))
        output_fields = check_output_fields(output_fields)
        tz, time_fields = time_args(coll, kwargs)
        if ids is not None:
            flt, params = _pk_filter(coll, check_pks(coll.schema, ids))
        elif flt is None and limit is None and not _is_count(output_fields):
            raise ParamError("query needs a filter, ids or a limit (Milvus refuses an unbounded query); "
                             "a blank filter is no filter")
        parts = self._read_partitions(coll, partition_names, flt, params)
        return ResultList(run_query(coll.schema, snap, flt, output_fields, limit, offset, parts, params, tz,
                                    time_fields))

    def get(self, collection_name: str, ids: Any, output_fields: list[str] | None = None,
            timeout: float | None = None, partition_names: list[str] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        if not isinstance(ids, list):
            ids = [ids]
        if not ids:
            self._coll(collection_name)
            return ResultList()
        return self.query(collection_name, ids=ids, output_fields=output_fields, partition_names=partition_names,
                          **{k: kwargs[k] for k in ("timezone", "time_fields") if k in kwargs})

    def query_iterator(self, collection_name: str, batch_size: int = 1000, limit: int | None = -1,
                       filter: str = "", output_fields: list[str] | None = None,
                       partition_names: list[str] | None = None, **kwargs: Any) -> QueryIterator:
        coll = self._coll(collection_name)
        require_loaded(coll, "query_iterator")
        batch = check_batch_size(batch_size)
        total = check_iterator_limit(limit)
        flt = check_filter(filter)
        params = check_filter_params(kwargs.get("filter_params"))
        output_fields = check_output_fields(output_fields)
        parts = self._read_partitions(coll, partition_names, flt, params)
        tz, time_fields = time_args(coll, kwargs)
        rows = run_query(coll.schema, coll.snapshot, flt, output_fields, total, 0, parts, params, tz, time_fields)
        return QueryIterator(iter(rows), batch)

    def search(self, collection_name: str, data: Any = None, filter: str | None = "", limit: int = 10,
               output_fields: list[str] | None = None, search_params: dict[str, Any] | None = None,
               timeout: float | None = None, partition_names: list[str] | None = None,
               anns_field: str | None = None, ranker: Any = None, function_chains: Any = None,
               highlighter: Any = None, ids: Any = None, search_aggregation: Any = None,
               **kwargs: Any) -> list[list[Hit]]:
        """Top-`limit` hits per query after `offset`; `group_by_field` for a grouping search, `ranker=`
        a rerank Function (decay, boost, rrf, weighted) or FunctionScore."""
        if function_chains is not None or highlighter is not None or ids is not None or search_aggregation is not None:
            refuse_unsupported_search_args(function_chains=function_chains, highlighter=highlighter, ids=ids,
                                           search_aggregation=search_aggregation)
        coll = self._coll(collection_name)
        require_loaded(coll, "search")
        # A call shaped like one whose checks passed since the collection last changed skips them
        # (engine/client/search_plan.py); the data and the partitions are checked every time.
        key = None if ranker is not None else plan_key(coll.plan_epoch, filter, limit, output_fields, search_params,
                                                         anns_field, kwargs)
        known = None if key is None else self._search_plans.get(key)
        if known is not None:
            return self._search_planned(coll, known, data, partition_names)
        reranker = None if ranker is None else read_ranker(ranker, hybrid=False)
        if reranker is not None:
            check_reranker(coll.schema, reranker)
        sp = _search_params_arg(search_params)
        growing = not check_flag(_first(kwargs.get("ignore_growing"), sp.get("ignore_growing")), "ignore_growing")
        limit, offset = check_search_window(limit, _first(kwargs.get("offset"), sp.get("offset"), 0))
        decimals = check_round_decimal(_first(kwargs.get("round_decimal"), sp.get("round_decimal")))
        flt = check_filter(filter)
        params = check_filter_params(kwargs.get("filter_params"))
        plan = plan_output(coll.schema, check_output_fields(output_fields), default_all=False)
        tz, plan.time_fields = time_args(coll, {k: _first(kwargs.get(k), sp.get(k)) for k in ("timezone", "time_fields")})
        plan.timezone = tz
        group_field = kwargs.get("group_by_field") or sp.get("group_by_field")
        if group_field:
            refuse_embedding_list(coll.schema, anns_field, "a grouping search")
            if reranker is not None:
                raise ParamError("a search with ranker= cannot group (group_by_field): Milvus does not rank "
                                 "grouping searches with rerank functions")
            group_size = check_group_size(_first(kwargs.get("group_size"), sp.get("group_size")))
            strict = _first(kwargs.get("strict_group_size"), sp.get("strict_group_size"), False)
            if not isinstance(strict, bool):
                raise ParamError(f"strict_group_size must be a bool, got {brief(strict, 80)}")

            def candidates(k: int) -> list[list[Candidate]]:
                return self._search_candidates(coll, data, anns_field, flt, k, 0, sp, partition_names, params,
                                               user_k=limit + offset, growing=growing, timezone=tz)[0]

            return ResultList(round_hits(grouped_search(coll.schema, candidates, group_field, limit, group_size,
                                                        strict, plan, offset), decimals))
        shapes: list[SearchShape] = []
        cands, metric = self._search_candidates(coll, data, anns_field, flt, limit, offset, sp,
                                                partition_names, params, growing=growing, timezone=tz,
                                                on_shape=shapes.append)
        if key is not None and flt is None and params is None and shapes:
            self._search_plans.put(key, SearchPlan(limit, offset, decimals, growing, plan, tz, shapes[0]))
        if reranker is not None:
            cands = [[*c[:offset], *page] for c, page in
                     zip(cands, rerank(coll.schema, cands, metric, reranker, limit, offset))]
        return ResultList(round_hits([to_hits(coll.schema, c[offset:], plan) for c in cands], decimals))

    def _search_planned(self, coll: Collection, known: SearchPlan, data: Any,
                        partition_names: list[str] | None) -> list[list[Hit]]:
        """`search()` with arguments whose checks passed before (no filter, grouping or ranker)."""
        if data is None or (isinstance(data, list) and not data):
            raise ParamError("search needs data= (a list of query vectors)")
        offset, plan, shape = known.offset, known.plan, known.shape
        if len(plan.columns) <= 1 and not plan.pk_requested and shape.radius is None and shape.sub is None:
            # ids and distances only: from one segment, hits straight from its arrays (executor.search_hits)
            snap = coll.snapshot
            segs, masks, queries, searcher = self._dense_searcher(coll, shape, data, None, None, partition_names,
                                                                  True, known.growing, known.timezone, snap)
            pages = search_hits(segs, masks, len(queries), shape.fetch, shape.metric, searcher,
                                coll.schema.primary_field.name, offset)
            if pages is not None and partition_names is None:
                self._offer_hot(coll, known, snap, segs, masks)
            if pages is None:
                merged = search_segments(segs, masks, len(queries), shape.fetch, shape.metric, searcher)
                pages = [to_hits(coll.schema, c[offset:], plan) for c in merged]
            return ResultList(round_hits(pages, known.decimals))
        cands, _ = self._run_shape(coll, shape, data, None, None, partition_names, True, False, known.growing,
                                   known.timezone)
        return ResultList(round_hits([to_hits(coll.schema, c[offset:], known.plan) for c in cands], known.decimals))

    def _offer_hot(self, coll: Collection, known: SearchPlan, snap: Snapshot, segs: list[SegmentState],
                   masks: list[np.ndarray | None]) -> None:
        """Offer a planned search over `snap` to `HotSearches` when it searched one segment through its graph
        (the same choice as `indexed_searcher`: the segment's index of the field that serves its spec)."""
        if not self._hot_searches.expecting():
            return
        live = live_segments(segs, masks)
        if len(live) != 1 or live[0][1] is not None or not isinstance(live[0][0].data, SealedSegment):
            return
        seg, field = live[0][0].data, known.shape.anns_field
        spec = coll.indexes.spec_for(field)
        index = None if spec is None else coll.indexes.get(seg, field, spec)
        if isinstance(index, HNSWIndex):
            self._hot_searches.offer(HotOffer(coll, known, snap, seg, index))

    def search_iterator(self, collection_name: str, data: Any, batch_size: int = 1000, filter: str | None = None,
                        limit: int = -1, output_fields: list[str] | None = None,
                        search_params: dict[str, Any] | None = None, timeout: float | None = None,
                        partition_names: list[str] | None = None, anns_field: str | None = None,
                        **kwargs: Any) -> SearchIterator:
        """Page through the hits of one query over one snapshot (at most 16,384 hits in all)."""
        coll = self._coll(collection_name)
        require_loaded(coll, "search_iterator")
        refuse_embedding_list(coll.schema, anns_field, "search_iterator()")
        queries = list(data) if isinstance(data, list) or getattr(data, "ndim", 1) == 2 else [data]
        if len(queries) != 1:
            raise ParamError("search_iterator takes exactly one query vector")
        batch = check_batch_size(batch_size)
        wanted = check_iterator_limit(limit)
        total = min(MAX_TOPK, coll.row_count() if wanted is None else wanted)
        if total <= 0:
            self._search_candidates(coll, queries, anns_field, check_filter(filter), 1, 0,
                                    _search_params_arg(search_params), partition_names,
                                    check_filter_params(kwargs.get("filter_params")), probe=True,
                                    timezone=time_args(coll, kwargs)[0])
            return SearchIterator([], batch)
        hits = self.search(collection_name, queries, filter, total, output_fields, search_params,
                           partition_names=partition_names, anns_field=anns_field, **kwargs)[0]
        return SearchIterator(hits, batch)

    def _search_candidates(self, coll: Collection, data: Any, anns_field: str | None, filter: str | None, limit: int,
                           offset: int, search_params: dict[str, Any], partition_names: list[str] | None,
                           filter_params: dict[str, Any] | None, use_index: bool = True, probe: bool = False,
                           user_k: int | None = None, growing: bool = True,
                           timezone: str | None = None, on_shape: Callable[[SearchShape], None] | None = None,
                           ) -> tuple[list[list[Candidate]], str]:
        """The best `limit + offset` candidates per query, and the metric; every argument is checked first.

        `probe=True` only checks. `user_k` is the limit + offset the caller was asked for, when `limit`
        is a wider fetch of its own (a grouping search widens it until enough groups are full).
        `on_shape` gets what the checks of a dense or MAX_SIM search resolved, once they all passed.
        """
        limit, offset = check_search_window(limit, offset)
        flt = check_filter(filter)
        filter_params = check_filter_params(filter_params)
        search_params = _search_params_arg(search_params)
        if "consistency_level" in search_params:
            check_consistency(search_params["consistency_level"])
        if data is None or (isinstance(data, list) and not data):
            raise ParamError("search needs data= (a list of query vectors)")
        schema = coll.schema
        if anns_field is None or anns_field == "":
            paths = [p for p, _ in schema.vector_fields()]
            if len(paths) != 1:
                raise ParamError(f"the collection has several vector fields {paths}; pass anns_field=")
            anns_field = paths[0]
        elif not isinstance(anns_field, str):
            raise ParamError(f"anns_field must be a field name, got {type(anns_field).__name__} {brief(anns_field, 80)}")
        top, sub = schema.resolve_vector_path(anns_field)
        if sub is None and top.is_sparse:
            return self._sparse_candidates(coll, top, data, flt, filter_params, limit + offset, search_params,
                                           partition_names, probe)
        if sub is None and not top.is_vector:
            raise ParamError(f"anns_field {anns_field!r} is not a vector field")
        shape = self._vector_shape(coll, anns_field, top, sub, search_params, limit, offset, user_k)
        self._check_isolation(coll, flt, filter_params)
        if on_shape is not None:
            on_shape(shape)
        return self._run_shape(coll, shape, data, flt, filter_params, partition_names, use_index, probe, growing,
                               timezone)

    def _vector_shape(self, coll: Collection, anns_field: str, top: FieldSchema, sub: FieldSchema | None,
                      search_params: dict[str, Any], limit: int, offset: int, user_k: int | None) -> SearchShape:
        """The checks of a dense (or MAX_SIM) search's metric and index parameters, and what they resolve."""
        requested = search_params.get("metric_type")
        if requested is not None and not isinstance(requested, str):
            raise ParamError(f"metric_type must be a string, got {brief(requested, 80)}")
        metric = check_metric(anns_field, sub or top, requested, self._index_metric(coll, anns_field), sub is not None)
        params = check_search_params(search_time_params(search_params), metric)
        k = limit + offset
        radius = params.get("radius")
        if sub is not None and radius is not None:
            raise ParamError(f"a range search (radius) on {anns_field!r}: {EMBEDDING_LIST_RULE}")
        fetch = MAX_TOPK if radius is not None else k  # range search: gather widely, then cut by distance
        params = search_breadth(coll, anns_field, metric, params, user_k or k, fetch)
        return SearchShape(anns_field, top, sub, metric, params, k, fetch, radius)

    def _run_shape(self, coll: Collection, shape: SearchShape, data: Any, flt: str | None,
                   filter_params: dict[str, Any] | None, partition_names: list[str] | None, use_index: bool,
                   probe: bool, growing: bool, timezone: str | None) -> tuple[list[list[Candidate]], str]:
        """Search the snapshot's segments with checked arguments (the data is checked here)."""
        schema, metric, params, sub = coll.schema, shape.metric, shape.params, shape.sub
        queries: Any
        if sub is None and not probe:  # a dense search
            segs, masks, queries, searcher = self._dense_searcher(coll, shape, data, flt, filter_params,
                                                                  partition_names, use_index, growing, timezone)
        else:  # a MAX_SIM search, or a probe: the checks only
            segs = (coll.snapshot if growing else sealed_only(coll.snapshot)).select(
                self._read_partitions(coll, partition_names, flt, filter_params))
            if sub is not None:
                queries = prepare_maxsim_queries(sub, data)
            else:
                if metric in MAX_SIM_METRICS:
                    raise ParamError(f"{metric} needs an Array of Structs vector sub-field as anns_field")
                queries = prepare_queries(shape.top, data)
            if probe:
                if flt is not None:
                    compile_filter(flt, schema, filter_params, timezone=timezone)
                return [[] for _ in queries], metric
            assert sub is not None
            masks = search_masks(schema, segs, flt, filter_params, timezone)
            exact = maxsim_searcher(shape.top, sub, queries, metric)
            searcher = indexed_searcher(coll, shape.anns_field, queries, params, exact) if use_index else exact
        cands = search_segments(segs, masks, len(queries), shape.fetch, metric, searcher)
        if shape.radius is not None:
            rf = params.get("range_filter")
            cands = [range_filter(c, metric, float(shape.radius), None if rf is None else float(rf))[:shape.k]
                     for c in cands]
        return cands, metric

    def _dense_searcher(self, coll: Collection, shape: SearchShape, data: Any, flt: str | None,
                        filter_params: dict[str, Any] | None, partition_names: list[str] | None, use_index: bool,
                        growing: bool, timezone: str | None, snap: Snapshot | None = None
                        ) -> tuple[list[SegmentState], list[np.ndarray | None], np.ndarray, SegmentSearcher]:
        """What `_run_shape` searches for a top-level dense vector field: segments, their masks, the checked
        queries and the segment searcher (of `snap`, by default the collection's current snapshot)."""
        schema, metric = coll.schema, shape.metric
        snap = coll.snapshot if snap is None else snap
        segs = (snap if growing else sealed_only(snap)).select(
            self._read_partitions(coll, partition_names, flt, filter_params))
        if metric in MAX_SIM_METRICS:
            raise ParamError(f"{metric} needs an Array of Structs vector sub-field as anns_field")
        queries = prepare_queries(shape.top, data)
        exact = exact_searcher(shape.top, queries, metric)
        masks = search_masks(schema, segs, flt, filter_params, timezone)
        searcher = indexed_searcher(coll, shape.anns_field, queries, shape.params, exact) if use_index else exact
        return segs, masks, queries, searcher

    def _sparse_candidates(self, coll: Collection, field: FieldSchema, data: Any, flt: str | None,
                           filter_params: dict[str, Any] | None, k: int, search_params: dict[str, Any],
                           partition_names: list[str] | None, probe: bool) -> tuple[list[list[Candidate]], str]:
        """A SPARSE_FLOAT_VECTOR search (IP, or BM25 with query text): engine/fulltext/search.py."""
        params = search_time_params(search_params)
        radius = params.get("radius")
        segs = coll.snapshot.select(self._check_partitions(coll, partition_names))
        cands, metric = sparse_candidates(coll, field, data, search_params.get("metric_type"), params, segs, flt,
                                          filter_params, MAX_TOPK if radius is not None else k, probe)
        check_search_params(params, metric, sparse=True)
        if radius is not None:
            rf = params.get("range_filter")
            cands = [range_filter(c, metric, float(radius), None if rf is None else float(rf))[:k] for c in cands]
        return cands, metric

    def hybrid_search(self, collection_name: str, reqs: list[AnnSearchRequest], ranker: Any,
                      limit: int = 10, output_fields: list[str] | None = None, timeout: float | None = None,
                      partition_names: list[str] | None = None, **kwargs: Any) -> list[list[Hit]]:
        """Fuse the hits of several `AnnSearchRequest`s with `ranker`; each request is checked as a search."""
        coll = self._coll(collection_name)
        require_loaded(coll, "hybrid_search")
        if not isinstance(reqs, (list, tuple)) or not reqs:
            raise ParamError("hybrid_search needs a list of at least one AnnSearchRequest")
        reqs = [as_ann_request(r) for r in reqs]  # pymilvus's AnnSearchRequest too
        for r in reqs:
            refuse_embedding_list(coll.schema, r.anns_field, "hybrid_search()")
        reranker = read_ranker(ranker, hybrid=True)
        check_reranker(coll.schema, reranker)
        if kwargs.get("group_by_field") is not None:
            raise UnsupportedError("hybrid_search(group_by_field=) is not supported by the engine yet; group a "
                                   "single search instead")
        growing = not check_flag(kwargs.get("ignore_growing"), "ignore_growing")
        offset = kwargs.get("offset", 0)
        limit, offset = check_search_window(limit, 0 if offset is None else offset)
        decimals = check_round_decimal(kwargs.get("round_decimal", -1))
        plan = plan_output(coll.schema, check_output_fields(output_fields), default_all=False)
        tz, plan.time_fields = time_args(coll, kwargs)
        plan.timezone = tz
        for req in reqs:  # check every request before running any
            check_int_arg(req.limit, "AnnSearchRequest limit", 1, MAX_TOPK)
            self._search_candidates(coll, req.data, req.anns_field, req.expr, req.limit, 0, req.param,
                                    partition_names, req.expr_params, probe=True, growing=growing, timezone=tz)
        per_req: list[list[list[Candidate]]] = []
        metrics: list[str] = []
        for req in reqs:
            cands, metric = self._search_candidates(coll, req.data, req.anns_field, req.expr, req.limit, 0,
                                                    req.param, partition_names, req.expr_params, growing=growing,
                                                    timezone=tz)
            per_req.append(cands)
            metrics.append(metric)
        nq = len(per_req[0])
        if any(len(c) != nq for c in per_req):
            raise ParamError("every AnnSearchRequest of a hybrid_search must have the same number of queries")
        fused = rerank_hybrid(coll.schema, per_req, metrics, reranker, limit, offset)
        return ResultList(round_hits([to_hits(coll.schema, hits, plan) for hits in fused], decimals))


def _first(*values: Any) -> Any:
    """The first value that is not None (a keyword argument, then its search_params twin, then a default)."""
    return next((v for v in values if v is not None), None)


def _is_count(output_fields: list[str] | None) -> bool:
    return bool(output_fields) and any(f.replace(" ", "").lower() == "count(*)" for f in output_fields or [])


def _as_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise ParamError(f"wrong type of argument 'data', expected a dict or a list of dicts, got {type(data).__name__}")
    return data


def _partition_arg(partition_name: Any) -> str:
    """The partition to write to: "_default" when none is named."""
    if partition_name is None or partition_name == "":
        return "_default"
    return check_lookup_name(partition_name, "partition_name")


def _search_params_arg(search_params: Any) -> dict[str, Any]:
    if search_params is None:
        return {}
    if not isinstance(search_params, dict):
        raise ParamError(f"search_params must be a dict, got {type(search_params).__name__} {brief(search_params, 80)}")
    return dict(search_params)


def _pk_filter(coll: Collection, keys: list[Any]) -> tuple[str, dict[str, Any]]:
    """A filter matching these (checked) primary keys."""
    return f"{coll.schema.primary_field.name} in {{__ids}}", {"__ids": keys}


# Repeat searches of an unchanged collection skip resolving the call again (engine/client/hot_search.py).
MilvusClient.search = hot_front(MilvusClient.search)  # type: ignore[method-assign]

__all__ = ["AnnSearchRequest", "LoadState", "MilvusClient", "QueryIterator"]
