"""The Duplicates view: scans on a worker, histogram and live threshold slider, keep one and mark the
rest, delete with confirmation, reset on another collection, the most diverse subset; and product hits
in the search grid (best image and a strip of the others)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

import ui.shared.dialogs as dialogs
from tests.dup_fixtures import pair_scores, plant_folder, product_folders
from tests.gui.conftest import ingest_now, wait_task
from ui.duplicates.cluster_list import GAP, HEADER, THUMB
from ui.duplicates.duplicates_view import DuplicatesView


@pytest.fixture
def planted(qtbot: Any, ctx: Any, tmp_path: Path) -> tuple[Any, list[set[Path]]]:
    groups, _ = plant_folder(tmp_path / "planted", n_base=12, seed=3)
    ingest_now(ctx, tmp_path / "planted", "planted")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("planted")
    return ctx, groups


@pytest.fixture
def view(qtbot: Any, planted: Any) -> DuplicatesView:
    w = DuplicatesView(planted[0])
    qtbot.addWidget(w)
    w.resize(1200, 860)
    w.show()
    return w


def members_paths(view: DuplicatesView) -> list[set[Path]]:
    m = view.model
    return [{Path(m.info(x)["path"]) for x in c.members} for c in m.clusters]


def scan_with(qtbot: Any, view: DuplicatesView, mode: str, threshold: float) -> None:
    view.mode_combo.setCurrentIndex(view.mode_combo.findData(mode))
    view.threshold.setValue(threshold)
    task = view.start_scan()
    wait_task(qtbot, task)
    assert task.state == "done", task.error


def test_perceptual_scan_clusters_slider_and_histogram(qtbot: Any, view: DuplicatesView, planted: Any) -> None:
    ctx, groups = planted
    scan_with(qtbot, view, "perceptual", 8)
    assert pair_scores(members_paths(view), groups) == (1.0, 1.0)
    assert view.chart.getPlotItem().listDataItems() or view.chart.getPlotItem().items  # bars drawn
    assert view.slider.isEnabled() and view.slider.maximum() == 8
    assert view.slider_label.text() == f"at 8 bits: {len(groups)} clusters, " \
                                       f"{sum(len(g) - 1 for g in groups)} rows to mark"
    view.slider.setValue(8)  # strictest: 0 bits, only byte-identical and exact-window matches stay
    n, marked = view.scan.count_at(0)
    assert view.slider_label.text().startswith(f"at 0 bits: {n} cluster")
    qtbot.waitUntil(lambda: view.model.rowCount() == n, timeout=5000)  # the list follows when the slider rests
    assert view.line.value() == 0
    assert not view.grab().isNull()


def test_keep_one_mark_the_rest_then_delete_with_confirmation(qtbot: Any, view: DuplicatesView, planted: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, groups = planted
    scan_with(qtbot, view, "perceptual", 8)
    cl = view.model.clusters[0]
    # a click on the second thumbnail of the first cluster makes it the one to keep
    rect = view.clusters_view.visualRect(view.model.index(0))
    qtbot.mouseClick(view.clusters_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(rect.left() + GAP + THUMB + GAP + THUMB // 2, rect.top() + HEADER + THUMB // 2))
    assert view.model.kept(0) == cl.members[1]
    assert view.clusters_view.selected_rows() == [0] and view.mark_button.isEnabled()
    wait_task(qtbot, view.mark([0]))
    want = {m: cl.members[1] for m in cl.members if m != cl.members[1]}
    rows = ctx.backend.query("planted", 'duplicate_of != ""', output_fields=["id", "duplicate_of"])
    assert {r["id"]: r["duplicate_of"] for r in rows} == want and view.model.marked == want
    assert "Marked" in view.status.text()
    ctx.dataChanged.emit("planted")  # the view's own write (the live watcher says so too): still current
    qtbot.wait(300)
    assert not view.stale and "changed since" not in view.status.text()
    before = ctx.backend.count("planted")
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: False)
    assert view.delete_marked() is None and ctx.backend.count("planted") == before  # declined: nothing deleted
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text, ok="OK": asked.append(text) or True)
    wait_task(qtbot, view.delete_marked())
    assert "cannot be undone" in asked[0] and ctx.backend.count("planted") == before - len(want)
    assert ctx.backend.get("planted", [cl.members[1]], output_fields=["id"])  # the kept row stays
    assert all(cl.members[1] != c.keep or len(c.members) < len(cl.members) for c in view.model.clusters)
    assert not view.model.marked and "Deleted" in view.status.text()


def test_another_collection_resets_the_view_and_cancel_writes_nothing(qtbot: Any, view: DuplicatesView,
                                                                      planted: Any) -> None:
    ctx, _ = planted
    scan_with(qtbot, view, "exact", 0)
    assert view.model.rowCount() > 0 and not view.slider.isEnabled()  # exact: no threshold to move
    row = ctx.backend.query("planted", "", output_fields=["*"], limit=1)[0]
    ctx.backend.delete("planted", ids=[row["id"]])  # another writer
    ctx.dataChanged.emit("planted")
    qtbot.waitUntil(lambda: view.stale and "changed since this scan" in view.status.text(), timeout=5000)
    client = ctx.backend.client
    client.create_collection("vecs", dimension=8)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("vecs")
    assert view.scan is None and view.model.rowCount() == 0 and view.slider_label.text() == ""
    assert view.title.text() == "Duplicates in vecs"
    modes = {view.mode_combo.itemData(i): view.mode_combo.model().item(i).isEnabled()
             for i in range(view.mode_combo.count())}
    assert modes == {"near": True, "perceptual": False, "exact": False}
    assert not view.stale
    task = view.start_scan()
    view.cancel()
    assert view.status.text() == "Cancelled: nothing was written." and not view.bar.isVisible()
    wait_task(qtbot, task)
    assert task.state in ("cancelled", "done") and view.task is None
    qtbot.wait(100)  # a result that arrived anyway is dropped
    assert view.scan is None and view.model.rowCount() == 0 and view.status.text().startswith("Cancelled")


def test_near_scan_on_vectors_and_the_most_diverse_picks(qtbot: Any, ctx: Any) -> None:
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.standard_normal((16, 6)))[0].T
    pts = np.repeat(centres, 30, axis=0) + rng.normal(0, 0.05, (180, 16))
    pts[1] = pts[0] + 0.001  # one planted near-duplicate pair
    pts = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    client = ctx.backend.client
    client.create_collection("groups", dimension=16, metric_type="COSINE")
    client.insert("groups", [{"id": i, "vector": pts[i].tolist()} for i in range(len(pts))])
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("groups")
    w = DuplicatesView(ctx)
    qtbot.addWidget(w)
    w.show()
    scan_with(qtbot, w, "near", 0.999)
    assert [c.members for c in w.model.clusters] == [[0, 1]]
    sims = pts @ pts.T - 2 * np.eye(len(pts))
    assert sum(w.scan.histogram()[1]) == len(pts) and abs(max(s for _, s in w.scan.nearest.values())
                                                          - sims.max()) < 1e-4
    w.tabs.setCurrentIndex(1)
    w.diverse.n_spin.setValue(6)
    task = w.diverse.pick()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    picks = [pk for pk, _ in w.diverse.selection.picks]
    assert sorted(pk // 30 for pk in picks) == list(range(6)) and w.diverse.grid.count() == 6
    w.diverse.n_spin.setValue(3)
    again = w.diverse.pick()
    w.diverse.cancel()  # the earlier picks stay; this one's result, should it arrive, is dropped
    assert w.diverse.status.text() == "Cancelled." and not w.diverse.cancel_button.isEnabled()
    wait_task(qtbot, again)
    qtbot.wait(100)
    assert [pk for pk, _ in w.diverse.selection.picks] == picks and w.diverse.grid.count() == 6


def test_product_hits_show_the_best_image_and_a_strip(qtbot: Any, ctx: Any, tmp_path: Path) -> None:
    from ui.search.results_view import HIT_ROLE
    from ui.search.search_panel import SearchPanel
    from workbench.ingest import IngestOptions

    product_folders(tmp_path / "products", 6)
    ingest_now(ctx, tmp_path / "products", "shop", options=IngestOptions(kind="products"))
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("shop")
    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1100, 700)
    panel.show()
    assert panel  # searched through the panel: a dropped photo of a product's side
    from tests.gui.conftest import drop_paths

    assert drop_paths(panel.well, [tmp_path / "products" / "SKU-003" / "side.jpg"])
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    hits = [panel.results_model.index(i).data(HIT_ROLE) for i in range(panel.results_model.rowCount())]
    assert len({h.id for h in hits}) == len(hits) == 6 and hits[0].id == "SKU-003"
    top = hits[0]
    assert top.extra["best_image"]["angle"] == "side" and len(top.extra["other_images"]) == 2
    assert Path(top.thumbnail).is_file() and top.thumbnail.endswith(".jpg")
    from ui.products.product_tile import product_subtitle, strip_paths
    from ui.search.results_view import hit_subtitle

    assert product_subtitle(top) == "side matched · 3 images" and hit_subtitle(top).startswith("side matched")
    qtbot.waitUntil(lambda: all(panel.results_model.thumbs.get(p) is not None for p in strip_paths(top)),
                    timeout=10000)
    assert not panel.grab().isNull()


def test_a_mark_in_flight_when_the_collection_changes_finishes_unseen(qtbot: Any, view: DuplicatesView,
                                                                      planted: Any) -> None:
    ctx, groups = planted
    scan_with(qtbot, view, "perceptual", 8)
    marks = view.model.marks_for([0])
    ctx.backend.client.create_collection("other", dimension=8)
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    task = view.mark([0])
    ctx.set_current("other")  # before the write's result can reach the UI thread
    assert view.write_task is None and view.model.rowCount() == 0
    with qtbot.waitSignal(ctx.dataChanged, timeout=30000, check_params_cb=lambda name: name == "planted"):
        wait_task(qtbot, task)
    assert task.state == "done", task.error
    rows = ctx.backend.query("planted", 'duplicate_of != ""', output_fields=["id", "duplicate_of"])
    assert {r["id"]: r["duplicate_of"] for r in rows} == marks  # written to the collection it was asked for
    assert view.model.rowCount() == 0 and not view.model.marked and view.status.text() == ""
    assert view.title.text() == "Duplicates in other" and view.find_button.isEnabled()


def test_products_listed_twice_by_max_sim_over_their_images(qtbot: Any, ctx: Any, tmp_path: Path) -> None:
    import shutil

    from workbench.ingest import IngestOptions

    root = product_folders(tmp_path / "products", 6)
    shutil.copytree(root / "SKU-002", root / "SKU-902")  # the same product under a second SKU
    ingest_now(ctx, root, "shop", options=IngestOptions(kind="products"))
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("shop")
    w = DuplicatesView(ctx)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    fields = [w.field_combo.itemData(i) for i in range(w.field_combo.count())]
    assert "images[embedding]" in fields
    w.field_combo.setCurrentIndex(fields.index("images[embedding]"))
    scan_with(qtbot, w, "near", 0.999)
    assert [set(c.members) for c in w.model.clusters] == [{"SKU-002", "SKU-902"}]
    assert w.scan.field == "images[embedding]" and sum(w.scan.histogram()[1]) == 7
    assert w.slider_label.text().startswith("at 0.9990: 1 cluster, 1 row to mark")
    # a product is shown by its main image
    assert {k: Path(v["image_path"]).relative_to(root).as_posix() for k, v in w.scan.info.items()} == \
        {"SKU-002": "SKU-002/front.jpg", "SKU-902": "SKU-902/front.jpg"}
    qtbot.waitUntil(lambda: all(w.model.thumbs.get(w.model.thumb_path(m)) is not None
                                for m in ("SKU-002", "SKU-902")), timeout=10000)
    assert all(w.model.thumb_path(m).endswith(".jpg") and "thumb" in w.model.thumb_path(m)
               for m in ("SKU-002", "SKU-902"))
    w.grab().save(str(tmp_path / "products-twice.png"))
    w.tabs.setCurrentIndex(1)  # the most diverse products, each shown by its main image too
    w.diverse.n_spin.setValue(3)
    wait_task(qtbot, w.diverse.pick())
    assert w.diverse.grid.count() == 3
    assert all(r["image_path"].endswith("front.jpg") for r in w.diverse.rows.values())
    qtbot.waitUntil(lambda: all(not w.diverse.grid.item(i).icon().isNull() for i in range(3)), timeout=10000)
