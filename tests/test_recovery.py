"""The recovery path of a damaged database: `check_database` / `workbench db check` and `recover_database` /
`workbench db recover` (engine/recovery*.py, docs/storage.md "Recovering a damaged database").

What is checked, for every kind of damage:

* `check` names the damaged file and what it affects, and never changes anything (byte-for-byte);
* `recover` builds a new database holding exactly the acknowledged rows (values, vectors, partitions),
  the index specs and the properties; the source is byte-for-byte unchanged; what could not be recovered
  is listed with the rows or log records it held;
* a lost catalog: the files describe themselves well enough to recover every row, also after a merge or a
  seal that a SIGKILL interrupted (compared with the crash harness's model of acknowledged operations).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from engine import DataType, LoadState, MilvusClient
from engine.errors import MilvusException, ParamError
from engine.recovery import RecoveryProgress, check_database, recover_database, run_recovery
from engine.storage.segment import read_segment_metadata
from tests.test_crash_recovery import WRITER, apply_op, apply_op_all, parse_log, read_state
from tests.test_damage import (
    all_rows,
    build_library,
    catalog_deleted,
    catalog_emptied,
    catalog_garbled,
    catalog_replaced_by_a_new_one,
    catalog_zeroed,
    create,
    files_by_kind,
    flip_middle_byte,
    flip_middle_record,
    log_with_batches,
    row,
    vec,
    wal_file,
)
from workbench.cli import cli

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

DATA = Path(__file__).with_name("data")


# --- a library with every kind of file and field -------------------------------------------------------------


def build_rich(db: Path) -> dict[str, dict[str, Any]]:
    """`build_library`'s collection "c" (a merged segment with graph-stored vectors, a level-0 segment, deletes
    in a sidecar and in the log, growing rows) plus "docs": auto_id keys, partitions (one left empty), a JSON
    field, dynamic fields, float16 and binary vectors, a scalar index, custom properties. Returns what
    `everything` reads from it."""
    build_library(db)
    client = MilvusClient(str(db))
    schema = client.create_schema(enable_dynamic_field=True, auto_id=True, description="documents")
    schema.add_field("pk", DataType.INT64, is_primary=True, auto_id=True)
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("half", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("bits", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("kind", DataType.VARCHAR, max_length=20)
    schema.add_field("info", DataType.JSON)
    ip = client.prepare_index_params()
    ip.add_index("emb", index_type="FLAT", metric_type="L2")
    ip.add_index("kind", index_type="INVERTED", index_name="kind_idx")
    client.create_collection("docs", schema=schema, index_params=ip,
                             properties={"engine.seal_rows": 40, "owner": "team-a"})
    client.create_partition("docs", "p1")
    client.create_partition("docs", "p_empty")
    rng = np.random.default_rng(5)

    def doc(i: int) -> dict[str, Any]:
        return {"emb": [float(x) for x in rng.standard_normal(4).astype(np.float32)],
                "half": rng.standard_normal(4).astype(np.float16), "bits": bytes([i % 256, (i * 7) % 256]),
                "kind": f"k{i % 3}", "info": {"i": i, "tags": ["a", str(i)]}, **({"note": f"n{i}"} if i % 2 else {})}

    ids = client.insert("docs", [doc(i) for i in range(60)])["ids"]  # seals at 40 rows
    ids += client.insert("docs", [doc(i) for i in range(60, 90)], partition_name="p1")["ids"]
    client.delete("docs", ids=ids[:3] + ids[65:67])
    client.flush("docs")
    client.insert("docs", [doc(i) for i in range(90, 95)], partition_name="p1")  # growing
    client.delete("docs", ids=[ids[70]])  # in the log
    out = everything(client)
    client.close()
    return out


def everything(client: MilvusClient) -> dict[str, dict[str, Any]]:
    """Per collection: rows by partition, index specs, properties and the schema."""
    out = {}
    for name in client.list_collections():
        desc = client.describe_collection(name)
        pk = next(f["name"] for f in desc["fields"] if f.get("is_primary"))
        loaded = str(client.get_load_state(name)["state"]) == "Loaded"
        if not loaded:  # read it, then leave it released as it was
            client.load_collection(name)
        rows = {}
        for p in client.list_partitions(name):
            for r in client.query(name, filter="", limit=10**6, output_fields=["*"], partition_names=[p]):
                rows[r[pk]] = (p, _plain(r))
        indexes = {}
        for ix in client.list_indexes(name):
            d = client.describe_index(name, ix)
            indexes[ix] = {k: v for k, v in d.items() if k not in ("total_rows", "indexed_rows",
                                                                     "pending_index_rows", "state")}
        out[name] = {"rows": rows, "partitions": sorted(client.list_partitions(name)), "indexes": indexes,
                     "properties": desc["properties"], "fields": desc["fields"], "auto_id": desc["auto_id"],
                     "dynamic": desc["enable_dynamic_field"], "description": desc["description"], "loaded": loaded}
        if not loaded:
            client.release_collection(name)
    return out


def _plain(r: dict[str, Any]) -> dict[str, Any]:
    return {k: (np.asarray(v).tolist() if isinstance(v, (list, np.ndarray)) and k in ("half",) else v)
            for k, v in r.items()}


def snapshot_all(db: Path) -> dict[str, bytes]:
    """Every file of the directory, byte for byte (catalog, its journal files and lock files included)."""
    return {str(p.relative_to(db)): p.read_bytes() for p in sorted(db.rglob("*")) if p.is_file()}


def recover_ok(src: Path, dst: Path) -> Any:
    before = snapshot_all(src)
    report = run_recovery(src, dst)
    assert snapshot_all(src) == before, "recover wrote to its source"
    return report


def read_all(db: Path) -> dict[str, dict[str, Any]]:
    client = MilvusClient(str(db))
    try:
        return everything(client)
    finally:
        client.close()


# --- a healthy database --------------------------------------------------------------------------------------


def test_check_of_a_healthy_database_is_ok_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    build_rich(db)
    before = snapshot_all(db)
    report = check_database(db)
    assert report.ok, report.summary()
    assert report.catalog == "ok" and not [p for p in report.problems if p.severity != "note"]
    assert {c["name"] for c in report.collections} == {"c", "docs"}
    assert report.tally.segments >= 3 and report.tally.delete_files >= 2 and report.tally.records >= 3
    assert snapshot_all(db) == before


def test_recover_of_a_healthy_database_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    expected = build_rich(db)
    with MilvusClient(str(db)) as client:
        client.release_collection("docs")
    expected["docs"]["loaded"] = False  # recovered released, as it was
    (db / "workbench").mkdir()
    (db / "workbench" / "docs.json").write_text('{"model": "ViT-B-32"}')  # the app's record of a collection
    report = recover_ok(db, tmp_path / "new.db")
    assert report.ok and report.placed and report.verified, report.summary()
    assert {c.source for c in report.collections} == {"catalog"}
    assert read_all(tmp_path / "new.db") == expected
    assert (tmp_path / "new.db" / "workbench" / "docs.json").read_text() == '{"model": "ViT-B-32"}'
    with MilvusClient(str(tmp_path / "new.db")) as client:
        assert client.get_load_state("docs")["state"] == LoadState.NotLoad
        assert client.get_load_state("c")["state"] == LoadState.Loaded
    client = MilvusClient(str(tmp_path / "new.db"))
    try:  # the recovered auto_id collection hands out keys that do not collide with the recovered ones
        new = client.insert("docs", [{"emb": [0.0] * 4, "half": np.zeros(4, np.float16), "bits": b"\0\0",
                                      "kind": "x", "info": {}}])["ids"][0]
        assert new not in expected["docs"]["rows"]
        hits = client.search("c", data=[vec(42)], limit=1, output_fields=["vec"])[0]
        assert hits[0]["id"] == 42 and hits[0]["entity"]["vec"] == vec(42)
    finally:
        client.close()


def test_merged_segment_files_describe_themselves(tmp_path: Path) -> None:
    """A merge writes its own description (it used to inherit its first source's)."""
    db = tmp_path / "m.db"
    build_library(db)
    (seg,) = files_by_kind(db)["segment"]
    meta = read_segment_metadata(seg)
    assert meta["vector_workbench.segment_id"] == str(int(seg.stem.split("_")[1]))
    assert meta["vector_workbench.level"] == "1" and json.loads(meta["vector_workbench.compacted_from"])
    assert json.loads(meta["vector_workbench.indexes"])[0]["params"] == {"M": 8}


def test_merged_segment_written_with_its_sources_description_is_still_recovered(tmp_path: Path) -> None:
    """Merges before the fix kept their first source's description: without the catalog such a file is used
    as a merged segment whose sources are unknown, and reported."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    db = tmp_path / "c.db"
    expected = build_library(db)
    (seg,) = files_by_kind(db)["segment"]
    table = ipc.open_file(pa.BufferReader(seg.read_bytes())).read_all()  # not mapped: the file is rewritten
    meta = {**table.schema.metadata, b"vector_workbench.segment_id": b"1", b"vector_workbench.level": b"0",
            b"vector_workbench.lsn": b"1", b"vector_workbench.compacted_from": b"[]"}
    with pa.OSFile(str(seg), "wb") as sink, ipc.new_file(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table)
    catalog_deleted(db)
    report = recover_ok(db, tmp_path / "new.db")
    assert report.ok and any(p.kind == "segment-misdescribed" and p.path == str(seg) for p in report.problems)
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected
    client.close()


# --- the catalog lost or damaged --------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", [catalog_deleted, catalog_zeroed, catalog_emptied, catalog_garbled,
                                    catalog_replaced_by_a_new_one])
def test_lost_catalog_is_reported_and_everything_is_recovered_from_the_files(
        tmp_path: Path, damage: Callable[[Path], None]) -> None:
    db = tmp_path / "c.db"
    expected = build_rich(db)
    damage(db)
    before = snapshot_all(db)
    report = check_database(db)
    assert not report.ok
    if damage is catalog_replaced_by_a_new_one:  # a valid catalog that knows nothing of the files
        assert report.catalog == "ok"
        assert any(p.kind == "unexplained-file" and p.path == str(db / "collections" / "1") for p in report.problems)
    else:
        (problem,) = [p for p in report.problems if p.kind.startswith("catalog-")]
        assert problem.path == str(db / "catalog.sqlite") and str(db / "catalog.sqlite") in problem.detail
    assert snapshot_all(db) == before, "check wrote to the database"

    result = recover_ok(db, tmp_path / "new.db")
    assert result.ok and result.placed, result.summary()
    assert {c.source for c in result.collections} == {"files"}
    got = read_all(tmp_path / "new.db")
    # Partitions without rows were only in the catalog; everything else comes back exactly.
    assert got["docs"]["partitions"] == ["_default", "p1"]
    for name in ("c", "docs"):
        exp = dict(expected[name])
        exp["partitions"] = got[name]["partitions"]
        assert got[name] == exp, name


def test_catalog_restored_from_an_older_copy_is_not_trusted(tmp_path: Path) -> None:
    """Files the (older) catalog does not know make recovery read the collection from its files."""
    db = tmp_path / "c.db"
    client = create(db, index="FLAT")
    client.insert("c", [row(i) for i in range(20)])
    client.flush("c")
    client.close()
    old = {p.name: p.read_bytes() for p in db.glob("catalog.sqlite*")}
    client = MilvusClient(str(db))
    client.insert("c", [row(i) for i in range(20, 40)])
    client.flush("c")
    client.delete("c", ids=[3, 25])
    expected = all_rows(client)
    client.close()
    for p in db.glob("catalog.sqlite*"):
        p.unlink()
    for name, data in old.items():
        (db / name).write_bytes(data)
    report = check_database(db)
    assert any(p.kind == "unexplained-file" for p in report.problems) and not report.ok
    result = recover_ok(db, tmp_path / "new.db")
    assert [c.source for c in result.collections] == ["files"], result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected
    client.close()


# --- damaged logs and segments ------------------------------------------------------------------------------------


def test_damaged_log_intact_records_are_recovered_and_the_loss_counted(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ends, rows = log_with_batches(db, 5)
    wal = wal_file(db)
    lost = flip_middle_record(wal, ends)  # records 3..5 of 5 are lost
    report = check_database(db)
    (problem,) = [p for p in report.problems if p.kind == "log-damaged"]
    assert problem.path == str(wal) and problem.records == lost and str(wal) in problem.line()
    result = recover_ok(db, tmp_path / "new.db")
    assert result.placed and not result.ok
    (problem,) = [p for p in result.problems if p.kind == "log-damaged"]
    assert problem.records == lost and "2 intact record(s)" in problem.detail
    assert f"{lost} log record(s)" in result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == {k: v for k, v in rows.items() if k >= 1000 or k < 20}  # sealed + batches 1, 2
    client.close()


def test_missing_log_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _, rows = log_with_batches(db, 2)
    wal_file(db).unlink()
    report = check_database(db)
    assert any(p.kind == "log-missing" and p.records == -1 for p in report.problems)
    result = recover_ok(db, tmp_path / "new.db")
    assert not result.ok and "unknown extent" in result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == {k: v for k, v in rows.items() if k >= 1000}  # the sealed rows
    client.close()


def test_log_that_does_not_start_where_the_catalog_says_is_reported(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "c.db"
    log_with_batches(db, 2)
    conn = sqlite3.connect(str(db / "catalog.sqlite"))
    with conn:
        conn.execute("update collections set sealed_lsn = sealed_lsn + 1")
    conn.close()
    report = check_database(db)
    (problem,) = [p for p in report.problems if p.kind == "log-mismatch"]
    assert problem.path == str(wal_file(db)) and not report.ok


def three_segments(db: Path) -> dict[int, dict[str, Any]]:
    client = create(db, index="FLAT")  # level-0 segments stay apart (no graph to merge into)
    for b in range(3):
        client.insert("c", [row(i) for i in range(b * 10, b * 10 + 10)])
        client.flush("c")
    client.delete("c", ids=[1, 12])
    client.flush("c")
    client.insert("c", [row(i) for i in range(100, 105)])
    out = all_rows(client)
    client.close()
    return out


@pytest.mark.parametrize("with_catalog", [True, False])
def test_damaged_segment_is_reported_and_the_rest_recovered(tmp_path: Path, with_catalog: bool) -> None:
    db = tmp_path / "c.db"
    expected = three_segments(db)
    victim = files_by_kind(db)["segment"][1]  # rows 10..19, of which 12 is deleted
    if with_catalog:
        flip_middle_byte(victim)
    else:
        victim.write_bytes(victim.read_bytes()[:200])  # no checksum without the catalog: a cut file is caught
        catalog_deleted(db)
    report = check_database(db)
    (problem,) = [p for p in report.problems if p.kind == "segment-damaged"]
    assert problem.path == str(victim)
    if with_catalog:
        assert problem.rows == 9 and "checksum" in problem.detail
    result = recover_ok(db, tmp_path / "new.db")
    assert result.placed and not result.ok
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == {k: v for k, v in expected.items() if not 10 <= k < 20}
    client.close()


@pytest.mark.parametrize("kind", ["deletes", "graph"])
def test_damaged_deletes_or_graph_loses_that_segment_only(tmp_path: Path, kind: str) -> None:
    """Which rows a damaged delete file deleted is unknown, and a damaged graph holds the vectors: the
    segment's rows are not recovered (never resurrected or made up), and the report says how many."""
    db = tmp_path / "c.db"
    build_library(db)
    victim = files_by_kind(db)[kind][0]
    flip_middle_byte(victim)
    report = check_database(db)
    lost = [p for p in report.problems if p.kind in ("deletes-damaged", "vectors-lost")]
    assert len(lost) == 1 and lost[0].rows == 397 and str(victim.parent if kind == "graph" else victim) \
        in lost[0].path
    result = recover_ok(db, tmp_path / "new.db")
    assert not result.ok and "397 row(s)" in result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert sorted(all_rows(client)) == [i for i in range(400, 430)]  # the growing rows (306, 7 were sealed)
    client.close()


def test_damaged_index_that_holds_no_data_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    expected = three_segments(db)
    (index_dir,) = list((db / "collections/1/segments").glob("seg_00000001.idx/*"))
    flip_middle_byte(next(p for p in index_dir.iterdir() if p.is_file()))
    report = check_database(db)
    (problem,) = [p for p in report.problems if p.severity != "note"]
    assert problem.kind == "index-damaged" and problem.path == str(index_dir) and not report.ok
    result = recover_ok(db, tmp_path / "new.db")
    assert result.ok, result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected
    client.close()


def test_two_directories_with_one_name_are_both_recovered_and_reported(tmp_path: Path) -> None:
    """Renamed after its last seal, a collection's files still carry its old name; a newer collection took
    the name. Without the catalog both are recovered, the older under another name, and reported."""
    db = tmp_path / "c.db"
    client = flat_segments(db, 1)
    client.rename_collection("c", "old")
    client.close()
    client = flat_segments(db, 2)  # a new "c"
    client.close()
    catalog_deleted(db)
    result = recover_ok(db, tmp_path / "new.db")
    assert not result.ok and any(p.kind == "name-conflict" for p in result.problems), result.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert sorted(client.list_collections()) == ["c", "c_recovered_1"]
    assert sorted(all_rows(client)) == list(range(20))
    assert client.get_collection_stats("c_recovered_1")["row_count"] == 10
    client.close()


# --- a merge or a seal interrupted by SIGKILL, then the catalog lost ----------------------------------------------


@pytest.mark.parametrize("point", ["maint.committed:1", "maint.written:1", "seal.files:2", "seal.committed:2"])
def test_interrupted_merge_or_seal_then_lost_catalog(tmp_path: Path, point: str) -> None:
    db = tmp_path / "crash.db"
    out = tmp_path / "w.out"
    env = {**os.environ, "VECTOR_WORKBENCH_FAULT": point, "CRASH_SEAL_ROWS": "30", "CRASH_MAX_OPS": "400"}
    with open(out, "wb") as fo:
        proc = subprocess.run([sys.executable, str(WRITER), str(db), "3"], stdout=fo, stderr=subprocess.PIPE,
                              env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"the fault did not fire: {proc.stderr.decode()[-2000:]}"
    log = parse_log(out.read_text())
    model = apply_op_all({"main": {}, "sides": {}}, log.acked)
    candidates = [model["main"]]
    if log.inflight is not None:
        candidates.append(apply_op(model, log.inflight)["main"])
    assert model["main"], "nothing was acknowledged before the kill"
    for label, new in (("with the catalog", "a.db"), ("without it", "b.db")):
        if label == "without it":
            catalog_deleted(db)
        report = recover_ok(db, tmp_path / new)
        assert report.placed, report.summary()
        client = MilvusClient(str(tmp_path / new))
        try:
            main = read_state(client)["main"]
        finally:
            client.close()
        assert main in candidates, f"{point}, {label}: {len(main)} rows, model {[len(c) for c in candidates]}"
        assert not [p for p in report.problems if p.kind in ("conflict", "log-damaged", "log-gap")], report.summary()


def flat_segments(db: Path, batches: int = 3) -> MilvusClient:
    """Level-0 segments 1..batches of 10 rows each (FLAT: no graph, so nothing merges them on its own)."""
    client = create(db, index="FLAT")
    for b in range(batches):
        client.insert("c", [row(i) for i in range(b * 10, b * 10 + 10)])
        client.flush("c")
    return client


def test_committed_merge_whose_sources_linger_keeps_deletes_only_the_output_has(tmp_path: Path) -> None:
    """A merge committed, then its sources' files were not removed (a crash), then a seal rotated the log: a
    delete made before the merge lives only in the merged segment (it left the row out). Reading the sources
    would bring the row back; recovery keeps only rows live both ways."""
    db = tmp_path / "c.db"
    client = flat_segments(db)
    client.close()
    seg_dir = db / "collections" / "1" / "segments"
    sources = {p.name: p.read_bytes() for p in seg_dir.glob("seg_*.arrow")}
    client = MilvusClient(str(db))
    client.delete("c", ids=[3, 15])
    client.compact("c")  # seals the deletes, merges 1..3 into 4 without rows 3 and 15, removes 1..3
    client.insert("c", [row(i) for i in range(100, 105)])
    client.flush("c")  # a new level-0 segment and a new log: the log with the deletes is gone
    expected = all_rows(client)
    client.close()
    assert not any((seg_dir / name).exists() for name in sources)
    for name, data in sources.items():
        (seg_dir / name).write_bytes(data)
    catalog_deleted(db)
    report = recover_ok(db, tmp_path / "new.db")
    assert report.ok and [c.source for c in report.collections] == ["files"], report.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected  # 3 and 15 stay deleted
    client.close()


def test_uncommitted_merge_output_does_not_undo_later_deletes_of_its_sources(tmp_path: Path) -> None:
    """A merge wrote its output and never committed; the sources then got deletes, sealed into their delete
    files (the log holding them is gone). Reading the output would bring the rows back."""
    db = tmp_path / "c.db"
    flat_segments(db).close()
    other = tmp_path / "other.db"
    shutil.copytree(db, other)
    client = MilvusClient(str(other))
    client.compact("c")  # on a copy: merges 1..3 into 4
    client.close()
    client = MilvusClient(str(db))
    client.delete("c", ids=[3, 15])
    client.flush("c")  # delete files for segments 1 and 2, and a new log
    expected = all_rows(client)
    client.close()
    seg_dir, other_dir = db / "collections/1/segments", other / "collections/1/segments"
    assert not (seg_dir / "seg_00000004.arrow").exists()
    for p in other_dir.glob("seg_00000004*"):  # the merged output, as an interrupted merge leaves it
        (shutil.copytree if p.is_dir() else shutil.copyfile)(p, seg_dir / p.name)
    catalog_deleted(db)
    report = recover_ok(db, tmp_path / "new.db")
    assert report.ok and any(p.kind == "merge-reconciled" for p in report.problems), report.summary()
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected
    client.close()


def test_seal_redone_after_an_interrupted_one_is_not_read_twice(tmp_path: Path) -> None:
    """A seal killed after writing its segment; the next writer seals the same rows again (a row deleted in
    between is left out). If the first segment file survives and the catalog is lost, its rows are not used."""
    db = tmp_path / "c.db"
    flat_segments(db, 1).close()
    code = ("import sys; from engine import MilvusClient; from tests.test_damage import row; "
            "c = MilvusClient(sys.argv[1]); c.insert('c', [row(i) for i in range(10, 20)]); c.flush('c')")
    env = {**os.environ, "VECTOR_WORKBENCH_FAULT": "segment.renamed:1",
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code, str(db)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    seg_dir = db / "collections/1/segments"
    (orphan,) = [p for p in seg_dir.glob("seg_*.arrow") if p.name != "seg_00000001.arrow"]
    data = orphan.read_bytes()
    client = MilvusClient(str(db))  # removes the orphan; the rows are in the log
    assert not orphan.exists()
    client.delete("c", ids=[12])
    client.insert("c", [row(i) for i in range(20, 25)])
    client.flush("c")
    expected = all_rows(client)
    client.close()
    orphan.write_bytes(data)
    catalog_deleted(db)
    report = recover_ok(db, tmp_path / "new.db")
    assert report.ok, report.summary()
    assert any(p.kind == "segment-unused" and p.path == str(orphan) for p in report.problems)
    client = MilvusClient(str(tmp_path / "new.db"))
    assert all_rows(client) == expected
    client.close()


# --- a version-1 database -------------------------------------------------------------------------------------------

V1_EXPECTED = {i: ("p1" if 100 <= i < 150 else "_default", {"id": i, "vec": vec(i), "tag": f"t{i}"})
               for i in range(220) if i not in (5, 6, 7, 120, 151)}


def v1_library(tmp_path: Path) -> Path:
    with tarfile.open(DATA / "v1_library.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "v1_library.db"


def test_version_1_database_is_checked_and_recovered(tmp_path: Path) -> None:
    db = v1_library(tmp_path)
    before = snapshot_all(db)
    report = check_database(db)
    assert report.ok, report.summary()
    assert report.tally.segments == 3 and report.tally.logs == 1 and report.tally.records == 2
    result = recover_ok(db, tmp_path / "new.db")
    assert result.ok, result.summary()
    assert snapshot_all(db) == before, "a version-1 database is read as it is, never upgraded in place"
    got = read_all(tmp_path / "new.db")["c"]
    assert got["rows"] == V1_EXPECTED
    assert got["partitions"] == ["_default", "p1"]
    assert got["indexes"]["vec"]["index_type"] == "HNSW" and got["indexes"]["vec"]["M"] == "8"


def test_version_1_database_without_its_catalog_says_what_cannot_be_recovered(tmp_path: Path) -> None:
    db = v1_library(tmp_path)
    catalog_deleted(db)
    report = check_database(db)
    undescribed = sorted(p.path for p in report.problems if p.kind == "segment-undescribed")
    assert undescribed == [str(p) for p in sorted((db / "collections/1/segments").glob("*.arrow"))]
    assert any(p.kind == "collection-undescribed" and p.records == 2 for p in report.problems)
    result = recover_ok(db, tmp_path / "new.db")
    assert not result.ok and result.collections == []
    assert "collection-undescribed" in result.summary()


def test_damaged_version_1_log_keeps_its_intact_records(tmp_path: Path) -> None:
    db = v1_library(tmp_path)
    (log,) = (db / "collections/1/wal").glob("wal_*.log")
    data = bytearray(log.read_bytes())
    first_end = 21 + int.from_bytes(data[4:8], "little")  # the first record: the delete of 7 and 151
    data[first_end + 40] ^= 0xFF  # inside the second record; nothing follows it
    log.write_bytes(bytes(data))
    result = recover_ok(db, tmp_path / "new.db")
    got = read_all(tmp_path / "new.db")["c"]["rows"]
    assert got == {k: v for k, v in V1_EXPECTED.items() if k < 200}, result.summary()


# --- arguments, cancel, the command line --------------------------------------------------------------------------


def test_recover_refuses_a_target_that_is_not_new_or_inside_the_source(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    build_library(db)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    for target, match in ((tmp_path / "full", "not an empty directory"), (db / "inner", "outside"),
                          (db, "not an empty directory|outside")):
        with pytest.raises(ParamError, match=match):
            run_recovery(db, target)
    assert (tmp_path / "full" / "x").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert run_recovery(db, tmp_path / "empty").ok
    with pytest.raises(ParamError, match="not an engine database"):
        check_database(tmp_path / "full")
    assert isinstance(ParamError("x"), MilvusException)


def test_cancel_leaves_no_new_database(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    build_rich(db)
    before = sorted(p.name for p in tmp_path.iterdir())
    cancel = threading.Event()
    events: list[RecoveryProgress] = []
    for ev in recover_database(db, tmp_path / "new.db", cancel):
        events.append(ev)
        if ev.phase == "writing":
            cancel.set()
    report = events[-1].report
    assert report is not None and report.cancelled and not report.placed and events[-1].phase == "cancelled"
    assert "was not created" in report.summary()
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a partial database or temp folder was left"
    gen = recover_database(db, tmp_path / "new.db")  # closing the generator mid-way cleans up too
    for ev in gen:
        if ev.phase == "writing":
            gen.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_recover_refuses_while_a_process_writes(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    build_library(db)
    code = (f"from engine.storage.locks import FileLock; import pathlib, time; l = FileLock.shared("
            f"pathlib.Path({str(db / 'WRITE.lock')!r})); l.try_acquire(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(MilvusException, match=f"pid {holder.pid} holds"):
            run_recovery(db, tmp_path / "new.db")
        assert f"pid {holder.pid}" in check_database(db).summary()
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "new.db").exists()


def test_cli_check_and_recover_exit_codes_and_messages(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "c.db"
    build_library(db)
    res = runner.invoke(cli, ["db", "check", str(db)])
    assert res.exit_code == 0 and "ok: no problems found" in res.output, res.output
    res = runner.invoke(cli, ["db", "check", str(db), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True
    catalog_garbled(db)
    res = runner.invoke(cli, ["db", "check", str(db)])
    assert res.exit_code == 1 and f"catalog-damaged: the catalog {db / 'catalog.sqlite'}" in res.output, res.output
    assert f"workbench db recover {db} --to NEW_PATH" in res.output
    res = runner.invoke(cli, ["db", "recover", str(db), "--to", str(tmp_path / "new.db"), "-q"])
    assert res.exit_code == 0 and "verified" in res.output and "from the files" in res.output, res.output
    res = runner.invoke(cli, ["db", "recover", str(db), "--to", str(tmp_path / "new.db")])
    assert res.exit_code == 1 and "error:" in res.output and "not an empty directory" in res.output, res.output
    res = runner.invoke(cli, ["db", "recover", str(tmp_path / "missing.db"), "--to", str(tmp_path / "x.db")])
    assert res.exit_code == 2 and not (tmp_path / "x.db").exists()


def test_cli_recover_of_a_damaged_log_exits_1_naming_the_loss(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ends, _ = log_with_batches(db, 5)
    flip_middle_record(wal_file(db), ends)
    res = CliRunner().invoke(cli, ["db", "recover", str(db), "--to", str(tmp_path / "new.db"), "-q"])
    assert res.exit_code == 1 and re.search(r"log-damaged: write-ahead log .* \[affects 3 log record\(s\)\]",
                                            res.output), res.output
    assert "NOT recovered: at least 0 row(s) and 3 log record(s)" in res.output
    res = CliRunner().invoke(cli, ["db", "check", str(db), "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["problems"][0]["records"] == 3


def test_cli_ctrl_c_cancels_and_leaves_no_new_database(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    client = create(db, index="FLAT")
    for b in range(8):
        client.insert("c", [row(i) for i in range(b * 2500, b * 2500 + 2500)])
    client.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "db", "recover", str(db), "--to",
                             str(tmp_path / "new.db")], stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    seen = b""
    while b"reading" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out + err).decode()[-2000:]
    assert b"was not created" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.db"]
