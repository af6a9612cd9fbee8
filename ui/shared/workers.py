"""Background work for the UI: thin wrappers over superqt's `create_worker` (as napari does).

A `Task` runs a generator (progress events) or a plain function on the thread
pool and reports back through Qt signals, which are delivered on the main
thread. Everything that touches the database, the disk or a model goes through
a Task, so the UI thread never waits on I/O.

    task = Task("Build index", lambda: backend.create_index_iter(name, [spec]))
    task.progress.connect(show)          # each yielded event (throttled to ~20/s)
    task.succeeded.connect(done)         # the generator's return value / the function's result
    task.failed.connect(show_error)      # the exception
    task.start()
    task.cancel()                        # stops at the next event (or asks a Job to stop)

A `workbench.jobs.Job` is cancelled with `job.quit()` and then runs to its own
end (it commits whole batches and writes its report); other generators are
closed at the next event.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from superqt.utils import create_worker

MIN_THREADS = 8
_EMIT_INTERVAL_S = 0.05
_live: set[Task] = set()


def ensure_thread_pool() -> QThreadPool:
    """The global pool, with enough threads that a long job never starves quick reads."""
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_THREADS:
        pool.setMaxThreadCount(MIN_THREADS)
    return pool


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Cancelled:
    pass


_CANCELLED = _Cancelled()


class Task(QObject):
    """One unit of background work with progress, result, error and cancel signals."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()  # always, after one of succeeded / failed / cancelled

    def __init__(
        self,
        title: str,
        work: Callable[[], Any],
        *,
        generator: bool | None = None,
        on_cancel: Callable[[], None] | None = None,
        drain_on_cancel: bool = False,
        show_in_jobs: bool = True,
        parent: QObject | None = None,
    ) -> None:
        """`work()` returns an iterator of events (generator tasks) or a result (function tasks).

        `on_cancel` is called on the main thread when cancel() is asked for; with
        `drain_on_cancel` the iterator is run to its end afterwards (a Job stops itself).
        """
        super().__init__(parent)
        self.title = title
        self._work = work
        self._generator = generator
        self._on_cancel = on_cancel
        self._drain = drain_on_cancel
        self.show_in_jobs = show_in_jobs
        self._cancel = threading.Event()
        self.state = "pending"  # pending, running, done, failed, cancelled
        self.result: Any = None
        self.error: BaseException | None = None
        self.last_event: Any = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._worker: Any = None
        # The newest event, written by the worker and shown by a timer on the UI thread, so a step
        # that takes long still shows what it is doing even when its event was held back by throttling.
        self._latest: Any = None
        self._seq = 0
        self._shown = 0
        self._poll = QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._show_latest)

    # --- control ---------------------------------------------------------------------
    def start(self) -> Task:
        ensure_thread_pool()
        self.state = "running"
        self.started_at = time.monotonic()
        _live.add(self)
        worker = create_worker(self._drive, _start_thread=False)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        self._worker = worker
        self._poll.start()
        worker.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop (thread-safe to call more than once)."""
        if self.state not in ("pending", "running") or self._cancel.is_set():
            return
        self._cancel.set()
        if self._on_cancel is not None:
            try:
                self._on_cancel()
            except Exception:  # a cancel hook must never take the UI down
                pass

    @property
    def is_cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    # --- worker side -----------------------------------------------------------------
    def _drive(self) -> Iterator[Any]:
        """Runs on the worker thread; yields throttled events, returns the outcome."""
        try:
            out = self._work()
            is_gen = self._generator if self._generator is not None else isinstance(out, Iterator)
            if not is_gen:
                return _CANCELLED if self._cancel.is_set() else out
            it = out
            last_emit = 0.0
            pending: Any = None
            has_pending = False
            value: Any = None
            while True:
                if self._cancel.is_set() and not self._drain:
                    close = getattr(it, "close", None)
                    if close is not None:
                        close()
                    return _CANCELLED
                try:
                    event = next(it)
                except StopIteration as stop:
                    value = stop.value
                    break
                self._latest, self._seq = event, self._seq + 1
                now = time.monotonic()
                if now - last_emit >= _EMIT_INTERVAL_S:
                    last_emit = now
                    has_pending = False
                    yield (self._seq, event)
                else:
                    pending, has_pending = (self._seq, event), True
            if has_pending:
                yield pending
            if self._cancel.is_set():
                return _CANCELLED if value is None else value
            return value
        except BaseException as e:
            return _Failure(e)

    # --- main-thread side ------------------------------------------------------------
    def _on_yielded(self, item: tuple[int, Any]) -> None:
        seq, event = item
        if seq <= self._shown:  # the timer showed this one, or a newer one, already
            return
        self._shown = seq
        self.last_event = event
        self.progress.emit(event)

    def _show_latest(self) -> None:
        seq, event = self._seq, self._latest
        if seq > self._shown and event is not None:
            self._shown = seq
            self.last_event = event
            self.progress.emit(event)

    def _on_returned(self, value: Any) -> None:
        self._poll.stop()
        self._show_latest()
        self.ended_at = time.monotonic()
        if isinstance(value, _Failure):
            self.state = "failed"
            self.error = value.exc
            self.failed.emit(value.exc)
        elif value is _CANCELLED or (self._cancel.is_set() and value is None):
            self.state = "cancelled"
            self.cancelled.emit()
        else:
            self.state = "cancelled" if self._cancel.is_set() else "done"
            self.result = value
            if self.state == "cancelled":
                self.cancelled.emit()
            else:
                self.succeeded.emit(value)
        self._finish()

    def _on_errored(self, exc: BaseException) -> None:  # only for errors outside _drive
        self._poll.stop()
        self.ended_at = time.monotonic()
        self.state = "failed"
        self.error = exc
        self.failed.emit(exc)
        self._finish()

    def _finish(self) -> None:
        self._disconnect_worker()
        self.finished.emit()
        _live.discard(self)
        self._disconnect_listeners()
        # A finished task emits nothing more: its Qt object goes now. Kept, it would hold every slot
        # connected to it, and a slot that captured the task (`lambda e, t=task: ...`) makes a cycle
        # through Qt that Python's collector cannot see, so each search, page load and memory
        # read-out (with its result) stayed in memory for good, as a child of its view or not.
        # Its Python attributes (state, result, error, job_report) stay readable while it is held.
        self.deleteLater()

    def _disconnect_worker(self) -> None:
        """Cut the worker's connections to this task, here on the UI thread, while the worker (and so
        its signals object) is still held.

        Left connected, the task's deletion (deleteLater, or its parent's) would disconnect them
        itself, asking the signals object for its Python override of `disconnectNotify`; once the
        worker is released its signals object's Python wrapper may already be freed while the Qt
        object lives on, and that look-up crashed the app (a segfault in ~QObject; see
        tests/gui/test_task_lifetime.py)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        for signal, slot in ((worker.yielded, self._on_yielded), (worker.returned, self._on_returned),
                             (worker.errored, self._on_errored)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone
                pass

    def _disconnect_listeners(self) -> None:
        """Drop every slot connected to this task's signals now, on the UI thread, outside any destructor.

        Slots often capture the task (`task.finished.connect(lambda: forget(task))`). Left connected,
        they would be released inside ~QObject when the deferred deletion runs, the last reference to
        the task's Python wrapper with them, and freeing the wrapper of an object in the middle of its
        own destructor crashed the app (~QObject; tests/gui/test_task_crash.py)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "Failed to disconnect": nothing connected
            for signal in (self.progress, self.succeeded, self.failed, self.cancelled, self.finished):
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):
                    pass

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at


def run_in_background(
    fn: Callable[[], Any],
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    parent: QObject | None = None,
) -> Task:
    """Run a quick function off the UI thread (not shown in the jobs panel)."""
    task = Task(getattr(fn, "__name__", "background"), fn, generator=False, show_in_jobs=False, parent=parent)
    if on_result is not None:
        task.succeeded.connect(on_result)
    if on_error is not None:
        task.failed.connect(on_error)
    return task.start()


def live_tasks() -> list[Task]:
    """Tasks started and not finished yet (a task deleted with the view that owned it no longer counts)."""
    import shiboken6

    for t in [t for t in _live if not shiboken6.isValid(t)]:
        _live.discard(t)
    return list(_live)


class JobTask(Task):
    """A `workbench.jobs.Job` as a Task: cancel() calls `job.quit()` and lets the job finish cleanly."""

    def __init__(self, job: Any, title: str | None = None, parent: QObject | None = None) -> None:
        def work() -> Iterator[Any]:
            yield from job
            return job.report

        super().__init__(title or job.title, work, generator=True, on_cancel=job.quit, drain_on_cancel=True,
                         parent=parent)
        self.job = job

    @property
    def job_report(self) -> Any:
        return self.job.report
