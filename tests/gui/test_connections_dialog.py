"""The connections dialog as a user drives it: add, see it listed, test, connect, remove.

Secrets live in a MemorySecretStore (never the real keyring) and the settings file is a temporary one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QTextBrowser, QTreeWidget

from tests.conftest import open_lite
from ui.connections.connections_dialog import ConnectionsDialog
from ui.shared import dialogs
from ui.shared.workers import live_tasks
from workbench.backends import BackendError
from workbench.connections import ConnectionStore, KeyringSecretStore, MemorySecretStore

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def store(tmp_path: Path) -> ConnectionStore:
    return ConnectionStore(tmp_path / "settings" / "connections.json", secrets=MemorySecretStore())


@pytest.fixture
def dlg(qtbot: Any, store: ConnectionStore) -> Iterator[ConnectionsDialog]:
    d = ConnectionsDialog(store)
    qtbot.addWidget(d)
    d.show()
    yield d
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60000)


def all_text(widget: Any) -> str:
    """Everything the dialog shows or holds as text (labels, fields, placeholders, list, browser)."""
    out = []
    for w in widget.findChildren(QLabel):
        out.append(w.text())
    for e in widget.findChildren(QLineEdit):  # a password field shows only dots (what it holds is typed)
        out += [e.displayText(), e.placeholderText()]
    for t in widget.findChildren(QTextBrowser):
        out.append(t.toPlainText())
    for tree in widget.findChildren(QTreeWidget):
        for i in range(tree.topLevelItemCount()):
            item = tree.topLevelItem(i)
            out += [item.text(c) for c in range(tree.columnCount())] + [item.toolTip(2)]
    return "\n".join(out)


def fill(qtbot: Any, d: ConnectionsDialog, name: str, kind: str, uri: str, user: str = "", secret: str = "",
         db: str = "") -> None:
    qtbot.mouseClick(d.new_button, LEFT)
    qtbot.keyClicks(d.name_edit, name)
    d.kind_combo.setCurrentIndex(d.kind_combo.findData(kind))
    qtbot.keyClicks(d.uri_edit, uri)
    if user:
        qtbot.keyClicks(d.user_edit, user)
    if secret:
        qtbot.keyClicks(d.secret_edit, secret)
    if db:
        qtbot.keyClicks(d.db_edit, db)


def test_add_server_connection_secret_goes_to_the_secret_store_only(qtbot: Any, dlg: ConnectionsDialog,
                                                                      store: ConnectionStore) -> None:
    fill(qtbot, dlg, "prod", "milvus", "https://milvus.example:19530", user="alice", secret="pw-Sup3r-secret",
         db="analytics")
    assert dlg.secret_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dlg.secret_label.text() == "Password"  # a user is set: the secret is a password
    qtbot.mouseClick(dlg.tls_toggle, LEFT)
    assert dlg.tls_box.isVisible()
    qtbot.keyClicks(dlg.tls_edits["ca_pem_path"], "/etc/ssl/ca.pem")
    qtbot.mouseClick(dlg.save_button, LEFT)

    assert not dlg.error.isVisible(), dlg.error.text()
    assert dlg.names() == ["prod"]
    item = dlg.list.topLevelItem(0)
    assert [item.text(c) for c in range(4)] == ["prod", "Milvus server", "https://milvus.example:19530",
                                                "analytics"]
    assert store.secrets.get("connection:prod") == "pw-Sup3r-secret"
    settings = store.path.read_text()
    assert "pw-Sup3r-secret" not in settings and "/etc/ssl/ca.pem" in settings and '"alice"' in settings
    # the secret is never shown again: the field is empty and says one is saved
    assert dlg.secret_edit.text() == ""
    assert "saved" in dlg.secret_edit.placeholderText()
    assert "pw-Sup3r-secret" not in all_text(dlg)

    # saving again without typing keeps the secret; a password in the URI moves to the secret store
    qtbot.mouseClick(dlg.save_button, LEFT)
    assert store.secrets.get("connection:prod") == "pw-Sup3r-secret"
    fill(qtbot, dlg, "staging", "milvus", "https://bob:hunter2hunter@staging.example:19530")
    qtbot.mouseClick(dlg.save_button, LEFT)
    assert dlg.names() == ["prod", "staging"]
    assert store.secrets.get("connection:staging") == "hunter2hunter"
    assert store.get("staging").user == "bob" and store.get("staging").uri == "https://staging.example:19530"
    assert "hunter2hunter" not in store.path.read_text() and "hunter2hunter" not in all_text(dlg)

    # Forget removes the saved secret
    assert dlg.forget_button.isVisible()
    qtbot.mouseClick(dlg.forget_button, LEFT)
    qtbot.mouseClick(dlg.save_button, LEFT)
    assert store.secrets.get("connection:staging") is None and not store.get("staging").has_secret
    assert dlg.secret_edit.placeholderText() == ""


def test_invalid_form_shows_one_line_and_saves_nothing(qtbot: Any, dlg: ConnectionsDialog,
                                                       store: ConnectionStore) -> None:
    fill(qtbot, dlg, "bad", "milvus", "milvus.example:19530", secret="tok-abcdef")
    qtbot.mouseClick(dlg.save_button, LEFT)
    assert dlg.error.isVisible() and "http" in dlg.error.text() and "\n" not in dlg.error.text()
    assert dlg.names() == [] and not store.path.exists()
    assert store.secrets.get("connection:bad") is None


class _NoKeyring:
    def get_password(self, service: str, key: str) -> None:
        raise RuntimeError("no backend")

    def set_password(self, service: str, key: str, secret: str) -> None:
        raise RuntimeError(f"no backend can store {secret}")

    def delete_password(self, service: str, key: str) -> None:
        raise RuntimeError("no backend")


def test_no_keyring_clear_message_and_nothing_written(qtbot: Any, tmp_path: Path) -> None:
    store = ConnectionStore(tmp_path / "connections.json", secrets=KeyringSecretStore(backend=_NoKeyring()))
    d = ConnectionsDialog(store)
    qtbot.addWidget(d)
    d.show()
    fill(qtbot, d, "prod", "milvus", "https://milvus.example:19530", secret="tok-never-written")
    qtbot.mouseClick(d.save_button, LEFT)
    assert d.error.isVisible()
    assert "Not saved" in d.error.text() and "keyring" in d.error.text()
    assert "tok-never-written" not in all_text(d)
    assert not store.path.exists() and d.names() == []


def test_errors_are_scrubbed(qtbot: Any, dlg: ConnectionsDialog, monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.connections.connections_dialog as mod

    def leaky(spec: Any) -> Any:
        raise BackendError(f"connect failed: bad token {spec.token} for {spec.uri}")

    monkeypatch.setattr(mod, "open_backend", leaky)
    fill(qtbot, dlg, "prod", "milvus", "https://milvus.example:19530", secret="tok-LEAKME-123")
    qtbot.mouseClick(dlg.test_button, LEFT)
    qtbot.waitUntil(lambda: dlg.error.isVisible(), timeout=10000)
    assert "bad token ***" in dlg.error.text()
    assert "tok-LEAKME-123" not in all_text(dlg)


def test_lite_connection_test_connect_and_remove(qtbot: Any, dlg: ConnectionsDialog, store: ConnectionStore,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lite" / "milvus.db"
    open_lite(path).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite
    fill(qtbot, dlg, "local lite", "milvus-lite", str(path))
    assert not dlg.user_edit.isVisible() and not dlg.tls_toggle.isVisible()  # server-only rows hidden
    assert dlg.browse_button.isVisible()
    qtbot.mouseClick(dlg.save_button, LEFT)
    assert dlg.names() == ["local lite"]
    assert dlg.list.topLevelItem(0).text(1) == "Milvus Lite file"

    task = dlg.test()
    assert task is not None and not dlg.test_button.isEnabled()  # busy while the worker opens it
    qtbot.waitUntil(lambda: dlg.status.text().startswith("✓"), timeout=60000)
    assert "Milvus Lite (milvus_lite-" in dlg.status.text() and "collection(s)" in dlg.status.text()
    shown = dlg.caps_view.toPlainText()
    assert "Server version: milvus_lite" in shown
    assert "Array of Structs fields" in shown and "has no Array of Structs" in shown  # the why_not reason
    assert "✓" in shown and "✗" in shown
    assert dlg.last_capabilities is not None and dlg.last_capabilities.kind == "milvus-lite"
    qtbot.waitUntil(lambda: dlg.test_button.isEnabled(), timeout=10000)
    if os.environ.get("VW_SCREENSHOT_DIR"):  # a look at the layout, on request
        dlg.grab().save(os.path.join(os.environ["VW_SCREENSHOT_DIR"], "conn_dialog.png"))

    with qtbot.waitSignal(dlg.connected, timeout=60000) as sig:
        qtbot.mouseClick(dlg.connect_button, LEFT)
    backend = sig.args[0]
    try:
        assert backend.capabilities.kind == "milvus-lite"
        assert backend.list_collections() == []
    finally:
        backend.close()
    assert dlg.result() == QDialog.DialogCode.Accepted

    asked: list[str] = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text, *_a: asked.append(text) or False)
    dlg.select("local lite")
    qtbot.mouseClick(dlg.remove_button, LEFT)
    assert asked and "local lite" in asked[0] and dlg.names() == ["local lite"]  # declined: kept
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    qtbot.mouseClick(dlg.remove_button, LEFT)
    assert dlg.names() == [] and store.list() == []


def test_embedded_folder_connection_browse_and_connect(qtbot: Any, dlg: ConnectionsDialog, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "engine.db"
    monkeypatch.setattr(dialogs, "open_folder", lambda *a, **k: str(folder))
    qtbot.mouseClick(dlg.new_button, LEFT)
    qtbot.keyClicks(dlg.name_edit, "photos")
    dlg.kind_combo.setCurrentIndex(dlg.kind_combo.findData("embedded"))
    assert dlg.uri_label.text() == "Folder"
    qtbot.mouseClick(dlg.browse_button, LEFT)
    assert dlg.uri_edit.text() == str(folder)
    qtbot.mouseClick(dlg.save_button, LEFT)
    qtbot.mouseClick(dlg.test_button, LEFT)
    qtbot.waitUntil(lambda: dlg.status.text().startswith("✓"), timeout=30000)
    assert "the embedded engine" in dlg.status.text()
    assert "SPARSE_FLOAT_VECTOR" in dlg.caps_view.toPlainText()
    qtbot.waitUntil(lambda: dlg.connect_button.isEnabled(), timeout=10000)
    with qtbot.waitSignal(dlg.connected, timeout=30000) as sig:
        qtbot.mouseClick(dlg.connect_button, LEFT)
    sig.args[0].close()
