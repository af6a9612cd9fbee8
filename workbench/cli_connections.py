"""`workbench connections`: saved connections (add, list, remove, test).

The settings file ($WORKBENCH_CONNECTIONS, else `connections.json` in the user config folder) holds no
secret: a token or password goes to the OS keyring, read from stdin (`--secret-stdin`) or typed at a
hidden prompt (`--ask-secret`), never taken from the command line and never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from workbench.cli_common import connection_store, debug_option, echo_json, status


@click.group()
def connections() -> None:
    """Saved connections to the embedded engine, Milvus Lite files and Milvus servers.

    Use one with `--connection NAME` (ingest, search, collections, ...) or `@NAME` (copy --from/--to).
    """


@connections.command("add")
@click.argument("name")
@click.option("--uri", required=True, metavar="URI",
              help="http(s)://host:port (a Milvus server), lite:FILE (Milvus Lite) or a database directory.")
@click.option("--kind", type=click.Choice(["embedded", "milvus", "milvus-lite"]), default=None,
              help="What the URI is (default: from the URI, as --db reads it).")
@click.option("--user", default="", metavar="U", help="User name (the secret is then its password).")
@click.option("--db-name", default="", metavar="D", help="Milvus database name.")
@click.option("--server-pem", default="", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="TLS: the server's certificate (one-way TLS).")
@click.option("--server-name", default="", metavar="N", help="TLS: the name in the server's certificate.")
@click.option("--client-pem", default="", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="Mutual TLS: the client certificate.")
@click.option("--client-key", default="", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="Mutual TLS: the client key.")
@click.option("--ca-pem", default="", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="Mutual TLS: the CA certificate.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, metavar="S",
              help="Seconds to wait for the server.")
@click.option("--description", default="", metavar="TEXT")
@click.option("--secret-stdin", is_flag=True, help="Read the token (or password, with --user) from stdin.")
@click.option("--ask-secret", is_flag=True, help="Ask for the token (or password) at a hidden prompt.")
@debug_option
def add(name: str, uri: str, kind: str | None, user: str, db_name: str, server_pem: str, server_name: str,
        client_pem: str, client_key: str, ca_pem: str, timeout: float | None, description: str,
        secret_stdin: bool, ask_secret: bool) -> None:
    """Save (or replace) connection NAME. Its secret goes to the OS keyring, never to the settings file."""
    from workbench.connections import Connection
    from workbench.targets import target_spec

    if secret_stdin and ask_secret:
        raise click.UsageError("give --secret-stdin or --ask-secret, not both")
    spec = target_spec(uri)  # "lite:FILE" -> Milvus Lite at FILE, as --db reads it
    kind = kind or spec.kind
    where = spec.uri if kind == "milvus" else str(Path(spec.uri).expanduser().absolute())
    conn = Connection(name=name, kind=kind, uri=where, user=user, db_name=db_name,
                      server_pem_path=server_pem, server_name=server_name, client_pem_path=client_pem,
                      client_key_path=client_key, ca_pem_path=ca_pem, timeout=timeout, description=description)
    secret: str | None = None
    if secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise click.UsageError("--secret-stdin: stdin gave an empty secret")
    elif ask_secret:
        secret = click.prompt("password" if user else "token", hide_input=True, err=True)
    saved = connection_store().save(conn, secret=secret)
    if "://" in uri and urlsplit(uri).password:
        status("the password in --uri was moved to the keyring; it is still in your shell history: "
               "prefer --ask-secret or --secret-stdin")
    click.echo(f"saved connection {saved.name!r}: {saved.kind} {saved.uri}"
               + (" (secret in the keyring)" if saved.has_secret else ""))


@connections.command("list")
@click.option("--json", "as_json", is_flag=True)
@debug_option
def list_(as_json: bool) -> None:
    """List the saved connections (never their secrets)."""
    conns = connection_store().list()
    if as_json:
        echo_json([c.to_json() for c in conns])
        return
    if not conns:
        click.echo("no saved connections (add one with `workbench connections add NAME --uri URI`)")
    for c in conns:
        extra = [f"user {c.user}" if c.user else "", f"database {c.db_name}" if c.db_name else "",
                 "TLS" if c.server_pem_path or c.ca_pem_path or c.uri.startswith("https://") else "",
                 "secret in the keyring" if c.has_secret else ""]
        click.echo(f"{c.name}  {c.kind}  {c.uri}" + "".join(f"  ({e})" for e in extra if e))


@connections.command("remove")
@click.argument("name")
@debug_option
def remove(name: str) -> None:
    """Forget connection NAME and its secret."""
    store = connection_store()
    store.get(name)  # says which connections there are when NAME is not one
    store.delete(name)
    click.echo(f"removed connection {name!r}")


@connections.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the capabilities as JSON.")
@debug_option
def test(name: str, as_json: bool) -> None:
    """Connect to NAME and show what it can do (and, for what it cannot, why)."""
    backend = connection_store().open(name)
    try:
        caps = backend.capabilities
        collections = backend.list_collections()
        if as_json:
            echo_json({"name": name, "backend": backend.label, "collections": len(collections),
                       "capabilities": caps.to_dict()})
            return
        click.echo(f"connected to {backend.label}: {caps.describe()}, {len(collections)} collection(s)")
        _print_capabilities(caps.to_dict(), caps)
    finally:
        backend.close()


def _print_capabilities(d: dict[str, Any], caps: Any) -> None:
    from workbench.backends import FEATURES

    have = [f for f, ok in d["features"].items() if ok]
    click.echo("supports: " + (", ".join(have) if have else "nothing listed"))
    for f, ok in d["features"].items():
        if not ok:
            click.echo(f"  no {FEATURES[f]}: {caps.why_not(f)}")
    click.echo("index types: " + ", ".join(d["index_types"]))
    click.echo(f"insert with a duplicate primary key: {d['duplicate_pk_insert']}")
