"""Shared fixtures: a fresh database per test, and offscreen Qt."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _private_query_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with an empty query-vector cache of its own (`workbench search` keeps one in the
    user cache folder): a vector cached by an earlier run must not hide a model that fails to load."""
    monkeypatch.setenv("WORKBENCH_QUERY_CACHE", str(tmp_path_factory.mktemp("query-vectors")))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def client(db_path: Path) -> Iterator[object]:
    from engine import MilvusClient

    c = MilvusClient(str(db_path))
    yield c
    c.close()


def embedding_like(n: int, dim: int, latent: int = 16, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """Normalised vectors that look like embeddings: a low-dim latent space projected up, plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent)).astype(np.float32)
    proj = rng.standard_normal((latent, dim)).astype(np.float32)
    x = z @ proj + noise * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


REQUIRE_LITE = os.environ.get("WORKBENCH_REQUIRE_MILVUS_LITE") == "1"


def open_lite(path: Path) -> object:
    """A MilvusBackend on a Milvus Lite file; skips with the reason (or fails, when Milvus Lite is required)."""
    from workbench.backends import BackendError, BackendSpec, MilvusBackend

    reason = None
    b = None
    if sys.platform == "win32":
        reason = "milvus-lite has no Windows build"
    else:
        try:
            import milvus_lite  # noqa: F401
            import pymilvus  # noqa: F401

            b = MilvusBackend(BackendSpec(kind="milvus-lite", uri=str(path)))
        except ImportError as e:
            reason = f"pymilvus or milvus-lite is not installed ({e})"
        except BackendError as e:
            reason = f"Milvus Lite cannot start here: {e}"
    if b is None:
        if REQUIRE_LITE:
            pytest.fail(f"Milvus Lite is required (WORKBENCH_REQUIRE_MILVUS_LITE=1) but {reason}")
        pytest.skip(f"Milvus Lite tests skipped: {reason}")
    return b


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A MilvusBackend on a Milvus Lite file, shared by the tests of one module."""
    b = open_lite(tmp_path_factory.mktemp("lite") / "lite.db")
    yield b
    b.close()  # type: ignore[attr-defined]


REQUIRE_SERVER = os.environ.get("WORKBENCH_REQUIRE_MILVUS_SERVER") == "1"


def stop_orphaned_test_servers() -> None:
    """Kill embedded Milvus servers left by test sessions that were themselves killed (SIGKILL, a timeout):
    their parent is gone (init adopted them) and they run from a pytest temporary folder. Left running, one
    holds the ports and the next session's server never starts."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        exe = cmd[0].decode(errors="replace") if cmd else ""
        if ppid == 1 and "/pytest-of-" in exe and "/milvus-server" in exe and exe.endswith("/bin/milvus"):
            print(f"stopping an orphaned test Milvus server: pid {d.name} ({exe})", file=sys.stderr)
            try:
                os.kill(int(d.name), signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a real Milvus server.

    `$WORKBENCH_MILVUS_URI` names an external one (standalone or distributed; `$WORKBENCH_MILVUS_TOKEN`
    for its token); otherwise the `milvus` package's embedded Milvus 2.3 standalone server (Linux x86-64
    and macOS) is started in a temporary folder for the session. Skips with the reason when neither can
    be had, or fails when `WORKBENCH_REQUIRE_MILVUS_SERVER=1`.
    """
    uri = os.environ.get("WORKBENCH_MILVUS_URI")
    if uri:
        yield uri
        return
    reason = None
    server = None
    stop_orphaned_test_servers()
    try:
        from milvus import MilvusServer  # type: ignore[import-untyped]

        server = MilvusServer()
        server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
        server.start()
    except ImportError as e:
        reason = f"the `milvus` package (an embedded Milvus standalone server) is not installed ({e})"
    except Exception as e:  # the binary cannot run here, a port is taken, it timed out
        reason = f"the embedded Milvus server did not start: {type(e).__name__}: {e}"
        if server is not None:
            server.stop()
        server = None
    if server is None:
        if REQUIRE_SERVER:
            pytest.fail(f"a Milvus server is required (WORKBENCH_REQUIRE_MILVUS_SERVER=1) but {reason}")
        pytest.skip(f"Milvus server tests skipped: {reason}")
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()
