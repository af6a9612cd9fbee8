"""Partition keys: rows routed to partitions by a hash of one field, and searches that skip partitions.

A collection whose schema marks one scalar field `is_partition_key=True` (or names it with
`create_schema(partition_key_field=...)`) is in *partition key mode* (Milvus docs, "Use Partition Key"):

* the key is an INT64 or VARCHAR field, not the primary key, not nullable; one per collection;
* `create_collection(num_partitions=N)` (default 16, at most 1024) creates the partitions
  `_default_0` … `_default_{N-1}` and nothing else; `num_partitions` without a partition key is refused;
* each inserted or upserted row goes to partition `hash(key) % N`, with Milvus 2.x's hashes
  (`typeutil.HashKey2Partitions`: murmur3 of the 8 little-endian bytes of an INT64 key with the top bit
  cleared, CRC-32 of the first 100 bytes of a VARCHAR key), so a key lands in the partition it lands in
  on Milvus 2.4/2.5 (newer servers may route through a routing table instead);
* partitions cannot be created or dropped, loaded or released by name, and `partition_name(s)` is refused
  by insert, upsert, delete, search, hybrid search and query ("not support manually specifying the
  partition names if partition key mode is used");
* a filter that pins the key (`key == v`, `key in [...]`, and `and`/`or` combinations of those) reads
  only the partitions those values hash to (`prune`); any other filter reads them all;
* with the `partitionkey.isolation` property, a search filter must pin exactly one key with `==`
  (`check_isolation_filter`, Milvus's messages).

The routing is applied when a log record is applied (`engine.collection_state`): an insert or upsert of a
partition-key collection is one log record for the whole batch (`ROUTED` in place of a partition name),
so a batch is still written whole or not at all, and every process that replays it splits it the same way.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from engine.errors import MilvusException, ParamError, SchemaError
from engine.expr import compile_filter
from engine.expr.bound import B, BColumn, BCompare, BConst, BIn, BLogic, BNot
from engine.schema import CollectionSchema, FieldSchema
from engine.types import DataType

DEFAULT_NUM_PARTITIONS = 16  # Milvus's common.DefaultPartitionsWithPartitionKey
MAX_PARTITIONS = 1024  # Milvus's rootCoord.maxPartitionNum
ROUTED = "$routed"  # the partition name of a log record whose rows are routed by their key
_NAME_RE = re.compile(r"_default_(\d+)")
_VARCHAR_HASH_BYTES = 100  # Milvus hashes at most this many bytes of a VARCHAR key
MANUAL = "not support manually specifying the partition names if partition key mode is used"


class PartitionKeyModeError(MilvusException):
    """A partition-specific call on a collection in partition key mode (refused as in Milvus)."""


def key_field(schema: CollectionSchema) -> FieldSchema | None:
    return next((f for f in schema.fields if f.is_partition_key), None)


def check_schema(schema: CollectionSchema, hint: str | None) -> None:
    """Milvus's partition key rules; `hint` is `create_schema(partition_key_field=...)`."""
    if hint is not None:
        f = schema.field(hint)
        if f is None or not hint:
            raise SchemaError(f"the specified partition key field {{{hint}}} not exist")
        f.is_partition_key = True
    keys = [f for f in schema.fields if f.is_partition_key]
    if len(keys) > 1:
        raise SchemaError(f"Expected only one partition key field, got {[f.name for f in keys]}")
    for f in schema.fields:
        if f.struct_schema is not None and any(s.is_partition_key for s in f.struct_schema.fields):
            raise SchemaError(f"partition key is not supported for struct field, field name = {f.name}")
    if not keys:
        return
    f = keys[0]
    if f.is_primary:
        raise SchemaError("the partition key field must not be primary field")
    if f.dtype not in (DataType.INT64, DataType.VARCHAR):
        raise SchemaError(f"Partition key field type must be DataType.INT64 or DataType.VARCHAR, "
                          f"field {f.name!r} is {f.dtype.name}")
    if f.nullable:
        raise SchemaError(f"partition key field {f.name!r} cannot be nullable")


def num_partitions_arg(value: Any, schema: CollectionSchema) -> int | None:
    """The number of partitions to create (None without a partition key); Milvus's checks."""
    has_key = key_field(schema) is not None
    if value is None:
        return DEFAULT_NUM_PARTITIONS if has_key else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(f"invalid num_partitions type, got {type(value)}, expected int")
    if value < 1:
        raise ParamError(f"The specified num_partitions should be greater than or equal to 1, got {value}")
    if not has_key:
        raise ParamError("num_partitions should only be specified with partition key field enabled")
    if value > MAX_PARTITIONS:
        raise ParamError(f"partition number ({value}) exceeds max configuration ({MAX_PARTITIONS})")
    return value


def partition_names(n: int) -> list[str]:
    return [f"_default_{i}" for i in range(n)]


def key_partitions(partitions: list[str]) -> list[str]:
    """The routing partitions, in order (`_default_0`, `_default_1`, ...)."""
    found = [(int(m.group(1)), p) for p in partitions if (m := _NAME_RE.fullmatch(p))]
    return [p for _, p in sorted(found)]


# --- hashing (Milvus's typeutil.HashKey2Partitions) ------------------------------------
def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmur3_int64(keys: np.ndarray) -> np.ndarray:
    """Milvus's `Hash32Int64`: murmur3 (x86, 32-bit, seed 0) of each int64's 8 little-endian bytes, top bit
    cleared; vectorised."""
    words = np.ascontiguousarray(keys, dtype="<i8").view("<u4").reshape(-1, 2).astype(np.uint32)
    with np.errstate(over="ignore"):
        h = np.zeros(len(words), dtype=np.uint32)
        for i in range(2):
            k = words[:, i] * np.uint32(0xCC9E2D51)
            k = _rotl(k, 15) * np.uint32(0x1B873593)
            h ^= k
            h = _rotl(h, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        h ^= np.uint32(8)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h & np.uint32(0x7FFFFFFF)  # Milvus's Hash32Bytes keeps 31 bits


def hash_keys(values: list[Any] | np.ndarray, dtype: DataType) -> np.ndarray:
    """The routing hash of each key value."""
    if dtype == DataType.INT64:
        return murmur3_int64(np.asarray(values, dtype=np.int64))
    return np.array([zlib.crc32(str(v).encode("utf-8")[:_VARCHAR_HASH_BYTES]) for v in values], dtype=np.uint32)


def route(schema: CollectionSchema, partitions: list[str], batch: pa.RecordBatch) -> list[tuple[str, np.ndarray]]:
    """(partition, row indices) for each partition that rows of `batch` hash to."""
    f = key_field(schema)
    parts = key_partitions(partitions)
    if f is None or not parts:
        raise MilvusException(f"rows routed by partition key, but the collection has no partition key partitions "
                              f"({partitions})")
    values = batch.column(batch.schema.get_field_index(f.name)).to_pylist()
    slots = hash_keys(values, f.dtype) % np.uint32(len(parts))
    return [(parts[int(s)], np.flatnonzero(slots == s)) for s in np.unique(slots)]


# --- reading: pruning, and the isolation rules -------------------------------------------
def _key_values(node: B, name: str) -> set[Any] | None:
    """The key values a filter can match (None: any value)."""
    if isinstance(node, BCompare) and node.op == "==":
        col = next((s for s in (node.left, node.right) if isinstance(s, BColumn) and s.name == name), None)
        lit = next((s for s in (node.left, node.right) if isinstance(s, BConst)), None)
        return {lit.value} if col is not None and lit is not None else None
    if isinstance(node, BIn) and isinstance(node.value, BColumn) and node.value.name == name:
        return set(node.items)
    if isinstance(node, BLogic):
        found = [_key_values(o, name) for o in node.operands]
        if node.op == "and":
            pinned = [s for s in found if s is not None]
            return set.intersection(*pinned) if pinned else None
        return None if any(s is None for s in found) else set().union(*[s for s in found if s is not None])
    return None


def prune(schema: CollectionSchema, partitions: list[str], expr: str | None,
          params: Mapping[str, Any] | None) -> list[str] | None:
    """The partitions a filter can match in partition key mode (None: all of them)."""
    f = key_field(schema)
    if f is None or not expr or not expr.strip():
        return None
    values = _key_values(compile_filter(expr, schema, params).bound, f.name)
    parts = key_partitions(partitions)
    if values is None or not parts:
        return None
    keys = []
    for v in values:
        if f.dtype == DataType.INT64 and isinstance(v, float) and v.is_integer():
            v = int(v)
        if f.dtype == DataType.INT64 and (isinstance(v, bool) or not isinstance(v, int) or not -(1 << 63) <= v < 1 << 63):
            return None  # a value the key cannot hold: read everything rather than guess
        if f.dtype == DataType.VARCHAR and not isinstance(v, str):
            return None
        keys.append(v)
    if not keys:
        return []  # e.g. `key in []`: no row can match
    slots = sorted({int(s) for s in hash_keys(keys, f.dtype) % np.uint32(len(parts))})
    return [parts[s] for s in slots]


def _isolation(node: B, name: str) -> bool:
    """Whether `node` pins the key with `==` in a way isolation accepts; MilvusException otherwise."""
    if isinstance(node, BCompare):
        on_key = any(isinstance(s, BColumn) and s.name == name for s in (node.left, node.right))
        if on_key and node.op != "==":
            raise MilvusException(f"partition key isolation does not support {_OP_NAMES.get(node.op, node.op)}")
        return on_key
    if isinstance(node, BIn):
        if isinstance(node.value, BColumn) and node.value.name == name:
            raise MilvusException("partition key isolation does not support IN")
        return False
    if isinstance(node, BNot):
        if _isolation(node.operand, name):
            raise MilvusException("partition key isolation does not support NOT")
        return False
    if isinstance(node, BLogic):
        found = [_isolation(o, name) for o in node.operands]
        if node.op == "or" and any(found):
            raise MilvusException("partition key isolation does not support OR")
        if node.op == "and" and sum(found) > 1:
            raise MilvusException("partition key isolation does not support multiple partition keys in one expr")
        return any(found)
    return False


_OP_NAMES = {"!=": "NotEqual", "<": "LessThan", "<=": "LessEqual", ">": "GreaterThan", ">=": "GreaterEqual"}


def check_isolation_filter(schema: CollectionSchema, expr: str | None, params: Mapping[str, Any] | None) -> None:
    """With `partitionkey.isolation`, a search filter must pin exactly one key value with `==`."""
    f = key_field(schema)
    ok = f is not None and bool(expr and expr.strip()) and _isolation(
        compile_filter(str(expr), schema, params).bound, f.name)
    if not ok:
        raise MilvusException("partition key not found in expr or the expr is invalid when validating partition "
                              "key isolation")
