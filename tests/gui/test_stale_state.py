"""Issue 15 bug 3: nothing of one collection (or database) stays in a view after another is chosen,
and a view's text follows new snapshots of its own collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ui.shared.dialogs as dialogs
from tests.gui.conftest import ingest_now, make_images, wait_task
from workbench.backends import FLOAT_VECTOR, INT64


def _plain(ctx: Any, qtbot: Any, name: str = "plain", rows: int = 40, index: str = "HNSW") -> None:
    """A collection made by code: id and a 16-d vector (no path field, no model record)."""
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": 16}}]}
    params = {"M": 8, "efConstruction": 32} if index == "HNSW" else {"nlist": 4} if index == "IVF_FLAT" else {}
    ctx.backend.create_collection(name, schema, [{"field_name": "vector", "index_type": index,
                                                  "metric_type": "COSINE", "params": params}])
    rng = np.random.default_rng(3)
    ctx.backend.insert(name, [{"id": i, "vector": rng.standard_normal(16).tolist()} for i in range(rows)])
    ctx.backend.flush(name)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()


def test_search_panel_row_count_follows_new_rows(qtbot: Any, pics: Any, tmp_path: Path) -> None:
    from ui.search.search_panel import SearchPanel

    panel = SearchPanel(pics)
    qtbot.addWidget(panel)
    assert panel.status.text().startswith("30 rows in pics")
    make_images(tmp_path / "more", 5, start=100)
    ingest_now(pics, tmp_path / "more")
    with qtbot.waitSignal(pics.infoChanged, timeout=30000):
        pics.refresh()
    assert panel.status.text().startswith("35 rows in pics"), panel.status.text()


def test_data_filter_does_not_carry_over(qtbot: Any, pics: Any) -> None:
    from ui.data.data_view import DataView

    _plain(pics, qtbot)
    view = DataView(pics)
    qtbot.addWidget(view)
    view.filter_bar.set_text("path like '%img_00%'")
    view.filter_bar.apply()
    qtbot.waitUntil(lambda: "matching" in view.count_label.text(), timeout=10000)
    pics.set_current("plain")
    qtbot.waitUntil(lambda: view.count_label.text() == "plain: 40 rows", timeout=10000)
    assert view.filter_bar.text() == "" and view.filter_bar.error is None
    assert not view.message.isVisible() or not view.message.text()


def test_recall_results_and_charts_belong_to_the_shown_collection(qtbot: Any, pics: Any) -> None:
    from ui.inspector.inspector import Inspector

    w = Inspector(pics)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.loads > 0, timeout=10000)
    qtbot.waitUntil(lambda: w.levels_chart.getAxis("bottom")._tickLevels is not None, timeout=10000)
    w.recall.q_spin.setValue(5)
    task = w.recall.run_recall()
    wait_task(qtbot, task)
    assert w.recall.recall_table.rowCount() == 5 and w.recall.recall_results
    _plain(pics, qtbot, "flat", index="FLAT")
    pics.set_current("flat")
    assert w.title.text() == "Segments and indexes of flat"
    assert w.recall.recall_table.rowCount() == 0 and w.recall.recall_results == []
    assert not w.recall.recall_plot.getPlotItem().listDataItems()
    qtbot.waitUntil(lambda: w.loads > 1, timeout=10000)
    assert w.levels_chart.getAxis("bottom")._tickLevels is None  # no HNSW levels of 'pics' on 'flat'
    assert w.levels_chart.viewRange()[0] == [0.0, 1.0]


def test_index_tab_of_a_newly_opened_database(qtbot: Any, pics: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.index.index_config import IndexConfig

    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    c = IndexConfig(pics)
    qtbot.addWidget(c)
    task = c.build()
    wait_task(qtbot, task)
    assert c.progress_label.text().startswith("Index built.")
    pics.open_database(tmp_path / "other.db")  # the build's own refresh may still come first: wait for this one
    qtbot.waitUntil(lambda: pics.db_path.endswith("other.db") and pics.info.path.endswith("other.db"), timeout=30000)
    assert c.progress_label.text() == "" and c.bar.value() == 0
    assert c.title.text() == "Index configuration"


def test_embedding_map_of_a_same_named_collection_in_another_database(qtbot: Any, pics: Any, tmp_path: Path,
                                                                     fake_embedder: Any) -> None:
    from ui.embedding_map.embedding_map import EmbeddingMap
    from workbench.ingest import ingest_job

    emap = EmbeddingMap(pics)
    qtbot.addWidget(emap)
    wait_task(qtbot, emap.project())
    assert len(emap.xy) == 30
    make_images(tmp_path / "few", 4, start=200)
    ingest_job([tmp_path / "few"], str(tmp_path / "other.db"), "pics", embedder=fake_embedder).run()
    pics.open_database(tmp_path / "other.db")
    qtbot.waitUntil(lambda: pics.db_path.endswith("other.db") and pics.current == "pics"
                    and pics.collection("pics") is not None and pics.collection("pics").rows == 4, timeout=30000)
    assert len(emap.xy) == 0 and not emap.scatters  # not the other database's 30 points
    assert "4 rows" in emap.hint.text()
