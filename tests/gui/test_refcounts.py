"""The app's own update paths keep the reference counts of None, True and False (issue 10).

PySide6 6.12.0 on Python 3.10/3.11 drops a reference to None on every void Qt call and one to True
on every Signal.emit; the app then aborts with `Fatal Python error: none_dealloc` some minutes into
an import. These tests drive the paths a long import or index build hammers, several thousand times
in all, and fail (cleanly, see tests/gui/refcounts.py) on such a binding. docs/packaging.md says
which versions pyproject.toml allows and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ui.shared.workers
from tests.gui.conftest import drop_paths, make_images, wait_task
from tests.gui.refcounts import RefcountWatch, headroom, settle

pytestmark = pytest.mark.skipif(
    not RefcountWatch.can_fall(),
    reason="Python 3.12+: None, True and False are immortal, so their counts cannot fall (nor the app abort)")

CHUNKS = 12


@pytest.fixture(autouse=True, scope="module")
def _margin() -> Iterator[None]:
    """Set up before the window: on an affected binding, building it already loses thousands."""
    with headroom():
        yield


@pytest.fixture
def every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks pass on every event (no 20-per-second throttle), so each one crosses from the worker thread."""
    monkeypatch.setattr(ui.shared.workers, "_EMIT_INTERVAL_S", 0.0)


def _progress_job(n: int, title: str) -> Any:
    from workbench.jobs import Job, Progress

    def body(job: Job) -> Iterator[Progress]:
        for i in range(n):
            yield Progress("ingesting", files_done=i, files_total=n, rate=12.5, eta_s=n - i, current=f"f{i}.jpg",
                           errors=i % 3, ingested=i, message="working")
        job.report = f"{n} events"

    return Job(body, title=title)


def _build_events(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):  # the shape of ui.index.index_config.build_events / embedding_map.projection_events
        yield {"done": i, "total": n, "text": f"segment {i}", "indexed": i, "pending": n - i}
    return "built"


def test_jobs_panel_progress_from_worker_threads(qtbot: Any, window: Any, ctx: Any, every_event: None) -> None:
    """Job cards (progress bar, labels) fed by superqt workers: ~2,400 events, each emitted twice."""
    from ui.shared.workers import JobTask, Task

    watch = RefcountWatch()
    shown = 0
    for chunk in range(CHUNKS):
        task: Task = JobTask(_progress_job(100, f"job {chunk}"), parent=window) if chunk % 2 else \
            Task(f"build {chunk}", lambda: _build_events(100), parent=window)
        ctx.run(task)
        wait_task(qtbot, task)
        assert task.state == "done", task.error
        settle(qtbot)
        card = window.jobs.card_for(task)
        assert card is not None and card.bar.value() == card.bar.maximum()
        shown += card.events
        watch.check(f"jobs panel, chunk {chunk} ({card.events} events)")
        if chunk % 4 == 3:
            window.jobs.clear_finished()
    assert shown >= CHUNKS * 90  # the events really reached the cards, not only the last one


def test_real_imports_into_the_tree_and_status_bar(qtbot: Any, window: Any, ctx: Any, tmp_path: Path,
                                                   every_event: None) -> None:
    """The import of the issue: a folder dropped on the window, the import dialog, a job per folder,
    the tree and the status bar refreshed as batches commit."""
    watch = RefcountWatch()
    for i in range(4):
        folder = tmp_path / f"batch{i}"
        make_images(folder, 40, start=40 * i)
        assert drop_paths(window, [folder])
        qtbot.waitUntil(lambda: window.ingest_dialog is not None, timeout=5000)
        dlg = window.ingest_dialog
        if i == 0:
            dlg.new_name.setText("photos")
        else:
            dlg.existing_radio.setChecked(True)
            dlg.existing_combo.setCurrentText("photos")
        dlg.import_button.click()
        task = window.last_task
        wait_task(qtbot, task)
        assert task.state == "done", task.error
        assert task.job_report.new == 40, task.job_report.summary()
        settle(qtbot, lambda i=i: getattr(ctx.collection("photos"), "rows", 0) == 40 * (i + 1))
        assert window.rows_status.text() == f"{40 * (i + 1)} rows"
        watch.check(f"import, round {i}")


def test_collections_tree_and_collection_switches(qtbot: Any, window: Any, pics: Any, tmp_path: Path) -> None:
    """The collections tree rebuilt, collections switched (status bar, search panel, data view, tree
    selection), refreshes and the memory read-out: thousands of setText/setData/setIcon calls."""
    from tests.gui.conftest import ingest_now

    make_images(tmp_path / "more", 12)
    ingest_now(pics, tmp_path / "more", "more")
    with qtbot.waitSignal(pics.infoChanged, timeout=30000):
        pics.refresh()
    settle(qtbot)
    watch = RefcountWatch()
    for chunk in range(CHUNKS):
        for _ in range(15):  # each rebuild sets data, icons and tooltips on ~40 items
            window.browser.rebuild()
        watch.check(f"tree rebuild, chunk {chunk}")
        for name in ["more", "pics"] * 10:
            pics.set_current(name)
            assert window.coll_status.text() == f"Collection: {name}"
        settle(qtbot)
        watch.check(f"collection switches, chunk {chunk}")
        before = pics.refresh_count
        pics.refresh()
        window._update_memory()
        settle(qtbot, lambda before=before: pics.refresh_count > before)
        watch.check(f"refresh and memory read-out, chunk {chunk}")
    assert window.mem_status.text().startswith("RAM")


def test_thumbnails_decoded_on_pool_threads(qtbot: Any, window: Any, pics: Any, tmp_path: Path) -> None:
    """QRunnables on a QThreadPool emitting to the GUI thread (the thumbnail cache)."""
    from ui.shared.thumbnails import shared_cache

    paths = [str(p) for p in make_images(tmp_path / "thumbs", 60)]
    cache = shared_cache()
    loaded: list[str] = []
    cache.loaded.connect(loaded.append)
    watch = RefcountWatch()
    try:
        for chunk in range(CHUNKS):
            cache.clear()
            for p in paths:
                cache.get(p)
            settle(qtbot, lambda: cache.pending_count == 0)
            watch.check(f"thumbnails, chunk {chunk}")
    finally:
        cache.loaded.disconnect(loaded.append)
    ours = set(paths)
    assert sum(p in ours for p in loaded) == CHUNKS * len(paths)
