"""The main window: collections dock, jobs dock, the views as tabs, menus, shortcuts, status bar.

Files and folders dropped anywhere on the window (or on a collection in the
browser) are imported. The heavier views (schema designer, index
configuration, inspector, embedding map) are built the first time their tab
is shown, so the window opens fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.collections.collections_browser import CollectionsBrowser, accept_file_drag, local_paths
from ui.context import AppContext
from ui.data.data_view import DataView
from ui.ingest.ingest_dialog import IngestDialog, IngestRequest, ingest_task
from ui.jobs.jobs_panel import JobsPanel
from ui.live import LiveWatcher, holder_text
from ui.main_window.about import about_text, shortcuts_text
from ui.main_window.welcome import WelcomeScreen
from ui.search.search_panel import SearchPanel
from ui.shared.errors import plain_message
from ui.shared.opener import OpenError, open_file
from ui.shared.text import plural
from ui.shared.theme import apply_theme, current_theme, icon, resources_dir
from ui.shared.workers import JobTask, Task, live_tasks

TAB_DATA, TAB_SEARCH, TAB_SCHEMA, TAB_INDEX, TAB_INSPECTOR, TAB_MAP, TAB_DUPLICATES = range(7)
TAB_NAMES = ("Data", "Search", "Schema designer", "Index", "Inspector", "Embedding map", "Duplicates")


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("")  # Qt shows the application's display name, "Vector Workbench"
        self.setWindowIcon(icon("vector-workbench"))
        self.setAcceptDrops(True)
        self.resize(1320, 860)
        self.ingest_dialog: IngestDialog | None = None
        self.last_task: Task | None = None

        # docks
        self.browser = CollectionsBrowser(ctx)
        self.collections_dock = QDockWidget("Collections", self)
        self.collections_dock.setObjectName("collectionsDock")
        self.collections_dock.setWidget(self.browser)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.collections_dock)
        self.jobs = JobsPanel()
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobsDock")
        self.jobs_dock.setWidget(self.jobs)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.jobs_dock)
        self.resizeDocks([self.collections_dock, self.jobs_dock], [290, 270], Qt.Orientation.Horizontal)

        # central: welcome screen or the views
        self.data_view = DataView(ctx)
        self.search_panel = SearchPanel(ctx)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("viewTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.data_view, "Data")
        self.tabs.addTab(self.search_panel, "Search")
        self._lazy: dict[int, Callable[[], QWidget]] = {
            TAB_SCHEMA: self._make_schema_designer,
            TAB_INDEX: self._make_index_config,
            TAB_INSPECTOR: self._make_inspector,
            TAB_MAP: self._make_embedding_map,
            TAB_DUPLICATES: self._make_duplicates,
        }
        self._views: dict[int, QWidget] = {}
        for i in range(TAB_SCHEMA, TAB_DUPLICATES + 1):
            holder = QLabel("Loading…", self)
            holder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(holder, TAB_NAMES[i])
        self.tabs.currentChanged.connect(self._ensure_view)
        self.welcome = WelcomeScreen(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

        # status bar
        self.db_status = QLabel("")
        self.coll_status = QLabel("")
        self.rows_status = QLabel("")
        self.mem_status = QLabel("")
        self.lock_status = QLabel("")
        self.lock_status.setObjectName("lockStatus")
        self.lock_status.setToolTip("The process writing to this database now. Readers never wait; writers "
                                    "take turns.")
        self.lock_status.hide()
        for w in (self.lock_status, self.db_status, self.coll_status, self.rows_status, self.mem_status):
            self.statusBar().addPermanentWidget(w)
        self._mem_timer = QTimer(self)
        self._mem_timer.setInterval(2000)
        self._mem_timer.timeout.connect(self._update_memory)
        self._mem_timer.start()
        self._mem_task: Task | None = None

        self.live = LiveWatcher(ctx, parent=self)  # writes by other processes refresh the views
        self.live.holderChanged.connect(self._holder_changed)

        self._build_menus()
        self._connect()
        self._restore_layout()
        if ctx.backend is not None:  # a context opened before the window (tests, scripts)
            self._db_opened(ctx.db_path or ctx.label)
            self.browser.rebuild()
            self._info_changed()

    # --- lazily built views ----------------------------------------------------------
    def view(self, tab: int) -> QWidget:
        """The view of a tab, built now if it was not yet."""
        self._ensure_view(tab)
        return self.tabs.widget(tab)

    def _ensure_view(self, tab: int) -> None:
        maker = self._lazy.pop(tab, None)
        if maker is None:
            return
        widget = maker()
        self._views[tab] = widget
        current = self.tabs.currentIndex()
        self.tabs.blockSignals(True)
        old = self.tabs.widget(tab)
        self.tabs.removeTab(tab)
        self.tabs.insertTab(tab, widget, TAB_NAMES[tab])
        old.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)

    def _make_schema_designer(self) -> QWidget:
        from ui.schema.schema_designer import SchemaDesigner

        w = SchemaDesigner(self.ctx)
        w.created.connect(lambda name: (self.ctx.set_current(name), self.show_tab(TAB_DATA)))
        return w

    def _make_index_config(self) -> QWidget:
        from ui.index.index_config import IndexConfig

        return IndexConfig(self.ctx)

    def _make_inspector(self) -> QWidget:
        from ui.inspector.inspector import Inspector

        return Inspector(self.ctx)

    def _make_embedding_map(self) -> QWidget:
        from ui.embedding_map.embedding_map import EmbeddingMap

        w = EmbeddingMap(self.ctx)
        w.selectionChanged.connect(self._map_selection)
        return w

    def _make_duplicates(self) -> QWidget:
        from ui.duplicates.duplicates_view import DuplicatesView

        return DuplicatesView(self.ctx)

    def show_tab(self, tab: int) -> QWidget:
        if self.stack.currentWidget() is not self.tabs:
            self.stack.setCurrentWidget(self.tabs)
        self._ensure_view(tab)
        self.tabs.setCurrentIndex(tab)
        return self.tabs.widget(tab)

    # --- wiring ----------------------------------------------------------------------
    def _connect(self) -> None:
        ctx = self.ctx
        ctx.databaseOpened.connect(self._db_opened)
        ctx.infoChanged.connect(self._info_changed)
        ctx.currentCollectionChanged.connect(self._collection_changed)
        ctx.taskStarted.connect(self._task_started)
        ctx.message.connect(self._status_message)
        ctx.errorRaised.connect(self.show_error)
        self.browser.filesDropped.connect(self.files_dropped)
        self.browser.importRequested.connect(self.import_files)
        self.browser.copyRequested.connect(self.copy_collection_dialog)
        self.browser.exportRequested.connect(self.export_dialog)
        self.browser.newCollectionRequested.connect(lambda: self.show_tab(TAB_SCHEMA))
        self.browser.indexConfigRequested.connect(self.configure_index)
        self.browser.inspectRequested.connect(lambda name: (ctx.set_current(name), self.show_tab(TAB_INSPECTOR)))
        self.browser.collectionActivated.connect(self._collection_activated)
        self.data_view.findSimilar.connect(self.find_similar)
        self.data_view.selectionCleared.connect(self._map_selection_cleared)
        self.search_panel.showInData.connect(self.show_in_data)
        self.search_panel.modelSettingsRequested.connect(self.model_settings)
        self.welcome.demoRequested.connect(self.create_demo)
        self.welcome.importRequested.connect(lambda: self.import_files(folder=True))
        self.welcome.openRequested.connect(self.open_database_dialog)
        self.welcome.newCollectionRequested.connect(lambda: self.show_tab(TAB_SCHEMA))

    def _status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None,
                tip: str = "") -> QAction:
        a = menu.addAction(text)
        a.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Open database…", self.open_database_dialog, QKeySequence.StandardKey.Open,
                     "Open or create a database folder")
        self.recent_menu = f.addMenu("Recent databases")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(f, "Connect to Milvus…", self.connections_dialog, "Ctrl+Shift+O",
                     "A Milvus server (standalone, distributed, Zilliz Cloud) or a Milvus Lite file; "
                     "saved connections keep their secrets in the OS keyring")
        f.addSeparator()
        self._action(f, "Import files…", lambda: self.import_files(folder=False), "Ctrl+I")
        self._action(f, "Import folder…", lambda: self.import_files(folder=True), "Ctrl+Shift+I")
        self._action(f, "Create the demo collection", self.create_demo)
        self._action(f, "Export collection…", lambda: self.export_dialog(self.ctx.current))
        self._action(f, "Import Parquet or JSONL…", self.import_table_dialog)
        f.addSeparator()
        self._action(f, "Quit", self.close, QKeySequence.StandardKey.Quit)

        c = mb.addMenu("&Collection")
        self._action(c, "New collection…", lambda: self.show_tab(TAB_SCHEMA), QKeySequence.StandardKey.New)
        self._action(c, "Configure index…", lambda: self.configure_index(self.ctx.current, ""), "Ctrl+Shift+X")
        self._action(c, "Load / release", self._toggle_load)
        self._action(c, "Flush", lambda: self.browser.flush(self.ctx.current) if self.ctx.current else None)
        self._action(c, "Compact", lambda: self.browser.compact(self.ctx.current) if self.ctx.current else None)
        self._action(c, "Rename…", lambda: self.browser.rename(self.ctx.current) if self.ctx.current else None)
        self._action(c, "Copy to another database or Milvus…", lambda: self.copy_collection_dialog(self.ctx.current))
        self._action(c, "Drop…", lambda: self.browser.drop(self.ctx.current) if self.ctx.current else None)
        c.addSeparator()
        self._action(c, "Refresh", self.ctx.refresh, QKeySequence.StandardKey.Refresh)

        v = mb.addMenu("&View")
        for i, name in enumerate(TAB_NAMES):
            self._action(v, name, lambda i=i: self.show_tab(i), f"Ctrl+{i + 1}")
        v.addSeparator()
        self._action(v, "Focus search", self._focus_search, QKeySequence.StandardKey.Find)
        self._action(v, "Focus data filter", self._focus_filter, "Ctrl+L")
        v.addSeparator()
        v.addAction(self.collections_dock.toggleViewAction())
        v.addAction(self.jobs_dock.toggleViewAction())
        v.addSeparator()
        self.dark_action = v.addAction("Dark theme")
        self.dark_action.setCheckable(True)
        self.dark_action.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.dark_action.setChecked(current_theme() == "dark")
        self.dark_action.toggled.connect(lambda on: self.set_theme("dark" if on else "light"))
        self._action(v, "Welcome screen", lambda: self.stack.setCurrentWidget(self.welcome))

        s = mb.addMenu("&Settings")
        self._action(s, "Model…", self.model_settings)

        h = mb.addMenu("&Help")
        self._action(h, "User guide", self._open_guide, QKeySequence.StandardKey.HelpContents)
        self._action(h, "Keyboard shortcuts", self._shortcuts)
        self._action(h, "About Vector Workbench", self._about)

    # --- database and collections ----------------------------------------------------
    def _db_opened(self, path: str) -> None:
        label = self.ctx.label or path
        self.db_status.setText(label[:1].upper() + label[1:])
        caps = self.ctx.capabilities
        tip = [label]
        if caps is not None:
            missing = [f"· {caps.why_not(f)}" for f in sorted(caps.missing) if caps.why_not(f)]
            if missing:
                tip += ["", f"Not available on {caps.describe()}:", *missing]
        self.db_status.setToolTip("\n".join(tip))
        # only the database: Qt appends " — Vector Workbench" (the application display name) itself
        self.setWindowTitle(self.ctx.short_label or Path(path).name)
        self.welcome.set_database(path if self.ctx.db_path else label)

    def _info_changed(self) -> None:
        info = self.ctx.info
        if not info.collections:
            self.stack.setCurrentWidget(self.welcome)
        elif self.stack.currentWidget() is self.welcome and not getattr(self, "_welcome_pinned", False):
            self.stack.setCurrentWidget(self.tabs)
        self._collection_changed(self.ctx.current)

    def _collection_changed(self, name: str) -> None:
        c = self.ctx.collection(name)
        self.coll_status.setText(f"Collection: {name}" if name else "No collection")
        self.rows_status.setText(c.rows_text if c else "")

    def _holder_changed(self, holder: dict[str, Any] | None) -> None:
        text = holder_text(holder)
        self.lock_status.setText(text)
        self.lock_status.setVisible(bool(text))

    def _collection_activated(self, name: str) -> None:
        if self.stack.currentWidget() is self.welcome:
            self.stack.setCurrentWidget(self.tabs)

    def _update_memory(self) -> None:
        if self._mem_task is not None:
            return
        backend, coll = self.ctx.backend, self.ctx.current
        measure = backend is not None and bool(coll) and self.ctx.supports("memory_usage")
        reason = self.ctx.why_not("memory_usage") if backend is not None else None
        self.mem_status.setToolTip("Memory of this app" + (f". Collection memory is not shown: {reason}"
                                                          if reason else ""))

        def work() -> tuple[int, int | None]:
            import psutil

            rss = int(psutil.Process(os.getpid()).memory_info().rss)
            used = None
            if measure:
                try:
                    used = int(backend.memory_usage(coll).get("total", 0))
                except Exception:
                    used = None
            return rss, used

        def done(res: tuple[int, int | None]) -> None:
            rss, used = res
            text = f"RAM {_fmt_bytes(rss)}"
            if used is not None:
                text += f" · collection {_fmt_bytes(used)} mapped"
            self.mem_status.setText(text)

        task = Task("memory", work, generator=False, show_in_jobs=False, parent=self)
        task.succeeded.connect(done)
        task.finished.connect(lambda: setattr(self, "_mem_task", None))
        self._mem_task = task
        task.start()

    # --- connections and moving data --------------------------------------------------
    def _connection_store(self) -> Any:
        from workbench.connections import ConnectionStore

        return ConnectionStore()

    def connections_dialog(self) -> Any:
        """Saved connections; Connect opens the chosen backend (on a worker) and the app switches to it."""
        from ui.connections.connections_dialog import ConnectionsDialog

        dlg = ConnectionsDialog(self._connection_store(), self)
        dlg.connected.connect(self.ctx.open_backend)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self.last_dialog = dlg
        return dlg

    def copy_collection_dialog(self, collection: str) -> Any:
        if not collection or self.ctx.backend is None:
            return None
        from ui.transfer.transfer_dialog import CopyCollectionDialog

        dlg = CopyCollectionDialog(self.ctx.backend, collection, self._connection_store(), self)
        return self._show_transfer(dlg)

    def export_dialog(self, collection: str) -> Any:
        if not collection or self.ctx.backend is None:
            return None
        from ui.transfer.transfer_dialog import ExportDialog

        return self._show_transfer(ExportDialog(self.ctx.backend, collection, self))

    def import_table_dialog(self) -> Any:
        if self.ctx.backend is None:
            return None
        from ui.transfer.transfer_dialog import ImportDialog

        return self._show_transfer(ImportDialog(self.ctx.backend, self))

    def _show_transfer(self, dlg: Any) -> Any:
        dlg.transferred.connect(lambda _report: self.ctx.refresh())
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self.last_dialog = dlg
        return dlg

    def open_database_dialog(self) -> None:
        start = str(Path(self.ctx.db_path).parent) if self.ctx.db_path else ""
        path = dialogs.open_folder(self, "Open or create a database folder", start)
        if path:
            self.ctx.open_database(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.ctx.settings.recent_databases():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _c=False, p=p: self.ctx.open_database(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _toggle_load(self) -> None:
        c = self.ctx.collection()
        if c is not None:
            self.browser.set_loaded(c.name, not c.loaded)

    # --- import ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, self, lambda: self.files_dropped(paths, ""))

    def files_dropped(self, paths: list[str], collection: str = "") -> IngestDialog | None:
        """Ask where the files go (a non-blocking dialog), then start the import."""
        if self.ctx.backend is None:
            self.show_error("No database", "Open a database first.")
            return None
        if self.ingest_dialog is not None:
            self.ingest_dialog.close()
        dlg = IngestDialog(self.ctx, paths, collection, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # else each import leaves its dialog behind
        dlg.requested.connect(self.start_ingest)
        dlg.finished.connect(lambda _r: setattr(self, "ingest_dialog", None))
        self.ingest_dialog = dlg
        dlg.open()
        return dlg

    def import_files(self, collection: str = "", folder: bool = False) -> None:
        if folder:
            path = dialogs.open_folder(self, "Import a folder")
            paths = [path] if path else []
        else:
            paths = dialogs.open_files(self, "Import files", "",
                                       "Images and PDFs (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff *.pdf)"
                                       ";;Product manifests (*.csv *.jsonl *.ndjson);;All files (*)")
        if paths:
            self.files_dropped(paths, collection if isinstance(collection, str) else "")

    def start_ingest(self, req: IngestRequest) -> JobTask:
        task = ingest_task(self.ctx, req)
        task.setParent(self)
        self._watch_writes(task, req.collection, select=req.new)
        self.ctx.run(task)
        self.last_task = task
        self.jobs_dock.show()
        self.jobs_dock.raise_()
        return task

    def _watch_writes(self, task: Task, collection: str, select: bool = False) -> None:
        """Refresh the browser and the data view as a write job commits, and when it ends."""
        state = {"rows": -1, "selected": False}

        def progress(event: Any) -> None:
            ingested = getattr(event, "ingested", 0)
            if ingested and ingested != state["rows"] and getattr(event, "phase", "") == "ingesting":
                state["rows"] = ingested
                if not self.ctx._refreshing:
                    self.ctx.refresh()

        def finished() -> None:
            self.ctx.refresh()
            self.ctx.dataChanged.emit(collection)
            if select:
                QTimer.singleShot(0, self, lambda: self._select_when_known(collection))

        task.progress.connect(progress)
        task.finished.connect(finished)

    def _select_when_known(self, collection: str, tries: int = 20) -> None:
        if collection in self.ctx.info.collections:
            self.ctx.set_current(collection)
            if self.stack.currentWidget() is self.welcome:
                self.stack.setCurrentWidget(self.tabs)
        elif tries > 0:
            QTimer.singleShot(100, self, lambda: self._select_when_known(collection, tries - 1))

    def create_demo(self) -> JobTask | None:
        from ui.ingest.demo import DEMO_COLLECTION, demo_job

        if self.ctx.backend is None:
            return None
        if DEMO_COLLECTION in self.ctx.info.collections:
            self.ctx.set_current(DEMO_COLLECTION)
            self.show_tab(TAB_SEARCH)
            return None
        data_dir = self.ctx.data_dir
        job = demo_job(self.ctx.backend, self.ctx.provider, folder=(data_dir / "demo-images") if data_dir else None)
        task = JobTask(job, parent=self)
        self._watch_writes(task, DEMO_COLLECTION, select=True)
        task.succeeded.connect(lambda _r: self.show_tab(TAB_SEARCH))
        self.ctx.run(task)
        self.welcome.status.setText("Creating the demo collection… (see the Jobs panel)")
        self.last_task = task
        return task

    # --- other actions ---------------------------------------------------------------
    def configure_index(self, collection: str, field: str) -> None:
        if collection:
            self.ctx.set_current(collection)
        view = self.show_tab(TAB_INDEX)
        if field and hasattr(view, "select_field"):
            view.select_field(field)

    def find_similar(self, collection: str, pk: Any) -> None:
        self.show_tab(TAB_SEARCH)
        self.search_panel.find_similar(collection, pk)

    def show_in_data(self, collection: str, pk: Any) -> None:
        self.ctx.set_current(collection)
        self.show_tab(TAB_DATA)
        info = self.ctx.collection(collection)
        if pk is not None and info is not None and info.schema is not None:
            self.data_view.filter_bar.set_text(f"{info.schema.primary_field.name} == {_literal(pk)}")
            self.data_view.filter_bar.apply()

    def _map_selection(self, collection: str, ids: list[Any]) -> None:
        if collection != self.ctx.current:
            self.ctx.set_current(collection)
        self.data_view.restrict_to(ids if ids else None)

    def _map_selection_cleared(self) -> None:
        view = self._views.get(TAB_MAP)
        if view is not None and hasattr(view, "clear_selection"):
            view.clear_selection(emit=False)

    def _focus_search(self) -> None:
        self.show_tab(TAB_SEARCH)
        self.search_panel.text_edit.setFocus()
        self.search_panel.text_edit.selectAll()

    def _focus_filter(self) -> None:
        self.show_tab(TAB_DATA)
        self.data_view.filter_bar.edit.setFocus()

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.ctx.settings.theme = theme
        if self.dark_action.isChecked() != (theme == "dark"):
            self.dark_action.setChecked(theme == "dark")
        for view in self._views.values():
            if hasattr(view, "theme_changed"):
                view.theme_changed()

    def model_settings(self) -> None:
        from ui.models.model_settings import ModelSettingsDialog

        ModelSettingsDialog(self.ctx, self).open()

    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 10000)
        if os.environ.get("VW_NO_ERROR_DIALOGS"):
            return
        dialogs.show_error(self, title, message)

    def _task_started(self, task: Task) -> None:
        self.jobs.add(task)

    def _open_guide(self) -> None:
        guide = resources_dir().parent / "docs" / "user-guide.md"  # the repository's, or the bundle's
        try:
            self._status_message(open_file(guide))
        except OpenError as e:
            self.show_error("Cannot open the user guide", str(e))

    def _shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_text())

    def _about(self) -> None:
        QMessageBox.about(self, "About Vector Workbench", about_text())

    # --- layout ----------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry, state = self.ctx.settings.layout()
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        running = [t for t in live_tasks() if t.show_in_jobs and t.running]
        if running and not dialogs.confirm(self, "Jobs are running",
                                           f"{plural(len(running), 'job')} still running. Cancel them and quit? "
                                           "Imports keep every batch committed so far.", "Quit"):
            event.ignore()
            return
        for t in running:
            t.cancel()
        self.ctx.settings.save_layout(self.saveGeometry(), self.saveState())
        self.ctx.settings.sync()
        self._mem_timer.stop()
        self.live.stop()
        for view in self._views.values():
            if hasattr(view, "shutdown"):
                view.shutdown()
        event.accept()


def _literal(pk: Any) -> str:
    import json

    return json.dumps(pk) if isinstance(pk, str) else str(pk)


def report_error(window: MainWindow | None, exc: BaseException) -> None:
    if window is not None:
        window.show_error("Error", plain_message(exc))
