"""Embedding map: a 2D projection (PCA, or UMAP) of a collection's vectors as a pyqtgraph scatter plot.

The vectors are read in batches and projected on a worker (cancellable, with progress); a collection
larger than Max points is sampled at random, and the status line says so. PCA is the instant view;
UMAP (umap-learn, in a process of its own: `umap_layout`) shows the PCA map first and replaces it when
its layout is done, reporting its phases and epochs, and Cancel ends its process. Points are coloured
by any scalar field (categories with a scrolling legend of every value and its count, or a colour bar
for numbers; `colours`); hovering shows the row's thumbnail; a rectangle or lasso selection restricts
the data view to the selected rows. Hover search and lasso tests are vectorised with numpy, so 100k
points stay interactive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.embedding_map.colours import NUMERIC_TYPES, ColourPlan, colour_plan
from ui.embedding_map.legend import Legend
from ui.embedding_map.projection import (
    PROJECTABLE,
    label_events,
    pca_2d,
    points_in_polygon,
    projection_events,
)
from ui.embedding_map.select_viewbox import SelectViewBox
from ui.embedding_map.umap_layout import umap_available
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.theme import is_dark
from ui.shared.thumbnails import shared_cache
from ui.shared.workers import Task

__all__ = ["EmbeddingMap", "pca_2d", "points_in_polygon", "projection_events"]

COLOUR_TYPES = ("VARCHAR", "BOOL", *sorted(NUMERIC_TYPES))
MAX_POINTS = {"pca": 100_000, "umap": 20_000}  # each method's default Max points
PER_POINT_BRUSHES = 64  # above this many colour groups, one scatter item with a brush per point


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
        self._preview_shown = False
        self._bound: tuple[Any, str] = (None, "")

        self.title = QLabel("Embedding map", self)
        self.title.setObjectName("title")
        self.field_combo = QComboBox(self)
        self.color_combo = QComboBox(self)
        for combo in (self.field_combo, self.color_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.method_combo = QComboBox(self)
        self.method_combo.addItem("PCA (instant)", "pca")
        self.method_combo.addItem("UMAP (umap-learn)", "umap")
        reason = umap_available()
        if reason:
            self.method_combo.model().item(1).setEnabled(False)
            self.method_combo.setItemData(1, reason, Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setToolTip("PCA: the two main directions, instant, but CLIP embeddings often make one blob. "
                                     "UMAP: neighbourhoods kept, clusters show; shows the PCA map first, then "
                                     "takes from seconds to minutes (its first map compiles umap-learn)")
        self.method_combo.currentIndexChanged.connect(self._method_changed)
        self.max_spin = QSpinBox(self)
        self.max_spin.setRange(100, 1_000_000)
        self.max_spin.setSingleStep(10_000)
        self.max_spin.setValue(MAX_POINTS["pca"])
        self.max_spin.setToolTip("At most this many rows are projected: a larger collection is sampled at random")
        self.project_button = QPushButton("Project", self)
        self.project_button.setObjectName("primary")
        self.project_button.clicked.connect(self.project)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
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
        self.legend = Legend(self)
        self.plan: ColourPlan | None = None
        self.colour_types: dict[str, str] = {}  # colour field -> its type name
        self.recolour_task: Task | None = None
        self.color_combo.activated.connect(lambda _i: self.recolour())

        self.viewbox = SelectViewBox()
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
        self.hint = QLabel(self.plot)  # what the empty canvas is for, until a projection is drawn
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        shared_cache().loaded.connect(self._thumb_loaded)

        controls = QHBoxLayout()
        for w in (QLabel("Field", self), self.field_combo, QLabel("Colour by", self), self.color_combo,
                  self.method_combo, QLabel("Max points", self), self.max_spin, self.project_button,
                  self.cancel_button):
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
        if (self.ctx.backend, self.ctx.current) != self._bound:
            self.set_collection(self.ctx.current)

    def theme_changed(self) -> None:
        self.plot.setBackground("#17181b" if is_dark() else "#ffffff")
        self.hover_scatter.setPen(pg.mkPen("#ffffff" if is_dark() else "#1d2128", width=2))

    def set_collection(self, name: str) -> None:
        """The one place the map is bound to a collection: another collection or database drops the projection
        (and stops one being computed)."""
        bound = (self.ctx.backend, name)
        changed = bound != self._bound
        self._bound = bound
        if changed and self.task is not None and self.task.running:
            self.task.cancel()
        if changed and self.recolour_task is not None and self.recolour_task.running:
            self.recolour_task.cancel()
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
            self.colour_types = {}
            for f in info.schema.fields:
                if f.dtype.name in COLOUR_TYPES and not f.is_primary and f.name not in ("path", "sha256", "thumbnail"):
                    self.color_combo.addItem(f.name, f.name)
                    self.colour_types[f.name] = f.dtype.name
            i = self.color_combo.findData("folder")
            if i >= 0:
                self.color_combo.setCurrentIndex(i)
            elif self.color_combo.count() > 1:
                self.color_combo.setCurrentIndex(1)
        if changed or self.data.get("collection") != name:
            self.set_projection({})
        self._update_hint()

    def _update_hint(self) -> None:
        """A line in the middle of the empty canvas: what Project draws, or why there is nothing to draw."""
        if len(self.xy):
            self.hint.hide()
            return
        info = self.ctx.collection(self.collection)
        field = self.field_combo.currentData()
        if not self.collection:
            text = "Choose a collection."
        elif not field:
            text = f"{self.collection} has no top-level float vector field to project."
        else:
            rows = f"the {info.rows_text} of " if info is not None and info.rows is not None else ""
            text = (f"Press Project to draw {rows}{self.collection} as points: each point is a row of "
                    f"{field}, and nearby points are similar. Colour them by a field; drag to select.")
        self.hint.setText(text)
        self.hint.show()
        self._place_hint()

    def _place_hint(self) -> None:
        w, h = self.plot.width(), self.plot.height()
        self.hint.setGeometry(int(w * 0.15), int(h * 0.35), int(w * 0.7), int(h * 0.3))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._place_hint()

    def set_mode(self, mode: str) -> None:
        self.viewbox.mode = mode
        self.mode_buttons[mode].setChecked(True)
        self.viewbox.setMouseEnabled(x=True, y=True)

    # --- projection --------------------------------------------------------------------
    def _method_changed(self) -> None:
        self.max_spin.setValue(MAX_POINTS[str(self.method_combo.currentData())])

    def project(self) -> Task | None:
        backend, coll, field = self.ctx.backend, self.collection, self.field_combo.currentData()
        if backend is None or not coll or not field:
            self.status.setText("This collection has no top-level float vector field to project.")
            return None
        color_by, max_points = self.color_combo.currentData(), self.max_spin.value()
        method = str(self.method_combo.currentData())
        info = self.ctx.collection(coll)
        ix = info.index_for(field) if info is not None else None
        metric = "euclidean" if ix is not None and ix.metric == "L2" else "cosine"
        task = Task(f"Project {coll}.{field} ({method.upper()})",
                    lambda: projection_events(backend, coll, field, color_by, max_points, method=method,
                                              metric=metric), parent=self)
        task.progress.connect(lambda ev, t=task: self._progress(ev) if t is self.task else None)
        task.succeeded.connect(lambda d, t=task: self.set_projection(d) if t is self.task else None)
        task.failed.connect(lambda e, t=task: self._ended(plain_message(e)) if t is self.task else None)
        task.cancelled.connect(lambda t=task: self._ended("Cancelled.") if t is self.task else None)
        self.task = task
        self._preview_shown = False
        self.project_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)
        self.ctx.run(task)
        return task

    def cancel(self) -> None:
        """Stop the projection now: the worker's result is dropped, a UMAP process is ended."""
        if self.task is not None and self.task.running:
            self.task.cancel()
            self._ended("Cancelled." + (" The PCA map stays." if len(self.xy) else ""))

    def _progress(self, ev: dict[str, Any]) -> None:
        preview = ev.get("preview")
        if preview is not None and not self._preview_shown:  # UMAP runs: the PCA map meanwhile
            self._preview_shown = True
            self.set_projection(preview, final=False)
        if ev.get("total"):
            self.bar.setRange(0, int(ev["total"]))
            self.bar.setValue(int(ev["done"]))
        else:
            self.bar.setRange(0, 0)  # no count for this phase: busy, with the elapsed time in the text
        self.status.setText(str(ev.get("text", "")))

    def _ended(self, text: str) -> None:
        self.project_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.status.setText(text)

    def set_projection(self, data: dict[str, Any], final: bool = True) -> None:
        """Show a projection: {"ids", "xy", "labels", "thumbs", "titles", ...} (empty dict clears). `final`
        False: a first view while the projection goes on (the controls stay as they are)."""
        if final:
            self._ended("")
            self.bar.setValue(1 if data else 0)
        self.data = dict(data)
        self.xy = np.asarray(data.get("xy", np.zeros((0, 2))), dtype=np.float32)
        self.selected = np.zeros(len(self.xy), dtype=bool)
        self.hover_scatter.clear()
        self.sel_scatter.clear()
        self.preview.hide()
        self._draw()
        if not len(self.xy):
            return
        self.plot.enableAutoRange()
        self.plot.autoRange()
        if final:
            self.status.setText(f"{len(self.xy):,} points of {data.get('field', '')} ({data.get('method', 'PCA')}; "
                                f"{data.get('sample', 'all rows')}). Hover for a preview; drag to select — the Data "
                                "view then shows only the selection.")

    def _draw(self) -> None:
        """The points, coloured by the colour field's plan, and the legend."""
        for s in self.scatters:
            self.plot.removeItem(s)
        self.scatters = []
        if not len(self.xy):
            self.plan = None
            self.legend.set_plan(None)
            self._update_hint()
            return
        self.hint.hide()
        color_by = self.data.get("color_by")
        self.plan = colour_plan(self.data.get("labels") if color_by else None, color_by,
                                self.colour_types.get(color_by or ""))
        size = 4 if len(self.xy) > 20000 else 7
        groups = self.plan.groups
        if len(groups) <= PER_POINT_BRUSHES:
            for _label, _count, colour, idx in groups:
                pts = self.xy[idx]
                s = pg.ScatterPlotItem(x=pts[:, 0], y=pts[:, 1], size=size, pen=None, brush=pg.mkBrush(colour),
                                       pxMode=True)
                self.plot.addItem(s)
                self.scatters.append(s)
        else:  # many categories: one item, a brush per point (one brush object per category)
            brushes: list[Any] = [None] * len(self.xy)
            for _label, _count, colour, idx in groups:
                b = pg.mkBrush(colour)
                for i in idx:
                    brushes[i] = b
            s = pg.ScatterPlotItem(x=self.xy[:, 0], y=self.xy[:, 1], size=size, pen=None, brush=brushes, pxMode=True)
            self.plot.addItem(s)
            self.scatters.append(s)
        for item in (self.sel_scatter, self.hover_scatter):  # on top
            self.plot.removeItem(item)
            self.plot.addItem(item)
        self.legend.set_plan(self.plan)

    def recolour(self) -> Task | None:
        """Colour the points drawn by the field now chosen (read for those rows on a worker)."""
        field = self.color_combo.currentData()
        backend, coll = self.ctx.backend, self.collection
        if not len(self.xy) or backend is None or self.data.get("collection") != coll:
            return None
        if field == self.data.get("color_by"):
            return None
        if self.recolour_task is not None and self.recolour_task.running:
            self.recolour_task.cancel()
        ids = list(self.data["ids"])
        task = Task(f"Colour {coll} by {field}", lambda: label_events(backend, coll, ids, field), parent=self,
                    show_in_jobs=False)
        task.progress.connect(lambda ev: self.status.setText(str(ev.get("text", ""))))
        task.succeeded.connect(lambda labels, t=task: self._recoloured(t, field, labels))
        task.failed.connect(lambda e: self.status.setText(plain_message(e)))
        self.recolour_task = task
        return task.start()

    def _recoloured(self, task: Task, field: str | None, labels: list[Any]) -> None:
        if task is not self.recolour_task or len(labels) != len(self.xy):
            return
        self.data["labels"], self.data["color_by"] = labels, field
        keep = self.selected.copy()
        self._draw()
        if keep.any():
            self.selected = keep
            pts = self.xy[keep]
            self.sel_scatter.setData(pts[:, 0], pts[:, 1])
        self.status.setText(f"Coloured by {field}." if field else "One colour.")

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
        self.status.setText(f"{plural(len(ids), 'point')} selected; the Data view shows them." if ids
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
        from ui.embedding_map.umap_layout import stop_process

        stop_process()
