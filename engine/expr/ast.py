"""Syntax tree of a filter expression, and `render()` back to canonical text.

Nodes compare equal by structure; the `pos` (1-based column) is left out of
comparisons so that a parsed tree equals a tree built by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Scalar = bool | int | float | str

# Binding strength, loosest first (used by the renderer; the parser mirrors it).
P_OR, P_AND, P_NOT, P_CMP, P_ADD, P_MUL, P_UNARY, P_POW, P_ATOM = range(1, 10)

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
ARITH_OPS = ("+", "-", "*", "/", "%", "**")
FUNCTIONS = (
    "array_contains",
    "array_contains_all",
    "array_contains_any",
    "array_length",
    "json_contains",
    "json_contains_all",
    "json_contains_any",
)


@dataclass(frozen=True)
class Node:
    """Base class of every syntax node."""

    pos: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    """A number, string or boolean constant."""

    value: Scalar


@dataclass(frozen=True)
class ListLit(Node):
    """A list of constants: `[1, 2, "a"]` (items may be lists)."""

    items: tuple[Literal | ListLit | TimeLit, ...]


@dataclass(frozen=True)
class Name(Node):
    """A bare identifier: a field, a dynamic-field key, or `$meta`."""

    name: str


@dataclass(frozen=True)
class Index(Node):
    """`base[key]`: a JSON key or index, or an ARRAY element."""

    base: Name | Index
    key: int | str


@dataclass(frozen=True)
class Unary(Node):
    """`-x` or `+x`."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Arith(Node):
    """`left op right` for + - * / % **."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    """`left op right` for == != < <= > >=."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Range(Node):
    """`lower op1 middle op2 upper`, e.g. `1 < x <= 5` (both ops point the same way)."""

    lower: Node
    op1: str
    middle: Node
    op2: str
    upper: Node


@dataclass(frozen=True)
class In(Node):
    """`value in [..]` or `value not in [..]`."""

    value: Node
    items: ListLit
    negated: bool = False


@dataclass(frozen=True)
class Like(Node):
    """`value like "pattern"`."""

    value: Node
    pattern: str


@dataclass(frozen=True)
class IsNull(Node):
    """`value is null` or `value is not null`."""

    value: Node
    negated: bool = False


@dataclass(frozen=True)
class Not(Node):
    """`not x` / `!x`."""

    operand: Node


@dataclass(frozen=True)
class Logical(Node):
    """`a and b and ...` or `a or b or ...` (op is "and" or "or"; two or more operands)."""

    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    """A function call; `name` is lower case."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Exists(Node):
    """`exists path`: the JSON key is present."""

    path: Node


@dataclass(frozen=True)
class TimeLit(Node):
    """`ISO '2025-01-01T00:00:00Z'`: a TIMESTAMPTZ constant (read when bound, in the call's time zone)."""

    text: str


@dataclass(frozen=True)
class IntervalLit(Node):
    """`INTERVAL 'P1D'`: an ISO 8601 duration, added to or subtracted from a TIMESTAMPTZ."""

    text: str


def precedence(node: Node) -> int:
    """How tightly `node` binds when rendered without parentheses."""
    if isinstance(node, Logical):
        return P_OR if node.op == "or" else P_AND
    if isinstance(node, Not):
        return P_NOT
    if isinstance(node, (Compare, Range, In, Like, IsNull)):
        return P_CMP
    if isinstance(node, Arith):
        return {"+": P_ADD, "-": P_ADD, "*": P_MUL, "/": P_MUL, "%": P_MUL}.get(node.op, P_POW)
    if isinstance(node, Unary):
        return P_UNARY
    if isinstance(node, Literal) and _is_negative_number(node.value):
        return P_UNARY
    if isinstance(node, Exists):
        return P_UNARY
    return P_ATOM


def _is_negative_number(v: Scalar) -> bool:
    return not isinstance(v, (bool, str)) and (v < 0 or (v == 0 and math.copysign(1.0, v) < 0))


def render_string(s: str) -> str:
    """A double-quoted string literal that the lexer reads back as `s`."""
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_value(v: object) -> str:
    """Render a constant (bool, int, float, str or list of those)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            raise ValueError("NaN has no literal form")
        if math.isinf(v):
            return "1e999" if v > 0 else "-1e999"
        return repr(v)
    if isinstance(v, str):
        return render_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(render_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {type(v).__name__}")


def list_values(node: ListLit) -> list[object]:
    """The Python value of a list literal (nested lists become lists); TimeLit items stay nodes (the
    binder reads them, with the call's time zone, where a TIMESTAMPTZ is compared)."""
    return [list_values(x) if isinstance(x, ListLit) else x if isinstance(x, TimeLit) else x.value
            for x in node.items]


def render(node: Node) -> str:
    """Canonical text of `node`; parsing it gives back an equal tree."""
    return _r(node)


def _wrap(node: Node, min_prec: int) -> str:
    text = _r(node)
    return f"({text})" if precedence(node) < min_prec else text


def _r(node: Node) -> str:
    if isinstance(node, Literal):
        return render_value(node.value)
    if isinstance(node, ListLit):
        return "[" + ", ".join(_r(x) for x in node.items) + "]"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Index):
        key = str(node.key) if isinstance(node.key, int) else render_string(node.key)
        return f"{_r(node.base)}[{key}]"
    if isinstance(node, Unary):
        operand = node.operand
        if isinstance(operand, Literal) and not isinstance(operand.value, (bool, str)):
            if not _is_negative_number(operand.value):
                return f"{node.op}({_r(operand)})"  # "-3" would read back as the literal -3
        return node.op + _wrap(operand, P_UNARY)
    if isinstance(node, Arith):
        if node.op == "**":
            return f"{_wrap(node.left, P_ATOM)} ** {_wrap(node.right, P_UNARY)}"
        p = precedence(node)
        return f"{_wrap(node.left, p)} {node.op} {_wrap(node.right, p + 1)}"
    if isinstance(node, Compare):
        return f"{_wrap(node.left, P_ADD)} {node.op} {_wrap(node.right, P_ADD)}"
    if isinstance(node, Range):
        return (
            f"{_wrap(node.lower, P_ADD)} {node.op1} {_wrap(node.middle, P_ADD)} "
            f"{node.op2} {_wrap(node.upper, P_ADD)}"
        )
    if isinstance(node, In):
        return f"{_wrap(node.value, P_ADD)} {'not in' if node.negated else 'in'} {_r(node.items)}"
    if isinstance(node, Like):
        return f"{_wrap(node.value, P_ADD)} like {render_string(node.pattern)}"
    if isinstance(node, IsNull):
        return f"{_wrap(node.value, P_ADD)} is {'not null' if node.negated else 'null'}"
    if isinstance(node, Not):
        return "not " + _wrap(node.operand, P_NOT)
    if isinstance(node, Logical):
        p = precedence(node)
        return f" {node.op} ".join(_wrap(x, p + 1) for x in node.operands)
    if isinstance(node, Call):
        return f"{node.name.upper()}({', '.join(_r(a) for a in node.args)})"
    if isinstance(node, Exists):
        return "exists " + _wrap(node.path, P_ATOM)
    if isinstance(node, TimeLit):
        return f"ISO {render_string(node.text)}"
    if isinstance(node, IntervalLit):
        return f"INTERVAL {render_string(node.text)}"
    raise TypeError(f"unknown node {type(node).__name__}")
