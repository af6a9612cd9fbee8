"""The search panel's modes (issue 15): hybrid text + image and several fields, grouping by folder, score range.
Each test checks that the result list is what the mode must give, computed from plain searches in the panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import ingest_now, make_images, wait_task
from ui.search.results_view import hit_subtitle, hit_tooltip
from ui.search.search_panel import SearchPanel
from workbench.ingest import IngestOptions
from workbench.search_modes import SearchModes

FOLDERS = ("a", "b", "c")


@pytest.fixture
def lib(qtbot: Any, ctx: Any, tmp_path: Path) -> Any:
    """ctx with 'groups': 8 images in each of 3 folders, with crops (`embedding` and `views[embedding]`)."""
    for i, f in enumerate(FOLDERS):
        make_images(tmp_path / "lib" / f, 8, size=(64, 64), start=i * 8)
    ingest_now(ctx, tmp_path / "lib", "groups", options=IngestOptions(multiview=True, grid=2))
    make_images(tmp_path / "other", 3)
    ingest_now(ctx, tmp_path / "other", "other")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("groups")
    return ctx


@pytest.fixture
def panel(qtbot: Any, lib: Any) -> SearchPanel:
    p = SearchPanel(lib)
    qtbot.addWidget(p)
    p.resize(1100, 800)
    p.show()
    p.field_combo.setCurrentIndex(p.field_combo.findData("embedding"))
    p.limit_spin.setValue(24)
    return p


def search_text(qtbot: Any, panel: SearchPanel, text: str) -> list[Any]:
    panel.text_edit.setText(text)
    task = panel.search_text()
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    return list(panel.results_model.hits)


def test_more_section_is_closed_and_changes_nothing_by_default(qtbot: Any, panel: SearchPanel) -> None:
    box = panel.modes_box
    assert not box.body.isVisible() and box.summary.text() == ""
    assert box.modes() == SearchModes() and not box.combining() and box.extra_fields() == []
    assert box.group_combo.itemText(0) == "(no grouping)" and box.group_combo.findData("folder") > 0
    assert box.group_combo.findData("id") < 0 and box.group_combo.findData("modified") < 0  # pk, DOUBLE
    qtbot.mouseClick(box.toggle, Qt.MouseButton.LeftButton)
    assert box.body.isVisible()
    assert "COSINE: larger is closer" in box.range_hint.text()
    hits = search_text(qtbot, panel, "a red square")
    assert len(hits) == 24 and all(h.group is None and h.scores is None for h in hits)


def test_grouping_by_folder_gives_the_best_of_each_folder(qtbot: Any, panel: SearchPanel) -> None:
    every = search_text(qtbot, panel, "sunset")
    box = panel.modes_box
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    box.group_size.setValue(2)
    assert "grouped by folder (up to 2 each)" in box.summary.text()
    panel.limit_spin.setValue(2)
    hits = search_text(qtbot, panel, "sunset")
    order: list[str] = []
    for h in every:
        if h.fields["folder"] not in order:
            order.append(h.fields["folder"])
    want = [h.id for f in order[:2] for h in [x for x in every if x.fields["folder"] == f][:2]]
    assert [h.id for h in hits] == want
    assert [h.group for h in hits] == [h.fields["folder"] for h in hits]
    assert f"folder: {order[0]}" in hit_subtitle(hits[0]) and f"group folder: {order[0]}" in hit_tooltip(hits[0])
    assert hits[0].extra["group_colour"] == hits[1].extra["group_colour"] != hits[2].extra["group_colour"]
    assert "2 groups of folder, up to 2 each" in panel.status.text()
    panel.limit_spin.setValue(10)
    hits = search_text(qtbot, panel, "sunset")
    assert len(hits) == 6 and all(sum(h.group == f for h in hits) == 2 for f in FOLDERS)


def test_score_range_keeps_exactly_the_scores_inside(qtbot: Any, panel: SearchPanel) -> None:
    every = search_text(qtbot, panel, "blue sky")
    scores = sorted(h.score for h in every)
    lo, hi = round((scores[4] + scores[5]) / 2, 3), round((scores[15] + scores[16]) / 2, 3)
    box = panel.modes_box
    box.min_score.setValue(lo)
    box.max_score.setValue(hi)
    assert f"{lo:g} < score ≤ {hi:g}" in box.range_hint.text()
    hits = search_text(qtbot, panel, "blue sky")
    assert {h.id for h in hits} == {h.id for h in every if lo < h.score <= hi}
    assert hits and all(lo < h.score <= hi for h in hits)
    assert f"Kept {lo:g} < score ≤ {hi:g} (COSINE: larger is closer)" in panel.status.text()


def test_text_and_image_combined_are_fused_by_rrf(qtbot: Any, panel: SearchPanel, tmp_path: Path) -> None:
    text = search_text(qtbot, panel, "a cat")
    picture = tmp_path / "lib" / "b" / "img_010.png"
    panel.well.set_path(str(picture))  # searches with the image alone: the section is off
    wait_task(qtbot, panel.task)
    image = list(panel.results_model.hits)
    assert image[0].fields["file_name"] == "img_010.png" and image[0].scores is None
    panel.modes_box.combine.setChecked(True)
    assert "hybrid (text + image, RRF)" in panel.modes_box.summary.text()
    fused = search_text(qtbot, panel, "a cat")
    assert panel.result is not None and panel.result.request.label == "text 'a cat' + image img_010.png"
    rank_t = {h.id: i + 1 for i, h in enumerate(text)}
    rank_i = {h.id: i + 1 for i, h in enumerate(image)}
    want = {k: 1 / (60 + rank_t[k]) + 1 / (60 + rank_i[k]) for k in rank_t}
    assert [h.score for h in fused] == pytest.approx(sorted(want.values(), reverse=True)[:24], abs=1e-6)
    top = fused[0]
    assert set(top.scores or {}) == {"text 'a cat'", "image img_010.png"}
    assert top.scores["image img_010.png"] == pytest.approx(next(h.score for h in image if h.id == top.id), abs=1e-5)
    assert "fused score, RRF (k=60)" in panel.status.text() and "fused score, RRF (k=60)" in hit_tooltip(top)
    assert hit_subtitle(top).startswith("text ") and " · image " in hit_subtitle(top)
    # dropping the image again searches with both too
    panel.well.set_path(str(picture))
    wait_task(qtbot, panel.task)
    assert [h.id for h in panel.results_model.hits] == [h.id for h in fused]


@pytest.fixture
def two(qtbot: Any, lib: Any) -> Any:
    """lib with 'two': each picture's `embedding` and its first crop's as `crop` (two top-level fields)."""
    from tests.two_vector_fields import copy_with_two_fields

    copy_with_two_fields(lib.backend.client, lib.backend, "groups", "two")
    with qtbot.waitSignal(lib.infoChanged, timeout=30000):
        lib.refresh()
    lib.set_current("two")
    return lib


def test_weighted_hybrid_of_two_fields(qtbot: Any, panel: SearchPanel, two: Any) -> None:
    box = panel.modes_box
    assert [a.text() for a in box.fields_menu.actions()] == ["embedding", "crop"]
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("embedding"))
    whole = search_text(qtbot, panel, "green")
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("crop"))
    crops = {h.id: h.score for h in search_text(qtbot, panel, "green")}
    for a in box.fields_menu.actions():
        a.setChecked(True)
    box.ranker.setCurrentIndex(box.ranker.findData("weighted"))
    assert not box.weights.isHidden() and box.rrf_k.isHidden()
    assert box.weights.text() == "0.5,0.5"  # equal weights, one per request, to start from
    box.combine.setChecked(True)  # the text and the image on each field: four requests
    assert box.request_count() == 4 and box.weights.text() == "0.25,0.25,0.25,0.25"
    box.combine.setChecked(False)
    assert box.weights.text() == "0.5,0.5"
    box.weights.setText("0.5,x")
    assert panel.search_text() is None and "weights must be numbers" in panel.error_label.text()
    box.weights.setText("0.5")
    wait_task(qtbot, panel.search_text())
    assert "one weight per request, 2 in all" in panel.error_label.text()
    box.weights.setText("0.25,0.75")
    box.combine.setChecked(True)
    box.combine.setChecked(False)
    assert box.weights.text() == "0.25,0.75", "weights the user typed are kept"
    fused = search_text(qtbot, panel, "green")
    assert panel.result is not None and panel.result.anns_field == "embedding, crop"
    assert len(fused) == 24
    for h in fused:  # Milvus's normalisation of COSINE: (1 + s) / 2
        w = next(x.score for x in whole if x.id == h.id)
        assert h.score == pytest.approx(0.25 * (1 + w) / 2 + 0.75 * (1 + crops[h.id]) / 2, abs=1e-4)


def test_a_max_sim_field_is_not_offered_for_fusing_and_is_refused(qtbot: Any, panel: SearchPanel,
                                                                   tmp_path: Path) -> None:
    box = panel.modes_box  # 'groups': embedding and views[embedding] (MAX_SIM)
    assert [a.text() for a in box.fields_menu.actions()] == ["embedding"] and not box.fields_button.isEnabled()
    assert "no hybrid search with MAX_SIM fields" in box.fields_button.toolTip()
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("views[embedding]"))
    box.combine.setChecked(True)
    panel.text_edit.setText("green")
    panel.well.set_path(str(sorted((tmp_path / "lib" / "a").glob("*.png"))[0]))  # searches the text and the image
    task = panel.task
    wait_task(qtbot, task)
    assert task.state == "failed"
    assert "Milvus has no hybrid search with EmbeddingList requests" in panel.error_label.text()


def test_refused_combination_is_shown_with_the_reason(qtbot: Any, panel: SearchPanel) -> None:
    box = panel.modes_box
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    box.min_score.setValue(0.1)
    panel.text_edit.setText("x")
    task = panel.search_text()
    wait_task(qtbot, task)
    assert task.state == "failed"
    assert "grouping search cannot have a score range" in panel.error_label.text()


def test_rows_the_backend_lacks_are_disabled_with_the_reason(qtbot: Any, panel: SearchPanel) -> None:
    box = panel.modes_box
    reasons = {"group_by": "Milvus 2.3.5 has no grouping search (it needs Milvus 2.4 or later)",
               "multi_vector": "Milvus 2.3.5 allows one vector field per collection and has no hybrid search"}
    info = panel.ctx.collection("groups")
    from workbench.templates import existing_fields

    box.set_collection(existing_fields(info.description), info.vector_paths, reasons.get)
    assert not box._group_row.isEnabled() and box._group_row.toolTip() == reasons["group_by"]
    assert not box._hybrid_row.isEnabled() and "no hybrid search" in box._hybrid_row.toolTip()
    assert box._range_row.isEnabled()
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    box.combine.setChecked(True)
    assert box.modes().group is None and not box.combining()


def test_another_collection_resets_the_modes(qtbot: Any, panel: SearchPanel, lib: Any) -> None:
    box = panel.modes_box
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    box.min_score.setValue(0.2)
    box.combine.setChecked(True)
    lib.set_current("other")
    assert box.modes() == SearchModes() and not box.combining() and box.summary.text() == ""
    assert panel.title.text() == "Search other"


def test_a_documents_collection_has_every_row_off_with_the_reason(qtbot: Any, panel: SearchPanel, lib: Any) -> None:
    from workbench.templates import create_from_template, template_by_name

    create_from_template(lib.backend.client, "notes", template_by_name("documents"), 32)
    with qtbot.waitSignal(lib.infoChanged, timeout=30000):
        lib.refresh()
    box = panel.modes_box
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    lib.set_current("notes")
    assert lib.collection("notes").kind == "documents"
    reason = "'notes' is a Documents collection: hybrid, grouping and range search are not offered there yet"
    for row in (box._hybrid_row, box._group_row, box._range_row):
        assert not row.isEnabled() and row.toolTip().startswith(reason)
    box.group_combo.setCurrentIndex(1)  # a row that is off sets nothing, even if its control is changed
    box.min_score.setValue(0.3)
    assert box.group_combo.currentData() and box.modes() == SearchModes() and not box.combining()
    lib.set_current("groups")  # an image collection: the rows are back
    assert box._group_row.isEnabled() and box._range_row.isEnabled() and box._hybrid_row.isEnabled()


def test_several_fields_needs_two_vector_fields(qtbot: Any, panel: SearchPanel, two: Any) -> None:
    box = panel.modes_box
    assert box.fields_button.isEnabled() and len(box.fields_menu.actions()) == 2  # embedding, crop
    assert "several vector fields" in box.fields_button.toolTip()
    two.set_current("other")  # one vector field
    assert not box.fields_button.isEnabled() and [a.text() for a in box.fields_menu.actions()] == ["embedding"]
    assert box.fields_button.toolTip().startswith("This collection has one top-level vector field")


def test_score_bounds_step_from_off_to_a_sensible_start(qtbot: Any, panel: SearchPanel) -> None:
    box = panel.modes_box
    assert box.min_score.text() == "off" and box.max_score.text() == "off"
    box.min_score.stepUp()
    box.max_score.stepUp()
    assert box.min_score.value() == 0.0 and box.max_score.value() == 1.0  # not -1e9 + 0.05
    box.max_score.stepDown()
    assert box.max_score.value() == pytest.approx(0.95)
    rng = box.modes().score_range
    assert rng is not None and rng.max_score == pytest.approx(0.95)
    box.min_score.lineEdit().selectAll()
    qtbot.keyClicks(box.min_score, "off")
    box.min_score.interpretText()
    rng = box.modes().score_range
    assert box.min_score.text() == "off" and rng is not None and rng.min_score is None
    box.max_score.lineEdit().selectAll()
    qtbot.keyClick(box.max_score, Qt.Key.Key_Backspace)  # an empty box: no bound either
    box.max_score.interpretText()
    assert box.max_score.text() == "off" and box.modes().score_range is None


def test_a_products_collection_has_every_row_off_with_the_cli_reason(qtbot: Any, panel: SearchPanel,
                                                                     lib: Any) -> None:
    """Products are ranked by their best image: the panel refuses the modes as `workbench search` does."""
    from workbench.search_modes import products_refusal
    from workbench.templates import create_from_template, template_by_name

    create_from_template(lib.backend.client, "shop", template_by_name("products"), 32)
    with qtbot.waitSignal(lib.infoChanged, timeout=30000):
        lib.refresh()
    box = panel.modes_box
    lib.set_current("shop")
    assert lib.collection("shop").kind == "products"
    for row in (box._hybrid_row, box._group_row, box._range_row):
        assert not row.isEnabled() and row.toolTip().startswith(products_refusal("shop"))
    assert box.modes() == SearchModes() and not box.combining()
    lib.set_current("groups")
    assert box._group_row.isEnabled() and box._range_row.isEnabled() and box._hybrid_row.isEnabled()
