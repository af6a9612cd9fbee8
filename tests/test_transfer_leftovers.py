"""The swap on Milvus (renames, step by step, with faults), temporary collections left by a killed run, and
what `workbench import` / `collections` say about them; a SIGKILLed `workbench import --mode replace`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from workbench.backends import (
    BackendError,
    EmbeddedBackend,
    MilvusBackend,
    describe_leftover,
    parse_temp_name,
    replace_by_renames,
    temp_name,
)
from workbench.cli import cli
from workbench.transfer import export_to_file, import_collection, run
from workbench.transfer.staging import clean_leftovers

ROOT = Path(__file__).resolve().parents[1]
SCHEMA: dict[str, Any] = {"fields": [
    {"name": "id", "type": 5, "is_primary": True},  # INT64
    {"name": "v", "type": 101, "params": {"dim": 2}},  # FLOAT_VECTOR
]}
INDEXES = [{"field_name": "v", "index_type": "AUTOINDEX", "metric_type": "L2"}]


def make(b: Any, name: str, n: int, start: int = 0) -> None:
    b.create_collection(name, SCHEMA, INDEXES)
    b.insert(name, [{"id": i, "v": [float(i), 1.0]} for i in range(start, start + n)])
    b.flush(name)


def ids(b: Any, name: str) -> set[int]:
    return {r["id"] for batch in b.iter_rows(name, batch_size=1000, output_fields=["id"]) for r in batch}


def cli_run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def eng(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "e.db")
    yield b
    b.close()


def test_temporary_names() -> None:
    n = temp_name("photos", "importing")
    assert parse_temp_name(n) == ("photos", "importing") and len(n) == len("photos__importing_") + 8
    assert parse_temp_name("a__b__copying_0123abcd") == ("a__b", "copying")
    assert parse_temp_name("photos") is None and parse_temp_name("photos__importing_xyz") is None
    assert describe_leftover("photos") is None
    assert "unfinished import into 'photos'" in (describe_leftover(n) or "")
    assert "old data of 'photos'" in (describe_leftover(temp_name("photos", "replaced")) or "")
    with pytest.raises(BackendError, match="too long to import or copy into safely"):
        temp_name("x" * 250, "importing")


# --- the rename sequence (replace_by_renames works on any ClientBackend; the engine makes it fast) --------
def test_renames_replace_and_leave_no_backup(eng: EmbeddedBackend) -> None:
    make(eng, "t", 5)
    make(eng, "t__importing_0000aaaa", 3, start=100)
    assert replace_by_renames(eng, "t__importing_0000aaaa", "t") == []
    assert eng.list_collections() == ["t"] and ids(eng, "t") == {100, 101, 102}
    make(eng, "s", 2, start=7)
    assert replace_by_renames(eng, "s", "u") == [] and ids(eng, "u") == {7, 8}  # no target: one rename


def test_a_failed_second_rename_is_undone(eng: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    make(eng, "t", 5)
    make(eng, "new", 3, start=100)
    real = EmbeddedBackend.rename_collection

    def rename(self: EmbeddedBackend, old: str, new: str) -> None:
        if old == "new":
            raise BackendError("rename_collection failed: injected")
        real(self, old, new)

    monkeypatch.setattr(EmbeddedBackend, "rename_collection", rename)
    with pytest.raises(BackendError, match=r"could not rename 'new' to 't' \(.*injected\); 't' is unchanged"):
        replace_by_renames(eng, "new", "t")
    assert sorted(eng.list_collections()) == ["new", "t"] and ids(eng, "t") == set(range(5))


def test_when_the_undo_fails_too_the_error_says_where_the_data_is(eng: EmbeddedBackend,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    make(eng, "t", 5)
    make(eng, "new", 3, start=100)
    real = EmbeddedBackend.rename_collection

    def rename(self: EmbeddedBackend, old: str, new: str) -> None:
        if old == "new" or old.startswith("t__replaced_"):
            raise BackendError(f"rename_collection {old} failed: injected")
        real(self, old, new)

    monkeypatch.setattr(EmbeddedBackend, "rename_collection", rename)
    with pytest.raises(BackendError) as err:
        replace_by_renames(eng, "new", "t")
    backup = next(n for n in eng.list_collections() if n.startswith("t__replaced_"))
    assert f"the old data of 't' is in {backup!r} and the new data in 'new'" in str(err.value)
    assert ids(eng, backup) == set(range(5)) and ids(eng, "new") == {100, 101, 102}
    monkeypatch.setattr(EmbeddedBackend, "rename_collection", real)
    assert clean_leftovers(eng, "t") == [f"restored 't' from {backup!r}, which an interrupted replace left"]
    assert sorted(eng.list_collections()) == ["new", "t"] and ids(eng, "t") == set(range(5))


def test_a_backup_that_cannot_be_dropped_is_reported(eng: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    make(eng, "t", 5)
    make(eng, "new", 3, start=100)
    real = EmbeddedBackend.drop_collection

    def drop(self: EmbeddedBackend, name: str) -> None:
        raise BackendError(f"drop_collection {name} failed: injected")

    monkeypatch.setattr(EmbeddedBackend, "drop_collection", drop)
    notes = replace_by_renames(eng, "new", "t")
    backup = next(n for n in eng.list_collections() if n.startswith("t__replaced_"))
    assert len(notes) == 1 and f"its old data is still in {backup!r}" in notes[0]
    assert ids(eng, "t") == {100, 101, 102}
    monkeypatch.setattr(EmbeddedBackend, "drop_collection", real)
    assert clean_leftovers(eng, "t") == [f"dropped {backup!r}, left by an interrupted import or copy into 't'"]
    assert eng.list_collections() == ["t"]


def test_aliases_follow_the_name_on_milvus_lite(lite: MilvusBackend) -> None:
    make(lite, "al_t", 5)
    lite.client.create_alias("al_t", "al_alias")
    make(lite, "al_t__importing_0000bbbb", 3, start=100)
    assert lite.replace_collection("al_t__importing_0000bbbb", "al_t") == []
    assert not [n for n in lite.list_collections() if n.startswith("al_t__")]
    assert lite.client.list_aliases("al_t")["aliases"] == ["al_alias"]
    assert lite.count("al_alias") == 3 and lite.is_loaded("al_t") and lite.count("al_t") == 3


# --- leftovers -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good")
    b = EmbeddedBackend(root / "src.db")
    make(b, "src", 2000, start=5000)
    export_to_file(b, "src", root / "good.jsonl")
    b.close()
    return root / "good.jsonl"


def test_leftovers_are_listed_and_dropped_by_the_next_import(tmp_path: Path, good_file: Path) -> None:
    db = tmp_path / "e.db"
    b = EmbeddedBackend(db)
    make(b, "c", 10)
    make(b, "c__importing_0123abcd", 4, start=50)
    make(b, "c__copying_89abcdef", 4, start=60)
    make(b, "other__importing_0123abcd", 1)
    b.close()
    code, out, _ = cli_run("collections", "--db", str(db))
    assert code == 0
    assert ("c__importing_0123abcd  4 rows  ?\n    temporary: an unfinished import into 'c' (running, or left by an "
            "interrupted run): the next import or copy into 'c' drops it") in out
    assert "c__copying_89abcdef  4 rows  ?\n    temporary: an unfinished copy into 'c'" in out
    code, out, err = cli_run("import", str(good_file), "--db", str(db), "-c", "c", "--mode", "replace", "-q")
    assert code == 0, err
    assert "dropped 'c__copying_89abcdef', left by an interrupted import or copy into 'c'" in out
    assert "dropped 'c__importing_0123abcd', left by an interrupted import or copy into 'c'" in out
    b = EmbeddedBackend(db)
    try:
        assert sorted(b.list_collections()) == ["c", "other__importing_0123abcd"]  # another target's: kept
        assert ids(b, "c") == set(range(5000, 7000))
    finally:
        b.close()


def test_a_swap_killed_between_its_renames_on_milvus_lite_is_restored(lite: MilvusBackend, good_file: Path) -> None:
    make(lite, "sw", 5)
    lite.rename_collection("sw", "sw__replaced_0000cccc")  # what a process killed between the renames leaves
    make(lite, "sw__importing_0000dddd", 3, start=100)
    code, out, _ = cli_run("collections", "--db", f"lite:{lite.spec.uri}")
    assert "sw__replaced_0000cccc  5 rows  ?\n    temporary: the old data of 'sw', kept by a replace that was " \
           "interrupted: the next import or copy into 'sw' restores it if 'sw' is missing" in out
    report = run(import_collection(lite, good_file, "sw", mode="append"))
    assert report.ok, report.summary()
    assert report.notes[:2] == ["restored 'sw' from 'sw__replaced_0000cccc', which an interrupted replace left",
                                "dropped 'sw__importing_0000dddd', left by an interrupted import or copy into 'sw'"]
    assert not [n for n in lite.list_collections() if n.startswith("sw__")]
    assert ids(lite, "sw") == set(range(5)) | set(range(5000, 7000))


def test_a_running_job_keeps_its_temporary_collection(eng: EmbeddedBackend, good_file: Path) -> None:
    make(eng, "c", 10)
    job = import_collection(eng, good_file, "c", mode="replace", batch_size=100)
    for ev in job:
        if ev.phase == "reading":
            break
    temp = next(n for n in eng.list_collections() if n.startswith("c__importing_"))
    assert clean_leftovers(eng, "c") == [] and eng.has_collection(temp)  # this process's job is running
    job.close()
    assert eng.list_collections() == ["c"] and ids(eng, "c") == set(range(10))


def test_the_cli_says_what_a_damaged_file_left(tmp_path: Path, good_file: Path) -> None:
    db = tmp_path / "e.db"
    b = EmbeddedBackend(db)
    make(b, "c", 10)
    b.close()
    bad = tmp_path / "bad.jsonl"
    lines = good_file.read_text().splitlines(keepends=True)
    bad.write_text("".join(lines[:1500]) + "{not json\n" + "".join(lines[1500:]))
    bad.with_name("bad.jsonl.schema.json").write_text(Path(str(good_file) + ".schema.json").read_text())
    code, out, err = cli_run("import", str(bad), "--db", str(db), "-c", "c", "--mode", "replace", "-q")
    assert code == 1 and f"{bad}:1501: not a JSON object" in err and "'c' was left as it was" in err
    code, out, _ = cli_run("collections", "--db", str(db))
    assert out == "c  10 rows  ?\n"


def test_a_killed_replace_import_leaves_the_original_and_a_marked_leftover(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    b = EmbeddedBackend(db)
    make(b, "src", 20_000, start=100_000)
    export_to_file(b, "src", tmp_path / "big.jsonl")
    b.drop_collection("src")
    make(b, "c", 300)
    b.close()
    known = _wal_sizes(db)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "workbench.cli", "import", str(tmp_path / "big.jsonl"), "--db",
                          str(db), "-c", "c", "--mode", "replace", "--batch-size", "20", "-q"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and p.poll() is None:  # wait until rows are going into the temporary one
            if _new_rows_written(db, known):
                break
            time.sleep(0.05)
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    b = EmbeddedBackend(db)
    try:
        assert b.count("c") == 300 and ids(b, "c") == set(range(300))
        temps = [n for n in b.list_collections() if n != "c"]
        assert len(temps) == 1 and parse_temp_name(temps[0]) == ("c", "importing") and b.count(temps[0]) > 0
    finally:
        b.close()
    code, out, _ = cli_run("collections", "--db", str(db))
    assert f"{temps[0]}  " in out and "temporary: an unfinished import into 'c'" in out
    code, out, err = cli_run("import", str(tmp_path / "big.jsonl"), "--db", str(db), "-c", "c", "--mode", "replace",
                             "-q")
    assert code == 0, err
    assert f"dropped {temps[0]!r}, left by an interrupted import or copy into 'c'" in out
    code, out, _ = cli_run("collections", "--db", str(db))
    assert out == "c  20000 rows  ?\n"


def _wal_sizes(db: Path) -> dict[Path, int]:
    return {f: f.stat().st_size for f in (db / "collections").glob("*/wal/*.wal")}


def _new_rows_written(db: Path, before: dict[Path, int]) -> bool:
    """Whether some write-ahead log grew by more than 20 kB since `before`: the import is loading rows,
    wherever it puts them (a collection's folder can be re-used by a new collection with the same id)."""
    try:
        return any(size > before.get(f, 0) + 20_000 for f, size in _wal_sizes(db).items())
    except FileNotFoundError:  # a log removed while looking
        return False
