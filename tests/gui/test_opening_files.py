"""Issue 15 bug 6: opening a result's file. Without a launcher the failure is shown (it was silent),
and a PDF hit opens at its page where an installed viewer takes one (`#page=N` was dropped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

from workbench.collection_ops import SearchHit


@pytest.fixture
def no_launcher(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The desktop has no launcher: QDesktopServices.openUrl fails (as without xdg-open)."""
    asked: list[str] = []

    def fail(url: QUrl) -> bool:
        asked.append(url.toString())
        return False

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(fail))
    return asked


def _panel_with_hit(qtbot: Any, ctx: Any, hit: SearchHit) -> Any:
    from ui.search.search_panel import SearchPanel

    panel = SearchPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.results_model.set_hits([hit])
    return panel


def test_double_click_without_a_launcher_shows_why(qtbot: Any, ctx: Any, tmp_path: Path,
                                                  no_launcher: list[str]) -> None:
    f = tmp_path / "cat.png"
    f.write_bytes(b"not really a png")
    panel = _panel_with_hit(qtbot, ctx, SearchHit(id=1, score=0.9, fields={"path": str(f)}))
    assert panel.open_result(panel.results_model.index(0, 0)) is False
    assert no_launcher
    assert panel.error_label.isVisible() and "no program to open cat.png" in panel.error_label.text()


def test_missing_file_is_said(qtbot: Any, ctx: Any, tmp_path: Path, no_launcher: list[str]) -> None:
    panel = _panel_with_hit(qtbot, ctx, SearchHit(id=1, score=0.9, fields={"path": str(tmp_path / "gone.png")}))
    assert panel.open_result(panel.results_model.index(0, 0)) is False
    assert "is not there any more" in panel.error_label.text()


def test_pdf_hit_opens_at_its_page(qtbot: Any, ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   no_launcher: list[str]) -> None:
    import shutil

    f = tmp_path / "report.pdf"
    f.write_bytes(b"%PDF-1.4\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    okular = bin_dir / "okular"
    okular.write_text("#!/bin/sh\n")
    okular.chmod(0o755)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(okular) if name == "okular" else
                        (None if name in ("evince", "zathura", "qpdfview", "mupdf", "xpdf") else real_which(name)))
    started: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(QProcess, "startDetached",
                        staticmethod(lambda program, args, *a: (started.append((program, list(args))) or (True, 1))))
    hit = SearchHit(id=1, score=0.9, fields={"path": str(f)})
    hit.page = 7
    panel = _panel_with_hit(qtbot, ctx, hit)
    assert panel.open_result(panel.results_model.index(0, 0)) is True
    assert started == [(str(okular), ["-p", "7", str(f)])]
    assert not no_launcher  # the launcher would open it at page 1


def test_user_guide_without_a_launcher_shows_why(qtbot: Any, window: Any, no_launcher: list[str]) -> None:
    window._open_guide()
    assert no_launcher and "Cannot open the user guide" in window.statusBar().currentMessage()
