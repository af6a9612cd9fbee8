"""Evaluation of filter expressions on a small table with nulls, JSON, arrays and dynamic fields."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from engine.errors import FilterError
from engine.expr import compile_filter
from engine.schema import CollectionSchema
from engine.types import DYNAMIC_FIELD, DataType


def make_schema(dynamic: bool = True) -> CollectionSchema:
    s = CollectionSchema(enable_dynamic_field=dynamic)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("a", DataType.INT64, nullable=True)
    s.add_field("i8", DataType.INT8, nullable=True)
    s.add_field("f", DataType.FLOAT, nullable=True)
    s.add_field("d", DataType.DOUBLE, nullable=True)
    s.add_field("s", DataType.VARCHAR, max_length=100, nullable=True)
    s.add_field("b", DataType.BOOL, nullable=True)
    s.add_field("m", DataType.JSON, nullable=True)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=10, nullable=True)
    s.add_field("ftags", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=10, nullable=True)
    s.add_field(
        "words", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=10, max_length=20, nullable=True
    )
    return s


ROWS: list[dict[str, Any]] = [
    dict(
        id=1,
        a=3,
        i8=1,
        f=0.1,
        d=0.1,
        s="abc",
        b=True,
        m={"x": 1, "y": "a", "arr": [1, 2], "n": None},
        tags=[1, 2, 3],
        ftags=[0.1, 0.5],
        words=["red", "green"],
        dyn={"color": "red", "size": 10},
    ),
    dict(
        id=2,
        a=-7,
        i8=-5,
        f=1.5,
        d=2.5,
        s="a%c",
        b=False,
        m={"x": 2.5, "y": 3, "arr": [[1, 2], 3]},
        tags=[],
        ftags=[],
        words=[],
        dyn={"color": 5},
    ),
    dict(
        id=3,
        a=None,
        i8=None,
        f=None,
        d=None,
        s=None,
        b=None,
        m=None,
        tags=None,
        ftags=None,
        words=None,
        dyn=None,
    ),
    dict(
        id=4,
        a=10,
        i8=127,
        f=-2.0,
        d=-2.0,
        s="x_y",
        b=True,
        m={"x": True, "y": None, "o": {"k": [7]}},
        tags=[5],
        ftags=[2.5],
        words=["blue"],
        dyn={"color": "blue"},
    ),
    dict(
        id=5,
        a=4,
        i8=0,
        f=3.0,
        d=3.0,
        s="",
        b=False,
        m={},
        tags=[4, 4],
        ftags=[1.0],
        words=["red"],
        dyn={"size": 3, "flag": True},
    ),
]


def make_table(schema: CollectionSchema, rows: list[dict[str, Any]]) -> pa.Table:
    arrow = schema.arrow_schema()
    cols: dict[str, pa.Array] = {}
    for fld in arrow:
        vals: list[Any]
        if fld.name == DYNAMIC_FIELD:
            vals = [None if r.get("dyn") is None else json.dumps(r["dyn"]) for r in rows]
        elif fld.name == "vec":
            vals = [[0.0, 0.0] for _ in rows]
        elif fld.name == "m":
            vals = [None if r.get("m") is None else json.dumps(r["m"]) for r in rows]
        else:
            vals = [r.get(fld.name) for r in rows]
        cols[fld.name] = pa.array(vals, type=fld.type)
    return pa.table(cols, schema=arrow)


@pytest.fixture(scope="module")
def schema() -> CollectionSchema:
    return make_schema()


@pytest.fixture(scope="module")
def table(schema: CollectionSchema) -> pa.Table:
    return make_table(schema, ROWS)


def ids(
    expr: str, schema: CollectionSchema, table: pa.Table, params: dict[str, Any] | None = None
) -> list[int]:
    mask = compile_filter(expr, schema, params).evaluate(table)
    assert mask.dtype == np.bool_ and len(mask) == table.num_rows
    return [int(i) for i in table.column("id").to_numpy()[mask]]


CASES = [
    # scalar comparisons, null rows never match
    ("a == 3", [1]),
    ("a != 3", [2, 4, 5]),
    ("not (a == 3)", [2, 4, 5]),
    ("a > 3", [4, 5]),
    ("a >= 3 and a < 10", [1, 5]),
    ("3 < a", [4, 5]),
    ("a > i8", [1, 5]),
    ("d == 0.1", [1]),
    ("f == 0.1", [1]),  # the literal is rounded to float32 for a FLOAT field
    ("f > 0.1", [2, 5]),
    ("f < d", [2]),
    ("s == 'abc'", [1]),
    ('s > "a"', [1, 2, 4]),
    ('s != ""', [1, 2, 4]),
    ("b", [1, 4]),
    ("not b", [2, 5]),
    ("!b", [2, 5]),
    ("b == true", [1, 4]),
    ("b != false", [1, 4]),
    ("true", [1, 2, 3, 4, 5]),
    ("false", []),
    ("not true", []),
    # integer literals outside the field's range
    ("i8 == 1000", []),
    ("i8 < 1000", [1, 2, 4, 5]),
    ("i8 > -1000", [1, 2, 4, 5]),
    ("i8 != 1000", [1, 2, 4, 5]),
    ("i8 in [1000, 1]", [1]),
    ("a == 3.0", [1]),
    ("a == 3.5", []),
    ("a != 3.5", [1, 2, 4, 5]),
    ("a < 3.5", [1, 2]),
    ("a <= 3.0", [1, 2]),
    ("a > 3.5", [4, 5]),
    ("a >= 3.5", [4, 5]),
    ("a > 9223372036854775807", []),
    ("a > -9223372036854775808", [1, 2, 4, 5]),
    ("a < 1e400", [1, 2, 4, 5]),
    # ranges
    ("1 < a < 5", [1, 5]),
    ("3 <= a <= 4", [1, 5]),
    ("5 > a > 1", [1, 5]),
    ("10 >= a >= 4", [4, 5]),
    ("-10 < a <= 3", [1, 2]),
    # in / not in
    ("a in [3, 10]", [1, 4]),
    ("a not in [3, 10]", [2, 5]),
    ("a in []", []),
    ("a not in []", [1, 2, 3, 4, 5]),
    ("s in ['abc', 'x_y']", [1, 4]),
    ("s not in ['abc']", [2, 4, 5]),
    ("b in [true]", [1, 4]),
    ("f in [0.1, 3]", [1, 5]),
    ("d in [0.1, 3]", [1, 5]),
    ("a in [3.0, 4.5]", [1]),
    # like
    ('s like "a%"', [1, 2]),
    ('s like "%c"', [1, 2]),
    ('s like "%b%"', [1]),
    ('s like "a_c"', [1, 2]),
    ('s like "a\\%c"', [2]),
    ('s like "a\\\\%c"', [2]),
    ('s like "x\\_y"', [4]),
    ('s like "%"', [1, 2, 4, 5]),
    ('s like ""', [5]),
    ('not (s like "a%")', [4, 5]),
    # arithmetic
    ("a + 1 == 4", [1]),
    ("a - 1 == 2", [1]),
    ("a * 2 == 6", [1]),
    ("a / 2 == 1.5", [1]),
    ("a / 2 == 1", []),
    ("a % 3 == 1", [4, 5]),
    ("a % 3 == -1", [2]),
    ("a % 3 == 0", [1]),
    ("a ** 2 == 9", [1]),
    ("-a == -3", [1]),
    ("- -a == 3", [1]),
    ("+a == 3", [1]),
    ("a * a > 15", [2, 4, 5]),
    ("(a + i8) * 2 == 8", [1, 5]),
    ("f * 2 > 2.9", [2, 5]),
    ("1 / a > 0", [1, 4, 5]),
    ("a + 9223372036854775807 > 0", [2]),  # overflow makes the other rows UNKNOWN
    ("a * 3074457345618258603 > 0", []),
    ("-i8 == 5", [2]),
    ("2 ** 3 == 8", [1, 2, 3, 4, 5]),
    ("-2 ** 2 == -4", [1, 2, 3, 4, 5]),
    ("a % i8 == 0", [1]),  # 4 % 0 is null, so row 5 is UNKNOWN
    # is null
    ("a is null", [3]),
    ("a is not null", [1, 2, 4, 5]),
    ("a IS NULL", [3]),
    ("s is null or b is null", [3]),
    ("m is null", [3]),
    ("m is not null", [1, 2, 4, 5]),
    ("tags is null", [3]),
    ("tags is not null", [1, 2, 4, 5]),
    ('m["y"] is null', [3, 4, 5]),
    ('m["n"] is null', [1, 2, 3, 4, 5]),
    ("tags[1] is null", [2, 3, 4]),
    ("a + 1 is null", [3]),
    # JSON paths
    ('m["x"] == 1', [1]),
    ('m["x"] != 1', [2]),
    ('not (m["x"] == 1)', [2]),
    ('m["x"] > 0', [1, 2]),
    ('m["x"] == true', [4]),
    ('m["x"]', [4]),
    ('m["y"] == "a"', [1]),
    ('m["y"] != "a"', []),
    ('m["y"] == 3', [2]),
    ('m["y"] in ["a", 3]', [1, 2]),
    ('m["y"] not in ["a"]', []),
    ('m["arr"] == [1, 2]', [1]),
    ('m["arr"] != [1, 2]', [2]),
    ('m["arr"][0] == 1', [1]),
    ('m["arr"][0][1] == 2', [2]),
    ('m["arr"][5] == 1', []),
    ('m["o"]["k"][0] == 7', [4]),
    ("m['o']['k'][0] == 7", [4]),
    ('m["x"] + 1 == 2', [1]),
    ('m["x"] * 2 > 4', [2]),
    ('m["x"] > a', [2]),
    ('m["x"] > f', [1, 2]),
    ('m["y"] like "a%"', [1]),
    ('m["x"] > m["y"]', []),
    ('m["x"] < m["y"]', [2]),
    # dynamic fields
    ('color == "red"', [1]),
    ('color != "red"', [4]),
    ("color == 5", [2]),
    ('$meta["color"] == "red"', [1]),
    ("size > 2", [1, 5]),
    ("not size > 2", []),
    ("size is null", [2, 3, 4]),
    ("flag", [5]),
    ("not flag", []),
    ('color in ["red", 5]', [1, 2]),
    ('color like "b%"', [4]),
    ("exists color", [1, 2, 4]),
    ("exists size and size < 5", [5]),
    ("$meta is null", [3]),
    # exists
    ('exists m["n"]', [1]),
    ('exists m["y"]', [1, 2, 4]),
    ('exists(m["y"])', [1, 2, 4]),
    ('EXISTS m["o"]["k"]', [4]),
    ('not exists m["y"]', [3, 5]),
    # arrays
    ("tags[0] == 1", [1]),
    ("tags[0] > 1", [4, 5]),
    ("tags[5] == 1", []),
    ("not (tags[5] == 1)", []),
    ("tags[2] != 1", [1]),
    ("ftags[0] == 0.1", [1]),
    ("words[0] == 'red'", [1, 5]),
    ("array_contains(tags, 4)", [5]),
    ("ARRAY_CONTAINS(tags, 2)", [1]),
    ("Array_Contains(tags, 2.0)", [1]),
    ("array_contains(tags, 2.5)", []),
    ("array_contains(ftags, 0.1)", [1]),
    ("array_contains(words, 'red')", [1, 5]),
    ("not array_contains(tags, 4)", [1, 2, 4]),
    ("array_contains_all(tags, [1, 3])", [1]),
    ("array_contains_all(tags, [1, 5])", []),
    ("array_contains_all(tags, [])", [1, 2, 4, 5]),
    ("array_contains_any(tags, [1, 5])", [1, 4]),
    ("array_contains_any(tags, [])", []),
    ("array_contains_any(words, ['blue', 'green'])", [1, 4]),
    ("array_length(tags) == 0", [2]),
    ("array_length(tags) > 1", [1, 5]),
    ("ARRAY_LENGTH(words) >= 1", [1, 4, 5]),
    ('array_length(m["arr"]) == 2', [1, 2]),
    ("array_length(m) == 2", []),
    # JSON containment
    ('json_contains(m["arr"], 1)', [1]),
    ('json_contains(m["arr"], [1, 2])', [2]),
    ('json_contains(m["arr"], 1.0)', [1]),
    ('json_contains_all(m["arr"], [1, 2])', [1]),
    ('json_contains_any(m["arr"], [3, 7])', [2]),
    ('array_contains(m["arr"], 2)', [1]),
    ('not json_contains(m["arr"], 1)', [2]),
    ('json_contains(m["o"]["k"], 7)', [4]),
    # logic and precedence
    ("a == 3 or a == 4 and b", [1]),
    ("(a == 3 or a == 4) and b", [1]),
    ("a == 3 AND b", [1]),
    ("a == 3 AnD b", [1]),
    ("a == 3 || a == 10 && b", [1, 4]),
    ("not a == 3 and a > 0", [4, 5]),
    ("not (a == 3 and b)", [2, 4, 5]),
    ("a > 100 or b", [1, 4]),
    ("b or a > 100", [1, 4]),
    ("a > 0 and not b", [5]),
    # three-valued logic on the null row
    ("a > 0 or true", [1, 2, 3, 4, 5]),
    ("a > 0 and false", []),
    ("not (a > 0 or b)", [2]),
    ("(a > 100) is null", [3]),
    # templates
    ("a > {v}", [4, 5]),
    ("s in {names}", [1, 4]),
    ("b == {flag}", [1, 4]),
    ("f > {fv} and a in {ints}", [5]),
]


@pytest.mark.parametrize("expr,expected", CASES, ids=[c[0] for c in CASES])
def test_evaluate(expr: str, expected: list[int], schema: CollectionSchema, table: pa.Table) -> None:
    params = {"v": 3, "names": ["abc", "x_y"], "flag": True, "fv": 1.0, "ints": (4, 10)}
    assert ids(expr, schema, table, params) == expected


def test_fields(schema: CollectionSchema) -> None:
    assert compile_filter("a > 1 and s like 'x%'", schema).fields == frozenset({"a", "s"})
    assert compile_filter('color == "red" or m["x"] == 1', schema).fields == frozenset({DYNAMIC_FIELD, "m"})
    assert compile_filter("true", schema).fields == frozenset()
    assert compile_filter("array_length(tags) > 1", schema).fields == frozenset({"tags"})


def test_subset_of_columns(schema: CollectionSchema, table: pa.Table) -> None:
    cf = compile_filter("a > 3 and color == 'blue'", schema)
    sub = table.select(sorted(cf.fields))
    assert cf.evaluate(sub).tolist() == [False, False, False, True, False]
    with pytest.raises(FilterError, match="no column 'a'"):
        cf.evaluate(table.select(["id"]))


def test_chunked_and_sliced_tables(schema: CollectionSchema, table: pa.Table) -> None:
    doubled = pa.concat_tables([table, table.slice(1, 3)])
    for expr in [
        "a > 3",
        "tags[0] > 1",
        "array_contains(tags, 4)",
        'm["x"] > 0',
        "color == 'red'",
        "s like 'a%'",
    ]:
        cf = compile_filter(expr, schema)
        full = cf.evaluate(table)
        assert cf.evaluate(doubled).tolist() == full.tolist() + full[1:4].tolist()
        assert cf.evaluate(table.slice(2)).tolist() == full[2:].tolist()


def test_record_batch_and_empty_table(schema: CollectionSchema, table: pa.Table) -> None:
    cf = compile_filter("a > 3 and array_contains(tags, 4)", schema)
    assert cf.evaluate(table.to_batches()[0]).tolist() == [False, False, False, False, True]
    empty = table.slice(0, 0)
    out = cf.evaluate(empty)
    assert out.dtype == np.bool_ and out.shape == (0,)
    assert compile_filter("true", schema).evaluate(empty).shape == (0,)


def test_constant_filters(schema: CollectionSchema, table: pa.Table) -> None:
    assert compile_filter("1 < 2", schema).evaluate(table).all()
    assert not compile_filter("1 > 2", schema).evaluate(table).any()
    assert compile_filter("not false and true", schema).evaluate(table).all()


def test_pk_values(schema: CollectionSchema) -> None:
    def pk(expr: str, params: dict[str, Any] | None = None) -> list[Any] | None:
        return compile_filter(expr, schema, params).pk_values("id")

    assert pk("id == 5") == [5]
    assert pk("5 == id") == [5]
    assert pk("id in [1, 2, 3]") == [1, 2, 3]
    assert pk("(id == 1) or id in [2, 1] or id == 7") == [1, 2, 7]
    assert pk("id in {keys}", {"keys": [4, 5]}) == [4, 5]
    assert pk("id in []") == []
    assert pk("id == 2.0") == [2]
    assert pk("id == 2.5") == []
    assert pk("id > 5") is None
    assert pk("id == 5 and a > 1") is None
    assert pk("id == 5 or a == 1") is None
    assert pk("id not in [1]") is None
    assert pk("a == 5") is None
    assert pk("id == a") is None


def test_pk_values_varchar() -> None:
    s = CollectionSchema()
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=20)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    cf = compile_filter('key in ["a", "b"] or key == "c"', s)
    assert cf.pk_values("key") == ["a", "b", "c"]


def test_errors_at_compile_time(schema: CollectionSchema) -> None:
    cases = {
        "s == 1": ("cannot compare VARCHAR field 's' with the number 1", 1),
        "a == 'x'": ("cannot compare INT64 field 'a' with the string \"x\"", 1),
        "x > 1 and a like 'a%'": ("'like' needs a VARCHAR or JSON value, but got INT64 field 'a'", 11),
        "s + 1 > 2": ("arithmetic '+' needs numbers, but got VARCHAR field 's'", 1),
        "array_contains(a, 1)": (
            "ARRAY_CONTAINS needs an ARRAY field or a JSON value, but got INT64 field 'a'",
            16,
        ),
        "vec == 1": ("FLOAT_VECTOR field 'vec' is a vector field", 1),
        "a > 1 or vec[0] > 0": ("FLOAT_VECTOR field 'vec' is a vector field", 10),
        "a / 0 > 1": ("division by zero", 3),
        "a % (2 - 2) > 1": ("division by zero", 3),
        "a": ("expected a condition (like x > 1), but got INT64 field 'a'", 1),
        "tags == [1]": ("ARRAY<INT64> field 'tags' cannot be compared", 1),
        "b < true": ("'<' cannot order BOOL field 'b'", 1),
        "a in [1, 'x']": ("'in': cannot compare INT64 field 'a' with the string \"x\"", 1),
        "array_contains(tags, 'x')": (
            'holds integer values, which cannot be compared with the string "x"',
            22,
        ),
        "array_contains_all(tags, 1)": ("must be a list", 26),
        "array_contains(tags, a)": ("must be a constant", 22),
        "a[0] == 1": ("INT64 field 'a' cannot be indexed", 1),
        "tags['k'] == 1": ("takes one integer index", 1),
        "exists a": ("'exists' needs a JSON field", 8),
        "text_match(s, 'x')": ("TEXT_MATCH needs enable_match=True", 12),
        "TEXT_MATCH(s, 'x')": ("TEXT_MATCH needs enable_match=True", 12),
        "st_within(s, 'x')": ("the first argument of ST_WITHIN must be a GEOMETRY field", 11),
        "foo(a)": ("unknown function 'foo'", 1),
        "array_contain(tags, 1)": ("did you mean ARRAY_CONTAINS?", 1),
        "array_length(tags, 1) > 0": ("ARRAY_LENGTH takes 1 argument, got 2", 1),
        "array_contains(tags) > 0": ("ARRAY_CONTAINS takes 2 arguments, got 1", 1),
        "m['x'] < true": ("'<' cannot order true", 10),
        "s like 'ab\\\\'": ("lone backslash", 3),
    }
    for expr, (msg, pos) in cases.items():
        with pytest.raises(FilterError) as info:
            compile_filter(expr, schema)
        assert msg in info.value.detail, (expr, info.value.detail)
        assert info.value.position == pos, (expr, info.value.position, info.value.detail)
        assert info.value.expr == expr
        assert str(info.value.message).startswith(f"column {pos}: ")


def test_unknown_field_without_dynamic_field() -> None:
    s = make_schema(dynamic=False)
    with pytest.raises(FilterError) as info:
        compile_filter("a > 1 and lable == 3", s)
    assert info.value.position == 11
    assert info.value.detail.startswith("unknown field 'lable'; the collection has no dynamic field")
    s.add_field("label", DataType.INT64)
    with pytest.raises(FilterError) as info:
        compile_filter("a > 1 and lable == 3", s)
    assert str(info.value.message) == "column 11: unknown field 'lable'; did you mean 'label'?"
    with pytest.raises(FilterError, match="unknown field 'zzz'; the collection has no dynamic field"):
        compile_filter("zzz == 1", s)
    with pytest.raises(FilterError, match=r"'\$meta' is only available"):
        compile_filter('$meta["a"] == 1', s)


def test_array_of_structs_is_rejected() -> None:
    from engine.schema import StructFieldSchema

    st = StructFieldSchema().add_field("t", DataType.VARCHAR, max_length=10)
    s = make_schema()
    s.add_field("clips", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=4)
    with pytest.raises(FilterError, match="Array of Structs") as info:
        compile_filter("a > 1 and array_length(clips) > 0", s)
    assert info.value.position == 24
    with pytest.raises(FilterError, match="Array of Structs"):
        compile_filter("clips[0] is null", s)


def test_other_vector_types_are_rejected() -> None:
    s = make_schema()
    s.add_field("bits", DataType.BINARY_VECTOR, dim=16)
    s.add_field("half", DataType.FLOAT16_VECTOR, dim=4)
    for expr in ["bits is null", "half is not null"]:
        with pytest.raises(FilterError, match="vectors cannot be used in filters"):
            compile_filter(expr, s)


def test_large_table_is_fast(schema: CollectionSchema) -> None:
    import time

    n = 200_000
    rng = np.random.default_rng(1)
    t = pa.table(
        {
            "a": pa.array(rng.integers(-5, 5, n)),
            "d": pa.array(rng.random(n)),
            "s": pa.array(np.array(["abc", "abd", "xyz"])[rng.integers(0, 3, n)]),
        }
    )
    cf = compile_filter("a == 3 and d > 0.5 or s like 'ab%' and a in [1, 2]", schema)
    start = time.perf_counter()
    mask = cf.evaluate(t)
    elapsed = time.perf_counter() - start
    a, d, s = t.column("a").to_numpy(), t.column("d").to_numpy(), t.column("s").to_numpy(zero_copy_only=False)
    expected = ((a == 3) & (d > 0.5)) | (np.char.startswith(s.astype(str), "ab") & np.isin(a, [1, 2]))
    assert (mask == expected).all()
    assert elapsed < 1.0


def test_json_parsed_once_per_distinct_text(
    schema: CollectionSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.expr.evaluator as ev

    calls: list[str] = []
    real = ev._decoder()

    class Counting:
        def decode(self, text: str) -> Any:
            calls.append(text)
            return real.decode(text)

    monkeypatch.setattr(ev, "_decoder", Counting)
    t = make_table(schema, ROWS * 50)
    mask = compile_filter('m["x"] > 0 and m["y"] == "a" or color == "red"', schema).evaluate(t)
    assert int(mask.sum()) == 50
    assert len(calls) == 4 + 4  # distinct non-null texts of m and of $meta


def test_invalid_json_text_is_null(schema: CollectionSchema) -> None:
    t = make_table(schema, ROWS[:2]).set_column(8, "m", pa.array(["{not json", '{"x": 1}'], type=pa.string()))
    assert compile_filter('m["x"] == 1', schema).evaluate(t).tolist() == [False, True]
    assert compile_filter('m is null or m["x"] == 1', schema).evaluate(t).tolist() == [True, True]


def test_empty_filter_raises(schema: CollectionSchema) -> None:
    for expr in ["", "   ", "\n\t"]:
        with pytest.raises(FilterError, match="empty"):
            compile_filter(expr, schema)


def test_deep_nesting(schema: CollectionSchema, table: pa.Table) -> None:
    expr = " or ".join(f"id == {i}" for i in range(3000))
    cf = compile_filter(expr, schema)
    assert cf.evaluate(table).all()
    assert cf.pk_values("id") == list(range(3000))
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("(" * 2000 + "a > 1" + ")" * 2000, schema)
    assert ids("(" * 40 + "a > 3" + ")" * 40, schema, table) == [4, 5]
