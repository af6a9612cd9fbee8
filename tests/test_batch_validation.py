"""A batch is validated whole: the error names row and field, and nothing is stored."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.errors import DataError


@pytest.fixture
def coll(client: MilvusClient) -> MilvusClient:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    s.add_field("title", DataType.VARCHAR, max_length=5)
    s.add_field("n8", DataType.INT8, nullable=True)
    s.add_field("score", DataType.FLOAT, default_value=0.5)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=2)
    s.add_field("meta", DataType.JSON, nullable=True)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("t", DataType.VARCHAR, max_length=10)
    st.add_field("e", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("parts", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=2)
    client.create_collection("c", schema=s)
    return client


def good(i: int) -> dict:
    return {"id": i, "vec": [0.1, 0.2, 0.3, 0.4], "title": "ab", "tags": [1], "parts": [{"t": "x", "e": [1.0, 0.0]}]}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"vec": [0.1, 0.2, 0.3]}, "row 1, field 'vec': vector has dimension 3, expected 4"),
        ({"vec": [0.1, math.nan, 0.3, 0.4]}, "row 1, field 'vec': vector contains nan at position 1"),
        ({"vec": np.array([0.1, np.inf, 0.3, 0.4])}, "row 1, field 'vec': vector contains inf"),
        ({"title": "toolong"}, "row 1, field 'title': string of 7 bytes is longer than max_length 5"),
        ({"title": 5}, "row 1, field 'title': expected a string"),
        ({"n8": 300}, "row 1, field 'n8': value 300 is out of range for INT8"),
        ({"n8": 1.5}, "row 1, field 'n8': expected an integer"),
        ({"tags": [1, 2, 3]}, "row 1, field 'tags': 3 elements exceed max_capacity 2"),
        ({"tags": ["a"]}, r"row 1, field 'tags\[0\]': expected an integer"),
        ({"parts": [{"t": "x", "e": [1.0]}]}, r"row 1, field 'parts\[0\].e': vector has dimension 1"),
        ({"parts": [{"t": "x"}]}, r"row 1, field 'parts\[0\].e': missing struct sub-field"),
        ({"parts": [{"t": "x", "e": [1, 0], "z": 1}]}, r"unknown struct sub-field"),
        ({"parts": [{"t": "x", "e": [1, 0]}] * 3}, "3 elements exceed max_capacity 2"),
        ({"meta": {"a": float("nan")}}, "row 1, field 'meta': value is not valid JSON"),
        ({"color": "red"}, "row 1, field 'color': unknown field"),
        ({"id": 0}, "row 1, field 'id': duplicate primary key 0"),
        ({"id": "7"}, "row 1, field 'id': expected an integer"),
    ],
)
def test_bad_row_rejects_whole_batch(coll: MilvusClient, patch: dict, message: str) -> None:
    bad = {**good(1), **patch}
    with pytest.raises(DataError, match=message):
        coll.insert("c", [good(0), bad, good(2)])
    assert coll.query("c", output_fields=["count(*)"])[0]["count(*)"] == 0


def test_missing_required_field(coll: MilvusClient) -> None:
    row = good(0)
    del row["title"]
    with pytest.raises(DataError, match="row 0, field 'title': missing required field"):
        coll.insert("c", [row])


def test_defaults_and_nulls(coll: MilvusClient) -> None:
    coll.insert("c", [good(0)])
    got = coll.get("c", ids=[0], output_fields=["n8", "score", "meta"])
    assert got == [{"id": 0, "n8": None, "score": 0.5, "meta": None}]


def test_inserting_an_existing_primary_key_replaces_the_entity(coll: MilvusClient) -> None:
    """Milvus accepts an insert of a key that exists; the engine keeps one entity per key: the new row
    (what Milvus Lite returns, and what a Milvus server's search finds)."""
    coll.insert("c", [good(0)])
    assert coll.insert("c", [good(5), {**good(0), "title": "new"}]) == {"insert_count": 2, "ids": [5, 0], "cost": 0}
    assert coll.query("c", output_fields=["count(*)"])[0]["count(*)"] == 2
    assert coll.get("c", ids=0, output_fields=["title"]) == [{"id": 0, "title": "new"}]
    with pytest.raises(DataError, match="duplicate primary key 7"):  # a batch that contradicts itself
        coll.insert("c", [good(7), good(7)])
    assert coll.query("c", output_fields=["count(*)"])[0]["count(*)"] == 2


def test_auto_id_rejects_supplied_key(client: MilvusClient) -> None:
    client.create_collection("a", dimension=2, auto_id=True)
    with pytest.raises(DataError, match="primary key is auto_id"):
        client.insert("a", [{"id": 5, "vector": [1, 2]}])
    ids = client.insert("a", [{"vector": [1, 2]}, {"vector": [3, 4]}])["ids"]
    assert ids[0] > 0 and ids[1] == ids[0] + 1
    more = client.insert("a", [{"vector": [1, 2]}])["ids"]
    assert more[0] > ids[1]
