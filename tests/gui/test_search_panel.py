"""Search panel: text, dropped and pasted images, find similar, filters, options, results grid, MAX_SIM hits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from tests.gui.conftest import drop_paths, ingest_now, make_images, wait_task
from ui.search.results_view import HIT_ROLE
from ui.search.search_panel import SearchPanel


@pytest.fixture
def panel(qtbot: Any, pics: Any) -> SearchPanel:
    p = SearchPanel(pics)
    qtbot.addWidget(p)
    p.resize(1100, 800)
    p.show()
    return p


def _hits(panel: SearchPanel) -> list[Any]:
    return list(panel.results_model.hits)


def test_text_search_fills_the_grid(qtbot: Any, panel: SearchPanel) -> None:
    qtbot.keyClicks(panel.text_edit, "a red square")
    qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    assert panel.results.model().rowCount() == 24
    assert "24 results for text 'a red square' on embedding (COSINE)" in panel.status.text()
    hit = panel.results_model.index(0).data(HIT_ROLE)
    assert hit.thumbnail and Path(hit.thumbnail).is_file()
    tip = panel.results_model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert hit.fields["file_name"] in tip and "score" in tip
    qtbot.waitUntil(lambda: panel.results_model.index(0).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10000)  # decoded off the UI thread, then shown
    assert not panel.grab().isNull()


def test_drop_image_on_the_well_finds_it(qtbot: Any, panel: SearchPanel, tmp_path: Path) -> None:
    target = tmp_path / "pics" / "img_007.png"
    assert drop_paths(panel.well, [target])
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    top = _hits(panel)[0]
    assert top.fields["file_name"] == "img_007.png" and top.score > 0.999
    assert panel.well.image_path == str(target)


def test_paste_an_image(qtbot: Any, panel: SearchPanel, tmp_path: Path) -> None:
    QGuiApplication.clipboard().setImage(QImage(str(tmp_path / "pics" / "img_012.png")))
    panel.paste_button.click()
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    assert _hits(panel)[0].fields["file_name"] == "img_012.png"
    assert panel.status.text().startswith("24 results for pasted image")


def test_find_similar_button_on_a_result(qtbot: Any, panel: SearchPanel) -> None:
    panel.text_edit.setText("anything")
    wait_task(qtbot, panel.search_text())
    idx = panel.results_model.index(3)
    chosen = idx.data(HIT_ROLE)
    rect = panel.results.visualRect(idx)
    qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.results.currentIndex().row() == 3
    qtbot.mouseClick(panel.similar_button, Qt.MouseButton.LeftButton)
    wait_task(qtbot, panel.task)
    top = _hits(panel)[0]
    assert top.id == chosen.id and top.score > 0.999
    assert "similar to" in panel.status.text()


def test_filter_errors_inline_and_filtered_results(qtbot: Any, panel: SearchPanel) -> None:
    bar = panel.filter_bar
    qtbot.keyClicks(bar.edit, "widht > 10")
    qtbot.waitUntil(lambda: bar.error is not None, timeout=5000)
    assert "did you mean 'width'" in bar.error_label.text()
    bar.edit.selectAll()
    qtbot.keyClicks(bar.edit, 'file_name like "img_01%"')
    qtbot.waitUntil(lambda: bar.error is None, timeout=5000)
    panel.text_edit.setText("x")
    wait_task(qtbot, panel.search_text())
    names = {h.fields["file_name"] for h in _hits(panel)}
    assert names == {f"img_01{i}.png" for i in range(10)}


def test_limit_ef_and_field_options(qtbot: Any, panel: SearchPanel) -> None:
    assert panel.field_combo.itemData(1) == "embedding"
    assert "HNSW COSINE" in panel.field_combo.itemText(1)
    panel.limit_spin.setValue(5)
    panel.ef_spin.setValue(2)
    panel.field_combo.setCurrentIndex(1)
    panel.text_edit.setText("x")
    wait_task(qtbot, panel.search_text())
    assert len(_hits(panel)) == 5
    assert "ef raised to 5" in panel.status.text()


def test_double_click_opens_the_file(qtbot: Any, panel: SearchPanel, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    panel.text_edit.setText("x")
    wait_task(qtbot, panel.search_text())
    idx = panel.results_model.index(0)
    centre = panel.results.visualRect(idx).center()
    qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a double-click's first press
    qtbot.mouseDClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened == [idx.data(HIT_ROLE).fields["path"]]


def test_empty_query_and_engine_errors_are_plain(qtbot: Any, panel: SearchPanel, pics: Any) -> None:
    panel.search_text()
    assert panel.error_label.text() == "Type something to search for."
    pics.backend.drop_collection("pics")  # gone behind the panel's back
    panel.text_edit.setText("x")
    wait_task(qtbot, panel.search_text())
    assert panel.task.state == "failed"
    assert "does not exist" in panel.error_label.text()


def test_max_sim_hits_show_the_best_crop(qtbot: Any, ctx: Any, tmp_path: Path) -> None:
    from workbench.ingest import IngestOptions

    make_images(tmp_path / "mv", 6, size=(160, 120))
    report = ingest_now(ctx, tmp_path / "mv", "multi", options=IngestOptions(multiview=True, grid=2))
    assert report.new == 6
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("multi")
    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    i = panel.field_combo.findData("views[embedding]")
    assert i > 0 and "MAX_SIM_COSINE" in panel.field_combo.itemText(i)
    panel.field_combo.setCurrentIndex(i)
    assert drop_paths(panel.well, [tmp_path / "mv" / "img_002.png"], QPointF(10, 10))
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    top = _hits(panel)[0]
    assert top.fields["file_name"] == "img_002.png"
    assert top.box is not None and top.extra["elements"] == 5
    assert "MAX_SIM_COSINE" in panel.status.text()
    assert not panel.results.grab().isNull()  # the delegate paints the crop outline


def test_max_sim_hits_show_the_best_pdf_page(qtbot: Any, ctx: Any, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "docs"
    folder.mkdir()
    red, green_, blue = ((250, 20, 20), (20, 250, 20), (20, 20, 250))

    def page(c: tuple[int, int, int]) -> Any:
        return Image.new("RGB", (200, 260), c)

    page(red).save(folder / "a.pdf", save_all=True, append_images=[page(green_), page(blue)])
    page(blue).save(folder / "b.pdf", save_all=True, append_images=[page(red)])
    report = ingest_now(ctx, folder, "docs")
    assert report.new == 2, report.summary()
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("docs")
    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.field_combo.setCurrentIndex(panel.field_combo.findData("pages[image_vector]"))
    green = tmp_path / "green.png"
    page(green_).save(green)
    panel.well.set_path(str(green))
    wait_task(qtbot, panel.task)
    assert panel.task.state == "done", panel.task.error
    top = _hits(panel)[0]
    assert top.fields["file_name"] == "a.pdf" and top.page == 2
    assert top.thumbnail and Path(top.thumbnail).is_file()  # the page's own thumbnail
    from ui.search.results_view import hit_subtitle

    assert hit_subtitle(top).startswith("page 2")
