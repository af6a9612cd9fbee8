"""Databases and aliases, tested from the Milvus documentation ("Manage Databases", "Manage Aliases") and
Milvus's own rules (rootcoord's meta table); tests/test_differential_namespaces.py compares with Milvus Lite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import (
    AccessDeniedError,
    AliasNotFoundError,
    CollectionNotFoundError,
    DatabaseNotFoundError,
    MilvusException,
    ParamError,
    UnsupportedError,
)
from engine.namespaces import MAX_DATABASES, DatabaseNameError

ROOT = Path(__file__).resolve().parent.parent


def run_py(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=env)


def make(c: MilvusClient, name: str, n: int = 3, base: int = 0) -> None:
    c.create_collection(name, dimension=2)
    if n:
        c.insert(name, [{"id": base + i, "vector": [1.0, float(i)]} for i in range(n)])


def count(c: MilvusClient, name: str) -> int:
    return int(c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


# --- databases ------------------------------------------------------------------------------------
def test_databases_are_namespaces_of_collections(client: MilvusClient) -> None:
    assert client.list_databases() == ["default"]
    client.create_database("my_database_1")
    client.create_database("my_database_2", properties={"database.max.collections": 10})
    assert client.list_databases() == ["default", "my_database_1", "my_database_2"]
    assert client.describe_database("my_database_2") == {"name": "my_database_2", "database.max.collections": "10"}
    assert client.describe_database("default") == {"name": "default"}

    make(client, "c", 3)  # in default
    client.use_database("my_database_1")
    assert client.list_collections() == [] and not client.has_collection("c")
    make(client, "c", 5, base=100)  # the same name, another collection
    assert count(client, "c") == 5 and client.get("c", [100])[0]["id"] == 100
    client.using_database("default")  # pymilvus's deprecated name
    assert count(client, "c") == 3 and client.get("c", [100]) == []
    assert client.describe_database("") == {"name": "default"}  # "": the current database


def test_a_client_opens_in_the_database_it_names(db_path: Path) -> None:
    with MilvusClient(str(db_path)) as c:
        c.create_database("db1")
        c.use_database("db1")
        make(c, "x", 2)
    with MilvusClient(str(db_path), db_name="db1") as c:
        assert c.list_collections() == ["x"] and count(c, "x") == 2
    with MilvusClient(str(db_path), db_name="") as c:  # "" is the default database, as in pymilvus
        assert c.list_collections() == []
    with MilvusClient(str(db_path), db_name="nope") as c:  # as pymilvus: an error once a call needs it
        with pytest.raises(DatabaseNotFoundError, match="'nope' does not exist"):
            c.list_collections()
        with pytest.raises(DatabaseNotFoundError):
            c.describe_collection("x")
        c.create_database("nope")
        assert c.list_collections() == []
    with pytest.raises(DatabaseNameError):
        MilvusClient(str(db_path), db_name="bad-name")


def test_use_database_of_a_missing_database_changes_nothing(client: MilvusClient) -> None:
    make(client, "c", 1)
    with pytest.raises(DatabaseNotFoundError) as e:
        client.use_database("missing")
    assert e.value.code == 800
    assert client.list_collections() == ["c"]


@pytest.mark.parametrize("name", ["1db", "bad-name", "has space", "", "x" * 256, "é"])
def test_database_names_follow_milvus_rules(client: MilvusClient, name: str) -> None:
    with pytest.raises(DatabaseNameError) as e:
        client.create_database(name)
    assert e.value.code == 802
    assert client.list_databases() == ["default"]


def test_drop_database_refuses_default_missing_and_non_empty(client: MilvusClient) -> None:
    with pytest.raises(MilvusException, match="can not drop default database"):
        client.drop_database("default")
    with pytest.raises(DatabaseNotFoundError):
        client.drop_database("missing")
    client.create_database("d")
    client.use_database("d")
    make(client, "c1", 1)
    with pytest.raises(MilvusException, match=r"not empty, must drop all collections.*'c1'"):
        client.drop_database("d")
    assert count(client, "c1") == 1  # nothing changed
    client.drop_collection("c1")
    client.drop_database("d")
    assert client.list_databases() == ["default"]
    with pytest.raises(DatabaseNotFoundError):  # the client's current database is gone
        client.list_collections()
    client.use_database("default")
    client.create_database("d")  # the name can be used again
    assert client.list_databases() == ["d", "default"]  # sorted by name, as Milvus Lite lists them


def test_create_database_twice_and_the_limit(client: MilvusClient) -> None:
    client.create_database("a")
    with pytest.raises(MilvusException, match="already exists"):
        client.create_database("a")
    for i in range(MAX_DATABASES - 1):
        client.create_database(f"d{i}")
    with pytest.raises(MilvusException) as e:
        client.create_database("one_more")
    assert e.value.code == 801 and len(client.list_databases()) == MAX_DATABASES + 1


def test_database_properties_alter_and_drop(client: MilvusClient) -> None:
    client.create_database("d", properties={"database.max.collections": 3, "team": "search"})
    client.alter_database_properties("d", {"database.max.collections": 5, "owner": "ann"})
    assert client.describe_database("d") == {"name": "d", "database.max.collections": "5", "team": "search",
                                             "owner": "ann"}
    client.drop_database_properties("d", ["team", "not_set"])
    assert client.describe_database("d") == {"name": "d", "database.max.collections": "5", "owner": "ann"}
    with pytest.raises(ParamError):
        client.alter_database_properties("d", {})
    with pytest.raises(ParamError):
        client.drop_database_properties("d", [])
    with pytest.raises(DatabaseNotFoundError):
        client.alter_database_properties("missing", {"a": 1})


@pytest.mark.parametrize("props", [
    {"database.resource_groups": "rg1"}, {"database.diskQuota.mb": 100},
    {"timezone": "Asia/Shanghai"}, {"cipher.enabled": True},
])
def test_database_properties_the_engine_cannot_honour_are_refused(client: MilvusClient, props: dict) -> None:
    with pytest.raises(UnsupportedError):
        client.create_database("d", properties=props)
    assert client.list_databases() == ["default"]  # a refused call changes nothing
    client.create_database("e")
    with pytest.raises(UnsupportedError):
        client.alter_database_properties("e", props)
    assert client.describe_database("e") == {"name": "e"}


@pytest.mark.parametrize("props", [{"database.max.collections": "many"}, {"database.max.collections": -1},
                                   {"database.force.deny.writing": "maybe"}, {"database.replica.number": 0}])
def test_bad_database_property_values_are_refused(client: MilvusClient, props: dict) -> None:
    with pytest.raises(ParamError):
        client.create_database("d", properties=props)
    assert client.list_databases() == ["default"]


def test_replica_numbers_apply_when_loading(client: MilvusClient) -> None:
    """As on a Milvus with one query node: the property is stored; loading with 3 replicas fails."""
    client.create_database("d", properties={"database.replica.number": 3})
    assert client.describe_database("d")["database.replica.number"] == "3"
    client.use_database("d")
    with pytest.raises(UnsupportedError, match="database.replica.number=3"):
        client.create_collection("c", dimension=2)  # the quick form loads the collection: refused, nothing created
    assert client.list_collections() == []
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    client.create_collection("c", schema=s)  # not loaded: created
    with pytest.raises(UnsupportedError):
        client.load_collection("c")
    client.alter_database_properties("d", {"database.replica.number": 1})
    client.load_collection("c")
    client.alter_collection_properties("c", {"collection.replica.number": 2})
    with pytest.raises(UnsupportedError, match="collection.replica.number=2"):
        client.load_collection("c")


def test_max_collections_is_honoured_for_create_and_rename(client: MilvusClient) -> None:
    client.create_database("small", properties={"database.max.collections": 1})
    client.use_database("small")
    make(client, "a", 1)
    with pytest.raises(MilvusException, match="max.collections"):
        make(client, "b", 0)
    assert client.list_collections() == ["a"]
    client.use_database("default")
    make(client, "c", 1)
    with pytest.raises(MilvusException, match="max.collections"):
        client.rename_collection("c", "c", target_db="small")
    assert client.list_collections() == ["c"] and count(client, "c") == 1
    client.alter_database_properties("small", {"database.max.collections": 2})
    client.rename_collection("c", "c2", target_db="small")
    client.use_database("small")
    assert client.list_collections() == ["a", "c2"] and count(client, "c2") == 1


def test_force_deny_writing_and_reading(client: MilvusClient) -> None:
    client.create_database("d")
    client.use_database("d")
    make(client, "c", 2)
    client.alter_database_properties("d", {"database.force.deny.writing": True})
    for call in (lambda: client.insert("c", [{"id": 9, "vector": [1.0, 1.0]}]),
                 lambda: client.upsert("c", [{"id": 0, "vector": [1.0, 1.0]}]),
                 lambda: client.delete("c", ids=[0])):
        with pytest.raises(AccessDeniedError, match="deny to write"):
            call()
    assert count(client, "c") == 2  # reads still work; nothing was written
    client.alter_database_properties("d", {"database.force.deny.reading": "true"})
    for call in (lambda: client.search("c", [[1.0, 0.0]], limit=1), lambda: client.query("c", filter="id >= 0"),
                 lambda: client.get("c", [0])):
        with pytest.raises(AccessDeniedError, match="deny to read"):
            call()
    client.drop_database_properties("d", ["database.force.deny.writing", "database.force.deny.reading"])
    client.insert("c", [{"id": 9, "vector": [1.0, 1.0]}])
    assert count(client, "c") == 3
    client.use_database("default")  # the switch is per database
    make(client, "other", 1)


def test_rename_collection_moves_it_to_another_database(client: MilvusClient) -> None:
    make(client, "c", 4)
    client.flush("c")
    client.insert("c", [{"id": 10, "vector": [0.0, 1.0]}])  # sealed and growing rows move alike
    client.create_database("archive")
    client.rename_collection("c", "c_old", target_db="archive")
    assert client.list_collections() == []
    client.use_database("archive")
    assert client.list_collections() == ["c_old"] and count(client, "c_old") == 5
    assert client.list_indexes("c_old") == ["vector"]
    assert client.search("c_old", [[1.0, 0.0]], limit=1)[0][0]["id"] == 0
    with pytest.raises(DatabaseNotFoundError):
        client.rename_collection("c_old", "x", target_db="missing")
    with pytest.raises(ParamError, match="should be different"):
        client.rename_collection("c_old", "c_old")


def test_another_process_sees_databases_and_moves(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    c.create_database("d")
    make(c, "c", 2)
    c.rename_collection("c", "c", target_db="d")
    out = run_py(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r}, db_name="d")
        print(c.list_databases(), c.list_collections(), c.query("c", filter="", output_fields=["count(*)"]))
        c.create_database("from_child")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['d', 'default'] ['c'] [{'count(*)': 2}]"
    assert "from_child" in c.list_databases()
    c.close()


# --- aliases --------------------------------------------------------------------------------------
def test_an_alias_works_wherever_a_collection_name_does(client: MilvusClient) -> None:
    make(client, "my_collection_1", 3)
    client.create_alias("my_collection_1", "bob")
    client.create_alias("my_collection_1", "alice")
    assert client.describe_alias("bob") == {"alias": "bob", "collection_name": "my_collection_1",
                                            "db_name": "default"}
    assert client.list_aliases("my_collection_1")["aliases"] == ["alice", "bob"]
    assert client.list_aliases() == {"aliases": ["alice", "bob"], "db_name": "default"}
    desc = client.describe_collection("bob")
    assert desc["collection_name"] == "my_collection_1" and desc["aliases"] == ["alice", "bob"]
    assert client.has_collection("bob") and client.list_collections() == ["my_collection_1"]
    client.insert("bob", [{"id": 7, "vector": [0.5, 0.5]}])
    client.upsert("alice", [{"id": 0, "vector": [0.0, 1.0], "tag": "x"}])
    client.delete("bob", ids=[1])
    assert count(client, "alice") == 3 and client.get("bob", [0])[0]["tag"] == "x"
    assert client.search("alice", [[0.5, 0.5]], limit=1)[0][0]["id"] == 7
    assert client.get_collection_stats("bob") == {"row_count": 3}
    client.flush("bob")
    client.release_collection("bob")
    client.load_collection("alice")
    client.create_partition("bob", "p1")
    assert client.list_partitions("my_collection_1") == ["_default", "p1"]
    client.alter_collection_properties("bob", {"engine.seal_rows": 100})
    assert client.describe_collection("my_collection_1")["properties"]["engine.seal_rows"] == 100
    client.truncate_collection("alice")
    assert count(client, "my_collection_1") == 0


def test_alias_rules(client: MilvusClient) -> None:
    make(client, "a", 1)
    make(client, "b", 1)
    client.create_alias("a", "al")
    client.create_alias("a", "al")  # the same alias for the same collection again: no error, as in Milvus
    with pytest.raises(MilvusException) as e:
        client.create_alias("b", "al")
    assert e.value.code == 1602 and "alter_alias" in e.value.message
    with pytest.raises(MilvusException, match="conflicts with collection"):
        client.create_alias("a", "b")
    with pytest.raises(CollectionNotFoundError):
        client.create_alias("al", "al2")  # an alias names a collection, never another alias
    with pytest.raises(CollectionNotFoundError):
        client.create_alias("missing", "al3")
    with pytest.raises(ParamError):
        client.create_alias("a", "1bad")
    with pytest.raises(MilvusException, match="already an alias"):
        client.create_collection("al", dimension=2)
    with pytest.raises(MilvusException, match="already an alias"):
        client.rename_collection("b", "al")
    with pytest.raises(MilvusException, match="unsupported use an alias to rename collection"):
        client.rename_collection("al", "z")
    with pytest.raises(MilvusException, match="cannot drop the collection via alias = al"):
        client.drop_collection("al")
    with pytest.raises(MilvusException, match=r"because it has associated aliases \['al'\]"):
        client.drop_collection("a")
    with pytest.raises(AliasNotFoundError) as nf:
        client.drop_alias("nope")
    assert nf.value.code == 1600
    with pytest.raises(AliasNotFoundError):
        client.alter_alias("b", "nope")
    with pytest.raises(AliasNotFoundError):
        client.describe_alias("nope")
    with pytest.raises(CollectionNotFoundError):
        client.alter_alias("missing", "al")
    with pytest.raises(CollectionNotFoundError):
        client.list_aliases("al")  # a collection's own name is needed
    assert client.describe_alias("al")["collection_name"] == "a" and client.list_collections() == ["a", "b"]
    client.drop_alias("al")
    client.drop_collection("a")
    assert client.list_collections() == ["b"] and client.list_aliases()["aliases"] == []


def test_alter_alias_switches_readers_to_the_new_collection(client: MilvusClient) -> None:
    make(client, "prod_data", 2)
    make(client, "prod_data_v2", 5, base=100)
    client.create_alias("prod_data", "prod")
    assert count(client, "prod") == 2
    client.alter_alias("prod_data_v2", "prod")
    assert count(client, "prod") == 5 and client.describe_alias("prod")["collection_name"] == "prod_data_v2"
    assert client.list_aliases("prod_data")["aliases"] == []


def test_aliases_live_in_their_database(client: MilvusClient) -> None:
    make(client, "c", 1)
    client.create_alias("c", "al")
    client.create_database("d")
    client.use_database("d")
    make(client, "c", 4)
    client.create_alias("c", "al")  # the same alias name in another database
    assert count(client, "al") == 4
    client.use_database("default")
    assert count(client, "al") == 1
    with pytest.raises(MilvusException, match="must drop all aliases"):
        client.rename_collection("c", "c9", target_db="d")  # moving a collection with aliases is refused
    client.drop_alias("al")
    client.rename_collection("c", "c9", target_db="d")


def test_another_process_follows_an_altered_alias(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    make(c, "v1", 1)
    make(c, "v2", 2, base=10)
    c.create_alias("v1", "live")
    assert count(c, "live") == 1
    out = run_py(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        c.alter_alias("v2", "live")
    """)
    assert out.returncode == 0, out.stderr
    assert count(c, "live") == 2  # the name resolves anew once another process changed the catalog
    c.close()


def test_replace_collection_carries_the_old_targets_aliases(client: MilvusClient) -> None:
    make(client, "target", 1)
    make(client, "staging", 3, base=10)
    client.create_alias("target", "serving")
    client.replace_collection("staging", "target")
    assert client.describe_alias("serving")["collection_name"] == "target" and count(client, "serving") == 3
