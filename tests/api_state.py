"""Helpers of the API validation and fuzz tests: a collection with sealed and growing rows, and a
fingerprint of everything a client can observe, to check that a refused call changed nothing."""

from __future__ import annotations

import hashlib
from typing import Any

from engine import DataType, MilvusClient

N_SEALED = 12
N_GROWING = 8


def rows(start: int, n: int, pk: str = "int") -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        out.append({
            "id": i if pk == "int" else f"k{i}",
            "vector": [1.0 + i % 5, 0.5, (i % 3) * 0.25, 0.1 * i],
            "label": f"label {i % 4}",
            "score": i / 4,
            "meta": {"n": i, "tags": ["a", "b"][: i % 3]},
            "extra": i % 2,  # dynamic field
        })
    return out


def make_collection(client: MilvusClient, name: str, pk: str = "int", metric: str = "IP") -> None:
    """`name`: INT64 (or VARCHAR) key, 4-d vector with an HNSW index, VARCHAR, FLOAT and JSON fields, a dynamic
    field, a partition `p1`; N_SEALED rows flushed (indexed) and N_GROWING growing rows, a few in `p1`."""
    schema = client.create_schema(enable_dynamic_field=True)
    if pk == "int":
        schema.add_field("id", DataType.INT64, is_primary=True)
    else:
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("label", DataType.VARCHAR, max_length=32, nullable=True)
    schema.add_field("score", DataType.FLOAT)
    schema.add_field("meta", DataType.JSON, nullable=True)
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type=metric, params={"M": 8, "efConstruction": 32})
    client.create_collection(name, schema=schema, index_params=ip)
    client.create_partition(name, "p1")
    client.insert(name, rows(0, N_SEALED, pk))
    client.flush(name)
    client.insert(name, rows(N_SEALED, N_GROWING - 2, pk))
    client.insert(name, rows(N_SEALED + N_GROWING - 2, 2, pk), partition_name="p1")


# Index build progress depends on how rows lie in segments (a flush or a partition drop seals them), not on data.
_LAYOUT = {"total_rows", "indexed_rows", "pending_index_rows", "state"}


def fingerprint(client: MilvusClient) -> str:
    """A digest of every collection's schema, properties, partitions, indexes and rows (per partition)."""
    state: list[Any] = []
    for name in sorted(client.list_collections()):
        desc = client.describe_collection(name)
        parts = client.list_partitions(name)
        indexes = [{k: v for k, v in client.describe_index(name, i).items() if k not in _LAYOUT}
                   for i in sorted(client.list_indexes(name))]
        data = []
        for p in parts:
            got = client.query(name, output_fields=["*"], limit=1_000_000, partition_names=[p])
            data.append((p, sorted(repr(sorted(r.items())) for r in got)))
        state.append((name, desc["fields"], desc["properties"], desc["enable_dynamic_field"], parts, indexes, data))
    return hashlib.sha256(repr(state).encode("utf-8", "backslashreplace")).hexdigest()


def count(client: MilvusClient, name: str) -> int:
    return int(client.query(name, output_fields=["count(*)"])[0]["count(*)"])
