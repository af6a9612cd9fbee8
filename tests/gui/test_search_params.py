"""Issue 15 bug 4: the search panel and the recall explorer sent only `ef`, so on IVF_FLAT the recall chart
was flat. They now offer the parameter of the field's index type (nprobe for IVF, ef for HNSW), and the
recall explorer covers MAX_SIM fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.gui.conftest import ingest_now, make_images, wait_task
from workbench.backends import FLOAT_VECTOR, INT64


def _ivf(ctx: Any, qtbot: Any, rows: int = 600) -> None:
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": 16}}]}
    ctx.backend.create_collection("ivf", schema, [{"field_name": "vector", "index_type": "IVF_FLAT",
                                                   "metric_type": "L2", "params": {"nlist": 32}}])
    rng = np.random.default_rng(7)
    ctx.backend.insert("ivf", [{"id": i, "vector": rng.standard_normal(16).tolist()} for i in range(rows)])
    ctx.backend.flush("ivf")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("ivf")


def test_search_panel_sends_nprobe_on_ivf(qtbot: Any, ctx: Any) -> None:
    from ui.search.search_panel import SearchPanel

    _ivf(ctx, qtbot)
    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    assert panel.param_label.text() == "nprobe" and panel.ef_spin.isEnabled()
    sent: list[Any] = []
    real = ctx.backend.search

    def spy(*a: Any, **kw: Any) -> Any:
        sent.append(kw.get("search_params"))
        return real(*a, **kw)

    ctx.backend.search = spy
    panel.ef_spin.setValue(3)
    task = panel.find_similar("ivf", 5)
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert sent[-1] == {"metric_type": "L2", "params": {"nprobe": 3}}  # the index's own metric, said


def test_recall_explorer_sweeps_nprobe_on_ivf(qtbot: Any, ctx: Any) -> None:
    from ui.inspector.inspector import Inspector

    _ivf(ctx, qtbot)
    w = Inspector(ctx)
    qtbot.addWidget(w)
    assert w.recall.values_label.text() == "nprobe values"
    w.recall.ef_edit.setText("1, 32")
    w.recall.q_spin.setValue(20)
    task = w.recall.run_recall()
    wait_task(qtbot, task, timeout=120000)
    assert task.state == "done", task.error
    points = {p.ef: p for p in w.recall.recall_results}
    assert set(points) == {1, 32} and all(p.param == "nprobe" for p in points.values())
    assert points[1].recall < points[32].recall == 1.0  # not flat: nprobe reaches the search
    assert w.recall.recall_table.horizontalHeaderItem(0).text() == "nprobe"
    labels = [i.toPlainText() for i in w.recall.recall_plot.getPlotItem().items if hasattr(i, "toPlainText")]
    assert sorted(labels) == ["nprobe 1", "nprobe 32"]


def test_recall_explorer_on_a_max_sim_field(qtbot: Any, ctx: Any, tmp_path: Path) -> None:
    from ui.inspector.inspector import Inspector
    from workbench.ingest import IngestOptions

    make_images(tmp_path / "mv", 12, size=(96, 96))
    ingest_now(ctx, tmp_path / "mv", "multi", options=IngestOptions(multiview=True, grid=2))
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("multi")
    w = Inspector(ctx)
    qtbot.addWidget(w)
    i = w.recall.recall_field.findData("views[embedding]")
    assert i >= 0
    w.recall.recall_field.setCurrentIndex(i)
    w.recall.q_spin.setValue(5)
    w.recall.k_spin.setValue(3)
    task = w.recall.run_recall()
    wait_task(qtbot, task, timeout=120000)
    assert task.state == "done", task.error
    assert w.recall.recall_results and all(0.0 <= p.recall <= 1.0 for p in w.recall.recall_results)


def test_recall_labels_of_points_that_meet_are_merged() -> None:
    from types import SimpleNamespace

    from ui.inspector.recall_explorer import label_groups

    pts = [SimpleNamespace(ef=16, recall=0.645, p50_ms=0.50, param="ef"),
           SimpleNamespace(ef=64, recall=0.645, p50_ms=0.51, param="ef"),
           SimpleNamespace(ef=256, recall=0.99, p50_ms=2.0, param="ef")]
    assert [t for _x, _y, t in label_groups(pts, 1.5, 0.4)] == ["ef 16, 64", "ef 256"]


def _code_made(ctx: Any, qtbot: Any, name: str, dim: int) -> None:
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": dim}}]}
    ctx.backend.create_collection(name, schema, [{"field_name": "vector", "index_type": "FLAT",
                                                  "metric_type": "COSINE", "params": {}}])
    rng = np.random.default_rng(1)
    ctx.backend.insert(name, [{"id": i, "vector": rng.standard_normal(dim).tolist()} for i in range(20)])
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current(name)


def test_text_search_without_a_model_record_says_so_and_offers_choices(qtbot: Any, ctx: Any) -> None:
    """Issue 15 bug 5: a collection made by code (no model record) was searched with the settings model
    (another dimension) and the GUI user was told to "pass --checkpoint"."""
    from ui.search.search_panel import SearchPanel

    _code_made(ctx, qtbot, "coded", 24)
    _code_made(ctx, qtbot, "coded16", 16)  # the fake settings model makes 16-d vectors
    ctx.set_current("coded")
    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.text_edit.setText("a red circle")
    task = panel.search_text()
    wait_task(qtbot, task)
    msg = panel.error_label.text()
    assert task.state == "failed" and "does not record which model made its 24-d vectors" in msg, msg
    assert "--checkpoint" not in msg and "Find similar" in msg
    assert panel.model_choices.isVisible()
    with qtbot.waitSignal(panel.modelSettingsRequested, timeout=1000):
        panel.settings_button.click()
    panel.use_settings_button.click()  # the settings model makes 16-d vectors: said, not searched
    wait_task(qtbot, panel.task)
    assert "makes 16-d vectors" in panel.error_label.text() and "24-d" in panel.error_label.text()

    ctx.set_current("coded16")
    panel.text_edit.setText("a red circle")
    wait_task(qtbot, panel.search_text())
    assert panel.model_choices.isVisible()
    panel.use_settings_button.click()
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.error_label.text()
    assert panel.results_model.rowCount() == 20 and not panel.model_choices.isVisible()
