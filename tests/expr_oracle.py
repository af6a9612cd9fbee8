"""A slow, row-by-row reference evaluator for filter syntax trees.

Written apart from engine.expr's evaluator: it walks the *syntax* tree
(engine.expr.ast) for one row at a time, with plain Python values, and
implements the documented semantics directly:

* three-valued logic: None is UNKNOWN; and/or are Kleene; the row matches
  only when the result is True;
* nulls (SQL null, JSON null, a missing JSON key, an out-of-range index)
  make comparisons UNKNOWN; comparisons between mismatched JSON types too;
* integer + - * % are exact but null when the result leaves int64;
  % takes the sign of the dividend; / and ** are float64; x/0 is null;
  a NaN result is null;
* a FLOAT (float32) column or ARRAY<FLOAT> element compared with a
  constant compares against the constant rounded to float32.

It expects well-typed trees (the engine rejects the others).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

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
from engine.types import DataType

ABSENT = object()  # JSON key / index not present, or the row's JSON is SQL null
LO, HI = -(2**63), 2**63 - 1


def _null(v: Any) -> bool:
    return v is None or v is ABSENT


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _deep_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, bool):
        return a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b) and not (_is_num(a) and _is_num(b)):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return set(a) == set(b) and all(_deep_eq(a[k], b[k]) for k in a)
    return a == b


def _cmp(op: str, a: Any, b: Any) -> bool | None:
    if _null(a) or _null(b):
        return None
    if _is_num(a) and _is_num(b):
        pass
    elif isinstance(a, str) and isinstance(b, str):
        pass
    elif isinstance(a, bool) and isinstance(b, bool) or isinstance(a, list) and isinstance(b, list):
        if op == "==":
            return _deep_eq(a, b)
        if op == "!=":
            return not _deep_eq(a, b)
        return None
    else:
        return None
    return {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def _and(xs: list[bool | None]) -> bool | None:
    out: bool | None = True
    for x in xs:
        if x is False:
            return False
        if x is None:
            out = None
    return out


def _or(xs: list[bool | None]) -> bool | None:
    out: bool | None = False
    for x in xs:
        if x is True:
            return True
        if x is None:
            out = None
    return out


def _not(x: bool | None) -> bool | None:
    return None if x is None else not x


def _int_ok(v: int) -> int | None:
    return v if LO <= v <= HI else None


def _arith(op: str, a: Any, b: Any) -> Any:
    if not (_is_num(a) and _is_num(b)):
        return None
    if isinstance(a, int) and isinstance(b, int) and op != "/" and op != "**":
        if op == "+":
            return _int_ok(a + b)
        if op == "-":
            return _int_ok(a - b)
        if op == "*":
            return _int_ok(a * b)
        if b == 0:
            return None
        rem = abs(a) - (abs(a) // abs(b)) * abs(b)
        return _int_ok(rem if a >= 0 else -rem)
    x, y = np.float64(a), np.float64(b)
    r: Any
    with np.errstate(all="ignore"):
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            if y == 0:
                return None
            r = x / y
        elif op == "%":
            if y == 0:
                return None
            r = np.fmod(x, y)
        else:
            r = np.power(x, y)
    f = float(r)
    return None if math.isnan(f) else f


def like_to_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


class Oracle:
    """Evaluate a syntax tree on rows given as dicts of Python values (JSON columns already decoded)."""

    def __init__(self, schema: CollectionSchema) -> None:
        self.schema = schema

    def matches(self, node: Node, rows: list[dict[str, Any]]) -> list[bool]:
        return [self.truth(node, r) is True for r in rows]

    # --- helpers ---------------------------------------------------------
    def _has_field(self, node: Node) -> bool:
        if isinstance(node, (Name, Index)):
            return True
        if isinstance(node, (Literal, ListLit)):
            return False
        if isinstance(node, Unary):
            return self._has_field(node.operand)
        if isinstance(node, Arith):
            return self._has_field(node.left) or self._has_field(node.right)
        return True

    def _is_f32(self, node: Node) -> bool:
        if isinstance(node, Name):
            f = self.schema.field(node.name)
            return f is not None and f.dtype == DataType.FLOAT
        if isinstance(node, Index) and isinstance(node.base, Name):
            f = self.schema.field(node.base.name)
            return f is not None and f.dtype == DataType.ARRAY and f.element_type == DataType.FLOAT
        return False

    @staticmethod
    def _f32(v: Any) -> Any:
        if _is_num(v):
            with np.errstate(all="ignore"):
                return float(np.float32(v))
        return v

    def _path(self, node: Node) -> tuple[str, list[Any]]:
        keys: list[Any] = []
        while isinstance(node, Index):
            keys.insert(0, node.key)
            node = node.base
        assert isinstance(node, Name)
        return node.name, keys

    # --- values ------------------------------------------------------------
    def value(self, node: Node, row: dict[str, Any]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, ListLit):
            return [self.value(x, row) for x in node.items]
        if isinstance(node, (Name, Index)):
            name, keys = self._path(node)
            f = self.schema.field(name) if name != "$meta" else None
            if f is None:
                cur = row.get("$meta")
                if name != "$meta":
                    keys = [name, *keys]
            else:
                cur = row.get(name)
            if f is not None and f.dtype != DataType.JSON and f.dtype != DataType.ARRAY:
                return cur
            if cur is None and (f is None or f.dtype == DataType.JSON):
                cur = ABSENT
            for k in keys:
                if isinstance(k, str) and isinstance(cur, dict) and k in cur:
                    cur = cur[k]
                elif isinstance(k, int) and isinstance(cur, list) and k < len(cur):
                    cur = cur[k]
                else:
                    return ABSENT
            return cur
        if isinstance(node, Unary):
            v = self.value(node.operand, row)
            if not _is_num(v):
                return None
            if node.op == "+":
                return v
            return _int_ok(-v) if isinstance(v, int) else -v
        if isinstance(node, Arith):
            return _arith(node.op, self.value(node.left, row), self.value(node.right, row))
        if isinstance(node, Call) and node.name == "array_length":
            v = self.value(node.args[0], row)
            return len(v) if isinstance(v, list) else None
        return self.truth(node, row)

    def _side(self, node: Node, other: Node, row: dict[str, Any]) -> Any:
        v = self.value(node, row)
        if self._is_f32(other) and not self._has_field(node):
            return self._f32(v)
        return v

    def compare(self, op: str, left: Node, right: Node, row: dict[str, Any]) -> bool | None:
        return _cmp(op, self._side(left, right, row), self._side(right, left, row))

    # --- conditions ------------------------------------------------------------
    def truth(self, node: Node, row: dict[str, Any]) -> bool | None:
        if isinstance(node, Compare):
            return self.compare(node.op, node.left, node.right, row)
        if isinstance(node, Range):
            return _and(
                [
                    self.compare(node.op1, node.lower, node.middle, row),
                    self.compare(node.op2, node.middle, node.upper, row),
                ]
            )
        if isinstance(node, In):
            x = self.value(node.value, row)
            items = self.value(node.items, row)
            if self._is_f32(node.value):
                items = [self._f32(i) for i in items]
            r = _or([_cmp("==", x, i) for i in items])
            return _not(r) if node.negated else r
        if isinstance(node, Like):
            x = self.value(node.value, row)
            if not isinstance(x, str):
                return None
            return like_to_regex(node.pattern).fullmatch(x) is not None
        if isinstance(node, IsNull):
            r = _null(self.value(node.value, row))
            return not r if node.negated else r
        if isinstance(node, Not):
            return _not(self.truth(node.operand, row))
        if isinstance(node, Logical):
            vals = [self.truth(x, row) for x in node.operands]
            return _and(vals) if node.op == "and" else _or(vals)
        if isinstance(node, Exists):
            return self.value(node.path, row) is not ABSENT
        if isinstance(node, Call):
            arr = self.value(node.args[0], row)
            want = self.value(node.args[1], row)
            if not isinstance(arr, list):
                return None
            if self._is_f32(Index(node.args[0], 0)) if isinstance(node.args[0], Name) else False:
                want = [self._f32(w) for w in want] if isinstance(want, list) else self._f32(want)
            if node.name in ("array_contains", "json_contains"):
                return any(_deep_eq(e, want) for e in arr)
            hits = [any(_deep_eq(e, w) for e in arr) for w in want]
            return all(hits) if node.name.endswith("_all") else any(hits)
        if isinstance(node, Literal):
            return node.value if isinstance(node.value, bool) else None
        # a bare BOOL field or JSON value used as a condition
        v = self.value(node, row)
        return v if isinstance(v, bool) else None
