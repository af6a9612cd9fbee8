"""Differential tests of databases, aliases, truncate, partition keys, TTL and schema evolution: the same calls
on `engine.MilvusClient` and on pymilvus with Milvus Lite 3.2.2 (see tests/test_differential_milvus_lite.py
for the fixtures). Where Milvus Lite differs from the Milvus server that the documentation describes, the test
is named `test_difference_*`, asserts both behaviours, and is listed in docs/differences-tested.md.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import test_differential_milvus_lite as base
from test_differential_milvus_lite import assert_same_hits, fresh, raises

# the same Milvus Lite and engine fixtures as tests/test_differential_milvus_lite.py
lite_api = base.lite_api
engine_api = base.engine_api
both = base.both

pytestmark = pytest.mark.milvus_lite

Both = tuple[SimpleNamespace, SimpleNamespace]


def small(api: SimpleNamespace, name: str, n: int = 6, base: int = 0) -> None:
    api.client.create_collection(name, dimension=2, metric_type="L2", consistency_level="Strong")
    if n:
        api.client.insert(name, [{"id": base + i, "vector": [1.0, float(i)]} for i in range(n)])


def count(api: SimpleNamespace, name: str) -> int:
    return int(api.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


@pytest.fixture
def home(both: Both):
    """Each client back in `default` after the test, whatever it did."""
    yield both
    for api in both:
        api.client.use_database("default")


# --- databases ----------------------------------------------------------------------------------
def test_databases_match(home: Both) -> None:
    db = fresh("db")

    def run(api: SimpleNamespace) -> Any:
        c = api.client
        c.create_database(db, properties={"database.max.collections": 5, "owner": "ann"})
        listed = db in c.list_databases() and "default" in c.list_databases()
        described = c.describe_database(db)
        c.alter_database_properties(db, {"owner": "bob"})
        c.drop_database_properties(db, ["database.max.collections"])
        after = c.describe_database(db)
        c.use_database(db)
        small(api, "c", 3)
        in_db = (c.list_collections(), count(api, "c"))
        c.use_database("default")
        outside = c.has_collection("c")
        errors = [raises(lambda: c.drop_database(db)) is not None, raises(lambda: c.drop_database("default")) is not None,
                  raises(lambda: c.use_database(fresh("missing"))) is not None,
                  raises(lambda: c.create_database(db)) is not None]
        c.use_database(db)
        c.drop_collection("c")
        c.use_database("default")
        c.drop_database(db)
        return listed, described, after, in_db, outside, errors, db in c.list_databases()

    e, lite = run(home[0]), run(home[1])
    assert e == lite
    assert e[1] == {"name": db, "database.max.collections": "5", "owner": "ann"}
    assert e[5] == [True, True, True, True] and e[3] == (["c"], 3)


def test_a_client_opened_in_a_database_matches(home: Both, tmp_path_factory: pytest.TempPathFactory) -> None:
    db = fresh("db")
    out = []
    for api in home:
        api.client.create_database(db)
        api.client.use_database(db)
        small(api, "x", 2)
        uri = api.client._config.uri if api.kind == "milvus_lite" else api.client.uri
        other = api.MilvusClient(uri, db_name=db)
        missing = api.MilvusClient(uri, db_name=fresh("nope"))
        out.append((other.list_collections(), count(SimpleNamespace(client=other), "x"),
                    raises(missing.list_collections) is not None))
        other.close()
        missing.close()
    assert out[0] == out[1] == (["x"], 2, True)


def test_difference_database_names_milvus_lite_accepts(home: Both) -> None:
    """Milvus checks database names as collection names (ValidateDatabaseName); Milvus Lite does not."""
    name = "bad-name-" + fresh("x")
    assert raises(lambda: home[0].client.create_database(name)) is not None
    assert raises(lambda: home[1].client.create_database(name)) is None
    home[1].client.drop_database(name)


def test_difference_rename_to_another_database(home: Both) -> None:
    """Milvus moves the collection (rename_collection(target_db=)); Milvus Lite 3.2.2 renames it where it is."""
    db, name = fresh("db"), fresh("c")
    where = []
    for api in home:
        api.client.create_database(db)
        small(api, name, 2)
        api.client.rename_collection(name, name + "_moved", target_db=db)
        here = api.client.has_collection(name + "_moved")
        api.client.use_database(db)
        there = api.client.has_collection(name + "_moved")
        where.append((here, there))
    assert where[0] == (False, True)  # the engine: as the Milvus server
    assert where[1] == (True, False)  # Milvus Lite: still in default


def test_difference_database_properties_milvus_lite_ignores(home: Both) -> None:
    """`database.max.collections` and `database.force.deny.writing` are honoured by Milvus and the engine."""
    out = []
    for api in home:
        db = fresh("db")
        api.client.create_database(db, properties={"database.max.collections": 1,
                                                   "database.force.deny.writing": True})
        api.client.use_database(db)
        small(api, "a", 0)
        out.append((raises(lambda a=api: small(a, "b", 0)) is not None,
                    raises(lambda a=api: a.client.insert("a", [{"id": 1, "vector": [1.0, 0.0]}])) is not None))
    assert out[0] == (True, True) and out[1] == (False, False)


def test_difference_empty_property_changes(home: Both) -> None:
    """Milvus refuses an alter with no properties ("alter database with empty properties"); Milvus Lite accepts."""
    db = fresh("db")
    for api in home:
        api.client.create_database(db)
    assert raises(lambda: home[0].client.alter_database_properties(db, {})) is not None
    assert raises(lambda: home[1].client.alter_database_properties(db, {})) is None


# --- aliases ------------------------------------------------------------------------------------
def test_aliases_match(both: Both) -> None:
    a, b = fresh("c"), fresh("c")
    al = fresh("al")

    def run(api: SimpleNamespace) -> Any:
        c = api.client
        small(api, a, 4)
        small(api, b, 2, base=100)
        c.create_alias(a, al)
        desc = c.describe_alias(al)
        found = (desc["alias"], desc["collection_name"], c.list_aliases(a)["aliases"], c.has_collection(al))
        c.insert(al, [{"id": 50, "vector": [0.0, 1.0]}])
        hits = c.search(al, [[1.0, 0.0]], limit=3)
        rows = sorted(r["id"] for r in c.query(al, filter="id >= 0"))
        c.alter_alias(b, al)
        moved = (c.describe_alias(al)["collection_name"], count(api, al))
        errors = [raises(lambda: c.create_alias(a, b)) is not None,  # an alias may not equal a collection name
                  raises(lambda: c.create_alias(a, al)) is not None,  # it names another collection
                  raises(lambda: c.describe_alias(fresh("nope"))) is not None,
                  raises(lambda: c.alter_alias(b, fresh("nope"))) is not None,
                  raises(lambda: c.create_collection(al, dimension=2)) is not None]
        c.drop_alias(al)
        return found, hits, rows, moved, errors, c.list_aliases(b)["aliases"]

    e, lite = run(both[0]), run(both[1])
    assert e[0] == lite[0] == (al, a, [al], True)
    assert_same_hits(e[1], lite[1])
    assert e[2:] == lite[2:]
    assert e[3] == (b, 2) and e[4] == [True] * 5


def test_difference_alias_rules_milvus_lite_does_not_enforce(both: Both) -> None:
    """Milvus (rootcoord) refuses dropping a collection through an alias or while aliases name it, aliasing an
    alias, and dropping a missing alias; it accepts creating the same alias for the same collection again.
    Milvus Lite 3.2.2 does the opposite in each case."""
    def verdict(api: SimpleNamespace) -> list[bool]:
        c = api.client
        name, al = fresh("c"), fresh("al")
        small(api, name, 1)
        c.create_alias(name, al)
        return [raises(lambda: c.create_alias(name, al)) is None,  # the same alias again
                raises(lambda: c.create_alias(al, fresh("al2"))) is not None,  # an alias of an alias
                raises(lambda: c.drop_alias(fresh("nope"))) is not None,  # a missing alias
                raises(lambda: c.drop_collection(al)) is not None,  # through an alias
                raises(lambda: c.drop_collection(name)) is not None]  # while an alias names it

    verdicts = [verdict(api) for api in both]
    assert verdicts[0] == [True, True, True, True, True]
    assert verdicts[1] == [False, False, False, False, False]


def test_difference_describe_collection_lists_aliases(both: Both) -> None:
    """Milvus fills `aliases` in describe_collection; Milvus Lite leaves it empty. Both report the real name."""
    out = []
    for api in both:
        name, al = fresh("c"), fresh("al")
        small(api, name, 0)
        api.client.create_alias(name, al)
        d = api.client.describe_collection(al)
        out.append((d["collection_name"] == name, d["aliases"]))
        api.client.drop_alias(al)
    assert out[0][0] and out[1][0]
    assert out[0][1] != out[1][1] and out[1][1] == [] and len(out[0][1]) == 1


# --- truncate -----------------------------------------------------------------------------------
def test_truncate_matches(both: Both) -> None:
    def run(api: SimpleNamespace) -> Any:
        name = fresh("c")
        small(api, name, 5)
        api.client.create_partition(name, "p1")
        api.client.insert(name, [{"id": 10, "vector": [0.0, 1.0]}], partition_name="p1")
        api.client.flush(name)
        api.client.truncate_collection(name)
        kept = (count(api, name), api.client.list_partitions(name), api.client.list_indexes(name))
        api.client.insert(name, [{"id": 1, "vector": [1.0, 0.0]}])
        return kept, count(api, name), raises(lambda: api.client.truncate_collection(fresh("missing"))) is not None

    assert run(both[0]) == run(both[1]) == ((0, ["_default", "p1"], ["vector"]), 1, True)


# --- partitions named like years (the seed guide's code) --------------------------------------------
def test_partitions_2024_and_2025_match(both: Both) -> None:
    results = []
    for api in both:
        name = fresh("c")
        small(api, name, 0)
        for year in ("2024", "2025"):
            api.client.create_partition(name, year)
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)], "year": 2024} for i in range(4)],
                          partition_name="2024")
        api.client.insert(name, [{"id": 10 + i, "vector": [1.0, float(i)], "year": 2025} for i in range(3)],
                          partition_name="2025")
        hits = api.client.search(name, [[1.0, 1.0]], limit=10, partition_names=["2025"], output_fields=["year"])
        per = [len(api.client.query(name, filter="id >= 0", partition_names=[p])) for p in ("2024", "2025")]
        results.append((hits, per, sorted(api.client.list_partitions(name))))
    assert_same_hits(results[0][0], results[1][0])
    assert results[0][1:] == results[1][1:] == ([4, 3], ["2024", "2025", "_default"])
    assert {h["entity"]["year"] for h in results[0][0][0]} == {2025}


# --- partition keys -----------------------------------------------------------------------------
def _keyed(api: SimpleNamespace, name: str) -> None:
    s = api.client.create_schema()
    s.add_field("id", api.DataType.INT64, is_primary=True)
    s.add_field("vec", api.DataType.FLOAT_VECTOR, dim=2)
    s.add_field("tenant", api.DataType.VARCHAR, max_length=16, is_partition_key=True)
    ip = api.client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="L2")
    api.client.create_collection(name, schema=s, index_params=ip, consistency_level="Strong")
    api.client.insert(name, [{"id": i, "vec": [float(i % 5), float(i % 3)], "tenant": f"t{i % 4}"}
                             for i in range(60)])


def test_partition_key_reads_match(both: Both) -> None:
    name = fresh("pk")
    for api in both:
        _keyed(api, name)
    for flt in ('tenant == "t1"', 'tenant in ["t0", "t3"]', 'tenant == "t2" and id > 20', "id < 10", ""):
        e = both[0].client.search(name, [[1.0, 2.0]], limit=8, filter=flt)
        lite = both[1].client.search(name, [[1.0, 2.0]], limit=8, filter=flt)
        assert [sorted(round(h["distance"], 4) for h in p) for p in e] == \
            [sorted(round(h["distance"], 4) for h in p) for p in lite], flt
        if flt:
            q = [sorted(r["id"] for r in api.client.query(name, filter=flt)) for api in both]
            assert q[0] == q[1], flt
    for api in both:
        assert raises(lambda a=api: a.client.create_partition(name, "p1")) is not None
        assert raises(lambda a=api: a.client.drop_partition(name, a.client.list_partitions(name)[0])) is not None


def test_difference_partition_key_partitions_and_names(both: Both) -> None:
    """Milvus creates `_default_0`..`_default_{N-1}` and refuses naming partitions in insert and search;
    Milvus Lite 3.2.2 lists `_default` plus 16 `_pk_N` partitions whatever num_partitions says, and accepts them."""
    name = fresh("pk")
    for api in both:
        _keyed(api, name)
    e, lite = (api.client.list_partitions(name) for api in both)
    assert e == [f"_default_{i}" for i in range(16)]
    assert "_default" in lite and len(lite) == 17
    row = [{"id": 1000, "vec": [0.0, 0.0], "tenant": "t1"}]
    assert raises(lambda: both[0].client.insert(name, row, partition_name=e[0])) is not None
    assert raises(lambda: both[1].client.insert(name, row, partition_name="_default")) is None
    assert raises(lambda: both[0].client.search(name, [[0.0, 0.0]], limit=1, partition_names=[e[0]])) is not None
    assert raises(lambda: both[1].client.search(name, [[0.0, 0.0]], limit=1, partition_names=[lite[1]])) is None


# --- TTL, add_collection_field, properties ---------------------------------------------------------
def test_difference_ttl(both: Both) -> None:
    """Milvus hides rows older than `collection.ttl.seconds` from search and query; Milvus Lite never does."""
    name = fresh("ttl")
    for api in both:
        api.client.create_collection(name, dimension=2, properties={"collection.ttl.seconds": 1},
                                     consistency_level="Strong")
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(3)])
        assert count(api, name) == 3
        assert api.client.describe_collection(name)["properties"]["collection.ttl.seconds"] == "1"
    time.sleep(1.3)
    assert count(both[0], name) == 0 and both[0].client.search(name, [[1.0, 0.0]], limit=3) == [[]]
    assert count(both[1], name) == 3


def test_difference_add_collection_field(both: Both) -> None:
    """Milvus 2.6 adds nullable fields to existing collections; Milvus Lite 3.2.2 does not implement the call."""
    name = fresh("f")
    for api in both:
        small(api, name, 2)
    both[0].client.add_collection_field(name, "extra", both[0].DataType.INT64, nullable=True)
    assert [f["name"] for f in both[0].client.describe_collection(name)["fields"]][-1] == "extra"
    assert raises(lambda: both[1].client.add_collection_field(name, "extra", both[1].DataType.INT64,
                                                              nullable=True)) is not None


def test_collection_properties_match(both: Both) -> None:
    name = fresh("p")
    for api in both:
        small(api, name, 0)
        api.client.alter_collection_properties(name, {"collection.ttl.seconds": 500, "my.key": 3})
        api.client.drop_collection_properties(name, ["my.key"])
    e, lite = (api.client.describe_collection(name)["properties"] for api in both)
    assert e == lite == {"collection.ttl.seconds": "500"}


@pytest.mark.parametrize("props", [{"collection.ttl.seconds": "abc"}, {"mmap.enabled": "maybe"},
                                   {"collection.insertRate.max.mb": 5}])
def test_difference_collection_properties_milvus_lite_stores_blindly(both: Both, props: dict) -> None:
    """The engine honours or refuses each property Milvus knows; Milvus Lite stores any value unchecked (Milvus
    refuses a TTL that is not an integer; a bool property must be a bool; the engine has no rate limits)."""
    name = fresh("p")
    for api in both:
        small(api, name, 0)
    assert raises(lambda: both[0].client.alter_collection_properties(name, props)) is not None
    assert raises(lambda: both[1].client.alter_collection_properties(name, props)) is None
