"""Make docs/screenshots/*.png of every view, offscreen, from a demo database built in a temp folder.

    .venv/bin/python scripts/make_screenshots.py [--out docs/screenshots] [--keep]

It runs the app's own code paths: the first-run screen, the demo collection
(pictures drawn by the app, embedded with the untrained demo model), a small
PDF collection, search, find-similar, the schema designer, index
configuration, the inspector with a recall check, the embedding map with a
selection, the jobs panel and the dark theme. Nothing is written outside the
temp folder and --out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _wait(app: Any, cond: Callable[[], bool], timeout: float = 180.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what or cond}")
        app.processEvents()
        time.sleep(0.01)


def _settle(app: Any, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def make_pdfs(folder: Path, count: int = 6, pages: int = 3) -> list[Path]:
    """Small PDFs whose pages are drawn pictures (Pillow writes them; they have no text layer)."""
    from ui.demo import BACKGROUNDS, COLOURS, SHAPES, draw_shape

    folder.mkdir(parents=True, exist_ok=True)
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    out = []
    for d in range(count):
        images = [draw_shape(SHAPES[(d + p) % len(SHAPES)], colours[(d * 2 + p) % len(colours)],
                             backgrounds[p % 2], seed=100 + d * 10 + p, size=(425, 550)) for p in range(pages)]
        path = folder / f"report-{d + 1:02d}.pdf"
        images[0].save(path, save_all=True, append_images=images[1:])
        out.append(path)
    return out


def make_vectors(client: Any, name: str = "vectors_20k", n: int = 20000, dim: int = 64) -> None:
    """A synthetic collection: clustered embedding-like vectors in several segments, some rows deleted."""
    import numpy as np

    from engine import DataType, MilvusClient

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((8, 16)) * 3
    cluster = rng.integers(0, 8, n)
    latent = centres[cluster] + rng.standard_normal((n, 16))
    x = latent @ rng.standard_normal((16, dim)) + 0.3 * rng.standard_normal((n, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("cluster", DataType.VARCHAR, max_length=16)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema)
    client._db.get(name).seal_rows = 6000  # several segments, for the inspector
    for i in range(0, n, 2000):
        client.insert(name, [{"id": j, "cluster": f"c{cluster[j]}", "vector": x[j].tolist()}
                             for j in range(i, min(i + 2000, n))])
    client.flush(name)
    client.delete(name, filter="id >= 1000 and id < 2500")
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 40})
    client.create_index(name, ip)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--keep", action="store_true", help="keep the temp folder (prints its path)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="vw-shots-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["VW_NO_ERROR_DIALOGS"] = "1"
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())

    from PySide6.QtCore import QPointF, QThreadPool
    from PySide6.QtGui import QFont

    import ui.dialogs
    from ui.app import create_app
    from ui.app_settings import AppSettings, ModelChoice, use_settings_dir
    from ui.context import AppContext
    from ui.main_window import TAB_DATA, TAB_INDEX, TAB_INSPECTOR, TAB_MAP, TAB_SCHEMA, TAB_SEARCH, MainWindow
    from ui.theme import apply_theme
    from ui.workers import ensure_thread_pool, live_tasks

    ui.dialogs.confirm = lambda *a, **k: True  # no modal questions offscreen
    use_settings_dir(tmp / "settings")
    app = create_app([])
    app.setFont(QFont("DejaVu Sans", 9))
    apply_theme(app, "light")
    ensure_thread_pool()
    settings = AppSettings()
    settings.set_model_choice(ModelChoice(kind="demo"))
    ctx = AppContext(settings, data_dir=tmp / "data")
    win = MainWindow(ctx)
    win.resize(1440, 900)
    win.show()
    shots: list[Path] = []

    def shot(name: str, widget: Any = None, settle: float = 0.4) -> None:
        _settle(app, settle)
        _wait(app, lambda: not any(t.running and not t.show_in_jobs for t in live_tasks()), 60, "quick tasks")
        _settle(app, 0.2)
        path = out / f"{name}.png"
        (widget or win).grab().save(str(path))
        shots.append(path)
        print("wrote", path)

    ctx.open_database(tmp / "demo.db")
    _wait(app, lambda: ctx.refresh_count > 0, 60, "database")
    shot("01-welcome")

    # the demo collection, through the app's own first-run button
    task = win.create_demo()
    assert task is not None
    _wait(app, lambda: task.state not in ("pending", "running"), 300, "demo collection")
    if task.state != "done":
        raise SystemExit(f"demo failed: {task.error}")
    # a PDF collection, through the import dialog
    pdfs = make_pdfs(tmp / "pdfs")
    dlg = win.files_dropped([str(pdfs[0].parent)])
    assert dlg is not None
    dlg.new_name.setText("demo_reports")
    _settle(app, 0.2)
    shot("05-import-dialog", dlg)
    dlg.import_button.click()
    job = win.last_task
    _wait(app, lambda: job.state not in ("pending", "running"), 300, "pdf import")
    _wait(app, lambda: ctx.current == "demo_reports", 30, "the new collection selected")

    ctx.set_current("demo_shapes")
    win.show_tab(TAB_DATA)
    dv = win.data_view
    _wait(app, lambda: dv.model.rowCount() > 0 and not dv.model.loading, 60, "data view")
    dv.select_row(2)
    _settle(app, 0.8)
    shot("02-data-view")

    dv.filter_bar.set_text('folder == "circles" and widht > 100')
    shot("03-filter-error")
    dv.filter_bar.set_text('folder == "circles" and width > 100')
    dv.filter_bar.apply()
    _wait(app, lambda: not dv.model.loading, 60, "filtered data")
    _settle(app, 0.8)
    shot("04-data-filtered")
    dv.filter_bar.clear()

    sp = win.show_tab(TAB_SEARCH)
    sp.text_edit.setText("a red circle on a white background")
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("06-search-text", settle=0.8)
    first = sp.results_model.hits[3].id if len(sp.results_model.hits) > 3 else sp.results_model.hits[0].id
    t = sp.find_similar("demo_shapes", first)
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "find similar")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("07-find-similar", settle=0.8)

    ctx.set_current("demo_reports")
    _settle(app, 0.3)
    sp.text_edit.setText("a blue star")
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "pdf search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("08-search-pdf-best-page", settle=0.8)
    ctx.set_current("demo_shapes")

    sd = win.show_tab(TAB_SCHEMA)
    sd.load_template("Product with multiple images")
    sd.select_path("images[embedding]")
    sd.f_dim.setValue(1)
    shot("09-schema-designer", settle=0.5)
    sd.f_dim.setValue(64)

    ic = win.show_tab(TAB_INDEX)
    ic.select_field("embedding")
    ic.type_combo.setCurrentText("HNSW")
    ic.param_spins["M"].setValue(24)
    bt = ic.build()
    if bt is not None:
        _wait(app, lambda: bt.state not in ("pending", "running"), 120, "index build")
    shot("10-index-config", settle=0.6)

    make_vectors(ctx.backend.client)  # the engine's own client: 20k rows written directly
    ctx.refresh()
    _wait(app, lambda: "vectors_20k" in ctx.info.collections, 30, "vectors collection")
    ctx.set_current("vectors_20k")
    insp = win.show_tab(TAB_INSPECTOR)
    _wait(app, lambda: insp.loads > 0 and insp.collection == "vectors_20k" and insp.table.rowCount() > 1, 60,
          "inspector")
    shot("11-inspector-segments", settle=0.8)
    insp.tabs.setCurrentIndex(1)
    insp.q_spin.setValue(100)
    insp.ef_edit.setText("10, 16, 24, 32, 48, 64, 128")
    rt = insp.run_recall()
    if rt is not None:
        _wait(app, lambda: rt.state not in ("pending", "running"), 180, "recall check")
    shot("12-inspector-recall", settle=0.8)

    em = win.show_tab(TAB_MAP)
    pt = em.project()
    if pt is not None:
        _wait(app, lambda: pt.state not in ("pending", "running"), 120, "projection")
    shot("13-embedding-map-20k", settle=0.8)
    ctx.set_current("demo_shapes")
    _settle(app, 0.3)
    pt = em.project()
    if pt is not None:
        _wait(app, lambda: pt.state not in ("pending", "running"), 120, "projection")
    _settle(app, 0.5)
    xs, ys = em.xy[:, 0], em.xy[:, 1]
    em.select_rect(float(xs.min()), float(ys.min()), float((xs.min() + xs.max()) / 2), float(ys.max()))
    i = int(len(em.xy) // 2)
    at = em.plot.mapFromScene(em.viewbox.mapViewToScene(QPointF(float(em.xy[i, 0]), float(em.xy[i, 1]))))
    em.hover(i, at)
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    em.hover(i, at)
    shot("14-embedding-map-hover-selection", settle=0.8)
    win.show_tab(TAB_DATA)
    _wait(app, lambda: not dv.model.loading, 60, "restricted data")
    shot("15-data-map-selection", settle=0.8)
    dv.clear_restriction()

    win.jobs_dock.raise_()
    shot("16-jobs-panel", win.jobs_dock, settle=0.3)

    win.set_theme("dark")
    win.show_tab(TAB_SEARCH)
    sp.text_edit.setText("a green triangle")
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "dark search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("17-dark-theme-search", settle=0.8)
    ctx.set_current("vectors_20k")
    loads = insp.loads
    win.show_tab(TAB_INSPECTOR)
    insp.tabs.setCurrentIndex(0)
    _wait(app, lambda: insp.loads > loads, 60, "inspector")
    shot("18-dark-theme-inspector", settle=0.8)
    win.set_theme("light")

    # Milvus: copy demo_shapes into a Milvus Lite file, connect to it, and see what is explained away
    lite_file = tmp / "milvus_lite.db"
    ctx.set_current("demo_shapes")
    copy = win.copy_collection_dialog("demo_shapes")
    copy.set_target("milvus-lite", str(lite_file))
    copy.verify.setCurrentIndex(copy.verify.findData("full"))
    ct = copy.start()
    _wait(app, lambda: ct.state not in ("pending", "running"), 300, "copy to Milvus Lite")
    shot("19-copy-to-milvus-lite", copy, settle=0.5)
    copy.close()

    from workbench.connections import Connection, ConnectionStore

    ConnectionStore().save(Connection("local Milvus Lite", kind="milvus-lite", uri=str(lite_file)))
    cd = win.connections_dialog()
    cd.resize(980, 620)
    cd.select("local Milvus Lite")
    tt = cd.test()
    _wait(app, lambda: tt is not None and tt.state not in ("pending", "running"), 120, "connection test")
    shot("20-connections-dialog", cd, settle=0.5)
    refreshes = ctx.refresh_count
    cd.connect_selected()
    _wait(app, lambda: ctx.refresh_count > refreshes and ctx.backend.capabilities.kind == "milvus-lite", 120,
          "connect to Milvus Lite")
    ctx.set_current("demo_shapes")
    win.show_tab(TAB_INSPECTOR)
    _wait(app, lambda: insp.loads > 0, 60, "inspector on Milvus Lite")
    shot("21-milvus-lite-inspector", settle=0.8)

    for t in live_tasks():
        t.cancel()
    QThreadPool.globalInstance().waitForDone(30000)
    win.close()
    ctx.close()
    if args.keep:
        print("temp folder kept:", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(shots)} screenshots in {out}")
    return 0


def shared_pending() -> int:
    from ui.thumbnails import shared_cache

    return shared_cache().pending_count


if __name__ == "__main__":
    raise SystemExit(main())
