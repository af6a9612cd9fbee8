"""`workbench export`, `import` and `copy`: moving collections between backends and files.

Progress goes to stderr; Ctrl-C stops after the current batch (exit status 130), a second Ctrl-C at
once. `import` and `copy` write into a temporary collection and change the target only once it is
verified; they print their report (rows, verification, what was done with the temporary collection) and
exit 1 when the verification failed (the target is then as it was).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from workbench.cli_common import (
    EXIT_INTERRUPTED,
    TransferBar,
    collection_name,
    collection_option,
    ctrl_c_cancels,
    debug_option,
    resolve_endpoint,
    resolve_target,
    target_options,
)
from workbench.jobs import EXIT_ERROR

if TYPE_CHECKING:
    from workbench.transfer import TransferReport


def _finish(report: TransferReport) -> None:
    click.echo(report.summary())
    for note in report.notes:
        click.echo(f"  {note}")
    if report.plan is not None and report.plan.dropped:
        click.echo(f"  not copied: {', '.join(report.plan.dropped)}")
    if report.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    if not report.ok:
        sys.exit(EXIT_ERROR)


@click.command()
@click.argument("name", required=False)
@target_options
@collection_option(required=False)
@click.option("--parquet", "parquet", default=None, type=click.Path(path_type=str), metavar="PATH",
              help="Write Parquet: the file (or, with --layout segments|split, the directory).")
@click.option("--jsonl", "jsonl", default=None, type=click.Path(path_type=str), metavar="PATH",
              help="Write JSON Lines (the schema goes to PATH.schema.json).")
@click.option("--layout", type=click.Choice(["single", "segments", "split"]), default=None,
              help="single: one file (default); segments: one file per segment (the embedded engine); "
                   "split: files of at most --rows-per-file rows.")
@click.option("--rows-per-file", type=click.IntRange(1), default=None, metavar="N",
              help="With --layout split (implied): rows per file (default 100000).")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def export(name: str | None, db: str | None, connection: str | None, collection: str | None, parquet: str | None,
           jsonl: str | None, layout: str | None, rows_per_file: int | None, quiet: bool) -> None:
    """Export a collection's rows (vectors included) to Parquet or JSONL.

    The files keep the collection's schema and indexes, so `workbench import` recreates it exactly.
    """
    from workbench.collection_ops import export as run_export
    from workbench.transfer import CancelToken

    if (parquet is None) == (jsonl is None):
        raise click.UsageError("give exactly one of --parquet PATH or --jsonl PATH")
    if rows_per_file is not None and layout in ("single", "segments"):
        raise click.UsageError("--rows-per-file goes with --layout split")
    layout = layout or ("split" if rows_per_file is not None else "single")
    dest, fmt = (parquet, "parquet") if parquet is not None else (jsonl, "jsonl")
    assert dest is not None
    bar = TransferBar(enabled=not quiet)
    token = CancelToken()
    with ctrl_c_cancels(token.cancel, lambda: token.cancelled, bar.message):
        report = run_export(resolve_target(db, connection), collection_name(name, collection), dest, fmt=fmt,
                            layout=layout, rows_per_file=rows_per_file, cancel=token, on_progress=bar)
    if report.cancelled:
        click.echo(report.summary())
        sys.exit(EXIT_INTERRUPTED)
    where = dest if layout == "single" else f"{len(report.files)} file(s) in {dest}"
    click.echo(f"wrote {report.rows} rows to {where}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=str))
@target_options
@click.option("--collection", "-c", "collection", default=None, metavar="NAME",
              help="Collection to import into (default: the name recorded in the export, else the file name).")
@click.option("--mode", type=click.Choice(["create", "replace", "append"]), default="create", show_default=True,
              help="create a new collection, replace an existing one, or append (upsert) to it. The rows go "
                   "into a temporary collection first; the target changes only once they are verified.")
@click.option("--verify", type=click.Choice(["none", "sample", "full"]), default="sample", show_default=True,
              help="Before the target changes: compare row counts and checksums of sampled rows (or of every "
                   "row); none compares row counts only.")
@click.option("--primary-key", default=None, metavar="FIELD",
              help="For Parquet files without a recorded schema: the primary key column.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--skip-unsupported", is_flag=True,
              help="Leave out fields the backend cannot hold instead of refusing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def import_(file: str, db: str | None, connection: str | None, collection: str | None, mode: str, verify: str,
            primary_key: str | None, batch_size: int, skip_unsupported: bool, quiet: bool) -> None:
    """Import a Parquet or JSONL file (or a directory of them) into a collection.

    The rows are loaded into a temporary collection (COLLECTION__importing_<tag>) and checked there; only
    then is it put in place (create, replace) or upserted into the collection (append). A damaged
    line, a failed check, Ctrl-C or any error leaves the collection as it was.
    """
    from workbench.collection_ops import import_file
    from workbench.transfer import CancelToken

    bar = TransferBar(enabled=not quiet)
    token = CancelToken()
    with ctrl_c_cancels(token.cancel, lambda: token.cancelled, bar.message):
        report = import_file(resolve_target(db, connection), file, collection, mode=mode, primary_key=primary_key,
                             batch_size=batch_size, skip_unsupported=skip_unsupported, verify=verify, cancel=token,
                             on_progress=bar)
    _finish(report)


@click.command()
@click.argument("name")
@click.option("--from", "source", required=True, metavar="SRC",
              help="Where the collection is: a directory, lite:FILE, http(s)://host:port or @CONNECTION.")
@click.option("--to", "target", required=True, metavar="DST", help="Where to copy it (same forms as --from).")
@click.option("--as", "new_name", default=None, metavar="NEW", help="Name of the copy (default: NAME).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--if-exists", type=click.Choice(["fail", "replace", "append"]), default="fail", show_default=True,
              help="When DST already has the collection: fail, replace it (once the copy is verified) or "
                   "append (upsert the verified rows).")
@click.option("--verify", type=click.Choice(["none", "sample", "full"]), default="sample", show_default=True,
              help="Before the target changes: compare row counts and checksums of sampled rows (or of every "
                   "row); none compares row counts only.")
@click.option("--skip-unsupported", is_flag=True,
              help="Leave out fields DST cannot hold (e.g. Array of Structs on Milvus Lite) instead of refusing.")
@click.option("--keep-partial", is_flag=True,
              help="On Ctrl-C or an error, keep what was copied so far as NEW (only when NEW does not exist).")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@debug_option
def copy(name: str, source: str, target: str, new_name: str | None, batch_size: int, if_exists: str, verify: str,
         skip_unsupported: bool, keep_partial: bool, quiet: bool) -> None:
    """Copy collection NAME from one backend to another (or to a new name), verified before it takes its place.

    The rows go into a temporary collection (NEW__copying_<tag>) on DST, which is checked and only then
    put in place (or, with --if-exists append, upserted into NEW): Ctrl-C, an error or a failed check
    leaves DST as it was.

    The workbench's record of the collection (model, template) and its thumbnails come along, so the
    copy can be searched right away.
    """
    from workbench.collection_ops import copy_between
    from workbench.transfer import CancelToken

    bar = TransferBar(enabled=not quiet)
    token = CancelToken()
    with ctrl_c_cancels(token.cancel, lambda: token.cancelled, bar.message):
        report = copy_between(resolve_endpoint(source), resolve_endpoint(target), name, target_name=new_name,
                              batch_size=batch_size, if_exists=if_exists, verify=verify,
                              skip_unsupported=skip_unsupported, keep_partial=keep_partial, cancel=token,
                              on_progress=bar)
    _finish(report)
