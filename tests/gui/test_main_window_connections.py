"""The main window's way to Milvus and back: File › Connect to Milvus…, then Collection › Copy to…,
driven through the menus as a user would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.conftest import open_lite
from ui.shared.workers import live_tasks
from workbench.connections import Connection, ConnectionStore, MemorySecretStore

LEFT = Qt.MouseButton.LeftButton


def _menu_action(window: Any, menu_title: str, text: str) -> Any:
    for menu_action in window.menuBar().actions():
        if menu_action.text().replace("&", "") == menu_title:
            for a in menu_action.menu().actions():
                if a.text() == text:
                    return a
    raise AssertionError(f"no {menu_title} › {text} in the menu bar")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConnectionStore:
    s = ConnectionStore(tmp_path / "connections.json", secrets=MemorySecretStore())
    from ui.main_window.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "_connection_store", lambda self: s)
    return s


def test_connect_to_milvus_lite_then_copy_back(qtbot: Any, pics: Any, window: Any, store: ConnectionStore,
                                              tmp_path: Path) -> None:
    ctx = pics
    lite_file = tmp_path / "lite.db"
    open_lite(lite_file).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite

    # Collection › Copy to…: the images collection goes into the Milvus Lite file
    ctx.set_current("pics")
    _menu_action(window, "Collection", "Copy to another database or Milvus…").trigger()
    copy = window.last_dialog
    assert copy.isVisible() and copy.name_edit.text() == "pics"
    copy.set_target("milvus-lite", str(lite_file))
    with qtbot.waitSignal(copy.transferred, timeout=120000) as sig:
        qtbot.mouseClick(copy.start_button, LEFT)
    report = sig.args[0]
    assert report.rows == 30 and report.verification is not None and report.verification.ok
    assert "verified" in copy.run.verification.text()
    copy.close()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60000)

    # File › Connect to Milvus…: save the file as a connection and connect; the app switches to it
    store.save(Connection("local lite", kind="milvus-lite", uri=str(lite_file)))
    _menu_action(window, "File", "Connect to Milvus…").trigger()
    dlg = window.last_dialog
    assert "local lite" in dlg.names()
    dlg.select("local lite")
    with qtbot.waitSignal(ctx.infoChanged, timeout=120000):
        qtbot.mouseClick(dlg.connect_button, LEFT)
    assert ctx.backend.capabilities.kind == "milvus-lite"
    assert "Milvus Lite" in window.windowTitle() and "Milvus Lite" in window.db_status.text()
    assert ctx.collection("pics") is not None and ctx.collection("pics").rows == 30


def test_command_line_opens_milvus_lite_or_a_saved_connection(qtbot: Any, ctx: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`vector-workbench --db lite:FILE` and `--connection NAME` open those backends (on a worker)."""
    from ui.app import open_start_database

    lite_file = tmp_path / "cli-lite.db"
    open_lite(lite_file).close()  # type: ignore[attr-defined]
    with qtbot.waitSignal(ctx.infoChanged, timeout=120000):
        open_start_database(ctx, f"lite:{lite_file}", None, tmp_path / "default.db")
    assert ctx.backend.capabilities.kind == "milvus-lite" and str(lite_file) in ctx.label

    monkeypatch.setenv("WORKBENCH_CONNECTIONS", str(tmp_path / "connections.json"))
    ConnectionStore().save(Connection("folder", kind="embedded", uri=str(tmp_path / "saved.db")))
    with qtbot.waitSignal(ctx.infoChanged, timeout=120000):
        open_start_database(ctx, None, "folder", tmp_path / "default.db")
    assert ctx.backend.capabilities.kind == "embedded" and (tmp_path / "saved.db").is_dir()

    with qtbot.waitSignal(ctx.infoChanged, timeout=60000):
        open_start_database(ctx, None, None, tmp_path / "default.db")
    assert Path(ctx.db_path) == tmp_path / "default.db"
