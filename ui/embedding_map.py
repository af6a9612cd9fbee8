"""Embedding map: a 2D projection (PCA) of a collection's vectors as a pyqtgraph scatter plot.

The vectors are read in batches and projected on a worker (cancellable, with
progress). Points are coloured by a field of your choice; hovering shows the
row's thumbnail; a rectangle or lasso selection restricts the data view to the
selected rows. Hover search and lasso tests are vectorised with numpy, so
100k points stay interactive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.errors import plain_message
from ui.theme import is_dark
from ui.thumbnails import shared_cache, thumbnail_path
from ui.workers import Task

PALETTE = ("#2b5fd9", "#d9480f", "#2e8b57", "#6a3fc7", "#c2185b", "#00838f", "#f0a202", "#5d4037", "#7cb342",
           "#8e24aa", "#546e7a", "#e53935")
MAX_CATEGORIES = len(PALETTE)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components of the rows of `x` (float32, n × 2)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(len(x) - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:2]
    proj = centred @ vecs[:, order]
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    return proj.astype(np.float32)


def points_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside a polygon (even-odd rule), vectorised over points."""
    if len(poly) < 3 or len(pts) == 0:
        return np.zeros(len(pts), dtype=bool)
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), dtype=bool)
    px, py = poly[:, 0], poly[:, 1]
    qx, qy = np.roll(px, 1), np.roll(py, 1)
    for x0, y0, x1, y1 in zip(px, py, qx, qy):
        cond = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = (x1 - x0) * (y - y0) / (y1 - y0) + x0
        inside ^= cond & (x < xc)
    return inside


# Vector types the map can project (as float vectors; the backends return these as lists of floats).
PROJECTABLE = ("FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR")


def projection_events(backend: Any, collection: str, field: str, color_by: str | None,
                      max_points: int, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Read pk, vector, colour field and thumbnail fields in batches; project; return the map data."""
    desc = backend.describe_collection(collection)
    names = {f["name"] for f in desc["fields"]}
    pk = next(f["name"] for f in desc["fields"] if f.get("is_primary"))
    total = min(int(backend.count(collection)), max_points)
    outputs = [pk, field] + [n for n in (color_by, "thumbnail", "sha256", "path", "file_name") if n and n in names]
    outputs = list(dict.fromkeys(outputs))
    ids: list[Any] = []
    vecs: list[np.ndarray] = []
    labels: list[Any] = []
    thumbs: list[str | None] = []
    titles: list[str] = []
    rows_iter = backend.iter_rows(collection, batch_size=batch, output_fields=outputs, limit=total) if total else []
    try:
        for rows in rows_iter:
            rows = rows[: total - len(ids)]
            if not rows:
                break
            vecs.append(np.asarray([r[field] for r in rows], dtype=np.float32))
            for r in rows:
                ids.append(r[pk])
                labels.append(r.get(color_by) if color_by else None)
                thumbs.append(thumbnail_path(backend, collection, r))
                titles.append(str(r.get("file_name") or r.get("path") or r[pk]))
            yield {"done": len(ids), "total": total, "text": f"read {len(ids):,}/{total:,} vectors"}
            if len(ids) >= total:
                break
    finally:
        close = getattr(rows_iter, "close", None)
        if close is not None:
            close()
    yield {"done": total, "total": total, "text": "projecting (PCA)…"}
    x = np.concatenate(vecs) if vecs else np.zeros((0, 2), dtype=np.float32)
    xy = pca_2d(x)
    return {"ids": ids, "xy": xy, "labels": labels, "thumbs": thumbs, "titles": titles, "field": field,
            "color_by": color_by, "collection": collection}


class _SelectViewBox(pg.ViewBox):
    """A ViewBox whose left-drag draws a rectangle or a lasso instead of panning (in select modes)."""

    selected = Signal(object)  # ("rect", (x0, y0, x1, y1)) or ("lasso", ndarray of points)

    def __init__(self) -> None:
        super().__init__()
        self.mode = "rect"
        self._path: list[QPointF] = []
        self._rect_item = QGraphicsRectItem()
        self._rect_item.setPen(QPen(QColor("#ffb000"), 0))
        self._rect_item.setBrush(QColor(255, 176, 0, 40))
        self._rect_item.hide()
        self._lasso_item = QGraphicsPathItem()
        self._lasso_item.setPen(QPen(QColor("#ffb000"), 0))
        self._lasso_item.setBrush(QColor(255, 176, 0, 30))
        self._lasso_item.hide()
        self.addItem(self._rect_item, ignoreBounds=True)
        self.addItem(self._lasso_item, ignoreBounds=True)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if self.mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [self.mapSceneToView(ev.buttonDownScenePos()), p]
        else:
            self._path.append(p)
        if self.mode == "rect":
            a, b = self._path[0], p
            self._rect_item.setRect(min(a.x(), b.x()), min(a.y(), b.y()), abs(b.x() - a.x()), abs(b.y() - a.y()))
            self._rect_item.show()
        else:
            path = QPainterPath(self._path[0])
            for q in self._path[1:]:
                path.lineTo(q)
            path.closeSubpath()
            self._lasso_item.setPath(path)
            self._lasso_item.show()
        if ev.isFinish():
            self._rect_item.hide()
            self._lasso_item.hide()
            if self.mode == "rect":
                a, b = self._path[0], p
                self.selected.emit(("rect", (a.x(), a.y(), b.x(), b.y())))
            else:
                self.selected.emit(("lasso", np.array([(q.x(), q.y()) for q in self._path], dtype=np.float64)))
            self._path = []


class EmbeddingMap(QWidget):
    """The projection, colour legend, hover preview and selection."""

    selectionChanged = Signal(str, list)  # collection, selected primary keys ([] = none)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.data: dict[str, Any] = {}
        self.xy = np.zeros((0, 2), dtype=np.float32)
        self.selected = np.zeros(0, dtype=bool)
        self.hover_index: int | None = None
        self.task: Task | None = None

        self.title = QLabel("Embedding map", self)
        self.title.setObjectName("title")
        self.field_combo = QComboBox(self)
        self.color_combo = QComboBox(self)
        for combo in (self.field_combo, self.color_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.max_spin = QSpinBox(self)
        self.max_spin.setRange(100, 1_000_000)
        self.max_spin.setSingleStep(10_000)
        self.max_spin.setValue(100_000)
        self.max_spin.setToolTip("At most this many rows are projected")
        self.project_button = QPushButton("Project (PCA)", self)
        self.project_button.setObjectName("primary")
        self.project_button.clicked.connect(self.project)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.task.cancel() if self.task else None)
        self.mode_buttons: dict[str, QPushButton] = {}
        group = QButtonGroup(self)
        for mode, text in (("rect", "Rectangle"), ("lasso", "Lasso"), ("pan", "Pan / zoom")):
            b = QPushButton(text, self)
            b.setCheckable(True)
            b.clicked.connect(lambda _c=False, m=mode: self.set_mode(m))
            group.addButton(b)
            self.mode_buttons[mode] = b
        self.mode_buttons["rect"].setChecked(True)
        self.clear_button = QPushButton("Clear selection", self)
        self.clear_button.clicked.connect(lambda: self.clear_selection(emit=True))
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1)
        self.bar.setMaximumHeight(8)
        self.bar.setTextVisible(False)
        self.status = QLabel("Choose a vector field and press Project.", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.legend = QLabel("", self)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)

        self.viewbox = _SelectViewBox()
        self.viewbox.selected.connect(self._drag_selected)
        self.plot = pg.PlotWidget(viewBox=self.viewbox)
        self.plot.setObjectName("mapPlot")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.plot.setAspectLocked(False)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.sel_scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#ffb000", width=1.5), brush=None, pxMode=True)
        self.hover_scatter = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#ffffff", width=2), brush=None, pxMode=True)
        self.plot.addItem(self.sel_scatter)
        self.plot.addItem(self.hover_scatter)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)

        self.preview = QFrame(self.plot)
        self.preview.setObjectName("jobCard")
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        pv = QVBoxLayout(self.preview)
        pv.setContentsMargins(6, 6, 6, 6)
        self.preview_image = QLabel(self.preview)
        self.preview_image.setFixedSize(128, 96)
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_text = QLabel(self.preview)
        self.preview_text.setMaximumWidth(180)
        self.preview_text.setWordWrap(True)
        pv.addWidget(self.preview_image)
        pv.addWidget(self.preview_text)
        self.preview.hide()
        shared_cache().loaded.connect(self._thumb_loaded)

        controls = QHBoxLayout()
        for w in (QLabel("Field", self), self.field_combo, QLabel("Colour by", self), self.color_combo,
                  QLabel("Max points", self), self.max_spin, self.project_button, self.cancel_button):
            controls.addWidget(w)
        controls.addStretch(1)
        modes = QHBoxLayout()
        modes.addWidget(QLabel("Select with", self))
        for b in self.mode_buttons.values():
            modes.addWidget(b)
        modes.addWidget(self.clear_button)
        modes.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.title)
        lay.addLayout(controls)
        lay.addLayout(modes)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.legend)
        self.theme_changed()
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.infoChanged.connect(self._info_changed)
        self.set_collection(ctx.current)

    def _info_changed(self) -> None:
        if self.ctx.current != self.collection:
            self.set_collection(self.ctx.current)

    def theme_changed(self) -> None:
        self.plot.setBackground("#17181b" if is_dark() else "#ffffff")
        self.hover_scatter.setPen(pg.mkPen("#ffffff" if is_dark() else "#1d2128", width=2))

    def set_collection(self, name: str) -> None:
        self.collection = name
        self.title.setText(f"Embedding map of {name}" if name else "Embedding map")
        self.field_combo.clear()
        self.color_combo.clear()
        self.color_combo.addItem("(none)", None)
        info = self.ctx.collection(name)
        if info is not None and info.schema is not None:
            for path, f in info.schema.vector_fields():
                if "[" not in path and f.dtype.name in PROJECTABLE:
                    self.field_combo.addItem(path, path)
            for f in info.schema.fields:
                if f.dtype.name in ("VARCHAR", "BOOL", "INT8", "INT16", "INT32", "INT64") and not f.is_primary \
                        and f.name not in ("path", "sha256", "thumbnail", "file_name"):
                    self.color_combo.addItem(f.name, f.name)
            i = self.color_combo.findData("folder")
            if i >= 0:
                self.color_combo.setCurrentIndex(i)
            elif self.color_combo.count() > 1:
                self.color_combo.setCurrentIndex(1)
        if self.data.get("collection") != name:
            self.set_projection({})

    def set_mode(self, mode: str) -> None:
        self.viewbox.mode = mode
        self.mode_buttons[mode].setChecked(True)
        self.viewbox.setMouseEnabled(x=True, y=True)

    # --- projection --------------------------------------------------------------------
    def project(self) -> Task | None:
        backend, coll, field = self.ctx.backend, self.collection, self.field_combo.currentData()
        if backend is None or not coll or not field:
            self.status.setText("This collection has no top-level float vector field to project.")
            return None
        color_by, max_points = self.color_combo.currentData(), self.max_spin.value()
        task = Task(f"Project {coll}.{field}",
                    lambda: projection_events(backend, coll, field, color_by, max_points), parent=self)
        task.progress.connect(self._progress)
        task.succeeded.connect(self.set_projection)
        task.failed.connect(lambda e: self._ended(plain_message(e)))
        task.cancelled.connect(lambda: self._ended("Cancelled."))
        self.task = task
        self.project_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)
        self.ctx.run(task)
        return task

    def _progress(self, ev: dict[str, Any]) -> None:
        if ev.get("total"):
            self.bar.setRange(0, int(ev["total"]))
            self.bar.setValue(int(ev["done"]))
        self.status.setText(str(ev.get("text", "")))

    def _ended(self, text: str) -> None:
        self.project_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.status.setText(text)

    def set_projection(self, data: dict[str, Any]) -> None:
        """Show a projection: {"ids", "xy", "labels", "thumbs", "titles", ...} (empty dict clears)."""
        self._ended("")
        self.bar.setValue(1 if data else 0)
        self.data = dict(data)
        self.xy = np.asarray(data.get("xy", np.zeros((0, 2))), dtype=np.float32)
        self.selected = np.zeros(len(self.xy), dtype=bool)
        for s in self.scatters:
            self.plot.removeItem(s)
        self.scatters = []
        self.hover_scatter.clear()
        self.sel_scatter.clear()
        self.preview.hide()
        if not len(self.xy):
            self.legend.setText("")
            return
        labels = [str(v) if v is not None else "∅" for v in data.get("labels") or [None] * len(self.xy)]
        cats = sorted(set(labels), key=lambda c: -labels.count(c))
        keep = cats[: MAX_CATEGORIES - 1] if len(cats) > MAX_CATEGORIES else cats
        lab_arr = np.array(labels, dtype=object)
        size = 4 if len(self.xy) > 20000 else 7
        legend = []
        groups = [(c, lab_arr == c) for c in keep]
        if len(cats) > len(keep):
            groups.append(("other", ~np.isin(lab_arr, keep)))
        for i, (cat, mask) in enumerate(groups):
            colour = PALETTE[i % len(PALETTE)]
            pts = self.xy[mask]
            s = pg.ScatterPlotItem(x=pts[:, 0], y=pts[:, 1], size=size, pen=None, brush=pg.mkBrush(colour),
                                   pxMode=True)
            self.plot.addItem(s)
            self.scatters.append(s)
            legend.append(f"<span style='color:{colour}'>●</span> {cat} ({int(mask.sum()):,})")
        self.plot.removeItem(self.sel_scatter)
        self.plot.addItem(self.sel_scatter)
        self.plot.removeItem(self.hover_scatter)
        self.plot.addItem(self.hover_scatter)
        color_by = data.get("color_by")
        self.legend.setText((f"<b>{color_by}</b>: " if color_by else "") + " &nbsp; ".join(legend))
        self.plot.enableAutoRange()
        self.plot.autoRange()
        self.status.setText(f"{len(self.xy):,} points of {data.get('field', '')} (PCA). Hover for a preview; drag "
                            "to select — the Data view then shows only the selection.")

    # --- hover -------------------------------------------------------------------------
    def nearest(self, x: float, y: float, radius_px: float = 8.0) -> int | None:
        """The point nearest to view coordinates (x, y) within `radius_px` screen pixels."""
        if not len(self.xy):
            return None
        px, py = self.viewbox.viewPixelSize()
        px, py = max(px, 1e-12), max(py, 1e-12)
        d2 = ((self.xy[:, 0] - x) / px) ** 2 + ((self.xy[:, 1] - y) / py) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= radius_px**2 else None

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        if not len(self.xy) or not self.viewbox.sceneBoundingRect().contains(scene_pos):
            self.hover(None)
            return
        p = self.viewbox.mapSceneToView(scene_pos)
        self.hover(self.nearest(p.x(), p.y()), self.plot.mapFromScene(scene_pos))

    def hover(self, i: int | None, at: Any = None) -> None:
        self.hover_index = i
        if i is None:
            self.hover_scatter.clear()
            self.preview.hide()
            return
        self.hover_scatter.setData([float(self.xy[i, 0])], [float(self.xy[i, 1])])
        title = self.data["titles"][i] if self.data.get("titles") else str(self.data["ids"][i])
        label = (self.data.get("labels") or [None] * len(self.xy))[i]
        self.preview_text.setText(title + (f"\n{self.data.get('color_by')}: {label}" if self.data.get("color_by")
                                           else ""))
        self._set_preview_pixmap()
        self.preview.adjustSize()
        if at is not None:
            x = min(int(at.x()) + 16, max(0, self.plot.width() - self.preview.width() - 4))
            y = min(int(at.y()) + 16, max(0, self.plot.height() - self.preview.height() - 4))
            self.preview.move(x, y)
        self.preview.show()
        self.preview.raise_()

    def _set_preview_pixmap(self) -> None:
        i = self.hover_index
        path = (self.data.get("thumbs") or [None] * len(self.xy))[i] if i is not None else None
        pm = shared_cache().get(path)
        if pm is not None:
            self.preview_image.setPixmap(pm.scaled(128, 96, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation))
        else:
            self.preview_image.setText("loading…" if path else "no preview")

    def _thumb_loaded(self, path: str) -> None:
        i = self.hover_index
        if i is not None and (self.data.get("thumbs") or [None] * len(self.xy))[i] == path:
            self._set_preview_pixmap()

    # --- selection ---------------------------------------------------------------------
    def _drag_selected(self, what: tuple[str, Any]) -> None:
        kind, shape = what
        if kind == "rect":
            self.select_rect(*shape)
        else:
            self.select_polygon(shape)

    def select_rect(self, x0: float, y0: float, x1: float, y1: float) -> list[Any]:
        lo_x, hi_x = sorted((x0, x1))
        lo_y, hi_y = sorted((y0, y1))
        mask = (self.xy[:, 0] >= lo_x) & (self.xy[:, 0] <= hi_x) & (self.xy[:, 1] >= lo_y) & (self.xy[:, 1] <= hi_y)
        return self._apply_selection(mask)

    def select_polygon(self, poly: np.ndarray) -> list[Any]:
        return self._apply_selection(points_in_polygon(self.xy, np.asarray(poly, dtype=np.float64)))

    def _apply_selection(self, mask: np.ndarray) -> list[Any]:
        self.selected = mask
        pts = self.xy[mask]
        if len(pts):
            self.sel_scatter.setData(pts[:, 0], pts[:, 1])
        else:
            self.sel_scatter.clear()
        ids = [self.data["ids"][i] for i in np.flatnonzero(mask)]
        self.status.setText(f"{len(ids):,} point(s) selected; the Data view shows them." if ids
                            else "Nothing selected.")
        self.selectionChanged.emit(self.collection, ids)
        return ids

    def selected_ids(self) -> list[Any]:
        return [self.data["ids"][i] for i in np.flatnonzero(self.selected)] if len(self.selected) else []

    def clear_selection(self, emit: bool = True) -> None:
        self.selected = np.zeros(len(self.xy), dtype=bool)
        self.sel_scatter.clear()
        if emit:
            self.selectionChanged.emit(self.collection, [])

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
