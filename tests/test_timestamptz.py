"""TIMESTAMPTZ fields, written from Milvus's documentation ("TIMESTAMPTZ Field", "Query" and "Basic
Vector Search": temporarily set a timezone, "Modify Collection": set the collection time zone).

What each test would catch: input in other offsets not normalised to UTC; filters or ordering not in
UTC; INTERVAL arithmetic off by the offset or the unit; the time-zone levels in the wrong priority;
naive text silently read as UTC; a bad value, zone or interval accepted; a null or default mishandled;
a value changed by a flush, a reopen or the schema's JSON round trip. Differential tests against
Milvus Lite are in tests/test_differential_types.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import DataError, FilterError, MilvusException, ParamError, SchemaError
from engine.schema import CollectionSchema
from engine.timestamptz import parse_timestamp

SHANGHAI = [f"2025-01-0{d}T00:00:00+08:00" for d in range(1, 10)]  # the docs' data, 9 days


def make(c: MilvusClient, name: str = "tz", **props: str) -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("tsz", DataType.TIMESTAMPTZ, nullable=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    c.create_collection(name, schema=s, properties=props or None)
    c.insert(name, [{"id": i + 1, "tsz": t, "vec": [0.1, 0.2, 0.3, float(i)]} for i, t in enumerate(SHANGHAI)])


def ids(c: MilvusClient, flt: str, name: str = "tz", **kw: object) -> list[int]:
    return sorted(r["id"] for r in c.query(name, filter=flt, output_fields=["id"], **kw))


def test_values_are_stored_in_utc_and_returned_as_iso_text(client: MilvusClient) -> None:
    """The docs' expected output: '2025-01-01T00:00:00+08:00' comes back as '2024-12-31T16:00:00Z'."""
    make(client)
    out = client.query("tz", filter="id <= 3", output_fields=["id", "tsz"])
    assert [r["tsz"] for r in out] == ["2024-12-31T16:00:00Z", "2025-01-01T16:00:00Z", "2025-01-02T16:00:00Z"]


def test_comparisons_are_in_utc(client: MilvusClient) -> None:
    make(client)
    assert ids(client, "tsz != ISO '2025-01-03T00:00:00+08:00'") == [1, 2, 4, 5, 6, 7, 8, 9]
    assert ids(client, "tsz == ISO '2025-01-02T16:00:00Z'") == [3]  # the same instant written in UTC
    assert ids(client, "tsz > ISO '2025-01-05T00:00:00+08:00'") == [6, 7, 8, 9]
    assert ids(client, "tsz >= ISO '2025-01-05T00:00:00+08:00' and tsz < ISO '2025-01-07T00:00:00+08:00'") == [5, 6]
    assert ids(client, "ISO '2025-01-02T00:00:00+08:00' >= tsz") == [1, 2]
    assert ids(client, "tsz in [ISO '2025-01-01T00:00:00+08:00', ISO '2025-01-09T00:00:00+08:00']") == [1, 9]
    assert ids(client, "tsz not in [ISO '2025-01-01T00:00:00+08:00']") == [2, 3, 4, 5, 6, 7, 8, 9]


def test_interval_arithmetic(client: MilvusClient) -> None:
    """Docs: `tsz + INTERVAL 'P0D' != ...` is the same filter; P1D, PT3H, P2DT6H durations."""
    make(client)
    assert ids(client, "tsz + INTERVAL 'P0D' != ISO '2025-01-03T00:00:00+08:00'") == [1, 2, 4, 5, 6, 7, 8, 9]
    assert ids(client, "tsz + INTERVAL 'P1D' == ISO '2025-01-03T00:00:00+08:00'") == [2]
    assert ids(client, "tsz - INTERVAL 'PT3H' == ISO '2025-01-02T21:00:00+08:00'") == [3]
    assert ids(client, "tsz + INTERVAL 'P2DT6H' == ISO '2025-01-03T06:00:00+08:00'") == [1]
    assert ids(client, "INTERVAL 'P1W' + tsz == ISO '2025-01-08T00:00:00+08:00'") == [1]
    assert ids(client, "tsz + INTERVAL 'PT0.5S' > ISO '2025-01-09T00:00:00+08:00'") == [9]


def test_search_with_a_timestamp_filter(client: MilvusClient) -> None:
    make(client)
    hits = client.search("tz", data=[[0.1, 0.2, 0.3, 0.4]], limit=5, filter="tsz > ISO '2025-01-05T00:00:00+08:00'",
                         output_fields=["id", "tsz"])
    assert sorted(h["id"] for h in hits[0]) == [6, 7, 8, 9]
    assert all(h["entity"]["tsz"].endswith("T16:00:00Z") for h in hits[0])


def test_time_zone_levels_request_over_collection(client: MilvusClient) -> None:
    """Docs, 'Manage time zones at different levels': query > collection (> database) > UTC."""
    make(client, "tz")
    make(client, "sh", timezone="Asia/Shanghai")
    assert client.describe_collection("sh")["properties"]["timezone"] == "Asia/Shanghai"
    # the collection's zone writes values out and reads ISO text without an offset
    assert client.query("sh", filter="id == 1", output_fields=["tsz"])[0]["tsz"] == "2025-01-01T00:00:00+08:00"
    assert ids(client, "tsz == ISO '2025-01-01T00:00:00'", "sh") == [1]
    # the call's zone wins, for both
    out = client.query("sh", filter="id == 1", output_fields=["tsz"], timezone="America/Havana")
    assert out[0]["tsz"] == "2024-12-31T11:00:00-05:00"
    assert ids(client, "tsz == ISO '2024-12-31T11:00:00'", "sh", timezone="America/Havana") == [1]
    assert client.query("tz", filter="id == 1", output_fields=["tsz"], timezone="UTC")[0]["tsz"] == \
        "2024-12-31T16:00:00Z"
    hits = client.search("sh", data=[[0, 0, 0, 1]], limit=1, filter="id == 2", output_fields=["tsz"], timezone="UTC")
    assert hits[0][0]["entity"]["tsz"] == "2025-01-01T16:00:00Z"


def test_altering_the_collection_time_zone(client: MilvusClient) -> None:
    """Docs, Modify Collection, 'Set collection time zone'; an unknown zone is refused and changes nothing."""
    make(client)
    client.alter_collection_properties("tz", {"timezone": "America/New_York"})
    assert client.query("tz", filter="id == 1", output_fields=["tsz"])[0]["tsz"] == "2024-12-31T11:00:00-05:00"
    client.insert("tz", [{"id": 10, "tsz": "2025-07-01 12:00:00", "vec": [0, 0, 0, 0]}])  # EDT, UTC-4
    assert client.query("tz", filter="id == 10", output_fields=["tsz"], timezone="UTC")[0]["tsz"] == \
        "2025-07-01T16:00:00Z"
    with pytest.raises(ParamError, match="Mars/Olympus"):
        client.alter_collection_properties("tz", {"timezone": "Mars/Olympus"})
    assert client.describe_collection("tz")["properties"]["timezone"] == "America/New_York"
    with pytest.raises(ParamError, match="timezone"):
        client.create_collection("bad", dimension=2, properties={"timezone": "+08:00"})
    assert not client.has_collection("bad")


def test_text_without_an_offset_needs_a_time_zone(client: MilvusClient) -> None:
    make(client)
    for bad in ("2025-01-01T00:00:00", "2025-01-01 00:00:00", "2025-01-01"):
        with pytest.raises(DataError, match="no time-zone offset"):
            client.insert("tz", [{"id": 20, "tsz": bad, "vec": [0, 0, 0, 0]}])
    with pytest.raises(FilterError, match="no time-zone offset"):
        client.query("tz", filter="tsz == ISO '2025-01-01T00:00:00'")
    assert ids(client, "tsz == ISO '2024-12-31T16:00:00'", timezone="UTC") == [1]


@pytest.mark.parametrize("value, match", [
    ("yesterday", "not an ISO 8601 timestamp"),
    ("2025-02-30T00:00:00Z", "not a valid date"),
    ("2025-01-01T24:00:00Z", "not a valid date"),
    ("2025-01-01T00:00:00+25:00", "impossible time-zone offset"),
    (1735689600000000, "expected an ISO 8601 string"),  # pymilvus refuses numbers too
    (1.5, "expected an ISO 8601 string"),
])
def test_bad_values_are_refused_naming_row_and_field(client: MilvusClient, value: object, match: str) -> None:
    make(client)
    with pytest.raises(DataError, match=f"row 1, field 'tsz'.*{match}"):
        client.insert("tz", [{"id": 30, "tsz": "2025-01-01T00:00:00Z", "vec": [0, 0, 0, 0]},
                             {"id": 31, "tsz": value, "vec": [0, 0, 0, 0]}])
    assert client.get("tz", ids=[30]) == []  # the batch is refused whole


def test_a_datetime_object_is_refused_with_a_hint(client: MilvusClient) -> None:
    from datetime import datetime, timezone

    make(client)
    with pytest.raises(DataError, match="isoformat"):
        client.insert("tz", [{"id": 30, "tsz": datetime(2025, 1, 1, tzinfo=timezone.utc), "vec": [0, 0, 0, 0]}])


@pytest.mark.parametrize("flt, match", [
    ("tsz > 0", "cannot compare TIMESTAMPTZ"),
    ("tsz > '2025-01-01T00:00:00Z'", "cannot compare TIMESTAMPTZ"),
    ("tsz + INTERVAL 'P1M' > ISO '2025-01-01T00:00:00Z'", "years and months are not supported"),
    ("tsz + INTERVAL 'P1Y' > ISO '2025-01-01T00:00:00Z'", "years and months"),
    ("tsz + INTERVAL '-P1D' > ISO '2025-01-01T00:00:00Z'", "not an ISO 8601 duration"),
    ("tsz * 2 > ISO '2025-01-01T00:00:00Z'", "only takes '\\+ INTERVAL'"),
    ("tsz - tsz > ISO '2025-01-01T00:00:00Z'", "only takes"),
    ("tsz > ISO 'soon'", "not an ISO 8601 timestamp"),
    ("tsz in [1, 2]", "compares only with ISO timestamps"),
    ("id in [ISO '2025-01-01T00:00:00Z']", "only go with a TIMESTAMPTZ"),
    ("tsz > INTERVAL 'P1D'", "cannot compare"),
])
def test_bad_filters_are_refused(client: MilvusClient, flt: str, match: str) -> None:
    make(client)
    with pytest.raises(FilterError, match=match):
        client.query("tz", filter=flt)


def test_bad_call_time_zone_and_time_fields_are_refused(client: MilvusClient) -> None:
    make(client)
    for kw in ({"timezone": "Nowhere/Place"}, {"timezone": 8}, {"time_fields": "year, week"}, {"time_fields": 3}):
        with pytest.raises(ParamError):
            client.query("tz", filter="id > 0", output_fields=["tsz"], **kw)
        with pytest.raises(ParamError):
            client.search("tz", data=[[0, 0, 0, 1]], limit=1, output_fields=["tsz"], **kw)


def test_time_fields_give_components_in_the_time_zone(client: MilvusClient) -> None:
    make(client)
    out = client.query("tz", filter="id == 1", output_fields=["tsz"], time_fields="year, month, day, hour",
                       timezone="Asia/Shanghai")
    assert out[0]["tsz"] == [2025, 1, 1, 0]
    out = client.query("tz", filter="id == 1", output_fields=["tsz"], time_fields=["day", "hour", "microsecond"])
    assert out[0]["tsz"] == [31, 16, 0]


def test_nullable_and_default(client: MilvusClient) -> None:
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("opt", DataType.TIMESTAMPTZ, nullable=True)
    s.add_field("dflt", DataType.TIMESTAMPTZ, default_value="2025-01-01T00:00:00+08:00")
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("nd", schema=s)
    client.insert("nd", [{"id": 1, "vec": [0, 1]}, {"id": 2, "opt": None, "dflt": None, "vec": [0, 1]},
                         {"id": 3, "opt": "2030-01-01T00:00:00Z", "dflt": "2030-01-01T00:00:00Z", "vec": [0, 1]}])
    out = client.query("nd", filter="id > 0", output_fields=["opt", "dflt"])
    assert [(r["opt"], r["dflt"]) for r in out] == [(None, "2024-12-31T16:00:00Z"), (None, "2024-12-31T16:00:00Z"),
                                                    ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z")]
    assert ids(client, "opt is null", "nd") == [1, 2] and ids(client, "opt is not null", "nd") == [3]
    assert ids(client, "opt > ISO '2000-01-01T00:00:00Z'", "nd") == [3]  # null never matches
    assert ids(client, "not (opt > ISO '2000-01-01T00:00:00Z')", "nd") == []  # UNKNOWN under not too


@pytest.mark.parametrize("default, match", [("2025-01-01T00:00:00", "no time-zone offset"),
                                            ("tomorrow", "not an ISO 8601"), (12, "expected an ISO 8601 string")])
def test_bad_defaults_are_refused(client: MilvusClient, default: object, match: str) -> None:
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("t", DataType.TIMESTAMPTZ, default_value=default)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(SchemaError, match=match):
        client.create_collection("bd", schema=s)


def test_indexes_stl_sort_and_inverted(client: MilvusClient) -> None:
    """Docs: an STL_SORT index accelerates TIMESTAMPTZ filters; results are the same with it."""
    make(client)
    before = ids(client, "tsz > ISO '2025-01-05T00:00:00+08:00'")
    ip = client.prepare_index_params()
    ip.add_index("tsz", index_type="STL_SORT", index_name="tsz_index")
    client.create_index("tz", ip)
    assert client.describe_index("tz", "tsz_index")["index_type"] == "STL_SORT"
    assert ids(client, "tsz > ISO '2025-01-05T00:00:00+08:00'") == before
    bad = client.prepare_index_params()
    bad.add_index("tsz", index_type="RTREE", index_name="r")
    with pytest.raises(ParamError, match="RTREE"):
        client.create_index("tz", bad)


def test_values_survive_flush_reopen_and_the_schema_json(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    make(c)
    c.insert("tz", [{"id": 50, "tsz": "0001-01-02T00:00:00Z", "vec": [0, 0, 0, 0]},
                    {"id": 51, "tsz": "9999-12-30T23:59:59.999999Z", "vec": [0, 0, 0, 0]}])
    for extreme in ("0001-01-01T23:59:59Z", "9999-12-31T00:00:00Z"):  # not writable in every time zone
        with pytest.raises(DataError, match="outside the supported range"):
            c.insert("tz", [{"id": 52, "tsz": extreme, "vec": [0, 0, 0, 0]}])
    far = c.query("tz", filter="id in [50, 51]", output_fields=["tsz"], timezone="Etc/GMT-14")  # UTC+14
    assert [r["tsz"] for r in far] == ["0001-01-02T14:00:00+14:00", "9999-12-31T13:59:59.999999+14:00"]
    before = c.query("tz", filter="id > 0", output_fields=["tsz"])
    c.flush("tz")
    c.close()
    c = MilvusClient(str(db_path))
    assert c.query("tz", filter="id > 0", output_fields=["tsz"]) == before
    assert ids(c, "tsz < ISO '1000-01-01T00:00:00Z'") == [50]
    desc = c.describe_collection("tz")
    schema = CollectionSchema.from_dict(desc)
    assert schema.field("tsz").dtype == DataType.TIMESTAMPTZ and schema.field("tsz").nullable
    c.close()


def test_parse_timestamp_reads_offsets_and_fractions() -> None:
    assert parse_timestamp("2025-05-01T23:59:59+08:00", None) == parse_timestamp("2025-05-01T15:59:59Z", None)
    assert parse_timestamp("2025-05-01T15:59:59.5z", None) - parse_timestamp("2025-05-01T15:59:59Z", None) == 500_000
    assert parse_timestamp("2025-05-01T10:29:59-0530", None) == parse_timestamp("2025-05-01T15:59:59Z", None)
    assert parse_timestamp("2025-05-01T15:59:59.1234567Z", None) % 1_000_000 == 123456  # truncated to microseconds
    assert parse_timestamp("1970-01-01T00:00:00Z", None) == 0


def test_errors_are_milvus_exceptions(client: MilvusClient) -> None:
    make(client)
    for call in (lambda: client.insert("tz", [{"id": 1, "tsz": "x", "vec": [0, 0, 0, 0]}]),
                 lambda: client.query("tz", filter="tsz > ISO 'x'"),
                 lambda: client.query("tz", filter="id > 0", timezone="X/Y")):
        with pytest.raises(MilvusException):
            call()


def test_search_takes_timezone_and_time_fields_in_search_params_too(client: MilvusClient) -> None:
    """pymilvus sends `timezone=`/`time_fields=` inside the search parameters; both spellings work."""
    make(client)
    for kw in ({"timezone": "Asia/Shanghai", "time_fields": "day, hour"},
               {"search_params": {"timezone": "Asia/Shanghai", "time_fields": "day, hour"}}):
        hits = client.search("tz", data=[[0.1, 0.2, 0.3, 0.0]], limit=1, filter="id == 1", output_fields=["tsz"],
                             **kw)
        assert hits[0][0]["entity"]["tsz"] == [1, 0]
    with pytest.raises(ParamError, match="Nope/X"):
        client.search("tz", data=[[0, 0, 0, 1]], limit=1, search_params={"timezone": "Nope/X"})


def test_interval_shifts_beyond_the_calendar_still_compare(client: MilvusClient) -> None:
    make(client)
    assert ids(client, "tsz < ISO '9999-12-30T00:00:00Z' + INTERVAL 'P10D'") == list(range(1, 10))
    assert ids(client, "tsz - INTERVAL 'P3000000D' < ISO '0001-01-02T00:00:00Z'") == list(range(1, 10))
