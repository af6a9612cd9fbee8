"""ui.shared.workers: generator and function tasks, errors, cancel, and the event loop turning meanwhile."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QTimer

from tests.gui.conftest import wait_task
from ui.shared.workers import JobTask, Task, live_tasks, run_in_background


def test_generator_task_reports_progress_and_result(qtbot: Any) -> None:
    def work() -> Any:
        yield from range(5)
        return "done"

    events: list[Any] = []
    task = Task("count", work)
    task.progress.connect(events.append)
    with qtbot.waitSignal(task.succeeded, timeout=10000) as sig:
        task.start()
    assert sig.args == ["done"]
    assert task.state == "done"
    assert events and events[-1] == 4  # throttled, but the last event always arrives
    qtbot.waitUntil(lambda: task not in live_tasks(), timeout=5000)


def test_function_task_and_failure_in_plain_words(qtbot: Any) -> None:
    got: list[Any] = []
    run_in_background(lambda: 6 * 7, on_result=got.append)
    qtbot.waitUntil(lambda: got == [42], timeout=10000)

    def boom() -> None:
        raise RuntimeError("torch said no")  # superqt swallows RuntimeErrors without this wrapper

    task = Task("boom", boom, generator=False)
    with qtbot.waitSignal(task.failed, timeout=10000) as sig:
        task.start()
    assert isinstance(sig.args[0], RuntimeError)
    assert task.state == "failed"


def test_cancel_closes_a_generator(qtbot: Any) -> None:
    release = threading.Event()
    closed = threading.Event()

    def work() -> Any:
        try:
            i = 0
            while True:
                yield i
                i += 1
                release.wait(0.01)
        finally:
            closed.set()

    task = Task("forever", work)
    task.start()
    qtbot.waitUntil(lambda: task.last_event is not None, timeout=10000)
    with qtbot.waitSignal(task.cancelled, timeout=10000):
        task.cancel()
    assert closed.is_set()
    assert task.state == "cancelled"


def test_job_task_lets_the_job_finish_its_report(qtbot: Any) -> None:
    from workbench.jobs import Job, Progress

    def body(job: Job) -> Any:
        for i in range(1000):
            if job.cancelled:
                job.report = f"stopped at {i}"
                yield Progress("cancelled", files_done=i, files_total=1000)
                return
            yield Progress("ingesting", files_done=i, files_total=1000)
            threading.Event().wait(0.002)
        job.report = "all"

    task = JobTask(Job(body, "job"))
    task.start()
    qtbot.waitUntil(lambda: task.last_event is not None, timeout=10000)
    with qtbot.waitSignal(task.cancelled, timeout=10000):
        task.cancel()
    assert task.job.report.startswith("stopped at")


def test_event_loop_keeps_turning_while_a_task_blocks(qtbot: Any) -> None:
    gate = threading.Event()
    inside = threading.Event()

    def work() -> str:
        inside.set()
        gate.wait(30)
        return "ok"

    ticks = [0]
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start()
    task = Task("blocked", work, generator=False).start()
    qtbot.waitUntil(inside.is_set, timeout=10000)
    before = ticks[0]
    qtbot.waitUntil(lambda: ticks[0] >= before + 10, timeout=10000)  # the UI thread is free
    assert task.running
    gate.set()
    wait_task(qtbot, task)
    timer.stop()
    assert task.result == "ok"
