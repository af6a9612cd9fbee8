"""Scalar semantics shared by constant folding and the per-row JSON paths.

Three-valued results use `True`, `False` and `None` (UNKNOWN). `MISSING`
stands for a JSON key or index that is absent; JSON `null` is `None`. Both
are null for comparisons.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class _Missing:
    """Marker for an absent JSON key / out-of-range index / SQL-null row."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def is_null(v: Any) -> bool:
    """True for SQL null, JSON null and MISSING."""
    return v is None or v is MISSING


def as_number(v: Any) -> int | float | None:
    """`v` if it is an int or float (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def json_equal(a: Any, b: Any) -> bool:
    """Deep JSON equality: numbers by value (1 == 1.0), bools only equal bools."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    na, nb = as_number(a), as_number(b)
    if na is not None or nb is not None:
        return na is not None and nb is not None and na == nb
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return a is None and b is None


def compare(op: str, a: Any, b: Any) -> bool | None:
    """`a op b` with SQL three-valued logic; mismatched types give None (UNKNOWN)."""
    if is_null(a) or is_null(b):
        return None
    na, nb = as_number(a), as_number(b)
    if na is not None and nb is not None:
        if isinstance(na, float) and math.isnan(na) or isinstance(nb, float) and math.isnan(nb):
            return None
        return CMP[op](na, nb)
    if isinstance(a, str) and isinstance(b, str):
        return CMP[op](a, b)
    if op in ("==", "!="):
        if (isinstance(a, bool) and isinstance(b, bool)) or (isinstance(a, list) and isinstance(b, list)):
            eq = json_equal(a, b)
            return eq if op == "==" else not eq
    return None


def kleene_or(values: list[bool | None]) -> bool | None:
    """Three-valued OR of `values` (False when empty)."""
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def kleene_and(values: list[bool | None]) -> bool | None:
    """Three-valued AND of `values` (True when empty)."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def member(x: Any, items: list[Any]) -> bool | None:
    """`x in items`, defined as `x == items[0] or x == items[1] or ...`."""
    return kleene_or([compare("==", x, v) for v in items])


def contains(arr: Any, values: list[Any], all_of: bool) -> bool | None:
    """JSON/ARRAY containment: does list `arr` hold every (`all_of`) / some value of `values`?"""
    if not isinstance(arr, list):
        return None
    hits = [any(json_equal(e, v) for e in arr) for v in values]
    return all(hits) if all_of else any(hits)


def arith(op: str, a: Any, b: Any) -> int | float | None:
    """`a op b` for + - * / % **; None for nulls, non-numbers, division by zero,
    int64 overflow and NaN. Integer + - * % stay integers; / and ** give floats."""
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return None
    if isinstance(x, int) and isinstance(y, int) and op in ("+", "-", "*", "%"):
        if op == "%":
            if y == 0:
                return None
            r = abs(x) % abs(y)
            r = -r if x < 0 else r  # C-style remainder: takes the sign of the dividend
        else:
            r = x + y if op == "+" else x - y if op == "-" else x * y
        return r if INT64_MIN <= r <= INT64_MAX else None
    try:
        fx, fy = float(x), float(y)
    except OverflowError:
        return None
    if op == "+":
        r2 = fx + fy
    elif op == "-":
        r2 = fx - fy
    elif op == "*":
        r2 = fx * fy
    elif op == "/":
        if fy == 0:
            return None
        r2 = fx / fy
    elif op == "%":
        if fy == 0:
            return None
        with np.errstate(all="ignore"):
            r2 = float(np.fmod(np.float64(fx), np.float64(fy)))
    else:
        with np.errstate(all="ignore"):
            r2 = float(np.power(np.float64(fx), np.float64(fy)))
    return None if math.isnan(r2) else r2


def negate(op: str, a: Any) -> int | float | None:
    """Unary `-a` / `+a`; None for non-numbers and for -(-2**63)."""
    x = as_number(a)
    if x is None or op == "+":
        return x
    if isinstance(x, int):
        return -x if -x <= INT64_MAX else None
    return -x


def navigate(value: Any, path: tuple[int | str, ...]) -> Any:
    """Follow a JSON path (object keys and list indexes); MISSING where it leads nowhere."""
    for key in path:
        if isinstance(key, str):
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or not 0 <= key < len(value):
                return MISSING
            value = value[key]
    return value


def navigate_all(values: list[Any], path: tuple[int | str, ...]) -> list[Any]:
    """`navigate(v, path)` for every value, with a fast path for one object key."""
    missing = MISSING
    if len(path) == 1 and isinstance(path[0], str):
        key = path[0]
        return [v.get(key, missing) if type(v) is dict else missing for v in values]
    return [navigate(v, path) for v in values]


def compare_many(op: str, values: list[Any], c: Any) -> list[bool | None]:
    """`compare(op, v, c)` for every value (fast paths for a number or string constant)."""
    fn = CMP[op]
    if c is None:
        return [None] * len(values)
    if type(c) in (int, float) and not (isinstance(c, float) and math.isnan(c)):
        return [fn(v, c) if type(v) is int or type(v) is float else None for v in values]
    if type(c) is str:
        return [fn(v, c) if type(v) is str else None for v in values]
    return [compare(op, v, c) for v in values]
