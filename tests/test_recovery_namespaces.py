"""`workbench db recover` (engine.recovery) with databases, partition keys and a collection TTL: collections
come back in their databases, a partition-key collection with its partitions and each row where its key
routes it, and rows the TTL has expired stay gone; from the catalog, and from the files alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.recovery import run_recovery


def build(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = MilvusClient(str(db))
    c.create_collection("same", dimension=2)
    c.insert("same", [{"id": 1, "vector": [1.0, 0.0]}])
    c.flush("same")  # without the catalog, only rows in segment files can be recovered (docs/storage.md)
    c.create_database("d")
    c.use_database("d")
    c.create_collection("same", dimension=2)  # the same name in another database
    c.insert("same", [{"id": i, "vector": [1.0, float(i)]} for i in range(3)])
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("tenant", DataType.VARCHAR, max_length=8, is_partition_key=True)
    c.create_collection("keyed", schema=s, num_partitions=5)
    c.insert("keyed", [{"id": i, "vec": [1.0, float(i)], "tenant": f"t{i % 7}"} for i in range(40)])
    c.flush("keyed")
    c.insert("keyed", [{"id": 100 + i, "vec": [0.0, float(i)], "tenant": f"t{i % 3}"} for i in range(9)])
    c.create_collection("ttl", dimension=2, properties={"collection.ttl.seconds": 600,
                                                       "collection.autocompaction.enabled": False})
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: real() - 3600)  # inserted an hour ago: expired
        c.insert("ttl", [{"id": i, "vector": [1.0, 0.0]} for i in range(4)])
    c._coll("ttl").seal()  # a segment file holding the expired rows (a merge, as flush runs, would leave them out)
    c.insert("ttl", [{"id": 10, "vector": [1.0, 0.0]}])  # the one live row (in the log)
    for name in ("same", "keyed"):
        c.flush(name)
    db_handle = c.db
    c.close()
    db_handle.close()


def layout(db: Path) -> dict:
    c = MilvusClient(str(db))
    out = {"databases": c.list_databases(), "default": {n: len(c.query(n, filter="id >= 0"))
                                                        for n in c.list_collections()}}
    c.use_database("d")
    keyed = c._coll("keyed")
    out["d"] = {n: len(c.query(n, filter="id >= 0")) for n in c.list_collections()}
    out["keyed"] = sorted((s.partition, s.live_rows) for s in keyed.snapshot.segments if s.live_rows)
    out["keyed_partitions"] = c.list_partitions("keyed")
    out["t1"] = sorted(r["id"] for r in c.query("keyed", filter='tenant == "t1"'))
    c.close()
    return out


def partitions_by_rows(pairs: list) -> dict:
    total: dict = {}
    for p, n in pairs:
        total[p] = total.get(p, 0) + n
    return total


@pytest.mark.parametrize("lose_catalog", [False, True])
def test_recovery_keeps_databases_key_routing_and_expiry(tmp_path: Path, lose_catalog: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    build(src, monkeypatch)
    before = layout(src)
    assert before["d"]["ttl"] == 1 and before["keyed_partitions"] == [f"_default_{i}" for i in range(5)]
    if lose_catalog:
        for p in src.glob("catalog.sqlite*"):
            p.unlink()
    report = run_recovery(src, dst)
    assert report.verified and report.placed, report.summary()
    after = layout(dst)
    assert after["databases"] == before["databases"] == ["d", "default"]
    assert after["default"] == before["default"] == {"same": 1}
    assert after["d"] == before["d"] == {"same": 3, "keyed": 49, "ttl": 1}
    assert partitions_by_rows(after["keyed"]) == partitions_by_rows(before["keyed"])
    assert after["keyed_partitions"] == before["keyed_partitions"] and after["t1"] == before["t1"]
    kinds = {p.kind for p in report.problems}
    assert "ttl-expired" in kinds and "database" in kinds
