"""Opening files with the desktop's programs, with the reason when it cannot be done.

`open_file(path, page)` opens a file with the system's launcher (`QDesktopServices`).
A PDF opens at `page` (1-based) where an installed viewer takes a page on its command
line (the launcher drops `#page=N` from file URLs); with none of them, the launcher
opens it at page 1 and the returned note says so. A missing file or a missing
launcher raises `OpenError`, whose message the views show.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

# PDF viewers that open at a page: (program, arguments before the file, after it); {page} is 1-based
PDF_VIEWERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("evince", ("--page-label={page}",), ()),
    ("okular", ("-p", "{page}"), ()),
    ("zathura", ("--page={page}",), ()),
    ("qpdfview", (), ()),  # takes FILE#PAGE
    ("mupdf", (), ("{page}",)),
    ("xpdf", (), ("{page}",)),
)


class OpenError(Exception):
    """The file cannot be opened; the message says why, for the user."""


def start_detached(program: str, args: list[str]) -> bool:
    """Start a program without waiting for it (tests replace this)."""
    ok, _pid = QProcess.startDetached(program, args)
    return bool(ok)


def open_url(url: QUrl) -> bool:
    """The system launcher (tests replace this)."""
    return bool(QDesktopServices.openUrl(url))


def open_file(path: str | Path, page: int | None = None) -> str:
    """Open `path` (at `page` for a PDF where a viewer allows); returns a note for the status bar.

    Raises OpenError when the file is missing or no program could open it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise OpenError(f"{p} is not there any more (moved or deleted?)")
    if page is not None and p.suffix.lower() == ".pdf":
        for program, before, after in PDF_VIEWERS:
            exe = shutil.which(program)
            if exe is None:
                continue
            target = f"{p}#{page}" if program == "qpdfview" else str(p)
            args = [a.format(page=page) for a in before] + [target] + [a.format(page=page) for a in after]
            if start_detached(exe, args):
                return f"Opened {p.name} at page {page} in {program}"
    if not open_url(QUrl.fromLocalFile(str(p))):
        raise OpenError(f"no program to open {p.name} was found: the desktop's launcher (xdg-open on Linux) is "
                        f"missing or has no application for {p.suffix or 'this kind of file'}. The file is {p}")
    if page is not None and p.suffix.lower() == ".pdf":
        return (f"Opened {p.name} with the default viewer, at page 1: go to page {page}. "
                f"({', '.join(v[0] for v in PDF_VIEWERS)} would open it at the page)")
    return f"Opened {p.name}"
