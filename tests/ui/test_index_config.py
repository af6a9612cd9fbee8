"""Index configuration: choices per field (MAX_SIM for struct sub-fields), ranges, build with progress, cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

import ui.dialogs as dialogs
from tests.ui.conftest import ingest_now, make_images, wait_task
from ui.index_config import IndexConfig


@pytest.fixture
def config(qtbot: Any, pics: Any, monkeypatch: pytest.MonkeyPatch) -> IndexConfig:
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    c = IndexConfig(pics)
    qtbot.addWidget(c)
    c.show()
    return c


def test_float_field_choices_ranges_and_help(config: IndexConfig) -> None:
    assert config.current_path() == "embedding"
    types = [config.type_combo.itemText(i) for i in range(config.type_combo.count())]
    assert types == ["AUTOINDEX", "HNSW", "IVF_FLAT", "FLAT"]
    assert config.type_combo.currentText() == "HNSW"  # the existing index
    assert [config.metric_combo.itemText(i) for i in range(config.metric_combo.count())] == ["COSINE", "IP", "L2"]
    m = config.param_spins["M"]
    assert (m.minimum(), m.maximum(), m.value()) == (2, 2048, 16)
    config.type_combo.setCurrentText("IVF_FLAT")
    assert list(config.param_spins) == ["nlist"] and config.param_spins["nlist"].maximum() == 65536
    assert "k-means" in config.params_box.findChildren(type(config.type_help))[0].text()
    config.type_combo.setCurrentText("FLAT")
    assert config.param_spins == {}
    assert "has index" in config.current_label.text()


def test_struct_sub_fields_take_max_sim_metrics(qtbot: Any, ctx: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.ingest import IngestOptions

    make_images(tmp_path / "mv", 4, size=(96, 96))
    ingest_now(ctx, tmp_path / "mv", "multi", options=IngestOptions(multiview=True, grid=2))
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("multi")
    c = IndexConfig(ctx)
    qtbot.addWidget(c)
    c.select_field("views[embedding]")
    assert [c.metric_combo.itemText(i) for i in range(c.metric_combo.count())] == \
        ["MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"]
    assert [c.type_combo.itemText(i) for i in range(c.type_combo.count())] == ["AUTOINDEX", "HNSW"]


def test_build_replaces_the_index_with_progress(qtbot: Any, config: IndexConfig, pics: Any) -> None:
    config.type_combo.setCurrentText("IVF_FLAT")
    config.metric_combo.setCurrentText("IP")
    config.param_spins["nlist"].setValue(4)
    events: list[Any] = []
    task = config.build()
    task.progress.connect(events.append)
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert config.bar.value() == config.bar.maximum()
    assert "30 rows indexed, 0 pending" in config.progress_label.text()
    d = pics.backend.client.describe_index("pics", "embedding")
    assert (d["index_type"], d["metric_type"], d["nlist"]) == ("IVF_FLAT", "IP", "4")
    qtbot.waitUntil(lambda: "IVF_FLAT" in config.fields.item(0).text(), timeout=10000)


def test_build_can_be_cancelled(qtbot: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    client = ctx.backend.client  # the engine's own client: small segments need its internals
    client.create_collection("vecs", dimension=32, auto_id=True)
    client.drop_index("vecs", "vector")
    coll = client._db.get("vecs")  # small segments, so the build has several steps
    coll.seal_rows = 500
    rng = np.random.default_rng(0)
    for _ in range(6):
        client.insert("vecs", [{"vector": v.tolist()} for v in rng.random((500, 32), dtype=np.float32)])
    client.flush("vecs")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("vecs")
    real_iter = client.create_index_iter
    gate = threading.Event()

    def held_iter(*args: Any, **kwargs: Any) -> Any:  # pause after the first event, as a slow build would
        for i, ev in enumerate(real_iter(*args, **kwargs)):
            yield ev
            if i == 0:
                gate.wait(30)

    monkeypatch.setattr(client, "create_index_iter", held_iter)
    c = IndexConfig(ctx)
    qtbot.addWidget(c)
    c.type_combo.setCurrentText("HNSW")
    task = c.build()
    qtbot.waitUntil(lambda: "segment" in c.progress_label.text(), timeout=20000)
    assert c.cancel_button.isEnabled()
    qtbot.mouseClick(c.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    wait_task(qtbot, task)
    assert task.state == "cancelled"
    assert c.build_button.isEnabled() and not c.cancel_button.isEnabled()
    assert "cancelled" in c.progress_label.text().lower()
    d = client.describe_index("vecs", "vector")
    assert d["indexed_rows"] + d["pending_index_rows"] == 3000 and d["pending_index_rows"] > 0
