"""Entry point of the desktop app: `vector-workbench [--db PATH]` or `python -m ui.app` (`ui.app:main`).

At start-up it refuses to run on a Qt binding that corrupts reference counts
(`ui.qt_guard`): such a binding makes the app abort some minutes later.

Opens the default local database (`workbench.settings.default_db_path()`; the
`WORKBENCH_DB` environment variable or `--db` override it). An empty database
shows the first-run screen, which offers a demo collection.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from ui.app_settings import APP, ORG, AppSettings
from ui.context import AppContext
from ui.main_window.main_window import MainWindow
from ui.qt_guard import binding_problem
from ui.shared.errors import install_excepthook
from ui.shared.theme import apply_theme, icon
from ui.shared.workers import ensure_thread_pool, live_tasks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vector-workbench", description="Vector Workbench desktop app")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--db", help="database to open: a folder (the embedded engine), lite:FILE (Milvus Lite) or "
                                    "http(s)://host:port (a Milvus server); default: $WORKBENCH_DB or the user "
                                    "data folder")
    where.add_argument("--connection", metavar="NAME",
                       help="a saved connection (File › Connect to Milvus…); its secret comes from the keyring")
    p.add_argument("--theme", choices=["light", "dark"], help="colour theme (remembered)")
    p.add_argument("--demo", action="store_true", help="create the demo collection right away if it is missing")
    p.add_argument("paths", nargs="*", help="files or folders to import after opening")
    return p.parse_args(argv)


def open_start_database(ctx: AppContext, db: str | None, connection: str | None, default: Path) -> None:
    """Open what the command line names: a saved connection, a Milvus Lite file or server, or a database
    folder (the default). Connecting to a server happens on a worker; a failure is shown in the window."""
    from workbench.backends import open_backend, spec_from_string

    if connection:
        from workbench.connections import ConnectionStore

        ctx.open(lambda: ConnectionStore().open(connection))
        return
    spec = spec_from_string(db) if db else None
    if spec is not None and spec.kind != "embedded":
        ctx.open(lambda: open_backend(spec))
        return
    ctx.open_database(Path(spec.uri).expanduser() if spec is not None else default)


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1] if argv is None else ["vector-workbench", *argv])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName("Vector Workbench")
    app.setDesktopFileName("vector-workbench")
    app.setWindowIcon(icon("vector-workbench"))
    return app


EXIT_BAD_QT_BINDING = 3


def refuse_bad_binding() -> int | None:
    """EXIT_BAD_QT_BINDING, after saying why on stderr and in a message box (the QApplication must
    exist), when the installed PySide6 corrupts reference counts (`ui.qt_guard.binding_problem`);
    None when it is sound."""
    problem = binding_problem()
    if problem is None:
        return None
    print(f"vector-workbench: cannot start: {problem}", file=sys.stderr)
    if not os.environ.get("VW_NO_ERROR_DIALOGS"):
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Vector Workbench cannot start", problem)
    return EXIT_BAD_QT_BINDING


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(argv)
    refused = refuse_bad_binding()
    if refused is not None:
        return refused
    settings = AppSettings()
    theme = args.theme or settings.theme
    apply_theme(app, theme)
    settings.theme = theme
    ensure_thread_pool()

    from workbench.settings import default_db_path

    ctx = AppContext(settings)
    window = MainWindow(ctx)
    install_excepthook(lambda msg, _details: window.show_error("Unexpected error", msg))
    open_start_database(ctx, args.db, args.connection, default_db_path())
    if args.demo:
        def demo_when_ready() -> None:
            ctx.infoChanged.disconnect(demo_when_ready)
            window.create_demo()

        ctx.infoChanged.connect(demo_when_ready)
    if args.paths:
        paths = [str(Path(p).expanduser().absolute()) for p in args.paths]
        ctx.databaseOpened.connect(lambda _p: QTimer.singleShot(0, window, lambda: window.files_dropped(paths)))
    window.show()
    code = app.exec()
    for t in live_tasks():
        t.cancel()
    QThreadPool.globalInstance().waitForDone(15000)
    ctx.close()
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
