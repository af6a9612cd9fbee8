"""`add_collection_field`, from the Milvus documentation ("Add Fields to an Existing Collection"): a nullable
scalar field is added to a collection that holds rows; the rows stored before it read as its default value
or null; new rows may carry it; filters, output fields and describe_collection see it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import ParamError, SchemaError, UnsupportedError

ROOT = Path(__file__).resolve().parent.parent


def filled(c: MilvusClient) -> None:
    c.create_collection("c", dimension=2, properties={"engine.seal_rows": 4})
    c.insert("c", [{"id": i, "vector": [1.0, float(i)]} for i in range(6)])  # a sealed segment and growing rows
    c.flush("c")
    c.insert("c", [{"id": 6, "vector": [1.0, 6.0]}])  # and a growing row


def by_id(rows: list[dict], key: str) -> dict:
    return {r["id"]: r.get(key) for r in rows}


def test_old_rows_read_null_and_new_rows_carry_the_field(client: MilvusClient) -> None:
    filled(client)
    client.add_collection_field("c", "extra", DataType.INT64, nullable=True)
    f = client.describe_collection("c")["fields"][-1]
    assert f["name"] == "extra" and f["type"] == DataType.INT64 and f["nullable"] is True
    client.insert("c", [{"id": 10, "vector": [0.0, 1.0], "extra": 7}])
    got = by_id(client.query("c", filter="id >= 0", output_fields=["extra"]), "extra")
    assert got == {**{i: None for i in range(7)}, 10: 7}
    assert [r["id"] for r in client.query("c", filter="extra == 7")] == [10]
    assert len(client.query("c", filter="extra is null")) == 7
    hits = client.search("c", [[0.0, 1.0]], limit=1, output_fields=["extra"])
    assert hits[0][0]["id"] == 10 and hits[0][0]["entity"]["extra"] == 7
    client.compact("c")  # merged segments store the column; the values stay
    assert by_id(client.query("c", filter="id >= 0", output_fields=["extra"]), "extra")[10] == 7


def test_a_default_value_is_what_old_rows_read(client: MilvusClient) -> None:
    filled(client)
    client.add_collection_field("c", "status", DataType.VARCHAR, max_length=16, nullable=True, default_value="active")
    client.insert("c", [{"id": 20, "vector": [0.0, 1.0]}, {"id": 21, "vector": [0.0, 1.0], "status": "gone"}])
    got = by_id(client.query("c", filter="id >= 0", output_fields=["status"]), "status")
    assert got == {**{i: "active" for i in range(7)}, 20: "active", 21: "gone"}
    assert len(client.query("c", filter='status == "active"')) == 8
    client.compact("c")
    assert by_id(client.query("c", filter="id >= 0", output_fields=["status"]), "status")[3] == "active"


@pytest.mark.parametrize("kwargs, error", [
    ({"data_type": DataType.INT64}, SchemaError),  # not nullable
    ({"data_type": DataType.INT64, "default_value": 5}, SchemaError),
    ({"data_type": DataType.FLOAT_VECTOR, "dim": 2, "nullable": True}, UnsupportedError),
    ({"data_type": DataType.FLOAT_VECTOR, "dim": 2}, ParamError),  # pymilvus's own check
    ({"data_type": DataType.INT64, "nullable": True, "is_primary": True}, SchemaError),
    ({"data_type": DataType.INT64, "nullable": True, "is_partition_key": True}, SchemaError),
    ({"data_type": DataType.VARCHAR, "nullable": True}, SchemaError),  # no max_length
    ({"data_type": DataType.INT8, "nullable": True, "default_value": 300}, SchemaError),
])
def test_what_cannot_be_added_is_refused_and_changes_nothing(client: MilvusClient, kwargs: dict,
                                                            error: type[Exception]) -> None:
    filled(client)
    before = client.describe_collection("c")
    with pytest.raises(error):
        client.add_collection_field("c", "new_field", **kwargs)
    assert client.describe_collection("c") == before


def test_names_are_checked(client: MilvusClient) -> None:
    filled(client)
    with pytest.raises(SchemaError, match="already exists"):
        client.add_collection_field("c", "vector", DataType.INT64, nullable=True)
    with pytest.raises(SchemaError):
        client.add_collection_field("c", "1bad", DataType.INT64, nullable=True)
    with pytest.raises(SchemaError):
        client.add_collection_field("c", "$meta", DataType.INT64, nullable=True)


def test_a_static_field_masks_a_dynamic_key_of_the_same_name(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2)  # dynamic field on
    client.insert("c", [{"id": 1, "vector": [1.0, 0.0], "color": "red"}])
    client.add_collection_field("c", "color", DataType.VARCHAR, max_length=8, nullable=True)
    client.insert("c", [{"id": 2, "vector": [1.0, 0.0], "color": "blue"}])
    assert by_id(client.query("c", filter="id > 0", output_fields=["color"]), "color") == {1: None, 2: "blue"}


def test_another_process_picks_up_the_new_field(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    filled(c)
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        print(len(c.query("c", filter="id >= 0")), flush=True)
        input()
        c.insert("c", [{{"id": 30, "vector": [1.0, 0.0], "score": 0.5}}])
        print(c.query("c", filter="score > 0", output_fields=["score"]), flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.stdout is not None and p.stdin is not None
    assert p.stdout.readline().strip() == "7"  # the child opened the collection with the old schema
    c.add_collection_field("c", "score", DataType.FLOAT, nullable=True)
    p.stdin.write("\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "[{'id': 30, 'score': 0.5}]"
    assert p.wait(60) == 0
    assert by_id(c.query("c", filter="id >= 0", output_fields=["score"]), "score")[30] == 0.5
    c.close()


def test_a_kill_before_the_commit_leaves_the_schema_as_it_was(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    filled(c)
    db = c.db
    c.close()
    db.close()
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from engine import DataType, MilvusClient
        c = MilvusClient({str(db_path)!r})
        c.add_collection_field("c", "extra", DataType.INT64, nullable=True)
    """)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "VECTOR_WORKBENCH_FAULT": "catalog.precommit:1"})
    assert out.returncode == -9, out.stderr
    with MilvusClient(str(db_path)) as c2:
        assert [f["name"] for f in c2.describe_collection("c")["fields"]] == ["id", "vector"]
        c2.add_collection_field("c", "extra", DataType.INT64, nullable=True)
        assert len(c2.query("c", filter="extra is null")) == 7


def test_enabling_the_dynamic_field_later(client: MilvusClient) -> None:
    s = client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("c", schema=s)
    client.insert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    with pytest.raises(ParamError):
        client.insert("c", [{"id": 2, "vector": [1.0, 0.0], "color": "red"}])
    client.alter_collection_properties("c", {"dynamicfield.enabled": True})
    assert client.describe_collection("c")["enable_dynamic_field"] is True
    client.insert("c", [{"id": 2, "vector": [1.0, 0.0], "color": "red"}])
    assert [r["id"] for r in client.query("c", filter='color == "red"')] == [2]
    assert client.query("c", filter="id == 1", output_fields=["*"]) == [{"id": 1, "vector": [1.0, 0.0]}]
    with pytest.raises(UnsupportedError):
        client.alter_collection_properties("c", {"dynamicfield.enabled": False})
    with pytest.raises(ParamError, match="at the same time"):
        client.alter_collection_properties("c", {"dynamicfield.enabled": True, "a": 1})
    with pytest.raises(ParamError, match="cannot delete key dynamicfield.enabled"):
        client.drop_collection_properties("c", ["dynamicfield.enabled"])
