"""Issue 15 bug 8: the small things a daily user sees (each checked against what was shown before)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from tests.gui.conftest import wait_task
from ui.shared.workers import Task
from workbench.backends import FLOAT_VECTOR, INT64
from workbench.collection_ops import SearchHit


def test_window_title_names_the_app_once(qtbot: Any, window: Any) -> None:
    app = QApplication.instance()
    old = app.applicationDisplayName()
    app.setApplicationDisplayName("Vector Workbench")  # as ui.app sets it; Qt appends it to window titles
    try:
        window._db_opened(window.ctx.db_path)
        assert window.windowTitle() == "test.db"
    finally:
        app.setApplicationDisplayName(old)


def test_find_similar_does_not_claim_to_embed(qtbot: Any, pics: Any) -> None:
    from ui.search.search_panel import SearchPanel

    real_get = pics.backend.get

    def slow_get(*a: Any, **k: Any) -> Any:  # reading the stored vector takes a while on a big collection
        time.sleep(0.03)
        return real_get(*a, **k)

    pics.backend.get = slow_get
    panel = SearchPanel(pics)
    qtbot.addWidget(panel)
    wait_task(qtbot, panel.find_similar("pics", pics.backend.query("pics", limit=1, output_fields=["id"])[0]["id"]))
    assert "results for similar to" in panel.status.text()
    assert "to embed" not in panel.status.text(), panel.status.text()


def test_one_row_is_one_row(qtbot: Any, ctx: Any) -> None:
    from ui.data.data_view import DataView

    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": 4}}]}
    ctx.backend.create_collection("one", schema, [{"field_name": "vector", "index_type": "FLAT",
                                                   "metric_type": "L2", "params": {}}])
    ctx.backend.insert("one", [{"id": 1, "vector": [1.0, 0.0, 0.0, 0.0]}])
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("one")
    assert ctx.collection("one").rows_text == "1 row"
    view = DataView(ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.count_label.text() == "one: 1 row", timeout=10000)


def test_result_tooltip_shows_dates_not_seconds() -> None:
    from ui.search.results_view import hit_tooltip

    tip = hit_tooltip(SearchHit(id=1, score=0.5, fields={"modified": 1796549195.2, "width": 1796549195}))
    assert "modified: 2026-" in tip and "1796549195.2" not in tip
    assert "width: 1796549195" in tip  # only time fields are dates


def test_about_names_the_version() -> None:
    from ui.main_window.about import about_text

    assert "Vector Workbench 0." in about_text()


def test_jobs_card_fits_a_narrow_dock(qtbot: Any) -> None:
    from ui.jobs.jobs_panel import JobsPanel

    panel = JobsPanel()
    qtbot.addWidget(panel)
    panel.resize(260, 500)
    panel.show()
    gate = {"go": False}

    def work() -> Any:
        while not gate["go"]:
            time.sleep(0.01)
            yield {"done": 1, "total": 2, "text": "working"}
        raise OSError("cannot write /home/someone/a/very/long/path/that_goes_on/and_on/without/any/spaces/"
                      "collection_images_2024/segment_000001.arrow: disk full")

    task = Task("Import a folder with a long name: holiday_pictures_2024_summer_in_the_mountains", work)
    card = panel.add(task)
    task.start()
    qtbot.waitUntil(lambda: card.events > 0, timeout=5000)
    qtbot.wait(50)
    assert card.cancel_button.width() >= card.cancel_button.sizeHint().width()  # "Cancel", not "Cance"
    gate["go"] = True
    wait_task(qtbot, task)
    qtbot.wait(50)
    assert card.minimumSizeHint().width() <= 260, card.minimumSizeHint()
    assert card.detail.toolTip().endswith("disk full")  # the whole message, however it wraps
    for i in range(8):  # enough cards for a vertical scroll bar, with titles of long dotted words
        t = Task(f"Build HNSW index on vectors_ivf_{i}.embedding_vector", lambda: iter([{"done": 1, "total": 1}]))
        panel.add(t)
        t.start()
        wait_task(qtbot, t)
    qtbot.wait(50)
    from PySide6.QtWidgets import QScrollArea

    viewport = panel.findChild(QScrollArea).viewport().width()
    assert all(c.minimumSizeHint().width() <= viewport for c in panel.cards), \
        ([c.minimumSizeHint().width() for c in panel.cards], viewport)


def test_file_dialogs_start_at_home_not_in_the_working_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.shared.dialogs as dialogs

    seen: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda parent, title, start: seen.append(start) or ""))
    monkeypatch.setattr(dialogs, "_last_dir", "", raising=False)
    dialogs.open_folder(None, "Import a folder")
    assert seen == [str(Path.home())]


def test_embedding_map_explains_the_empty_canvas_and_gives_every_category_its_colour(qtbot: Any, pics: Any) -> None:
    from ui.embedding_map.embedding_map import EmbeddingMap

    emap = EmbeddingMap(pics)
    qtbot.addWidget(emap)
    emap.resize(900, 700)
    emap.show()
    assert emap.hint.isVisible() and "Press Project to draw the 30 rows of pics" in emap.hint.text()
    n = 150
    rng = np.random.default_rng(0)
    emap.set_projection({"ids": list(range(n)), "xy": rng.standard_normal((n, 2)).astype(np.float32),
                         "labels": [f"cat{i % 15}" for i in range(n)], "field": "embedding", "color_by": "folder",
                         "collection": "pics"})
    assert not emap.hint.isVisible()
    # more than 12 categories: no pale "other" group that looks like a cluster; each its own colour, all listed
    brushes = [s.opts["brush"].color().name() for s in emap.scatters]
    assert len(brushes) == 15 and len(set(brushes)) == 15
    assert len({s.opts["size"] for s in emap.scatters}) == 1
    items = [emap.legend.items.item(i).text() for i in range(emap.legend.items.count())]
    assert len(items) == 15 and "cat14 (10)" in items and not any("other" in t for t in items)


def test_results_without_pictures_are_compact(qtbot: Any, ctx: Any) -> None:
    from ui.search.search_panel import SearchPanel

    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.results_model.set_hits([SearchHit(id=i, score=0.5, fields={}) for i in range(5)])
    assert panel.results.gridSize().height() < 80
    panel.results_model.set_hits([SearchHit(id=1, score=0.5, fields={}, thumbnail="/x.png")])
    assert panel.results.gridSize().height() > 200
