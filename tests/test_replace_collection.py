"""`MilvusClient.replace_collection(source, target)`: the engine's atomic rename-over.

In one catalog transaction the old target is dropped and `source` takes its name: readers see the old or
the new collection, never neither; an error before the commit changes nothing; the source keeps its rows
(sealed and growing), indexes and partitions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.errors import CollectionNotFoundError, MilvusException, ParamError, SchemaError
from engine.storage.catalog import Catalog


def _make(c: MilvusClient, name: str, n: int, start: int = 0, partition: str | None = None,
          seal: bool = True) -> None:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("tag", DataType.VARCHAR, max_length=64)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    c.create_collection(name, schema=schema, index_params=ip)
    if partition:
        c.create_partition(name, partition)
    rng = np.random.default_rng(start)
    rows = [{"id": i, "v": rng.standard_normal(4).astype(np.float32).tolist(), "tag": name} for i in range(start, start + n)]
    c.insert(name, rows, partition_name=partition or "")
    if seal:
        c.flush(name)


def _count(c: MilvusClient, name: str) -> int:
    return int(c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _tags(c: MilvusClient, name: str) -> set[str]:
    return {r["tag"] for r in c.query(name, filter="id >= 0", output_fields=["tag"])}


def test_replace_drops_the_old_target_and_renames_the_source(db_path: Path) -> None:
    c = MilvusClient(str(db_path))
    _make(c, "live", 30)
    _make(c, "live__importing_0123abcd", 12, start=100, partition="p1")
    c.insert("live__importing_0123abcd", [{"id": 500, "v": [0.0, 0.0, 0.0, 1.0], "tag": "growing"}])  # not sealed
    old_id = c.describe_collection("live")["collection_id"]
    new_id = c.describe_collection("live__importing_0123abcd")["collection_id"]

    c.replace_collection("live__importing_0123abcd", "live")

    assert sorted(c.list_collections()) == ["live"]
    assert not c.has_collection("live__importing_0123abcd")
    assert c.describe_collection("live")["collection_id"] == new_id
    assert _count(c, "live") == 13 and _tags(c, "live") == {"live__importing_0123abcd", "growing"}
    assert c.get("live", [0]) == []  # the old target's rows are gone
    assert c.list_partitions("live") == ["_default", "p1"]
    assert c.list_indexes("live") == ["v"]
    assert c.describe_index("live", "v")["index_type"] == "HNSW"
    hits = c.search("live", data=[[0.0, 0.0, 0.0, 1.0]], limit=1, search_params={"metric_type": "L2"})
    assert hits[0][0]["id"] == 500
    assert not (db_path / "collections" / str(old_id)).exists()  # the old target's files are removed
    c.close()

    c = MilvusClient(str(db_path))  # and all of it is what was committed
    assert c.list_collections() == ["live"] and _count(c, "live") == 13
    assert c.get("live", [500])[0]["tag"] == "growing" and c.get("live", [0]) == []
    assert c.list_partitions("live") == ["_default", "p1"]
    c.close()


def test_replace_without_a_target_is_a_rename(client: Any) -> None:
    _make(client, "staged", 5)
    client.replace_collection("staged", "fresh")
    assert client.list_collections() == ["fresh"] and _count(client, "fresh") == 5


@contextmanager
def _failing_commit(monkeypatch: pytest.MonkeyPatch, renamed: str) -> Iterator[None]:
    """Make the catalog transaction that renames `renamed` raise after its statements ran, before COMMIT
    (transactions before it, such as a separate drop, commit as usual)."""
    original = Catalog.transaction

    @contextmanager
    def transaction(self: Catalog) -> Iterator[Any]:
        with original(self) as db:
            yield db
            if not db.execute("select 1 from collections where name = ?", [renamed]).fetchall():
                raise OSError("injected: disk full before commit")

    monkeypatch.setattr(Catalog, "transaction", transaction)
    yield
    monkeypatch.setattr(Catalog, "transaction", original)


def test_an_error_before_the_commit_changes_nothing(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = MilvusClient(str(db_path))
    _make(c, "live", 30)
    _make(c, "staged", 12, start=100, partition="p1")
    with _failing_commit(monkeypatch, "staged"), pytest.raises(MilvusException) as err:
        c.replace_collection("staged", "live")
    assert "'live'" in err.value.message and "'staged'" in err.value.message
    assert "nothing was changed" in err.value.message and "disk full" in err.value.message
    for check in (c, None):
        if check is None:  # and the same after reopening
            c.close()
            c = MilvusClient(str(db_path))
        assert sorted(c.list_collections()) == ["live", "staged"]
        assert _count(c, "live") == 30 and _tags(c, "live") == {"live"}
        assert _count(c, "staged") == 12 and c.list_partitions("staged") == ["_default", "p1"]
    c.replace_collection("staged", "live")  # and it works once the fault is gone
    assert c.list_collections() == ["live"] and _count(c, "live") == 12
    c.close()


def test_replace_errors_name_the_collections(client: Any) -> None:
    _make(client, "live", 3)
    with pytest.raises(CollectionNotFoundError, match="'missing'"):
        client.replace_collection("missing", "live")
    with pytest.raises(ParamError, match="'live' with itself"):
        client.replace_collection("live", "live")
    with pytest.raises(SchemaError, match="'bad name'"):
        client.replace_collection("live", "bad name")
    with pytest.raises(ParamError, match="source must be a non-empty collection name"):
        client.replace_collection("", "live")
    assert client.list_collections() == ["live"] and _count(client, "live") == 3


def test_readers_see_the_old_or_the_new_collection_never_neither(client: Any) -> None:
    _make(client, "live", 10)
    seen: list[int] = []
    missing: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                if not client.has_collection("live"):
                    missing.append(AssertionError("has_collection('live') was False"))
                seen.append(client.describe_collection("live")["collection_id"])
            except CollectionNotFoundError as e:
                missing.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(15):
            _make(client, f"live__importing_{i:08x}", 2, start=10 * i, seal=False)
            client.replace_collection(f"live__importing_{i:08x}", "live")
    finally:
        stop.set()
        reader.join()
    assert missing == [] and len(seen) > 0
    assert client.list_collections() == ["live"] and _count(client, "live") == 2
