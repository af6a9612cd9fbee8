"""Clusters of duplicates as rows of thumbnails: a list model, a painting delegate and the view.

Each row is one cluster: a header (rows, closest pair) and one thumbnail per member. The row kept has a
green frame and "keep"; the others say "dup" once marked. Clicking a member's thumbnail makes it the one
to keep (`keepChosen`). Thumbnails come from the shared `ThumbnailCache`, decoded off the UI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ui.shared.thumbnails import ThumbnailCache, shared_cache, thumbnail_path

CLUSTER_ROLE = Qt.ItemDataRole.UserRole + 30
THUMB = 96
GAP = 8
HEADER = 22
CAPTION = 16
ROW_HEIGHT = HEADER + THUMB + CAPTION + 10
MAX_SHOWN = 12  # members drawn per row; the header counts them all

Index = QModelIndex | QPersistentModelIndex


class ClustersModel(QAbstractListModel):
    """The clusters of a scan at one threshold, the row kept in each, and the rows marked."""

    def __init__(self, thumbs: ThumbnailCache | None = None) -> None:
        super().__init__()
        self.clusters: list[Any] = []
        self.scan: Any = None
        self.where: Any = None  # the Backend: thumbnail paths are relative to its workspace
        self.collection = ""
        self.keep: dict[int, Any] = {}  # cluster index -> the member chosen to keep (else the first)
        self.marked: dict[Any, Any] = {}  # marked row -> the row it duplicates
        self.thumbs = thumbs or shared_cache()
        self.thumbs.loaded.connect(self._thumb_loaded)
        self._paths: dict[Any, str | None] = {}

    def set_clusters(self, scan: Any, clusters: list[Any], where: Any, collection: str) -> None:
        self.beginResetModel()
        self.scan, self.clusters, self.where, self.collection = scan, list(clusters), where, collection
        self.keep = {}
        self._paths = {}
        self.endResetModel()

    def clear(self) -> None:
        self.set_clusters(None, [], None, "")
        self.marked = {}

    def kept(self, row: int) -> Any:
        c = self.clusters[row]
        return self.keep.get(row, c.keep)

    def choose_keep(self, row: int, member: Any) -> None:
        if 0 <= row < len(self.clusters) and member in self.clusters[row].members:
            self.keep[row] = member
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def marks_for(self, rows: list[int]) -> dict[Any, Any]:
        """{row to mark: row kept} for clusters `rows` (keep one, mark the rest)."""
        out = {}
        for r in rows:
            keep = self.kept(r)
            out.update({m: keep for m in self.clusters[r].members if m != keep})
        return out

    def set_marked(self, marked: dict[Any, Any]) -> None:
        self.marked = dict(marked)
        if self.clusters:
            self.dataChanged.emit(self.index(0), self.index(len(self.clusters) - 1))

    def info(self, pk: Any) -> dict[str, Any]:
        return dict(self.scan.info.get(pk, {})) if self.scan is not None else {}

    def thumb_path(self, pk: Any) -> str | None:
        if pk not in self._paths:
            self._paths[pk] = thumbnail_path(self.where, self.collection, self.info(pk)) if self.where else None
        return self._paths[pk]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.clusters)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.clusters):
            return None
        c = self.clusters[index.row()]
        if role == CLUSTER_ROLE:
            return c
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{len(c.members)} rows"
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{len(c.members)} rows; click a picture to keep it"]
            lines += [f"{'keep' if m == self.kept(index.row()) else 'dup '}  {self.info(m).get('path') or m}"
                      for m in c.members[:20]]
            return "\n".join(lines)
        return None

    def _thumb_loaded(self, path: str) -> None:
        if self.clusters:
            self.dataChanged.emit(self.index(0), self.index(len(self.clusters) - 1))


def member_at(rect: QRect, x: int) -> int:
    """Which member's thumbnail a click at `x` inside a row's `rect` falls on (-1: none)."""
    i = (x - rect.left() - GAP) // (THUMB + GAP)
    inside = (x - rect.left() - GAP) % (THUMB + GAP) < THUMB
    return int(i) if i >= 0 and inside else -1


class ClusterDelegate(QStyledItemDelegate):
    """Paints a cluster: header, then a thumbnail per member with its role."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(GAP + MAX_SHOWN * (THUMB + GAP), ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model = index.model()
        c = index.data(CLUSTER_ROLE)
        if c is None or not isinstance(model, ClustersModel):
            return
        painter.save()
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r = option.rect.adjusted(2, 2, -2, -2)
        painter.setPen(QPen(pal.mid().color(), 1))
        painter.setBrush(pal.highlight().color().lighter(180) if selected else pal.base().color())
        painter.drawRoundedRect(r, 6, 6)
        scan = model.scan
        closest = c.closest
        score = ("identical files" if scan.mode == "exact" else f"closest {int(closest)} bits"
                 if scan.mode == "perceptual" else f"closest {closest:.4f}")
        f = QFont(option.font)
        f.setBold(True)
        painter.setFont(f)
        painter.setPen(pal.text().color())
        painter.drawText(QRect(r.left() + GAP, r.top() + 2, r.width() - 2 * GAP, HEADER - 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"Cluster {index.row() + 1} · {len(c.members)} rows · {score}"
                         + ("" if len(c.members) <= MAX_SHOWN else f" · first {MAX_SHOWN} shown"))
        f.setBold(False)
        f.setPointSizeF(max(7.0, f.pointSizeF() - 1))
        painter.setFont(f)
        keep = model.kept(index.row())
        for i, m in enumerate(c.members[:MAX_SHOWN]):
            box = QRect(r.left() + GAP + i * (THUMB + GAP), r.top() + HEADER, THUMB, THUMB)
            pm = model.thumbs.get(model.thumb_path(m))
            if pm is not None and not pm.isNull():
                scaled = pm.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
                painter.drawPixmap(box.left() + (THUMB - scaled.width()) // 2,
                                   box.top() + (THUMB - scaled.height()) // 2, scaled)
            else:
                painter.setPen(pal.mid().color())
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "no preview" if model.thumb_path(m) is None
                                 else "loading…")
            is_keep = m == keep
            if is_keep or m in model.marked:
                colour = QColor("#2e9d4f") if is_keep else QColor("#c23b22")
                painter.setPen(QPen(colour, 3))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(box.adjusted(1, 1, -1, -1))
                badge = QRect(box.left() + 3, box.top() + 3, 36, 16)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawRoundedRect(badge, 3, 3)
                painter.setPen(QColor("white"))
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "keep" if is_keep else "dup")
            info = model.info(m)
            name = info.get("file_name") or Path(str(info.get("path") or m)).name
            painter.setPen(pal.text().color())
            painter.drawText(QRect(box.left(), box.bottom() + 2, THUMB, CAPTION), Qt.AlignmentFlag.AlignCenter,
                             painter.fontMetrics().elidedText(str(name), Qt.TextElideMode.ElideMiddle, THUMB))
        painter.restore()


class ClusterView(QListView):
    """The list of clusters; a click on a thumbnail chooses the row to keep."""

    keepChosen = Signal(int, object)  # cluster row, member

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clusterList")
        self.setItemDelegate(ClusterDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    def mousePressEvent(self, e: QMouseEvent) -> None:
        super().mousePressEvent(e)
        index = self.indexAt(e.position().toPoint())
        model = self.model()
        if not index.isValid() or not isinstance(model, ClustersModel):
            return
        y = e.position().toPoint().y() - self.visualRect(index).top()
        i = member_at(self.visualRect(index), e.position().toPoint().x())
        members = model.clusters[index.row()].members
        if HEADER <= y < HEADER + THUMB and 0 <= i < min(len(members), MAX_SHOWN):
            self.keepChosen.emit(index.row(), members[i])

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.selectionModel().selectedRows())
