"""Schema validation follows Milvus's rules, each with an error naming the field."""

from __future__ import annotations

import pytest

from engine import DataType, MilvusClient
from engine.errors import SchemaError
from engine.schema import CollectionSchema


def base_schema(**kw: object) -> CollectionSchema:
    s = MilvusClient.create_schema(**kw)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
    return s


def test_valid_schema_roundtrips_through_dict() -> None:
    s = base_schema(enable_dynamic_field=True, description="d")
    s.add_field("title", DataType.VARCHAR, max_length=64, nullable=True)
    s.add_field("n", DataType.INT32, default_value=7)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=16)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=100)
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=4)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=10)
    s.validate()
    again = CollectionSchema.from_dict(s.to_dict())
    again.validate()
    assert again.to_dict() == s.to_dict()
    assert [p for p, _ in again.vector_fields()] == ["vec", "chunks[emb]"]
    assert s.fields[0].field_id == 100


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.add_field("id2", DataType.INT64, is_primary=True), "exactly one primary key"),
        (lambda s: s.add_field("vec", DataType.INT8), "duplicate field name 'vec'"),
        (lambda s: s.add_field("bad-name", DataType.INT8), "'bad-name' is invalid"),
        (lambda s: s.add_field("1abc", DataType.INT8), "'1abc' is invalid"),
        (lambda s: s.add_field("v2", DataType.FLOAT_VECTOR, dim=1), "dim 1 is out of range"),
        (lambda s: s.add_field("v2", DataType.FLOAT_VECTOR, dim=40000), "dim 40000 is out of range"),
        (lambda s: s.add_field("v2", DataType.FLOAT_VECTOR), "needs dim="),
        (lambda s: s.add_field("b", DataType.BINARY_VECTOR, dim=12), "multiple of 8"),
        (lambda s: s.add_field("t", DataType.VARCHAR), "needs max_length="),
        (lambda s: s.add_field("t", DataType.VARCHAR, max_length=70000), "max_length 70000 is out of range"),
        (lambda s: s.add_field("a", DataType.ARRAY, element_type=DataType.INT64), "needs max_capacity="),
        (lambda s: s.add_field("a", DataType.ARRAY, max_capacity=3), "needs element_type="),
        (lambda s: s.add_field("a", DataType.ARRAY, element_type=DataType.JSON, max_capacity=3), "element_type JSON"),
        (lambda s: s.add_field("n", DataType.INT8, default_value=300), "out of range for INT8"),
        (lambda s: s.add_field("n", DataType.INT8, default_value="x"), "not an integer"),
        (lambda s: s.add_field("v2", DataType.FLOAT_VECTOR, dim=4, nullable=True), "cannot be nullable"),
        (lambda s: s.add_field("m", DataType.INT8, auto_id=True), "auto_id is only allowed on the primary key"),
        (lambda s: s.add_field("$meta", DataType.INT8), "invalid"),
    ],
)
def test_invalid_schemas_name_the_field(mutate: object, message: str) -> None:
    s = base_schema()
    mutate(s)  # type: ignore[operator]
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace("$", r"\$")):
        s.validate()


def test_primary_key_rules() -> None:
    s = MilvusClient.create_schema()
    s.add_field("pk", DataType.FLOAT, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(SchemaError, match="must be INT64 or VARCHAR"):
        s.validate()
    s = MilvusClient.create_schema()
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=10, auto_id=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(SchemaError, match="auto_id is only supported for INT64"):
        s.validate()
    s = MilvusClient.create_schema()
    s.add_field("pk", DataType.INT64)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(SchemaError, match="none is marked is_primary"):
        s.validate()


def test_vector_field_count_includes_struct_vectors() -> None:
    s = base_schema()
    for i in range(8):
        s.add_field(f"v{i}", DataType.FLOAT_VECTOR, dim=4)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("e1", DataType.FLOAT_VECTOR, dim=4)
    st.add_field("e2", DataType.FLOAT_VECTOR, dim=4)
    s.add_field("s", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=3)
    with pytest.raises(SchemaError, match="11 vector fields"):
        s.validate()


def test_no_vector_field_is_refused() -> None:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    with pytest.raises(SchemaError, match="no vector field"):
        s.validate()


@pytest.mark.parametrize(
    ("kwargs", "sub", "message"),
    [
        ({"nullable": True}, None, "cannot be nullable"),
        ({"default_value": []}, None, "cannot have a default value"),
        ({}, ("j", DataType.JSON, {}), "type JSON is not allowed"),
        ({}, ("a", DataType.ARRAY, {"element_type": DataType.INT8, "max_capacity": 2}), "type ARRAY is not allowed"),
        ({}, ("t", DataType.VARCHAR, {}), "needs max_length="),
        ({}, ("b", DataType.BINARY_VECTOR, {"dim": 8}), "BINARY_VECTOR is not allowed"),
    ],
)
def test_struct_array_rules(kwargs: dict, sub: tuple | None, message: str) -> None:
    s = base_schema()
    st = MilvusClient.create_struct_field_schema()
    st.add_field("x", DataType.INT32)
    if sub is not None:
        st.add_field(sub[0], sub[1], **sub[2])
    s.add_field("s", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=5, **kwargs)
    with pytest.raises(SchemaError, match=message):
        s.validate()


def test_struct_needs_struct_schema() -> None:
    s = base_schema()
    s.add_field("s", DataType.ARRAY, element_type=DataType.STRUCT, max_capacity=5)
    with pytest.raises(SchemaError, match="needs struct_schema="):
        s.validate()


def test_unknown_field_parameter_is_refused() -> None:
    s = base_schema()
    with pytest.raises(SchemaError, match="unknown parameter"):
        s.add_field("x", DataType.INT8, dimension=3)


def test_unsupported_types_raise_not_implemented() -> None:
    s = base_schema()
    s.add_field("i8", DataType.INT8_VECTOR, dim=4)
    with pytest.raises(NotImplementedError, match="INT8_VECTOR"):
        s.validate()


def test_sparse_fields_take_no_dim() -> None:
    s = base_schema()
    s.add_field("sp", DataType.SPARSE_FLOAT_VECTOR, dim=8)
    with pytest.raises(SchemaError, match="takes no dim"):
        s.validate()
