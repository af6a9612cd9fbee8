"""The embedding map's plot area: a ViewBox whose left-drag draws a rectangle or a lasso (in select modes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem


class SelectViewBox(pg.ViewBox):
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
