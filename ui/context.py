"""The app's shared state: the open database, what is known about it, and the task runner.

Every view gets the one `AppContext`. Reading the database happens on worker
threads (`refresh()` gathers a `DbInfo` snapshot); views read the snapshot on
the UI thread and listen to the signals.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ui.app_settings import AppSettings, ModelChoice
from ui.embedder_provider import EmbedderProvider, default_model_choice
from ui.errors import plain_message
from ui.workers import Task, run_in_background


@dataclass
class IndexInfo:
    name: str
    field: str
    index_type: str
    metric: str
    params: dict[str, Any]
    indexed_rows: int = 0
    pending_rows: int = 0
    state: str = ""


@dataclass
class CollectionInfo:
    """What the UI shows about one collection (a snapshot taken on a worker)."""

    name: str
    rows: int
    loaded: bool
    description: dict[str, Any]
    schema: Any  # engine.CollectionSchema
    partitions: list[str]
    indexes: list[IndexInfo]
    kind: str | None = None
    model: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def vector_paths(self) -> list[str]:
        return [p for p, _ in self.schema.vector_fields()] if self.schema is not None else []

    def index_for(self, path: str) -> IndexInfo | None:
        return next((i for i in self.indexes if i.field == path), None)

    @property
    def is_demo(self) -> bool:
        from ui.embedder_provider import is_demo_model

        return is_demo_model(self.meta)


@dataclass
class DbInfo:
    path: str
    collections: dict[str, CollectionInfo] = field(default_factory=dict)


def gather_collection(client: Any, db: str, name: str) -> CollectionInfo:
    """Describe one collection (runs on a worker)."""
    from engine import CollectionSchema
    from workbench.templates import collection_kind, read_meta

    desc = dict(client.describe_collection(name))
    schema = CollectionSchema.from_dict(desc)
    rows = int(client.get_collection_stats(name).get("row_count", 0))
    loaded = int(client.get_load_state(name)["state"]) == 3
    indexes = []
    for idx_name in client.list_indexes(name):
        d = client.describe_index(name, idx_name)
        params = {k: v for k, v in d.items() if k not in (
            "index_type", "metric_type", "field_name", "index_name", "total_rows", "indexed_rows",
            "pending_index_rows", "state")}
        indexes.append(IndexInfo(idx_name, d["field_name"], d["index_type"], d.get("metric_type") or "", params,
                                 int(d.get("indexed_rows", 0)), int(d.get("pending_index_rows", 0)),
                                 str(d.get("state", ""))))
    try:
        meta = read_meta(db, name) or {}
    except Exception:
        meta = {}
    return CollectionInfo(name, rows, loaded, desc, schema, list(client.list_partitions(name)), indexes,
                          collection_kind(db, name, desc), model_text(meta), meta)


def model_text(meta: dict[str, Any]) -> str | None:
    """The model that embedded a collection, in the CLI's words."""
    from workbench.embedders import EmbedderIdentity

    rec = meta.get("embedder")
    try:
        return EmbedderIdentity.from_dict(rec).describe() if rec else None
    except (KeyError, TypeError, ValueError):
        return None


def gather_db_info(client: Any, db: str) -> DbInfo:
    """Everything the collections browser shows (runs on a worker)."""
    info = DbInfo(db)
    for name in sorted(client.list_collections()):
        try:
            info.collections[name] = gather_collection(client, db, name)
        except Exception as e:  # one broken collection must not hide the others
            info.collections[name] = CollectionInfo(name, 0, False, {}, None, [], [], error=plain_message(e))
    return info


class AppContext(QObject):
    """The open database, its snapshot, the embedders and the running tasks."""

    databaseOpened = Signal(str)
    databaseFailed = Signal(str)
    infoChanged = Signal()  # a new DbInfo snapshot
    dataChanged = Signal(str)  # rows of this collection changed (ingest, delete, edit)
    currentCollectionChanged = Signal(str)
    taskStarted = Signal(object)  # a Task to show in the jobs panel
    message = Signal(str)  # a short status-bar message
    errorRaised = Signal(str, str)  # title, plain message

    def __init__(self, settings: AppSettings | None = None, provider: EmbedderProvider | None = None,
                 data_dir: Path | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.data_dir = data_dir
        self.provider = provider or EmbedderProvider(data_dir=(data_dir / "models") if data_dir else None)
        self.client: Any = None
        self.db_path: str = ""
        self.info = DbInfo("")
        self.current: str = ""
        self._refreshing: Task | None = None
        self._refresh_again = False
        self.refresh_count = 0

    # --- database --------------------------------------------------------------------
    def open_database(self, path: str | os.PathLike[str]) -> Task:
        """Open (or create) a database directory on a worker; emits databaseOpened or databaseFailed."""
        target = str(Path(path).expanduser())

        def work() -> Any:
            from workbench.templates import open_client

            return open_client(target)

        def opened(client: Any) -> None:
            old = self.client
            self.client = client
            self.db_path = target
            self.info = DbInfo(target)
            self.current = ""
            if old is not None:
                run_in_background(old.close)
            self.settings.add_recent_database(target)
            self.databaseOpened.emit(target)
            self.refresh()

        def failed(e: BaseException) -> None:
            msg = plain_message(e)
            self.databaseFailed.emit(msg)
            self.errorRaised.emit("Cannot open the database", msg)

        task = Task(f"Open {target}", work, generator=False, show_in_jobs=False)
        task.succeeded.connect(opened)
        task.failed.connect(failed)
        return task.start()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass
            self.client = None

    def refresh(self) -> None:
        """Re-read the database's collections on a worker; emits infoChanged when done."""
        if self.client is None:
            return
        if self._refreshing is not None:
            self._refresh_again = True
            return
        client, db = self.client, self.db_path

        def done(info: DbInfo) -> None:
            if client is self.client:
                self.info = info
                self.refresh_count += 1
                if self.current and self.current not in info.collections:
                    self.set_current("")
                if not self.current and info.collections:
                    self.set_current(next(iter(info.collections)))
                self.infoChanged.emit()

        def finished() -> None:
            self._refreshing = None
            if self._refresh_again:
                self._refresh_again = False
                self.refresh()

        task = Task("Read the database", lambda: gather_db_info(client, db), generator=False, show_in_jobs=False)
        task.succeeded.connect(done)
        task.failed.connect(lambda e: self.errorRaised.emit("Cannot read the database", plain_message(e)))
        task.finished.connect(finished)
        self._refreshing = task
        task.start()

    def collection(self, name: str | None = None) -> CollectionInfo | None:
        return self.info.collections.get(name if name is not None else self.current)

    def set_current(self, name: str) -> None:
        if name != self.current:
            self.current = name
            self.currentCollectionChanged.emit(name)

    # --- work ------------------------------------------------------------------------
    def run(self, task: Task) -> Task:
        """Start a task and show it in the jobs panel (when it asks to be shown)."""
        task.failed.connect(lambda e, t=task: self.message.emit(f"{t.title}: {plain_message(e)}"))
        if task.show_in_jobs:
            self.taskStarted.emit(task)
        return task.start()

    def call(self, title: str, fn: Callable[[], Any], on_result: Callable[[Any], None] | None = None,
             refresh: bool = False, changed: str | None = None, show: bool = False,
             on_error: Callable[[BaseException], None] | None = None, owner: QObject | None = None) -> Task:
        """Run a database call on a worker; errors become a plain message; optionally refresh after.

        `owner` (the view asking) owns the task: if it is closed first, its callbacks are not called.
        """
        task = Task(title, fn, generator=False, show_in_jobs=show, parent=owner)
        if on_result is not None:
            task.succeeded.connect(on_result)
        if on_error is not None:
            task.failed.connect(on_error)
        else:
            task.failed.connect(lambda e: self.errorRaised.emit(title, plain_message(e)))
        if refresh:
            task.finished.connect(self.refresh)
        if changed:
            task.succeeded.connect(lambda _r: self.dataChanged.emit(changed))
        return self.run(task)

    def model_choice(self) -> ModelChoice:
        return self.settings.model_choice() or default_model_choice()
