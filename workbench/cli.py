"""`workbench`: the command line, a thin layer over the library.

Each command calls one library function. Errors are printed as one line,
`error: <message>`, with a non-zero exit status; `--debug` shows the traceback.
`--db` takes a database directory (the embedded engine), `lite:FILE` (Milvus Lite) or
`http(s)://host:port` (a Milvus server); `--connection NAME` a saved connection.
This module holds ingest and inspection; `cli_search` search; `cli_transfer` export, import and copy;
`cli_connections` the `connections` group; `cli_db` the `db` group (check, recover); `cli_common`
what they share.

Exit statuses: 0 ok, 1 error, 2 usage error, 3 finished but some files were
skipped, 130 interrupted (Ctrl-C; committed batches are kept).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

import click

from workbench.cli_common import (
    EXIT_INTERRUPTED,
    ByteSize,
    ProgressLine,
    bar_text,
    collection_name,
    collection_option,
    ctrl_c_cancels,
    debug_option,
    echo_json,
    engine_or_unexpected,
    fail,
    model_options,
    reset_debug,
    resolve_target,
    restore_logs,
    target_options,
)
from workbench.cli_common import demo_model as demo_model
from workbench.jobs import Progress
from workbench.settings import WorkbenchError


class _Group(click.Group):
    """The `workbench` group: one-line errors, library logs and warnings quiet unless --debug."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        reset_debug()
        root = logging.getLogger()
        level = root.level
        hub = logging.getLogger("huggingface_hub")
        hub_level = hub.level
        os.environ.setdefault("HF_HUB_VERBOSITY", "error")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                root.setLevel(logging.CRITICAL)  # the library's own errors are reported as one line
                hub.setLevel(logging.ERROR)
                return super().main(*args, **kwargs)
        finally:
            root.setLevel(level)
            hub.setLevel(hub_level)
            restore_logs()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted (committed batches are kept)", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except WorkbenchError as e:
            fail(ctx, str(e), e)
        except Exception as e:
            fail(ctx, engine_or_unexpected(e), e)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vector-workbench", prog_name="workbench")
@debug_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Vector Workbench: ingest images, PDFs and documents into a vector database (the embedded engine, Milvus Lite
    or a Milvus server) and search them; copy, export and import collections."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


# --- ingest ------------------------------------------------------------------------
class _Bar(ProgressLine):
    """The progress line of an ingestion."""

    def __init__(self, enabled: bool) -> None:
        super().__init__(enabled)
        self.shown: tuple[int, int] | None = None

    def __call__(self, ev: Progress) -> None:
        final = ev.phase in ("done", "cancelled")
        if not self.enabled:
            return
        if final and not self.tty and self.shown == (ev.files_done, ev.errors):
            return  # the last line already says it
        if not self.due(ev.phase, final):
            return
        self.shown = (ev.files_done, ev.errors)
        if ev.phase in ("scanning", "loading model", "checking"):
            line = f"{ev.phase} ..."
        else:
            bar, eta = bar_text(ev.fraction, ev.eta_s)
            cur = f"  {ev.current.rsplit('/', 1)[-1][:40]}" if ev.current and not final else ""
            line = (f"{bar} {ev.files_done}/{ev.files_total} files "
                    f"{ev.bytes_done / 1e6:.1f} MB  {ev.rate:.1f} files/s{eta}  skipped {ev.errors}{cur}")
        self.show(line, final)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@target_options
@collection_option()
@model_options
@click.option("--multiview", is_flag=True, help="Also embed a grid of crops per image (finds small objects).")
@click.option("--grid", default=3, show_default=True, type=click.IntRange(1, 8), help="Crops per side with --multiview.")
@click.option("--kind", type=click.Choice(["auto", "images", "pdfs", "documents", "products"]), default="auto",
              show_default=True,
              help="What to ingest; auto follows the collection, else the files found (text files or "
                   "--text-model: documents). products: folders products/<sku>/*.jpg or a CSV/JSONL manifest "
                   "(sku, title, price, image, angle, is_primary), one entity per product.")
@click.option("--text-model", default=None, metavar="NAME_OR_PATH",
              help="Documents: sentence-transformers model name or local folder (default: the packaged "
                   "all-MiniLM-L6-v2).")
@click.option("--chunk-tokens", type=click.IntRange(8, 8190), default=128, show_default=True,
              help="Documents: most word pieces per chunk.")
@click.option("--chunk-overlap", type=click.IntRange(0, 4095), default=None,
              help="Documents: word pieces repeated where a long paragraph is cut [default: 3/16 of --chunk-tokens].")
@click.option("--page-images/--no-page-images", default=None,
              help="Documents: also embed PDF page images with CLIP (default: when a new collection gets PDFs).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None, help="Images per model forward pass.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Decoding threads.")
@click.option("--decode-memory", type=ByteSize(), default=None, metavar="SIZE",
              help="Memory for decoded pixels of all workers together, e.g. 512M or 2G (default: a quarter "
                   "of the available memory, 256M to 1G). An image larger than this is decoded alone.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@debug_option
def ingest(paths: tuple[str, ...], db: str | None, connection: str | None, collection: str, model: str | None,
           pretrained: str | None,
           checkpoint: str | None, device: str | None, multiview: bool, grid: int, kind: str, text_model: str | None,
           chunk_tokens: int, chunk_overlap: int | None, page_images: bool | None,
           batch_size: int | None, workers: int | None, decode_memory: int | None, as_json: bool,
           quiet: bool) -> None:
    """Ingest image, PDF, document or product files and folders (recursively) into a collection.

    Documents (.txt, .md, .html, .pdf, and Parquet/JSONL paragraphs files) become one entity each,
    their chunks embedded with a text model. Exit status 3 means it finished but some files (or
    records) were skipped (listed in the summary).
    """
    from workbench.ingest import IngestOptions, ingest_job

    opts = IngestOptions(kind=kind, multiview=multiview, grid=grid, workers=workers, text_model=text_model,
                         chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap, page_images=page_images,
                         decode_memory=decode_memory)
    model, pretrained, checkpoint = demo_model(model, pretrained, checkpoint)
    bar = _Bar(enabled=not quiet and not as_json)
    job = ingest_job(list(paths), resolve_target(db, connection), collection, model=model, pretrained=pretrained,
                     checkpoint=checkpoint, device=device, batch_size=batch_size, options=opts,
                     on_status=None if quiet else bar.message)
    with ctrl_c_cancels(job.cancel, lambda: job.cancelled, bar.message):
        report = job.run(bar)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if report.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(report.exit_code)


# --- collections -------------------------------------------------------------------
@cli.command()
@target_options
@click.option("--json", "as_json", is_flag=True)
@debug_option
def collections(db: str | None, connection: str | None, as_json: bool) -> None:
    """List the collections of a database."""
    from workbench.collection_ops import list_collections
    from workbench.targets import target_label

    target = resolve_target(db, connection)
    rows = list_collections(target)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no collections in {target_label(target)}")
    for r in rows:
        count = "? rows (released)" if r["rows"] is None else f"{r['rows']} rows"
        click.echo(f"{r['name']}  {count}  {r['kind'] or '?'}  {r['model'] or ''}".rstrip())
        if r.get("temporary"):
            click.echo(f"    temporary: {r['temporary']}")


@cli.command()
@click.argument("name", required=False)
@target_options
@collection_option(required=False)
@click.option("--json", "as_json", is_flag=True)
@debug_option
def describe(name: str | None, db: str | None, connection: str | None, collection: str | None,
             as_json: bool) -> None:
    """Show a collection's fields, kind and model."""
    from workbench.collection_ops import describe as run_describe

    d = run_describe(resolve_target(db, connection), collection_name(name, collection))
    if as_json:
        echo_json(d)
        return
    click.echo(f"collection {d['name']} ({d['kind'] or 'unknown kind'})")
    if d["model"]:
        click.echo(f"model: {d['model']}")
    for f in d["fields"]:
        click.echo("  " + _field_line(f))
        for s in f.get("fields", []):
            click.echo("      " + _field_line(s))


def _field_line(f: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={f[k]}" for k in ("dim", "max_length", "max_capacity") if k in f)
    flags = " primary" if f.get("primary") else ""
    flags += " nullable" if f.get("nullable") else ""
    return f"{f['name']}: {f['type']}" + (f"({params})" if params else "") + flags


@cli.command()
@click.argument("name", required=False)
@target_options
@collection_option(required=False)
@click.option("--json", "as_json", is_flag=True)
@debug_option
def stats(name: str | None, db: str | None, connection: str | None, collection: str | None, as_json: bool) -> None:
    """Row count, thumbnails and disk use of a collection (and its segments, where the backend lists them)."""
    from workbench.collection_ops import stats as run_stats

    s = run_stats(resolve_target(db, connection), collection_name(name, collection))
    if as_json:
        echo_json(s)
        return
    disk = "" if s["database_bytes"] is None else f"; database {s['database_bytes'] / 1e6:.1f} MB"
    rows = "? rows (released: load it to count)" if s["rows"] is None else f"{s['rows']} rows"
    click.echo(f"collection {s['name']}: {rows}, {s['thumbnails']} thumbnails "
               f"({s['thumbnail_bytes'] / 1e6:.1f} MB){disk}")
    if s["segments"] is not None:
        click.echo(f"segments: {len(s['segments'])}")
        for seg in s["segments"]:
            deleted = f", {seg['deleted_rows']} deleted" if seg.get("deleted_rows") else ""
            click.echo(f"  {seg['id']}  {seg['state']}  {seg['rows']} rows{deleted}")
    if s["model"]:
        click.echo(f"model: {s['model']}")


# --- transfer and connections (their own modules) ---------------------------------------
def _add_commands() -> None:
    from workbench.cli_connections import connections
    from workbench.cli_db import db
    from workbench.cli_duplicates import duplicates, uniqueness
    from workbench.cli_search import search
    from workbench.cli_transfer import copy, export, import_

    for command in (search, export, import_, copy, connections, db, duplicates, uniqueness):
        cli.add_command(command)


_add_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`workbench`)."""
    cli.main(args=argv, prog_name="workbench")


if __name__ == "__main__":
    main()
