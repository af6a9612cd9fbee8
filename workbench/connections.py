"""Saved connections: where each backend is, kept in the app's settings, with secrets in the OS keyring.

The settings file (`<user config dir>/connections.json`, mode 0600) holds names, URIs, user names,
database names and TLS file paths: never a token or a password. Those go into a `SecretStore`: the OS
keyring (the `keyring` package) in the app, an in-memory store in tests.

    store = ConnectionStore()
    store.save(Connection("prod", kind="milvus", uri="https://milvus.example:19530"), secret="user:pass")
    backend = store.open("prod")

A password written into a URI (`https://user:pass@host`) is moved to the secret store on save.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from workbench.backends import Backend, BackendError, BackendSpec, open_backend, scrub
from workbench.settings import APP_NAME, WorkbenchError

KEYRING_SERVICE = APP_NAME
KINDS = ("embedded", "milvus", "milvus-lite")
_NAME_RE = re.compile(r"[\w .@()+-]{1,64}")  # matched in full: `$` would let a trailing newline through


class ConnectionSettingsError(WorkbenchError):
    """A saved connection is missing, invalid, or its secret cannot be read."""


class SecretStoreUnavailable(ConnectionSettingsError):
    """No OS keyring can be used (the `keyring` package is missing, or has no backend)."""


class SecretStore(Protocol):
    """Where tokens and passwords live (never in the settings file)."""

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, secret: str) -> None: ...
    def delete(self, key: str) -> None: ...


class MemorySecretStore:
    """A secret store in memory (tests, and sessions that must not touch the keyring)."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def set(self, key: str, secret: str) -> None:
        self._data[key] = secret

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def __repr__(self) -> str:
        return f"MemorySecretStore({len(self._data)} secrets)"


class KeyringSecretStore:
    """The OS keyring through the `keyring` package (service "vector-workbench").

    `backend` is a keyring backend object to use instead of the default one (tests pass a fake).
    """

    def __init__(self, service: str = KEYRING_SERVICE, backend: Any = None) -> None:
        self.service = service
        self._backend = backend

    def _kr(self) -> Any:
        if self._backend is not None:
            return self._backend
        try:
            import keyring
        except ImportError:
            raise SecretStoreUnavailable(
                "cannot store the token or password: the 'keyring' package is not installed "
                "(pip install keyring); the workbench never writes secrets to its settings file"
            ) from None
        return keyring

    def get(self, key: str) -> str | None:
        try:
            return self._kr().get_password(self.service, key)
        except SecretStoreUnavailable:
            raise
        except Exception as e:
            raise SecretStoreUnavailable(f"the OS keyring cannot be read: {type(e).__name__}") from None

    def set(self, key: str, secret: str) -> None:
        try:
            self._kr().set_password(self.service, key, secret)
        except SecretStoreUnavailable:
            raise
        except Exception as e:
            raise SecretStoreUnavailable(
                f"the OS keyring cannot store the secret ({type(e).__name__}): start or unlock your desktop's "
                "keyring (GNOME Keyring, KWallet, macOS Keychain, Windows Credential Manager), or choose one "
                "with PYTHON_KEYRING_BACKEND; the workbench never writes secrets to its settings file") from None

    def delete(self, key: str) -> None:
        try:
            self._kr().delete_password(self.service, key)
        except SecretStoreUnavailable:
            raise
        except Exception:  # keyring raises PasswordDeleteError when there is none
            pass


@dataclass(frozen=True)
class Connection:
    """One saved connection. No secret: `has_secret` says whether the secret store holds one."""

    name: str
    kind: str  # "embedded", "milvus" or "milvus-lite"
    uri: str
    user: str = ""
    db_name: str = ""
    secure: bool | None = None
    server_pem_path: str = ""
    server_name: str = ""
    client_pem_path: str = ""
    client_key_path: str = ""
    ca_pem_path: str = ""
    timeout: float | None = None
    has_secret: bool = False
    description: str = ""

    def validate(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ConnectionSettingsError(f"connection name {self.name!r}: use 1-64 letters, digits, spaces or . @ ( ) + -")
        if self.kind not in KINDS:
            raise ConnectionSettingsError(f"connection {self.name!r}: kind must be one of {', '.join(KINDS)}")
        if not self.uri:
            raise ConnectionSettingsError(f"connection {self.name!r} has no URI or path")
        if self.kind == "milvus" and not self.uri.startswith(("http://", "https://", "tcp://", "grpc://",
                                                              "grpcs://", "unix:")):
            raise ConnectionSettingsError(f"connection {self.name!r}: a Milvus server URI starts with http:// or https://")

    def secret_key(self) -> str:
        return f"connection:{self.name}"

    def spec(self, secret: str | None = None) -> BackendSpec:
        """The BackendSpec to open it with; `secret` is a password when `user` is set, else a token."""
        tls = {k: getattr(self, k) for k in ("server_pem_path", "server_name", "client_pem_path",
                                             "client_key_path", "ca_pem_path")}
        secure = self.secure
        if secure is None and (self.uri.startswith(("https://", "grpcs://")) or any(tls.values())):
            secure = True
        return BackendSpec(kind=self.kind, uri=self.uri, user=self.user, db_name=self.db_name,
                           token="" if self.user else (secret or ""),
                           password=(secret or "") if self.user else "",
                           secure=secure, timeout=self.timeout, **tls)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Connection:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _split_userinfo(uri: str) -> tuple[str, str, str]:
    """(uri without user info, user, password) for `scheme://user:pass@host...`; the rest untouched.

    The host part is kept as written (an IPv6 literal keeps its brackets: `https://[::1]:19531`); user
    and password are kept as written too (not percent-decoded), as pymilvus reads them from a URI.
    """
    if "://" not in uri:
        return uri, "", ""
    try:
        parts = urlsplit(uri)
    except ValueError as e:  # e.g. an unbalanced '[' in the host
        raise ConnectionSettingsError(f"URI {scrub(uri)!r} cannot be parsed: {e}") from None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return uri, "", ""
    user, _, password = userinfo.partition(":")
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), user, password


def default_settings_path() -> Path:
    """`<user config dir>/connections.json` (`WORKBENCH_CONNECTIONS` overrides)."""
    env = os.environ.get("WORKBENCH_CONNECTIONS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "connections.json"


class ConnectionStore:
    """Saved connections in a JSON settings file, their secrets in a `SecretStore`."""

    def __init__(self, path: str | os.PathLike[str] | None = None, secrets: SecretStore | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_settings_path()
        self.secrets: SecretStore = secrets if secrets is not None else KeyringSecretStore()

    # file -----------------------------------------------------------------------
    def _read(self) -> dict[str, Connection]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ConnectionSettingsError(f"cannot read {self.path}: {e}") from None
        out = {}
        for d in data.get("connections", []):
            c = Connection.from_json(d)
            out[c.name] = c
        return out

    def _write(self, conns: dict[str, Connection]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        payload = {"version": 1, "connections": [c.to_json() for c in sorted(conns.values(), key=lambda c: c.name)]}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, self.path)

    # API ------------------------------------------------------------------------
    def list(self) -> list[Connection]:
        return sorted(self._read().values(), key=lambda c: c.name)

    def get(self, name: str) -> Connection:
        conns = self._read()
        if name not in conns:
            known = ", ".join(sorted(conns)) or "none"
            raise ConnectionSettingsError(f"no saved connection {name!r} (saved: {known})")
        return conns[name]

    def save(self, conn: Connection, secret: str | None = None) -> Connection:
        """Save (or replace) `conn`; `secret` (token, or password when `user` is set) goes to the secret store.

        A password inside the URI is taken out and stored as the secret. `secret=None` keeps a secret
        saved before; `secret=""` removes it.
        """
        uri, uri_user, uri_pw = _split_userinfo(conn.uri)
        if uri_pw:
            if secret:
                raise ConnectionSettingsError(f"connection {conn.name!r}: give the password in the URI or as the secret, "
                                       "not both")
            conn, secret = replace(conn, uri=uri, user=conn.user or uri_user), uri_pw
        elif uri_user:
            conn = replace(conn, uri=uri, user=conn.user or uri_user)
        conn.validate()
        conns = self._read()
        old = conns.get(conn.name)
        has = bool(old and old.has_secret)
        if secret:
            self.secrets.set(conn.secret_key(), secret)
            has = True
        elif secret == "":
            self.secrets.delete(conn.secret_key())
            has = False
        conn = replace(conn, has_secret=has)
        conns[conn.name] = conn
        self._write(conns)
        return conn

    def delete(self, name: str) -> None:
        """Forget a connection and its secret."""
        conns = self._read()
        conn = conns.pop(name, None)
        if conn is None:
            return
        if conn.has_secret:
            self.secrets.delete(conn.secret_key())
        self._write(conns)

    def spec(self, name: str) -> BackendSpec:
        """How to open connection `name`, with its secret read from the secret store."""
        conn = self.get(name)
        secret = self.secrets.get(conn.secret_key()) if conn.has_secret else None
        if conn.has_secret and not secret:
            raise ConnectionSettingsError(f"the secret of connection {name!r} is missing from the keyring; save it again")
        return conn.spec(secret)

    def open(self, name: str) -> Backend:
        """Open the backend of connection `name` (errors never show its secret)."""
        spec = self.spec(name)
        try:
            return open_backend(spec)
        except BackendError:
            raise
        except Exception as e:  # belt and braces: nothing unscrubbed leaves
            raise BackendError(scrub(f"cannot open connection {name!r}: {e}", spec.secrets())) from None


__all__ = [
    "Connection",
    "ConnectionSettingsError",
    "ConnectionStore",
    "KeyringSecretStore",
    "MemorySecretStore",
    "SecretStore",
    "SecretStoreUnavailable",
    "default_settings_path",
]
