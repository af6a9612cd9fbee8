"""A child program for tests/gui/test_task_crash.py: many short Tasks beside widgets that come and go.

    python tests/gui/task_churn.py ROUNDS

Each round makes a widget, starts three quick Tasks (parented to it in odd rounds; a slot of each
captures its task), lets events run for a moment, then deletes the widget. Prints ``ok N M`` (tasks
succeeded, finished) when every task has finished and the deferred deletions are done; a crash ends
the process with SIGSEGV instead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QWidget

from ui.shared import workers
from ui.shared.workers import Task


def main(rounds: int) -> int:
    app = QApplication.instance() or QApplication([])
    done = [0]
    finished: list[str] = []

    def count(_: object) -> None:
        done[0] += 1

    start = time.monotonic()
    for i in range(rounds):
        widget = QWidget()
        for j in range(3):
            task = Task("churn", lambda j=j: j, generator=False, show_in_jobs=False,
                        parent=widget if i % 2 else None)
            task.succeeded.connect(count)
            # a slot that captures its task, as the views' bookkeeping does
            task.finished.connect(lambda task=task: finished.append(task.title))
            task.start()
            del task
        until = time.monotonic() + 0.002
        while time.monotonic() < until:
            app.processEvents()
        widget.deleteLater()
        del widget
    while workers._live and time.monotonic() - start < 120:
        app.processEvents()
        time.sleep(0.001)
    for _ in range(10):
        app.processEvents()
        QCoreApplication.sendPostedEvents(None, 0)
    print(f"ok {done[0]} {len(finished)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
