"""Collection properties Milvus documents (`alter_collection_properties`, `drop_collection_properties`,
`create_collection(properties=)`): each is honoured, or refused with `UnsupportedError`, never accepted and
ignored; values are reported as text, as Milvus stores them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import MilvusException, ParamError, UnsupportedError


def test_values_are_stored_and_reported_as_text(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 500, "mmap.enabled": True})
    assert client.describe_collection("c")["properties"] == {"collection.ttl.seconds": "500", "mmap.enabled": "True"}
    client.alter_collection_properties("c", {"collection.ttl.seconds": 60, "my.own.key": 3})
    assert client.describe_collection("c")["properties"] == {"collection.ttl.seconds": "60", "mmap.enabled": "True",
                                                             "my.own.key": "3"}
    client.drop_collection_properties("c", ["my.own.key", "not.set"])
    assert "my.own.key" not in client.describe_collection("c")["properties"]


@pytest.mark.parametrize("props", [
    {"allow_insert_auto_id": "true"},
    {"collection.resource_groups": "rg"}, {"collection.insertRate.max.mb": 10}, {"collection.queryRate.max.qps": 5},
    {"collection.diskProtection.diskQuota.mb": 10}, {"lazyload.enabled": True}, {"warmup.vectorIndex": "sync"},
    {"ttl_field": "ts"}, {"cipher.enabled": True},
])
def test_properties_the_engine_cannot_honour_are_refused(client: MilvusClient, props: dict) -> None:
    client.create_collection("c", dimension=2, auto_id=True)
    with pytest.raises(UnsupportedError):
        client.alter_collection_properties("c", props)
    with pytest.raises(UnsupportedError):
        client.create_collection("d", dimension=2, auto_id=True, properties=props)
    assert client.list_collections() == ["c"] and client.describe_collection("c")["properties"] == {}


@pytest.mark.parametrize("props, match", [
    ({"mmap.enabled": "yes"}, "boolean"), ({"collection.autocompaction.enabled": 2}, "boolean"),
    ({"allow_insert_auto_id": True}, "must be false when autoID is false"),
    ({"partitionkey.isolation": True}, "no partition key field is set"),
    ({"collection.replica.number": 0}, "out of range"),
])
def test_bad_values_are_refused(client: MilvusClient, props: dict, match: str) -> None:
    client.create_collection("c", dimension=2)
    with pytest.raises(ParamError, match=match):
        client.alter_collection_properties("c", props)
    assert client.describe_collection("c")["properties"] == {}


def test_what_the_engine_does_anyway_is_accepted(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2, auto_id=True)
    client.alter_collection_properties("c", {"mmap.enabled": "true", "collection.replica.number": 1,
                                             "allow_insert_auto_id": False})
    assert client.describe_collection("c")["properties"]["mmap.enabled"] == "true"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory maps (Linux)")
def test_mmap_enabled_decides_whether_segment_files_are_mapped(client: MilvusClient, db_path: Path) -> None:
    def mapped(name: str) -> bool:
        coll = client._coll(name)
        files = {str(s.path) for s in coll.sealed_segments()}
        assert files
        return any(f in Path("/proc/self/maps").read_text() for f in files)

    for name, props in (("on", {}), ("off", {"mmap.enabled": False})):
        client.create_collection(name, dimension=2, properties=props)
        client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(10)])
        client.flush(name)
        client.release_collection(name)
        client.load_collection(name)
        assert client.query(name, filter="id >= 0", output_fields=["count(*)"]) == [{"count(*)": 10}]
    assert mapped("on") and not mapped("off")
    client.release_collection("off")
    client.alter_collection_properties("off", {"mmap.enabled": True})  # applies at the next load
    client.load_collection("off")
    assert client.query("off", filter="id < 3", output_fields=["count(*)"]) == [{"count(*)": 3}]
    assert mapped("off")


def test_description_and_consistency_level_change_the_collection(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2)
    client.alter_collection_properties("c", {"collection.description": "books", "consistency_level": "Strong"})
    desc = client.describe_collection("c")
    assert desc["description"] == "books" and desc["consistency_level"] == 0 and desc["properties"] == {}
    with pytest.raises(ParamError):
        client.alter_collection_properties("c", {"consistency_level": "Sometimes"})


def test_an_empty_change_is_refused(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2)
    with pytest.raises(ParamError):
        client.alter_collection_properties("c", {})
    with pytest.raises(ParamError):
        client.drop_collection_properties("c", [])


def test_autocompaction_off_stops_background_maintenance(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2, properties={"engine.seal_rows": 10,
                                                           "collection.autocompaction.enabled": False})
    for i in range(5):
        client.insert("c", [{"id": i * 10 + j, "vector": [1.0, float(j)]} for j in range(10)])  # a seal each
    time.sleep(0.5)  # the background maintainer would merge these by now (see the control below)
    segs = client.list_persistent_segments("c")
    assert len(segs) == 5 and {s.level for s in segs} == {"L0"}
    assert client.describe_index("c", "vector")["state"] == "Unissued"
    client.flush("c")  # an explicit flush (or compact, create_index) still maintains
    assert [s.level for s in client.list_persistent_segments("c")] == ["L1"]

    client.create_collection("on", dimension=2, properties={"engine.seal_rows": 10})
    for i in range(5):
        client.insert("on", [{"id": i * 10 + j, "vector": [1.0, float(j)]} for j in range(10)])
    deadline = time.monotonic() + 30
    while {s.level for s in client.list_persistent_segments("on")} != {"L1"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {s.level for s in client.list_persistent_segments("on")} == {"L1"}  # merged in the background


def test_isolation_needs_a_partition_key_and_no_vector_index(client: MilvusClient) -> None:
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("tenant", DataType.VARCHAR, max_length=16, is_partition_key=True)
    client.create_collection("c", schema=s, properties={"partitionkey.isolation": True})
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="L2")
    client.create_index("c", ip)
    with pytest.raises(MilvusException, match="Please drop the index first"):
        client.alter_collection_properties("c", {"partitionkey.isolation": False})
    with pytest.raises(MilvusException, match="Please drop the index first"):
        client.drop_collection_properties("c", ["partitionkey.isolation"])
    client.drop_index("c", "vec")
    client.alter_collection_properties("c", {"partitionkey.isolation": False})
    assert client.describe_collection("c")["properties"]["partitionkey.isolation"] == "False"


def test_the_timezone_property_is_checked_and_kept(client: MilvusClient) -> None:
    """`timezone` is honoured (TIMESTAMPTZ text and output, tests/test_timestamptz.py): an unknown zone is refused."""
    client.create_collection("c", dimension=2, properties={"timezone": "Asia/Shanghai"})
    assert client.describe_collection("c")["properties"]["timezone"] == "Asia/Shanghai"
    with pytest.raises(ParamError, match="Mars/Olympus"):
        client.alter_collection_properties("c", {"timezone": "Mars/Olympus"})
