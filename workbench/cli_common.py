"""What the `workbench` commands share: options, where the database is, progress lines, Ctrl-C, errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from workbench.jobs import EXIT_ERROR
from workbench.settings import default_db_path

if TYPE_CHECKING:
    from workbench.targets import DbTarget
    from workbench.transfer import TransferProgress

EXIT_INTERRUPTED = 130
_state = {"debug": False}
_saved_levels: dict[str, int] = {}
_PYMILVUS_LOGGERS = ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer")


# --- options ------------------------------------------------------------------------
def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _state["debug"] = True
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("huggingface_hub").setLevel(logging.INFO)
        os.environ["HF_HUB_VERBOSITY"] = "info"
        warnings.simplefilter("default")


def debug_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                        help="Show tracebacks and library log messages.")(f)


def reset_debug() -> None:
    _state["debug"] = False


def quiet_pymilvus() -> None:
    """pymilvus logs warnings (and INFO lines) to stderr through its own handlers; the command line
    reports errors as one line instead, so they stay quiet unless --debug (`restore_logs` undoes it)."""
    if _state["debug"]:
        return
    import pymilvus  # noqa: F401  # configures its loggers on import: set them after

    for name in _PYMILVUS_LOGGERS:
        lg = logging.getLogger(name)
        _saved_levels.setdefault(name, lg.level)
        lg.setLevel(logging.CRITICAL + 1)


def restore_logs() -> None:
    for name, level in _saved_levels.items():
        logging.getLogger(name).setLevel(level)
    _saved_levels.clear()


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--db TARGET and --connection NAME (one or the other)."""
    f = click.option("--connection", "connection", default=None, metavar="NAME",
                     help="A saved connection (see `workbench connections`); instead of --db.")(f)
    return click.option(
        "--db", "db", default=None, metavar="DB",
        help="Where the collections are: a database directory (the embedded engine), lite:FILE (Milvus Lite) "
             "or http(s)://host:port (a Milvus server). Default: $WORKBENCH_DB, else default.db in your user "
             "data folder.",
    )(f)


def collection_option(required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--collection", "-c", "collection", required=required, metavar="NAME",
                        help="Collection name.")


def collection_name(name: str | None, collection: str | None) -> str:
    if name and collection and name != collection:
        raise click.UsageError("give the collection once (NAME or --collection)")
    if not (name or collection):
        raise click.UsageError("which collection? pass NAME or --collection NAME")
    return str(name or collection)


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class ByteSize(click.ParamType):
    """A size in bytes: a number with an optional binary unit (K, M, G, T; KiB, MB, ... read alike)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace(" ", "")
        for suffix in ("ib", "b"):
            if text.endswith(suffix) and text[: -len(suffix)][-1:] in ("k", "m", "g", "t"):
                text = text[: -len(suffix)]
                break
        unit = text[-1:] if text[-1:] in ("k", "m", "g", "t") else ""
        try:
            number = float(text[: len(text) - len(unit)])
        except ValueError:
            self.fail(f"{value!r} is not a size (write e.g. 512M, 2G or a number of bytes)", param, ctx)
        if not number > 0 or number != number or number == float("inf"):
            self.fail(f"{value!r} is not a positive size", param, ctx)
        return int(number * _SIZE_UNITS[unit])


# --- where the database is ----------------------------------------------------------
def resolve_target(db: str | None, connection: str | None) -> DbTarget:
    """What --db / --connection name: a string for `open_backend`, or a saved connection's spec."""
    if db and connection:
        raise click.UsageError("give --db or --connection, not both")
    if connection:
        return _quiet_for(connection_spec(connection))
    return _quiet_for(str(db) if db else str(default_db_path()))


def resolve_endpoint(text: str) -> DbTarget:
    """A copy's --from/--to: `@NAME` is a saved connection, anything else a --db string."""
    if text.startswith("@"):
        return _quiet_for(connection_spec(text[1:]))
    return _quiet_for(text)


def _quiet_for(target: Any) -> Any:
    from workbench.targets import target_spec

    if target_spec(target).kind != "embedded":
        with contextlib.suppress(ImportError):  # opening it explains a missing pymilvus
            quiet_pymilvus()
    return target


def connection_store() -> Any:
    """The saved connections ($WORKBENCH_CONNECTIONS, else the user config folder; secrets in the keyring)."""
    from workbench.connections import ConnectionStore

    return ConnectionStore()


def connection_spec(name: str) -> Any:
    if not name:
        raise click.UsageError("@ must be followed by a saved connection's name")
    return connection_store().spec(name)


# --- output -------------------------------------------------------------------------
def status(msg: str) -> None:
    click.echo(f"workbench: {msg}", err=True)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


class ProgressLine:
    """A one-line progress display on stderr: redrawn in place on a terminal (at most every 0.1 s),
    a line every few seconds otherwise. Subclasses turn an event into the line (`line_for`)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0
        self.phase = ""

    def due(self, phase: str, final: bool) -> bool:
        """Whether an event of `phase` is shown now (throttled within a phase; final events always)."""
        now = time.monotonic()
        if not final and phase == self.phase and now - self.last < (0.1 if self.tty else 5.0):
            return False
        self.last, self.phase = now, phase
        return True

    def show(self, line: str, final: bool) -> None:
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
        status(msg)


def bar_text(fraction: float, eta_s: float | None) -> tuple[str, str]:
    """(`[####....]` of 24 cells, " ETA m:ss" or "")."""
    filled = int(fraction * 24)
    eta = "" if eta_s is None else f" ETA {int(eta_s) // 60}:{int(eta_s) % 60:02d}"
    return f"[{'#' * filled}{'.' * (24 - filled)}]", eta


class TransferBar(ProgressLine):
    """The progress line of a copy, export or import."""

    def __call__(self, ev: TransferProgress) -> None:
        final = ev.phase in ("done", "cancelled")
        if not self.enabled or not self.due(ev.phase, final):
            return
        if ev.phase in ("copying", "writing", "reading", "appending") or final:
            total = "?" if ev.rows_total is None else str(ev.rows_total)
            left = (max(0.0, (ev.rows_total - ev.rows_done) / ev.rate)
                    if ev.rows_total and ev.rate > 0 and not final else None)
            bar, eta = bar_text(ev.fraction, left)
            line = f"{bar} {ev.rows_done}/{total} rows  {ev.rate:.0f} rows/s{eta}  {ev.phase}"
        else:
            line = f"{ev.phase}: {ev.message}" if ev.message else f"{ev.phase} ..."
        self.show(line, final)


@contextlib.contextmanager
def ctrl_c_cancels(cancel: Callable[[], None], is_cancelled: Callable[[], bool], say: Callable[[str], None],
                   what: str = "cancelling after the current batch") -> Iterator[None]:
    """While the block runs, the first Ctrl-C calls `cancel` (the job stops after its batch), the
    second stops at once (KeyboardInterrupt)."""

    def on_sigint(signum: int, frame: Any) -> None:
        if is_cancelled():
            raise KeyboardInterrupt
        cancel()
        say(f"{what} (Ctrl-C again to stop at once)")

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: no handler
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- errors -------------------------------------------------------------------------
def engine_or_unexpected(e: Exception) -> str:
    msg = getattr(e, "message", None)
    if msg and type(e).__module__.startswith("engine"):
        return str(msg).splitlines()[0]
    text = str(e).splitlines()[0] if str(e) else ""
    return f"unexpected {type(e).__name__}: {text} (run with --debug for the traceback)"


def fail(ctx: click.Context, message: str, e: BaseException) -> None:
    if _state["debug"]:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    click.echo(f"error: {message}", err=True)
    ctx.exit(EXIT_ERROR)


def model_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--model", "-m", default=None, metavar="M",
                     help="open_clip model name, e.g. ViT-B-32 (inferred from --checkpoint when omitted); "
                          "'demo': the app's untrained tiny demo model, to try the CLI without weights "
                          "(results are random)."),
        click.option("--pretrained", default=None, metavar="TAG",
                     help="open_clip pretrained tag, e.g. laion2b_s34b_b79k (downloaded once)."),
        click.option("--checkpoint", default=None, type=click.Path(dir_okay=False, path_type=str),
                     metavar="FILE", help="Local checkpoint file (a state_dict saved with torch.save)."),
        click.option("--device", default=None, metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps."),
    ]):
        f = opt(f)
    return f


def demo_model(model: str | None, pretrained: str | None, checkpoint: str | None,
               quiet: bool = False) -> tuple[str | None, str | None, str | None]:
    """(model, pretrained, checkpoint) with `--model demo` replaced by the demo checkpoint, and its warning."""
    from workbench.demo_model import DEMO_MODEL, DEMO_MODEL_WARNING_CLI, demo_checkpoint

    if model != DEMO_MODEL:
        return model, pretrained, checkpoint
    if pretrained or checkpoint:
        raise click.UsageError("--model demo takes no --pretrained or --checkpoint")
    if not quiet:
        click.echo(DEMO_MODEL_WARNING_CLI, err=True)
    return None, None, str(demo_checkpoint())
