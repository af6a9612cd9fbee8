"""Every keyword argument a `MilvusClient` call takes through `**kwargs` is checked (`check_keywords`).

pymilvus's calls take `**kwargs` and pass what they do not know to the server, which ignores it; a
typo (`limt=5`) or an option the engine does not implement would then do nothing. Here each public
method lists the extra keywords it honours (`KEYWORDS`); any other is refused before the call runs:
`UnsupportedError` for a pymilvus option the engine does not implement (`UNSUPPORTED` says why),
`ParamError` naming the keyword and the ones the call takes for anything else. `timeout` and
`consistency_level` are checked wherever they are taken. tests/test_keywords.py checks that every
public method with `**kwargs` is listed here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from engine.client.timeouts import check_timeout
from engine.client.validation import check_consistency
from engine.errors import ParamError, UnsupportedError

T = TypeVar("T")

_READ = frozenset({"timeout", "consistency_level", "timezone", "time_fields"})
_SEARCH = _READ | {"offset", "round_decimal", "group_by_field", "group_size", "strict_group_size", "ignore_growing",
                   "filter_params"}

# Extra keywords each method honours (beyond its named parameters). A method that checks its
# **kwargs itself (or passes them to a class that does) lists None.
KEYWORDS: dict[str, frozenset[str] | None] = {
    "create_schema": None,  # CollectionSchema checks its keywords
    "create_field_schema": None,  # FieldSchema checks its keywords
    "prepare_index_params": None,  # IndexParams.add_index keeps them as build params, checked by create_index
    "alter_collection_properties": None,  # refuses any
    "drop_collection_properties": None,  # refuses any
    "compact": None,  # refuses any
    "recall_check": frozenset({"k", "ef_values", "n_queries", "seed"}),
    "create_collection": frozenset({"consistency_level", "enable_dynamic_field", "description", "max_length",
                                    "properties", "num_shards", "shards_num", "num_partitions",
                                    "partition_key_field"}),
    "add_collection_field": None,  # FieldSchema.build checks its keywords
    "insert": frozenset({"progress_bar"}),
    "upsert": frozenset({"partial_update", "field_ops", "progress_bar"}),
    "delete": frozenset({"pks", "filter_params", "consistency_level"}),
    "query": _READ | {"limit", "offset", "filter_params", "ignore_growing"},
    "get": _READ,
    "query_iterator": _READ | {"filter_params"},
    "search": _SEARCH,
    "search_iterator": _READ | {"filter_params", "round_decimal", "ignore_growing"},
    "hybrid_search": _READ | {"offset", "round_decimal", "ignore_growing", "group_by_field"},
    "get_load_state": frozenset({"timeout"}),
}
for _name in ("create_index", "create_partition", "describe_collection", "describe_index", "drop_collection",
              "drop_index", "drop_partition", "flush", "get_collection_stats", "get_compaction_state",
              "has_collection", "has_partition", "list_collections", "list_indexes", "list_partitions",
              "list_persistent_segments", "load_collection", "load_partitions", "release_collection",
              "release_partitions", "rename_collection", "get_partition_stats", "get_server_version",
              "create_alias", "alter_alias", "describe_alias", "drop_alias", "list_aliases", "create_database",
              "drop_database", "describe_database", "list_databases", "alter_database_properties",
              "drop_database_properties", "use_database", "using_database", "truncate_collection"):
    KEYWORDS.setdefault(_name, frozenset({"timeout"}))

# Keywords pymilvus itself accepts and ignores (docs/engine.md lists them): `progress_bar` on insert and
# upsert, a leftover of the ORM's insert that pymilvus's MilvusClient never reads. They are taken, type-checked.
IGNORED_BY_PYMILVUS = frozenset({"progress_bar"})

# pymilvus options the engine knows of and does not implement: refused with the reason.
UNSUPPORTED: dict[str, str] = {
    "guarantee_timestamp": "every read is Strong (sees every acknowledged write); timestamps are not used",
    "graceful_time": "every read is Strong (sees every acknowledged write); timestamps are not used",
    "travel_timestamp": "time travel is not supported",
    "hints": "search hints are not supported",
    "order_by_fields": "ordering query results by fields is not supported yet",
    "group_by_fields": "grouping query results is not supported yet",
    "json_path": "grouping by a JSON path is not supported",
    "json_type": "grouping by a JSON path is not supported",
    "strict_cast": "grouping by a JSON path is not supported",
    "replica_number": "the engine loads one replica (there are no query nodes)",
    "resource_groups": "the engine has no resource groups",
    "load_fields": "partial loading (load_fields) is not supported: every field is read on demand",
    "skip_load_dynamic_field": "partial loading is not supported: every field is read on demand",
    "refresh": "refresh loads are not needed: every process sees new segments at its next call",
    "db_name": "the engine has one database per directory",
    "namespace": "namespaces are not supported",
}


def check_keywords(cls: type[T]) -> type[T]:
    """Class decorator: each method in KEYWORDS refuses extra keywords it does not honour."""
    for name, allowed in KEYWORDS.items():
        fn = cls.__dict__.get(name) or next((getattr(b, name) for b in cls.__mro__ if name in b.__dict__), None)
        if allowed is None or fn is None or isinstance(inspect.getattr_static(cls, name), staticmethod):
            continue
        setattr(cls, name, _checked(fn, name, allowed))
    return cls


def _checked(fn: Callable[..., Any], name: str, allowed: frozenset[str]) -> Callable[..., Any]:
    params = inspect.signature(fn).parameters
    named = {p for p, v in params.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
    takes = sorted((named - {"self"}) | allowed)

    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        extra = [k for k in kwargs if k not in named]
        for k in extra:
            if k not in allowed:
                if k in UNSUPPORTED:
                    raise UnsupportedError(f"{name}({k}=...): {UNSUPPORTED[k]}")
                raise ParamError(f"{name}() got an unexpected keyword argument {k!r}; it takes {takes}")
        if "progress_bar" in kwargs and not isinstance(kwargs["progress_bar"], bool):
            raise ParamError(f"{name}(progress_bar=) must be True or False, got {kwargs['progress_bar']!r}")
        if "timeout" in kwargs:  # a read has nothing to wait for (docs/engine.md), but the value is checked
            check_timeout(kwargs["timeout"])
        if "consistency_level" in kwargs and "consistency_level" in allowed:
            check_consistency(kwargs["consistency_level"])
        return fn(self, *args, **kwargs)

    return call
