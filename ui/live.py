"""Live data: notice writes by other processes (a notebook, the CLI) and refresh the views.

`LiveWatcher` polls the open backend's two cheap calls (`change_token`, `write_lock_holder`;
capability "live_changes") on a worker every `interval_ms`. When the list of collections
changes it refreshes the context's snapshot (the collections browser, the index tab);
when a collection's rows change it also emits `ctx.dataChanged` for it (the data view and
the inspector reload). The process that holds the write lock is reported by
`holderChanged` (the status bar shows it). Backends without the capability (Milvus) are
not polled; their writes show on Refresh (F5).
"""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ui.context import AppContext
from ui.shared.errors import plain_message
from ui.shared.workers import Task

POLL_MS = 750


def read_tokens(backend: Any, names: list[str]) -> tuple[str | None, dict[str, str | None], dict[str, Any] | None]:
    """(token of the collection list, token per collection, write-lock holder); runs on a worker."""
    db_token = backend.change_token(None)
    tokens: dict[str, str | None] = {}
    for name in names:
        try:
            tokens[name] = backend.change_token(name)
        except Exception:  # dropped meanwhile: the list token says so
            tokens[name] = None
    return db_token, tokens, backend.write_lock_holder()


def holder_text(holder: dict[str, Any] | None) -> str:
    """"Writing: pid 123 (ingest.py, 4 s)", "Writing: this app", or "" when nobody writes."""
    if not holder:
        return ""
    if holder.get("pid") == os.getpid():
        return "Writing: this app"
    since = holder.get("since")
    age = f", {max(0, int(time.time() - float(since)))} s" if isinstance(since, (int, float)) else ""
    return f"Writing: pid {holder.get('pid')} ({holder.get('program') or '?'}{age})"


class LiveWatcher(QObject):
    """Polls the open backend for changes made by any process; see the module docstring."""

    holderChanged = Signal(object)  # the write-lock holder dict, or None (after every poll)
    changed = Signal(str)  # a collection whose rows changed ("" for the list of collections)

    def __init__(self, ctx: AppContext, interval_ms: int = POLL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._backend: Any = None
        self._db_token: str | None = None
        self._tokens: dict[str, str | None] = {}
        self._holder: dict[str, Any] | None = None
        self._task: Task | None = None
        self.polls = 0
        self.error = ""
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        ctx.databaseOpened.connect(lambda _where: self._reset())
        self.timer.start()

    def _reset(self) -> None:
        """A new backend: forget the old tokens (the first poll only records the new ones)."""
        self._backend = self.ctx.backend
        self._db_token = None
        self._tokens = {}
        self._set_holder(None)

    def stop(self) -> None:
        self.timer.stop()

    def poll(self) -> Task | None:
        """Start one poll on a worker (none while one is in flight, or without the capability)."""
        backend = self.ctx.backend
        if self._task is not None or backend is None or not self.ctx.supports("live_changes"):
            return None
        if backend is not self._backend:
            self._reset()
        names = sorted(self.ctx.info.collections)
        task = Task("Watch the database", lambda: read_tokens(backend, names), generator=False,
                    show_in_jobs=False, parent=self)
        task.succeeded.connect(lambda res: self._compare(backend, res))
        task.failed.connect(self._failed)
        task.finished.connect(lambda: setattr(self, "_task", None))
        self._task = task
        return task.start()

    def _failed(self, e: BaseException) -> None:
        msg = plain_message(e)
        if msg != self.error:  # said once, not every poll
            self.error = msg
            self.ctx.message.emit(f"Cannot watch the database for changes: {msg}")

    def _compare(self, backend: Any, res: tuple[str | None, dict[str, str | None], dict[str, Any] | None]) -> None:
        if backend is not self.ctx.backend:
            return
        self.polls += 1
        self.error = ""
        db_token, tokens, holder = res
        refresh = self._db_token is not None and db_token != self._db_token
        if refresh:
            self.changed.emit("")
        self._db_token = db_token
        for name, token in tokens.items():
            old = self._tokens.get(name)
            self._tokens[name] = token
            if old is not None and token is not None and token != old:
                refresh = True
                self.ctx.dataChanged.emit(name)
                self.changed.emit(name)
        if refresh:
            self.ctx.refresh()
        self._set_holder(holder)

    @property
    def holder(self) -> dict[str, Any] | None:
        return self._holder

    def _set_holder(self, holder: dict[str, Any] | None) -> None:
        self._holder = holder
        self.holderChanged.emit(holder)  # every poll: the status bar shows for how long
