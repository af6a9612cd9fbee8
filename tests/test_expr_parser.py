"""Lexer and parser of filter expressions: literals, precedence, operators, templates, errors, rendering."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.errors import FilterError
from engine.expr import parse, render
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
    Not,
    Range,
    Unary,
)
from engine.expr.lexer import T, tokenize

a, b, c, x = Name("a"), Name("b"), Name("c"), Name("x")


def L(v: Any) -> Literal:
    return Literal(v)


def cmp(op: str, left: Any, right: Any) -> Compare:
    return Compare(op, left, right)


# --- literals -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,value",
    [
        ("0", 0),
        ("42", 42),
        ("0x1F", 31),
        ("0XfF", 255),
        ("0o17", 15),
        ("0b101", 5),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("-5", -5),
        ("+5", 5),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e-3", 0.001),
        ("1E+3", 1000.0),
        ("2.5e2", 250.0),
        ("-0.25", -0.25),
        ("'single'", "single"),
        ('"double"', "double"),
        ('""', ""),
        (r'"a\\b"', "a\\b"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"tab\there\nnew"', "tab\there\nnew"),
        (r'"\u00e9\U0001F600"', "é\U0001f600"),
        (r'"\x41"', "A"),
        (r'"100\%"', "100\\%"),  # unknown escapes keep their backslash (for like patterns)
        (r'r"a\d"', "a\\d"),
        ('"é ünïcode"', "é ünïcode"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
    ],
)
def test_literals(text: str, value: Any) -> None:
    node = parse(f"x == {text}")
    assert node == cmp("==", x, L(value))
    got = node.right.value  # type: ignore[attr-defined]
    assert type(got) is type(value)


def test_lists() -> None:
    assert parse("x in [1, 2, 3]") == In(x, ListLit((L(1), L(2), L(3))))
    assert parse("x in []") == In(x, ListLit(()))
    assert parse("x in [ ]") == In(x, ListLit(()))
    assert parse('x in [1, "a", true, -2.5,]') == In(x, ListLit((L(1), L("a"), L(True), L(-2.5))))
    assert parse("json_contains(x, [[1, 2], [3]])") == Call(
        "json_contains", (x, ListLit((ListLit((L(1), L(2))), ListLit((L(3),)))))
    )


def test_tokens_have_positions() -> None:
    toks = tokenize('ab >= "x" and  c')
    assert [(t.kind, t.pos) for t in toks] == [
        (T.IDENT, 1),
        (T.OP, 4),
        (T.STRING, 7),
        (T.KEYWORD, 11),
        (T.IDENT, 16),
        (T.EOF, 17),
    ]


# --- precedence and operators --------------------------------------------------------
@pytest.mark.parametrize(
    "text,tree",
    [
        ("a or b and c", Logical("or", (a, Logical("and", (b, c))))),
        ("a and b or c", Logical("or", (Logical("and", (a, b)), c))),
        ("(a or b) and c", Logical("and", (Logical("or", (a, b)), c))),
        ("a or b or c", Logical("or", (a, b, c))),
        ("a || b && c", Logical("or", (a, Logical("and", (b, c))))),
        ("a AND b Or c", Logical("or", (Logical("and", (a, b)), c))),
        ("not a and b", Logical("and", (Not(a), b))),
        ("!a || b", Logical("or", (Not(a), b))),
        ("NOT not a", Not(Not(a))),
        ("not a == 1", Not(cmp("==", a, L(1)))),
        ("not (a == 1 or b)", Not(Logical("or", (cmp("==", a, L(1)), b)))),
        ("a + b * c == 1", cmp("==", Arith("+", a, Arith("*", b, c)), L(1))),
        ("(a + b) * c == 1", cmp("==", Arith("*", Arith("+", a, b), c), L(1))),
        ("a - b - c > 0", cmp(">", Arith("-", Arith("-", a, b), c), L(0))),
        ("a / b % c > 0", cmp(">", Arith("%", Arith("/", a, b), c), L(0))),
        ("a ** b ** c > 0", cmp(">", Arith("**", a, Arith("**", b, c)), L(0))),
        ("-a ** 2 > 0", cmp(">", Unary("-", Arith("**", a, L(2))), L(0))),
        ("-2 ** 2 > 0", cmp(">", Unary("-", Arith("**", L(2), L(2))), L(0))),
        ("(-2) ** 2 > 0", cmp(">", Arith("**", L(-2), L(2)), L(0))),
        ("a ** -1 > 0", cmp(">", Arith("**", a, L(-1)), L(0))),
        ("- -a > 0", cmp(">", Unary("-", Unary("-", a)), L(0))),
        ("-(3) > a", cmp(">", Unary("-", L(3)), a)),
        ("a * -3 > 0", cmp(">", Arith("*", a, L(-3)), L(0))),
        ("a - -3 > 0", cmp(">", Arith("-", a, L(-3)), L(0))),
        ("a==1", cmp("==", a, L(1))),
        ("a != 1", cmp("!=", a, L(1))),
        ("a < 1", cmp("<", a, L(1))),
        ("a <= 1", cmp("<=", a, L(1))),
        ("a > 1", cmp(">", a, L(1))),
        ("a >= 1", cmp(">=", a, L(1))),
        ("a > b", cmp(">", a, b)),
        ("1 < a <= 5", Range(L(1), "<", a, "<=", L(5))),
        ("1 <= a < 5", Range(L(1), "<=", a, "<", L(5))),
        ("5 > a >= 1", Range(L(5), ">", a, ">=", L(1))),
        ("a in [1]", In(a, ListLit((L(1),)))),
        ("a not in [1]", In(a, ListLit((L(1),)), negated=True)),
        ("a NOT IN [1]", In(a, ListLit((L(1),)), negated=True)),
        ("not a in [1]", Not(In(a, ListLit((L(1),))))),
        ('a like "x%"', Like(a, "x%")),
        ('a LIKE "x%"', Like(a, "x%")),
        ("a is null", IsNull(a)),
        ("a IS NOT NULL", IsNull(a, negated=True)),
        ("a Is Null", IsNull(a)),
        ("(a > 1) is null", IsNull(cmp(">", a, L(1)))),
        ("a + 1 is null", IsNull(Arith("+", a, L(1)))),
        ('exists m["k"]', Exists(Index(Name("m"), "k"))),
        ('EXISTS(m["k"])', Exists(Index(Name("m"), "k"))),
        ('exists m["k"] and a', Logical("and", (Exists(Index(Name("m"), "k")), a))),
        ("a", a),
        ("true", L(True)),
        ("(((a)))", a),
        ('m["a"]["b"][0] == 1', cmp("==", Index(Index(Index(Name("m"), "a"), "b"), 0), L(1))),
        ("m['a'] == 1", cmp("==", Index(Name("m"), "a"), L(1))),
        ('$meta["color"] == "red"', cmp("==", Index(Name("$meta"), "color"), L("red"))),
        ("tags[0] > 1", cmp(">", Index(Name("tags"), 0), L(1))),
        ("ARRAY_CONTAINS(tags, 1)", Call("array_contains", (Name("tags"), L(1)))),
        (
            "array_contains_all(tags, [1, 2])",
            Call("array_contains_all", (Name("tags"), ListLit((L(1), L(2))))),
        ),
        ("Array_Contains_Any(tags, [1])", Call("array_contains_any", (Name("tags"), ListLit((L(1),))))),
        ("array_length(tags) == 2", cmp("==", Call("array_length", (Name("tags"),)), L(2))),
        ('JSON_CONTAINS(m["a"], 1)', Call("json_contains", (Index(Name("m"), "a"), L(1)))),
        (
            'json_contains_all(m["a"], [1])',
            Call("json_contains_all", (Index(Name("m"), "a"), ListLit((L(1),)))),
        ),
        (
            'json_contains_any(m["a"], [1])',
            Call("json_contains_any", (Index(Name("m"), "a"), ListLit((L(1),)))),
        ),
        ("f(a, b,)", Call("f", (a, b))),
        ("  a\n==\t1  ", cmp("==", a, L(1))),
    ],
)
def test_structure(text: str, tree: Any) -> None:
    assert parse(text) == tree


def test_positions() -> None:
    node = parse("a > 1 and bb == 'x'")
    assert isinstance(node, Logical)
    assert node.pos == 7
    first, second = node.operands
    assert isinstance(first, Compare) and first.pos == 3 and first.left.pos == 1 and first.right.pos == 5
    assert isinstance(second, Compare) and second.left.pos == 11 and second.right.pos == 17


# --- templates ---------------------------------------------------------------------
def test_templates() -> None:
    params = {
        "n": 5,
        "f": 0.5,
        "s": "it's",
        "flag": False,
        "names": ["a", "b"],
        "t": (1, 2),
        "np_int": np.int32(7),
        "np_arr": np.array([1, 2]),
        "nested": [[1], [2, 3]],
        "neg": -3,
    }
    assert parse("x > {n}", params) == cmp(">", x, L(5))
    assert parse("x > {f}", params) == cmp(">", x, L(0.5))
    assert parse("x == {s}", params) == cmp("==", x, L("it's"))
    assert parse("x == {flag}", params) == cmp("==", x, L(False))
    assert parse("x in {names}", params) == In(x, ListLit((L("a"), L("b"))))
    assert parse("x not in {t}", params) == In(x, ListLit((L(1), L(2))), negated=True)
    assert parse("x == {np_int}", params) == cmp("==", x, L(7))
    assert parse("x in {np_arr}", params) == In(x, ListLit((L(1), L(2))))
    assert parse("json_contains(x, {nested})", params) == Call(
        "json_contains", (x, ListLit((ListLit((L(1),)), ListLit((L(2), L(3))))))
    )
    assert parse("x > { n }", params) == cmp(">", x, L(5))
    assert parse("x > {neg}", params) == cmp(">", x, L(-3))
    assert render(parse("x == {s} and x in {names}", params)) == 'x == "it\'s" and x in ["a", "b"]'


@pytest.mark.parametrize(
    "text,params,message,pos",
    [
        ("x > {v}", None, "no value was given for the template parameter 'v' (pass it in params)", 5),
        ("x > {v}", {"w": 1}, "no value was given for the template parameter 'v' (params has ['w'])", 5),
        ("x > {v}", {"v": None}, "template parameter 'v' is None (null); use a number, string, bool", 5),
        ("x > {v}", {"v": {"a": 1}}, "template parameter 'v' is a dict", 5),
        ("x > {v}", {"v": 2**64}, "out of the 64-bit integer range", 5),
        ("x > {v}", {"v": float("nan")}, "is NaN", 5),
        ("x > {1}", {}, "expected a parameter name inside '{ }', found '1'", 6),
        ("x > {v", {"v": 1}, "unterminated template: '{' at column 5 is never closed", 5),
    ],
)
def test_template_errors(text: str, params: dict[str, Any] | None, message: str, pos: int) -> None:
    with pytest.raises(FilterError) as info:
        parse(text, params)
    assert message in info.value.detail
    assert info.value.position == pos


# --- errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,message,pos",
    [
        ("", "the filter expression is empty", 1),
        ("   ", "the filter expression is empty", 1),
        ("label ==", "expected a value after '=='", 9),
        ("label == ", "expected a value after '=='", 10),
        ("a == 1 and", "expected a value after 'and'", 11),
        ("a == 1 and )", "expected a value after 'and', found ')'", 12),
        ("a > ", "expected a value after '>'", 5),
        ("name == 'abc", "unterminated string starting at column 9", 9),
        ('x == "abc\\"', "unterminated string starting at column 6", 6),
        ('x == "a\\', "unterminated string starting at column 6", 6),
        ("(a == 1", "unbalanced parenthesis: '(' at column 1 is never closed", 1),
        ("((a == 1)", "unbalanced parenthesis: '(' at column 1 is never closed", 1),
        ("a == 1)", "unexpected ')' at column 7 (unbalanced parenthesis)", 7),
        ("(a == 1))", "unexpected ')' at column 9 (unbalanced parenthesis)", 9),
        ("(a == 1 b", "expected ')' to close the '(' at column 1, found 'b'", 9),
        ("a == 1 b", "unexpected 'b' at column 8; expected 'and', 'or' or the end of the expression", 8),
        ("a = 1", "'=' is not an operator; use '==' to compare", 3),
        ("a & b", "the bitwise operator '&' is not supported; use 'and' (or '&&')", 3),
        ("a | b", "the bitwise operator '|' is not supported", 3),
        ("a ^ b", "the bitwise operator '^' is not supported", 3),
        ("~a", "the bitwise operator '~' is not supported", 1),
        ("a << 1 > 0", "the shift operator '<<' is not supported", 3),
        ("a >> 1 > 0", "the shift operator '>>' is not supported", 3),
        ("a =~ 'x'", "regular-expression matching ('=~') is not supported; use 'like'", 3),
        ("a !~ 'x'", "regular-expression matching ('!~') is not supported", 3),
        ("a == 1 ; b", "unexpected character ';'", 8),
        ("a == #", "unexpected character '#'", 6),
        ("$foo == 1", "unknown name '$foo'; only '$meta' may start with '$'", 1),
        (
            "a == 0755",
            "invalid number '0755': leading zeros are not allowed (write 755, or 0o755 for octal)",
            6,
        ),
        ("a == 12abc", "invalid number '12abc'", 6),
        ("a == 1.2.3", "invalid number '1.2.3'", 6),
        ("a == 1e", "invalid number '1e': the exponent has no digits", 6),
        ("a == 0xZZ", "invalid number '0xZZ'", 6),
        ("a == 9223372036854775808", "integer 9223372036854775808 is out of the 64-bit integer range", 6),
        ("a == 99999999999999999999999", "out of the 64-bit integer range", 6),
        (r'a == "\u12"', "invalid escape '\\u': expected 4 hex digits", 7),
        (r'a == "\U00110000"', "not a Unicode code point", 7),
        ("1 < a > 3", "'<' and '>' cannot be chained; a range needs two of '<', '<='", 7),
        (
            "a == 1 == 2",
            "unexpected '==' at column 8: comparisons cannot be chained; use parentheses or 'and'",
            8,
        ),
        ("1 < a < 3 < 4", "unexpected '<' at column 11: comparisons cannot be chained", 11),
        ("a in [1] in [2]", "comparisons cannot be chained", 10),
        ("a in 3", "expected a list after 'in', like [1, 2, 3]; found '3'", 6),
        ("a not in b", "expected a list after 'not in', like [1, 2, 3]; found 'b'", 10),
        ("a in [1, 2", "unterminated list: '[' at column 6 is never closed", 6),
        ("a in [1 2]", "expected ']' to close the '[' at column 6, found '2'", 9),
        ("a in [1, b]", "list items must be constants (numbers, strings, booleans or lists)", 10),
        ("a like 3", "expected a string pattern after 'like', like \"abc%\"", 8),
        ("a like", "expected a string pattern after 'like'", 7),
        ("a not like 'x'", "'not like' is not supported; write not (x like \"...\")", 3),
        ("a is nul", "expected 'null' after 'is', found 'nul'", 6),
        ("a is not 1", "expected 'null' after 'is not', found '1'", 10),
        ("a == null", "null is not a value here; test for null with 'x is null' or 'x is not null'", 6),
        ("m[] == 1", "expected a quoted key or an integer index inside '[ ]', found ']'", 3),
        ("m[-1] == 1", "negative indexes are not supported; indexes start at 0", 3),
        ("m[a] == 1", "expected a quoted key or an integer index inside '[ ]', found 'a'", 3),
        ("m['a' == 1", "expected ']' to close the '[' at column 2, found '=='", 7),
        ("f(a, b", "unbalanced parenthesis: '(' at column 2 is never closed", 2),
        ("f(a b)", "expected ')' to close the '(' at column 2, found 'b'", 5),
        ("and a", "expected a value, found 'and'", 1),
        ("a and or b", "expected a value after 'and', found 'or'", 7),
        ("()", "expected a value after '(', found ')'", 2),
    ],
)
def test_errors(text: str, message: str, pos: int) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    err = info.value
    assert message in err.detail, err.detail
    assert err.position == pos, (err.position, err.detail)
    assert err.expr == text
    assert str(err.message) == f"column {pos}: {err.detail}"


def test_filter_must_be_a_string() -> None:
    with pytest.raises(FilterError, match="must be a string"):
        parse(5)  # type: ignore[arg-type]


# --- rendering -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,canonical",
    [
        ("a==1", "a == 1"),
        ("a AND b OR NOT c", "a and b or not c"),
        ("a && (b || c)", "a and (b or c)"),
        ("(a and b) and c", "(a and b) and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("((a + b)) * c > 1", "(a + b) * c > 1"),
        ("a - (b - c) > 1", "a - (b - c) > 1"),
        ("(a ** b) ** c > 1", "(a ** b) ** c > 1"),
        ("(-2) ** 2 > a", "(-2) ** 2 > a"),
        ("-(2 ** 2) > a", "-2 ** 2 > a"),
        ("-(3) > a", "-(3) > a"),
        ("- - 3 > a", "--3 > a"),
        ("'it\\'s' == a", '"it\'s" == a'),
        ("a == 'line\\nbreak\\u0001'", 'a == "line\\nbreak\\u0001"'),
        ("a in [1,2 , 'x']", 'a in [1, 2, "x"]'),
        ("a NOT IN []", "a not in []"),
        ("a like 'x\\\\%'", 'a like "x\\\\%"'),
        ("a IS NOT NULL", "a is not null"),
        ("(a > 1) is null", "(a > 1) is null"),
        ("array_contains(t, 1)", "ARRAY_CONTAINS(t, 1)"),
        ("EXISTS(m['a'])", 'exists m["a"]'),
        ("$meta['k'][0] > 1", '$meta["k"][0] > 1'),
        ("1 < a <= 2", "1 < a <= 2"),
        ("x == 1e400", "x == 1e999"),
        ("x == 1.0", "x == 1.0"),
        ("x == 0.1", "x == 0.1"),
        ("TRUE", "true"),
        ("not (not a)", "not not a"),
        ("not (a and b)", "not (a and b)"),
        ("x == 0x10", "x == 16"),
    ],
)
def test_render(text: str, canonical: str) -> None:
    tree = parse(text)
    assert render(tree) == canonical
    assert parse(canonical) == tree
