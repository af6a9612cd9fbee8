"""The bound tree: syntax nodes resolved against a schema, each with a static type.

Produced by engine.expr.compiler, walked by engine.expr.evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.expr.ast import render_value
from engine.types import FLOAT_TYPES, INTEGER_TYPES, DataType


class Ty(Enum):
    """Static type of a bound node."""

    BOOL = "boolean"
    INT = "integer"
    FLOAT = "floating-point"
    NUM = "number"  # int or float, known only at run time (arithmetic on JSON)
    STR = "string"
    JSON = "JSON"
    ARRAY = "ARRAY"
    LIST = "list"
    NULL = "null"
    TIME = "TIMESTAMPTZ"  # microseconds since the epoch, UTC (engine/expr/temporal.py)
    INTERVAL = "INTERVAL"  # microseconds
    GEO = "GEOMETRY"  # only the ST_* operators and `is null` take it (engine/expr/spatial.py)


@dataclass
class B:
    """Base of bound nodes: `ty` is the static type, `pos` the 1-based column, `desc` names it in errors."""

    ty: Ty
    pos: int = field(default=0, kw_only=True)
    desc: str = field(default="", kw_only=True)


@dataclass
class BMatch(B):
    """TEXT_MATCH / PHRASE_MATCH on a VARCHAR column: `match(column)` gives the row mask."""

    column: str
    match: Callable[[Any], Any]


@dataclass
class BConst(B):
    value: Any  # None (null), bool, int, float, str or list


@dataclass
class BColumn(B):
    """A scalar or ARRAY column; `elem` is the ARRAY element type."""

    name: str
    dtype: DataType
    elem: Ty | None = None


@dataclass
class BJson(B):
    """A JSON column (or `$meta`) and a path inside it."""

    column: str
    path: tuple[int | str, ...]


@dataclass
class BElem(B):
    """`column[index]` on an ARRAY field."""

    column: str
    index: int


@dataclass
class BArith(B):
    op: str
    left: B
    right: B | None  # None for unary - and +


@dataclass
class BCompare(B):
    op: str
    left: B
    right: B


@dataclass
class BIn(B):
    value: B
    items: list[Any]


@dataclass
class BLike(B):
    value: B
    pattern: str


@dataclass
class BIsNull(B):
    value: B


@dataclass
class BExists(B):
    value: BJson


@dataclass
class BNot(B):
    operand: B


@dataclass
class BLogic(B):
    op: str  # "and" / "or"
    operands: list[B]


@dataclass
class BContains(B):
    value: B
    items: list[Any]
    all_of: bool


@dataclass
class BLength(B):
    value: B


@dataclass
class BSpatial(B):
    """An ST_* operator on a GEOMETRY column: `op` is its lower-case name, `query` the constant geometry
    (a shapely object), `distance` the meters of ST_DWITHIN."""

    op: str
    column: str
    query: Any = None
    distance: float = 0.0


def scalar_ty(dtype: DataType) -> Ty:
    """Static type of a scalar field type (JSON for anything else)."""
    if dtype in INTEGER_TYPES:
        return Ty.INT
    if dtype in FLOAT_TYPES:
        return Ty.FLOAT
    if dtype == DataType.BOOL:
        return Ty.BOOL
    if dtype == DataType.VARCHAR:
        return Ty.STR
    if dtype == DataType.TIMESTAMPTZ:
        return Ty.TIME
    if dtype == DataType.GEOMETRY:
        return Ty.GEO
    return Ty.JSON


def const_ty(v: Any) -> Ty:
    """Static type of a Python constant."""
    if v is None:
        return Ty.NULL
    if isinstance(v, bool):
        return Ty.BOOL
    if isinstance(v, int):
        return Ty.INT
    if isinstance(v, float):
        return Ty.FLOAT
    if isinstance(v, str):
        return Ty.STR
    return Ty.LIST


def const_desc(v: Any) -> str:
    """How a constant is named in error messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return render_value(v)
    if isinstance(v, (int, float)):
        return f"the number {render_value(v)}"
    if isinstance(v, str):
        return f"the string {render_value(v)}"
    text = render_value(v)
    return f"the list {text if len(text) < 40 else text[:37] + '...'}"


def const_node(v: Any, pos: int) -> BConst:
    """A folded constant node."""
    return BConst(const_ty(v), v, pos=pos, desc=const_desc(v))
