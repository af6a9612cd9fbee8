"""Help › About and Help › Keyboard shortcuts: the texts, with the version of this build."""

from __future__ import annotations

from ui.shared.theme import resources_dir

SHORTCUTS = (
    ("Ctrl+O", "open a database"), ("Ctrl+I / Ctrl+Shift+I", "import files / a folder"),
    ("Ctrl+N", "new collection (schema designer)"), ("Ctrl+1 … Ctrl+7", "switch views"),
    ("Ctrl+F", "search"), ("Ctrl+L", "data filter"), ("Ctrl+V (in Search)", "search with a pasted image"),
    ("Del (in Data)", "delete the selected rows"), ("F5", "refresh"), ("Ctrl+Shift+D", "dark theme"),
    ("F1", "user guide"), ("Ctrl+Q", "quit"),
)


def shortcuts_text() -> str:
    return "<table>" + "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS) + \
        "</table>"


def app_version() -> str:
    """The installed package's version, else the one in pyproject.toml (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vector-workbench")
    except PackageNotFoundError:
        import re

        pyproject = resources_dir().parent / "pyproject.toml"
        m = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M) if pyproject.exists() else None
        return m.group(1) if m else "unknown"


def about_text() -> str:
    import PySide6

    return (f"<b>Vector Workbench {app_version()}</b><br>A desktop workbench for image and document search over "
            "an embedded, Milvus-compatible vector database.<br><br>"
            f"PySide6 {PySide6.__version__}")
