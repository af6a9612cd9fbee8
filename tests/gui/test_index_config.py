"""Index configuration: choices per field (MAX_SIM for struct sub-fields), ranges, build with progress, cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

import ui.shared.dialogs as dialogs
from tests.gui.conftest import ingest_now, make_images, wait_task
from ui.index.index_config import IndexConfig


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
    assert "Index built" in config.progress_label.text()
    d = pics.backend.client.describe_index("pics", "embedding")
    assert (d["index_type"], d["metric_type"], d["nlist"]) == ("IVF_FLAT", "IP", "4")
    qtbot.waitUntil(lambda: "IVF_FLAT" in config.fields.item(0).text(), timeout=10000)
    qtbot.waitUntil(lambda: config.state_label.text() == "Built: 30 of 30 rows indexed.", timeout=10000)
    assert config.bar.maximum() == 30 and config.bar.value() == 30


def test_build_can_be_cancelled(qtbot: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    client = ctx.backend.client
    client.create_collection("vecs", dimension=32, auto_id=True)
    client.drop_index("vecs", "vector")
    client.alter_collection_properties("vecs", {"engine.seal_rows": 500})  # small segments: several build steps
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


def _three_segments(qtbot: Any, ctx: Any, rows: int, dim: int = 8) -> Any:
    """A collection 'vecs' without an index: three partitions of `rows` sealed rows (three build steps)."""
    client = ctx.backend.client
    client.create_collection("vecs", dimension=dim, auto_id=True)
    client.drop_index("vecs", "vector")
    rng = np.random.default_rng(0)
    for part in ("p1", "p2", "p3"):
        client.create_partition("vecs", part)
        client.insert("vecs", [{"vector": v.tolist()} for v in rng.random((rows, dim), dtype=np.float32)],
                      partition_name=part)
    client.flush("vecs")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("vecs")
    return client


def test_build_progress_moves_within_each_segment(qtbot: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 bug 2: the bar stayed at 0% through every segment ("segment 2 of 3: 0 of 70,000"), then
    jumped; it must rise with every chunk the engine indexes, across the segments, never back."""
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    _three_segments(qtbot, ctx, 20_000)
    c = IndexConfig(ctx)
    qtbot.addWidget(c)
    c.type_combo.setCurrentText("HNSW")
    c.param_spins["M"].setValue(4)
    c.param_spins["efConstruction"].setValue(8)
    seen: list[tuple[float, str]] = []

    def record(_ev: Any) -> None:
        if c.bar.maximum() > 0:
            seen.append((c.bar.value() / c.bar.maximum(), c.progress_label.text()))

    task = c.build()
    task.progress.connect(record)
    wait_task(qtbot, task, timeout=180000)
    assert task.state == "done", task.error
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions), seen  # never back to 0 at the next segment
    inside = [(f, t) for f, t in seen if 0.0 < f < 1.0 and "segment" in t and " 0 of " not in t]
    assert len({round(f, 3) for f, _ in inside}) >= 3, seen  # real steps within and across segments
    qtbot.waitUntil(lambda: c.state_label.text() == "Built: 60,000 of 60,000 rows indexed.", timeout=20000)


def test_cancelled_build_reads_not_built_and_build_now_finishes_it(qtbot: Any, ctx: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10 §10 and issue 15 bug 2: after Cancel the tab shows the backend's true state (not 100 %),
    says why, and offers "Build now", which builds the rest as a cancellable job."""
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    client = _three_segments(qtbot, ctx, 9_000)
    real_iter = client.create_index_iter
    gate = threading.Event()
    paused = threading.Event()

    def held_iter(*args: Any, **kwargs: Any) -> Any:  # pause inside the second segment, as a slow build would
        for ev in real_iter(*args, **kwargs):
            yield ev
            if ev.segments_done == 1 and ev.done > 0 and not paused.is_set():
                paused.set()
                gate.wait(30)

    monkeypatch.setattr(client, "create_index_iter", held_iter)
    c = IndexConfig(ctx)
    qtbot.addWidget(c)
    c.show()
    c.type_combo.setCurrentText("HNSW")
    c.param_spins["M"].setValue(4)
    task = c.build()
    qtbot.waitUntil(paused.is_set, timeout=60000)
    qtbot.waitUntil(lambda: 0 < c.bar.value() < c.bar.maximum() and "segment 2 of" in c.progress_label.text(),
                    timeout=10000)
    qtbot.mouseClick(c.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    wait_task(qtbot, task)
    assert task.state == "cancelled"
    qtbot.waitUntil(lambda: c.state_label.text().startswith("Not built"), timeout=20000)
    assert "9,000 of 27,000 rows indexed" in c.state_label.text()
    assert "cancelled or interrupted" in c.state_label.text()  # the engine's reason
    assert c.build_now_button.isVisible()
    assert (c.bar.value(), c.bar.maximum()) == (9_000, 27_000)  # the truth, not 100 %
    assert "not built" in c.fields.item(0).text()
    assert client.describe_index("vecs", "vector")["state"] == "Unissued"

    monkeypatch.setattr(client, "create_index_iter", real_iter)
    qtbot.mouseClick(c.build_now_button, Qt.MouseButton.LeftButton)
    assert c.task is not None and c.task is not task and not c.build_now_button.isVisible()
    wait_task(qtbot, c.task, timeout=120000)
    assert c.task.state == "done", c.task.error
    qtbot.waitUntil(lambda: c.state_label.text() == "Built: 27,000 of 27,000 rows indexed.", timeout=20000)
    assert not c.build_now_button.isVisible()
    assert client.describe_index("vecs", "vector")["state"] == "Finished"
