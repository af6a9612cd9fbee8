"""Finished tasks are freed: neither the view that owns them nor a slot that captured them keeps them.

Found by the soak test (issue 10): every memory read-out (one each 2 s), collection switch, page
load and search left its Task, and with it its result, in memory for as long as the window lived.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject

from tests.gui.conftest import wait_task
from tests.gui.refcounts import settle
from ui.shared.workers import Task


def _flush() -> None:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()


def _tasks() -> int:
    gc.collect()
    return sum(isinstance(o, Task) for o in gc.get_objects())


def test_a_finished_task_goes_with_its_result_though_a_slot_captured_it(qtbot: Any) -> None:
    owner = QObject()
    task = Task("work", lambda: bytearray(10_000_000), generator=False, parent=owner)
    got: list[Any] = []
    task.succeeded.connect(lambda r, t=task: got.append((t.title, len(r))))  # the pattern of ctx.run / views
    task.start()
    wait_task(qtbot, task)
    assert task.state == "done" and got == [("work", 10_000_000)]
    gone = weakref.ref(task)
    del task
    _flush()
    assert gone() is None  # before the fix: kept by `owner` and by the slot's reference to it
    assert owner.children() == []


def test_state_and_result_stay_readable_after_the_task_is_gone(qtbot: Any) -> None:
    task = Task("answer", lambda: 42, generator=False).start()
    wait_task(qtbot, task)
    _flush()
    assert (task.state, task.result, task.running, task.error) == ("done", 42, False, None)
    task.cancel()  # a late cancel (a view's shutdown) is a no-op, not an error


def test_the_window_does_not_keep_a_task_per_read_out_or_search(qtbot: Any, window: Any, pics: Any,
                                                                 tmp_path: Any) -> None:
    from tests.gui.conftest import ingest_now, make_images

    make_images(tmp_path / "more", 6)
    ingest_now(pics, tmp_path / "more", "more")
    with qtbot.waitSignal(pics.infoChanged, timeout=30000):
        pics.refresh()
    panel = window.search_panel
    window._update_memory()
    panel.text_edit.setText("a red square")
    wait_task(qtbot, panel.search_text())
    settle(qtbot)
    start = _tasks()
    for i in range(25):
        window._update_memory()
        settle(qtbot)
        pics.set_current("pics" if i % 2 else "more")  # the data view loads a page each time
        wait_task(qtbot, panel.search_text())
        assert panel.task.state == "done", panel.task.error
        settle(qtbot)
    _flush()
    assert _tasks() <= start + 2  # before the fix: 25 read-outs + 25 searches + the data view's page loads
    assert window.mem_status.text().startswith("RAM")


def test_an_import_leaves_no_dialog_behind(qtbot: Any, window: Any, ctx: Any, tmp_path: Any) -> None:
    """Each drop made an IngestDialog, a child of the window, that stayed after the import."""
    from tests.gui.conftest import drop_paths, make_images
    from ui.ingest.ingest_dialog import IngestDialog

    make_images(tmp_path / "imgs", 3)
    for i in range(4):
        assert drop_paths(window, [tmp_path / "imgs"])
        qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
        window.ingest_dialog.new_name.setText(f"c{i}")
        window.ingest_dialog.import_button.click()
        wait_task(qtbot, window.last_task)
    assert drop_paths(window, [tmp_path / "imgs"])  # a dialog dismissed goes too
    qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
    window.ingest_dialog.reject()
    settle(qtbot)
    _flush()
    assert window.findChildren(IngestDialog) == []
    assert sum(isinstance(o, IngestDialog) for o in gc.get_objects()) == 0
