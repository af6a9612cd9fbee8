"""GEOMETRY fields and the spatial operators, written from Milvus's documentation ("Geometry Field",
"Geometry Operators", "RTREE").

The expected answers are worked out by hand from the documented definitions (OGC): ST_CONTAINS and
ST_WITHIN need the interiors to meet, so a polygon does not contain a point of its boundary;
ST_TOUCHES is boundaries only; ST_OVERLAPS is same-dimension partial overlap; ST_CROSSES a line
through a polygon; ST_DWITHIN is meters between (longitude latitude) points on the Earth's sphere.
What each test would catch: an operator with the wrong semantics at edges and vertices, a geometry
kind that is refused or garbled, a coordinate that loses bits, null or invalid geometries mishandled,
bad WKT or bad operator use accepted. Differential tests against Milvus Lite are in
tests/test_differential_types.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import DataError, FilterError, MilvusException, ParamError, SchemaError

A = "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"
SHAPES = {
    1: "POINT (5 5)",  # inside A
    2: "POINT (0 5)",  # on A's boundary
    3: "POINT (20 20)",  # away from A
    4: A,
    5: "POLYGON ((10 0, 20 0, 20 10, 10 10, 10 0))",  # shares A's right edge
    6: "POLYGON ((5 5, 15 5, 15 15, 5 15, 5 5))",  # overlaps A's corner
    7: "LINESTRING (5 -5, 5 15)",  # crosses A
    8: "LINESTRING (0 0, 10 0)",  # lies on A's bottom edge
    9: "POLYGON ((2 2, 4 2, 4 4, 2 4, 2 2))",  # inside A
    10: None,
    11: "POLYGON ((10 10, 0 10, 0 0, 10 0, 10 10))",  # A again, from another vertex
}


def make(c: MilvusClient, shapes: dict[int, str | None] = SHAPES, name: str = "g") -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("geo", DataType.GEOMETRY, nullable=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    c.create_collection(name, schema=s)
    c.insert(name, [{"id": i, "geo": g, "vec": [1.0, float(i)]} for i, g in shapes.items()])


def ids(c: MilvusClient, flt: str, name: str = "g") -> list[int]:
    return sorted(r["id"] for r in c.query(name, filter=flt, output_fields=["id"]))


@pytest.mark.parametrize("op, expected", [
    ("ST_EQUALS", [4, 11]),
    ("ST_CONTAINS", [4, 11]),
    ("ST_WITHIN", [1, 4, 9, 11]),
    ("ST_INTERSECTS", [1, 2, 4, 5, 6, 7, 8, 9, 11]),
    ("ST_TOUCHES", [2, 5, 8]),
    ("ST_OVERLAPS", [6]),
    ("ST_CROSSES", [7]),
])
def test_operators_against_a_polygon(client: MilvusClient, op: str, expected: list[int]) -> None:
    make(client)
    assert ids(client, f"{op}(geo, '{A}')") == expected
    assert ids(client, f"{op.lower()}(geo, '{A}')") == expected  # all lower case works too
    # `not` leaves the null row out (UNKNOWN), like any comparison on null
    assert ids(client, f"not {op}(geo, '{A}')") == sorted(set(SHAPES) - set(expected) - {10})


def test_contains_a_point_needs_the_interiors_to_meet(client: MilvusClient) -> None:
    make(client)
    assert ids(client, "ST_CONTAINS(geo, 'POINT (5 5)')") == [1, 4, 7, 11]  # 6 has (5 5) as a vertex
    assert ids(client, "ST_CONTAINS(geo, 'POINT (0 5)')") == [2]  # on A's boundary: A does not contain it
    assert ids(client, "ST_INTERSECTS(geo, 'POINT (0 5)')") == [2, 4, 11]
    assert ids(client, "ST_WITHIN(geo, 'POINT (5 5)')") == [1]


def test_dwithin_is_meters_between_longitude_latitude_points(client: MilvusClient) -> None:
    """Docs: distance in meters, geometry B a point; one degree along the equator is 111,194.9 m."""
    make(client, {1: "POINT (0 0)", 2: "POINT (0.001 0)", 3: "POINT (0.01 0)", 4: "POINT (1 0)",
                  5: "POLYGON ((-1 -1, 1 -1, 1 1, -1 1, -1 -1))", 6: "POINT (120 30)", 7: None}, "lonlat")
    assert ids(client, "ST_DWITHIN(geo, 'POINT (0 0)', 200)", "lonlat") == [1, 2, 5]
    assert ids(client, "ST_DWITHIN(geo, 'POINT (0 0)', 2000)", "lonlat") == [1, 2, 3, 5]
    assert ids(client, "ST_DWITHIN(geo, 'POINT (0 0)', 111194)", "lonlat") == [1, 2, 3, 5]
    assert ids(client, "ST_DWITHIN(geo, 'POINT (0 0)', 111195)", "lonlat") == [1, 2, 3, 4, 5]
    assert ids(client, "ST_DWITHIN(geo, 'POINT(120 30)', 5000)", "lonlat") == [6]  # the docs' example
    assert ids(client, "ST_DWITHIN(geo, 'POINT (3 0)', 2.5e5)", "lonlat") == [4, 5]  # 5's nearest point is (1 0)


def test_every_wkt_kind_is_stored_and_returned(client: MilvusClient) -> None:
    """The docs' list of geometry objects, EMPTY forms included; WKT comes back normalised
    (upper case, one space, shortest round-trip numbers) and coordinates keep every bit."""
    given = {
        1: "POINT (13.403683 52.520711)",
        2: "LINESTRING (13.40 52.52, 13.41 52.51)",
        3: "POLYGON ((30 10, 40 40, 20 40, 10 20, 30 10))",
        4: "MULTIPOINT ((10 40), (40 30), (20 20), (30 10))",
        5: "MULTILINESTRING ((10 10, 20 20, 10 40), (40 40, 30 30, 40 20, 30 10))",
        6: "MULTIPOLYGON (((30 20, 45 40, 10 40, 30 20)), ((15 5, 40 10, 10 20, 5 10, 15 5)))",
        7: "GEOMETRYCOLLECTION (POINT (40 10), LINESTRING (10 10, 20 20, 10 40), POLYGON ((40 40, 20 45, 45 30, 40 40)))",
        8: "point(1e1   2.50)",
        9: "POINT (0.1 0.30000000000000004)",
        10: "LINESTRING EMPTY",
        11: "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 4, 4 4, 4 2, 2 2))",  # with a hole
    }
    make(client, given, "kinds")
    out = {r["id"]: r["geo"] for r in client.query("kinds", filter="id > 0", output_fields=["geo"])}
    expected = {**given, 2: "LINESTRING (13.4 52.52, 13.41 52.51)", 8: "POINT (10 2.5)"}
    assert out == expected
    assert ids(client, "ST_CONTAINS(geo, 'POINT (3 3)')", "kinds") == []  # (3 3) is in 11's hole
    assert ids(client, "ST_CONTAINS(geo, 'POINT (1 1)')", "kinds") == [11]


def test_validity_is_checked_by_st_isvalid_not_at_insert(client: MilvusClient) -> None:
    """A self-intersecting ring is well-formed WKT: it is stored, and ST_ISVALID tells it apart."""
    make(client, {1: "POLYGON ((0 0, 4 0, 0 4, 4 4, 0 0))", 2: "POLYGON ((0 0, 4 0, 4 4, 0 0))", 3: None}, "valid")
    assert ids(client, "ST_ISVALID(geo)", "valid") == [2]
    assert ids(client, "not ST_ISVALID(geo)", "valid") == [1]
    assert ids(client, "geo is null", "valid") == [3]


@pytest.mark.parametrize("value, match", [
    ("garbage", "is not WKT"),
    ("POINT (1)", "not valid WKT"),
    ("POLYGON ((0 0, 1 0, 1 1))", "not valid WKT"),
    ("POINT (1 2) POINT (3 4)", "not valid WKT"),
    ("POINT (nan 1)", "NaN or infinite"),
    ("CIRCULARSTRING (0 0, 1 1, 2 0)", "is not WKT"),
    ("SRID=4326;POINT (1 2)", "is not WKT"),
    (5, "expected a WKT string"),
    (b"POINT (1 2)", "expected a WKT string"),
])
def test_bad_values_are_refused_naming_row_and_field(client: MilvusClient, value: object, match: str) -> None:
    make(client)
    with pytest.raises(DataError, match=f"row 1, field 'geo'.*{match}"):
        client.insert("g", [{"id": 100, "geo": "POINT (1 1)", "vec": [0, 0]}, {"id": 101, "geo": value, "vec": [0, 0]}])
    assert client.get("g", ids=[100]) == []


@pytest.mark.parametrize("flt, match", [
    ("St_Contains(geo, 'POINT (1 1)')", "all upper case or all lower case"),
    ("ST_CONTAINS(geo)", "takes 2 arguments"),
    ("ST_ISVALID(geo, 'POINT (1 1)')", "takes 1 argument"),
    ("ST_DWITHIN(geo, 'POINT (1 1)')", "takes 3 arguments"),
    ("ST_DWITHIN(geo, 'POLYGON ((0 0, 1 0, 1 1, 0 0))', 5)", "must be a point"),
    ("ST_DWITHIN(geo, 'POINT (1 1)', -1)", "non-negative"),
    ("ST_DWITHIN(geo, 'POINT (1 1)', '5')", "non-negative number"),
    ("ST_CONTAINS('POINT (1 1)', geo)", "must be a GEOMETRY field"),
    ("ST_CONTAINS(id, 'POINT (1 1)')", "must be a GEOMETRY field"),
    ("ST_CONTAINS(geo, 5)", "must be a WKT string"),
    ("ST_CONTAINS(geo, 'POINT (1')", "not valid WKT"),
    ("ST_AREA(geo) > 1", "unknown geometry operator ST_AREA"),
    ("geo == 'POINT (1 1)'", "cannot compare GEOMETRY"),
    ("geo in ['POINT (1 1)']", "cannot compare GEOMETRY"),
    ("geo + 1 > 2", "arithmetic"),
    ("geo like 'POINT%'", "'like' needs"),
])
def test_bad_filters_are_refused(client: MilvusClient, flt: str, match: str) -> None:
    make(client)
    with pytest.raises(FilterError, match=match):
        client.query("g", filter=flt)


def test_search_with_a_spatial_filter(client: MilvusClient) -> None:
    make(client)
    hits = client.search("g", data=[[1.0, 0.0]], limit=10, filter=f"ST_WITHIN(geo, '{A}')", output_fields=["geo"])
    assert sorted(h["id"] for h in hits[0]) == [1, 4, 9, 11]
    assert {h["id"]: h["entity"]["geo"] for h in hits[0]}[1] == "POINT (5 5)"


def test_rtree_index_is_accepted_and_changes_no_result(client: MilvusClient) -> None:
    make(client)
    before = ids(client, f"ST_INTERSECTS(geo, '{A}')")
    ip = client.prepare_index_params()
    ip.add_index("geo", index_type="RTREE")
    client.create_index("g", ip)
    assert client.describe_index("g", "geo")["index_type"] == "RTREE"
    assert ids(client, f"ST_INTERSECTS(geo, '{A}')") == before
    for bad in ("INVERTED", "STL_SORT"):
        other = client.prepare_index_params()
        other.add_index("geo", index_type=bad, index_name=f"g_{bad}")
        with pytest.raises(ParamError, match="GEOMETRY"):
            client.create_index("g", other)


def test_default_value_and_bad_defaults(client: MilvusClient) -> None:
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("geo", DataType.GEOMETRY, default_value="POINT (0 0)")
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("d", schema=s)
    client.insert("d", [{"id": 1, "vec": [0, 1]}, {"id": 2, "geo": None, "vec": [0, 1]}])
    assert [r["geo"] for r in client.query("d", filter="id > 0", output_fields=["geo"])] == ["POINT (0 0)"] * 2
    bad = client.create_schema()
    bad.add_field("id", DataType.INT64, is_primary=True)
    bad.add_field("geo", DataType.GEOMETRY, default_value="nowhere")
    bad.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(SchemaError, match="default_value"):
        client.create_collection("bad", schema=bad)


def test_geometries_survive_flush_and_reopen(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    make(c)
    before = c.query("g", filter="id > 0", output_fields=["geo"])
    c.flush("g")
    c.close()
    c = MilvusClient(str(db_path))
    assert c.query("g", filter="id > 0", output_fields=["geo"]) == before
    assert ids(c, f"ST_EQUALS(geo, '{A}')") == [4, 11]
    c.close()


def test_partial_update_of_a_geometry(client: MilvusClient) -> None:
    make(client)
    client.upsert("g", [{"id": 3, "geo": "POINT (1 1)"}], partial_update=True)
    assert ids(client, "ST_CONTAINS(geo, 'POINT (1 1)')") == [3, 4, 11]


def test_errors_are_milvus_exceptions(client: MilvusClient) -> None:
    make(client)
    for call in (lambda: client.insert("g", [{"id": 1, "geo": "x", "vec": [0, 0]}]),
                 lambda: client.query("g", filter="ST_CONTAINS(geo, 'x')")):
        with pytest.raises(MilvusException):
            call()
