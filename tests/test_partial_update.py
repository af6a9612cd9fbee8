"""Upsert in merge mode (`partial_update=True`, `field_ops`): engine/partial_update.py.

Written from Milvus's documentation ("Upsert Entities", merge mode; "Upsert ARRAY fields in merge
mode"): given fields replace, the others keep their values; dynamic keys merge; a JSON field is
replaced whole; a new key needs a complete row; every row carries the same fields; ARRAY_APPEND and
ARRAY_REMOVE. Plus what the engine adds: the merge reads and writes under one write-lock hold (two
threads or two processes updating different fields of the same rows lose nothing), a refused batch
changes nothing, and a crash in the middle of the log append leaves the old row or the merged one.
Differential tests against Milvus Lite are in tests/test_differential_types.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from engine import DataType, MilvusClient
from engine.errors import DataError, MilvusException, ParamError
from engine.partial_update import FieldOp

ROOT = Path(__file__).resolve().parent.parent


def make(c: MilvusClient, name: str = "docs") -> None:
    """The docs' collection: id, vector, title, issue (nullable), plus a dynamic field, JSON and ARRAY fields."""
    s = c.create_schema(enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("title", DataType.VARCHAR, max_length=64)
    s.add_field("issue", DataType.VARCHAR, max_length=16, nullable=True)
    s.add_field("n", DataType.INT32, default_value=7)
    s.add_field("extras", DataType.JSON, nullable=True)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=16)
    s.add_field("scores", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=8)
    c.create_collection(name, schema=s)
    c.insert(name, [
        {"id": 1, "vector": [1.0, 0.0], "title": "Hollow Man", "issue": "vol.19", "n": 1, "extras": {"a": 1, "b": 2},
         "tags": ["new", "trial"], "scores": [0.1, 0.2], "author": "John", "year": 2020, "genre_list": ["fiction"]},
        {"id": 2, "vector": [0.0, 1.0], "title": "Treasure Hunt", "issue": None, "n": 2, "extras": None,
         "tags": [], "scores": []},
    ])


def row(c: MilvusClient, pk: int, name: str = "docs") -> dict:
    out = c.get(name, ids=[pk], output_fields=["*"])
    assert len(out) == 1
    return out[0]


def test_merge_replaces_the_given_fields_and_keeps_the_others(client: MilvusClient) -> None:
    make(client)
    before = row(client, 1)
    res = client.upsert("docs", [{"id": 1, "issue": "vol.14"}, {"id": 2, "issue": "vol.7"}], partial_update=True)
    assert res == {"upsert_count": 2, "ids": [1, 2], "cost": 0}
    after = row(client, 1)
    assert after == {**before, "issue": "vol.14"}  # every other field, vector and dynamic keys included
    assert row(client, 2)["issue"] == "vol.7" and row(client, 2)["title"] == "Treasure Hunt"
    assert client.get_collection_stats("docs")["row_count"] == 2


def test_dynamic_keys_merge_key_by_key_and_json_is_replaced_whole(client: MilvusClient) -> None:
    make(client)
    client.upsert("docs", [{"id": 1, "author": "Jane", "genre": "fantasy", "extras": {"a": 5}}], partial_update=True)
    r = row(client, 1)
    assert (r["author"], r["genre"], r["year"], r["genre_list"]) == ("Jane", "fantasy", 2020, ["fiction"])
    assert r["extras"] == {"a": 5}  # the JSON field does not merge (docs: "treated as a whole")
    # without partial_update the dynamic keys are overridden (docs, override mode)
    client.upsert("docs", [{**{k: v for k, v in r.items() if k not in ("author", "genre", "year", "genre_list")},
                            "author": "X"}])
    assert "year" not in row(client, 1) and row(client, 1)["author"] == "X"


def test_dynamic_keys_given_under_meta_merge_too(client: MilvusClient) -> None:
    make(client)
    client.upsert("docs", [{"id": 1, "$meta": {"year": 2021, "new": True}}], partial_update=True)
    r = row(client, 1)
    assert (r["year"], r["new"], r["author"]) == (2021, True, "John")


def test_omitted_nullable_field_keeps_its_value_and_none_sets_null(client: MilvusClient) -> None:
    make(client)
    client.upsert("docs", [{"id": 1, "title": "New title"}], partial_update=True)
    assert row(client, 1)["issue"] == "vol.19"  # docs: merge mode keeps an omitted nullable field
    client.upsert("docs", [{"id": 1, "issue": None}], partial_update=True)
    assert row(client, 1)["issue"] is None


def test_a_new_key_is_inserted_and_needs_a_complete_row(client: MilvusClient) -> None:
    make(client)
    with pytest.raises(DataError, match=r"row 0, field 'vector'.*not stored yet"):
        client.upsert("docs", [{"id": 3, "title": "x"}], partial_update=True)
    assert client.get("docs", ids=[3]) == []
    client.upsert("docs", [{"id": 3, "vector": [1.0, 1.0], "title": "t", "tags": [], "scores": []}],
                  partial_update=True)
    r = row(client, 3)
    assert (r["issue"], r["n"], r["extras"]) == (None, 7, None)  # nullable -> null, default -> default


def test_rows_of_one_request_must_carry_the_same_fields(client: MilvusClient) -> None:
    make(client)
    with pytest.raises(DataError, match="same fields"):
        client.upsert("docs", [{"id": 1, "issue": "a"}, {"id": 2, "title": "b"}], partial_update=True)
    # dynamic keys are not fields: rows may differ in them
    client.upsert("docs", [{"id": 1, "issue": "a", "k1": 1}, {"id": 2, "issue": "b", "k2": 2}], partial_update=True)
    assert (row(client, 1)["k1"], row(client, 2)["k2"]) == (1, 2)


@pytest.mark.parametrize("rows, err, match", [
    ([{"issue": "x"}], DataError, "needs the primary key"),
    ([{"id": None, "issue": "x"}], DataError, "needs the primary key"),
    ([{"id": "1", "issue": "x"}], DataError, "expected an integer key"),
    ([{"id": 1, "n": "seven"}], DataError, "field 'n'"),
    ([{"id": 1, "issue": "x" * 17}], DataError, "max_length"),
    ([{"id": 1, "issue": "a"}, {"id": 1, "issue": "b"}], DataError, "duplicate primary key"),
    (["not a dict"], DataError, "expected a dict"),
])
def test_bad_rows_are_refused_and_change_nothing(client: MilvusClient, rows: list, err: type, match: str) -> None:
    make(client)
    before = client.query("docs", filter="id > 0", output_fields=["*"])
    with pytest.raises(err, match=match):
        client.upsert("docs", rows, partial_update=True)
    assert client.query("docs", filter="id > 0", output_fields=["*"]) == before


def test_a_batch_is_applied_whole_or_not_at_all(client: MilvusClient) -> None:
    make(client)
    with pytest.raises(DataError, match="row 1, field 'tags'"):
        client.upsert("docs", [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": ["a", "b", "c", "d", "e"]}],
                      partial_update=True)
    assert row(client, 1)["tags"] == ["new", "trial"]


def test_array_append_and_remove_as_documented(client: MilvusClient) -> None:
    """The docs' example: ['new'] + ARRAY_APPEND ['premium', 'vip'], then ARRAY_REMOVE ['new']."""
    make(client)
    client.upsert("docs", [{"id": 1, "tags": ["premium"]}, {"id": 2, "tags": ["premium", "vip"]}],
                  field_ops={"tags": FieldOp.array_append()})
    assert row(client, 1)["tags"] == ["new", "trial", "premium"]
    assert row(client, 2)["tags"] == ["premium", "vip"]
    assert row(client, 1)["title"] == "Hollow Man"  # field_ops implies merge mode: the rest stays
    client.upsert("docs", [{"id": 1, "tags": ["new", "absent"]}], field_ops={"tags": "array_remove"})
    assert row(client, 1)["tags"] == ["trial", "premium"]
    # FLOAT elements are compared as stored (float32): 0.1 matches the stored 0.1
    client.upsert("docs", [{"id": 1, "scores": [0.1]}], field_ops={"scores": "array_remove"})
    assert row(client, 1)["scores"] == pytest.approx([0.2])


@pytest.mark.parametrize("ops, match", [
    ({"title": "array_append"}, "needs an ARRAY field"),
    ({"nosuch": "array_append"}, "not a field"),
    ({"tags": "array_prepend"}, "unknown operator"),
    ({"tags": True}, "not a field operator"),
    ({"tags": 9}, "not a field operator"),
    (["tags"], "must be a dict"),
])
def test_bad_field_ops_are_refused(client: MilvusClient, ops: object, match: str) -> None:
    make(client)
    with pytest.raises(ParamError, match=match):
        client.upsert("docs", [{"id": 1, "tags": ["x"]}], field_ops=ops)
    assert row(client, 1)["tags"] == ["new", "trial"]


def test_array_append_beyond_max_capacity_is_refused(client: MilvusClient) -> None:
    make(client)
    with pytest.raises(DataError, match="max_capacity 4"):
        client.upsert("docs", [{"id": 1, "tags": ["a", "b", "c"]}], field_ops={"tags": "array_append"})
    with pytest.raises(DataError, match=r"tags\[0\]"):
        client.upsert("docs", [{"id": 1, "tags": [5]}], field_ops={"tags": "array_remove"})


def test_partial_update_flag_must_be_a_bool(client: MilvusClient) -> None:
    make(client)
    with pytest.raises(ParamError, match="partial_update"):
        client.upsert("docs", [{"id": 1, "issue": "x"}], partial_update="yes")


def test_merge_reads_sealed_and_growing_rows_and_moves_partitions(client: MilvusClient) -> None:
    make(client)
    client.flush("docs")  # rows 1 and 2 are now in a sealed segment
    client.create_partition("docs", "p")
    client.upsert("docs", [{"id": 2, "issue": "moved"}], partition_name="p", partial_update=True)
    assert client.query("docs", filter="id == 2", partition_names=["_default"]) == []
    r = client.query("docs", filter="id == 2", output_fields=["title", "issue"], partition_names=["p"])
    assert r == [{"id": 2, "title": "Treasure Hunt", "issue": "moved"}]
    client.upsert("docs", [{"id": 2, "n": 22}], partial_update=True)  # now growing: merged from there
    assert row(client, 2)["issue"] == "moved" and row(client, 2)["n"] == 22


def _hammer(c: MilvusClient, field: str, rounds: int, keys: list[int]) -> None:
    for k in range(1, rounds + 1):
        c.upsert("cc", [{"id": i, field: k} for i in keys], partial_update=True)


def _make_counters(c: MilvusClient, keys: list[int]) -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("a", DataType.INT64)
    s.add_field("b", DataType.INT64)
    c.create_collection("cc", schema=s)
    c.insert("cc", [{"id": i, "v": [1.0, 0.0], "a": 0, "b": 0} for i in keys])


def test_two_threads_updating_different_fields_lose_nothing(client: MilvusClient) -> None:
    """A merge that read outside the write lock would let one thread write back the other's stale field."""
    keys = list(range(20))
    _make_counters(client, keys)
    rounds = 40
    threads = [threading.Thread(target=_hammer, args=(client, f, rounds, keys)) for f in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = client.query("cc", filter="id >= 0", output_fields=["a", "b"])
    assert sorted(got, key=lambda r: r["id"]) == [{"id": i, "a": rounds, "b": rounds} for i in keys]


def test_two_processes_updating_different_fields_lose_nothing(db_path: Path) -> None:
    keys = list(range(10))
    c = MilvusClient(str(db_path))
    _make_counters(c, keys)
    rounds = 30
    code = textwrap.dedent(f"""
        import sys
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r}, write_lock_timeout=120)
        field = sys.argv[1]
        for k in range(1, {rounds} + 1):
            c.upsert("cc", [{{"id": i, field: k}} for i in {keys!r}], partial_update=True)
        print("done")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, f], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for f in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "done", err
    got = c.query("cc", filter="id >= 0", output_fields=["a", "b"])
    assert sorted(got, key=lambda r: r["id"]) == [{"id": i, "a": rounds, "b": rounds} for i in keys]
    c.close()


@pytest.mark.skipif(sys.platform == "win32", reason="fault injection kills with SIGKILL")
@pytest.mark.parametrize("point", ["wal.torn", "wal.unsynced"])
def test_a_crash_during_the_append_leaves_the_old_row_or_the_merged_one(db_path: Path, point: str) -> None:
    """The merge is logged as an ordinary UPSERT of full rows: recovery is that of any upsert
    (tests/test_crash_recovery.py kills writers at every log point); here, at the two append points."""
    c = MilvusClient(str(db_path))
    make(c)
    old = row(c, 1)
    c.close()
    code = textwrap.dedent(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        c.upsert("docs", [{{"id": 1, "issue": "crash", "year": 1999}}], partial_update=True)
        print("survived")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VECTOR_WORKBENCH_FAULT": f"{point}:1"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0 and "survived" not in p.stdout  # killed inside the append
    c = MilvusClient(str(db_path))
    now = row(c, 1)
    assert now in (old, {**old, "issue": "crash", "year": 1999})
    assert c.get_collection_stats("docs")["row_count"] == 2
    c.close()


def test_every_error_is_a_milvus_exception(client: MilvusClient) -> None:
    make(client)
    for call in (lambda: client.upsert("docs", [{"id": 1, "issue": "a"}, {"id": 2}], partial_update=True),
                 lambda: client.upsert("docs", [{"id": 1, "tags": "x"}], field_ops={"tags": "array_append"})):
        with pytest.raises(MilvusException):
            call()


def test_pymilvus_field_op_objects_are_accepted(client: MilvusClient) -> None:
    """Code written for pymilvus passes its own FieldOp objects; the engine reads their `op`."""
    pymilvus = pytest.importorskip("pymilvus")
    make(client)
    client.upsert("docs", [{"id": 1, "tags": ["z"]}], field_ops={"tags": pymilvus.FieldOp.array_append()})
    assert row(client, 1)["tags"] == ["new", "trial", "z"]
    client.upsert("docs", [{"id": 1, "tags": ["new"]}], field_ops={"tags": pymilvus.FieldOpType.ARRAY_REMOVE})
    assert row(client, 1)["tags"] == ["trial", "z"]


def test_array_ops_on_a_new_key_start_from_an_empty_array(client: MilvusClient) -> None:
    make(client)
    full = {"vector": [0.0, 1.0], "title": "t", "scores": []}
    client.upsert("docs", [{"id": 5, **full, "tags": ["a"]}], field_ops={"tags": "array_append"})
    client.upsert("docs", [{"id": 6, **full, "tags": ["a"]}], field_ops={"tags": "array_remove"})
    assert (row(client, 5)["tags"], row(client, 6)["tags"]) == (["a"], [])
    with pytest.raises(DataError, match="missing required field"):  # None: not given, so override mode
        client.upsert("docs", [{"id": 1, "issue": "x"}], partial_update=None)
