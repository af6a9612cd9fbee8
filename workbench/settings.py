"""Workbench settings and the workbench error hierarchy.

The default database lives in the user's data directory
(`platformdirs.user_data_dir("vector-workbench")/default.db`); the environment
variable `WORKBENCH_DB` overrides it. Every error the workbench raises on
purpose derives from `WorkbenchError`, whose message is one line meant for the
user; the CLI prints it as `error: <message>`.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vector-workbench"
DB_ENV_VAR = "WORKBENCH_DB"
# Folder inside a database directory that holds the workbench's own files
# (collection metadata sidecars, thumbnails). The rest of the directory is the engine's.
WORKBENCH_SUBDIR = "workbench"


class WorkbenchError(Exception):
    """Base class of errors meant for the user: the message says what to do."""


class ModelError(WorkbenchError):
    """A CLIP model or checkpoint cannot be loaded (missing weights, wrong file, unknown name)."""


class ModelMismatchError(WorkbenchError):
    """A collection was embedded with another model than the one asked for."""


class CollectionError(WorkbenchError):
    """A collection is missing, or its schema does not fit what ingestion needs."""


class InputError(WorkbenchError):
    """A path or argument given by the user is unusable (missing file, nothing to ingest)."""


def default_db_path() -> Path:
    """The database used when none is given: `$WORKBENCH_DB`, else `<user data dir>/default.db`."""
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "default.db"


def cache_dir() -> Path:
    """The workbench's cache directory (checkpoint checksums and the like)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def workbench_dir(db: str | os.PathLike[str]) -> Path:
    """`<db>/workbench`: where the workbench keeps its files inside a database directory."""
    return Path(db) / WORKBENCH_SUBDIR


WORKSPACES_ENV_VAR = "WORKBENCH_WORKSPACES"


def server_workspace(uri: str, db_name: str = "") -> Path:
    """Where the workbench keeps its own files (metadata, thumbnails) for collections on a Milvus server.

    `<user data dir>/servers/<host_port>[_<db>]-<hash>`; `$WORKBENCH_WORKSPACES` overrides the parent folder.
    The folder name never holds a user name or a password: only the host, port and database name.
    """
    import hashlib
    import re
    from urllib.parse import urlsplit

    parts = urlsplit(uri if "://" in uri else f"tcp://{uri}")
    host = parts.hostname or "local"
    port = f"_{parts.port}" if parts.port else ""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{host}{port}{'_' + db_name if db_name else ''}")[:80]
    digest = hashlib.sha256(f"{parts.scheme}://{host}{port}{parts.path}|{db_name}".encode()).hexdigest()[:10]
    env = os.environ.get(WORKSPACES_ENV_VAR)
    if env:
        root = Path(env).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "servers"
    return root / f"{readable}-{digest}"
