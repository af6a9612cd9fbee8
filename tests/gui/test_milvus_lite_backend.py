"""The app on a Milvus Lite file: the same views through the Backend protocol, with what Milvus Lite
cannot do explained (disabled, with `capabilities.why_not`) instead of failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.conftest import open_lite
from tests.gui.conftest import DIM, _drain, wait_task
from ui.main_window.main_window import TAB_INDEX, TAB_INSPECTOR, TAB_SCHEMA, TAB_SEARCH, MainWindow

WORDS = [f"item number {i}" for i in range(40)]


@pytest.fixture
def lite_ctx(qtbot: Any, tmp_path: Path, settings_dir: Path, fake_embedder: Any) -> Iterator[Any]:
    """An AppContext on a Milvus Lite file opened as the connections dialog would hand it over."""
    from ui.app_settings import AppSettings
    from ui.context import AppContext
    from ui.models.embedder_provider import EmbedderProvider

    backend = open_lite(tmp_path / "lite.db")
    provider = EmbedderProvider(factory=lambda db, coll, choice: fake_embedder)
    c = AppContext(AppSettings(), provider=provider, data_dir=tmp_path / "data")
    yield c, backend
    _drain(qtbot)
    c.close()
    backend.close()  # type: ignore[attr-defined]


@pytest.fixture
def lite_window(qtbot: Any, lite_ctx: Any) -> Iterator[tuple[MainWindow, Any]]:
    ctx, backend = lite_ctx
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(1320, 860)
    w.show()
    with qtbot.waitSignal(ctx.infoChanged, timeout=60000):
        ctx.open_backend(backend)
    yield w, ctx


def _combo_item(combo: Any, text: str) -> Any:
    i = combo.findText(text)
    assert i >= 0, [combo.itemText(j) for j in range(combo.count())]
    return combo.model().item(i), combo.itemData(i, Qt.ItemDataRole.ToolTipRole)


def test_milvus_lite_end_to_end(qtbot: Any, lite_window: tuple[MainWindow, Any], fake_embedder: Any) -> None:
    from ui.index.index_config import IndexConfig
    from ui.inspector.inspector import Inspector
    from ui.schema.schema_designer import SchemaDesigner

    window, ctx = lite_window
    caps = ctx.backend.capabilities
    assert caps.kind == "milvus-lite" and ctx.db_path == ""
    assert "Milvus Lite" in window.windowTitle() and "Milvus Lite" in window.db_status.text()
    assert window.stack.currentWidget() is window.welcome  # nothing in the file yet

    # the schema designer: struct-array and unsupported vector kinds are disabled, with the reason
    designer = window.show_tab(TAB_SCHEMA)
    assert isinstance(designer, SchemaDesigner)
    struct_reason = caps.why_not("struct_arrays")
    assert struct_reason
    designer.load_template("Blank")
    designer.add_field()
    item, tip = _combo_item(designer.f_type, "ARRAY<STRUCT>")
    assert not item.isEnabled() and tip == struct_reason
    item, tip = _combo_item(designer.f_type, "FLOAT16_VECTOR")
    assert not item.isEnabled() and tip == caps.why_not("float16_vectors")
    item, _tip = _combo_item(designer.f_type, "VARCHAR")
    assert item.isEnabled()
    item, tip = _combo_item(designer.template_combo, "PDF documents")
    assert not item.isEnabled() and tip == struct_reason
    assert designer.capability_note.isVisibleTo(window) and "Array of Structs" in designer.capability_note.text()
    assert struct_reason in designer.capability_note.toolTip()
    designer.remove_field()

    # ... and creates a collection on Milvus Lite, as a user would
    designer.dim_spin.setValue(DIM)
    designer.name_edit.setText("")
    qtbot.keyClicks(designer.name_edit, "lite_items")
    assert designer.create_button.isEnabled(), designer.summary.text()
    with qtbot.waitSignal(designer.created, timeout=60000):
        qtbot.mouseClick(designer.create_button, Qt.MouseButton.LeftButton)
    wait_task(qtbot, designer.last_task)
    qtbot.waitUntil(lambda: "lite_items" in ctx.info.collections, timeout=30000)
    assert ctx.backend.has_collection("lite_items")

    # rows go in through the backend; the browser shows them with their count
    vecs = fake_embedder.embed_texts(WORDS)
    assert ctx.backend.insert("lite_items", [{"vector": v.tolist()} for v in vecs]) == len(WORDS)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    item = window.browser.item_for("lite_items")
    assert item is not None and item.text(1) == f"{len(WORDS)} rows · loaded"
    assert window.rows_status.text() == f"{len(WORDS)} rows"

    # search from the search panel
    panel = window.show_tab(TAB_SEARCH)
    assert panel is window.search_panel
    panel.limit_spin.setValue(5)
    qtbot.keyClicks(panel.text_edit, WORDS[7])
    qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
    wait_task(qtbot, panel.task)
    # a collection from the schema designer records no model: the panel says so and offers the choices
    assert panel.task.state == "failed" and panel.model_choices.isVisibleTo(window)
    qtbot.mouseClick(panel.use_settings_button, Qt.MouseButton.LeftButton)
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    hits = list(panel.results_model.hits)
    assert len(hits) == 5 and hits[0].score > 0.999
    assert "5 results for text" in panel.status.text() and "on vector (COSINE)" in panel.status.text()
    assert panel.results.model().rowCount() == 5

    # index types are the ones Milvus Lite builds
    config = window.show_tab(TAB_INDEX)
    assert isinstance(config, IndexConfig) and config.current_path() == "vector"
    types = {config.type_combo.itemText(i) for i in range(config.type_combo.count())}
    assert types <= set(caps.index_types) and "HNSW" in types and "BIN_FLAT" not in types

    # the inspector explains instead of listing segments; the recall check is disabled with the reason
    inspector = window.show_tab(TAB_INSPECTOR)
    assert isinstance(inspector, Inspector)
    seg_reason = caps.why_not("segments")
    qtbot.waitUntil(lambda: inspector.loads > 0, timeout=20000)
    assert inspector.segments_note.isVisibleTo(window) and seg_reason in inspector.segments_note.text()
    assert not inspector.table.isVisibleTo(window)
    assert caps.why_not("index_internals") in inspector.index_note.text()
    inspector.tabs.setCurrentIndex(1)
    rec_reason = caps.why_not("recall_check")
    assert not inspector.recall.run_button.isEnabled() and inspector.recall.run_button.toolTip() == rec_reason
    assert inspector.recall.recall_note.isVisibleTo(window) and rec_reason in inspector.recall.recall_note.text()
    assert not inspector.recall.recall_plot.isVisibleTo(window)
    assert inspector.recall.run_recall() is None  # refused with the reason, not an error
    assert rec_reason in inspector.recall.recall_note.text()


def test_milvus_lite_data_view_and_ingest_choices(qtbot: Any, lite_window: tuple[MainWindow, Any],
                                                  fake_embedder: Any, tmp_path: Path) -> None:
    from ui.ingest.ingest_dialog import IngestDialog

    window, ctx = lite_window
    backend = ctx.backend
    schema = {"auto_id": False, "enable_dynamic_field": False, "fields": [
        {"name": "id", "type": 5, "is_primary": True},
        {"name": "label", "type": 21, "params": {"max_length": 32}},
        {"name": "vector", "type": 101, "params": {"dim": DIM}},
    ]}
    backend.create_collection("rows", schema, [{"field_name": "vector", "index_type": "AUTOINDEX",
                                                "metric_type": "COSINE"}])
    rng = np.random.default_rng(0)
    backend.insert("rows", [{"id": i, "label": f"row {i}", "vector": rng.random(DIM).tolist()} for i in range(250)])
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("rows")
    view = window.data_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 250, timeout=20000)
    qtbot.waitUntil(lambda: view.model.row_data(0) is not None, timeout=20000)
    view.filter_bar.set_text("id < 10")
    view.filter_bar.apply()
    qtbot.waitUntil(lambda: view.model.rowCount() == 10, timeout=20000)
    # editing a cell writes the row back with upsert
    qtbot.waitUntil(lambda: view.model.row_data(3) is not None, timeout=20000)
    col = next(i for i, c in enumerate(view.model.columns) if c.name == "label")
    with qtbot.waitSignal(view.model.rowsEdited, timeout=20000):
        assert view.model.setData(view.model.index(3, col), "renamed")
    pk = view.model.pk(3)
    assert backend.get("rows", [pk])[0]["label"] == "renamed"

    # PDFs and multi-view images need Arrays of Structs: offered, but disabled with the reason
    dlg = IngestDialog(ctx, [str(tmp_path)], "", window)
    qtbot.addWidget(dlg)
    reason = ctx.why_not("struct_arrays")
    i = dlg.kind_combo.findData("pdfs")
    assert not dlg.kind_combo.model().item(i).isEnabled()
    assert dlg.kind_combo.itemData(i, Qt.ItemDataRole.ToolTipRole) == reason
    assert not dlg.multiview.isEnabled() and dlg.multiview.toolTip() == reason
    assert not dlg.request().multiview


def test_milvus_lite_import_shows_thumbnails_from_the_workspace(qtbot: Any, lite_window: tuple[MainWindow, Any],
                                                                tmp_path: Path) -> None:
    from tests.gui.conftest import drop_paths, make_images

    window, ctx = lite_window
    folder = tmp_path / "lite photos"
    make_images(folder, 6)
    assert drop_paths(window, [folder])
    qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
    window.ingest_dialog.import_button.click()
    task = window.last_task
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert task.job_report.new == 6
    qtbot.waitUntil(lambda: ctx.current == "lite_photos", timeout=20000)
    view = window.data_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 6, timeout=20000)
    qtbot.waitUntil(lambda: view.model.row_data(0) is not None, timeout=20000)
    thumb = view.model.row_data(0)["__thumb"]
    workspace = Path(ctx.backend.workspace)
    assert thumb and Path(thumb).is_file() and workspace in Path(thumb).parents  # next to the .db file
    assert ctx.collection("lite_photos").kind == "images"
