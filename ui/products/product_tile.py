"""How a product hit looks in the search results: its best-matching image, and its other images as a strip.

`workbench.product_search.describe_product` puts the best image's thumbnail on the hit and the others in
`hit.extra["other_images"]` (best first). The results delegate paints the strip along the bottom of the
picture (`paint_strip`) and says which image matched (`product_subtitle`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

STRIP_SIDE = 34
STRIP_GAP = 3


def strip_paths(hit: Any) -> list[str]:
    """Thumbnails of a product's other images, best-matching first ([] for other hits)."""
    return [str(o["thumbnail"]) for o in (hit.extra.get("other_images") or []) if o.get("thumbnail")]


def product_subtitle(hit: Any) -> str | None:
    """"front matched · 3 images" for a product hit; None for other hits."""
    best = hit.extra.get("best_image")
    if not best:
        return None
    n = 1 + len(hit.extra.get("other_images") or [])
    what = best.get("angle") or "image"
    return f"{what} matched · {n} image{'s' if n != 1 else ''}"


def paint_strip(painter: QPainter, area: QRect, hit: Any, thumbs: Any) -> None:
    """The other images as small squares along the bottom of `area` (as many as fit, then "+N")."""
    paths = strip_paths(hit)
    if not paths:
        return
    fit = max(1, (area.width() - STRIP_GAP) // (STRIP_SIDE + STRIP_GAP))
    shown = paths[:fit] if len(paths) <= fit else paths[: fit - 1]
    y = area.bottom() - STRIP_SIDE - 2
    x = area.left() + STRIP_GAP
    painter.save()
    for path in shown:
        box = QRect(x, y, STRIP_SIDE, STRIP_SIDE)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.drawRect(box.adjusted(-1, -1, 1, 1))
        pm = thumbs.get(path)
        if pm is not None and not pm.isNull():
            scaled = pm.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                               Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(box, scaled, QRect((scaled.width() - STRIP_SIDE) // 2,
                                                  (scaled.height() - STRIP_SIDE) // 2, STRIP_SIDE, STRIP_SIDE))
        painter.setPen(QPen(QColor(40, 40, 40, 160), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        x += STRIP_SIDE + STRIP_GAP
    if len(shown) < len(paths):
        more = QRectF(x, y, STRIP_SIDE, STRIP_SIDE)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 24, 32, 190))
        painter.drawRect(more)
        painter.setPen(QColor("white"))
        painter.drawText(more, Qt.AlignmentFlag.AlignCenter, f"+{len(paths) - len(shown)}")
    painter.restore()
