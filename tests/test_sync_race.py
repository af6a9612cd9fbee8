"""A thread that syncs a collection while another thread of the same process commits a change.

SQLite's `PRAGMA data_version` does not change for a connection's own commits, so a collection
learns of this process's changes (a new partition, an index spec, properties) only through its
"stale" mark. A sync that read the catalog just before such a commit must not clear the mark set
after it: the next call would then work from the old partitions. The crash test met this once as a
`PartitionNotFoundError` for a partition its writer had just created, while the background
maintainer was syncing the same collection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import DataType, MilvusClient


def _client(tmp_path: Path) -> MilvusClient:
    client = MilvusClient(str(tmp_path / "race.db"))
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection("c", schema=schema)
    return client


def test_a_partition_created_while_another_thread_syncs_is_seen_by_the_next_insert(tmp_path: Path) -> None:
    client = _client(tmp_path)
    db = client._db
    assert db is not None
    coll = db.get("c")
    catalog = coll.catalog
    plain_read = catalog.read
    read_done, committed = threading.Event(), threading.Event()

    @contextmanager
    def slow_read() -> Iterator[Any]:
        with plain_read() as tx:
            yield tx
        if threading.current_thread().name == "syncer" and not read_done.is_set():
            read_done.set()  # this sync has read the catalog as it was before the commit below
            assert committed.wait(10)

    catalog.read = slow_read  # type: ignore[method-assign]
    coll.mark_stale()
    syncer = threading.Thread(target=coll.sync, name="syncer")
    syncer.start()
    try:
        assert read_done.wait(10)
        client.create_partition("c", "p1")  # commits and marks the collection stale, mid-sync
        committed.set()
    finally:
        syncer.join(10)
        catalog.read = plain_read  # type: ignore[method-assign]
    assert not syncer.is_alive()
    client.insert("c", [{"id": 1, "vec": [1.0, 0.0, 0.0, 0.0]}], partition_name="p1")
    assert client.query("c", filter="id == 1", partition_names=["p1"], output_fields=["id"]) == [{"id": 1}]
    client.close()
