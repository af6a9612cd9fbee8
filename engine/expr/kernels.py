"""Vectorised building blocks over Arrow arrays: element access, checked
integer arithmetic, exact numeric comparison with a constant, `in` sets.

Integer comparisons with a constant are exact (a float constant is turned into
the equivalent integer bound; constants outside the column type's range give
a constant answer). A FLOAT (float32) column is compared with the constant
rounded to float32.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.expr import values as V
from engine.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")  # loaded by the first filter: see engine/lazy.py

_INT64_MIN = np.int64(V.INT64_MIN)
PC_CMP = {  # names resolved at call time: pyarrow.compute loads lazily (engine/lazy.py)
    "==": lambda a, b: pc.equal(a, b),
    "!=": lambda a, b: pc.not_equal(a, b),
    "<": lambda a, b: pc.less(a, b),
    "<=": lambda a, b: pc.less_equal(a, b),
    ">": lambda a, b: pc.greater(a, b),
    ">=": lambda a, b: pc.greater_equal(a, b),
}


def list_element(arr: pa.Array, index: int) -> pa.Array:
    """Element `index` of every list; null where the list is null or too short."""
    elem_type = arr.type.value_type
    n = len(arr)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    ok = lengths > index
    if not ok.any():
        return pa.nulls(n, elem_type)
    offsets = arr.offsets.to_numpy(zero_copy_only=False)[:-1].astype(np.int64)
    idx = np.where(ok, offsets + index, 0)
    taken = arr.values.take(pa.array(idx))
    return pc.if_else(pa.array(ok), taken, pa.scalar(None, elem_type))


def _np(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values with nulls filled, validity) of a numeric Arrow array."""
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    filled = pc.fill_null(arr, pa.scalar(0, arr.type)) if arr.null_count else arr
    return filled.to_numpy(zero_copy_only=False), valid


def _is_int_type(t: pa.DataType) -> bool:
    return pa.types.is_integer(t)


def _operand(v: pa.Array | int | float) -> tuple[np.ndarray | Any, np.ndarray | None, bool]:
    if not isinstance(v, pa.Array):
        return v, None, isinstance(v, int)
    vals, valid = _np(v)
    return vals, valid, _is_int_type(v.type)


def arith_arrays(op: str, a: pa.Array | int | float, b: pa.Array | int | float, n: int) -> pa.Array:
    """`a op b` over `n` rows (either side may be a non-null Python number); see values.arith for the rules."""
    av, am, a_int = _operand(a)
    bv, bm, b_int = _operand(b)
    valid = np.ones(n, dtype=bool)
    for m in (am, bm):
        if m is not None:
            valid &= m
    with np.errstate(all="ignore"):
        if a_int and b_int and op in ("+", "-", "*", "%"):
            x = np.asarray(av, dtype=np.int64)
            y = np.asarray(bv, dtype=np.int64)
            if op == "+":
                r = x + y
                bad = ((x ^ r) & (y ^ r)) < 0
            elif op == "-":
                r = x - y
                bad = ((x ^ y) & (x ^ r)) < 0
            elif op == "*":
                r = x * y
                safe_x = np.where(x == 0, 1, x)
                bad = (x != 0) & ((r // safe_x != y) | ((x == -1) & (y == _INT64_MIN)))
            else:
                zero = y == 0
                safe_y = np.where(zero | (y == -1), 1, y)
                r = np.fmod(x, safe_y)
                bad = zero
            valid = valid & ~np.broadcast_to(bad, (n,))
            return pa.array(np.ascontiguousarray(np.broadcast_to(r, (n,))), type=pa.int64(), mask=~valid)
        fx = np.asarray(av, dtype=np.float64)
        fy = np.asarray(bv, dtype=np.float64)
        if op == "+":
            fr = fx + fy
        elif op == "-":
            fr = fx - fy
        elif op == "*":
            fr = fx * fy
        elif op == "/":
            valid = valid & ~np.broadcast_to(fy == 0, (n,))
            fr = fx / np.where(fy == 0, 1.0, fy)
        elif op == "%":
            valid = valid & ~np.broadcast_to(fy == 0, (n,))
            fr = np.fmod(fx, np.where(fy == 0, 1.0, fy))
        else:
            fr = np.power(fx, fy)
        fr = np.ascontiguousarray(np.broadcast_to(fr, (n,)))
        valid = valid & ~np.isnan(fr)
        return pa.array(fr, type=pa.float64(), mask=~valid)


def negate_array(op: str, arr: pa.Array) -> pa.Array:
    """Unary `-arr` / `+arr` as int64 or float64; -(-2**63) is null."""
    vals, valid = _np(arr)
    if _is_int_type(arr.type):
        x = vals.astype(np.int64)
        if op == "+":
            return pa.array(x, mask=~valid)
        with np.errstate(all="ignore"):
            return pa.array(-x, mask=~(valid & (x != _INT64_MIN)))
    x = vals.astype(np.float64)
    return pa.array(x if op == "+" else -x, mask=~valid)


def common_type(x: pa.Array, y: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Cast two numeric arrays to a shared type: int64 if both are integers, else float64."""
    tx, ty = x.type, y.type
    if tx == ty:
        return x, y
    if (pa.types.is_integer(tx) or pa.types.is_floating(tx)) and (
        pa.types.is_integer(ty) or pa.types.is_floating(ty)
    ):
        target = pa.int64() if pa.types.is_integer(tx) and pa.types.is_integer(ty) else pa.float64()
        return x.cast(target), y.cast(target)
    return x, y


_INT_RANGE = {
    pa.int8(): (-(2**7), 2**7 - 1),
    pa.int16(): (-(2**15), 2**15 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (V.INT64_MIN, V.INT64_MAX),
}


def broadcast_bool(value: bool | None, like: pa.Array) -> pa.Array:
    """`value` on rows where `like` is valid, null elsewhere."""
    if value is None:
        return pa.nulls(len(like), pa.bool_())
    valid = like.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(np.full(len(like), value, dtype=bool), mask=~valid)


def compare_scalar(op: str, arr: pa.Array, c: Any) -> pa.Array:
    """`arr op c` for a typed Arrow array and a Python constant, exact for integers."""
    if c is None:
        return pa.nulls(len(arr), pa.bool_())
    t = arr.type
    num = V.as_number(c)
    if pa.types.is_integer(t) and num is not None:
        lo, hi = _INT_RANGE.get(t, (V.INT64_MIN, V.INT64_MAX))
        if isinstance(num, float):
            if math.isinf(num):
                return broadcast_bool(V.compare(op, 0, num), arr)
            if op in ("==", "!="):
                if not num.is_integer():
                    return broadcast_bool(op == "!=", arr)
                num = int(num)
            else:
                num = math.ceil(num) if op in ("<", ">=") else math.floor(num)
        if num > hi:
            return broadcast_bool(V.compare(op, hi, num), arr)
        if num < lo:
            return broadcast_bool(V.compare(op, lo, num), arr)
        return PC_CMP[op](arr, pa.scalar(num, t))
    if pa.types.is_floating(t) and num is not None:
        if t == pa.float32():
            with np.errstate(all="ignore"):
                scalar = pa.scalar(np.float32(num), pa.float32())
        else:
            scalar = pa.scalar(float(num), pa.float64())
        return PC_CMP[op](arr, scalar)
    if pa.types.is_boolean(t) and isinstance(c, bool):
        return PC_CMP[op](arr, pa.scalar(c))
    if (pa.types.is_string(t) or pa.types.is_large_string(t)) and isinstance(c, str):
        return PC_CMP[op](arr, pa.scalar(c, t))
    # Types the binder would have rejected: treat as UNKNOWN.
    return pa.nulls(len(arr), pa.bool_())


def in_values(t: pa.DataType, items: list[Any]) -> list[Any]:
    """Items of an `in` list that some value of type `t` can equal, converted to `t`."""
    out: list[Any] = []
    for item in items:
        num = V.as_number(item)
        if pa.types.is_integer(t):
            if isinstance(num, float) and num.is_integer():
                num = int(num)
            lo, hi = _INT_RANGE.get(t, (V.INT64_MIN, V.INT64_MAX))
            if isinstance(num, int) and lo <= num <= hi:
                out.append(num)
        elif pa.types.is_floating(t):
            if num is not None and not (isinstance(num, int) and float(num) != num and t == pa.float64()):
                with np.errstate(all="ignore"):
                    out.append(float(np.float32(num)) if t == pa.float32() else float(num))
        elif pa.types.is_boolean(t):
            if isinstance(item, bool):
                out.append(item)
        elif isinstance(item, str):
            out.append(item)
    return out
