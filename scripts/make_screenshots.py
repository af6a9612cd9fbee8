"""Make docs/screenshots/*.png of every view, offscreen, from a demo database built in a temp folder.

    .venv/bin/python scripts/make_screenshots.py [--out docs/screenshots] [--keep] [--only duplicates]

It runs the app's own code paths: the first-run screen, the demo collection
(pictures drawn by the app, embedded with the untrained demo model), a small
PDF collection, search, find-similar, a Documents collection searched by words
(the packaged text model), the schema designer, index
configuration, the inspector with a recall check, the embedding map with a
selection, the jobs panel, the Duplicates view (planted duplicates) and a
product search, and the dark theme. Nothing is written outside the temp
folder and --out.
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
    from ui.ingest.demo import BACKGROUNDS, COLOURS, SHAPES, draw_shape

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


def make_vectors(client: Any, name: str = "vectors_20k", n: int = 20000, dim: int = 64,
                 index: tuple[str, dict[str, Any]] = ("HNSW", {"M": 8, "efConstruction": 40})) -> None:
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
    parts = ["_default", "archive", "recent"]  # the engine merges a partition's segments: three partitions, three
    for part in parts[1:]:
        client.create_partition(name, part)
    for i in range(0, n, 2000):
        client.insert(name, [{"id": j, "cluster": f"c{cluster[j]}", "vector": x[j].tolist()}
                             for j in range(i, min(i + 2000, n))], partition_name=parts[(i // 2000) % 3])
    client.flush(name)
    client.delete(name, filter="id >= 1000 and id < 2500")
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type=index[0], metric_type="COSINE", params=index[1])
    client.create_index(name, ip)


DOCUMENTS = {
    "tides.md": "# Ocean tides\n\nTides are the regular rise and fall of sea level along coastlines.\n\n"
                "They are caused mainly by the gravitational pull of the Moon and, to a lesser degree, the Sun.\n\n"
                "Harbour masters publish tide tables a year ahead; sailors read them before leaving port.\n",
    "moon.md": "# The Moon\n\nThe Moon is Earth's only natural satellite, about a quarter of its diameter.\n\n"
               "Its gravity raises the tides; over millions of years tidal friction slowed Earth's rotation.\n",
    "sourdough.txt": "Baking sourdough bread\n\nSourdough bread is leavened with a starter, a fermented mix of flour "
                     "and water full of wild yeast.\n\nA long, cold proof develops the tangy flavour.\n",
    "parsing.md": "# Parsing <config> files\n\nA parser reads the file & builds a tree; parsing errors name the line.\n",
}
PDF_PAGES = [
    "Coastal handbook\nChapter 1: weather and wind on the coast.",
    "Chapter 2: reading the sky\nClouds, fog and the sea breeze.",
    "Chapter 3: tides and currents\nSpring tides follow the full and new moon;\nneap tides the quarter moons. "
    "Check the tide tables.",
]


def make_text_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with a real text layer (pypdfium2's raw API), one page per string."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    font = raw.FPDFText_LoadStandardFont(pdf, b"Helvetica")
    for text in pages:
        page = pdf.new_page(612, 792)
        y = 740.0
        for line in text.split("\n"):
            obj = raw.FPDFPageObj_CreateTextObj(pdf, font, ctypes.c_float(14))
            buf = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
            raw.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(raw.FPDF_WCHAR)))
            raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 60, y)
            raw.FPDFPage_InsertObject(page, obj)
            y -= 20
        raw.FPDFPage_GenerateContent(page)
        page.close()
    pdf.save(str(path))
    pdf.close()
    return path


def document_search_shots(app: Any, win: Any, ctx: Any, tmp: Path, shot: Callable[..., None]) -> None:
    """A Documents collection (the packaged text model) searched by words: the document result view."""
    from ui.main_window.main_window import TAB_SEARCH
    from workbench.ingest import IngestOptions, ingest

    folder = tmp / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text)
    make_text_pdf(folder / "coastal-handbook.pdf", PDF_PAGES)
    # text chunks only: the page images would need CLIP weights, which an offline machine may not have
    ingest([folder], ctx.backend, "demo_documents", options=IngestOptions(kind="documents", page_images=False))
    count = ctx.refresh_count
    ctx.refresh()
    _wait(app, lambda: ctx.refresh_count > count and ctx.collection("demo_documents") is not None, 60, "documents")
    ctx.set_current("demo_documents")
    sp = win.show_tab(TAB_SEARCH)
    sp.mode_control.set_mode("words")
    sp.text_edit.setText("tide tables")
    t = sp.search_text()
    _wait(app, lambda: t is not None and t.state not in ("pending", "running"), 180, "document search")
    if t is None or t.state != "done":
        raise SystemExit(f"document search failed: {sp.error_label.text()}")
    shot("40-document-search-words", settle=0.8)


def duplicates_and_products(app: Any, win: Any, ctx: Any, tmp: Path, shot: Callable[..., None]) -> None:
    """The Duplicates view on a folder with planted duplicates, its most diverse subset, and a product
    search whose hits show their best image and a strip of the others (issue 16)."""
    from tests.dup_fixtures import plant_folder, product_folders
    from ui.app_settings import ModelChoice
    from ui.main_window.main_window import TAB_DUPLICATES, TAB_SEARCH
    from workbench.ingest import IngestOptions, ingest

    demo = ctx.provider.for_choice(ModelChoice(kind="demo"))
    plant_folder(tmp / "planted-photos", n_base=30, seed=4)
    ingest([tmp / "planted-photos"], ctx.backend, "planted_photos", embedder=demo)
    product_folders(tmp / "products", 16)
    ingest([tmp / "products"], ctx.backend, "shop", embedder=demo, options=IngestOptions(kind="products"))
    ctx.refresh()
    _wait(app, lambda: {"planted_photos", "shop"} <= set(ctx.info.collections), 60, "new collections")
    ctx.set_current("planted_photos")
    dv = win.show_tab(TAB_DUPLICATES)
    dv.mode_combo.setCurrentIndex(dv.mode_combo.findData("perceptual"))
    dv.threshold.setValue(8)
    t = dv.start_scan()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "perceptual scan")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    dv.clusters_view.setCurrentIndex(dv.model.index(0))
    dv.model.choose_keep(0, dv.model.clusters[0].members[-1])
    mt = dv.mark([0])
    if mt is not None:
        _wait(app, lambda: mt.state not in ("pending", "running"), 60, "marks")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("28-duplicates-perceptual-marked", settle=0.8)
    dv.mode_combo.setCurrentIndex(dv.mode_combo.findData("near"))
    dv.threshold.setValue(0.99)  # the untrained demo model puts every picture above 0.97: look close to 1
    t = dv.start_scan()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "near scan")
    dv.slider.setValue(dv.slider.maximum() * 4 // 5)
    _settle(app, 0.5)
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("29-duplicates-near-slider", settle=0.8)
    dv.tabs.setCurrentIndex(1)
    dv.diverse.n_spin.setValue(12)
    pt = dv.diverse.pick()
    if pt is not None:
        _wait(app, lambda: pt.state not in ("pending", "running"), 120, "most diverse")
    _settle(app, 0.5)
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    dv.diverse._thumb_loaded("")
    shot("30-duplicates-most-diverse", settle=0.8)
    dv.tabs.setCurrentIndex(0)

    ctx.set_current("shop")
    sp = win.show_tab(TAB_SEARCH)
    _settle(app, 0.3)
    sp.well.set_path(str(tmp / "products" / "SKU-005" / "side.jpg"))
    _wait(app, lambda: sp.task is not None and sp.task.state not in ("pending", "running"), 120, "product search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("31-search-products-best-image-strip", settle=1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--keep", action="store_true", help="keep the temp folder (prints its path)")
    p.add_argument("--only", choices=("all", "duplicates", "documents"), default="all",
                   help="duplicates: only the Duplicates view and product search shots (28 to 31); documents: "
                        "only the document search shot (40)")
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

    import ui.shared.dialogs
    from ui.app import create_app
    from ui.app_settings import AppSettings, ModelChoice, use_settings_dir
    from ui.context import AppContext
    from ui.main_window.main_window import (
        TAB_DATA,
        TAB_INDEX,
        TAB_INSPECTOR,
        TAB_MAP,
        TAB_SCHEMA,
        TAB_SEARCH,
        MainWindow,
    )
    from ui.shared.theme import apply_theme
    from ui.shared.workers import ensure_thread_pool, live_tasks

    ui.shared.dialogs.confirm = lambda *a, **k: True  # no modal questions offscreen
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
    if args.only in ("duplicates", "documents"):
        win.stack.setCurrentWidget(win.tabs)
        (duplicates_and_products if args.only == "duplicates" else document_search_shots)(app, win, ctx, tmp, shot)
        for t in live_tasks():
            t.cancel()
        QThreadPool.globalInstance().waitForDone(30000)
        win.close()
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"{len(shots)} screenshots in {out}")
        return 0
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

    # search modes, in the panel's "More" section: text + image fused (RRF), grouped by folder, a score range
    box = sp.modes_box
    box.toggle.setChecked(True)
    box.combine.setChecked(True)
    picture = sorted((tmp / "data" / "demo-images").rglob("*.png"))[5]
    sp.text_edit.setText("a red circle")
    sp.well.set_path(str(picture))  # searches with the text and the image, fused
    t = sp.task
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "hybrid search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("32-search-hybrid-text-image", settle=0.8)
    box.combine.setChecked(False)
    box.group_combo.setCurrentIndex(box.group_combo.findData("folder"))
    box.group_size.setValue(3)
    sp.limit_spin.setValue(4)
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "grouped search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("33-search-grouped-by-folder", settle=0.8)
    box.group_combo.setCurrentIndex(0)
    sp.limit_spin.setValue(24)
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "plain search")
    scores = [h.score for h in sp.results_model.hits]
    box.min_score.setValue(round(scores[14], 3))
    box.max_score.setValue(round(scores[2], 3))
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "range search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("34-search-score-range", settle=0.8)
    box.reset()
    box.toggle.setChecked(False)

    ctx.set_current("demo_reports")
    _settle(app, 0.3)
    sp.text_edit.setText("a blue star")
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "pdf search")
    _wait(app, lambda: shared_pending() == 0, 30, "thumbnails")
    shot("08-search-pdf-best-page", settle=0.8)
    document_search_shots(app, win, ctx, tmp, shot)
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
    insp.recall.q_spin.setValue(100)
    insp.recall.ef_edit.setText("10, 16, 24, 32, 48, 64, 128")
    rt = insp.recall.run_recall()
    if rt is not None:
        _wait(app, lambda: rt.state not in ("pending", "running"), 180, "recall check")
    shot("12-inspector-recall", settle=0.8)

    # the same on an IVF_FLAT index: the recall explorer sweeps nprobe
    make_vectors(ctx.backend.client, "vectors_ivf", n=20000, index=("IVF_FLAT", {"nlist": 128}))
    ctx.refresh()
    _wait(app, lambda: "vectors_ivf" in ctx.info.collections, 30, "IVF collection")
    ctx.set_current("vectors_ivf")
    _wait(app, lambda: insp.recall.values_label.text() == "nprobe values", 30, "nprobe sweep")
    insp.recall.q_spin.setValue(100)
    rt = insp.recall.run_recall()
    if rt is not None:
        _wait(app, lambda: rt.state not in ("pending", "running"), 180, "IVF recall check")
    shot("25-inspector-recall-ivf-nprobe", settle=0.8)

    # a build cancelled part way: the tab shows the engine's own state and offers "Build now"
    ic = win.show_tab(TAB_INDEX)
    ic.select_field("vector")
    ic.type_combo.setCurrentText("HNSW")
    ic.param_spins["M"].setValue(16)
    ic.param_spins["efConstruction"].setValue(200)
    bt = ic.build()
    assert bt is not None
    _wait(app, lambda: ic.bar.maximum() == 1000 and ic.bar.value() > 0, 120, "first chunk indexed")
    shot("22-index-build-progress", settle=0.1)
    ic.cancel()
    _wait(app, lambda: bt.state not in ("pending", "running"), 120, "cancelled build")
    _wait(app, lambda: ic.build_now_button.isVisible(), 60, "true state after cancel")
    shot("23-index-cancelled-build-now", settle=0.5)
    bt = ic.build_now()
    assert bt is not None
    _wait(app, lambda: bt.state not in ("pending", "running"), 300, "build now")
    _wait(app, lambda: ic.state_label.text().startswith("Built"), 60, "built state")

    # a collection made by code has no model record: a text search says so and offers the choices
    sp = win.show_tab(TAB_SEARCH)
    sp.text_edit.setText("a red circle")
    t = sp.search_text()
    _wait(app, lambda: t.state not in ("pending", "running"), 120, "search without a model record")
    shot("24-search-no-model-record", settle=0.5)
    insp = win.show_tab(TAB_INSPECTOR)
    ctx.set_current("vectors_20k")
    _wait(app, lambda: insp.collection == "vectors_20k", 30, "back to vectors_20k")

    em = win.show_tab(TAB_MAP)
    shot("27-embedding-map-before-projecting", settle=0.5)
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

    # UMAP of the 20k vectors, coloured by their cluster: the PCA map first, then UMAP's (its process compiles
    # umap-learn on first use)
    ctx.set_current("vectors_20k")
    em = win.show_tab(TAB_MAP)
    em.method_combo.setCurrentIndex(em.method_combo.findData("umap"))
    em.color_combo.setCurrentIndex(em.color_combo.findData("cluster"))
    pt = em.project()
    assert pt is not None
    _wait(app, lambda: em.status.text().startswith("UMAP: layout"), 600, "UMAP layout epochs")
    shot("36-embedding-map-umap-running", settle=0.3)
    _wait(app, lambda: pt.state not in ("pending", "running"), 900, "UMAP")
    if pt.state != "done":
        raise SystemExit(f"UMAP failed: {pt.error}")
    shot("35-embedding-map-umap-by-cluster", settle=0.8)
    em.method_combo.setCurrentIndex(em.method_combo.findData("pca"))
    ctx.set_current("demo_shapes")

    win.jobs_dock.raise_()
    shot("16-jobs-panel", win.jobs_dock, settle=0.3)

    # live data: another process writes into the open database; the app shows the rows and the writer
    import subprocess
    import textwrap

    ctx.set_current("vectors_20k")
    win.show_tab(TAB_DATA)
    release = tmp / "release-lock"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, time
        import numpy as np
        from engine import MilvusClient
        c = MilvusClient({str(ctx.db_path)!r})
        v = np.random.default_rng(1).standard_normal((500, 64)).astype("float32")
        c.insert("vectors_20k", [{{"id": 100000 + i, "cluster": "notebook", "vector": v[i].tolist()}}
                                 for i in range(500)])
        with c.db.write_lock.held(None, "a notebook's long write"):
            print("held", flush=True)
            while not pathlib.Path({str(release)!r}).exists():
                time.sleep(0.05)
        c.close()
    """)], env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        _wait(app, lambda: win.lock_status.isVisible(), 30, "the writer in the status bar")
        _wait(app, lambda: "19,000 rows" in dv.count_label.text(), 30, "the new rows in the data view")
        shot("26-live-data-writer", settle=0.5)
    finally:
        release.touch()
        writer.wait(60)
    _wait(app, lambda: not win.lock_status.isVisible(), 30, "the lock released")
    ctx.set_current("demo_shapes")

    duplicates_and_products(app, win, ctx, tmp, shot)
    ctx.set_current("demo_shapes")

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
    from ui.shared.thumbnails import shared_cache

    return shared_cache().pending_count


if __name__ == "__main__":
    raise SystemExit(main())
