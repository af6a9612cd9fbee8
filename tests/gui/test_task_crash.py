"""Tasks finishing while widgets are deleted must not crash the app.

Found in a CI run (issue 10): the main window segfaulted in ~QObject while it opened a database on a
worker, and the documents Data view did in about one test run in three. Two causes, both in the
deferred deletion of a finished Task:
- it was still connected to its superqt worker's signals object; disconnecting there asked that
  object's Python wrapper, already freed with the worker, for an override of `disconnectNotify`;
- slots that capture the task (the views' bookkeeping) were released inside ~QObject, and with them
  the last reference to the task's Python wrapper, freed in the middle of the object's destructor.
`Task._finish` now cuts both kinds of connection itself, on the UI thread, before `deleteLater`.
The churn below runs in a child process, so a crash fails this test instead of ending the test run;
it crashed in 8 runs of 9 before the first fix. The second is exercised by
tests/gui/test_document_search.py::test_data_view_shows_every_column_of_a_documents_collection, which
crashed in 8 runs of 16 before it and in none of 8 after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

CHURN = Path(__file__).with_name("task_churn.py")


def test_tasks_finishing_while_widgets_are_deleted_do_not_crash() -> None:
    rounds = int(os.environ.get("TASK_CHURN_ROUNDS", "3000"))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(CHURN), str(rounds)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode != -signal.SIGSEGV, f"segfault:\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.split() == ["ok", str(3 * rounds), str(3 * rounds)]
