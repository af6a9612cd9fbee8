"""Issue 13: the app shows live data. Rows that a separate process writes into the open database
appear in the collections tree, the data view and the inspector without user action, and the
status bar names the process that holds the write lock while it holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ui.main_window.main_window import TAB_DATA, TAB_INSPECTOR

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _make(ctx: Any, qtbot: Any) -> None:
    from workbench.backends import FLOAT_VECTOR, INT64

    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": 4}}]}
    ctx.backend.create_collection("live", schema, [{"field_name": "vector", "index_type": "FLAT",
                                                    "metric_type": "L2", "params": {}}])
    ctx.backend.insert("live", [{"id": i, "vector": [float(i), 0.0, 0.0, 1.0]} for i in range(3)])
    ctx.backend.flush("live")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("live")


def test_rows_written_by_another_process_appear(qtbot: Any, window: Any, ctx: Any) -> None:
    _make(ctx, qtbot)
    inspector = window.show_tab(TAB_INSPECTOR)
    window.show_tab(TAB_DATA)
    qtbot.waitUntil(lambda: "3 rows" in window.data_view.count_label.text(), timeout=20000)
    qtbot.waitUntil(lambda: "3 rows stored" in inspector.summary.text(), timeout=20000)
    qtbot.waitUntil(lambda: window.live.polls > 0, timeout=10000)  # the watcher has its first tokens

    writer = _python(f"""
        from engine import MilvusClient
        c = MilvusClient({ctx.db_path!r})
        c.insert("live", [{{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]}} for i in range(100, 105)])
        c.flush("live")
        c.close()
    """)
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err

    item = window.browser.item_for("live")
    qtbot.waitUntil(lambda: window.browser.item_for("live") is not None
                    and window.browser.item_for("live").text(1).startswith("8 rows"), timeout=10000)
    qtbot.waitUntil(lambda: "8 rows" in window.data_view.count_label.text(), timeout=10000)
    qtbot.waitUntil(lambda: window.data_view.model.rowCount() == 8, timeout=10000)
    qtbot.waitUntil(lambda: "8 rows stored" in inspector.summary.text(), timeout=10000)
    assert item is not None


def test_status_bar_names_the_process_holding_the_write_lock(qtbot: Any, window: Any, ctx: Any,
                                                            tmp_path: Path) -> None:
    _make(ctx, qtbot)
    release = tmp_path / "release"
    # a long write, as a notebook's big insert is: the lock is held until the test lets go
    holder = _python(f"""
        import pathlib, sys, time
        from engine import MilvusClient
        c = MilvusClient({ctx.db_path!r})
        with c.db.write_lock.held(None, "a long write"):
            print("held", flush=True)
            while not pathlib.Path({str(release)!r}).exists():
                time.sleep(0.05)
        c.close()
    """)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        qtbot.waitUntil(lambda: window.lock_status.isVisible()
                        and f"pid {holder.pid}" in window.lock_status.text(), timeout=10000)
    finally:
        release.touch()
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    qtbot.waitUntil(lambda: not window.lock_status.isVisible(), timeout=10000)
    assert window.lock_status.text() == ""
