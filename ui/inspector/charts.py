"""The inspector's charts: small pyqtgraph plots with the app's look, and their theme."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ui.shared.theme import is_dark


class Chart(pg.PlotWidget):
    """A small bar or line chart with the app's look (no mouse zoom, no SI prefixes)."""

    def __init__(self, title: str, left: str, bottom: str) -> None:
        super().__init__()
        self.setTitle(title)
        self.setLabel("left", left)
        self.setLabel("bottom", bottom)
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.setMinimumHeight(170)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)

    def reset(self) -> None:
        """Empty, with default ticks and axis ranges (nothing of the last data stays)."""
        self.clear()
        self.getAxis("bottom").setTicks(None)
        self.disableAutoRange()
        self.setXRange(0.0, 1.0, padding=0)
        self.setYRange(0.0, 1.0, padding=0)

    def bars(self, xs: list[float], heights: list[float], brush: str, labels: list[str] | None = None,
             log: bool = False, y_range: tuple[float, float] | None = None) -> None:
        self.clear()
        if not xs:
            self.reset()
            return
        h = np.asarray(heights, dtype=float)
        if log:
            h = np.log10(np.maximum(h, 1))
        self.addItem(pg.BarGraphItem(x=xs, height=h, width=0.8, brush=brush))
        if labels is not None:
            step = max(1, len(labels) // 12)
            self.getAxis("bottom").setTicks([[(x, lab) for i, (x, lab) in enumerate(zip(xs, labels)) if i % step == 0]])
        else:
            self.getAxis("bottom").setTicks(None)
        self.enableAutoRange()
        if y_range is not None:
            self.setYRange(*y_range, padding=0.05)


def style_charts(*charts: pg.PlotWidget) -> None:
    """Background, axes and titles in the current theme's colours."""
    bg, fg = ("#17181b", "#d0d0d0") if is_dark() else ("#ffffff", "#30343b")
    for chart in charts:
        chart.setBackground(bg)
        for axis in ("left", "bottom"):
            chart.getAxis(axis).setTextPen(fg)
            chart.getAxis(axis).setPen(fg)
        chart.getPlotItem().titleLabel.setText(chart.getPlotItem().titleLabel.text, color=fg)
