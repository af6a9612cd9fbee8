"""MilvusClient's collection, partition and data calls, with pymilvus's return shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import DataType, LoadState, MilvusClient
from engine.errors import (
    CollectionNotFoundError,
    MilvusException,
    ParamError,
    PartitionNotFoundError,
)


def test_quick_collection_lifecycle(client: MilvusClient) -> None:
    client.create_collection("demo", dimension=3)
    assert client.has_collection("demo") and client.list_collections() == ["demo"]
    desc = client.describe_collection("demo")
    assert desc["collection_name"] == "demo" and desc["enable_dynamic_field"] is True
    assert [f["name"] for f in desc["fields"]] == ["id", "vector"]
    assert desc["fields"][1]["type"] == DataType.FLOAT_VECTOR and desc["fields"][1]["params"]["dim"] == 3
    assert client.get_load_state("demo")["state"] == LoadState.Loaded
    assert client.list_indexes("demo") == ["vector"]
    idx = client.describe_index("demo", "vector")
    assert idx["metric_type"] == "COSINE" and idx["index_type"] == "AUTOINDEX"
    client.release_collection("demo")
    assert client.get_load_state("demo")["state"] == LoadState.NotLoad
    client.rename_collection("demo", "demo2")
    assert client.list_collections() == ["demo2"]
    client.drop_collection("demo2")
    assert not client.has_collection("demo2")
    assert client.get_load_state("demo2")["state"] == LoadState.NotExist
    with pytest.raises(CollectionNotFoundError, match="'demo2' does not exist"):
        client.insert("demo2", [{"id": 1, "vector": [1, 2, 3]}])


def test_duplicate_and_bad_collection_names(client: MilvusClient) -> None:
    client.create_collection("a", dimension=2)
    with pytest.raises(MilvusException, match="already exists"):
        client.create_collection("a", dimension=2)
    with pytest.raises(ParamError, match="invalid"):
        client.create_collection("bad name", dimension=2)


def test_partitions(client: MilvusClient) -> None:
    client.create_collection("p", dimension=2)
    assert client.list_partitions("p") == ["_default"]
    client.create_partition("p", "red")
    assert client.has_partition("p", "red") and client.list_partitions("p") == ["_default", "red"]
    client.insert("p", [{"id": 1, "vector": [1, 0]}], partition_name="red")
    client.insert("p", [{"id": 2, "vector": [0, 1]}])
    assert [r["id"] for r in client.query("p", filter="id > 0", partition_names=["red"], output_fields=["id"])] == [1]
    hits = client.search("p", data=[[1, 0]], limit=5, partition_names=["_default"])
    assert [h["id"] for h in hits[0]] == [2]
    with pytest.raises(PartitionNotFoundError, match="'blue'"):
        client.insert("p", [{"id": 3, "vector": [0, 1]}], partition_name="blue")
    with pytest.raises(MilvusException, match="cannot be dropped"):
        client.drop_partition("p", "_default")
    client.drop_partition("p", "red")
    assert client.list_partitions("p") == ["_default"]
    assert client.get_collection_stats("p") == {"row_count": 1}


def test_query_shapes_and_dynamic_fields(client: MilvusClient) -> None:
    client.create_collection("q", dimension=2)
    client.insert("q", [{"id": i, "vector": [i, 1], "color": ["red", "blue"][i % 2], "n": i} for i in range(6)])
    assert client.query("q", filter="", output_fields=["count(*)"]) == [{"count(*)": 6}]
    rows = client.query("q", filter="id < 2", output_fields=["color"])
    assert rows == [{"id": 0, "color": "red"}, {"id": 1, "color": "blue"}]
    star = client.query("q", filter="id == 3", output_fields=["*"])
    assert star == [{"id": 3, "vector": [3.0, 1.0], "color": "blue", "n": 3}]
    assert client.query("q", limit=2, offset=3, output_fields=["id"]) == [{"id": 3}, {"id": 4}]
    assert client.get("q", ids=[5, 99], output_fields=["n"]) == [{"id": 5, "n": 5}]
    with pytest.raises(ParamError, match="needs a filter, ids or a limit"):
        client.query("q")
    it = client.query_iterator("q", batch_size=4, filter="id >= 0", output_fields=["id"])
    pages = []
    while page := it.next():
        pages.append([r["id"] for r in page])
    assert pages == [[0, 1, 2, 3], [4, 5]]


def test_delete_by_ids_and_filter(client: MilvusClient) -> None:
    client.create_collection("d", dimension=2)
    client.insert("d", [{"id": i, "vector": [1, i]} for i in range(10)])
    assert client.delete("d", ids=[1, 2, 42]) == {"delete_count": 2, "cost": 0}
    client.flush("d")
    assert client.delete("d", filter="id >= 8") == {"delete_count": 2, "cost": 0}
    ids = sorted(r["id"] for r in client.query("d", filter="id >= 0", output_fields=["id"]))
    assert ids == [0, 3, 4, 5, 6, 7]
    hits = client.search("d", data=[[1, 9]], limit=10)
    assert sorted(h["id"] for h in hits[0]) == ids


def test_struct_output_fields(client: MilvusClient) -> None:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=8)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=50)
    st.add_field("page", DataType.INT32)
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("pages", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=4)
    client.create_collection("docs", schema=s)
    client.insert("docs", [{"id": "a", "pages": [{"text": "x", "page": 1, "emb": [1, 0]}, {"text": "y", "page": 2, "emb": [0, 1]}]}])
    assert client.get("docs", ids="a", output_fields=["pages[text]"]) == [
        {"id": "a", "pages": [{"text": "x"}, {"text": "y"}]}
    ]
    full = client.get("docs", ids=["a"])[0]["pages"]
    assert full[1] == {"text": "y", "page": 2, "emb": [0.0, 1.0]}


def test_reopen_keeps_everything(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    c.create_collection("r", dimension=2)
    c.create_partition("r", "p1")
    c.insert("r", [{"id": i, "vector": [i, 1]} for i in range(5)])
    c.flush("r")
    c.insert("r", [{"id": 10, "vector": [1, 1]}], partition_name="p1")
    c.delete("r", ids=[0])
    c.close()
    c = MilvusClient(str(db_path))
    assert c.list_partitions("r") == ["_default", "p1"]
    assert sorted(r["id"] for r in c.query("r", filter="id >= 0", output_fields=["id"])) == [1, 2, 3, 4, 10]
    c.close()


def test_server_uri_is_refused() -> None:
    with pytest.raises(ParamError, match="server address"):
        MilvusClient("http://localhost:19530")


def test_vectors_as_numpy(client: MilvusClient) -> None:
    client.create_collection("np", dimension=3)
    vecs = np.eye(3, dtype=np.float32)
    client.insert("np", [{"id": i, "vector": vecs[i]} for i in range(3)])
    hits = client.search("np", data=vecs[1:2], limit=1)
    assert hits[0][0]["id"] == 1 and hits[0][0].distance == pytest.approx(1.0)
