"""Document search results: one row per document, its title and path, and its best paragraphs with the
query's words highlighted and their page.

The hits are `SearchHit`s of `workbench.document_search` (they share `ResultsModel` with the grid);
each passage's `matches` are character spans of the words whose analyzed term is one of the query's, so
"parsing" is marked for the query "parse". The text is HTML-escaped span by span: a passage holding
`<b>` or `&` shows those characters, never markup.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ui.search.results_view import HIT_ROLE

Index = QModelIndex | QPersistentModelIndex
MARK_STYLE = "background-color:#ffe066;color:#1b1b1b;font-weight:600"
PASSAGE_CHARS = 420  # a passage longer than this is cut around its first match


def highlight_html(text: str, matches: list[list[int]] | list[tuple[int, int]]) -> str:
    """`text` escaped for HTML, each `[start, end)` span of `matches` wrapped in a highlighting <span>.
    Overlapping or out-of-range spans are clipped; the rest of the text is kept as is."""
    out: list[str] = []
    at = 0
    for start, end in sorted((max(0, int(s)), min(len(text), int(e))) for s, e in matches):
        if end <= start or start < at:
            continue
        out.append(html.escape(text[at:start]))
        out.append(f'<span style="{MARK_STYLE}">{html.escape(text[start:end])}</span>')
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def _window(text: str, matches: list[Any], size: int = PASSAGE_CHARS) -> tuple[str, list[list[int]], bool, bool]:
    """At most `size` characters of `text` around its first match, with the spans moved to match."""
    if len(text) <= size:
        return text, [list(m) for m in matches], False, False
    first = min((int(m[0]) for m in matches), default=0)
    start = max(0, min(first - size // 4, len(text) - size))
    end = start + size
    spans = [[int(s) - start, int(e) - start] for s, e in matches if int(s) >= start and int(e) <= end]
    return text[start:end], spans, start > 0, end < len(text)


def passage_html(passage: dict[str, Any]) -> str:
    """One passage: its page ("p. 3", when the document has pages) and its text with the matches marked."""
    text, spans, cut_head, cut_tail = _window(str(passage.get("text", "")), passage.get("matches") or [])
    body = ("… " if cut_head else "") + highlight_html(text, spans) + (" …" if cut_tail else "")
    page = int(passage.get("page") or 0)
    tag = f'<span style="color:#2b5fd9;font-weight:600">p.&nbsp;{page}</span>&nbsp; ' if page else ""
    return f"<p style='margin:2px 0 4px 0'>{tag}{body}</p>"


def document_title(hit: Any) -> str:
    f = hit.fields
    return str(f.get("title") or f.get("file_name") or f.get("path") or hit.id)


def shown_passages(hit: Any) -> list[dict[str, Any]]:
    """The passages a hit shows: all of them, except that a words search leaves out those without any of
    the query's words (they are only the rest of the document's chunks), unless none has one."""
    passages = list(hit.passages or [])
    if hit.extra.get("mode") == "words":
        matching = [p for p in passages if p.get("matches")]
        return matching or passages[:1]
    return passages


def hit_html(hit: Any) -> str:
    """A document hit: score, title, path, and its passages."""
    f = hit.fields
    path = str(f.get("path") or "")
    head = (f"<span style='color:#6b7280'>{hit.score:.3f}</span>&nbsp; <b>{html.escape(document_title(hit))}</b>"
            + (f"<br><span style='color:#6b7280;font-size:small'>{html.escape(path)}</span>" if path else ""))
    passages = shown_passages(hit)
    body = "".join(passage_html(p) for p in passages) if passages else \
        "<p style='color:#6b7280'>(no passage text stored)</p>"
    return f"<div>{head}{body}</div>"


class DocumentDelegate(QStyledItemDelegate):
    """Paints `hit_html` with a QTextDocument, as wide as the view."""

    def _document(self, option: QStyleOptionViewItem, index: Index) -> QTextDocument | None:
        hit = index.data(HIT_ROLE)
        if hit is None:
            return None
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(6)
        doc.setHtml(hit_html(hit))
        view = self.parent()
        width = view.viewport().width() if isinstance(view, QListView) else option.rect.width()
        doc.setTextWidth(max(200, width - 4))
        return doc

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        doc = self._document(option, index)
        if doc is None:
            return QSize(0, 0)
        return QSize(int(doc.idealWidth()), int(doc.size().height()) + 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        doc = self._document(option, index)
        if doc is None:
            return
        painter.save()
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r = option.rect.adjusted(2, 2, -2, -2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pal.mid().color())
        painter.setBrush(pal.alternateBase().color() if selected else pal.base().color())
        painter.drawRoundedRect(QRectF(r), 5, 5)
        painter.translate(r.topLeft())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, pal.text().color())
        doc.documentLayout().draw(painter, ctx)
        painter.restore()


class DocumentResultsView(QListView):
    """Document hits as a list of rich-text rows (double-click opens the file at the best passage's page)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentResults")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setSpacing(2)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setItemDelegate(DocumentDelegate(self))

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self.scheduleDelayedItemsLayout()  # rows re-wrap to the new width
