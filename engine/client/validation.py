"""Argument checks of `MilvusClient`, run before a call reaches a collection.

Every check raises `ParamError` (a `MilvusException`) naming the argument and
the value, and runs before anything is read or written, so a refused call
changes nothing. The rules are Milvus's where Milvus has one (the limits in
the messages are Milvus's defaults); docs/engine.md lists them.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from engine.client.index_checks import check_build_params, check_scalar_index
from engine.errors import ClientClosedError, ParamError, brief
from engine.executor import MAX_TOPK, check_metric
from engine.fulltext.functions import sparse_index_metric
from engine.fulltext.inverted_index import check_sparse_index_params
from engine.index import create_index
from engine.index.base import INT32_MAX, check_int
from engine.index.ivf import MAX_NLIST
from engine.index_params import SCALAR_INDEX_TYPES, IndexParam, IndexParams
from engine.index_params import check_scalar_index as check_typed_scalar_index
from engine.schema import CollectionSchema, FieldSchema, check_name
from engine.types import INTEGER_RANGES, DataType, larger_is_closer

INT64_MIN, INT64_MAX = INTEGER_RANGES[DataType.INT64]
MAX_GROUP_SIZE = 10  # Milvus's quotaAndLimits.limits.maxGroupSize
MAX_BATCH_SIZE = 16384  # pymilvus's largest iterator batch
CONSISTENCY_LEVELS = {"Strong": 0, "Session": 1, "Bounded": 2, "Eventually": 3, "Customized": 4}
SEARCH_PARAMS = frozenset({"ef", "nprobe", "radius", "range_filter", "retrieval_ann_ratio"})
# a SPARSE_FLOAT_VECTOR search takes these too (engine/fulltext/search.py reads them)
SPARSE_SEARCH_PARAMS = SEARCH_PARAMS | {"drop_ratio_search", "bm25_k1", "bm25_b"}


def is_blank(text: str | None) -> bool:
    """True for None, "" and text made only of whitespace (any Unicode white space, NBSP and U+3000 too)."""
    return text is None or not text.strip()


def check_filter(value: Any, what: str = "filter") -> str | None:
    """The filter to apply, or None when there is none: a blank filter is no filter, everywhere."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParamError(f"{what} must be a string, got {type(value).__name__} {brief(value, 80)}")
    return None if is_blank(value) else value


def check_int_arg(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    """`value` as an int in [lo, hi]: a Python or numpy integer, never a bool, a float or a string."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParamError(f"{name} must be an integer, got {type(value).__name__} {brief(value, 80)}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        bounds = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ParamError(f"{name} must be {bounds}, got {brief(v)}")
    return v


def check_number(value: Any, name: str) -> float:
    """`value` as a finite float: an int or float (numpy ones too), never a bool or a string."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParamError(f"{name} must be a number, got {type(value).__name__} {brief(value, 80)}")
    try:
        v = float(value)
    except OverflowError:
        raise ParamError(f"{name} {brief(value, 80)} is out of the float range") from None
    if not math.isfinite(v):
        raise ParamError(f"{name} must be a finite number, got {v}")
    return v


def check_search_window(limit: Any, offset: Any) -> tuple[int, int]:
    """Milvus's topk rules: limit in [1, 16384], offset >= 0, limit + offset <= 16384."""
    lim = check_int_arg(limit, "limit", 1, MAX_TOPK)
    off = check_int_arg(offset, "offset", 0, MAX_TOPK)
    if lim + off > MAX_TOPK:
        raise ParamError(f"limit + offset must be at most {MAX_TOPK}, got {lim} + {off}")
    return lim, off


def check_query_window(limit: Any, offset: Any) -> tuple[int | None, int]:
    """A query's limit (None: no limit; else >= 1, as in Milvus) and offset (>= 0).

    Unlike Milvus, limit + offset may pass 16384 (Milvus's maxQueryResultWindow): the
    workbench pages through whole collections with query(offset=...).
    """
    off = 0 if offset is None else check_int_arg(offset, "offset", 0, INT64_MAX)
    return (None if limit is None else check_int_arg(limit, "limit", 1, INT64_MAX)), off


def check_iterator_limit(limit: Any) -> int | None:
    """An iterator's total limit: None or -1 for no limit (pymilvus's convention), else >= 0."""
    if limit is None:
        return None
    v = check_int_arg(limit, "limit", -1)
    return None if v == -1 else v


def check_batch_size(batch_size: Any) -> int:
    """An iterator's page size: 1 to 16384, as pymilvus allows."""
    return check_int_arg(batch_size, "batch_size", 1, MAX_BATCH_SIZE)


def check_group_size(group_size: Any) -> int:
    """Milvus's rule: 1 to 10 (maxGroupSize) hits per group; None means 1."""
    return 1 if group_size is None else check_int_arg(group_size, "group_size", 1, MAX_GROUP_SIZE)


def check_round_decimal(value: Any) -> int:
    """pymilvus's rule: -1 (no rounding; also None) or 0..6 decimal places."""
    return -1 if value is None else check_int_arg(value, "round_decimal", -1, 6)


def check_search_params(params: dict[str, Any], metric: str, *, sparse: bool = False) -> dict[str, Any]:
    """Check the index parameters of a search (`ef`, `nprobe`, `radius`, `range_filter`) for any data.

    The same rules hold whether rows are sealed and indexed or still growing (searched exactly),
    so a search is refused or accepted the same way before and after a flush.
    """
    known = SPARSE_SEARCH_PARAMS if sparse else SEARCH_PARAMS
    unknown = sorted(str(k) for k in params if k not in known)
    if unknown:  # a typo (`nprob`) would otherwise do nothing
        raise ParamError(f"search_params: unknown parameter(s) {unknown}; a search takes {sorted(known)} "
                         "(inside or beside 'params') and metric_type, offset, round_decimal, ignore_growing, "
                         "group_by_field, group_size, strict_group_size")
    check_int(params, "ef", None, 1, INT32_MAX)
    check_int(params, "nprobe", None, 1, MAX_NLIST)
    ratio = params.get("retrieval_ann_ratio")
    if ratio is not None:
        if isinstance(ratio, str) and re.fullmatch(r"[0-9]+(\.[0-9]*)?", ratio.strip()):
            ratio = float(ratio)
        if check_number(ratio, "retrieval_ann_ratio") <= 0:
            raise ParamError(f"retrieval_ann_ratio must be a positive number, got {brief(ratio)}")
    radius = params.get("radius")
    range_filter = params.get("range_filter")
    if radius is None:
        if range_filter is not None:
            raise ParamError(f"range_filter={brief(range_filter)} needs radius= (range search)")
        return params
    r = check_number(radius, "radius")
    if range_filter is not None:
        rf = check_number(range_filter, "range_filter")
        if larger_is_closer(metric) and rf <= r:
            raise ParamError(f"range_filter ({rf}) must be greater than radius ({r}) for {metric}")
        if not larger_is_closer(metric) and rf >= r:
            raise ParamError(f"range_filter ({rf}) must be less than radius ({r}) for {metric}")
    return params


def check_pks(schema: CollectionSchema, ids: Any, what: str = "ids") -> list[Any]:
    """The primary keys in `ids` (one key or a list), each of the primary key's exact type.

    INT64 keys are ints (numpy integers too; not bools, floats or strings) within int64;
    VARCHAR keys are strings. The same keys then match sealed and growing rows alike.
    """
    keys: Sequence[Any] = ids if isinstance(ids, list) else [ids]
    pk = schema.primary_field
    out: list[Any] = []
    for k in keys:
        if pk.dtype == DataType.VARCHAR:
            if not isinstance(k, str):
                raise ParamError(f"{what}: {brief(k, 80)} is not a VARCHAR primary key of field {pk.name!r} (a str)")
            out.append(k)
            continue
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise ParamError(f"{what}: {brief(k, 80)} is not an INT64 primary key of field {pk.name!r} (an int)")
        v = int(k)
        if not INT64_MIN <= v <= INT64_MAX:
            raise ParamError(f"{what}: {brief(v)} is out of the INT64 range of primary key {pk.name!r}")
        out.append(v)
    return out


def check_consistency(level: Any) -> str:
    """A consistency level by name or number (0..4), as its name."""
    if isinstance(level, str) and level in CONSISTENCY_LEVELS:
        return level
    if isinstance(level, (int, np.integer)) and not isinstance(level, bool) and int(level) in CONSISTENCY_LEVELS.values():
        return next(k for k, v in CONSISTENCY_LEVELS.items() if v == int(level))
    raise ParamError(f"consistency_level {brief(level, 80)} is not one of {sorted(CONSISTENCY_LEVELS)}")


def check_output_fields(output_fields: Any) -> list[str] | None:
    """None or a list of strings (a bare string is refused: it would be read letter by letter)."""
    if output_fields is None:
        return None
    if isinstance(output_fields, (str, bytes)) or not isinstance(output_fields, (list, tuple)):
        raise ParamError(f"output_fields must be a list of field names, got {type(output_fields).__name__}")
    for f in output_fields:
        if not isinstance(f, str):
            raise ParamError(f"output_fields: {brief(f, 80)} is not a field name (a str)")
    return list(output_fields)


def check_partition_names(names: Any) -> list[str] | None:
    """None or a list of partition names (strings)."""
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise ParamError(f"partition_names must be a list of names, got {type(names).__name__} {brief(names, 80)}")
    for n in names:
        if not isinstance(n, str):
            raise ParamError(f"partition_names: {brief(n, 80)} is not a partition name (a str)")
    return list(names)


def check_filter_params(params: Any) -> dict[str, Any] | None:
    if params is None:
        return None
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ParamError(f"filter_params must be a dict of placeholder names to values, got {brief(params, 80)}")
    return params


def check_lookup_name(name: Any, what: str) -> str:
    """A name to look up (collection, partition, index): a non-empty, valid Unicode string.

    Lookups do not apply the naming rules: a name that breaks them simply names nothing.
    """
    if not isinstance(name, str) or not name:
        raise ParamError(f"{what} must be a non-empty string, got {type(name).__name__} {brief(name, 80)}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ParamError(f"{what} {brief(name, 80)} is not valid Unicode (it holds a lone surrogate)") from None
    return name


def index_target(schema: CollectionSchema, field_name: str) -> tuple[FieldSchema, bool]:
    """The field an index is on, and whether it is a struct sub-field (`struct[sub]`)."""
    if "[" in field_name:
        top, sub = schema.resolve_vector_path(field_name)
        assert sub is not None
        return sub, True
    f = schema.field(field_name)
    if f is None:
        raise ParamError(f"cannot index {field_name!r}: no such field (fields: {schema.field_names})")
    return f, False


def validate_index_params(schema: CollectionSchema, index_params: Any) -> list[IndexParam]:
    """Check every index of `index_params` against `schema` (types, names, metrics, build parameters)."""
    if not isinstance(index_params, IndexParams):
        raise ParamError(f"index_params must come from prepare_index_params(), got {type(index_params).__name__}")
    fields: set[str] = set()
    names: set[str] = set()
    out = list(index_params)
    for ip in out:
        for attr in ("index_type", "index_name"):
            if not isinstance(getattr(ip, attr), str):
                raise ParamError(f"index on {ip.field_name!r}: {attr} must be a string, got {brief(getattr(ip, attr), 80)}")
        if ip.metric_type is not None and not isinstance(ip.metric_type, str):
            raise ParamError(f"index on {ip.field_name!r}: metric_type must be a string, got {brief(ip.metric_type, 80)}")
        if ip.index_name and ip.index_name != ip.field_name:  # the default name is the field path: "chunks[e]"
            check_name(ip.index_name, "index name")
        _check_build_params(ip)
        name = ip.index_name or ip.field_name
        if ip.field_name in fields or name in names:
            raise ParamError(f"index_params holds two indexes on {ip.field_name!r} (or named {name!r}); give one")
        fields.add(ip.field_name)
        names.add(name)
        index_type = (ip.index_type or "AUTOINDEX").upper()
        target, is_sub = index_target(schema, ip.field_name)
        if target.is_sparse:
            check_sparse_index_params(index_type, sparse_index_metric(schema, target, ip.metric_type), ip.params)
        elif target.is_vector:
            metric = check_metric(ip.field_name, target, ip.metric_type, None, is_sub)
            create_index(index_type, metric, ip.params, maxsim=is_sub)  # validates type and params
            binary_auto = index_type == "AUTOINDEX" and target.dtype == DataType.BINARY_VECTOR
            check_build_params(ip.field_name, "BIN_FLAT" if binary_auto else index_type, ip.params)
        elif target.is_struct_array:
            raise ParamError(f"index {ip.field_name!r} as 'struct[vector_sub_field]'")
        elif index_type not in {t.upper() for t in SCALAR_INDEX_TYPES}:
            raise ParamError(f"index type {ip.index_type} is not a scalar index type ({sorted(SCALAR_INDEX_TYPES - {''})})")
        else:
            check_scalar_index(ip.field_name, index_type, target, is_sub)
            check_typed_scalar_index(ip.field_name, target.dtype.name, index_type)
            check_build_params(ip.field_name, index_type, ip.params)
    return out


def _check_build_params(ip: IndexParam) -> None:
    if not isinstance(ip.params, dict):
        raise ParamError(f"index on {ip.field_name!r}: params must be a dict, got {type(ip.params).__name__}")
    for k in ip.params:
        check_lookup_name(k, f"index on {ip.field_name!r}: parameter name")
    try:
        json.dumps(ip.params, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        raise ParamError(f"index on {ip.field_name!r}: params {brief(ip.params, 120)} cannot be stored: {e}") from None


def guard_open(cls: type) -> type:
    """Class decorator: every public method (static ones and `close` aside) refuses once `close()` ran.

    The instance's `_closed` attribute says whether it was closed; methods added later are covered too.
    """
    for name in dir(cls):
        if name.startswith("_") or name == "close":
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            setattr(cls, name, _refuse_when_closed(attr))
    return cls


def _refuse_when_closed(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise ClientClosedError(f"{method.__name__}: this MilvusClient ({self.uri}) is closed; open a new one")
        return method(self, *args, **kwargs)

    return call


def names_arg(names: Any, what: str) -> list[str]:
    """One name or a list of names (load_partitions and the like) as a list of strings."""
    items: Iterable[Any] = [names] if isinstance(names, str) else names if isinstance(names, (list, tuple)) else [names]
    return [check_lookup_name(n, what) for n in items]
