"""GEOMETRY values: WKT in, WKB in storage, WKT out; spatial predicates with GEOS (shapely).

Milvus (docs: "Geometry Field") takes Well-Known Text: POINT, LINESTRING, POLYGON, MULTIPOINT,
MULTILINESTRING, MULTIPOLYGON and GEOMETRYCOLLECTION, EMPTY forms included, converts it to
Well-Known Binary for storage and returns WKT. The engine does the same: a GEOMETRY column is Arrow
`binary` holding WKB (the exact doubles, so nothing is lost), and reads come back as WKT written
with `shapely.to_wkt(..., rounding_precision=17, trim=True)`: 'POINT (1 2)', the shortest text that
reads back to the same doubles.

The predicates are GEOS's (the library Milvus's own tests take as ground truth, through shapely), so
ST_CONTAINS, ST_WITHIN, ST_INTERSECTS, ST_EQUALS, ST_TOUCHES, ST_OVERLAPS and ST_CROSSES follow
the OGC definitions (a polygon does not contain a point of its boundary). ST_DWITHIN measures in
meters on a sphere of radius 6,371,000 m between (longitude latitude) coordinates, as Milvus
documents (the query geometry must be a point): haversine between points; for a line or polygon,
0 when the point lies on it, else the haversine distance to its nearest point in the plane of the
coordinates.

Why shapely (2.3 MB wheel, needs only numpy): the seven DE-9IM predicates over every geometry
type, holes and collections included, are what a hand-written parser and numpy tests would get
wrong at the edges; GEOS evaluates them vectorised over a whole column.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

__all__ = [
    "ARROW_TYPE",
    "EARTH_RADIUS_M",
    "PREDICATES",
    "GeometryValueError",
    "dwithin_mask",
    "from_wkb_column",
    "haversine_m",
    "is_valid_mask",
    "parse_wkt",
    "predicate_mask",
    "to_wkb",
    "wkt_of",
]

ARROW_TYPE = pa.binary()
EARTH_RADIUS_M = 6_371_000.0
# Milvus's geometry operators and the GEOS predicate each one is (geometry field first).
PREDICATES = {
    "st_equals": shapely.equals,
    "st_contains": shapely.contains,
    "st_crosses": shapely.crosses,
    "st_intersects": shapely.intersects,
    "st_overlaps": shapely.overlaps,
    "st_touches": shapely.touches,
    "st_within": shapely.within,
}
_KINDS = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION")


class GeometryValueError(ValueError):
    """A value that is not a WKT geometry Milvus takes; the message says why."""


def parse_wkt(value: Any) -> shapely.Geometry:
    """The geometry of a WKT string; GeometryValueError for anything else (non-strings, malformed WKT,
    unknown kinds, NaN or infinite coordinates)."""
    if not isinstance(value, str):
        raise GeometryValueError(f"expected a WKT string like 'POINT (1 2)', got {type(value).__name__} {value!r}")
    head = value.strip().split("(", 1)[0].split(" ", 1)[0].strip().upper()
    if head not in _KINDS:
        raise GeometryValueError(f"{_short(value)} is not WKT: it must start with one of {', '.join(_KINDS)}")
    try:
        geom = shapely.from_wkt(value)
    except shapely.errors.GEOSException as e:
        raise GeometryValueError(f"{_short(value)} is not valid WKT: {_geos_reason(e)}") from None
    if geom is None:
        raise GeometryValueError(f"{_short(value)} is not valid WKT")
    if not geom.is_empty and not np.isfinite(shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))).all():
        raise GeometryValueError(f"{_short(value)} has a NaN or infinite coordinate")
    return geom


def to_wkb(value: Any) -> bytes:
    """WKB (what the engine stores) of a WKT string; GeometryValueError if it is not one."""
    return bytes(shapely.to_wkb(parse_wkt(value)))


def from_wkb_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The geometries of a stored GEOMETRY column (None where the row is null), as a numpy object array."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    raw = np.array(arr.to_pylist(), dtype=object)
    return shapely.from_wkb(raw)


def wkt_of(values: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """WKT text of a stored GEOMETRY column, shortest round-trip coordinates ('POINT (1 2)')."""
    geoms = from_wkb_column(values)
    text = shapely.to_wkt(geoms, rounding_precision=17, trim=True)
    return [None if g is None else str(t) for g, t in zip(geoms.tolist(), text.tolist())]


def predicate_mask(name: str, values: pa.Array | pa.ChunkedArray, query: shapely.Geometry) -> pa.Array:
    """`name(field, query)` per row as an Arrow boolean array (null where the field is null)."""
    geoms = from_wkb_column(values)
    valid = np.array([g is not None for g in geoms.tolist()], dtype=bool)
    try:
        hits = PREDICATES[name](geoms, query)
    except shapely.errors.GEOSException as e:  # GEOS can fail on invalid geometries
        raise GeometryValueError(f"{name.upper()} failed on a stored geometry: {_geos_reason(e)}; "
                                 "filter with ST_ISVALID(field) first") from None
    return pa.array(np.asarray(hits, dtype=bool), mask=~valid)


def is_valid_mask(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """ST_ISVALID per row (OGC validity: no self-intersections, closed rings...), null where the field is."""
    geoms = from_wkb_column(values)
    valid = np.array([g is not None for g in geoms.tolist()], dtype=bool)
    return pa.array(np.asarray(shapely.is_valid(geoms), dtype=bool), mask=~valid)


def dwithin_mask(values: pa.Array | pa.ChunkedArray, point: shapely.Geometry, meters: float) -> pa.Array:
    """ST_DWITHIN per row: the field's geometry lies within `meters` of `point` (lon lat degrees)."""
    geoms = from_wkb_column(values)
    valid = np.array([g is not None for g in geoms.tolist()], dtype=bool)
    out = np.zeros(len(geoms), dtype=bool)
    qx, qy = point.x, point.y
    empty = np.array([g is None or g.is_empty for g in geoms.tolist()], dtype=bool)
    idx = np.flatnonzero(~empty)
    if idx.size:
        sub = geoms[idx]
        near = shapely.get_coordinates(shapely.shortest_line(sub, point))[::2]  # nearest point on each geometry
        dist = haversine_m(near[:, 0], near[:, 1], qx, qy)
        dist = np.where(np.asarray(shapely.intersects(sub, point), dtype=bool), 0.0, dist)
        out[idx] = dist <= meters
    return pa.array(out, mask=~valid)


def haversine_m(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Great-circle distance in meters from each (lon, lat) to (lon0, lat0), in degrees."""
    p1, p2 = np.radians(lat), math.radians(lat0)
    dp, dl = p2 - p1, np.radians(lon0 - lon)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _geos_reason(e: Exception) -> str:
    text = str(e)
    return text.split(": ", 1)[1] if ": " in text else text


def _short(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
