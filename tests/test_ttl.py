"""Collection TTL (`collection.ttl.seconds`), from the Milvus documentation ("Set Collection TTL"): expired
entities stop appearing in search and query results at once, and compaction removes them from storage.

Most tests move the engine's clock (`engine.ttl.now_ms`) instead of sleeping; one sleeps for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

import engine.ttl as ttl
from engine import AnnSearchRequest, MilvusClient, RRFRanker
from engine.errors import ParamError
from engine.maintenance import _rewrite, _StalePlan, plan
from engine.storage.segment import TS_COLUMN, GrowingSegment

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600


def count(c: MilvusClient, name: str = "c") -> int:
    return int(c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def rows(ids: range) -> list[dict]:
    return [{"id": i, "vector": [1.0, float(i % 7)], "tag": "t"} for i in ids]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch):
    """`later(seconds)` moves the engine's TTL clock that far ahead of the real one."""
    real = ttl.now_ms

    def move(seconds: float) -> None:
        monkeypatch.setattr(ttl, "now_ms", lambda: real() + int(seconds * 1000))

    return move


def test_expired_rows_vanish_from_every_read(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": HOUR})
    client.insert("c", rows(range(10)))
    client.flush("c")  # sealed and merged rows expire alike
    client.insert("c", rows(range(10, 15)))
    assert count(client) == 15
    later(HOUR + 1)
    assert count(client) == 0
    assert client.query("c", filter="id >= 0") == [] and client.get("c", [1, 12]) == []
    assert client.search("c", [[1.0, 0.0]], limit=5) == [[]]
    req = AnnSearchRequest([[1.0, 0.0]], "vector", {}, limit=5)
    assert client.hybrid_search("c", [req, req], RRFRanker(), limit=5) == [[]]
    assert client.query_iterator("c", batch_size=4).next() == []
    assert client.search_iterator("c", [[1.0, 0.0]], batch_size=4).next() == []
    assert client.get_collection_stats("c") == {"row_count": 0}


def test_only_rows_older_than_the_ttl_expire_and_upsert_renews(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2)
    client.insert("c", rows(range(5)))
    client.alter_collection_properties("c", {"collection.ttl.seconds": 10})  # set on existing rows
    assert client.describe_collection("c")["properties"]["collection.ttl.seconds"] == "10"
    later(9)
    assert count(client) == 5
    later(11)
    assert count(client) == 0
    later(0)
    time.sleep(1.2)
    client.upsert("c", rows(range(3)))  # a new insert time, 1.2 s after the first
    later(9.5)  # the first rows are 10.7 s old, the upserted ones 9.5 s
    assert sorted(r["id"] for r in client.query("c", filter="id >= 0")) == [0, 1, 2]
    later(11)
    assert count(client) == 0


def test_the_ttl_in_force_decides_and_compaction_makes_expiry_final(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 60})
    client.insert("c", rows(range(20)))
    client.flush("c")
    later(120)
    assert count(client) == 0
    client.alter_collection_properties("c", {"collection.ttl.seconds": 600})  # as in Milvus: not purged yet,
    assert count(client) == 20  # so visible again under the longer TTL
    client.drop_collection_properties("c", ["collection.ttl.seconds"])
    assert count(client) == 20
    client.alter_collection_properties("c", {"collection.ttl.seconds": 60})
    assert count(client) == 0
    client.compact("c")  # purges every expired row
    assert sum(s.num_rows for s in client.list_persistent_segments("c")) == 0
    client.alter_collection_properties("c", {"collection.ttl.seconds": 0})  # 0: no TTL
    assert count(client) == 0  # purged rows never come back


def test_maintenance_counts_expired_rows_toward_the_purge(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 60,
                                                           "engine.purge_deleted_ratio": 0.5})
    client.insert("c", rows(range(100)))
    client.flush("c")
    time.sleep(1.5)
    client.insert("c", rows(range(100, 140)))
    later(59)  # the first 100 rows are 60.5 s old (expired), the last 40 59 s (live): 100 / 140 >= 0.5
    client.flush("c")  # merges the new rows in, then rebuilds the merged segment without the expired ones
    segs = client.list_persistent_segments("c")
    assert sum(s.num_rows for s in segs) == 40 and count(client) == 40


def test_a_merge_planned_under_one_ttl_is_not_committed_under_another(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 60})
    client.insert("c", rows(range(10)))
    client.flush("c")
    later(120)
    coll = client._coll("c")
    jobs = plan(coll, purge_all=True)
    assert jobs and jobs[0].ttl_seconds == 60
    client.alter_collection_properties("c", {"collection.ttl.seconds": 600})
    with coll.maint_lock.held(5, "test"), pytest.raises(_StalePlan):
        list(_rewrite(coll, jobs[0], 0, 1, None))
    assert count(client) == 10  # nothing was purged


def test_insert_over_an_expired_key_replaces_it(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 60})
    client.insert("c", rows(range(3)))
    later(61)
    client.insert("c", [{"id": 0, "vector": [0.0, 1.0], "tag": "new"}])  # the old row is invisible
    later(0)
    assert [r["tag"] for r in client.query("c", filter="id == 0")] == ["new"]  # one row per key
    assert count(client) == 3


@pytest.mark.parametrize("value", ["abc", 1.5, -2, 3_155_760_001, True, None])
def test_ttl_values_are_checked(client: MilvusClient, value: object) -> None:
    client.create_collection("c", dimension=2)
    with pytest.raises(ParamError):
        client.alter_collection_properties("c", {"collection.ttl.seconds": value})
    with pytest.raises(ParamError):
        client.create_collection("d", dimension=2, properties={"collection.ttl.seconds": value})
    assert client.list_collections() == ["c"] and client.describe_collection("c")["properties"] == {}


def test_minus_one_means_no_ttl(client: MilvusClient, later) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": -1})
    client.insert("c", rows(range(2)))
    later(10**6)
    assert count(client) == 2


def test_expiry_in_real_time(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2, properties={"collection.ttl.seconds": 1})
    client.insert("c", rows(range(3)))
    assert count(client) == 3
    time.sleep(1.3)
    assert count(client) == 0 and client.search("c", [[1.0, 0.0]], limit=3) == [[]]


def test_another_process_applies_a_ttl_set_here(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    c.create_collection("c", dimension=2)
    c.insert("c", rows(range(4)))
    code = f"""
        import engine.ttl as ttl
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        print(c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"])
        input()
        real = ttl.now_ms
        ttl.now_ms = lambda: real() + 100_000
        print(c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"])
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.stdout is not None and p.stdin is not None
    assert p.stdout.readline().strip() == "4"
    c.alter_collection_properties("c", {"collection.ttl.seconds": 50})
    p.stdin.write("\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "0"
    assert p.wait(60) == 0
    c.close()


def test_rows_without_an_insert_time_never_expire() -> None:
    """Data written before insert times were kept: the column is absent, or null for some rows."""
    schema = pa.schema([pa.field("id", pa.int64()), pa.field(TS_COLUMN, pa.int64())])
    old = GrowingSegment("g", "_default", schema, (pa.record_batch([pa.array([1, 2])], names=["id"]),))
    assert ttl.expired_mask(old, 1, 10**15) is None
    mixed = GrowingSegment("h", "_default", schema,  # inserted at 5.5 s and 7.5 s, and one without a time
                           (pa.record_batch([pa.array([1, 2, 3]), pa.array([5_500, None, 7_500])],
                                            names=["id", TS_COLUMN]),))

    def expired(ttl_s: int, at: int) -> list[bool]:
        m = ttl.expired_mask(mixed, ttl_s, at)
        return [False] * 3 if m is None else m.tolist()  # None: no row has expired

    assert expired(1, 6_000) == [False, False, False]
    assert expired(1, 7_000) == [True, False, False]
    assert expired(1, 10**15) == [True, False, True]
    assert ttl.expired_mask(mixed, 0, 10**15) is None  # no TTL
    assert expired(2, 7_000) == [False, False, False]
    assert expired(2, 7_500) == [True, False, False]  # exactly `ttl` old: expired
