"""Light and dark themes (Fusion + a palette + resources/styles/*.qss) and the app's icons."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("light", "dark")


def resources_dir() -> Path:
    """`resources/` next to the packages (or inside a PyInstaller bundle)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """An icon from resources/icons/<name>.svg (an empty icon if it is missing)."""
    path = resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def _palette(theme: str) -> QPalette:
    p = QPalette()
    if theme == "dark":
        colours = {
            QPalette.ColorRole.Window: "#202226",
            QPalette.ColorRole.WindowText: "#e6e6e6",
            QPalette.ColorRole.Base: "#17181b",
            QPalette.ColorRole.AlternateBase: "#24262b",
            QPalette.ColorRole.ToolTipBase: "#2b2d31",
            QPalette.ColorRole.ToolTipText: "#e6e6e6",
            QPalette.ColorRole.Text: "#e6e6e6",
            QPalette.ColorRole.Button: "#2b2d31",
            QPalette.ColorRole.ButtonText: "#e6e6e6",
            QPalette.ColorRole.BrightText: "#ff6b6b",
            QPalette.ColorRole.Highlight: "#3d6fe0",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Link: "#7aa2ff",
            QPalette.ColorRole.PlaceholderText: "#8a8f99",
        }
        for role, colour in colours.items():
            p.setColor(role, QColor(colour))
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
            p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6f78"))
    else:
        colours = {
            QPalette.ColorRole.Window: "#f3f4f7",
            QPalette.ColorRole.WindowText: "#1d2128",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f5f7fb",
            QPalette.ColorRole.ToolTipBase: "#ffffe8",
            QPalette.ColorRole.ToolTipText: "#1d2128",
            QPalette.ColorRole.Text: "#1d2128",
            QPalette.ColorRole.Button: "#eceef3",
            QPalette.ColorRole.ButtonText: "#1d2128",
            QPalette.ColorRole.Highlight: "#2b5fd9",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Link: "#2b5fd9",
            QPalette.ColorRole.PlaceholderText: "#8a8f99",
        }
        for role, colour in colours.items():
            p.setColor(role, QColor(colour))
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
            p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#9a9fa8"))  # a disabled control looks it
    return p


def apply_theme(app: QApplication, theme: str) -> str:
    """Switch the whole app to `theme` ("light" or "dark"); returns the theme applied."""
    theme = theme if theme in THEMES else "light"
    app.setStyle("Fusion")
    app.setPalette(_palette(theme))
    qss = resources_dir() / "styles" / f"{theme}.qss"
    app.setStyleSheet(qss.read_text() if qss.is_file() else "")
    app.setProperty("vw_theme", theme)
    return theme


def current_theme() -> str:
    app = QApplication.instance()
    value = app.property("vw_theme") if app is not None else None
    return str(value) if value else "light"


def is_dark() -> bool:
    return current_theme() == "dark"
