"""The app on a real Milvus server (the `milvus_server` fixture: the embedded Milvus 2.3 standalone, or
`$WORKBENCH_MILVUS_URI`): the browser, the search panel and the inspector show the server's own data
(row counts, `list_persistent_segments`, `describe_index` progress), and what Milvus cannot show is
explained."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.gui.conftest import DIM, _drain
from ui.main_window.main_window import TAB_INSPECTOR, MainWindow
from workbench.backends import FLOAT_VECTOR, INT64, VARCHAR, BackendSpec, open_backend


@pytest.fixture
def server_window(qtbot: Any, milvus_server: str, tmp_path: Path, settings_dir: Path, fake_embedder: Any,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MainWindow, Any, str]]:
    from ui.app_settings import AppSettings
    from ui.context import AppContext
    from ui.models.embedder_provider import EmbedderProvider

    monkeypatch.setenv("WORKBENCH_WORKSPACES", str(tmp_path / "workspaces"))
    backend = open_backend(BackendSpec(kind="milvus", uri=milvus_server,
                                       token=os.environ.get("WORKBENCH_MILVUS_TOKEN", "")))
    name = f"ui_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**6}"
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "label", "type": VARCHAR, "params": {"max_length": 16}},
                         {"name": "vector", "type": FLOAT_VECTOR, "params": {"dim": DIM}}]}
    backend.create_collection(name, schema, [{"field_name": "vector", "index_type": "HNSW", "metric_type": "COSINE",
                                              "params": {"M": 8, "efConstruction": 64}}])
    rng = np.random.default_rng(1)
    backend.insert(name, [{"id": i, "label": f"l{i % 3}", "vector": rng.standard_normal(DIM).tolist()}
                          for i in range(500)])
    backend.flush(name)
    provider = EmbedderProvider(factory=lambda db, coll, choice: fake_embedder)
    ctx = AppContext(AppSettings(), provider=provider, data_dir=tmp_path / "data")
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(1320, 860)
    w.show()
    with qtbot.waitSignal(ctx.infoChanged, timeout=60000):
        ctx.open_backend(backend)
    yield w, ctx, name
    _drain(qtbot)
    ctx.close()  # closes the backend it adopted
    cleanup = open_backend(BackendSpec(kind="milvus", uri=milvus_server,
                                       token=os.environ.get("WORKBENCH_MILVUS_TOKEN", "")))
    cleanup.drop_collection(name)
    cleanup.close()


def test_the_app_shows_the_servers_own_data(qtbot: Any, server_window: tuple[MainWindow, Any, str]) -> None:
    window, ctx, name = server_window
    assert ctx.backend.capabilities.kind == "milvus"
    assert "Milvus at http" in window.windowTitle() + window.db_status.text()
    info = ctx.collection(name)
    assert info is not None and info.rows == 500 and info.loaded
    ix = info.index_for("vector")
    assert ix is not None and ix.index_type == "HNSW" and ix.indexed_rows == 500 and ix.pending_rows == 0

    ctx.set_current(name)
    insp = window.show_tab(TAB_INSPECTOR)
    qtbot.waitUntil(lambda: insp.loads > 0 and bool(insp.data and insp.data.get("segments")), timeout=60000)
    t = insp.table
    assert t.rowCount() >= 1
    assert sum(int(t.item(r, 3).text().replace(",", "")) for r in range(t.rowCount())) == 500
    assert all(t.item(r, 2).text() for r in range(t.rowCount()))  # the server's segment state (Flushed, ...)
    assert "does not expose its index graphs" in insp.index_note.text() or \
        "index graphs" in " ".join(lbl.text() for lbl in insp.findChildren(type(insp.summary)))
    if os.environ.get("VW_SCREENSHOT_DIR"):
        window.grab().save(str(Path(os.environ["VW_SCREENSHOT_DIR"]) / "milvus-server-inspector.png"))
    insp.tabs.setCurrentIndex(1)
    assert not insp.recall.run_button.isEnabled() and "Milvus" in insp.recall.run_button.toolTip()
