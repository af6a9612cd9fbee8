"""`workbench`: the command line, a thin layer over the library.

Each command calls one library function. Errors are printed as one line,
`error: <message>`, with a non-zero exit status; `--debug` shows the traceback.

Exit statuses: 0 ok, 1 error, 2 usage error, 3 finished but some files were
skipped, 130 interrupted (Ctrl-C; committed batches are kept).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import click

from workbench.jobs import EXIT_ERROR, Progress
from workbench.settings import WorkbenchError, default_db_path

EXIT_INTERRUPTED = 130
_debug = False


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    global _debug
    if value:
        _debug = True
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("huggingface_hub").setLevel(logging.INFO)
        os.environ["HF_HUB_VERBOSITY"] = "info"
        warnings.simplefilter("default")


def debug_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                        help="Show tracebacks and library log messages.")(f)


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", "db", type=click.Path(file_okay=False, path_type=str), default=None, metavar="DB",
        help="Database directory (default: $WORKBENCH_DB, else default.db in your user data folder).",
    )(f)


def collection_option(required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--collection", "-c", "collection", required=required, metavar="NAME",
                        help="Collection name.")


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--model", "-m", default=None, metavar="M",
                     help="open_clip model name, e.g. ViT-B-32 (inferred from --checkpoint when omitted)."),
        click.option("--pretrained", default=None, metavar="TAG",
                     help="open_clip pretrained tag, e.g. laion2b_s34b_b79k (downloaded once)."),
        click.option("--checkpoint", default=None, type=click.Path(dir_okay=False, path_type=str),
                     metavar="FILE", help="Local checkpoint file (a state_dict saved with torch.save)."),
        click.option("--device", default=None, metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps."),
    ]):
        f = opt(f)
    return f


def _db(db: str | None) -> str:
    return str(db) if db else str(default_db_path())


def _status(msg: str) -> None:
    click.echo(f"workbench: {msg}", err=True)


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


class _Group(click.Group):
    """The `workbench` group: one-line errors, library logs and warnings quiet unless --debug."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        global _debug
        _debug = False
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

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted (committed batches are kept)", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except WorkbenchError as e:
            _fail(ctx, str(e), e)
        except Exception as e:
            _fail(ctx, _engine_or_unexpected(e), e)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vector-workbench", prog_name="workbench")
@debug_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Vector Workbench: ingest images and PDFs into a local vector database and search them."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


# --- ingest ------------------------------------------------------------------------
class _Bar:
    """A one-line progress display on stderr (a line every few seconds when not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0
        self.phase = ""
        self.shown: tuple[int, int] | None = None

    def __call__(self, ev: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = ev.phase in ("done", "cancelled")
        if not final and now - self.last < (0.1 if self.tty else 5.0) and ev.phase == self.phase:
            return
        if final and not self.tty and self.shown == (ev.files_done, ev.errors):
            return  # the last line already says it
        self.last, self.phase, self.shown = now, ev.phase, (ev.files_done, ev.errors)
        if ev.phase in ("scanning", "loading model", "checking"):
            line = f"{ev.phase} ..."
        else:
            frac = ev.fraction
            filled = int(frac * 24)
            eta = "" if ev.eta_s is None else f" ETA {int(ev.eta_s) // 60}:{int(ev.eta_s) % 60:02d}"
            cur = f"  {ev.current.rsplit('/', 1)[-1][:40]}" if ev.current and not final else ""
            line = (f"[{'#' * filled}{'.' * (24 - filled)}] {ev.files_done}/{ev.files_total} files "
                    f"{ev.bytes_done / 1e6:.1f} MB  {ev.rate:.1f} files/s{eta}  skipped {ev.errors}{cur}")
        if self.tty:
            pad = max(0, self.width - len(line))
            click.echo("\r" + line + " " * pad, err=True, nl=final)
            self.width = 0 if final else len(line)
        else:
            click.echo(line, err=True)

    def message(self, msg: str) -> None:
        """A status line that does not collide with the progress line."""
        if self.tty and self.width:
            click.echo("", err=True)
            self.width = 0
        _status(msg)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@db_option
@collection_option()
@model_options
@click.option("--multiview", is_flag=True, help="Also embed a grid of crops per image (finds small objects).")
@click.option("--grid", default=3, show_default=True, type=click.IntRange(1, 8), help="Crops per side with --multiview.")
@click.option("--kind", type=click.Choice(["auto", "images", "pdfs"]), default="auto", show_default=True,
              help="What to ingest; auto follows the collection, else the files found.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None, help="Images per model forward pass.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Decoding threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@debug_option
def ingest(paths: tuple[str, ...], db: str | None, collection: str, model: str | None, pretrained: str | None,
           checkpoint: str | None, device: str | None, multiview: bool, grid: int, kind: str,
           batch_size: int | None, workers: int | None, as_json: bool, quiet: bool) -> None:
    """Ingest image or PDF files and folders (recursively) into a collection.

    Exit status 3 means it finished but some files were skipped (listed in the summary).
    """
    from workbench.ingest import IngestOptions, ingest_job

    opts = IngestOptions(kind=kind, multiview=multiview, grid=grid, workers=workers)
    bar = _Bar(enabled=not quiet and not as_json)
    job = ingest_job(list(paths), _db(db), collection, model=model, pretrained=pretrained, checkpoint=checkpoint,
                     device=device, batch_size=batch_size, options=opts, on_status=None if quiet else bar.message)

    def on_sigint(signum: int, frame: Any) -> None:
        if job.cancelled:
            raise KeyboardInterrupt
        job.cancel()
        bar.message("cancelling after the current batch (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        report = job.run(bar)
    finally:
        signal.signal(signal.SIGINT, previous)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if report.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(report.exit_code)


# --- search ------------------------------------------------------------------------
@cli.command()
@db_option
@collection_option()
@click.option("--text", "-t", default=None, help="Search with this text.")
@click.option("--image", "-i", default=None, type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="Search with this image file.")
@click.option("--filter", "-f", "filter_", default="", metavar="EXPR",
              help='Milvus filter expression, e.g. \'folder == "cats" and width > 800\'.')
@click.option("--limit", "-k", default=10, show_default=True, type=click.IntRange(1, 16384))
@click.option("--field", "anns_field", default=None, metavar="FIELD",
              help="Vector field to search, e.g. embedding, views[embedding], pages[text_vector].")
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@debug_option
def search(db: str | None, collection: str, text: str | None, image: str | None, filter_: str, limit: int,
           anns_field: str | None, model: str | None, pretrained: str | None, checkpoint: str | None,
           device: str | None, as_json: bool) -> None:
    """Search a collection by text or by image; uses the model the collection was embedded with."""
    from workbench.collection_ops import search as run_search

    if (text is None) == (image is None):
        raise click.UsageError("give exactly one of --text or --image")
    hits = run_search(_db(db), collection, text=text, image=image, filter=filter_, limit=limit,
                      anns_field=anns_field, model=model, pretrained=pretrained, checkpoint=checkpoint,
                      device=device, on_status=None if as_json else _status)
    if as_json:
        _echo_json([h.to_dict() for h in hits])
        return
    if not hits:
        click.echo("no results")
    for i, h in enumerate(hits, 1):
        where = h.fields.get("path") or h.id
        extra = f"  (page {h.page})" if h.page is not None else ""
        if h.box is not None:
            extra += f"  (crop {h.box[0]},{h.box[1]}-{h.box[2]},{h.box[3]})"
        snippet = ""
        if h.page_text:
            s = " ".join(h.page_text.split())
            snippet = f'  "{s[:60]}{"..." if len(s) > 60 else ""}"'
        click.echo(f"{i:3d}  {h.score:.4f}  {where}{extra}{snippet}")


# --- collections -------------------------------------------------------------------
@cli.command()
@db_option
@click.option("--json", "as_json", is_flag=True)
@debug_option
def collections(db: str | None, as_json: bool) -> None:
    """List the collections of a database."""
    from workbench.collection_ops import list_collections

    rows = list_collections(_db(db))
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"no collections in {_db(db)}")
    for r in rows:
        click.echo(f"{r['name']}  {r['rows']} rows  {r['kind'] or '?'}  {r['model'] or ''}".rstrip())


@cli.command()
@click.argument("name", required=False)
@db_option
@collection_option(required=False)
@click.option("--json", "as_json", is_flag=True)
@debug_option
def describe(name: str | None, db: str | None, collection: str | None, as_json: bool) -> None:
    """Show a collection's fields, kind and model."""
    from workbench.collection_ops import describe as run_describe

    d = run_describe(_db(db), _name(name, collection))
    if as_json:
        _echo_json(d)
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


def _name(name: str | None, collection: str | None) -> str:
    if name and collection and name != collection:
        raise click.UsageError("give the collection once (NAME or --collection)")
    if not (name or collection):
        raise click.UsageError("which collection? pass NAME or --collection NAME")
    return str(name or collection)


@cli.command()
@click.argument("name", required=False)
@db_option
@collection_option(required=False)
@click.option("--json", "as_json", is_flag=True)
@debug_option
def stats(name: str | None, db: str | None, collection: str | None, as_json: bool) -> None:
    """Row count, thumbnails and disk use of a collection."""
    from workbench.collection_ops import stats as run_stats

    s = run_stats(_db(db), _name(name, collection))
    if as_json:
        _echo_json(s)
        return
    click.echo(f"collection {s['name']}: {s['rows']} rows, {s['thumbnails']} thumbnails "
               f"({s['thumbnail_bytes'] / 1e6:.1f} MB); database {s['database_bytes'] / 1e6:.1f} MB")
    if s["model"]:
        click.echo(f"model: {s['model']}")


@cli.command()
@click.argument("name", required=False)
@db_option
@collection_option(required=False)
@click.option("--parquet", "parquet", required=True, type=click.Path(dir_okay=False, path_type=str),
              metavar="FILE", help="Write the rows to this Parquet file.")
@debug_option
def export(name: str | None, db: str | None, collection: str | None, parquet: str) -> None:
    """Export a collection's rows (vectors included) to a Parquet file."""
    from workbench.collection_ops import export_parquet

    n = export_parquet(_db(db), _name(name, collection), parquet)
    click.echo(f"wrote {n} rows to {parquet}")


# --- entry point -------------------------------------------------------------------
def _engine_or_unexpected(e: Exception) -> str:
    msg = getattr(e, "message", None)
    if msg and type(e).__module__.startswith("engine"):
        return str(msg).splitlines()[0]
    text = str(e).splitlines()[0] if str(e) else ""
    return f"unexpected {type(e).__name__}: {text} (run with --debug for the traceback)"


def _fail(ctx: click.Context, message: str, e: BaseException) -> None:
    if _debug:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    click.echo(f"error: {message}", err=True)
    ctx.exit(EXIT_ERROR)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`workbench`)."""
    cli.main(args=argv, prog_name="workbench")


if __name__ == "__main__":
    main()
