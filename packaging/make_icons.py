"""Render the app icon (resources/icons/vector-workbench.svg) to PNGs and a Windows .ico with Qt.

    .venv/bin/python packaging/make_icons.py       # writes packaging/build-icons/

The .desktop entry uses the icon name `vector-workbench`; install-linux.sh copies the PNGs into
~/.local/share/icons/hicolor/<size>x<size>/apps/. macOS .icns: run `iconutil` on the PNGs (docs/packaging.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 32, 48, 64, 128, 256, 512)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = QSvgRenderer(str(ROOT / "resources" / "icons" / "vector-workbench.svg"))
    out = ROOT / "packaging" / "build-icons"
    out.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        svg.render(painter)
        painter.end()
        image.save(str(out / f"vector-workbench-{size}.png"))
    big = QImage(str(out / "vector-workbench-256.png"))
    big.save(str(out / "vector-workbench.ico"))  # Qt writes a single-size .ico
    print(f"icons written to {out}")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
