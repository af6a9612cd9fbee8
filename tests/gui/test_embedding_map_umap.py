"""Embedding map (issue 15): UMAP after an instant PCA view, with real progress and a cancel that ends its
process; random sampling said in the status; colour by any scalar field with a legend of every value (or a
colour bar)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.gui.conftest import wait_task
from ui.embedding_map import umap_layout
from ui.embedding_map.colours import NONE_LABEL, colour_plan
from ui.embedding_map.embedding_map import PER_POINT_BRUSHES, EmbeddingMap


@pytest.fixture
def emap(qtbot: Any, pics: Any) -> EmbeddingMap:
    w = EmbeddingMap(pics)
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    return w


def test_umap_shows_the_pca_map_first_then_its_own(qtbot: Any, emap: EmbeddingMap) -> None:
    # a fresh UMAP process, as in a new app session: loading umap-learn and the first layout (numba compiles
    # it) last seconds, so the throttled progress (about 20 events a second) shows them; each phase, however
    # short, is checked on the generator itself in tests/test_umap_layout.py
    umap_layout.stop_process()
    shown: list[tuple[str, bool, bool]] = []
    layouts: list[np.ndarray] = []
    real = emap.set_projection

    def spy(data: dict[str, Any], final: bool = True) -> None:
        shown.append((data.get("method", ""), final, bool(emap.task is not None and emap.task.running)))
        layouts.append(np.array(data["xy"]))
        real(data, final)

    emap.set_projection = spy  # type: ignore[method-assign]
    texts: list[str] = []
    bars: list[tuple[int, int]] = []
    emap.method_combo.setCurrentIndex(emap.method_combo.findData("umap"))
    assert emap.max_spin.value() == 20_000
    task = emap.project()
    assert task is not None
    task.progress.connect(lambda ev: (texts.append(emap.status.text()), bars.append((emap.bar.maximum(),
                                                                                      emap.bar.value()))))
    wait_task(qtbot, task, timeout=300_000)
    assert task.state == "done", task.error
    assert shown[0] == ("PCA", False, True), "the PCA map is shown while UMAP runs"
    assert shown[-1][:2] == ("UMAP", True)
    assert emap.data["method"] == "UMAP" and emap.xy.shape == (30, 2) and np.isfinite(emap.xy).all()
    assert layouts[0].shape == (30, 2) and not np.allclose(layouts[0], emap.xy)  # PCA first, then UMAP's own
    umap_texts = [t for t in texts if t.startswith("UMAP:")]
    assert any(t.startswith("UMAP: loading umap-learn") for t in umap_texts)
    assert any("layout: epoch" in t for t in umap_texts) and all(t.rstrip().endswith(" s") for t in umap_texts)
    assert any(m > 1 for m, _ in bars), "the epochs are counted on the bar"
    assert "(UMAP; all 30 rows)" in emap.status.text()
    assert "pics (30)" in emap.legend.text()


def test_cancel_ends_the_umap_process_and_keeps_the_pca_map(qtbot: Any, emap: EmbeddingMap) -> None:
    umap_layout.stop_process()  # a fresh process: loading umap-learn takes seconds, time to press Cancel
    emap.method_combo.setCurrentIndex(emap.method_combo.findData("umap"))
    task = emap.project()
    assert task is not None
    qtbot.waitUntil(lambda: emap.status.text().startswith("UMAP:"), timeout=60_000)
    proc = umap_layout._worker.get("proc")
    assert proc is not None and proc.is_alive()
    emap.cancel_button.click()
    assert emap.project_button.isEnabled() and not emap.cancel_button.isEnabled()  # at once, not when it ends
    assert "Cancelled" in emap.status.text()
    wait_task(qtbot, task, timeout=20_000)
    assert task.state == "cancelled"
    qtbot.waitUntil(lambda: not proc.is_alive(), timeout=10_000)
    assert emap.data["method"] == "PCA" and emap.xy.shape == (30, 2)


def test_another_collection_or_shutdown_ends_the_umap_process(qtbot: Any, emap: EmbeddingMap, tmp_path: Any) -> None:
    from tests.gui.conftest import ingest_now, make_images

    make_images(tmp_path / "more", 5)
    ingest_now(emap.ctx, tmp_path / "more", "more")
    with qtbot.waitSignal(emap.ctx.infoChanged, timeout=30000):
        emap.ctx.refresh()
    umap_layout.stop_process()  # a fresh process: seconds of loading, during which the collection changes
    emap.method_combo.setCurrentIndex(emap.method_combo.findData("umap"))
    task = emap.project()
    assert task is not None
    qtbot.waitUntil(lambda: emap.status.text().startswith("UMAP:"), timeout=60_000)
    proc = umap_layout._worker.get("proc")
    assert proc is not None and proc.is_alive()
    emap.ctx.set_current("more")
    wait_task(qtbot, task, timeout=20_000)
    assert task.state == "cancelled" and emap.collection == "more" and len(emap.xy) == 0
    qtbot.waitUntil(lambda: not proc.is_alive(), timeout=10_000)
    # a finished map keeps its process for the next one; closing the app (shutdown) ends it
    done = emap.project()
    assert done is not None
    wait_task(qtbot, done, timeout=300_000)
    assert done.state == "done", done.error
    kept = umap_layout._worker.get("proc")
    assert kept is not None and kept.is_alive()
    emap.shutdown()
    assert not kept.is_alive() and "proc" not in umap_layout._worker


def test_a_larger_collection_is_sampled_at_random_and_said(qtbot: Any, emap: EmbeddingMap) -> None:
    emap.max_spin.setValue(100)
    emap.max_spin.setMinimum(5)
    emap.max_spin.setValue(10)
    task = emap.project()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    assert emap.xy.shape == (10, 2) and len(set(emap.data["ids"])) == 10
    assert "a random sample of 10 of 30 rows (seed 0)" in emap.status.text()
    first_ten = [r["id"] for r in emap.ctx.backend.query("pics", output_fields=["id"], limit=10)]
    assert sorted(emap.data["ids"]) != sorted(first_ten), "a sample, not the first rows"
    again = emap.project()
    wait_task(qtbot, again)
    assert sorted(emap.data["ids"]) == sorted(task.result["ids"]), "the same sample each time (seed 0)"


def test_many_categories_are_all_listed_with_counts(qtbot: Any, emap: EmbeddingMap) -> None:
    n, k = 3000, 200
    rng = np.random.default_rng(0)
    labels = [f"v{i % k:03d}" for i in range(n)]
    labels[:5] = [None] * 5
    emap.colour_types["tag"] = "VARCHAR"
    emap.set_projection({"ids": list(range(n)), "xy": rng.standard_normal((n, 2)).astype(np.float32),
                         "labels": labels, "thumbs": [None] * n, "titles": [str(i) for i in range(n)],
                         "field": "v", "color_by": "tag", "collection": emap.collection, "method": "PCA"})
    lst = emap.legend.items
    assert lst.count() == k + 1 and k > PER_POINT_BRUSHES
    texts = [lst.item(i).text() for i in range(lst.count())]
    assert texts[-1] == f"{NONE_LABEL} (5)" and "v100 (15)" in texts and "v001 (14)" in texts and not any("other" in t for t in texts)
    qtbot.waitUntil(lambda: lst.verticalScrollBar().maximum() > 0, timeout=5000)  # it scrolls
    assert "200 values, scroll for all" in emap.legend.title.text()
    assert len(emap.scatters) == 1 and len(emap.scatters[0].data) == n
    assert len({emap.scatters[0].data["brush"][i].color().name() for i in range(400)}) == k + 1  # own colours


def test_numeric_field_gets_a_colour_bar_and_recolour_reads_the_field(qtbot: Any, emap: EmbeddingMap) -> None:
    wait_task(qtbot, emap.project())
    i = emap.color_combo.findData("bytes")
    assert i > 0 and emap.colour_types["bytes"] == "INT64"
    emap.color_combo.setCurrentIndex(i)
    task = emap.recolour()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    sizes = {r["id"]: r["bytes"] for r in emap.ctx.backend.query("pics", output_fields=["id", "bytes"], limit=100)}
    assert emap.data["labels"] == [sizes[k] for k in emap.data["ids"]]
    plan = emap.plan
    assert plan is not None and emap.data["color_by"] == "bytes"
    if len(set(sizes.values())) > 24:
        assert plan.kind == "numeric" and emap.legend.bar_widget.isVisible()
        assert emap.legend.text() == f"bytes: {min(sizes.values()):g} to {max(sizes.values()):g}"
    else:
        assert plan.kind == "categorical" and emap.legend.items.count() == len(set(sizes.values()))
    assert sum(len(s.data) for s in emap.scatters) == 30


def test_colour_plans() -> None:
    p = colour_plan(["b", "a", "b", None, "c", "b"], "tag", "VARCHAR")
    assert p.kind == "categorical" and [(g[0], g[1]) for g in p.groups] == [("b", 3), ("a", 1), ("c", 1),
                                                                           (NONE_LABEL, 1)]
    assert len({g[2] for g in p.groups}) == 4 and list(p.groups[0][3]) == [0, 2, 5]
    many = colour_plan([str(i) for i in range(500)], "x", "VARCHAR")
    assert len({g[2] for g in many.groups}) == 500, "every category its own colour"
    few_ints = colour_plan([1, 2, 2, 3] * 10, "n", "INT32")
    assert few_ints.kind == "categorical"
    nums = colour_plan([float(i) for i in range(100)] + [None], "s", "DOUBLE")
    assert nums.kind == "numeric" and (nums.low, nums.high) == (0.0, 99.0) and nums.missing == 1
    assert sum(g[1] for g in nums.groups) == 101
    assert nums.groups[1][2] != nums.groups[-1][2]  # low and high differ in colour
    assert colour_plan(None, None).kind == "none"
