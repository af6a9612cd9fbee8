"""Imports and copies build in a temporary collection and change the target only once it is verified.

A damaged line, a failed insert, a failed verification, a cancel or a closed generator leave the target as
it was (replace), create nothing (create) or append nothing (append), and leave no temporary collection.
The same on Milvus Lite through MilvusBackend, where the swap is a sequence of renames.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.backends import (
    FLOAT_VECTOR,
    INT64,
    VARCHAR,
    Backend,
    BackendError,
    EmbeddedBackend,
    MilvusBackend,
)
from workbench.transfer import (
    CancelToken,
    TransferError,
    copy_collection,
    export_to_file,
    import_collection,
    run,
)

SCHEMA: dict[str, Any] = {
    "enable_dynamic_field": True,
    "fields": [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 4}},
        {"name": "s", "type": VARCHAR, "params": {"max_length": 32}},
    ],
}
INDEXES = [{"field_name": "v", "index_type": "AUTOINDEX", "metric_type": "L2"}]
_n = iter(range(10**6))


def fresh() -> str:
    return f"a_{next(_n)}"


def rows(n: int, start: int = 0, tag: str = "new") -> list[dict[str, Any]]:
    return [{"id": i, "v": [float(i), 1.0, 0.5, -1.0], "s": f"{tag} {i}", "extra": i % 4}
            for i in range(start, start + n)]


def make(b: Backend, name: str, n: int, start: int = 0, tag: str = "old") -> None:
    b.create_collection(name, SCHEMA, INDEXES)
    data = rows(n, start, tag)
    for i in range(0, n, 500):
        b.insert(name, data[i:i + 500])
    b.flush(name)


def snapshot(b: Backend, name: str) -> dict[Any, str]:
    return {r["id"]: r["s"] for batch in b.iter_rows(name, batch_size=500, output_fields=["s"]) for r in batch}


@pytest.fixture
def eng(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "e.db")
    yield b
    b.close()


@pytest.fixture(scope="module")
def jsonl_5000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 rows in a workbench JSONL export (with its schema sidecar)."""
    root = tmp_path_factory.mktemp("files")
    b = EmbeddedBackend(root / "src.db")
    make(b, "src", 5000, start=10_000, tag="file")
    export_to_file(b, "src", root / "rows.jsonl")
    b.close()
    return root / "rows.jsonl"


def damaged(src: Path, dest: Path, line: int, text: str = '{"id": 1, "v": [1.0, 2.0\n') -> Path:
    lines = src.read_text().splitlines(keepends=True)
    lines[line - 1] = text
    dest.write_text("".join(lines))
    dest.with_name(dest.name + ".schema.json").write_text(src.with_name(src.name + ".schema.json").read_text())
    return dest


def check_damaged_line_changes_nothing(b: Backend, jsonl_5000: Path, tmp_path: Path) -> None:
    name = fresh()
    make(b, name, 300, tag="old")
    before = snapshot(b, name)
    bad = damaged(jsonl_5000, tmp_path / "bad.jsonl", 3001)
    with pytest.raises(TransferError) as err:
        run(import_collection(b, bad, name, mode="replace", batch_size=500))
    assert b.has_collection(name) and b.count(name) == 300 and snapshot(b, name) == before
    assert f"{bad}:3001" in str(err.value) and f"{name!r} was left as it was" in str(err.value)
    assert not [n for n in b.list_collections() if n.startswith(name + "__")]
    # create mode: nothing left behind; append: nothing appended
    new = fresh()
    with pytest.raises(TransferError) as err:
        run(import_collection(b, bad, new, batch_size=500))
    assert not b.has_collection(new)
    assert f"no collection {new!r} was created" in str(err.value)
    with pytest.raises(TransferError) as err:
        run(import_collection(b, bad, name, mode="append", batch_size=500))
    assert snapshot(b, name) == before
    assert f"nothing was appended to {name!r}" in str(err.value)
    assert not [n for n in b.list_collections() if n.startswith((name + "__", new))]


def test_damaged_jsonl_line_changes_nothing(eng: EmbeddedBackend, jsonl_5000: Path, tmp_path: Path) -> None:
    check_damaged_line_changes_nothing(eng, jsonl_5000, tmp_path)


def test_damaged_jsonl_line_changes_nothing_on_milvus_lite(lite: MilvusBackend, jsonl_5000: Path,
                                                           tmp_path: Path) -> None:
    check_damaged_line_changes_nothing(lite, jsonl_5000, tmp_path)


def test_a_failed_import_in_create_mode_leaves_nothing(eng: EmbeddedBackend, jsonl_5000: Path,
                                                       tmp_path: Path) -> None:
    wrong_dim = damaged(jsonl_5000, tmp_path / "dim.jsonl", 250,
                        json.dumps({"id": 5, "v": [1.0, 2.0], "s": "short vector"}) + "\n")
    with pytest.raises(Exception) as err:  # the type is checked below, after the state
        run(import_collection(eng, wrong_dim, "x", batch_size=100))
    assert eng.list_collections() == []
    assert isinstance(err.value, TransferError)
    assert "dim.jsonl, lines 201-300: " in str(err.value) and "dimension" in str(err.value)
    assert str(err.value).endswith("; no collection 'x' was created")


def test_a_line_that_is_not_an_object_names_the_file_and_line(eng: EmbeddedBackend, jsonl_5000: Path,
                                                              tmp_path: Path) -> None:
    bad = damaged(jsonl_5000, tmp_path / "list.jsonl", 7, "[1, 2, 3]\n")
    with pytest.raises(TransferError, match=r"list\.jsonl:7: .*a JSON list, not an object"):
        run(import_collection(eng, bad, "x", batch_size=100))
    assert eng.list_collections() == []


def check_replace_import_succeeds(b: Backend, jsonl_5000: Path) -> None:
    name = fresh()
    make(b, name, 300, tag="old")
    report = run(import_collection(b, jsonl_5000, name, mode="replace", batch_size=700))
    assert report.ok and report.verification is not None and report.verification.checked == 256
    assert b.count(name) == 5000 and set(snapshot(b, name).values()) == {f"file {i}" for i in range(10_000, 15_000)}
    assert not [n for n in b.list_collections() if n.startswith(name + "__")]
    assert any("put in place" in n and "old collection was dropped" in n for n in report.notes)
    hits = b.search(name, [[10_001.0, 1.0, 0.5, -1.0]], anns_field="v", limit=1)  # loaded and searchable
    assert hits[0][0]["id"] == 10_001


def test_replace_import_puts_the_verified_rows_in_place(eng: EmbeddedBackend, jsonl_5000: Path) -> None:
    check_replace_import_succeeds(eng, jsonl_5000)


def test_replace_import_on_milvus_lite(lite: MilvusBackend, jsonl_5000: Path) -> None:
    check_replace_import_succeeds(lite, jsonl_5000)


def check_cancelled_replace_copy_keeps_the_target(src: Backend, dst: Backend) -> None:
    name = fresh()
    make(src, name, 400, start=1000, tag="new")
    make(dst, name, 120, tag="old")
    before = snapshot(dst, name)
    token = CancelToken()
    events = []
    for ev in copy_collection(src, dst, name, if_exists="replace", batch_size=50, cancel=token):
        events.append(ev)
        if ev.phase == "copying":
            token.cancel()
    last = events[-1]
    assert last.phase == "cancelled" and last.report is not None and last.report.cancelled
    assert dst.has_collection(name) and dst.count(name) == 120 and snapshot(dst, name) == before
    assert last.report.rows == 50
    assert f"stopped: {name!r} was left as it was" in last.report.notes
    assert not [n for n in dst.list_collections() if n.startswith(name + "__")]
    job = copy_collection(src, dst, name, if_exists="replace", batch_size=50)
    for ev in job:
        if ev.phase == "copying":
            job.close()  # closing the generator cancels too
            break
    assert snapshot(dst, name) == before
    assert not [n for n in dst.list_collections() if n.startswith(name + "__")]
    report = run(copy_collection(src, dst, name, if_exists="replace", batch_size=50))
    assert report.ok and dst.count(name) == 400 and set(snapshot(dst, name).values()) == {
        f"new {i}" for i in range(1000, 1400)}


def test_cancelled_replace_copy_keeps_the_target(tmp_path: Path, eng: EmbeddedBackend) -> None:
    src = EmbeddedBackend(tmp_path / "src.db")
    try:
        check_cancelled_replace_copy_keeps_the_target(src, eng)
    finally:
        src.close()


def test_cancelled_replace_copy_keeps_the_target_on_milvus_lite(eng: EmbeddedBackend, lite: MilvusBackend) -> None:
    check_cancelled_replace_copy_keeps_the_target(eng, lite)


class LossyBackend(EmbeddedBackend):
    """An engine that silently loses the last row of every insert of more than one row."""

    def insert(self, name: str, rows: list[dict[str, Any]], partition: str | None = None) -> int:
        return super().insert(name, rows[:-1] if len(rows) > 1 else rows, partition)


def test_a_failed_verification_keeps_the_target(tmp_path: Path, jsonl_5000: Path) -> None:
    b = LossyBackend(tmp_path / "lossy.db")
    try:
        make(b, "c", 30, tag="old")  # 29 rows (the backend lost one)
        before = snapshot(b, "c")
        report = run(import_collection(b, jsonl_5000, "c", mode="replace", batch_size=1000))
        assert not report.ok and report.verification is not None
        assert "row counts differ: source 5000, target 4995" in report.summary()
        assert snapshot(b, "c") == before and b.list_collections() == ["c"]
        assert "not verified: 'c' was left as it was" in report.notes
        src = EmbeddedBackend(tmp_path / "src.db")
        make(src, "c", 200, tag="new")
        report = run(copy_collection(src, b, "c", if_exists="replace", batch_size=100))
        src.close()
        assert not report.ok and snapshot(b, "c") == before and b.list_collections() == ["c"]
    finally:
        b.close()


def test_a_copy_that_is_not_put_in_place_leaves_the_targets_record(tmp_path: Path) -> None:
    from workbench.collection_ops import copy_between
    from workbench.templates import read_meta, write_meta

    src, dst = EmbeddedBackend(tmp_path / "src.db"), LossyBackend(tmp_path / "dst.db")
    try:
        make(src, "c", 200, tag="new")
        write_meta(src, "c", {"kind": "images", "embedder": None, "note": "source"})
        make(dst, "c", 30, tag="old")
        write_meta(dst, "c", {"kind": "images", "embedder": None, "note": "target"})
        report = copy_between(src, dst, "c", if_exists="replace", batch_size=100)
        assert not report.ok and dst.count("c") == 29
        assert (read_meta(dst, "c") or {}).get("note") == "target"
    finally:
        src.close()
        dst.close()


class FailingUpsert(EmbeddedBackend):
    """An engine whose upserts fail from the third call on."""

    calls = 0

    def upsert(self, name: str, rows: list[dict[str, Any]], partition: str | None = None) -> int:
        self.calls += 1
        if self.calls >= 3:
            raise BackendError("upsert failed on the test backend: injected")
        return super().upsert(name, rows, partition)


def test_append_is_staged_and_a_failure_in_its_last_step_says_what_was_upserted(tmp_path: Path,
                                                                                jsonl_5000: Path) -> None:
    b = FailingUpsert(tmp_path / "up.db")
    try:
        make(b, "c", 10, start=10_000, tag="old")
        b.calls = -10  # this append succeeds
        report = run(import_collection(b, jsonl_5000, "c", mode="append", batch_size=1000))
        assert report.ok and b.count("c") == 5000 and "appended: the collection had 10 rows and now has 5000" in \
            report.notes
        assert b.list_collections() == ["c"]
        b.delete("c", filter="id >= 12000")
        b.calls = 0
        with pytest.raises(TransferError, match="failed after 2000 of 5000 verified rows were upserted") as err:
            run(import_collection(b, jsonl_5000, "c", mode="append", batch_size=1000))
        assert "run the append again" in str(err.value)
        assert b.list_collections() == ["c"] and b.count("c") == 2000
    finally:
        b.close()


def test_keep_partial_only_for_a_new_collection(tmp_path: Path, eng: EmbeddedBackend) -> None:
    src = EmbeddedBackend(tmp_path / "src.db")
    try:
        make(src, "c", 200)
        make(eng, "c", 20)
        with pytest.raises(TransferError, match="keep_partial keeps a partial copy as 'c', which already exists"):
            run(copy_collection(src, eng, "c", if_exists="replace", keep_partial=True))
        token = CancelToken()
        for ev in copy_collection(src, eng, "c", target_name="d", batch_size=50, cancel=token, keep_partial=True):
            if ev.phase == "copying":
                token.cancel()
        assert eng.count("d") == 50 and sorted(eng.list_collections()) == ["c", "d"]
    finally:
        src.close()


def test_a_cancel_while_verifying_still_changes_nothing(eng: EmbeddedBackend, jsonl_5000: Path) -> None:
    make(eng, "c", 30, tag="old")
    before = snapshot(eng, "c")
    token = CancelToken()
    for ev in import_collection(eng, jsonl_5000, "c", mode="replace", cancel=token):
        if ev.phase == "verifying":
            token.cancel()
    assert ev.phase == "cancelled" and ev.report is not None and ev.report.cancelled
    assert snapshot(eng, "c") == before and eng.list_collections() == ["c"]
