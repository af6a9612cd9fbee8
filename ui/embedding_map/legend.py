"""The embedding map's legend: every category with its colour and count (a list that scrolls when there are
many), or a colour bar from a numeric field's minimum to its maximum."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QLinearGradient, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ui.embedding_map.colours import NONE_COLOUR, NONE_LABEL, ColourPlan


def _swatch(colour: str, size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(colour))
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pm)


class Legend(QWidget):
    """What the colours mean: categories with counts, or a colour bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan: ColourPlan | None = None
        self.title = QLabel("", self)
        self.title.setObjectName("legendTitle")
        self.items = QListWidget(self)
        self.items.setObjectName("legendList")
        self.items.setFlow(QListWidget.Flow.LeftToRight)
        self.items.setWrapping(True)
        self.items.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.items.setSpacing(2)
        self.items.setMaximumHeight(96)
        self.items.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.bar = QLabel(self)
        self.bar.setFixedHeight(14)
        self.bar.setMinimumWidth(160)
        self.low = QLabel(self)
        self.high = QLabel(self)
        self.missing = QLabel(self)
        self.missing.setObjectName("hint")
        bar_row = QHBoxLayout()
        bar_row.setContentsMargins(0, 0, 0, 0)
        for w in (self.low, self.bar, self.high, self.missing):
            bar_row.addWidget(w)
        bar_row.addStretch(1)
        self.bar_widget = QWidget(self)
        self.bar_widget.setLayout(bar_row)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.items)
        lay.addWidget(self.bar_widget)
        self.set_plan(None)

    def set_plan(self, plan: ColourPlan | None) -> None:
        """Show `plan` (None: nothing)."""
        self.plan = plan
        self.items.clear()
        self.bar_widget.hide()
        self.items.hide()
        if plan is None or plan.kind == "none":
            self.title.setText("")
            return
        if plan.kind == "numeric":
            self.title.setText(f"<b>{plan.field}</b>: colour scale")
            self._draw_bar(plan)
            self.low.setText(f"{plan.low:g}")
            self.high.setText(f"{plan.high:g}")
            self.missing.setText(f"grey: {plan.missing:,} rows without a value" if plan.missing else "")
            self.bar_widget.show()
            return
        n = sum(1 for g in plan.groups if g[0] != NONE_LABEL)
        self.title.setText(f"<b>{plan.field}</b>: {n:,} values" + (", scroll for all" if n > 12 else ""))
        for label, count, colour, _idx in plan.groups:
            item = QListWidgetItem(_swatch(colour if label != NONE_LABEL else NONE_COLOUR), f"{label} ({count:,})")
            item.setToolTip(f"{plan.field} = {label}: {count:,} points")
            self.items.addItem(item)
        self.items.show()

    def _draw_bar(self, plan: ColourPlan) -> None:
        w, h = 200, 12
        pm = QPixmap(w, h)
        p = QPainter(pm)
        grad = QLinearGradient(0, 0, w, 0)
        for i, c in enumerate(plan.scale):
            grad.setColorAt(i / (len(plan.scale) - 1), QColor(c))
        p.fillRect(0, 0, w, h, grad)
        p.end()
        self.bar.setPixmap(pm)

    def text(self) -> str:
        """The legend as plain text: "folder: cats (12), dogs (9)" or "width: 12 to 4000"."""
        plan = self.plan
        if plan is None or plan.kind == "none":
            return ""
        if plan.kind == "numeric":
            return f"{plan.field}: {plan.low:g} to {plan.high:g}"
        return f"{plan.field}: " + ", ".join(self.items.item(i).text() for i in range(self.items.count()))
