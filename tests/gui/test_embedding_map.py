"""Embedding map: projection on a worker, hover previews, rectangle and lasso selection, 100k points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from tests.gui.conftest import wait_task
from ui.embedding_map.embedding_map import EmbeddingMap, pca_2d, points_in_polygon


@pytest.fixture
def emap(qtbot: Any, pics: Any) -> EmbeddingMap:
    w = EmbeddingMap(pics)
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    return w


def test_project_then_select_with_a_dragged_rectangle(qtbot: Any, emap: EmbeddingMap, window: Any) -> None:
    assert emap.field_combo.currentData() == "embedding"
    assert emap.color_combo.currentData() == "folder"
    task = emap.project()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert emap.xy.shape == (30, 2) and len(emap.scatters) == 1
    assert "pics (30)" in emap.legend.text()

    # drag a rectangle over the left half of the points, as a user would with the mouse
    vb = emap.viewbox
    xs, ys = emap.xy[:, 0], emap.xy[:, 1]
    split = float(np.median(xs))
    a = emap.plot.mapFromScene(vb.mapViewToScene(QPointF(float(xs.min()) - 1e-3, float(ys.max()) + 1e-3)))
    b = emap.plot.mapFromScene(vb.mapViewToScene(QPointF(split, float(ys.min()) - 1e-3)))
    viewport = emap.plot.viewport()
    got: list[Any] = []
    emap.selectionChanged.connect(lambda c, ids: got.append((c, ids)))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=a)
    for t in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(viewport, pos=a + (b - a) * t)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=b)
    expected = int((xs <= split + 1e-6).sum())
    assert got and got[-1][0] == "pics"
    assert abs(len(got[-1][1]) - expected) <= 1

    # the main window restricts the data view to the selection
    window._map_selection("pics", got[-1][1])
    qtbot.waitUntil(lambda: window.data_view.model.rowCount() == len(got[-1][1]), timeout=10000)
    assert window.data_view.restriction_label.isVisible()
    window.data_view.restriction_button.click()
    qtbot.waitUntil(lambda: window.data_view.model.rowCount() == 30, timeout=10000)


def test_lasso_and_hover_preview(qtbot: Any, emap: EmbeddingMap) -> None:
    wait_task(qtbot, emap.project())
    emap.set_mode("lasso")
    cx, cy = emap.xy.mean(axis=0)
    r = float(np.abs(emap.xy - [cx, cy]).max()) * 2
    ids = emap.select_polygon(np.array([(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]))
    assert len(ids) == 30
    assert emap.select_polygon(np.array([(cx + r, cy + r), (cx + 2 * r, cy + r), (cx + 2 * r, cy + 2 * r)])) == []
    i = 5
    at = emap.plot.mapFromScene(emap.viewbox.mapViewToScene(QPointF(float(emap.xy[i, 0]), float(emap.xy[i, 1]))))
    qtbot.mouseMove(emap.plot.viewport(), pos=at)
    qtbot.waitUntil(lambda: emap.preview.isVisible(), timeout=5000)
    hovered = emap.hover_index
    assert hovered is not None
    assert emap.data["titles"][hovered] in emap.preview_text.text()
    qtbot.waitUntil(lambda: emap.preview_image.pixmap() is not None and not emap.preview_image.pixmap().isNull(),
                    timeout=10000)


def test_copes_with_100k_points(qtbot: Any, emap: EmbeddingMap) -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    xy = rng.standard_normal((n, 2)).astype(np.float32)
    emap.set_projection({"ids": list(range(n)), "xy": xy, "labels": [str(i % 5) for i in range(n)],
                         "thumbs": [None] * n, "titles": [f"p{i}" for i in range(n)], "field": "v",
                         "color_by": "bucket", "collection": emap.collection})
    assert sum(len(s.data) for s in emap.scatters) == n
    emap.plot.resize(800, 600)
    qtbot.wait(50)
    i = emap.nearest(float(xy[123, 0]), float(xy[123, 1]), radius_px=1e-6 + 8)
    assert i is not None and np.allclose(xy[i], xy[123], atol=0.05)
    ids = emap.select_rect(0, 0, 10, 10)
    assert len(ids) == int(((xy[:, 0] >= 0) & (xy[:, 1] >= 0)).sum())
    assert len(emap.select_polygon(np.array([(0, 0), (5, 0), (0, 5)]))) > 0


def test_pca_and_point_in_polygon() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 8)) * np.array([10, 3, 1, 1, 1, 1, 1, 1])
    p = pca_2d(x)
    assert p.shape == (500, 2) and p[:, 0].var() > p[:, 1].var() > 0
    square = np.array([(0, 0), (1, 0), (1, 1), (0, 1)], dtype=float)
    pts = np.array([(0.5, 0.5), (2, 2), (0.1, 0.9), (-0.1, 0.5)])
    assert points_in_polygon(pts, square).tolist() == [True, False, True, False]
