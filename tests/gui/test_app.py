"""The app as a new user meets it: first-run screen, the demo collection, shortcuts, theme, settings, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.gui.conftest import _drain, wait_task
from ui.main_window.main_window import TAB_INSPECTOR, TAB_MAP, TAB_SCHEMA, TAB_SEARCH, MainWindow


@pytest.fixture
def real_ctx(qtbot: Any, tmp_path: Path, settings_dir: Path) -> Iterator[Any]:
    """An app context with the real embedder provider (the demo uses the tiny untrained CLIP)."""
    from ui.app_settings import AppSettings
    from ui.context import AppContext

    c = AppContext(AppSettings(), data_dir=tmp_path / "data")
    with qtbot.waitSignal(c.infoChanged, timeout=30000):
        c.open_database(tmp_path / "fresh.db")
    yield c
    _drain(qtbot)
    c.close()


def test_first_run_demo_then_search(qtbot: Any, real_ctx: Any, tmp_path: Path) -> None:
    win = MainWindow(real_ctx)
    qtbot.addWidget(win)
    win.show()
    assert win.stack.currentWidget() is win.welcome  # an empty database shows the first-run screen
    assert "(empty)" in win.welcome.db_label.text()
    qtbot.mouseClick(win.welcome.demo_button, Qt.MouseButton.LeftButton)
    task = win.last_task
    card = win.jobs.card_for(task)
    assert card is not None
    wait_task(qtbot, task, timeout=180000)
    assert task.state == "done", task.error
    assert task.job_report.new == 60 and not task.job_report.skipped
    assert (tmp_path / "data" / "models" / "workbench-tiny-demo.pt").is_file()
    qtbot.waitUntil(lambda: real_ctx.current == "demo_shapes", timeout=10000)
    qtbot.waitUntil(lambda: win.tabs.currentIndex() == TAB_SEARCH, timeout=10000)
    # the refresh that follows the job may still be reading (a refresh taken mid-import showed fewer rows)
    qtbot.waitUntil(lambda: getattr(real_ctx.collection("demo_shapes"), "rows", 0) == 60, timeout=30000)
    info = real_ctx.collection("demo_shapes")
    assert info.rows == 60 and info.is_demo
    panel = win.search_panel
    assert panel.demo_warning.isVisibleTo(win) and "random" in panel.demo_warning.text()
    qtbot.keyClicks(panel.text_edit, "a blue star")
    qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
    wait_task(qtbot, panel.task, timeout=120000)
    assert panel.task.state == "done", panel.task.error
    assert len(panel.results_model.hits) == 24
    assert "on embedding (COSINE)" in panel.status.text()


def test_views_build_on_first_show_and_shortcuts(qtbot: Any, window: MainWindow, pics: Any) -> None:
    from ui.embedding_map.embedding_map import EmbeddingMap
    from ui.inspector.inspector import Inspector
    from ui.schema.schema_designer import SchemaDesigner

    assert window.stack.currentWidget() is window.tabs
    assert window._lazy  # not built yet
    actions = {a.text(): a for m in window.menuBar().findChildren(type(window.recent_menu)) for a in m.actions()}
    assert actions["Schema designer"].shortcut().toString() == "Ctrl+3"
    actions["Inspector"].trigger()
    assert isinstance(window.tabs.widget(TAB_INSPECTOR), Inspector)
    assert window.tabs.currentIndex() == TAB_INSPECTOR
    assert isinstance(window.view(TAB_SCHEMA), SchemaDesigner)
    assert isinstance(window.view(TAB_MAP), EmbeddingMap)
    actions["Focus search"].trigger()
    assert window.tabs.currentIndex() == TAB_SEARCH
    assert QApplication.focusWidget() in (window.search_panel.text_edit, None)


def test_status_bar_theme_and_layout_are_remembered(qtbot: Any, window: MainWindow, pics: Any) -> None:
    from ui.shared.theme import current_theme

    assert window.db_status.text().endswith("test.db")
    assert window.coll_status.text() == "Collection: pics" and window.rows_status.text() == "30 rows"
    qtbot.waitUntil(lambda: window.mem_status.text().startswith("RAM"), timeout=10000)
    window.dark_action.trigger()
    assert current_theme() == "dark" and pics.settings.theme == "dark"
    window.set_theme("light")
    assert current_theme() == "light"
    window.close()
    geometry, state = pics.settings.layout()
    assert geometry is not None and state is not None
    assert str(Path(pics.db_path)) in pics.settings.recent_databases()


def test_a_bad_database_is_reported_not_fatal(qtbot: Any, window: MainWindow, ctx: Any, tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-db"
    bogus.write_text("a file")
    with qtbot.waitSignal(ctx.databaseFailed, timeout=10000) as sig:
        ctx.open_database(bogus)
    assert "is a file, not an engine database directory" in sig.args[0]
    assert "Cannot open the database" in window.statusBar().currentMessage()
    assert ctx.backend is not None  # the open database stays open


def test_main_entry_point(qtbot: Any, tmp_path: Path, settings_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.app as app_module

    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "env.db"))
    seen: list[Any] = []
    made: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setattr(app_module, "MainWindow", Recorded)

    def fake_exec(self: Any) -> int:
        win = made[-1]
        qtbot.waitUntil(lambda: win.ctx.refresh_count > 0, timeout=20000)
        seen.append(win.ctx.db_path)
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app_module.main([]) == 0
    assert seen == [str(tmp_path / "env.db")]
    assert app_module.main(["--db", str(tmp_path / "arg.db"), "--theme", "dark"]) == 0
    assert seen[-1] == str(tmp_path / "arg.db")
    from ui.shared.theme import apply_theme

    apply_theme(QApplication.instance(), "light")
    args = app_module.parse_args(["--demo", "a", "b"])
    assert args.demo and args.paths == ["a", "b"]


def test_uncaught_errors_become_messages(qtbot: Any, window: MainWindow) -> None:
    import sys

    from ui.shared.errors import install_excepthook, plain_message

    old = sys.excepthook
    shown: list[str] = []
    try:
        install_excepthook(lambda msg, details: shown.append(msg))
        try:
            raise KeyError("oops")
        except KeyError as e:
            sys.excepthook(type(e), e, e.__traceback__)
    finally:
        sys.excepthook = old
    assert shown == ["Unexpected error (KeyError): 'oops'"]
    from engine.errors import PrimaryKeyError

    assert plain_message(PrimaryKeyError("row 3: duplicate key 7; use upsert")) == "Row 3: duplicate key 7; use upsert"


def test_reimporting_a_folder_defaults_to_its_collection(qtbot: Any, pics: Any, tmp_path: Path) -> None:
    """Issue 15 bug 7: importing a folder again (File › Import folder) defaulted to a new "pics_2";
    the collection that already holds the folder is the default, so the import resumes."""
    from ui.ingest.ingest_dialog import IngestDialog

    dlg = IngestDialog(pics, [str(tmp_path / "pics")])
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.existing_radio.isChecked(), timeout=10000)
    assert dlg.existing_combo.currentText() == "pics"
    assert "'pics' already holds 30 files of this folder" in dlg.holder_note.text()
    assert dlg.request().collection == "pics" and not dlg.request().new

    other = tmp_path / "elsewhere"
    other.mkdir()
    dlg2 = IngestDialog(pics, [str(other)])
    qtbot.addWidget(dlg2)
    qtbot.waitUntil(lambda: "No collection holds" in dlg2.holder_note.text(), timeout=10000)
    assert dlg2.new_radio.isChecked() and dlg2.new_name.text() == "elsewhere"
