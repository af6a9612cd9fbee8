"""Search results as a thumbnail grid: a QListView in icon mode with a painting delegate.

Thumbnails come from the shared `ThumbnailCache` (decoded off the UI thread).
For MAX_SIM hits the delegate shows the best-matching element: the PDF page's
own thumbnail with its number, or the multi-view crop outlined on the picture.
Results without any picture (a collection of vectors and fields, no images) are
shown as compact text tiles instead of empty "no preview" squares. A grouping search
marks each hit with its group (a coloured stripe and chip, one colour per group, the
groups in order); a hybrid search shows each hit's own score per request under the
fused score.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ui.products.product_tile import paint_strip, product_subtitle, strip_paths
from ui.shared.text import value_text
from ui.shared.thumbnails import ThumbnailCache, shared_cache

HIT_ROLE = Qt.ItemDataRole.UserRole + 20
CELL = QSize(176, 212)
COMPACT_CELL = QSize(260, 54)  # results that have no picture at all
THUMB = 160
KEY_FIELDS = ("file_name", "title", "name", "folder", "category", "page_count", "width", "height")

Index = QModelIndex | QPersistentModelIndex


def hit_title(hit: Any) -> str:
    f = hit.fields
    return str(f.get("file_name") or f.get("title") or f.get("name") or f.get("path") or hit.id)


GROUP_COLOURS = ("#2b5fd9", "#d9480f", "#2e8b57", "#6a3fc7", "#c2185b", "#00838f", "#b8860b", "#5d4037")


def group_text(hit: Any) -> str | None:
    """"folder: cats" for a hit of a grouping search (None otherwise)."""
    name = hit.extra.get("group_field")
    return None if name is None else f"{name}: {value_text(name, hit.group)}"


def scores_text(hit: Any, digits: int = 2) -> str | None:
    """A hybrid hit's own score per request, "text 0.28 · image 0.91" (None for other searches)."""
    if not hit.scores:
        return None
    return " · ".join(f"{k.split(' ', 1)[0]} {v:.{digits}f}" for k, v in hit.scores.items())


def hit_subtitle(hit: Any) -> str:
    f = hit.fields
    bits = [t for t in (scores_text(hit), group_text(hit)) if t]
    product = product_subtitle(hit)  # a product: which of its images matched
    if product:
        bits.append(product)
    if hit.page is not None:
        bits.append(f"page {hit.page}")
    if hit.box is not None:
        el = hit.extra.get("element")
        bits.append("whole image" if el == 0 else f"crop {el}")
    if f.get("folder"):
        bits.append(str(f["folder"]))
    if f.get("width") and f.get("height"):
        bits.append(f"{f['width']}×{f['height']}")
    return " · ".join(bits)


def hit_tooltip(hit: Any) -> str:
    kind = hit.extra.get("score_kind")
    rows = [f"<b>{html.escape(hit_title(hit))}</b>",
            f"score {hit.score:.4f}" + (f" ({html.escape(kind)})" if kind else "")
            + f" · id {html.escape(str(hit.id))}"]
    for k, v in (hit.scores or {}).items():
        rows.append(f"&nbsp;&nbsp;{html.escape(k)}: {v:.4f}")
    if group_text(hit):
        rows.append(f"group {html.escape(str(group_text(hit)))}")
    if hit.page is not None:
        rows.append(f"best page: {hit.page}")
        if hit.page_text:
            rows.append(f"<i>{html.escape(hit.page_text[:240])}</i>")
    if hit.box is not None:
        rows.append(f"best crop: {hit.box}")
    for k, v in hit.fields.items():
        if k in ("id",) or v is None:
            continue
        text = value_text(k, v)
        rows.append(f"{html.escape(k)}: {html.escape(text[:120])}")
    return "<br>".join(rows[:24])


class ResultsModel(QAbstractListModel):
    """A list of `SearchHit`s."""

    def __init__(self, thumbs: ThumbnailCache | None = None) -> None:
        super().__init__()
        self.hits: list[Any] = []
        self.compact = False  # no hit has a picture: text tiles
        self.thumbs = thumbs or shared_cache()
        self.thumbs.loaded.connect(self._thumb_loaded)

    def set_hits(self, hits: list[Any]) -> None:
        self.beginResetModel()
        self.hits = list(hits)
        order: dict[str, int] = {}
        for h in self.hits:  # each group its colour, in the order the groups come
            if h.extra.get("group_field") is not None:
                h.extra["group_colour"] = GROUP_COLOURS[order.setdefault(repr(h.group), len(order))
                                                        % len(GROUP_COLOURS)]
        self.compact = bool(self.hits) and not any(h.thumbnail for h in self.hits)
        self.endResetModel()
        for h in self.hits:  # start decoding all at once; they arrive as they are ready
            self.thumbs.get(h.thumbnail)
            for p in strip_paths(h):
                self.thumbs.get(p)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.hits):
            return None
        hit = self.hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return hit_title(hit)
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit_tooltip(hit)
        if role == HIT_ROLE:
            return hit
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(hit.thumbnail)
        return None

    def _thumb_loaded(self, path: str) -> None:
        for i, h in enumerate(self.hits):
            if h.thumbnail == path or path in strip_paths(h):
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)


class ResultDelegate(QStyledItemDelegate):
    """Paints a thumbnail, the score and key fields; outlines the best crop of multi-view hits."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return COMPACT_CELL if getattr(index.model(), "compact", False) else CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        hit = index.data(HIT_ROLE)
        if hit is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(4, 4, -4, -4)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        bg = pal.highlight().color() if selected else pal.base().color()
        if hover and not selected:
            bg = pal.alternateBase().color()
        painter.setPen(QPen(pal.mid().color(), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(r), 6, 6)
        colour = hit.extra.get("group_colour")
        if colour:  # a grouping search: the group's colour down the left edge
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(r.left(), r.top(), 5, r.height()), 2, 2)
        if getattr(index.model(), "compact", False):
            self._paint_compact(painter, option, hit, r, selected)
            painter.restore()
            return

        area = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 6, THUMB, THUMB - 20)
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        if pm is not None and not pm.isNull():
            scaled = pm.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
            x = area.left() + (area.width() - scaled.width()) // 2
            y = area.top() + (area.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
            box = getattr(hit, "box", None)
            w, h = hit.fields.get("width"), hit.fields.get("height")
            if box is not None and w and h:
                sx, sy = scaled.width() / float(w), scaled.height() / float(h)
                x0, y0, x1, y1 = box
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(QColor("#ffb000"), 2))
                painter.drawRect(QRectF(x + x0 * sx, y + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy))
            paint_strip(painter, area, hit, index.model().thumbs)  # a product's other images
        else:
            painter.setPen(pal.mid().color())
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "loading…" if hit.thumbnail else "no preview")

        # score badge
        badge = QRect(r.left() + 6, r.top() + 6, 58, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 24, 32, 190))
        painter.drawRoundedRect(QRectF(badge), 4, 4)
        painter.setPen(QColor("white"))
        f = QFont(option.font)
        f.setPointSizeF(max(7.0, f.pointSizeF() - 1))
        painter.setFont(f)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"{hit.score:.4f}" if hit.scores else f"{hit.score:.3f}")
        if colour and hit.page is None:  # the group's value on the picture, in the group's colour
            label = painter.fontMetrics().elidedText(value_text(hit.extra["group_field"], hit.group),
                                                     Qt.TextElideMode.ElideRight, 90)
            gw = min(96, painter.fontMetrics().horizontalAdvance(label) + 12)
            gb = QRect(r.right() - gw - 6, r.top() + 6, gw, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(gb), 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(gb, Qt.AlignmentFlag.AlignCenter, label)
        if hit.page is not None:
            pb = QRect(r.right() - 60, r.top() + 6, 54, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(43, 95, 217, 220))
            painter.drawRoundedRect(QRectF(pb), 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(pb, Qt.AlignmentFlag.AlignCenter, f"p. {hit.page}")

        text_col = pal.highlightedText().color() if selected else pal.text().color()
        painter.setPen(text_col)
        f.setBold(True)
        painter.setFont(f)
        title_rect = QRect(r.left() + 6, r.top() + THUMB - 10, r.width() - 12, 18)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(hit_title(hit), Qt.TextElideMode.ElideMiddle,
                                                          title_rect.width()))
        f.setBold(False)
        painter.setFont(f)
        sub_rect = QRect(r.left() + 6, title_rect.bottom() + 2, r.width() - 12, 16)
        painter.setPen(pal.mid().color() if not selected else text_col)
        painter.drawText(sub_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(hit_subtitle(hit), Qt.TextElideMode.ElideRight,
                                                          sub_rect.width()))
        painter.restore()


    def _paint_compact(self, painter: QPainter, option: QStyleOptionViewItem, hit: Any, r: QRect,
                       selected: bool) -> None:
        """Score, title and key fields on one small tile (no picture to show)."""
        pal = option.palette
        badge = QRect(r.left() + 6, r.top() + 6, 58, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 24, 32, 190))
        painter.drawRoundedRect(QRectF(badge), 4, 4)
        f = QFont(option.font)
        painter.setFont(f)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"{hit.score:.3f}")
        text_col = pal.highlightedText().color() if selected else pal.text().color()
        title_rect = QRect(badge.right() + 8, r.top() + 6, r.right() - badge.right() - 14, 18)
        f.setBold(True)
        painter.setFont(f)
        painter.setPen(text_col)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(hit_title(hit), Qt.TextElideMode.ElideMiddle,
                                                          title_rect.width()))
        f.setBold(False)
        painter.setFont(f)
        sub = hit_subtitle(hit) or f"id {hit.id}"
        sub_rect = QRect(r.left() + 6, badge.bottom() + 4, r.width() - 12, 16)
        painter.setPen(pal.mid().color() if not selected else text_col)
        painter.drawText(sub_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(sub, Qt.TextElideMode.ElideRight, sub_rect.width()))


class ResultsView(QListView):
    """The grid itself."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(CELL.width() + 6, CELL.height() + 6))
        self.setSpacing(2)
        self.setMouseTracking(True)
        self.setWordWrap(True)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setItemDelegate(ResultDelegate(self))

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        if model is not None:
            model.modelReset.connect(self._fit_cells)

    def _fit_cells(self) -> None:
        """Picture tiles, or compact text tiles when no result has a picture."""
        cell = COMPACT_CELL if getattr(self.model(), "compact", False) else CELL
        self.setGridSize(QSize(cell.width() + 6, cell.height() + 6))
