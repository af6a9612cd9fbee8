"""Data view: lazy paging, filter bar typed into, columns, expanding values, delete and edit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

import ui.shared.dialogs as dialogs
from tests.gui.conftest import wait_task
from ui.data.data_view import DataView
from ui.data.entity_model import PAGE_SIZE, RAW_ROLE


@pytest.fixture
def big(qtbot: Any, ctx: Any) -> Any:
    """A hand-made collection: 1,000 rows with JSON, an array and an Array of Structs."""
    from engine import DataType, MilvusClient

    client = ctx.backend.client  # the engine's own client, for a schema the designer has no template for
    schema = MilvusClient.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("label", DataType.VARCHAR, max_length=32)
    schema.add_field("score", DataType.DOUBLE)
    schema.add_field("meta", DataType.JSON, nullable=True)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=64)
    st.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=4)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection("big", schema=schema)
    rng = np.random.default_rng(0)
    rows = [{"id": i, "label": f"item {i}", "score": i / 10, "meta": {"colour": ["red", "blue"][i % 2], "n": i},
             "tags": [i % 3, i % 5], "chunks": [{"text": f"chunk {j}", "vec": rng.random(4).tolist()}
                                                for j in range(1 + i % 3)],
             "vec": rng.random(4).tolist(), "extra": i % 7} for i in range(1000)]
    client.insert("big", rows)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    return ctx


@pytest.fixture
def view(qtbot: Any, big: Any) -> DataView:
    v = DataView(big)
    qtbot.addWidget(v)
    v.resize(1000, 600)
    v.show()
    big.set_current("big")
    qtbot.waitUntil(lambda: v.model.rowCount() == 1000, timeout=10000)
    return v


def _col(view: DataView, name: str) -> int:
    return next(i for i, c in enumerate(view.model.columns) if c.name == name)


def test_pages_lazily(qtbot: Any, view: DataView) -> None:
    m = view.model
    qtbot.waitUntil(lambda: 0 in m.loaded_pages(), timeout=10000)
    assert m.loaded_pages() == [0]  # only what is on screen
    assert view.count_label.text() == "big: 1,000 rows"
    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: (999 // PAGE_SIZE) in m.loaded_pages(), timeout=10000)
    assert len(m.loaded_pages()) <= 3
    assert m.data(m.index(999, _col(view, "label"))) == "item 999"


def test_filter_typed_shows_errors_inline_then_applies(qtbot: Any, view: DataView) -> None:
    bar = view.filter_bar
    bar.edit.setFocus()
    qtbot.keyClicks(bar.edit, "label = 'item 3'")
    qtbot.waitUntil(lambda: bar.error is not None, timeout=5000)
    assert bar.error[0] == 7
    assert "column 7: '=' is not an operator; use '=='" in bar.error_label.text()
    assert bar.error_label.isVisible() and not bar.button.isEnabled()
    assert bar.edit.highlighter.error_span == (6, 1)
    bar.edit.selectAll()
    qtbot.keyClicks(bar.edit, 'meta["colour"] == "red" and score > 50')
    qtbot.waitUntil(lambda: bar.error is None, timeout=5000)
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.model.rowCount() == 249, timeout=10000)
    assert "matching" in view.count_label.text()


def test_columns_and_expanding_values(qtbot: Any, view: DataView) -> None:
    names = [c.name for c in view.model.columns]
    assert "vec" not in names and "chunks" in names and "$meta" in names
    action = next(a for a in view.columns_menu.actions() if a.data() == "vec")
    action.setChecked(True)
    assert "vec" in [c.name for c in view.model.columns]
    m = view.model
    qtbot.waitUntil(lambda: m.loaded_pages() == [0], timeout=10000)
    assert m.data(m.index(2, _col(view, "vec"))).startswith("[4 floats:")
    cell = m.index(2, _col(view, "chunks"))
    assert m.data(cell) == "[3 elements] ▸"
    assert m.data(m.index(2, _col(view, "$meta"))).startswith('{"extra": 2}')
    view.table.setCurrentIndex(cell)
    view._double_clicked(cell)
    item = view.expand_field("chunks")
    assert item is not None and item.childCount() == 3 and item.isExpanded()
    assert item.child(0).child(0).text(0) == "text" and item.child(0).child(0).text(1) == "chunk 0"
    meta = view.expand_field("meta")
    assert {meta.child(i).text(0) for i in range(meta.childCount())} == {"colour", "n"}


def test_edit_cell_upserts(qtbot: Any, view: DataView, big: Any) -> None:
    m = view.model
    qtbot.waitUntil(lambda: m.loaded_pages() == [0], timeout=10000)
    idx = m.index(5, _col(view, "label"))
    with qtbot.waitSignal(m.rowsEdited, timeout=10000):
        assert m.setData(idx, "renamed")
    row = big.backend.get("big", [5])[0]
    assert row["label"] == "renamed" and row["chunks"][0]["text"] == "chunk 0"  # the rest of the row survived
    errors: list[str] = []
    m.editFailed.connect(errors.append)
    assert not m.setData(m.index(5, _col(view, "score")), "not a number")
    assert errors and errors[0].startswith("score:")


def test_delete_selected_rows_after_confirmation(qtbot: Any, view: DataView, big: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    qtbot.waitUntil(lambda: view.model.loaded_pages() == [0], timeout=10000)
    view.table.selectRow(0)
    view.table.selectionModel().select(view.model.index(1, 0), view.table.selectionModel().SelectionFlag.Select
                                       | view.table.selectionModel().SelectionFlag.Rows)
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text, *_a: asked.append(text) or True)
    view.delete_button.click()
    assert asked and "2 rows" in asked[0]
    wait_task(qtbot, view.last_task)
    qtbot.waitUntil(lambda: view.model.rowCount() == 998, timeout=10000)
    assert big.backend.get("big", [0, 1]) == []


def test_find_similar_from_a_row(qtbot: Any, view: DataView) -> None:
    qtbot.waitUntil(lambda: view.model.loaded_pages() == [0], timeout=10000)
    view.select_row(7)
    with qtbot.waitSignal(view.findSimilar, timeout=5000) as sig:
        view.similar_button.click()
    assert sig.args == ["big", 7]


def test_thumbnails_in_image_collections(qtbot: Any, pics: Any) -> None:
    v = DataView(pics)
    qtbot.addWidget(v)
    v.show()
    v.show_collection("pics")
    m = v.model
    qtbot.waitUntil(lambda: m.rowCount() == 30, timeout=10000)
    assert m.columns[0].kind == "preview"
    m.data(m.index(0, 0), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: m.data(m.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None, timeout=10000)
    assert not m.data(m.index(0, 0), Qt.ItemDataRole.DecorationRole).isNull()
    assert m.data(m.index(0, _col(v, "width")), RAW_ROLE) == 64
    assert m.data(m.index(0, _col(v, "modified"))).startswith("20")  # a date, not 1.7e9
