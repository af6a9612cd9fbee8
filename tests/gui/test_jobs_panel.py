"""Ingest as a user does it: drop a folder on the window, import, watch the jobs panel, read the report."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QTimer

from tests.gui.conftest import drop_paths, make_images, wait_task


def _drop_and_import(qtbot: Any, window: Any, target: Any, paths: list[Path], name: str | None = None,
                     pos: Any = None) -> Any:
    assert drop_paths(target, paths, pos)
    qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
    dlg = window.ingest_dialog
    if name is not None:
        dlg.new_name.setText(name)
    dlg.import_button.click()
    return window.last_task


def test_drop_folder_on_window_imports_and_reports(qtbot: Any, window: Any, ctx: Any, tmp_path: Path) -> None:
    folder = tmp_path / "holiday photos"
    make_images(folder, 12)
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    (folder / "notes.txt").write_text("ignored")

    task = _drop_and_import(qtbot, window, window, [folder])
    card = window.jobs.card_for(task)
    assert card is not None and card.title.text().startswith("<b>Import")
    wait_task(qtbot, task)
    assert task.state == "done", task.error
    report = task.job_report
    assert report.new == 12 and len(report.skipped) == 1
    # the card shows the report with the skipped file and why
    assert not card.cancel_button.isVisible()
    assert "skipped" in card.detail.text()
    assert "broken.jpg" in card.report.toPlainText()
    assert card.report_toggle.isVisible()
    assert card.bar.value() == card.bar.maximum()
    # the new collection appears, is selected, and its rows are shown
    qtbot.waitUntil(lambda: ctx.current == "holiday_photos", timeout=10000)
    qtbot.waitUntil(lambda: window.data_view.model.rowCount() == 12, timeout=10000)
    assert window.stack.currentWidget() is window.tabs


def test_progress_rate_eta_and_cancel_while_ui_stays_responsive(qtbot: Any, window: Any, ctx: Any,
                                                                 fake_embedder: Any, tmp_path: Path) -> None:
    make_images(tmp_path / "many", 40)
    fake_embedder.gate = threading.Event()
    ticks = [0]
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start()

    task = _drop_and_import(qtbot, window, window, [tmp_path / "many"], "many")
    card = window.jobs.card_for(task)
    qtbot.waitUntil(fake_embedder.waiting.is_set, timeout=20000)  # the worker is stuck inside the model
    before = ticks[0]
    qtbot.waitUntil(lambda: ticks[0] > before + 20, timeout=10000)  # ...and the event loop keeps turning
    assert task.running
    qtbot.waitUntil(lambda: "files" in card.detail.text(), timeout=10000)

    card.cancel_button.click()
    assert card.state.text() == "cancelling…"
    fake_embedder.gate.set()
    wait_task(qtbot, task)
    timer.stop()
    assert task.state == "cancelled"
    assert task.job_report.cancelled
    assert "cancelled" in card.state.text()
    assert "run the same command again" in card.report.toPlainText()


def test_rate_and_eta_text() -> None:
    from ui.jobs.jobs_panel import describe_event, fmt_duration
    from workbench.jobs import Progress

    done, total, text = describe_event(Progress("ingesting", files_done=5, files_total=20, rate=2.5, eta_s=6.0,
                                                errors=1))
    assert (done, total) == (5, 20)
    assert "2.5 files/s" in text and "ETA 6 s" in text and "1 skipped" in text
    assert fmt_duration(125) == "2 min 05 s"


def test_drop_on_a_collection_imports_into_it(qtbot: Any, window: Any, pics: Any, tmp_path: Path) -> None:
    make_images(tmp_path / "more", 5, start=100)
    tree = window.browser.tree
    qtbot.waitUntil(lambda: window.browser.item_for("pics") is not None, timeout=5000)
    item = window.browser.item_for("pics")
    pos = QPointF(tree.visualItemRect(item).center())
    assert drop_paths(tree.viewport(), [tmp_path / "more"], pos)
    qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
    dlg = window.ingest_dialog
    assert dlg.existing_radio.isChecked() and dlg.existing_combo.currentText() == "pics"
    assert "own model" in dlg.model_label.text()
    dlg.import_button.click()
    task = wait_task(qtbot, window.last_task)
    assert task.state == "done", task.error
    qtbot.waitUntil(lambda: pics.collection("pics").rows == 35, timeout=10000)


def test_import_dialog_checks_the_name(qtbot: Any, window: Any, pics: Any, tmp_path: Path) -> None:
    dlg = window.files_dropped([str(tmp_path)])
    dlg.new_radio.setChecked(True)
    dlg.new_name.setText("9 bad name")
    assert not dlg.import_button.isEnabled() and dlg.error.isVisible()
    dlg.new_name.setText("pics")
    assert "exists already" in dlg.error.text()
    dlg.new_name.setText("fine_name")
    assert dlg.import_button.isEnabled()
    dlg.reject()


def test_demo_model_warning_in_import_dialog(qtbot: Any, window: Any, ctx: Any, tmp_path: Path) -> None:
    from ui.app_settings import ModelChoice

    ctx.settings.set_model_choice(ModelChoice(kind="demo"))
    dlg = window.files_dropped([str(tmp_path)])
    assert dlg.warning.isVisibleTo(dlg)
    assert "random" in dlg.model_label.text()
    ctx.settings.set_model_choice(ModelChoice(kind="pretrained"))
    dlg.new_name.setText("other")
    assert not dlg.warning.isVisibleTo(dlg)
    dlg.reject()
