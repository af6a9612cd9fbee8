"""Damaged files: a segment file that is corrupted, truncated or missing raises
CorruptionError naming it (never wrong rows); a torn WAL tail is dropped on
reopen while every earlier record survives."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.errors import CorruptionError

# An exception in an engine thread (the background index builder) is a bug too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


DIM = 4


def vec(i: int) -> list[float]:
    return [float(x) for x in np.random.default_rng(i).uniform(-1, 1, DIM).astype(np.float32)]


def row(i: int) -> dict[str, Any]:
    return {"id": i, "vec": vec(i), "tag": f"t{i}"}


def create(db: Path) -> MilvusClient:
    client = MilvusClient(str(db))
    schema = client.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="COSINE")
    client.create_collection("c", schema=schema, index_params=ip)
    return client


def segment_files(db: Path) -> list[Path]:
    return sorted(db.resolve().glob("collections/*/segments/*.arrow"))


def wal_files(db: Path) -> list[Path]:
    return sorted(db.resolve().glob("collections/*/wal/wal_*.log"))


def all_rows(client: MilvusClient) -> dict[int, dict[str, Any]]:
    rows = client.query("c", filter="", limit=10**6, output_fields=["*"])
    return {r["id"]: r for r in rows}


def flip_middle_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])


def delete(p: Path) -> None:
    p.unlink()


def flip_trailer_byte(p: Path) -> None:  # the Arrow footer: the file still has its size, the schema is broken
    data = bytearray(p.read_bytes())
    data[-12] ^= 0x5A
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [flip_middle_byte, truncate, delete, flip_trailer_byte])
def test_damaged_segment_raises_corruption_error_naming_the_file(tmp_path: Path,
                                                                damage: Callable[[Path], None]) -> None:
    db = tmp_path / "c.db"
    client = create(db)
    client.insert("c", [row(i) for i in range(100)])
    client.flush("c")
    client.insert("c", [row(i) for i in range(100, 200)])
    client.flush("c")
    client.insert("c", [row(i) for i in range(200, 210)])  # growing rows, in the WAL only
    files = segment_files(db)
    assert len(files) == 2
    client.close()

    victim = files[1]
    damage(victim)
    client = MilvusClient(str(db))
    try:
        pattern = re.escape(str(victim))
        for _ in range(2):  # the same error every time, not only on first load
            with pytest.raises(CorruptionError, match=pattern) as info:
                client.query("c", filter="", limit=1000, output_fields=["*"])
            assert info.value.path == str(victim)
            with pytest.raises(CorruptionError, match=pattern):
                client.search("c", data=[vec(1)], limit=5, output_fields=["tag"])
            with pytest.raises(CorruptionError, match=pattern):
                client.search("c", data=[vec(1)], limit=5)
            with pytest.raises(CorruptionError, match=pattern):
                client.query("c", filter="id >= 0", output_fields=["tag"])
            with pytest.raises(CorruptionError, match=pattern):
                client.get("c", ids=[150])
    finally:
        client.close()


def test_undamaged_reopen_reads_everything(tmp_path: Path) -> None:
    """Control for the test above: the same steps without damage give every row back."""
    db = tmp_path / "c.db"
    client = create(db)
    client.insert("c", [row(i) for i in range(100)])
    client.flush("c")
    client.insert("c", [row(i) for i in range(100, 110)])
    client.close()
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == list(range(110))
        assert all(rows[i] == row(i) for i in rows)
    finally:
        client.close()


def wal_with_batches(db: Path, batches: int) -> tuple[MilvusClient, list[int]]:
    """Insert `batches` batches of 10 rows (no flush); return the WAL size after each."""
    client = create(db)
    (wal,) = wal_files(db)
    sizes = [wal.stat().st_size]
    for b in range(batches):
        client.insert("c", [row(i) for i in range(b * 10, b * 10 + 10)])
        sizes.append(wal.stat().st_size)
    return client, sizes


@pytest.mark.parametrize("garbage", [b"\x00", b"garbage" * 50, b"WAL1" + b"\xff" * 40, b"WAL1\x08\x00\x00\x00"])
def test_garbage_after_the_last_wal_record_is_dropped(tmp_path: Path, garbage: bytes) -> None:
    db = tmp_path / "c.db"
    client, sizes = wal_with_batches(db, 5)
    client.close()
    (wal,) = wal_files(db)
    with open(wal, "ab") as fh:
        fh.write(garbage)
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == list(range(50)) and all(rows[i] == row(i) for i in rows)
        assert wal_files(db) == [wal] and wal.stat().st_size == sizes[-1], "the torn tail is cut off"
        client.insert("c", [row(i) for i in range(50, 60)])  # appends after the cut are readable again
    finally:
        client.close()
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == list(range(60)) and all(rows[i] == row(i) for i in rows)
    finally:
        client.close()


@pytest.mark.parametrize("cut", [1, 7, 21, "half", "all_but_one"])
def test_a_cut_last_wal_record_is_dropped_whole(tmp_path: Path, cut: int | str) -> None:
    db = tmp_path / "c.db"
    client, sizes = wal_with_batches(db, 5)
    client.close()
    (wal,) = wal_files(db)
    last = sizes[-1] - sizes[-2]
    n = cut if isinstance(cut, int) else {"half": last // 2, "all_but_one": last - 1}[cut]
    assert 0 < n < last
    with open(wal, "r+b") as fh:
        fh.truncate(sizes[-1] - n)
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == list(range(40)), "the four whole batches survive, nothing of the fifth"
        assert all(rows[i] == row(i) for i in rows)
        assert wal.stat().st_size == sizes[-2]
        client.insert("c", [row(i) for i in range(40, 45)])  # the fifth batch's ids are free again
    finally:
        client.close()
    client = MilvusClient(str(db))
    try:
        assert sorted(all_rows(client)) == list(range(45))
    finally:
        client.close()


def test_a_corrupt_last_wal_record_is_dropped_whole(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    client, sizes = wal_with_batches(db, 3)
    client.delete("c", ids=[0, 11, 25])
    (wal,) = wal_files(db)
    size_before_delete = sizes[-1]
    client.close()
    data = bytearray(wal.read_bytes())
    data[-2] ^= 0x01  # inside the JSON payload of the delete record: its CRC no longer matches
    wal.write_bytes(bytes(data))
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == list(range(30)), "the delete was torn: all three rows are back"
        assert wal.stat().st_size == size_before_delete
    finally:
        client.close()


def test_torn_tail_after_a_seal_keeps_sealed_and_logged_rows(tmp_path: Path) -> None:
    """Sealed rows, deletes persisted at the seal and the intact WAL records all survive a torn tail."""
    db = tmp_path / "c.db"
    client = create(db)
    client.insert("c", [row(i) for i in range(30)])
    client.delete("c", ids=[3, 4])
    client.flush("c")
    client.delete("c", ids=[5])
    client.insert("c", [row(i) for i in range(30, 40)])
    (wal,) = wal_files(db)
    good = wal.stat().st_size
    client.insert("c", [row(i) for i in range(40, 50)])
    client.close()
    with open(wal, "r+b") as fh:
        fh.truncate(good + 10)
    client = MilvusClient(str(db))
    try:
        rows = all_rows(client)
        assert sorted(rows) == [i for i in range(40) if i not in (3, 4, 5)]
        assert all(rows[i] == row(i) for i in rows)
        assert client.get_collection_stats("c")["row_count"] == 37
    finally:
        client.close()


def test_a_damaged_wal_record_followed_by_intact_ones_raises(tmp_path: Path) -> None:
    """Damage in the middle of the WAL is not a torn tail: the records after it were acknowledged.

    Replay must not drop them silently (and must not truncate the evidence away)."""
    db = tmp_path / "c.db"
    client, sizes = wal_with_batches(db, 5)
    client.close()
    (wal,) = wal_files(db)
    data = bytearray(wal.read_bytes())
    data[sizes[1] + 40] ^= 0xFF  # inside the second batch's record
    wal.write_bytes(bytes(data))
    client = MilvusClient(str(db))
    try:
        for _ in range(2):
            with pytest.raises(CorruptionError, match=re.escape(str(wal))) as info:
                client.query("c", filter="", limit=100)
            assert info.value.path == str(wal)
        assert wal.read_bytes() == bytes(data), "the damaged log is left as it was"
        client.drop_collection("c")  # the collection can still be dropped
        assert not client.has_collection("c")
    finally:
        client.close()
