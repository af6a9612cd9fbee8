"""Qt fixtures for the UI tests: an app context on a temporary database, a fake fast embedder,
tiny image folders, and simulated drag-and-drop with real QMimeData URLs."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["VW_NO_ERROR_DIALOGS"] = "1"

DIM = 16


class FakeEmbedder:
    """Deterministic stand-in for CLIP: images by their mean colour, texts by a hash (no torch).

    `delay_s` makes each embedding call sleep, to keep a job running while a test watches the UI.
    """

    batch_size = 8

    def __init__(self, delay_s: float = 0.0) -> None:
        from workbench.embedders import EmbedderIdentity

        self.delay_s = delay_s
        self.gate: threading.Event | None = None  # when set, image embedding waits for it
        self.waiting = threading.Event()  # set while a call waits at the gate
        self._identity = EmbedderIdentity("fake-clip", "test", None, DIM)
        self.calls = 0

    @property
    def dim(self) -> int:
        return DIM

    @property
    def identity(self) -> Any:
        return self._identity

    def _unit(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        self.calls += 1
        if self.gate is not None and not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(60)
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for im in images:
            a = np.asarray(im.convert("RGB").resize((4, 4)), dtype=np.float32).reshape(-1)[:DIM] / 255.0
            out.append(a + 0.01)
        return self._unit(np.array(out))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = []
        for t in texts:
            h = hashlib.sha256(t.encode()).digest()
            out.append(np.frombuffer(h[:DIM], dtype=np.uint8).astype(np.float32) + 1)
        return self._unit(np.array(out))


def make_images(folder: Path, n: int, size: tuple[int, int] = (64, 48), start: int = 0) -> list[Path]:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + n):
        im = Image.new("RGB", size, ((i * 53) % 256, (i * 97) % 256, (i * 31 + 60) % 256))
        ImageDraw.Draw(im).rectangle((4, 4, 20 + i % 20, 20), fill=(255 - (i * 7) % 256, 40, 90))
        p = folder / f"img_{i:03d}.png"
        im.save(p)
        out.append(p)
    return out


def drop_paths(widget: Any, paths: Sequence[Path | str], pos: Any = None) -> bool:
    """Drag `paths` (as real file URLs) onto `widget` and drop them; True when the drop was accepted."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = pos if pos is not None else QPointF(widget.width() / 2, widget.height() / 2)
    if not isinstance(point, QPointF):
        point = QPointF(point)
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction
    # QDragEnterEvent and QDragMoveEvent take a QPoint (PySide6 6.11 has no QPointF overload), QDropEvent a QPointF
    enter = QDragEnterEvent(point.toPoint(), actions, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(point.toPoint(), actions, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, move)
    drop = QDropEvent(point, actions, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def settings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ui.app_settings import use_settings_dir

    folder = tmp_path / "settings"
    folder.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    use_settings_dir(folder)
    return folder


def _drain(qtbot: Any) -> None:
    from PySide6.QtCore import QThreadPool

    from ui.shared.thumbnails import shared_cache
    from ui.shared.workers import live_tasks

    for t in live_tasks():
        t.cancel()
    try:
        qtbot.waitUntil(lambda: not live_tasks(), timeout=60000)
    finally:
        QThreadPool.globalInstance().waitForDone(30000)
        shared_cache().wait(10000)


@pytest.fixture
def ctx(qtbot: Any, tmp_path: Path, settings_dir: Path, fake_embedder: FakeEmbedder) -> Iterator[Any]:
    """An AppContext with an empty database open, using the fake embedder."""
    from ui.app_settings import AppSettings
    from ui.context import AppContext
    from ui.models.embedder_provider import EmbedderProvider

    provider = EmbedderProvider(factory=lambda db, coll, choice: fake_embedder)
    c = AppContext(AppSettings(), provider=provider, data_dir=tmp_path / "data")
    with qtbot.waitSignal(c.infoChanged, timeout=30000):
        c.open_database(tmp_path / "test.db")
    yield c
    _drain(qtbot)
    c.close()


def ingest_now(ctx: Any, folder: Path, collection: str = "pics", embedder: Any = None, **kw: Any) -> Any:
    """Ingest synchronously (test setup, not the UI path)."""
    from workbench.ingest import ingest_job

    emb = embedder or ctx.provider.for_choice(ctx.model_choice())
    job = ingest_job([folder], ctx.db_path, collection, embedder=emb, **kw)
    return job.run()


@pytest.fixture
def pics(qtbot: Any, ctx: Any, tmp_path: Path) -> Any:
    """ctx with a collection 'pics' of 30 small images, already refreshed."""
    make_images(tmp_path / "pics", 30)
    ingest_now(ctx, tmp_path / "pics")
    with qtbot.waitSignal(ctx.infoChanged, timeout=30000):
        ctx.refresh()
    ctx.set_current("pics")
    return ctx


@pytest.fixture
def window(qtbot: Any, ctx: Any) -> Any:
    from ui.main_window.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    return w


def wait_task(qtbot: Any, task: Any, timeout: int = 60000) -> Any:
    assert task is not None
    qtbot.waitUntil(lambda: task.state not in ("pending", "running"), timeout=timeout)
    return task
