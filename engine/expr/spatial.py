"""Geometry operators in filters: `ST_CONTAINS(geo, 'POLYGON ((...))')` and the rest.

Milvus's operators (docs: "Geometry Operators"), each written all upper or all lower case, take the
GEOMETRY field first and a WKT constant second: ST_EQUALS, ST_CONTAINS, ST_CROSSES, ST_INTERSECTS,
ST_OVERLAPS, ST_TOUCHES, ST_WITHIN; ST_DWITHIN(geo, 'POINT (lon lat)', meters) adds a distance;
ST_ISVALID(geo) takes the field alone. A null geometry gives UNKNOWN (no match, and no match under
`not` either). Semantics and evaluation are in engine/geometry.py.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyarrow as pa

from engine.expr.ast import Call, Literal, Name
from engine.expr.bound import BColumn, BSpatial, Ty
from engine.geometry import (
    PREDICATES,
    GeometryValueError,
    dwithin_mask,
    is_valid_mask,
    parse_wkt,
    predicate_mask,
)

if TYPE_CHECKING:
    from engine.expr.compiler import Binder

OPERATORS = (*sorted(PREDICATES), "st_dwithin", "st_isvalid")


def bind_spatial(binder: Binder, node: Call) -> BSpatial:
    """Check an ST_* call against the schema and read its WKT constant; FilterError if anything is off."""
    name, upper = node.name, node.name.upper()
    if name not in OPERATORS:
        raise binder.fail(f"unknown geometry operator {upper}; Milvus has {', '.join(o.upper() for o in OPERATORS)}",
                          node.pos)
    want = {"st_isvalid": 1, "st_dwithin": 3}.get(name, 2)
    usage = {"st_isvalid": f"{upper}(geo_field)", "st_dwithin": f"{upper}(geo_field, 'POINT (lon lat)', meters)"}
    if len(node.args) != want:
        raise binder.fail(f"{upper} takes {want} argument{'s' if want > 1 else ''}, got {len(node.args)}: "
                          f"{usage.get(name, upper + '(geo_field, ' + repr('WKT') + ')')}", node.pos)
    field = node.args[0]
    col = binder.bind(field) if isinstance(field, Name) else None
    if not isinstance(col, BColumn) or col.ty is not Ty.GEO:
        what = col.desc if col is not None else "a constant"
        raise binder.fail(f"the first argument of {upper} must be a GEOMETRY field; got {what}", field.pos or node.pos)
    if name == "st_isvalid":
        return BSpatial(Ty.BOOL, name, col.name, pos=node.pos, desc=f"{upper}({col.name})")
    wkt = node.args[1]
    if not isinstance(wkt, Literal) or not isinstance(wkt.value, str):
        raise binder.fail(f"the second argument of {upper} must be a WKT string, like 'POINT (1 2)'",
                          wkt.pos or node.pos)
    try:
        query = parse_wkt(wkt.value)
    except GeometryValueError as e:
        raise binder.fail(f"{upper}: {e}", wkt.pos) from None
    if name != "st_dwithin":
        return BSpatial(Ty.BOOL, name, col.name, query, pos=node.pos, desc=f"{upper}({col.name}, ...)")
    if query.geom_type != "Point" or query.is_empty:
        raise binder.fail(f"{upper}: the geometry must be a point ('POINT (lon lat)'), as in Milvus; "
                          f"got {wkt.value!r}", wkt.pos)
    dist = node.args[2]
    value = dist.value if isinstance(dist, Literal) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise binder.fail(f"{upper}: the distance must be a non-negative number of meters", dist.pos or node.pos)
    return BSpatial(Ty.BOOL, name, col.name, query, float(value), pos=node.pos, desc=f"{upper}({col.name}, ...)")


def evaluate(node: BSpatial, column: pa.Array) -> pa.Array:
    """The operator on every row of the GEOMETRY column (WKB): an Arrow boolean array, null where null."""
    if node.op == "st_isvalid":
        return is_valid_mask(column)
    if node.op == "st_dwithin":
        return dwithin_mask(column, node.query, node.distance)
    return predicate_mask(node.op, column, node.query)
