"""TIMESTAMPTZ and GEOMETRY through workbench.transfer and workbench.backends.capabilities.

Export to Parquet and JSONL and import back loses nothing (the instant of every TIMESTAMPTZ to the
microsecond, in whatever time zone it is written out; every GEOMETRY coordinate to the last bit), a
copy to Milvus Lite and back keeps both types, and a server too old for them is refused naming the
fields (Milvus docs: GEOMETRY 2.6.4+, TIMESTAMPTZ 2.6.6+, merge-mode upsert 2.6.2+).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.backends import (
    FLOAT_VECTOR,
    GEOMETRY,
    INT64,
    TIMESTAMPTZ,
    CapabilityError,
    EmbeddedBackend,
    MilvusBackend,
    milvus_capabilities,
    schema_features,
)
from workbench.backends.capabilities import EMBEDDED_CAPABILITIES
from workbench.transfer import (
    canonical_row,
    copy_collection,
    export_to_file,
    import_collection,
    map_schema,
    run,
)

SCHEMA: dict[str, Any] = {
    "enable_dynamic_field": False,
    "description": "types",
    "fields": [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 2}},
        {"name": "tsz", "type": TIMESTAMPTZ, "nullable": True},
        {"name": "geo", "type": GEOMETRY, "nullable": True},
    ],
}
INDEXES = [{"field_name": "v", "index_type": "FLAT", "metric_type": "L2", "params": {}}]
TIMES = ["2025-05-01T23:59:59+08:00", "1969-07-20T20:17:40.123456Z", "2300-01-01T00:00:00.000001-05:30", None]
# Milvus Lite holds POINT and POLYGON only; the engine every WKT kind.
LITE_SHAPES = ["POINT (13.403683 52.520711)", "POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0))", "POINT (0.1 0.30000000000000004)",
               None]
ALL_SHAPES = [*LITE_SHAPES, "LINESTRING (1 2, 3 4.5)", "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
              "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))", "POINT EMPTY"]


def rows(shapes: list[str | None]) -> list[dict[str, Any]]:
    return [{"id": i, "v": [float(i), 1.0], "tsz": TIMES[i % len(TIMES)], "geo": g} for i, g in enumerate(shapes)]


@pytest.fixture
def src(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "src.db")
    yield b
    b.close()


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "dst.db")
    yield b
    b.close()


def read(b: Any, name: str) -> dict[Any, dict[str, Any]]:
    return {r["id"]: r for batch in b.iter_rows(name, batch_size=100) for r in batch}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_and_import_keep_instants_and_coordinates(src: EmbeddedBackend, dst: EmbeddedBackend,
                                                          tmp_path: Path, fmt: str) -> None:
    src.create_collection("c", SCHEMA, INDEXES)
    src.insert("c", rows(ALL_SHAPES))
    src.flush("c")
    report = export_to_file(src, "c", tmp_path / f"c.{fmt}", fmt=fmt)
    assert report.rows == len(ALL_SHAPES)
    if fmt == "parquet":
        table = pq.read_table(tmp_path / "c.parquet")
        assert table.schema.field("tsz").type == pa.timestamp("us", tz="UTC")  # typed, readable by any tool
        assert table.schema.field("geo").type == pa.string()
    imported = run(import_collection(dst, tmp_path / f"c.{fmt}", "c"))
    assert imported.ok, imported.summary()
    assert dst.schema("c") == src.schema("c")
    a, b = read(src, "c"), read(dst, "c")
    assert a == b  # the same ISO text and the same WKT text, row by row
    assert a[1]["tsz"] == "1969-07-20T20:17:40.123456Z" and a[2]["tsz"] == "2300-01-01T05:30:00.000001Z"
    assert a[2]["geo"] == "POINT (0.1 0.30000000000000004)" and a[7]["geo"] == "POINT EMPTY"


def test_checksums_compare_instants_not_their_time_zone() -> None:
    """A TIMESTAMPTZ read back in another time zone (collection property) is the same value."""
    utc = canonical_row({"id": 1, "v": [0, 0], "tsz": "2025-01-01T00:00:00Z", "geo": "POINT (1 2)"}, SCHEMA)
    other = canonical_row({"id": 1, "v": [0, 0], "tsz": "2025-01-01T08:00:00+08:00", "geo": "POINT(1 2)"}, SCHEMA)
    moved = canonical_row({"id": 1, "v": [0, 0], "tsz": "2025-01-01T00:00:01Z", "geo": "POINT (1 2)"}, SCHEMA)
    assert utc == other and utc != moved


def test_copy_to_milvus_lite_and_back_keeps_both_types(src: EmbeddedBackend, dst: EmbeddedBackend,
                                                        lite: MilvusBackend) -> None:
    src.create_collection("types_lite", SCHEMA, INDEXES)
    src.insert("types_lite", rows(LITE_SHAPES))
    report = run(copy_collection(src, lite, "types_lite", verify="full"))
    assert report.ok, report.summary()
    report = run(copy_collection(lite, dst, "types_lite", verify="full"))
    assert report.ok, report.summary()
    assert read(src, "types_lite") == read(dst, "types_lite")


def test_capabilities_report_the_new_types_per_backend() -> None:
    for feat in ("timestamptz", "geometry", "partial_update"):
        assert EMBEDDED_CAPABILITIES.supports(feat)
        assert milvus_capabilities("milvus_lite-3.2.2", lite=True).supports(feat)
        assert milvus_capabilities("v2.6.6", lite=False).supports(feat)
        assert not milvus_capabilities("v2.5.10", lite=False).supports(feat)
    v264 = milvus_capabilities("v2.6.4", lite=False)
    assert v264.supports("geometry") and v264.supports("partial_update") and not v264.supports("timestamptz")
    assert "2.6.6" in (v264.why_not("timestamptz") or "")
    assert schema_features(SCHEMA) == {"timestamptz": ["tsz"], "geometry": ["geo"], "nullable_fields": ["tsz", "geo"]}


def test_a_copy_to_an_older_server_is_refused_naming_the_fields() -> None:
    caps = milvus_capabilities("v2.5.10", lite=False)
    with pytest.raises(CapabilityError, match=r"tsz: .*TIMESTAMPTZ.*2\.6\.6") as e:
        map_schema(SCHEMA, INDEXES, caps, target_label="Milvus 2.5.10")
    assert "geo: " in str(e.value)
    plan = map_schema(SCHEMA, INDEXES, caps, skip_unsupported=True)
    assert sorted(plan.dropped) == ["geo", "tsz"]
