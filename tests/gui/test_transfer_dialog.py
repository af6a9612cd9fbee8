"""Copy, export and import dialogs as a user drives them: pick a target, start, watch, cancel, read the report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QThreadPool

from tests.conftest import open_lite
from ui.shared import dialogs
from ui.shared.workers import live_tasks
from ui.transfer.transfer_dialog import CopyCollectionDialog, ExportDialog, ImportDialog
from workbench.backends import ARRAY, FLOAT_VECTOR, INT64, STRUCT, VARCHAR, EmbeddedBackend
from workbench.connections import Connection, ConnectionStore, MemorySecretStore

LEFT = Qt.MouseButton.LeftButton
SCHEMA: dict[str, Any] = {
    "enable_dynamic_field": True,
    "fields": [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 8}},
        {"name": "s", "type": VARCHAR, "params": {"max_length": 32}},
    ],
}
WITH_STRUCTS: dict[str, Any] = dict(SCHEMA, fields=[
    *SCHEMA["fields"],
    {"name": "chunks", "type": ARRAY, "element_type": STRUCT, "params": {"max_capacity": 2},
     "struct_fields": [{"name": "e", "type": FLOAT_VECTOR, "params": {"dim": 2}}]},
])
INDEXES = [{"field_name": "v", "index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 8,
                                                                                         "efConstruction": 32}}]


def make_rows(n: int, structs: bool = False) -> list[dict[str, Any]]:
    rng = np.random.default_rng(n)
    vecs = rng.standard_normal((n, 8)).astype(np.float32)
    rows = []
    for i in range(n):
        r: dict[str, Any] = {"id": i, "v": vecs[i].tolist(), "s": f"row {i}", "extra": i % 3}
        if structs:
            r["chunks"] = [{"e": [float(i), 1.0]}]
        rows.append(r)
    return rows


@pytest.fixture(autouse=True)
def no_real_file_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets to answer a file dialog fails instead of waiting for a person."""
    def unexpected(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a real file dialog would open here")

    for name in ("open_folder", "open_file", "save_file"):
        monkeypatch.setattr(dialogs, name, unexpected)


def click_radio(qtbot: Any, button: Any) -> None:
    """Click a radio button on its label, where a user clicks (its right part may be empty space)."""
    qtbot.mouseClick(button, LEFT, pos=QPoint(12, button.height() // 2))


@pytest.fixture
def source(tmp_path: Path, qtbot: Any) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "src.db")
    yield b
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60000)
    QThreadPool.globalInstance().waitForDone(30000)
    b.close()


@pytest.fixture
def store(tmp_path: Path) -> ConnectionStore:
    return ConnectionStore(tmp_path / "connections.json", secrets=MemorySecretStore())


def fill(b: EmbeddedBackend, name: str, n: int, schema: dict[str, Any] = SCHEMA) -> None:
    b.create_collection(name, schema, INDEXES)
    rows = make_rows(n, structs=schema is WITH_STRUCTS)
    for i in range(0, n, 5000):
        b.insert(name, rows[i:i + 5000])
    b.flush(name)


def choose(combo: Any, value: Any) -> None:
    """Pick the item whose data is (or starts with) `value`, as a click in the list would."""
    for i in range(combo.count()):
        d = combo.itemData(i)
        if d == value or (isinstance(d, tuple) and d[0] == value):
            combo.setCurrentIndex(i)
            return
    raise AssertionError(f"no item {value!r}")


def wait_done(qtbot: Any, dlg: Any, timeout: int = 120000) -> None:
    qtbot.waitUntil(lambda: dlg.run.task is not None and not dlg.run.running and dlg.start_button.isEnabled(),
                    timeout=timeout)


def make(qtbot: Any, dlg: Any) -> Any:
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_copy_to_milvus_lite_file_verified(qtbot: Any, source: EmbeddedBackend, store: ConnectionStore,
                                          tmp_path: Path) -> None:
    lite_path = tmp_path / "target" / "milvus.db"
    open_lite(lite_path).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite
    fill(source, "docs", 600, WITH_STRUCTS)
    dlg = make(qtbot, CopyCollectionDialog(source, "docs", store))
    qtbot.waitUntil(lambda: dlg.rows_label.text() == "600 rows", timeout=10000)
    assert dlg.name_edit.text() == "docs"
    choose(dlg.target_combo, "milvus-lite")
    assert dlg.target_path.isVisible()
    qtbot.keyClicks(dlg.target_path, str(lite_path))
    choose(dlg.verify, "full")
    dlg.batch.setValue(128)

    # Milvus Lite has no Array of Structs: the copy stops and says why
    qtbot.mouseClick(dlg.start_button, LEFT)
    wait_done(qtbot, dlg)
    assert dlg.run.error.isVisible()
    assert "chunks" in dlg.run.error.text() and "Array of Structs" in dlg.run.error.text()
    assert dlg.run.report is None

    qtbot.mouseClick(dlg.skip, LEFT)
    with qtbot.waitSignal(dlg.transferred, timeout=120000) as sig:
        qtbot.mouseClick(dlg.start_button, LEFT)
    report = sig.args[0]
    wait_done(qtbot, dlg)
    assert report.ok and report.rows == 600
    assert not dlg.run.error.isVisible()
    assert "copied 600 rows of 'docs'" in dlg.run.summary.text()
    assert dlg.run.verification.text().startswith("✓ verified: 600 rows on both sides")
    assert "full checksum equal" in dlg.run.verification.text()
    assert "left out chunks" in dlg.run.notes.text()
    assert dlg.run.bar.value() == dlg.run.bar.maximum() and dlg.run.status.text().startswith("Done")
    if os.environ.get("VW_SCREENSHOT_DIR"):  # a look at the layout, on request
        dlg.grab().save(os.path.join(os.environ["VW_SCREENSHOT_DIR"], "copy_dialog.png"))

    lite = open_lite(lite_path)  # the dialog closed the target when it was done
    try:
        assert lite.count("docs") == 600  # type: ignore[attr-defined]
        assert [f["name"] for f in lite.schema("docs")["fields"]] == ["id", "v", "s"]  # type: ignore[attr-defined]
        # Milvus Lite says why it cannot export by segment
        exp = make(qtbot, ExportDialog(lite, "docs"))  # type: ignore[arg-type]
        assert not exp.segments.isEnabled() and "rows_per_file" in exp.segments.toolTip()
        assert exp.segments_why.isVisible() and "rows_per_file" in exp.segments_why.text()
    finally:
        lite.close()  # type: ignore[attr-defined]


def test_copy_to_a_saved_connection_and_errors_in_the_form(qtbot: Any, source: EmbeddedBackend,
                                                           store: ConnectionStore, tmp_path: Path) -> None:
    fill(source, "docs", 250)
    store.save(Connection("archive", kind="embedded", uri=str(tmp_path / "archive.db")))
    store.save(Connection("same", kind="embedded", uri=str(tmp_path / "src.db")))
    dlg = make(qtbot, CopyCollectionDialog(source, "docs", store))
    assert dlg.target_combo.itemText(0) == "archive (Embedded folder)"
    choose(dlg.target_combo, ("connection", "same"))
    qtbot.mouseClick(dlg.start_button, LEFT)  # the source database itself, same name: refused at once
    assert dlg.form_error.isVisible() and "another collection name" in dlg.form_error.text()
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, "docs copy")
    qtbot.mouseClick(dlg.start_button, LEFT)
    assert "letters, digits and underscores" in dlg.form_error.text()

    choose(dlg.target_combo, ("connection", "archive"))
    assert not dlg.target_path.isVisible()
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, "docs_copy")
    qtbot.mouseClick(dlg.start_button, LEFT)
    assert not dlg.form_error.isVisible()
    wait_done(qtbot, dlg)
    assert dlg.run.verification.text().startswith("✓ verified: 250 rows"), dlg.run.error.text()
    # a second copy with if-exists "fail" stops and says so; "append" goes on
    qtbot.mouseClick(dlg.start_button, LEFT)
    wait_done(qtbot, dlg)
    assert "already has a collection 'docs_copy'" in dlg.run.error.text()
    choose(dlg.if_exists, "append")
    qtbot.mouseClick(dlg.start_button, LEFT)
    wait_done(qtbot, dlg)
    assert dlg.run.verification.text().startswith("✓"), dlg.run.error.text()
    target = EmbeddedBackend(tmp_path / "archive.db", create=False)
    try:
        assert target.count("docs_copy") == 250
    finally:
        target.close()


def test_cancel_a_large_copy_leaves_no_target_collection(qtbot: Any, source: EmbeddedBackend,
                                                         store: ConnectionStore, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fill(source, "big", 20_000)
    folder = tmp_path / "target.db"
    monkeypatch.setattr(dialogs, "open_folder", lambda *a, **k: str(folder))
    dlg = make(qtbot, CopyCollectionDialog(source, "big", store))
    choose(dlg.target_combo, "embedded")
    qtbot.mouseClick(dlg.browse_button, LEFT)
    assert dlg.target_path.text() == str(folder)
    dlg.batch.setValue(20)
    qtbot.mouseClick(dlg.start_button, LEFT)
    assert dlg.run.cancel_button.isEnabled() and not dlg.start_button.isEnabled()
    assert not dlg.name_edit.isEnabled()
    qtbot.waitUntil(lambda: dlg.run.status.text().startswith("Copying"), timeout=60000)
    assert "/ 20,000 rows" in dlg.run.status.text() and "rows/s" in dlg.run.status.text()
    assert "/ 20,000 rows" in dlg.run.bar.text()
    qtbot.mouseClick(dlg.run.cancel_button, LEFT)
    wait_done(qtbot, dlg)
    report = dlg.run.report
    assert report is not None and report.cancelled and 0 < report.rows < 20_000
    assert dlg.run.status.text() == "Cancelled"
    assert dlg.run.summary.text().startswith("<b>Cancelled:</b>")
    assert "removed the temporary collection 'big__copying_" in dlg.run.notes.text()
    assert "no collection 'big' was created" in dlg.run.notes.text()
    assert dlg.name_edit.isEnabled()
    target = EmbeddedBackend(folder, create=False)
    try:
        assert not target.has_collection("big")
    finally:
        target.close()


def test_export_then_import_round_trip(qtbot: Any, source: EmbeddedBackend, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fill(source, "docs", 700)
    # Parquet, split into files of 300 rows
    exp = make(qtbot, ExportDialog(source, "docs"))
    assert exp.segments.isEnabled() and not exp.segments_why.isVisible()  # the engine knows its segments
    click_radio(qtbot, exp.split)
    assert exp.dest_label.text() == "Folder" and exp.rows_per_file.isEnabled()
    exp.rows_per_file.setValue(300)
    out = tmp_path / "out" / "docs-parts"
    exp.dest_edit.clear()
    qtbot.keyClicks(exp.dest_edit, str(out))
    with qtbot.waitSignal(exp.transferred, timeout=60000):
        qtbot.mouseClick(exp.start_button, LEFT)
    wait_done(qtbot, exp)
    assert "exported 700 rows of 'docs'" in exp.run.summary.text() and "to 3 file(s)" in exp.run.summary.text()
    assert "part-00002.parquet" in exp.run.notes.text()
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet",
                                                     "part-00002.parquet"]
    # JSONL, one file: the file name follows the format
    click_radio(qtbot, exp.single)
    assert exp.layout_choice() == "single"
    choose(exp.format_combo, "jsonl")
    jsonl = tmp_path / "out" / "docs.jsonl"
    monkeypatch.setattr(dialogs, "save_file", lambda *a, **k: str(jsonl))
    qtbot.mouseClick(exp.browse_button, LEFT)
    qtbot.mouseClick(exp.start_button, LEFT)
    wait_done(qtbot, exp)
    assert "exported 700 rows" in exp.run.summary.text() and jsonl.is_file()

    # import the folder into a new collection, then the JSONL file replacing it
    imp = make(qtbot, ImportDialog(source))
    monkeypatch.setattr(dialogs, "open_folder", lambda *a, **k: str(out))
    qtbot.mouseClick(imp.folder_button, LEFT)
    assert imp.name_edit.text() == "docs_parts"  # suggested from the folder's name
    with qtbot.waitSignal(imp.transferred, timeout=60000) as sig:
        qtbot.mouseClick(imp.start_button, LEFT)
    wait_done(qtbot, imp)
    assert sig.args[0].rows == 700
    assert "imported 700 rows of 'docs_parts'" in imp.run.summary.text()
    assert imp.run.verification.text().startswith("✓ verified: 700 rows on both sides")
    assert source.count("docs_parts") == 700

    imp.src_edit.clear()
    qtbot.keyClicks(imp.src_edit, str(jsonl))
    assert imp.name_edit.text() == "docs"
    imp.name_edit.clear()
    qtbot.keyClicks(imp.name_edit, "docs_parts")  # typed by the user: no longer suggested
    qtbot.mouseClick(imp.start_button, LEFT)
    wait_done(qtbot, imp)
    assert "already has a collection 'docs_parts'" in imp.run.error.text()
    choose(imp.mode, "replace")
    qtbot.mouseClick(imp.start_button, LEFT)
    wait_done(qtbot, imp)
    assert "imported 700 rows" in imp.run.summary.text(), imp.run.error.text()
    assert source.count("docs_parts") == 700
    a = {r["id"]: r["s"] for r in source.query("docs", "id >= 0", output_fields=["s"], limit=1000)}
    b = {r["id"]: r["s"] for r in source.query("docs_parts", "id >= 0", output_fields=["s"], limit=1000)}
    assert a == b and len(a) == 700


# --- replace: a cancel or a damaged file leaves the target as it was ------------------------------------------
def _old_rows(b: EmbeddedBackend, name: str) -> dict[Any, str]:
    return {r["id"]: r["s"] for r in b.query(name, "id >= 0", output_fields=["s"], limit=16_384)}


def test_cancelled_replace_copy_keeps_the_target(qtbot: Any, source: EmbeddedBackend, store: ConnectionStore,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(source, "big", 20_000)
    folder = tmp_path / "target.db"
    target = EmbeddedBackend(folder)
    target.create_collection("big", SCHEMA, INDEXES)
    target.insert("big", [dict(r, s=f"old {r['id']}") for r in make_rows(100)])
    target.flush("big")
    before = _old_rows(target, "big")
    target.close()
    monkeypatch.setattr(dialogs, "open_folder", lambda *a, **k: str(folder))
    dlg = make(qtbot, CopyCollectionDialog(source, "big", store))
    choose(dlg.target_combo, "embedded")
    qtbot.mouseClick(dlg.browse_button, LEFT)
    choose(dlg.if_exists, "replace")
    dlg.batch.setValue(20)
    qtbot.mouseClick(dlg.start_button, LEFT)
    qtbot.waitUntil(lambda: dlg.run.status.text().startswith("Copying"), timeout=60000)
    qtbot.mouseClick(dlg.run.cancel_button, LEFT)
    wait_done(qtbot, dlg)
    report = dlg.run.report
    assert report is not None and report.cancelled and 0 < report.rows < 20_000
    target = EmbeddedBackend(folder, create=False)
    try:
        assert target.list_collections() == ["big"] and _old_rows(target, "big") == before
    finally:
        target.close()
    assert "stopped: 'big' was left as it was" in dlg.run.notes.text()


def test_replace_import_in_the_dialog_keeps_the_target_on_cancel_or_a_damaged_line(
        qtbot: Any, source: EmbeddedBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    import ui.transfer.transfer_dialog
    from workbench.transfer import export_to_file, import_collection

    fill(source, "big", 20_000)
    export_to_file(source, "big", tmp_path / "big.jsonl")
    source.create_collection("docs", SCHEMA, INDEXES)
    source.insert("docs", [dict(r, s=f"old {r['id']}") for r in make_rows(50)])
    before = _old_rows(source, "docs")
    # the dialog's own library call, in small batches so that Cancel lands in the middle
    monkeypatch.setattr(ui.transfer.transfer_dialog, "import_collection", functools.partial(import_collection, batch_size=20))
    imp = make(qtbot, ImportDialog(source))
    qtbot.keyClicks(imp.src_edit, str(tmp_path / "big.jsonl"))
    imp.name_edit.clear()
    qtbot.keyClicks(imp.name_edit, "docs")
    choose(imp.mode, "replace")
    qtbot.mouseClick(imp.start_button, LEFT)
    qtbot.waitUntil(lambda: imp.run.status.text().startswith("Importing"), timeout=60000)
    qtbot.mouseClick(imp.run.cancel_button, LEFT)
    wait_done(qtbot, imp)
    assert imp.run.report is not None and imp.run.report.cancelled
    assert sorted(source.list_collections()) == ["big", "docs"] and _old_rows(source, "docs") == before

    lines = (tmp_path / "big.jsonl").read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines[:999]) + '{"id": 1, "v": [\n' + "".join(lines[1000:]))
    bad.with_name("bad.jsonl.schema.json").write_text((tmp_path / "big.jsonl.schema.json").read_text())
    imp.src_edit.clear()
    qtbot.keyClicks(imp.src_edit, str(bad))
    imp.name_edit.clear()
    qtbot.keyClicks(imp.name_edit, "docs")
    qtbot.mouseClick(imp.start_button, LEFT)
    wait_done(qtbot, imp)
    assert f"{bad}:1000: not a JSON object" in imp.run.error.text()
    assert "'docs' was left as it was" in imp.run.error.text()
    assert sorted(source.list_collections()) == ["big", "docs"] and _old_rows(source, "docs") == before
