"""`truncate_collection`, from the Milvus documentation: every entity goes, the collection stays (its schema,
indexes, partitions, properties, aliases); and a kill at any step leaves all the rows or none."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import MilvusClient
from engine.errors import CollectionNotFoundError

ROOT = Path(__file__).resolve().parent.parent


def count(c: MilvusClient, name: str = "c") -> int:
    return int(c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def filled(c: MilvusClient) -> None:
    c.create_collection("c", dimension=2, properties={"engine.seal_rows": 50, "team": "a"})
    c.create_partition("c", "p1")
    c.create_alias("c", "al")
    c.insert("c", [{"id": i, "vector": [1.0, float(i)]} for i in range(120)])  # two seals
    c.insert("c", [{"id": 500 + i, "vector": [0.0, float(i)]} for i in range(10)], partition_name="p1")
    c.delete("c", ids=[3, 4])
    c.flush("c")
    c.insert("c", [{"id": 900, "vector": [1.0, 1.0]}])  # and a growing row


def test_truncate_removes_every_row_and_keeps_the_collection(client: MilvusClient, db_path: Path) -> None:
    filled(client)
    assert count(client) == 129
    before = client.describe_collection("c")
    client.truncate_collection("c")
    assert count(client) == 0 and client.get_collection_stats("c") == {"row_count": 0}
    assert client.search("c", [[1.0, 0.0]], limit=5) == [[]]
    after = client.describe_collection("c")
    assert {k: v for k, v in after.items()} == {k: v for k, v in before.items()}  # schema, properties, aliases...
    assert client.list_partitions("c") == ["_default", "p1"] and client.list_indexes("c") == ["vector"]
    assert client.describe_index("c", "vector")["state"] == "Finished"
    assert not list((db_path / "collections").glob("*/segments/seg_*.arrow"))  # the files are gone too
    client.insert("c", [{"id": 1, "vector": [1.0, 0.0]}])  # and it takes new rows, with the old ids
    assert client.search("c", [[1.0, 0.0]], limit=5)[0][0]["id"] == 1


def test_truncating_twice_or_right_after_a_flush(client: MilvusClient) -> None:
    client.create_collection("c", dimension=2)
    client.insert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    client.flush("c")
    client.truncate_collection("c")  # the log then holds no record: it is kept, not created again
    client.truncate_collection("c")
    client.insert("c", [{"id": 2, "vector": [1.0, 0.0]}])
    assert count(client) == 1


def test_truncate_a_missing_collection(client: MilvusClient) -> None:
    with pytest.raises(CollectionNotFoundError):
        client.truncate_collection("missing")


@pytest.mark.parametrize("growing, n, expect", [(True, 1, 130), (True, 2, 130), (True, 3, 0),
                                                (False, 1, 130), (False, 2, 0)])
def test_a_kill_inside_truncate_leaves_all_rows_or_none(db_path: Path, growing: bool, n: int, expect: int) -> None:
    """With rows in the log, truncate commits three catalog transactions (announce a new log, truncate, forget
    the garbage); with none, two (the log is kept). A kill before the n-th commit leaves every row when the
    truncation is not committed, none when it is; either way every file left is explained and cleaned up."""
    c = MilvusClient(str(db_path))
    filled(c)
    c.insert("c", [{"id": 901, "vector": [1.0, 2.0]}])
    if not growing:
        c.flush("c")
    db = c.db
    c.close()
    db.close()  # stops this process's background maintenance too: the child is the only one at work
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VECTOR_WORKBENCH_FAULT": f"catalog.precommit:{n}"}
    code = f"""
        from engine import MilvusClient
        c = MilvusClient({str(db_path)!r})
        c.truncate_collection("c")
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -9, out.stderr  # killed at the fault point
    with MilvusClient(str(db_path)) as c:  # opens: every file left is explained, and cleaned up
        assert count(c) == expect
        c.insert("c", [{"id": 10_000, "vector": [1.0, 0.0]}])
        assert count(c) == expect + 1
