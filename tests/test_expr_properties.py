"""Property tests: random expressions over random tables, checked against a row-by-row oracle.

The oracle (tests/expr_oracle.py) walks the syntax tree one row at a time
with plain Python values; the engine renders the tree to text, parses,
type-checks and evaluates it column-wise. Their masks must agree.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
from expr_oracle import Oracle
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.errors import FilterError
from engine.expr import compile_filter, parse, render
from engine.expr.ast import (
    Arith,
    Call,
    Compare,
    Exists,
    In,
    Index,
    IsNull,
    Like,
    ListLit,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    Range,
    Unary,
)
from engine.schema import CollectionSchema
from engine.types import DYNAMIC_FIELD, DataType

# EXPR_EXAMPLES=5000 pytest tests/test_expr_properties.py  for a deeper run.
EXAMPLES = int(os.environ.get("EXPR_EXAMPLES", "250"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _schema() -> CollectionSchema:
    s = CollectionSchema(enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("i8", DataType.INT8, nullable=True)
    s.add_field("i32", DataType.INT32, nullable=True)
    s.add_field("i64", DataType.INT64, nullable=True)
    s.add_field("f32", DataType.FLOAT, nullable=True)
    s.add_field("f64", DataType.DOUBLE, nullable=True)
    s.add_field("s", DataType.VARCHAR, max_length=64, nullable=True)
    s.add_field("b", DataType.BOOL, nullable=True)
    s.add_field("m", DataType.JSON, nullable=True)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8, nullable=True)
    s.add_field("ftags", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=8, nullable=True)
    s.add_field(
        "words", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8, max_length=16, nullable=True
    )
    return s


SCHEMA = _schema()
ORACLE = Oracle(SCHEMA)

# --- data -------------------------------------------------------------------------
ALPHABET = "ab%_\\é\n"
texts = st.text(alphabet=ALPHABET, max_size=4)
small_ints = st.integers(-6, 6)
f32s = st.sampled_from([0.1, 0.5, -2.5, 1.0, 2.0]) | st.floats(-1e6, 1e6, width=32).map(float)
f32s = f32s.map(lambda v: float(np.float32(v)))
f64s = st.sampled_from([0.1, 0.5, -2.5, 1.0, 3.0, -0.0]) | st.floats(-1e6, 1e6, allow_nan=False)
json_scalars = st.none() | st.booleans() | small_ints | f64s | texts
json_arrays = st.lists(small_ints | texts | st.booleans() | st.lists(small_ints, max_size=2), max_size=4)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, st.none())


@st.composite
def json_objects(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_arrays)
    obj: dict[str, Any] = {}
    for key, strat in [
        ("x", json_scalars),
        ("s", texts | small_ints),
        ("arr", json_arrays),
        ("k", json_scalars),
        ("o", st.fixed_dictionaries({}, optional={"y": json_scalars})),
    ]:
        if draw(st.booleans()):
            obj[key] = draw(strat)
    return obj


@st.composite
def dynamic_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, strat in [("dx", json_scalars), ("ds", texts | small_ints), ("db", st.booleans() | small_ints)]:
        if draw(st.booleans()):
            obj[key] = draw(strat)
    return obj


row_strategy = st.fixed_dictionaries(
    {
        "i8": _opt(st.integers(-128, 127)),
        "i32": _opt(st.integers(-(2**31), 2**31 - 1) | small_ints),
        "i64": _opt(st.integers(-(2**40), 2**40) | small_ints),
        "f32": _opt(f32s),
        "f64": _opt(f64s),
        "s": _opt(texts),
        "b": _opt(st.booleans()),
        "m": _opt(json_objects()),
        "tags": _opt(st.lists(small_ints, max_size=4)),
        "ftags": _opt(
            st.lists(st.sampled_from([0.1, 0.5, -2.5, 1.0]).map(lambda v: float(np.float32(v))), max_size=3)
        ),
        "words": _opt(st.lists(texts, max_size=3)),
        DYNAMIC_FIELD: _opt(dynamic_objects()),
    }
)


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    cols = {}
    for fld in SCHEMA.arrow_schema():
        if fld.name == "id":
            vals: list[Any] = list(range(len(rows)))
        elif fld.name == "vec":
            vals = [[0.0, 0.0]] * len(rows)
        elif fld.name in ("m", DYNAMIC_FIELD):
            vals = [None if r[fld.name] is None else json.dumps(r[fld.name]) for r in rows]
        else:
            vals = [r[fld.name] for r in rows]
        cols[fld.name] = pa.array(vals, type=fld.type)
    return pa.table(cols, schema=SCHEMA.arrow_schema())


# --- expressions ---------------------------------------------------------------------
int_lits = st.builds(
    Literal, small_ints | st.integers(-(2**62), 2**62) | st.sampled_from([127, 128, -129, 2**31])
)
float_lits = st.builds(Literal, f64s | f32s)
num_lits = int_lits | float_lits
str_lits = st.builds(Literal, texts)
bool_lits = st.builds(Literal, st.booleans())
any_lits = num_lits | str_lits | bool_lits

M = Name("m")
num_leaves = (
    st.sampled_from(
        [
            Name("id"),
            Name("i8"),
            Name("i32"),
            Name("i64"),
            Name("f32"),
            Name("f64"),
            Index(M, "x"),
            Index(Index(M, "o"), "y"),
            Index(M, "s"),
            Name("dx"),
            Index(Name(DYNAMIC_FIELD), "dx"),
            Index(Name("tags"), 0),
            Index(Name("tags"), 2),
            Index(Name("ftags"), 0),
            Index(Index(M, "arr"), 1),
            Call("array_length", (Name("tags"),)),
            Call("array_length", (Index(M, "arr"),)),
        ]
    )
    | num_lits
)
str_leaves = st.sampled_from(
    [Name("s"), Index(M, "s"), Index(M, "x"), Name("ds"), Index(Name("words"), 0), Index(Name("words"), 1)]
)
bool_leaves = st.sampled_from([Name("b"), Name("db"), Index(M, "k"), Index(M, "x")])
ORDER = ["==", "!=", "<", "<=", ">", ">="]


def num_expr(depth: int) -> st.SearchStrategy[Node]:
    if depth <= 0:
        return num_leaves
    sub = num_expr(depth - 1)
    return st.one_of(
        num_leaves,
        num_leaves,
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/", "%"]), sub, sub),
        st.builds(lambda base, e: Arith("**", base, Literal(e)), sub, st.sampled_from([0, 1, 2])),
        st.builds(Unary, st.sampled_from(["-", "+"]), sub),
    )


@st.composite
def like_patterns(draw: st.DrawFn) -> str:
    pieces = draw(
        st.lists(st.sampled_from(["%", "_", "a", "b", "é", "\n", "\\%", "\\_", "\\\\"]), max_size=4)
    )
    return "".join(pieces)


def leaf_condition() -> st.SearchStrategy[Node]:
    nums = num_expr(2)
    json_vals = st.sampled_from(
        [Index(M, "x"), Index(M, "k"), Index(Index(M, "o"), "y"), Name("dx"), Name("ds")]
    )
    return st.one_of(
        st.builds(Compare, st.sampled_from(ORDER), nums, nums),
        st.builds(Compare, st.sampled_from(ORDER), str_leaves, str_leaves | str_lits),
        st.builds(Compare, st.sampled_from(["==", "!="]), bool_leaves, bool_leaves | bool_lits),
        st.builds(Compare, st.sampled_from(["==", "!="]), json_vals, any_lits | json_vals),
        st.builds(Compare, st.sampled_from(ORDER), json_vals, num_lits | str_lits),
        st.builds(
            lambda lo, ops, mid, hi: Range(lo, ops[0], mid, ops[1], hi),
            num_lits,
            st.sampled_from([("<", "<"), ("<", "<="), ("<=", "<="), (">", ">"), (">=", ">")]),
            nums,
            num_lits,
        ),
        st.builds(In, nums, st.builds(ListLit, st.lists(num_lits, max_size=3).map(tuple)), st.booleans()),
        st.builds(
            In, str_leaves, st.builds(ListLit, st.lists(str_lits, max_size=3).map(tuple)), st.booleans()
        ),
        st.builds(
            In, json_vals, st.builds(ListLit, st.lists(any_lits, max_size=3).map(tuple)), st.booleans()
        ),
        st.builds(
            In,
            st.just(Name("b")),
            st.builds(ListLit, st.lists(bool_lits, max_size=2).map(tuple)),
            st.booleans(),
        ),
        st.builds(Like, str_leaves, like_patterns()),
        st.builds(
            IsNull, nums | str_leaves | st.sampled_from([M, Name("tags"), Name("words")]), st.booleans()
        ),
        bool_leaves,
        bool_lits,
        st.builds(lambda v: Call("array_contains", (Name("tags"), v)), int_lits | float_lits),
        st.builds(
            lambda v: Call("array_contains", (Name("ftags"), v)),
            st.sampled_from([0.1, 0.5, 1, 2.5]).map(Literal),
        ),
        st.builds(lambda v: Call("array_contains", (Name("words"), v)), str_lits),
        st.builds(
            lambda name, vs: Call(name, (Name("tags"), ListLit(tuple(vs)))),
            st.sampled_from(["array_contains_all", "array_contains_any"]),
            st.lists(st.builds(Literal, small_ints), max_size=3),
        ),
        st.builds(
            lambda name, v: Call(name, (Index(M, "arr"), v)),
            st.sampled_from(["json_contains", "array_contains"]),
            any_lits | st.builds(ListLit, st.lists(st.builds(Literal, small_ints), max_size=2).map(tuple)),
        ),
        st.builds(
            lambda name, vs: Call(name, (Index(M, "arr"), ListLit(tuple(vs)))),
            st.sampled_from(["json_contains_all", "json_contains_any", "array_contains_any"]),
            st.lists(any_lits, max_size=3),
        ),
        st.builds(
            Exists, st.sampled_from([Index(M, "x"), Index(M, "k"), Index(Index(M, "o"), "y"), Name("dx")])
        ),
    )


def condition(depth: int) -> st.SearchStrategy[Node]:
    if depth <= 0:
        return leaf_condition()
    sub = condition(depth - 1)
    logical = st.builds(
        Logical, st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3).map(tuple)
    )
    return st.one_of(leaf_condition(), st.builds(Not, sub), logical, logical, st.builds(IsNull, sub))


CONDITIONS = condition(3)


def _compile(tree: Node) -> Any:
    text = render(tree)
    try:
        return compile_filter(text, SCHEMA)
    except FilterError as e:
        if "division by zero" in e.detail:
            assume(False)
        raise AssertionError(f"{text!r} failed to compile: {e}") from e


@SETTINGS
@given(tree=CONDITIONS, rows=st.lists(row_strategy, max_size=8))
def test_engine_matches_oracle(tree: Node, rows: list[dict[str, Any]]) -> None:
    cf = _compile(tree)
    table = to_table(rows)
    got = cf.evaluate(table)
    assert got.dtype == np.bool_ and got.shape == (len(rows),)
    expected = ORACLE.matches(tree, [dict(r, id=i) for i, r in enumerate(rows)])
    assert got.tolist() == expected, render(tree)


@SETTINGS
@given(tree=CONDITIONS, rows=st.lists(row_strategy, min_size=1, max_size=6))
def test_negation_complements_unless_unknown(tree: Node, rows: list[dict[str, Any]]) -> None:
    """`x`, `not x` and `(x == true) is null` (x is UNKNOWN) partition the rows."""
    table = to_table(rows)
    pos = _compile(tree).evaluate(table)
    neg = _compile(Not(tree)).evaluate(table)
    unknown = _compile(IsNull(Compare("==", tree, Literal(True)))).evaluate(table)
    assert (pos.astype(int) + neg.astype(int) + unknown.astype(int) == 1).all(), render(tree)


@SETTINGS
@given(tree=CONDITIONS)
def test_render_parse_round_trip(tree: Node) -> None:
    text = render(tree)
    parsed = parse(text)
    assert parsed == tree, text
    assert render(parsed) == text


TOKENS = [
    "a",
    "i8",
    "s",
    "m",
    "tags",
    "[",
    "]",
    "(",
    ")",
    "'x'",
    '"',
    "1",
    "-",
    "2.5",
    "==",
    "<",
    "not",
    "and",
    "or",
    "in",
    "like",
    "is",
    "null",
    ",",
    "{v}",
    "array_contains",
    "exists",
    "**",
    "$meta",
    "\\",
    "0x",
    "!",
]


@settings(max_examples=EXAMPLES, deadline=None)
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=10), glue=st.sampled_from(["", " "]))
def test_garbage_raises_only_filter_error(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    try:
        cf = compile_filter(text, SCHEMA, {"v": 1})
    except FilterError as e:
        assert e.position is None or 1 <= e.position <= len(text) + 1
        return
    cf.evaluate(to_table([]))


INT_SCHEMA = CollectionSchema()
INT_SCHEMA.add_field("x", DataType.INT64, is_primary=True)
INT_SCHEMA.add_field("y", DataType.INT64)
INT_SCHEMA.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
int64s = st.integers(-(2**63), 2**63 - 1) | st.sampled_from(
    [0, 1, -1, 2, -(2**63), 2**63 - 1, 2**32, -(2**32)]
)


@SETTINGS
@given(x=int64s, y=int64s, op=st.sampled_from(["+", "-", "*", "%"]))
def test_int64_arithmetic_is_exact_or_null(x: int, y: int, op: str) -> None:
    table = pa.table({"x": pa.array([x], pa.int64()), "y": pa.array([y], pa.int64())})
    if op == "%":
        exact = None if y == 0 else (abs(x) % abs(y)) * (-1 if x < 0 else 1)
    else:
        exact = x + y if op == "+" else x - y if op == "-" else x * y
    if exact is None or not -(2**63) <= exact <= 2**63 - 1:
        assert compile_filter(f"(x {op} y) is null", INT_SCHEMA).evaluate(table).tolist() == [True]
    else:
        assert compile_filter(f"x {op} y == {exact}", INT_SCHEMA).evaluate(table).tolist() == [True]
    neg = -x if x != -(2**63) else None
    expr = f"-x == {neg}" if neg is not None else "(-x) is null"
    assert compile_filter(expr, INT_SCHEMA).evaluate(table).tolist() == [True]
