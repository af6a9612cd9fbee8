"""`workbench connections add|list|remove|test`, `--connection NAME` and `copy @NAME`: secrets go to the
keyring (here a file-backed keyring chosen with PYTHON_KEYRING_BACKEND), never to the settings file,
the command line or the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from click.testing import CliRunner, Result
from conftest import open_lite
from keyring.backend import KeyringBackend

from workbench.backends import FLOAT_VECTOR, INT64, EmbeddedBackend
from workbench.cli import cli

SECRET = "s3cr3t-T0KEN-value"
PASSWORD = "pa55-w0rd-xyz"
KEYRING_FILE_ENV = "WB_TEST_KEYRING_FILE"


class FileKeyring(KeyringBackend):
    """A keyring in a JSON file named by $WB_TEST_KEYRING_FILE (so separate processes share it)."""

    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ[KEYRING_FILE_ENV])

    def _load(self) -> dict[str, str]:
        p = self._path()
        return json.loads(p.read_text()) if p.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        d = self._load()
        d[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(d))

    def delete_password(self, service: str, username: str) -> None:
        d = self._load()
        d.pop(f"{service}/{username}", None)
        self._path().write_text(json.dumps(d))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    settings = tmp_path / "conf" / "connections.json"
    ring = tmp_path / "keyring.json"
    monkeypatch.setenv("WORKBENCH_CONNECTIONS", str(settings))
    monkeypatch.setenv(KEYRING_FILE_ENV, str(ring))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{__name__}.FileKeyring")
    previous = keyring.core._keyring_backend
    keyring.core.init_backend()  # reads PYTHON_KEYRING_BACKEND
    assert type(keyring.get_keyring()).__name__ == "FileKeyring"
    yield {"settings": settings, "ring": ring, "root": tmp_path}
    keyring.core._keyring_backend = previous


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def no_secret_in(*texts: str) -> bool:
    return not any(s in t for t in texts for s in (SECRET, PASSWORD))


def test_add_list_remove_keep_the_secret_out(env: dict[str, Path]) -> None:
    r = invoke("connections", "add", "prod", "--uri", "https://milvus.example:19530", "--db-name", "photos",
               "--server-pem", "/etc/ssl/milvus.pem", "--server-name", "milvus.example", "--secret-stdin",
               input=SECRET + "\n")
    assert r.exit_code == 0, r.output
    assert "saved connection 'prod': milvus https://milvus.example:19530 (secret in the keyring)" in r.stdout
    r2 = invoke("connections", "add", "team", "--uri", "https://milvus.example:19530", "--user", "bob",
                "--ask-secret", input=PASSWORD + "\n")
    assert r2.exit_code == 0 and "password" in r2.stderr  # the hidden prompt
    r3 = invoke("connections", "add", "local", "--uri", str(env["root"] / "local.db"))
    assert r3.exit_code == 0 and "embedded" in r3.stdout and "keyring" not in r3.stdout
    settings = env["settings"].read_text()
    assert no_secret_in(settings, r.output, r2.output, r3.output)
    assert json.loads(env["ring"].read_text()) == {"vector-workbench/connection:prod": SECRET,
                                                   "vector-workbench/connection:team": PASSWORD}

    r = invoke("connections", "list")
    assert r.exit_code == 0 and no_secret_in(r.output)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("local  embedded ") and lines[1].startswith("prod  milvus  https://milvus.example:19530")
    assert "(database photos)" in lines[1] and "(TLS)" in lines[1] and "(secret in the keyring)" in lines[1]
    assert "(user bob)" in lines[2]
    r = invoke("connections", "list", "--json")
    listed = {c["name"]: c for c in json.loads(r.stdout)}
    assert no_secret_in(r.output) and listed["prod"]["has_secret"] is True and listed["local"]["has_secret"] is False
    assert listed["prod"]["server_pem_path"] == "/etc/ssl/milvus.pem"

    r = invoke("connections", "remove", "prod")
    assert r.exit_code == 0 and "removed connection 'prod'" in r.stdout
    assert "connection:prod" not in env["ring"].read_text() and "prod" not in env["settings"].read_text()
    r = invoke("connections", "remove", "prod")
    assert r.exit_code == 1 and "no saved connection 'prod'" in r.stderr and "local, team" in r.stderr


def test_a_password_in_the_uri_is_moved_and_warned_about(env: dict[str, Path]) -> None:
    r = invoke("connections", "add", "srv", "--uri", f"https://bob:{PASSWORD}@milvus.example:19530")
    assert r.exit_code == 0 and "shell history" in r.stderr
    assert PASSWORD not in r.stdout and PASSWORD not in env["settings"].read_text()
    assert json.loads(env["settings"].read_text())["connections"][0]["user"] == "bob"
    assert invoke("connections", "add", "x", "--uri", "https://h:1", "--secret-stdin", "--ask-secret").exit_code == 2
    assert invoke("connections", "add", "x", "--uri", "https://h:1", "--secret-stdin", input="\n").exit_code == 2


def test_test_a_connection_that_cannot_connect_never_shows_the_secret(env: dict[str, Path]) -> None:
    r = invoke("connections", "add", "down", "--uri", "http://127.0.0.1:9", "--timeout", "2", "--secret-stdin",
               input=SECRET + "\n")
    assert r.exit_code == 0
    r = invoke("connections", "test", "down", "--debug")
    assert r.exit_code == 1 and r.stderr.count("error: ") == 1
    assert no_secret_in(r.output)


def test_use_saved_connections_for_commands_and_copies(env: dict[str, Path]) -> None:
    root = env["root"]
    lite_file = root / "saved-lite.db"
    open_lite(lite_file).close()  # type: ignore[attr-defined]  # skips (with the reason) without Milvus Lite
    engine = root / "engine.db"
    b = EmbeddedBackend(engine)
    b.create_collection("vecs", {"fields": [{"name": "pk", "type": INT64, "is_primary": True},
                                            {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 3}}]})
    b.insert("vecs", [{"pk": i, "v": [float(i), 1.0, 0.5]} for i in range(40)])
    b.flush("vecs")
    b.close()
    assert invoke("connections", "add", "eng", "--uri", str(engine)).exit_code == 0
    assert invoke("connections", "add", "lt", "--uri", f"lite:{lite_file}").exit_code == 0

    r = invoke("connections", "test", "lt")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"connected to Milvus Lite {lite_file}: Milvus Lite")
    assert "no Array of Structs fields: Milvus Lite" in r.stdout and "index types:" in r.stdout
    r = invoke("connections", "test", "eng", "--json")
    caps = json.loads(r.stdout)["capabilities"]
    assert caps["kind"] == "embedded" and caps["features"]["struct_arrays"] is True

    r = invoke("collections", "--connection", "eng")
    assert r.exit_code == 0 and r.stdout.startswith("vecs  40 rows")
    r = invoke("copy", "vecs", "--from", "@eng", "--to", "@lt", "--verify", "full", "-q")
    assert r.exit_code == 0 and "full checksum equal" in r.stdout, r.output
    r = invoke("stats", "vecs", "--connection", "lt", "--json")
    assert json.loads(r.stdout)["rows"] == 40
    r = invoke("copy", "vecs", "--from", "@nope", "--to", "@lt")
    assert r.exit_code == 1 and "no saved connection 'nope'" in r.stderr


def test_another_process_reads_the_same_keyring(env: dict[str, Path]) -> None:
    """The installed script with the keyring backend chosen by environment variables alone."""
    process_env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    workbench = str(Path(sys.executable).parent / "workbench")
    r = subprocess.run([workbench, "connections", "add", "prod", "--uri", "https://m:19530", "--secret-stdin"],
                       input=SECRET + "\n", capture_output=True, text=True, env=process_env, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([workbench, "connections", "list"], capture_output=True, text=True, env=process_env,
                       timeout=60)
    assert r.returncode == 0 and "secret in the keyring" in r.stdout and no_secret_in(r.stdout, r.stderr)
    assert json.loads(env["ring"].read_text()) == {"vector-workbench/connection:prod": SECRET}
    assert SECRET not in env["settings"].read_text()
