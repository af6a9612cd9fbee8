"""The filter-expression editor: highlighting, field-name completion, errors at their column as you type."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from ui.shared.filter_edit import FilterBar, token_span


@pytest.fixture
def bar(qtbot: Any) -> FilterBar:
    from engine import CollectionSchema, DataType

    s = CollectionSchema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    s.add_field("folder", DataType.VARCHAR, max_length=32)
    s.add_field("width", DataType.INT32)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    b = FilterBar()
    qtbot.addWidget(b)
    b.resize(600, 80)
    b.show()
    b.set_schema(s)
    return b


def _formats(bar: FilterBar) -> dict[int, Any]:
    from PySide6.QtGui import QTextCharFormat

    ranges = bar.edit.document().firstBlock().layout().formats()
    return {r.start: QTextCharFormat(r.format) for r in ranges}


def test_completion_offers_field_names(qtbot: Any, bar: FilterBar) -> None:
    words = bar.edit.completion_words()
    assert {"folder", "width", "tags", "id"} <= set(words) and "vec" not in words  # vectors cannot be filtered
    assert "array_contains" in words
    bar.edit.setFocus()
    qtbot.keyClicks(bar.edit, "fol")
    assert bar.edit.completer.completionPrefix() == "fol"
    assert bar.edit.completer.currentCompletion() == "folder"
    bar.edit.insert_completion("folder")
    assert bar.edit.toPlainText() == "folder"


def test_completion_offers_text_match(qtbot: Any, bar: FilterBar) -> None:
    assert {"TEXT_MATCH", "PHRASE_MATCH"} <= set(bar.edit.completion_words())
    bar.edit.setFocus()
    qtbot.keyClicks(bar.edit, "text_m")
    assert bar.edit.completer.completionPrefix() == "text_m"
    assert bar.edit.completer.currentCompletion() == "TEXT_MATCH"
    qtbot.keyClicks(bar.edit, "")
    bar.edit.setPlainText("")
    qtbot.keyClicks(bar.edit, "PHRASE_")
    assert bar.edit.completer.currentCompletion() == "PHRASE_MATCH"


def test_errors_show_at_their_column_while_typing(qtbot: Any, bar: FilterBar) -> None:
    got: list[bool] = []
    bar.validityChanged.connect(got.append)
    qtbot.keyClicks(bar.edit, "folder == 'a' and widht > 3")
    qtbot.waitUntil(lambda: bar.error is not None, timeout=5000)
    assert bar.error[0] == 19
    assert bar.error_label.text() == "⚠ column 19: unknown field 'widht'; did you mean 'width'?"
    assert bar.edit.highlighter.error_span == (18, 5)
    assert bar.edit.property("invalid") is True
    underlined = [start for start, f in _formats(bar).items()
                  if f.underlineStyle() == f.UnderlineStyle.WaveUnderline]
    assert 18 in underlined
    applied: list[str] = []
    bar.applied.connect(applied.append)
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert applied == []  # an invalid filter is never applied
    for _ in range(9):
        qtbot.keyClick(bar.edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(bar.edit, "width > 3")
    qtbot.waitUntil(lambda: bar.error is None, timeout=5000)
    assert not bar.error_label.isVisible() and got == [False, True]
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert applied == ["folder == 'a' and width > 3"]


def test_highlighting(bar: FilterBar) -> None:
    bar.set_text('folder in ["a", "b"] and array_length(tags) >= 2')
    fmts = _formats(bar)
    colours = {start: f.foreground().color().name() for start, f in fmts.items()}
    assert colours[0] != colours[7]  # field vs keyword
    assert fmts[7].fontWeight() > 400  # 'in' is a keyword
    assert colours[11] == colours[16]  # both strings
    assert bar.error is None


def test_vectors_and_syntax_errors(bar: FilterBar) -> None:
    bar.set_text("vec > 1")
    assert bar.error is not None and "vector" in bar.error[1]
    bar.set_text("(width > 1")
    assert bar.error is not None and bar.error[0] == 1 and "never closed" in bar.error[1]
    assert token_span("abc", 9) == (2, 1)


def test_no_schema_no_errors(qtbot: Any) -> None:
    b = FilterBar()
    qtbot.addWidget(b)
    b.set_text("anything at all ((")
    assert b.error is None and b.button.isEnabled()
