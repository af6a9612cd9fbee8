"""Damaged files, every kind: the engine reports the damaged file by its path and never returns wrong rows,
never drops an acknowledged row silently, and never deletes data on a guess.

The rules (docs/storage.md, "What the engine promises"):

* a damaged, truncated or missing segment file, delete file or index file raises `CorruptionError`
  naming it, on every read that needs it;
* the write-ahead log: bytes after the acknowledged end (a write that was never acknowledged) and a
  torn final record are dropped; anything else (a cut at a record boundary, a zeroed block, a damaged
  header, a missing log) is reported with the file and how many records it affects: the collection
  refuses reads and writes (it could miss rows or resurrect deleted ones), the rest of the database
  works, the damaged file is left as it was, and `workbench db recover` copies out what is intact;
* a lost, emptied or damaged catalog, and data files the catalog cannot account for, make opening
  refuse with an error naming the file and saying what to do; nothing is changed.

`test_random_byte_damage` applies random damage to random files and checks the oracle: an error naming
the damaged file, or every acknowledged row exactly. DAMAGE_TRIALS sets the count.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.errors import CorruptionError, MilvusException
from engine.storage.wal import DATA_START

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

DIM = 8


def vec(i: int) -> list[float]:
    v = np.random.default_rng(i).standard_normal(DIM)
    return [float(x) for x in (v / np.linalg.norm(v)).astype(np.float32)]


def row(i: int) -> dict[str, Any]:
    return {"id": i, "vec": vec(i), "tag": f"t{i}"}


def create(db: Path, index: str = "HNSW") -> MilvusClient:
    client = MilvusClient(str(db))
    schema = client.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type=index, metric_type="COSINE")
    client.create_collection("c", schema=schema, index_params=ip)
    client.alter_collection_properties("c", {"engine.seal_rows": 10_000})
    return client


def all_rows(client: MilvusClient) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in client.query("c", filter="", limit=10**6, output_fields=["*"])}


def wal_file(db: Path) -> Path:
    (p,) = sorted(db.resolve().glob("collections/*/wal/*.wal"))
    return p


def build_library(db: Path) -> dict[int, dict[str, Any]]:
    """A merged segment (graph-stored vectors), a level-0 segment, deletes in a sidecar and in the log,
    and growing rows: every kind of file. Returns the acknowledged rows."""
    client = create(db)
    client.insert("c", [row(i) for i in range(0, 300)])
    client.flush("c")  # merged: one level-1 segment whose graph stores the vectors
    client.drop_index("c", "vec")
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 8})
    client.create_index("c", ip)
    client.insert("c", [row(i) for i in range(300, 400)])
    client.delete("c", ids=[5, 6, 305])
    client.flush("c")
    client.delete("c", ids=[7, 306])  # in the log only
    client.insert("c", [row(i) for i in range(400, 430)])  # growing rows, in the log only
    expected = {i: row(i) for i in range(430) if i not in (5, 6, 7, 305, 306)}
    assert all_rows(client) == expected
    client.close()
    return expected


FINAL_RECORD = range(400, 430)  # the rows of the library's last log record


def files_by_kind(db: Path) -> dict[str, list[Path]]:
    root = db.resolve()
    return {
        "segment": sorted(root.glob("collections/*/segments/*.arrow")),
        "deletes": sorted(root.glob("collections/*/segments/*.del.*")),
        "graph": sorted(root.glob("collections/*/segments/*.idx/*/hnsw.bin")),
        "graph_meta": sorted(root.glob("collections/*/segments/*.idx/*/index.json")),
        "wal": sorted(root.glob("collections/*/wal/*.wal")),
    }


def snapshot_bytes(db: Path) -> dict[str, bytes]:
    return {str(p.relative_to(db)): p.read_bytes() for p in sorted(db.rglob("*"))
            if p.is_file() and not p.name.startswith(("catalog.sqlite-", "WRITE.lock", "MAINT.lock"))}


# --- segments, delete files, index files -----------------------------------------------------------------


def flip_middle_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])


def delete(p: Path) -> None:
    p.unlink()


@pytest.mark.parametrize("kind", ["segment", "deletes", "graph", "graph_meta"])
@pytest.mark.parametrize("damage", [flip_middle_byte, truncate, delete])
def test_damaged_data_file_is_named_on_every_read(tmp_path: Path, kind: str, damage: Callable[[Path], None]) -> None:
    db = tmp_path / "c.db"
    build_library(db)
    victim = files_by_kind(db)[kind][0]
    damage(victim)
    named = re.escape(str(victim.parent if kind.startswith("graph") else victim))
    client = MilvusClient(str(db))
    try:
        for _ in range(2):  # the same error every time, not only on first use
            with pytest.raises(CorruptionError, match=named):
                all_rows(client)
            with pytest.raises(CorruptionError, match=named):
                client.search("c", data=[vec(1)], limit=5, output_fields=["tag", "vec"])
    finally:
        client.close()


def test_undamaged_library_reads_everything(tmp_path: Path) -> None:
    """Control for the damage tests: the same library without damage gives every row back, exactly."""
    db = tmp_path / "c.db"
    expected = build_library(db)
    client = MilvusClient(str(db))
    try:
        assert all_rows(client) == expected
        hits = client.search("c", data=[vec(42)], limit=3, output_fields=["vec"])[0]
        assert hits[0]["id"] == 42 and hits[0]["entity"]["vec"] == vec(42)
    finally:
        client.close()


# --- the write-ahead log -------------------------------------------------------------------------------


def log_with_batches(db: Path, batches: int) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """`batches` inserts of 10 rows, unsealed; returns the acknowledged end offset after each, and the rows."""
    client = create(db)
    client.insert("c", [row(i) for i in range(1000, 1010)])
    client.flush("c")  # some sealed rows too
    ends = []
    for b in range(batches):
        client.insert("c", [row(i) for i in range(b * 10, b * 10 + 10)])
        ends.append(wal_file(db).stat().st_size)
    client.close()
    return ends, {i: row(i) for i in [*range(1000, 1010), *range(batches * 10)]}


@pytest.mark.parametrize("garbage", [b"\x00", b"garbage" * 50, b"WAL1" + b"\xff" * 40])
def test_bytes_after_the_acknowledged_end_are_ignored_then_cut(tmp_path: Path, garbage: bytes) -> None:
    db = tmp_path / "c.db"
    ends, expected = log_with_batches(db, 5)
    wal = wal_file(db)
    with open(wal, "ab") as fh:
        fh.write(garbage)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not damage: no warning
        client = MilvusClient(str(db))
        assert all_rows(client) == expected
        client.insert("c", [row(i) for i in range(50, 60)])  # the writer cuts the unacknowledged bytes first
        client.close()
    client = MilvusClient(str(db))
    assert sorted(all_rows(client)) == sorted([*expected, *range(50, 60)])
    client.close()


@pytest.mark.parametrize("cut", ["one_byte", "half", "all_but_one"])
def test_a_torn_final_record_is_dropped(tmp_path: Path, cut: str) -> None:
    """A crash during an append can leave the new header with part of its record: never acknowledged."""
    db = tmp_path / "c.db"
    ends, expected = log_with_batches(db, 5)
    last = ends[-1] - ends[-2]
    n = {"one_byte": 1, "half": last // 2, "all_but_one": last - 1}[cut]
    with open(wal_file(db), "r+b") as fh:
        fh.truncate(ends[-1] - n)
    client = MilvusClient(str(db))
    try:
        assert all_rows(client) == {k: v for k, v in expected.items() if not 40 <= k < 50}
        client.insert("c", [row(i) for i in range(40, 45)])  # writable: the torn record is cut first
        assert sorted(all_rows(client)) == sorted([k for k in expected if not 45 <= k < 50])
    finally:
        client.close()


def cut_at_record_boundary(wal: Path, ends: list[int]) -> int:
    with open(wal, "r+b") as fh:
        fh.truncate(ends[-3])
    return 2


def zero_last_block(wal: Path, ends: list[int]) -> int:
    data = bytearray(wal.read_bytes())
    start = max(DATA_START, len(data) - 4096)
    data[start:] = b"\0" * (len(data) - start)
    wal.write_bytes(bytes(data))
    return sum(1 for e in [DATA_START, *ends][:-1] if e >= start) + 1 - 1


def zero_header(wal: Path, ends: list[int]) -> int:
    data = bytearray(wal.read_bytes())
    data[:DATA_START] = b"\0" * DATA_START
    wal.write_bytes(bytes(data))
    return -1


def flip_middle_record(wal: Path, ends: list[int]) -> int:
    data = bytearray(wal.read_bytes())
    data[ends[1] + 60] ^= 0xFF  # inside the third batch's record
    wal.write_bytes(bytes(data))
    return 3


def truncate_to_nothing(wal: Path, ends: list[int]) -> int:
    wal.write_bytes(b"")
    return -1


def delete_log(wal: Path, ends: list[int]) -> int:
    wal.unlink()
    return -1


@pytest.mark.parametrize("damage", [cut_at_record_boundary, zero_last_block, zero_header, flip_middle_record,
                                    truncate_to_nothing, delete_log])
def test_damaged_log_is_reported_and_nothing_wrong_is_read(tmp_path: Path,
                                                          damage: Callable[[Path, list[int]], int]) -> None:
    """Reads and writes of the collection are refused, naming the log and what was lost: reading on would
    miss acknowledged rows, or return rows whose deletion the lost records held. Other collections, and
    dropping this one, still work; `workbench db recover` copies out what is intact."""
    db = tmp_path / "c.db"
    ends, expected = log_with_batches(db, 5)
    wal = wal_file(db)
    damage(wal, ends)
    before = snapshot_bytes(db)
    named = re.escape(str(wal))
    client = MilvusClient(str(db))
    try:
        for _ in range(2):
            with pytest.raises(CorruptionError, match=named) as info:
                all_rows(client)
            assert "workbench db recover" in str(info.value)
            with pytest.raises(CorruptionError, match=named):
                client.search("c", data=[vec(1)], limit=3)
        for write in (lambda: client.insert("c", [row(2000)]), lambda: client.delete("c", ids=[1000]),
                      lambda: client.flush("c")):
            with pytest.raises(MilvusException, match=named):
                write()
        client.create_collection("other", dimension=4)  # the rest of the database works
        client.insert("other", [{"id": 1, "vector": [1.0, 0.0, 0.0, 0.0]}])
        assert client.query("other", filter="id == 1")
    finally:
        client.close()
    assert {k: v for k, v in snapshot_bytes(db).items() if "/1/" in k or k.startswith("collections/1")} == \
        {k: v for k, v in before.items() if k.startswith("collections/1")}, "the damaged files are left as they were"


def test_restoring_the_log_heals_the_collection(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _, expected = log_with_batches(db, 3)
    wal = wal_file(db)
    good = wal.read_bytes()
    wal.write_bytes(good[: len(good) // 2])
    client = MilvusClient(str(db))
    try:
        with pytest.raises(CorruptionError):
            all_rows(client)
        wal.write_bytes(good)  # restored from a backup
        assert all_rows(client) == expected
    finally:
        client.close()


# --- the catalog -----------------------------------------------------------------------------------------


def catalog_deleted(db: Path) -> None:
    for p in db.glob("catalog.sqlite*"):
        p.unlink()


def catalog_zeroed(db: Path) -> None:
    p = db / "catalog.sqlite"
    p.write_bytes(b"\0" * p.stat().st_size)
    for q in db.glob("catalog.sqlite-*"):
        q.unlink()


def catalog_emptied(db: Path) -> None:
    (db / "catalog.sqlite").write_bytes(b"")
    for q in db.glob("catalog.sqlite-*"):
        q.unlink()


def catalog_garbled(db: Path) -> None:
    p = db / "catalog.sqlite"
    data = bytearray(p.read_bytes())
    data[100:4096] = os.urandom(3996)
    p.write_bytes(bytes(data))
    for q in db.glob("catalog.sqlite-*"):
        q.unlink()


def catalog_replaced_by_a_new_one(db: Path) -> None:
    catalog_deleted(db)
    MilvusClient(str(db.parent / "other.db")).close()
    for p in (db.parent / "other.db").glob("catalog.sqlite*"):
        p.rename(db / p.name)


@pytest.mark.parametrize("damage", [catalog_deleted, catalog_zeroed, catalog_emptied, catalog_garbled,
                                    catalog_replaced_by_a_new_one])
def test_lost_or_damaged_catalog_refuses_to_open_and_changes_nothing(tmp_path: Path,
                                                                    damage: Callable[[Path], None]) -> None:
    db = tmp_path / "c.db"
    build_library(db)
    data_before = {k: v for k, v in snapshot_bytes(db).items() if k.startswith("collections")}
    damage(db)
    for _ in range(2):
        with pytest.raises(CorruptionError, match="catalog|account for") as info:
            MilvusClient(str(db))
        assert str(db.resolve()) in str(info.value) and "workbench db" in str(info.value)
    assert {k: v for k, v in snapshot_bytes(db).items() if k.startswith("collections")} == data_before


@pytest.mark.parametrize("stray", ["collections/{cid}/segments/seg_09999999.arrow", "collections/777/wal/x.wal",
                                   "collections/{cid}/wal/log_0000000000000099.wal"])
def test_unexplained_data_file_refuses_to_open_and_is_kept(tmp_path: Path, stray: str) -> None:
    db = tmp_path / "c.db"
    build_library(db)
    cid = next((db / "collections").iterdir()).name
    path = db / stray.format(cid=cid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"someone's data")
    with pytest.raises(CorruptionError, match="does not account for"):
        MilvusClient(str(db))
    assert path.read_bytes() == b"someone's data"


# --- drop and create -----------------------------------------------------------------------------------------


def test_ids_and_directories_are_never_reused_after_a_drop(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    client = create(db)
    client.insert("c", [row(i) for i in range(20)])
    first = client.describe_collection("c")["collection_id"]
    client.drop_collection("c")
    assert not (db / "collections" / str(first)).exists()
    client.close()
    client = create(db)
    second = client.describe_collection("c")["collection_id"]
    assert second > first and all_rows(client) == {}
    client.close()


# --- random damage ----------------------------------------------------------------------------------------------


def random_damage(rng: random.Random, path: Path) -> str:
    data = bytearray(path.read_bytes())
    how = rng.choice(["flip", "zero_block", "truncate", "delete", "append"])
    if how == "flip" and data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif how == "zero_block" and data:
        i = rng.randrange(len(data))
        data[i : i + rng.choice([1, 16, 512, 4096])] = b"\0" * len(data[i : i + 4096])
    elif how == "truncate":
        data = data[: rng.randrange(len(data) + 1)]
    elif how == "delete":
        path.unlink()
        return how
    else:
        data += os.urandom(rng.randrange(1, 64))
    path.write_bytes(bytes(data))
    return how


def test_random_byte_damage(tmp_path: Path) -> None:
    """Random damage to a random file: either an error names the damaged file, or every acknowledged row
    comes back exactly. Never a silent loss, never a wrong row, never an error that is not the engine's own."""
    trials = int(os.environ.get("DAMAGE_TRIALS", "40"))
    seed = int(os.environ.get("DAMAGE_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    pristine = tmp_path / "pristine.db"
    expected = build_library(pristine)
    kinds = files_by_kind(pristine)
    outcomes: dict[str, int] = {}
    for t in range(trials):
        db = tmp_path / f"t{t}.db"
        os.system(f"cp -r {pristine} {db}")
        kind = rng.choice(sorted(k for k, v in kinds.items() if v))
        victim = db / rng.choice(kinds[kind]).relative_to(pristine.resolve())
        how = random_damage(rng, victim)
        label = f"DAMAGE_SEED={seed} trial {t}: {how} {victim.relative_to(db)}"
        named = (str(victim.parent) if kind.startswith("graph") else str(victim))
        try:
            client = MilvusClient(str(db))
            try:
                rows = all_rows(client)
                hits = client.search("c", data=[vec(3)], limit=5, output_fields=["vec", "tag"])[0]
            finally:
                client.close()
        except CorruptionError as e:
            assert named in str(e) or str(victim) in str(e), f"{label}: the error names another file: {e}"
            outcomes["error"] = outcomes.get("error", 0) + 1
            continue
        except MilvusException as e:
            raise AssertionError(f"{label}: {type(e).__name__} instead of a CorruptionError: {e}") from e
        torn = {k: v for k, v in expected.items() if k not in FINAL_RECORD}  # a torn final append may be dropped
        assert rows in (expected, torn), f"{label}: no error, but the rows differ from the acknowledged ones"
        for h in hits:
            assert h["entity"]["vec"] == expected[h["id"]]["vec"], f"{label}: wrong hit {h}"
        outcomes["intact"] = outcomes.get("intact", 0) + 1
    print(f"random damage DAMAGE_SEED={seed}: {outcomes}")
    assert outcomes.get("error", 0) > 0
