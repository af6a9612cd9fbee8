"""Partition keys, from the Milvus documentation ("Use Partition Key") and Milvus's own test suite
(test_milvus_client_partition_key.py: the rules and messages): rows routed by a hash of the key,
partitions hidden from writes and reads, filters on the key reading only the partitions they can match."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.collection_state import Snapshot
from engine.errors import MilvusException, ParamError, SchemaError
from engine.partition_keys import hash_keys, murmur3_int64, prune

ROOT = Path(__file__).resolve().parent.parent
TENANTS = [f"tenant_{i}" for i in range(12)]


def schema(c: MilvusClient, key_type: DataType = DataType.VARCHAR, via_schema: bool = False, keyed: bool = True):
    s = c.create_schema(partition_key_field="key" if via_schema else None)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=3)
    extra = {"max_length": 32} if key_type == DataType.VARCHAR else {}
    s.add_field("key", key_type, is_partition_key=keyed and not via_schema, **extra)
    s.add_field("n", DataType.INT64)
    return s


def data(n: int = 240, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": i, "vec": [rng.random(), rng.random(), rng.random()], "key": TENANTS[i % len(TENANTS)],
             "n": i % 7} for i in range(n)]


def keyed(c: MilvusClient, name: str = "c", **kwargs) -> None:
    c.create_collection(name, schema=schema(c), **kwargs)


# --- reference hashes ------------------------------------------------------------------------
def murmur3_32(data: bytes, seed: int = 0) -> int:
    """The murmur3 x86 32-bit reference algorithm, byte by byte."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[n:]
    k = 0
    for i, b in enumerate(tail):
        k |= b << (8 * i)
    if tail:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


def test_the_reference_murmur3_matches_published_vectors() -> None:
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"\x00\x00\x00\x00") == 0x2362F9DE
    assert murmur3_32(b"\xff\xff\xff\xff") == 0x76293B50
    assert murmur3_32(b"", 1) == 0x514E28B7


def test_routing_hashes_are_milvus_hash32int64_and_crc32() -> None:
    rng = np.random.default_rng(0)
    keys = np.concatenate([rng.integers(-(2**63), 2**63 - 1, 2000, dtype=np.int64), [0, -1, 2**63 - 1, -(2**63)]])
    expect = [murmur3_32(int(k).to_bytes(8, "little", signed=True)) & 0x7FFFFFFF for k in keys]
    assert murmur3_int64(keys).tolist() == expect
    long = "é" * 80  # 160 bytes: Milvus hashes the first 100
    assert hash_keys(["a", long], DataType.VARCHAR).tolist() == [zlib.crc32(b"a"),
                                                                 zlib.crc32(long.encode()[:100])]


# --- creating ----------------------------------------------------------------------------------
def test_partitions_are_created_with_the_collection(client: MilvusClient) -> None:
    keyed(client, "default16")
    assert client.list_partitions("default16") == [f"_default_{i}" for i in range(16)]
    keyed(client, "nine", num_partitions=9)
    assert client.list_partitions("nine") == [f"_default_{i}" for i in range(9)]
    desc = client.describe_collection("nine")
    assert desc["num_partitions"] == 9 and [f["name"] for f in desc["fields"] if f.get("is_partition_key")] == ["key"]
    client.create_collection("via_schema", schema=schema(client, via_schema=True), num_partitions=1)
    assert client.list_partitions("via_schema") == ["_default_0"]
    assert client.describe_collection("via_schema")["fields"][2]["is_partition_key"] is True


@pytest.mark.parametrize("value, match", [(0, "greater than or equal to 1"), (-3, "greater than or equal to 1"),
                                          (1025, r"partition number \(1025\) exceeds max configuration \(1024\)"),
                                          (True, "invalid num_partitions type"), ("4", "invalid num_partitions type"),
                                          (0.1, "invalid num_partitions type")])
def test_num_partitions_is_checked(client: MilvusClient, value: object, match: str) -> None:
    with pytest.raises(ParamError, match=match):
        keyed(client, num_partitions=value)
    assert client.list_collections() == []


def test_num_partitions_without_a_partition_key_is_refused(client: MilvusClient) -> None:
    with pytest.raises(ParamError, match="num_partitions should only be specified with partition key field enabled"):
        client.create_collection("c", dimension=2, num_partitions=4)
    assert client.list_collections() == []


def test_the_max_number_of_partitions(client: MilvusClient) -> None:
    keyed(client, num_partitions=1024)
    assert len(client.list_partitions("c")) == 1024
    client.insert("c", data(50))
    assert client.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"] == 50


@pytest.mark.parametrize("build, match", [
    (lambda s: s.add_field("k1", DataType.INT64, is_partition_key=True).add_field("k2", DataType.INT64,
                                                                                is_partition_key=True),
     "Expected only one partition key field"),
    (lambda s: s.add_field("f", DataType.FLOAT, is_partition_key=True), "must be DataType.INT64 or DataType.VARCHAR"),
    (lambda s: s.add_field("b", DataType.BOOL, is_partition_key=True), "must be DataType.INT64 or DataType.VARCHAR"),
    (lambda s: s.add_field("j", DataType.JSON, is_partition_key=True), "must be DataType.INT64 or DataType.VARCHAR"),
])
def test_partition_key_field_rules(client: MilvusClient, build, match: str) -> None:
    s = schema(client, keyed=False)
    build(s)
    with pytest.raises(SchemaError, match=match):
        client.create_collection("c", schema=s)


def test_the_key_cannot_be_the_primary_key_nullable_or_missing(client: MilvusClient) -> None:
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True, is_partition_key=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=3)
    with pytest.raises(SchemaError, match="must not be primary field"):
        client.create_collection("c", schema=s)
    s = client.create_schema(partition_key_field="nope")
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=3)
    with pytest.raises(SchemaError, match=r"the specified partition key field \{nope\} not exist"):
        client.create_collection("c", schema=s)
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=3)
    s.add_field("key", DataType.INT64, is_partition_key=True, nullable=True)
    with pytest.raises(SchemaError, match="cannot be nullable"):
        client.create_collection("c", schema=s)
    with pytest.raises(SchemaError, match="must not be primary field"):  # the quick form's partition_key_field
        client.create_collection("q", dimension=3, partition_key_field="id")
    assert client.list_collections() == []


# --- writing and reading ----------------------------------------------------------------------
@pytest.mark.parametrize("key_type", [DataType.VARCHAR, DataType.INT64])
def test_each_row_lands_in_the_partition_its_key_hashes_to(client: MilvusClient, key_type: DataType) -> None:
    client.create_collection("c", schema=schema(client, key_type), num_partitions=5)
    rows = data(100)
    if key_type == DataType.INT64:
        for r in rows:
            r["key"] = r["id"] * 7919 - 300
    client.insert("c", rows[:60])
    client.flush("c")
    client.insert("c", rows[60:])  # sealed and growing alike
    coll = client._coll("c")
    for seg in coll.snapshot.segments:
        keys = seg.data.table.column("key").to_pylist()
        slots = hash_keys(keys, key_type) % 5
        assert {f"_default_{int(s)}" for s in slots} == {seg.partition}
    assert sum(s.live_rows for s in coll.snapshot.segments) == 100


def test_upsert_moves_a_row_whose_key_changed(client: MilvusClient) -> None:
    keyed(client, num_partitions=16)
    client.insert("c", [{"id": 1, "vec": [1, 0, 0], "key": "tenant_0", "n": 0}])
    client.upsert("c", [{"id": 1, "vec": [1, 0, 0], "key": "tenant_5", "n": 1}])
    assert client.query("c", filter="id == 1", output_fields=["key", "n"]) == [{"id": 1, "key": "tenant_5", "n": 1}]
    assert client.query("c", filter='key == "tenant_0"') == []


def test_partition_names_are_refused_as_in_milvus(client: MilvusClient) -> None:
    keyed(client)
    client.insert("c", data(20))
    p0 = client.list_partitions("c")[0]
    manual = "not support manually specifying the partition names if partition key mode is used"
    for call in (lambda: client.insert("c", data(1), partition_name=p0),
                 lambda: client.upsert("c", data(1), partition_name=p0),
                 lambda: client.delete("c", filter="id in [1, 2]", partition_name=p0),
                 lambda: client.search("c", [[1, 0, 0]], limit=3, partition_names=[p0]),
                 lambda: client.query("c", filter="id >= 0", partition_names=[p0]),
                 lambda: client.get("c", [1], partition_names=[p0])):
        with pytest.raises(MilvusException, match=manual):
            call()
    for call, what in ((lambda: client.create_partition("c", "p1"), "create partition"),
                       (lambda: client.drop_partition("c", p0), "drop partition"),
                       (lambda: client.load_partitions("c", [p0]), "load partitions"),
                       (lambda: client.release_partitions("c", [p0]), "release partitions")):
        with pytest.raises(MilvusException, match=f"disable {what} if partition key mode is used"):
            call()
    assert client.has_partition("c", p0) and client.get_load_state("c", partition_name=p0)["state"]
    assert client.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"] == 20


def test_filters_on_the_key_read_only_the_partitions_they_can_match(client: MilvusClient,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    keyed(client, num_partitions=16)
    client.insert("c", data(240))
    client.flush("c")
    read: list[set[str] | None] = []
    original = Snapshot.select

    def spy(self: Snapshot, partitions):
        read.append(None if partitions is None else set(partitions))
        return original(self, partitions)

    monkeypatch.setattr(Snapshot, "select", spy)
    coll = client._coll("c")
    one = prune(coll.schema, coll.partitions(), 'key == "tenant_3"', None)
    assert one is not None and len(one) == 1
    hits = client.search("c", [[0.5, 0.5, 0.5]], limit=30, filter='key == "tenant_3"', output_fields=["key"])
    assert read[-1] == set(one) and len(hits[0]) == 20 and {h["entity"]["key"] for h in hits[0]} == {"tenant_3"}
    rows = client.query("c", filter='key in ["tenant_1", "tenant_2"] and n > 2', output_fields=["key"])
    assert read[-1] is not None and len(read[-1]) <= 2 and {r["key"] for r in rows} == {"tenant_1", "tenant_2"}
    client.query("c", filter='n > 2 or key == "tenant_1"')  # an `or` with another condition reads everything
    assert read[-1] is None
    client.query("c", filter='key == "tenant_1" and key == "tenant_2"')  # no value can match: nothing to read
    assert read[-1] == set()
    client.query("c", filter="key == {k}", filter_params={"k": "tenant_7"})  # templates too
    assert read[-1] is not None and len(read[-1]) == 1


def test_pruning_never_changes_a_result(client: MilvusClient) -> None:
    keyed(client, "keyed", num_partitions=7)
    client.create_collection("plain", schema=schema(client, keyed=False))  # the same rows in one partition
    rows = data(300, seed=3)
    for name in ("keyed", "plain"):
        client.insert(name, rows[:200])
        client.flush(name)
        client.insert(name, rows[200:])
        client.delete(name, ids=list(range(0, 300, 11)))
    rng = random.Random(5)
    for _ in range(40):
        ks = rng.sample(TENANTS + ["nobody"], rng.randint(1, 4))
        flt = rng.choice([f'key == "{ks[0]}"', f"key in {ks}", f'key in {ks} and n != {rng.randint(0, 6)}',
                          f'(key == "{ks[0]}" or key == "{ks[-1]}") and n < 4', f"not (key in {ks})"])
        q = [[rng.random(), rng.random(), rng.random()]]
        a = client.search("keyed", q, limit=15, filter=flt)
        b = client.search("plain", q, limit=15, filter=flt)
        assert [h["id"] for h in a[0]] == [h["id"] for h in b[0]], flt
        assert client.query("keyed", filter=flt, output_fields=["count(*)"]) == \
            client.query("plain", filter=flt, output_fields=["count(*)"]), flt


def test_isolation_demands_one_key_with_equals(client: MilvusClient) -> None:
    keyed(client, properties={"partitionkey.isolation": True})
    client.insert("c", data(48))
    q = [[0.5, 0.5, 0.5]]
    hits = client.search("c", q, limit=5, filter='key == "tenant_1" and n > 0', output_fields=["key"])
    assert hits[0] and {h["entity"]["key"] for h in hits[0]} == {"tenant_1"}
    for flt, msg in (("", "partition key not found in expr"), ("n > 1", "partition key not found in expr"),
                     ('key in ["tenant_1"]', "does not support IN"), ('key != "tenant_1"', "does not support NotEqual"),
                     ('key == "tenant_1" or n > 1', "does not support OR"),
                     ('not (key == "tenant_1")', "does not support NOT")):
        with pytest.raises(MilvusException, match=msg):
            client.search("c", q, limit=5, filter=flt)
    assert len(client.query("c", filter="n > 1")) > 0  # queries are not restricted


def test_a_reader_replays_the_log_to_the_same_partitions(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    keyed(c, num_partitions=6)
    c.insert("c", data(90))  # in the log only (not sealed)
    here = sorted((s.partition, s.live_rows) for s in c._coll("c").snapshot.segments)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        print(sorted((s.partition, s.live_rows) for s in c._coll("c").snapshot.segments))
    """)], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(here) and sum(n for _, n in here) == 90
    c.close()
