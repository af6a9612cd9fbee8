"""Inspector: segments table, charts from the engine's stats, and the recall explorer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.gui.conftest import wait_task
from ui.inspector.inspector import Inspector, merge_degrees, merge_level_counts


@pytest.fixture
def segs(qtbot: Any, ctx: Any) -> Any:
    """Three sealed segments (one merged segment per partition: 400, 400 and 300 rows) and some deletes,
    with an HNSW index."""
    from tests.conftest import embedding_like

    client = ctx.backend.client
    client.create_collection("segs", dimension=24, auto_id=True)
    client.alter_collection_properties("segs", {"engine.seal_rows": 250})
    for p in ("p1", "p2"):
        client.create_partition("segs", p)
    vecs = embedding_like(1100, 24)
    for i in range(0, 1100, 100):
        part = "_default" if i < 400 else "p1" if i < 800 else "p2"
        client.insert("segs", [{"vector": v.tolist(), "n": int(i + j)} for j, v in enumerate(vecs[i:i + 100])],
                      partition_name=part)
    client.flush("segs")
    client.delete("segs", filter="n < 40")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("segs")
    return ctx


@pytest.fixture
def inspector(qtbot: Any, segs: Any) -> Inspector:
    w = Inspector(segs)
    qtbot.addWidget(w)
    w.resize(1000, 800)
    w.show()
    qtbot.waitUntil(lambda: w.loads > 0, timeout=10000)
    return w


def test_segments_table_and_charts(qtbot: Any, inspector: Inspector) -> None:
    t = inspector.table
    assert t.rowCount() == 3
    cols = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    assert cols[:6] == ["segment", "partition", "state", "rows", "deleted", "deleted %"]
    rows = [int(t.item(r, 3).text().replace(",", "")) for r in range(3)]
    assert sum(rows) == 1100
    deleted = [int(t.item(r, 4).text()) for r in range(3)]
    assert sum(deleted) == 40
    assert all(t.item(r, 2).text() == "Sealed" for r in range(3))
    assert "vector: Finished" in t.item(0, 7).text()
    assert "40 deleted" in inspector.summary.text()
    # charts are fed from the engine's own stats
    assert inspector.rows_chart.getPlotItem().listDataItems() or inspector.rows_chart.getPlotItem().items
    stats = inspector.data["stats"]
    assert len(stats) == 3 and merge_level_counts(stats)[0] == 1100
    assert sum(merge_degrees(stats)) == 1100
    assert "HNSW" in inspector.index_note.text() or "AUTOINDEX" in inspector.index_note.text()


def test_refreshes_after_a_delete(qtbot: Any, inspector: Inspector, segs: Any) -> None:
    loads = inspector.loads
    segs.backend.delete("segs", filter="n >= 1000")
    segs.dataChanged.emit("segs")
    qtbot.waitUntil(lambda: inspector.loads > loads, timeout=10000)
    assert sum(int(inspector.table.item(r, 4).text()) for r in range(3)) == 140


def test_recall_explorer(qtbot: Any, inspector: Inspector) -> None:
    inspector.tabs.setCurrentIndex(1)
    inspector.recall.ef_edit.setText("8, 32, 128")
    inspector.recall.q_spin.setValue(15)
    task = inspector.recall.run_recall()
    assert task is not None and not inspector.recall.run_button.isEnabled()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert inspector.recall.recall_table.rowCount() == 3
    efs = [int(inspector.recall.recall_table.item(r, 0).text()) for r in range(3)]
    assert efs == [10, 32, 128]  # ef is raised to k
    recalls = [float(inspector.recall.recall_table.item(r, 1).text()) for r in range(3)]
    assert all(0.0 <= r <= 1.0 for r in recalls) and recalls[-1] >= 0.9
    assert inspector.recall.recall_bar.value() == inspector.recall.recall_bar.maximum()
    assert len(inspector.recall.recall_plot.getPlotItem().listDataItems()) == 1


def test_recall_explorer_cancel(qtbot: Any, inspector: Inspector) -> None:
    inspector.recall.q_spin.setValue(2000)
    inspector.recall.ef_edit.setText("16, 32, 64, 128, 256, 512")
    task = inspector.recall.run_recall()
    qtbot.waitUntil(lambda: task.last_event is not None, timeout=10000)
    inspector.recall.cancel_button.click()
    wait_task(qtbot, task)
    assert task.state == "cancelled"
    assert inspector.recall.recall_status.text() == "Cancelled." and inspector.recall.run_button.isEnabled()


def test_level_and_degree_merging() -> None:
    stats = [{"level_counts": [10, 2], "degree_histogram": [0, 3, 7]}, {"level_counts": [5], "degree_histogram": [1]}]
    assert merge_level_counts(stats) == [15, 2]
    assert merge_degrees(stats) == [1, 3, 7]
    assert np.isclose(sum(merge_degrees(stats)), 11)
