"""`workbench db check` and `workbench db recover`: verify an engine database directory, and copy what is
readable out of a damaged one into a new database.

Both read the directory without opening it as a database, so they work when opening refuses (a lost or
damaged catalog, files the catalog cannot account for, a damaged log), and neither ever writes to it.
`check` exits 0 when nothing is wrong and 1 otherwise; `recover` exits 0 when everything the files hold
was recovered and verified, 1 when something could not be (the report says what), 130 on Ctrl-C (the
new database is then not created).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

import click

from workbench.cli_common import (
    EXIT_INTERRUPTED,
    ProgressLine,
    bar_text,
    ctrl_c_cancels,
    debug_option,
    echo_json,
)
from workbench.jobs import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from engine.recovery import RecoveryProgress


class RecoveryBar(ProgressLine):
    """The progress line of a recovery."""

    def __call__(self, ev: RecoveryProgress) -> None:
        final = ev.phase in ("done", "cancelled")
        if not self.enabled or final or not self.due(ev.phase, final):
            return
        if ev.phase == "writing":
            bar, _ = bar_text(ev.fraction, None)
            line = f"{bar} {ev.rows_done}/{ev.rows_total} rows  writing {ev.collection}"
        else:
            line = f"{ev.phase} {ev.collection or ev.message} ...".replace("  ", " ")
        self.show(line, False)

    def end(self) -> None:
        if self.tty and self.width:
            click.echo("", err=True)
            self.width = 0


@click.group("db")
def db() -> None:
    """Check an engine database directory, or recover a damaged one into a new database."""


@db.command("check")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@debug_option
def check(path: str, as_json: bool) -> None:
    """Verify every file of the database at PATH without changing anything: the catalog, that every data file
    is accounted for, each segment's, delete file's and index's checksum, each log's header and records.

    Exit status 0 when nothing is wrong, 1 when something is (each problem is listed with its file)."""
    from engine.recovery import check_database

    report = check_database(path)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_ERROR)


@db.command("recover")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--to", "new_path", required=True, type=click.Path(path_type=str), metavar="NEW_PATH",
              help="Where to create the recovered database (must not exist, or be an empty directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def recover(path: str, new_path: str, as_json: bool, quiet: bool) -> None:
    """Build a new database at NEW_PATH from what is readable in the database at PATH (never written to).

    Uses the catalog where it is readable, else what the segment and log files say about themselves;
    damaged pieces are skipped and listed with the rows or log records they held. The new database is
    checked (row counts per partition) before it is put at NEW_PATH. Ctrl-C cancels: NEW_PATH is not created.

    Exit status 0 when everything the files hold was recovered, 1 when something could not be, 130 on Ctrl-C."""
    from engine.recovery import run_recovery

    bar = RecoveryBar(enabled=not quiet and not as_json)
    cancel = threading.Event()
    try:
        with ctrl_c_cancels(cancel.set, cancel.is_set, bar.message,
                            what=f"cancelling: {new_path} will not be created"):
            report = run_recovery(path, new_path, cancel=cancel, on_progress=bar)
    except KeyboardInterrupt:  # the second Ctrl-C: stopped at once, and cleaned up on the way out
        bar.end()
        click.echo(f"interrupted: {new_path} was not created", err=True)
        sys.exit(EXIT_INTERRUPTED)
    bar.end()
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if report.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if report.ok else EXIT_ERROR)
