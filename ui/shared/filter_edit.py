"""The filter-expression editor: syntax highlighting, field-name completion, inline errors.

The expression is compiled against the collection's schema as the user types
(`engine.expr.compile_filter`, a pure parse and type check, debounced); a
`FilterError` is shown under the editor with its column and underlined in the
text at that position.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.shared.theme import is_dark

KEYWORDS = ("and", "or", "not", "in", "like", "is", "null", "true", "false", "exists")
FUNCTIONS = ("array_contains", "array_contains_all", "array_contains_any", "array_length",
             "json_contains", "json_contains_all", "json_contains_any")
TEXT_FUNCTIONS = ("TEXT_MATCH", "PHRASE_MATCH")  # full text filters: TEXT_MATCH(field, "words")
_TOKEN = re.compile(
    r"(?P<string>\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?)"
    r"|(?P<number>\b\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\b)"
    r"|(?P<word>[A-Za-z_$][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>+\-*/%!()\[\]{},])"
)


class FilterHighlighter(QSyntaxHighlighter):
    """Colours keywords, functions, known fields, strings and numbers; underlines the error."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.fields: set[str] = set()
        self.error_span: tuple[int, int] | None = None  # 0-based start, length

    def _fmt(self, colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
        f = QTextCharFormat()
        f.setForeground(QColor(colour))
        if bold:
            f.setFontWeight(QFont.Weight.Bold)
        f.setFontItalic(italic)
        return f

    def highlightBlock(self, text: str) -> None:
        dark = is_dark()
        styles = {
            "keyword": self._fmt("#c792ea" if dark else "#7a3eb1", bold=True),
            "function": self._fmt("#82aaff" if dark else "#1f5fbf"),
            "field": self._fmt("#7fdbca" if dark else "#0b7a75", bold=True),
            "unknown": self._fmt("#e6e6e6" if dark else "#1d2128"),
            "string": self._fmt("#c3e88d" if dark else "#2e7d32"),
            "number": self._fmt("#f78c6c" if dark else "#b35a00"),
            "op": self._fmt("#89ddff" if dark else "#5c6370"),
        }
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            start, length = m.start(), m.end() - m.start()
            if kind == "word":
                word = m.group("word")
                if word.lower() in KEYWORDS:
                    self.setFormat(start, length, styles["keyword"])
                elif word.lower() in FUNCTIONS or word.upper() in TEXT_FUNCTIONS:
                    self.setFormat(start, length, styles["function"])
                elif word in self.fields:
                    self.setFormat(start, length, styles["field"])
                else:
                    self.setFormat(start, length, styles["unknown"])
            elif kind is not None:
                self.setFormat(start, length, styles[kind])
        if self.error_span is not None:
            start, length = self.error_span
            start = max(0, min(start, len(text)))
            length = max(1, min(length, max(len(text) - start, 1)))
            for i in range(start, min(start + length, len(text)) or start + 1):
                f = self.format(i) if i < len(text) else QTextCharFormat()
                f.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                f.setUnderlineColor(QColor("#ff5555" if dark else "#d32f2f"))
                self.setFormat(i, 1, f)


def token_span(text: str, position: int | None) -> tuple[int, int] | None:
    """The 0-based span of the token at a 1-based error column (to the end when it is past the text)."""
    if position is None:
        return None
    start = max(0, position - 1)
    if start >= len(text):
        return (max(0, len(text) - 1), 1)
    m = _TOKEN.match(text, start)
    return (start, (m.end() - start) if m and m.end() > start else 1)


class FilterEdit(QPlainTextEdit):
    """A one-line code editor for filter expressions (Enter submits)."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterEdit")
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTabChangesFocus(True)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        h = self.fontMetrics().height() + 14
        self.setFixedHeight(h)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setPlaceholderText('e.g. width > 100')
        self.setToolTip('A filter expression, e.g. folder == "circles" and width > 200 (Enter applies)')
        self.highlighter = FilterHighlighter(self.document())
        self._words = QStringListModel(self)
        self.completer = QCompleter(self._words, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self.insert_completion)
        self.set_fields([])

    # --- completion ------------------------------------------------------------------
    def set_fields(self, fields: list[str]) -> None:
        self.highlighter.fields = set(fields)
        self._words.setStringList(sorted(set(fields)) + list(FUNCTIONS) + list(TEXT_FUNCTIONS) + [k for k in KEYWORDS if len(k) > 2])
        self.highlighter.rehighlight()

    def completion_words(self) -> list[str]:
        return list(self._words.stringList())

    def _prefix(self) -> str:
        cur = self.textCursor()
        text = self.toPlainText()[: cur.position()]
        m = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", text)
        return m.group(0) if m else ""

    def insert_completion(self, word: str) -> None:
        prefix = self._prefix()
        cur = self.textCursor()
        cur.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(prefix))
        cur.insertText(word)
        self.setTextCursor(cur)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self.completer.popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab,
                                                 Qt.Key.Key_Escape):
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submitted.emit()
            return
        super().keyPressEvent(event)
        if event.text() and not event.text().isspace():
            self.update_completions()
        elif popup.isVisible() and not self._prefix():
            popup.hide()

    def update_completions(self) -> None:
        prefix = self._prefix()
        popup = self.completer.popup()
        if len(prefix) < 1 or not self.completer.model().rowCount():
            popup.hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0 or (
                self.completer.completionCount() == 1 and self.completer.currentCompletion() == prefix):
            popup.hide()
            return
        rect = self.cursorRect()
        rect.setWidth(max(180, popup.sizeHintForColumn(0) + 24))
        self.completer.complete(rect)

    def text(self) -> str:
        return self.toPlainText().replace("\n", " ")

    def setText(self, text: str) -> None:
        self.setPlainText(text)
        cur = self.textCursor()
        cur.movePosition(QTextCursor.MoveOperation.End)
        self.setTextCursor(cur)


class FilterBar(QWidget):
    """Label + editor + Apply, with the live error under it; `applied(expr)` only for valid filters."""

    applied = Signal(str)
    validityChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, button_text: str = "Apply") -> None:
        super().__init__(parent)
        self.schema: Any = None
        self.edit = FilterEdit(self)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.button = QPushButton(button_text, self)
        self.button.clicked.connect(self.apply)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self.clear)
        title = QLabel("Filter", self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(title)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        row.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.error_label)
        self.error: tuple[int | None, str] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.validate)
        self.edit.textChanged.connect(self._timer.start)
        self.edit.submitted.connect(self.apply)

    def set_schema(self, schema: Any, extra_fields: list[str] | None = None) -> None:
        self.schema = schema
        names: list[str] = []
        if schema is not None:
            names = [f.name for f in schema.fields if not f.is_vector]
        self.edit.set_fields(names + list(extra_fields or []))
        self.validate()

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self.validate()

    def validate(self) -> bool:
        """Compile the expression now; show the error at its column. Returns True when valid."""
        self._timer.stop()
        text = self.text()
        err: tuple[int | None, str] | None = None
        if text and self.schema is not None:
            from engine.expr import FilterError, compile_filter

            try:
                compile_filter(text, self.schema)
            except FilterError as e:
                err = (e.position, e.detail)
            except Exception as e:  # an engine bug must not break typing
                err = (None, str(e))
        changed = (err is None) != (self.error is None)
        self.error = err
        raw = self.edit.toPlainText()
        self.edit.highlighter.error_span = token_span(raw, err[0]) if err else None
        self.edit.highlighter.rehighlight()
        self.edit.setProperty("invalid", err is not None)
        self.edit.style().unpolish(self.edit)
        self.edit.style().polish(self.edit)
        if err is None:
            self.error_label.hide()
            self.error_label.setText("")
        else:
            where = f"column {err[0]}: " if err[0] is not None else ""
            self.error_label.setText(f"⚠ {where}{err[1]}")
            self.error_label.show()
        self.button.setEnabled(err is None)
        if changed:
            self.validityChanged.emit(err is None)
        return err is None

    def apply(self) -> None:
        if self.validate():
            self.applied.emit(self.text())

    def clear(self) -> None:
        self.edit.setText("")
        self.validate()
        self.applied.emit("")
