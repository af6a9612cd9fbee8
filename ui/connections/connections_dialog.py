"""Saved connections: list, add, edit, test and open them (File › Connections…).

The dialog edits a `workbench.connections.ConnectionStore`: names, URIs, user names, databases and
TLS files go to the settings file; a token or password goes to the secret store (the OS keyring) and
is never shown again: the field then only says that one is saved. Opening a backend (Test, Connect)
always runs on a worker thread, and every message shown is scrubbed of secrets.

    dlg = ConnectionsDialog(ConnectionStore(), parent=window)
    dlg.connected.connect(window.use_backend)   # the opened Backend; the dialog closes itself
    dlg.open()
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.shared import dialogs
from ui.shared.errors import plain_message
from ui.shared.workers import Task
from workbench.backends import FEATURES, BackendSpec, Capabilities, open_backend, scrub
from workbench.connections import Connection, ConnectionStore, KeyringSecretStore, SecretStoreUnavailable

KIND_LABELS = {"milvus": "Milvus server", "milvus-lite": "Milvus Lite file", "embedded": "Embedded folder"}
TLS_FIELDS = (("server_pem_path", "Server PEM", True), ("server_name", "Server name", False),
              ("client_pem_path", "Client PEM", True), ("client_key_path", "Client key", True),
              ("ca_pem_path", "CA PEM", True))


def masked_uri(uri: str) -> str:
    """The URI as shown: any password in its user info replaced by ***."""
    return scrub(uri)


def one_line(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """An error as one scrubbed line for the dialog."""
    text = scrub(plain_message(exc), secrets).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


def _uri_password(uri: str) -> tuple[str, str, str]:
    """(URI without user info, user, password) for `scheme://user:pass@host`; else (uri, "", "")."""
    if "://" not in uri:
        return uri, "", ""
    try:
        parts = urlsplit(uri)
        if parts.username is None and parts.password is None:
            return uri, "", ""
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return uri, "", ""
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), parts.username or "", \
        parts.password or ""


def capabilities_html(caps: Capabilities) -> str:
    """Each feature with ✓, or ✗ and the reason it is missing."""
    rows = []
    for feat, title in FEATURES.items():
        reason = caps.why_not(feat)
        if reason is None:
            rows.append(f"<tr><td style='color:#1b7f3b'>✓</td><td>{_esc(title)}</td></tr>")
        else:
            rows.append(f"<tr><td style='color:#b00020'>✗</td><td>{_esc(title)}<br>"
                        f"<span style='color:#5c6370'>{_esc(reason)}</span></td></tr>")
    return "<table cellspacing='2'>" + "".join(rows) + "</table>"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ConnectionsDialog(QDialog):
    """The saved connections and a form to add, edit, test, remove and connect to one."""

    connected = Signal(object)  # the opened Backend (the receiver owns it and closes it)
    saved = Signal(str)  # a connection was saved (its name)
    removed = Signal(str)

    def __init__(self, store: ConnectionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Connections")
        self.setObjectName("connectionsDialog")
        self._current: Connection | None = None  # the saved connection the form was loaded from
        self._task: Task | None = None
        self._closing = False
        self.last_backend: Any = None
        self.last_capabilities: Capabilities | None = None

        # --- the list -------------------------------------------------------------------------
        self.list = QTreeWidget(self)
        self.list.setObjectName("connectionList")
        self.list.setHeaderLabels(["Name", "Kind", "URI or path", "Database"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.list.currentItemChanged.connect(self._on_selected)
        self.new_button = QPushButton("New", self)
        self.new_button.clicked.connect(self.new_connection)
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.clicked.connect(self.remove_selected)

        # --- the form -------------------------------------------------------------------------
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("e.g. production")
        self.kind_combo = QComboBox(self)
        for kind in ("milvus", "milvus-lite", "embedded"):
            self.kind_combo.addItem(KIND_LABELS[kind], kind)
        self.uri_edit = QLineEdit(self)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse_uri)
        self.user_edit = QLineEdit(self)
        self.user_edit.setPlaceholderText("none: the secret is a token")
        self.secret_label = QLabel("Token", self)
        self.secret_edit = QLineEdit(self)
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setObjectName("secretEdit")
        self.forget_button = QPushButton("Forget", self)
        self.forget_button.setToolTip("Remove the saved token or password when you save")
        self.forget_button.setCheckable(True)
        self.db_edit = QLineEdit(self)
        self.db_edit.setPlaceholderText("default")
        self.tls_toggle = QToolButton(self)
        self.tls_toggle.setText("TLS")
        self.tls_toggle.setCheckable(True)
        self.tls_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.tls_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.tls_toggle.toggled.connect(self._show_tls)
        self.tls_box = QFrame(self)
        self.tls_box.setObjectName("tlsGroup")
        self.tls_edits: dict[str, QLineEdit] = {}
        tls_form = QFormLayout(self.tls_box)
        tls_form.setContentsMargins(16, 0, 0, 0)
        for key, label, is_file in TLS_FIELDS:
            edit = QLineEdit(self.tls_box)
            self.tls_edits[key] = edit
            if is_file:
                row = QHBoxLayout()
                row.addWidget(edit, 1)
                b = QPushButton("…", self.tls_box)
                b.setFixedWidth(32)
                b.clicked.connect(lambda _c=False, e=edit, t=label: self._browse_file(e, t))
                row.addWidget(b)
                tls_form.addRow(label, row)
            else:
                edit.setPlaceholderText("the name in the server's certificate")
                tls_form.addRow(label, edit)

        self.form = QFormLayout()
        self.form.addRow("Name", self.name_edit)
        self.form.addRow("Kind", self.kind_combo)
        uri_row = QHBoxLayout()
        uri_row.addWidget(self.uri_edit, 1)
        uri_row.addWidget(self.browse_button)
        self.uri_label = QLabel("URI", self)
        self.form.addRow(self.uri_label, uri_row)
        self.form.addRow("User", self.user_edit)
        secret_row = QHBoxLayout()
        secret_row.addWidget(self.secret_edit, 1)
        secret_row.addWidget(self.forget_button)
        self.form.addRow(self.secret_label, secret_row)
        self.form.addRow("Database", self.db_edit)
        self.form.addRow(self.tls_toggle)
        self.form.addRow(self.tls_box)

        self.error = QLabel("", self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.status = QLabel("", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.caps_view = QTextBrowser(self)
        self.caps_view.setObjectName("capabilities")
        self.caps_view.setPlaceholderText("Test a connection to see the server version and what it supports.")
        self.caps_view.setMinimumHeight(120)

        self.save_button = QPushButton("Save", self)
        self.save_button.clicked.connect(self.save)
        self.test_button = QPushButton("Test", self)
        self.test_button.clicked.connect(self.test)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setObjectName("primary")
        self.connect_button.clicked.connect(self.connect_selected)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.reject)

        left = QWidget(self)
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(QLabel("<b>Saved connections</b>", left))
        left_lay.addWidget(self.list, 1)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.new_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)
        left_lay.addLayout(list_buttons)
        right = QWidget(self)
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.addLayout(self.form)
        form_buttons = QHBoxLayout()
        form_buttons.addStretch(1)
        form_buttons.addWidget(self.test_button)
        form_buttons.addWidget(self.save_button)
        right_lay.addLayout(form_buttons)
        right_lay.addWidget(self.error)
        right_lay.addWidget(self.status)
        right_lay.addWidget(self.caps_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.connect_button)
        lay = QVBoxLayout(self)
        lay.addWidget(splitter, 1)
        lay.addLayout(buttons)

        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.user_edit.textChanged.connect(self._update_secret_label)
        self._kind_changed()
        self.refresh()
        self.resize(980, 620)
        splitter.setSizes([420, 560])

    # --- list ------------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Re-read the saved connections (and select `select`, or keep the selection)."""
        keep = select if select is not None else (self._current.name if self._current else None)
        try:
            conns = self.store.list()
        except Exception as e:
            conns = []
            self.show_error(e)
        self.list.blockSignals(True)
        self.list.clear()
        chosen = None
        for c in conns:
            item = QTreeWidgetItem([c.name, KIND_LABELS.get(c.kind, c.kind), masked_uri(c.uri), c.db_name])
            item.setData(0, Qt.ItemDataRole.UserRole, c.name)
            item.setToolTip(2, masked_uri(c.uri))
            self.list.addTopLevelItem(item)
            if c.name == keep:
                chosen = item
        self.list.blockSignals(False)
        if chosen is not None:
            self.list.setCurrentItem(chosen)
        elif keep is None and self.list.topLevelItemCount() and not self.name_edit.text():
            self.list.setCurrentItem(self.list.topLevelItem(0))
        self._update_buttons()

    def names(self) -> list[str]:
        """The names in the list, as shown."""
        return [self.list.topLevelItem(i).text(0) for i in range(self.list.topLevelItemCount())]

    def select(self, name: str) -> bool:
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item.text(0) == name:
                self.list.setCurrentItem(item)
                return True
        return False

    def _on_selected(self, item: QTreeWidgetItem | None, _prev: Any = None) -> None:
        if item is None:
            return
        try:
            conn = self.store.get(item.data(0, Qt.ItemDataRole.UserRole))
        except Exception as e:
            self.show_error(e)
            return
        self.load(conn)

    def load(self, conn: Connection) -> None:
        """Show a saved connection in the form (its secret is never shown, only whether there is one)."""
        self._current = conn
        self.name_edit.setText(conn.name)
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(conn.kind)))
        self.uri_edit.setText(masked_uri(conn.uri))
        self.user_edit.setText(conn.user)
        self.db_edit.setText(conn.db_name)
        for key, edit in self.tls_edits.items():
            edit.setText(getattr(conn, key) or "")
        self.tls_toggle.setChecked(any(getattr(conn, k) for k in self.tls_edits))
        self._reset_secret_field(conn.has_secret)
        self.clear_messages()
        self._kind_changed()

    def new_connection(self) -> None:
        """An empty form for a new connection."""
        self._current = None
        self.list.blockSignals(True)
        self.list.setCurrentItem(None)  # type: ignore[arg-type]
        self.list.clearSelection()
        self.list.blockSignals(False)
        for edit in (self.name_edit, self.uri_edit, self.user_edit, self.db_edit, *self.tls_edits.values()):
            edit.clear()
        self.tls_toggle.setChecked(False)
        self._reset_secret_field(False)
        self.clear_messages()
        self.caps_view.clear()
        self._kind_changed()
        self.name_edit.setFocus()

    def _reset_secret_field(self, has_secret: bool) -> None:
        self.secret_edit.clear()
        self.forget_button.setChecked(False)
        self.forget_button.setVisible(has_secret)
        if has_secret:
            where = "in the OS keyring" if isinstance(self.store.secrets, KeyringSecretStore) else "for this session"
            self.secret_edit.setPlaceholderText(f"saved {where}; type to replace it")
        else:
            self.secret_edit.setPlaceholderText("")

    # --- form ------------------------------------------------------------------------------------
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def _kind_changed(self, *_a: Any) -> None:
        kind = self.kind()
        server = kind == "milvus"
        self.uri_label.setText({"milvus": "URI", "milvus-lite": "File (.db)", "embedded": "Folder"}[kind])
        self.uri_edit.setPlaceholderText({"milvus": "https://milvus.example:19530",
                                          "milvus-lite": "/path/to/milvus.db",
                                          "embedded": "/path/to/database folder"}[kind])
        self.browse_button.setVisible(not server)
        for row in (3, 4, 5):  # user, token or password, database
            self.form.setRowVisible(row, server)
        self.form.setRowVisible(self.tls_toggle, server)
        self.form.setRowVisible(self.tls_box, server and self.tls_toggle.isChecked())
        self._update_secret_label()

    def _update_secret_label(self, *_a: Any) -> None:
        self.secret_label.setText("Password" if self.user_edit.text().strip() else "Token")

    def _show_tls(self, on: bool) -> None:
        self.tls_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.form.setRowVisible(self.tls_box, on and self.kind() == "milvus")

    def _browse_uri(self) -> None:
        start = self.uri_edit.text().strip() or str(Path.home())
        if self.kind() == "embedded":
            path = dialogs.open_folder(self, "Embedded database folder", start)
        else:
            path = dialogs.save_file(self, "Milvus Lite file", start, "Milvus Lite files (*.db);;All files (*)")
        if path:
            self.uri_edit.setText(path)

    def _browse_file(self, edit: QLineEdit, title: str) -> None:
        path = dialogs.open_file(self, title, edit.text().strip() or str(Path.home()),
                                 "PEM files (*.pem *.crt *.key);;All files (*)")
        if path:
            edit.setText(path)

    def form_connection(self) -> tuple[Connection, str | None]:
        """(the connection the form describes, the secret typed or None). The secret is not validated."""
        kind = self.kind()
        server = kind == "milvus"
        uri = self.uri_edit.text().strip()
        if self._current is not None and uri == masked_uri(self._current.uri):
            uri = self._current.uri  # unchanged (shown masked)
        secret: str | None = self.secret_edit.text() or None
        if self.forget_button.isVisible() and self.forget_button.isChecked() and not secret:
            secret = ""
        tls = {k: (e.text().strip() if server else "") for k, e in self.tls_edits.items()}
        conn = Connection(name=self.name_edit.text().strip(), kind=kind, uri=uri,
                          user=self.user_edit.text().strip() if server else "",
                          db_name=self.db_edit.text().strip() if server else "",
                          description=self._current.description if self._current else "", **tls)
        if not server:
            secret = "" if (self._current is not None and self._current.has_secret) else None
        return conn, secret

    # --- actions ---------------------------------------------------------------------------------
    def save(self) -> bool:
        """Save the form; the secret goes to the secret store and the field is emptied."""
        self.clear_messages()
        conn, secret = self.form_connection()
        typed = (secret,) if secret else ()
        try:
            if (secret is None and self._current is not None and self._current.has_secret
                    and self._current.name != conn.name):
                secret = self.store.secrets.get(self._current.secret_key())  # a copy keeps the secret
            saved = self.store.save(conn, secret=secret)
        except SecretStoreUnavailable as e:
            self.show_error(e, typed, prefix="Not saved: ")
            return False
        except Exception as e:
            self.show_error(e, typed, prefix="Not saved: ")
            return False
        self._current = saved
        self.refresh(select=saved.name)
        self.load(saved)
        self.status.setText(f"Saved {saved.name!r}" + (" (the secret is in the OS keyring)"
                                                      if saved.has_secret and isinstance(
                                                          self.store.secrets, KeyringSecretStore) else ""))
        self.saved.emit(saved.name)
        return True

    def remove_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = item.text(0)
        if not dialogs.confirm(self, "Remove connection",
                               f"Remove the saved connection {name!r} (and its saved token or password)?",
                               "Remove"):
            return
        try:
            self.store.delete(name)
        except Exception as e:
            self.show_error(e)
            return
        self._current = None
        self.refresh()
        if self.list.currentItem() is None:
            self.new_connection()
        self.status.setText(f"Removed {name!r}")
        self.removed.emit(name)

    def _spec_work(self) -> tuple[Any, tuple[str, ...]] | None:
        """A function that builds the spec (reading a saved secret on the worker), and the secrets typed."""
        self.clear_messages()
        conn, secret = self.form_connection()
        typed = (secret,) if secret else ()
        uri, uri_user, uri_pw = _uri_password(conn.uri)
        if uri_pw:
            conn = replace(conn, uri=uri, user=conn.user or uri_user)
            secret, typed = uri_pw, (*typed, uri_pw)
        try:
            conn.validate()
        except Exception as e:
            self.show_error(e, typed)
            return None
        saved = self._current if self._current is not None and self._current.name == conn.name else None
        store = self.store

        def spec() -> BackendSpec:
            s = secret
            if s is None and saved is not None and saved.has_secret:
                s = store.secrets.get(saved.secret_key())
            return conn.spec(s or None)

        return spec, typed

    def test(self) -> Task | None:
        """Open the form's connection on a worker: show the server version and what it supports."""
        got = self._spec_work()
        if got is None:
            return None
        make_spec, typed = got

        def work() -> dict[str, Any]:
            t0 = time.monotonic()
            spec = make_spec()
            backend = open_backend(spec)
            try:
                n = len(backend.list_collections())
                return {"caps": backend.capabilities, "label": backend.label, "collections": n,
                        "seconds": time.monotonic() - t0}
            finally:
                backend.close()

        return self._run("Test connection", work, self._tested, typed, "Testing…")

    def connect_selected(self) -> Task | None:
        """Open the form's connection on a worker; emits `connected(backend)` and closes the dialog."""
        got = self._spec_work()
        if got is None:
            return None
        make_spec, typed = got
        return self._run("Connect", lambda: open_backend(make_spec()), self._opened, typed, "Connecting…")

    def _run(self, title: str, work: Any, done: Any, secrets: tuple[str, ...], text: str) -> Task | None:
        if self._task is not None:
            return None
        task = Task(title, work, generator=False, show_in_jobs=False)
        task.succeeded.connect(lambda r: self._alive() and done(r))
        task.failed.connect(lambda e: self._alive() and self.show_error(e, secrets))
        task.finished.connect(lambda: self._alive() and self._task_ended())
        self._task = task
        self.status.setText(text)
        self._update_buttons()
        return task.start()

    def _alive(self) -> bool:
        return shiboken6.isValid(self) and not self._closing

    def _task_ended(self) -> None:
        self._task = None
        if self.status.text().endswith("…"):
            self.status.setText("")
        self._update_buttons()

    def _tested(self, info: dict[str, Any]) -> None:
        caps: Capabilities = info["caps"]
        self.last_capabilities = caps
        self.status.setText(f"✓ Connected to {caps.describe()} in {info['seconds']:.1f} s · "
                            f"{info['collections']} collection(s)")
        self.caps_view.setHtml(f"<p><b>{_esc(scrub(info['label']))}</b><br>Server version: "
                               f"{_esc(caps.server_version)}</p>" + capabilities_html(caps))

    def _opened(self, backend: Any) -> None:
        self.last_backend = backend
        self.connected.emit(backend)
        self.accept()

    def show_error(self, exc: BaseException, secrets: tuple[str, ...] = (), prefix: str = "") -> None:
        self.error.setText(prefix + one_line(exc, secrets))
        self.error.setVisible(True)
        self.status.setText("")

    def clear_messages(self) -> None:
        self.error.setText("")
        self.error.setVisible(False)
        self.status.setText("")

    def _update_buttons(self) -> None:
        busy = self._task is not None
        for b in (self.test_button, self.connect_button, self.save_button):
            b.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and self.list.currentItem() is not None)

    def done(self, result: int) -> None:
        """Closing while a Test or Connect runs: the backend it opens is closed when it arrives."""
        task = self._task
        if task is not None and task.running and result != QDialog.DialogCode.Accepted:
            self._closing = True
            task.succeeded.connect(_close_if_backend)
        super().done(result)


def _close_if_backend(result: Any) -> None:
    close = getattr(result, "close", None)
    if callable(close):
        Task("Close connection", close, generator=False, show_in_jobs=False).start()
