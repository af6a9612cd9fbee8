"""TIMESTAMPTZ in filters: `ISO '...'` and `INTERVAL '...'` constants, their arithmetic and comparisons.

As Milvus documents (docs: "TIMESTAMPTZ Field"): a TIMESTAMPTZ field compares with `==`, `!=`, `<`,
`<=`, `>`, `>=` against `ISO '2025-01-03T00:00:00+08:00'` literals or other TIMESTAMPTZ values, in
UTC; `tsz + INTERVAL 'P1D'` and `tsz - INTERVAL 'PT2H'` shift it by an ISO 8601 duration; `in`,
`not in` and `is [not] null` work as for other scalars. An ISO literal without an offset is read in
the call's time zone (`timezone=`, else the collection's property), and refused without one. A
TIMESTAMPTZ never compares with a number or a string, as in Milvus Lite.

Bound values are microseconds since the epoch: a TIME constant is an int, a TIMESTAMPTZ column is
read as int64, so the evaluator's integer kernels do the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.expr.ast import IntervalLit, ListLit, TimeLit
from engine.expr.bound import B, BArith, BConst, Ty
from engine.timestamptz import TimeValueError, format_micros, parse_interval, parse_timestamp

if TYPE_CHECKING:
    from engine.expr.compiler import Binder

_TIME_TYPES = (Ty.TIME, Ty.INTERVAL)


def time_const(micros: int, pos: int) -> BConst:
    """A TIMESTAMPTZ constant (micros since the epoch), described as its UTC ISO text."""
    import pyarrow as pa

    from engine.timestamptz import ARROW_TYPE

    try:
        text = f"ISO '{format_micros(pa.array([micros], type=pa.int64()).cast(ARROW_TYPE), None)[0]}'"
    except (OverflowError, ValueError):  # shifted by an INTERVAL beyond what a datetime holds
        text = f"{micros} microseconds since 1970"
    return BConst(Ty.TIME, micros, pos=pos, desc=f"the timestamp {text}")


def bind_literal(binder: Binder, node: TimeLit | IntervalLit) -> BConst:
    """The constant of `ISO '...'` (read in the binder's time zone) or `INTERVAL '...'`."""
    try:
        if isinstance(node, TimeLit):
            return time_const(parse_timestamp(node.text, binder.timezone), node.pos)
        return BConst(Ty.INTERVAL, parse_interval(node.text), pos=node.pos, desc=f"INTERVAL {node.text!r}")
    except TimeValueError as e:
        raise binder.fail(str(e), node.pos) from None


def time_items(binder: Binder, items: ListLit, word: str) -> list[Any]:
    """The microseconds of `tsz in [ISO '...', ...]`; every item must be an ISO literal."""
    out: list[Any] = []
    for item in items.items:
        if not isinstance(item, TimeLit):
            raise binder.fail(f"'{word}': a TIMESTAMPTZ field compares only with ISO timestamps, like "
                              "[ISO '2025-01-01T00:00:00Z']", item.pos or items.pos)
        out.append(bind_literal(binder, item).value)
    return out


def has_time_literal(node: ListLit) -> bool:
    """Whether a list literal holds an `ISO '...'` anywhere (only a TIMESTAMPTZ `in` list may)."""
    return any(isinstance(x, TimeLit) or (isinstance(x, ListLit) and has_time_literal(x)) for x in node.items)


def bind_arith(binder: Binder, op: str, operands: list[B], pos: int, desc: str) -> B | None:
    """TIMESTAMPTZ +/- INTERVAL (and INTERVAL + TIMESTAMPTZ) -> TIMESTAMPTZ; None when no operand is a
    TIMESTAMPTZ or an INTERVAL (ordinary arithmetic). FilterError for any other mix."""
    if not any(b.ty in _TIME_TYPES for b in operands):
        return None
    if len(operands) == 2:
        a, b = operands
        shift = (a.ty is Ty.TIME and b.ty is Ty.INTERVAL and op in ("+", "-")) or (
            a.ty is Ty.INTERVAL and b.ty is Ty.TIME and op == "+")
        if shift:
            if isinstance(a, BConst) and isinstance(b, BConst):
                return time_const(a.value + b.value if op == "+" else a.value - b.value, pos)
            return BArith(Ty.TIME, op, a, b, pos=pos, desc=desc)
    names = " and ".join(x.desc for x in operands)
    raise binder.fail(f"arithmetic '{op}' on {names}: a TIMESTAMPTZ only takes '+ INTERVAL' or '- INTERVAL' "
                      "(like tsz + INTERVAL 'P1D')", pos)


def comparable(a: B, b: B) -> bool | None:
    """For a comparison involving a TIMESTAMPTZ, INTERVAL or GEOMETRY: whether the two sides compare
    (only TIMESTAMPTZ with TIMESTAMPTZ, or with null); None when neither side is one of these."""
    special = (Ty.TIME, Ty.INTERVAL, Ty.GEO)
    if a.ty not in special and b.ty not in special:
        return None
    if Ty.NULL in (a.ty, b.ty):
        return Ty.GEO not in (a.ty, b.ty) and Ty.INTERVAL not in (a.ty, b.ty)
    return a.ty is Ty.TIME and b.ty is Ty.TIME
