"""The app's shared state: the open backend, what is known about it, and the task runner.

Every view gets the one `AppContext`. The app works on either backend through the
`workbench.backends.Backend` protocol: the embedded engine on a database directory, or
Milvus (a server, or a Milvus Lite file). Reading the backend happens on worker threads
(`refresh()` gathers a `DbInfo` snapshot); views read the snapshot on the UI thread and
listen to the signals. What a backend cannot do is asked of `ctx.capabilities`
(`supports(feature)`, `why_not(feature)`), so views hide or explain it instead of failing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ui.app_settings import AppSettings, ModelChoice
from ui.models.embedder_provider import EmbedderProvider, default_model_choice
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import Task, run_in_background


@dataclass
class IndexInfo:
    """One index as the views show it; row progress is None where the backend does not report it."""

    name: str
    field: str
    index_type: str
    metric: str
    params: dict[str, Any]
    indexed_rows: int | None = 0
    pending_rows: int | None = 0
    state: str = ""
    reason: str = ""  # why the index is not built, where the backend says

    @property
    def search_param(self) -> str:
        """The search-time parameter of this index type: "nprobe" (IVF), "ef" (HNSW, AUTOINDEX), "" (exact)."""
        return search_param_for(self.index_type)

    @property
    def built(self) -> bool:
        """Whether every row the index covers is indexed (or the backend does not say otherwise)."""
        return self.state in ("", "Finished")

    @property
    def progress_text(self) -> str:
        """"Finished (30/30)", or the state alone when the rows are not reported."""
        if self.indexed_rows is None:
            return self.state
        total = self.indexed_rows + (self.pending_rows or 0)
        return f"{self.state} ({self.indexed_rows:,}/{total:,})".strip()


def search_param_for(index_type: str | None) -> str:
    """The search-time parameter an index type takes: "nprobe" (IVF), "ef" (HNSW, AUTOINDEX), "" (exact)."""
    t = (index_type or "").upper()
    if "IVF" in t:
        return "nprobe"
    if "HNSW" in t or t == "AUTOINDEX":
        return "ef"
    return ""


def index_info(ix: Any) -> IndexInfo:
    """The view's IndexInfo from a backend's `workbench.backends.IndexInfo`."""
    return IndexInfo(ix.index_name or ix.field_name, ix.field_name, ix.index_type, ix.metric_type or "",
                     dict(ix.params), ix.indexed_rows, ix.pending_index_rows, ix.state or "",
                     getattr(ix, "state_reason", "") or "")


@dataclass
class CollectionInfo:
    """What the UI shows about one collection (a snapshot taken on a worker)."""

    name: str
    rows: int | None  # live rows; None when the backend could not count them
    loaded: bool
    description: dict[str, Any]  # describe_collection() with the neutral schema's fields
    schema: Any  # engine.CollectionSchema, built from the neutral schema
    partitions: list[str]
    indexes: list[IndexInfo]
    kind: str | None = None
    model: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def vector_paths(self) -> list[str]:
        return [p for p, _ in self.schema.vector_fields()] if self.schema is not None else []

    @property
    def function_outputs(self) -> set[str]:
        """Fields a schema function (BM25) fills: the engine, as Milvus, never returns them, so a view
        must not ask for them by name, nor search them with a stored or embedded vector."""
        if self.schema is None:
            return set()
        return {f.name for f in self.schema.fields if f.is_function_output}

    @property
    def stored_vector_paths(self) -> list[str]:
        """The vector fields whose values can be read (and searched with a vector): not function outputs."""
        outputs = self.function_outputs
        return [p for p in self.vector_paths if p not in outputs]

    def index_for(self, path: str) -> IndexInfo | None:
        return next((i for i in self.indexes if i.field == path), None)

    @property
    def rows_text(self) -> str:
        return plural(self.rows, "row") if self.rows is not None else "rows not counted"

    @property
    def is_demo(self) -> bool:
        from ui.models.embedder_provider import is_demo_model

        return is_demo_model(self.meta)


@dataclass
class DbInfo:
    path: str  # the embedded database directory, or the backend's label
    collections: dict[str, CollectionInfo] = field(default_factory=dict)


def gather_collection(backend: Any, name: str) -> CollectionInfo:
    """Describe one collection through the Backend protocol (runs on a worker)."""
    from engine import CollectionSchema
    from workbench.backends import BackendError, normalize_schema
    from workbench.templates import collection_kind, read_meta

    desc = dict(backend.describe_collection(name))
    schema = CollectionSchema.from_dict(engine_schema_dict(normalize_schema(desc)))
    loaded = bool(backend.is_loaded(name))
    try:
        rows: int | None = int(backend.count(name))
    except BackendError:  # e.g. a server that cannot query a released collection
        rows = None
    indexes = [index_info(ix) for ix in backend.list_indexes(name)]
    try:
        meta = read_meta(backend, name) or {}
    except Exception:
        meta = {}
    try:
        kind = collection_kind(backend, name, desc)
    except Exception:
        kind = None
    return CollectionInfo(name, rows, loaded, desc, schema, list(backend.list_partitions(name)), indexes,
                          kind, model_text(meta), meta)


def engine_schema_dict(neutral: dict[str, Any]) -> dict[str, Any]:
    """A neutral schema (`workbench.backends.normalize_schema`) in the form `CollectionSchema.from_dict`
    reads: its functions name their type ("BM25"), the engine's Function takes pymilvus's number."""
    from engine import FunctionType

    functions = neutral.get("functions")
    if not functions:
        return neutral
    out = dict(neutral)
    out["functions"] = []
    for fn in functions:
        kind = fn.get("type")
        if isinstance(kind, str):
            try:
                kind = FunctionType[kind.upper()]
            except KeyError:
                raise ValueError(f"function {fn.get('name')!r} has an unknown type {kind!r}") from None
        out["functions"].append({**fn, "type": kind})
    return out


def model_text(meta: dict[str, Any]) -> str | None:
    """The model that embedded a collection, in the CLI's words."""
    from workbench.embedders import EmbedderIdentity

    rec = meta.get("embedder")
    try:
        return EmbedderIdentity.from_dict(rec).describe() if rec else None
    except (KeyError, TypeError, ValueError):
        return None


def gather_db_info(backend: Any, where: str) -> DbInfo:
    """Everything the collections browser shows (runs on a worker)."""
    info = DbInfo(where)
    for name in sorted(backend.list_collections()):
        try:
            info.collections[name] = gather_collection(backend, name)
        except Exception as e:  # one broken collection must not hide the others
            info.collections[name] = CollectionInfo(name, 0, False, {}, None, [], [], error=plain_message(e))
    return info


def _is_backend(obj: Any) -> bool:
    return hasattr(obj, "capabilities") and hasattr(obj, "workspace") and hasattr(obj, "list_collections")


class AppContext(QObject):
    """The open backend, its snapshot, the embedders and the running tasks.

    `backend` is a `workbench.backends.Backend` (None until one is open); `db_path` is the
    database directory when it is the embedded engine ("" otherwise); `label` says which
    backend it is, for the window title and the status bar.
    """

    databaseOpened = Signal(str)  # what was opened: the directory, or the backend's label
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
        self.backend: Any = None
        self.db_path: str = ""
        self.label: str = ""
        self.info = DbInfo("")
        self.current: str = ""
        self._refreshing: Task | None = None
        self._refresh_again = False
        self.refresh_count = 0

    # --- capabilities ----------------------------------------------------------------
    @property
    def capabilities(self) -> Any:
        """The open backend's `Capabilities` (None when nothing is open)."""
        return self.backend.capabilities if self.backend is not None else None

    def supports(self, feature: str) -> bool:
        """Whether the open backend can do `feature` (see workbench.backends.FEATURES)."""
        return self.backend is not None and bool(self.backend.capabilities.supports(feature))

    def why_not(self, feature: str) -> str | None:
        """None when the open backend supports `feature`; else one sentence saying why not."""
        if self.backend is None:
            return "no database is open"
        return self.backend.capabilities.why_not(feature)

    @property
    def is_embedded(self) -> bool:
        return self.backend is not None and self.backend.capabilities.kind == "embedded"

    # --- opening ---------------------------------------------------------------------
    def open(self, target: Any) -> Task | None:
        """Open a backend; emits databaseOpened (then infoChanged) or databaseFailed.

        `target`: a database directory (the embedded engine, created when missing), an already
        opened Backend (from the connections dialog), a `BackendSpec`, or a function that opens
        and returns a Backend. Anything that connects runs on a worker; an opened Backend is
        adopted at once (None is returned then).
        """
        if _is_backend(target):
            self._adopt(target, "")
            return None
        if isinstance(target, (str, os.PathLike)):
            path = str(Path(target).expanduser())

            def work() -> Any:
                from workbench.backends import EmbeddedBackend

                return EmbeddedBackend(path)

            return self._open_on_worker(f"Open {path}", work, path)
        if callable(target):
            return self._open_on_worker("Connect", target, "")

        spec = target

        def open_spec() -> Any:
            from workbench.backends import open_backend

            return open_backend(spec)

        return self._open_on_worker(f"Connect to {getattr(spec, 'uri', 'the backend')}", open_spec, "")

    def open_database(self, path: str | os.PathLike[str]) -> Task:
        """Open (or create) an embedded database directory on a worker."""
        task = self.open(path)
        assert task is not None
        return task

    def open_backend(self, backend: Any) -> None:
        """Use an already opened Backend (the connections dialog opens it on a worker)."""
        self._adopt(backend, "")

    def _open_on_worker(self, title: str, work: Callable[[], Any], path: str) -> Task:
        def failed(e: BaseException) -> None:
            msg = plain_message(e)
            self.databaseFailed.emit(msg)
            self.errorRaised.emit("Cannot open the database", msg)

        task = Task(title, work, generator=False, show_in_jobs=False)
        task.succeeded.connect(lambda backend: self._adopt(backend, path))
        task.failed.connect(failed)
        return task.start()

    def _adopt(self, backend: Any, path: str) -> None:
        old = self.backend
        self.backend = backend
        embedded = backend.capabilities.kind == "embedded"
        self.db_path = path or (str(getattr(backend, "path", "")) if embedded else "")
        self.label = str(backend.label)
        self.info = DbInfo(self.db_path or self.label)
        self.current = ""
        if old is not None and old is not backend:
            run_in_background(old.close)
        if self.db_path:
            self.settings.add_recent_database(self.db_path)
        self.databaseOpened.emit(self.db_path or self.label)
        self.refresh()

    @property
    def short_label(self) -> str:
        """A short name for the window title: the directory's name, or the backend's label."""
        if self.db_path:
            return Path(self.db_path).name
        return self.label

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:
                pass
            self.backend = None

    def refresh(self) -> None:
        """Re-read the database's collections on a worker; emits infoChanged when done."""
        if self.backend is None:
            return
        if self._refreshing is not None:
            self._refresh_again = True
            return
        backend, where = self.backend, self.db_path or self.label

        def done(info: DbInfo) -> None:
            if backend is self.backend:
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

        task = Task("Read the database", lambda: gather_db_info(backend, where), generator=False, show_in_jobs=False)
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
