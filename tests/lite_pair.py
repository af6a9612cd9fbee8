"""The engine and Milvus Lite side by side, for differential test modules (fixtures `engine_api`, `lite_api`).

Milvus Lite skips where it cannot run, or fails instead with WORKBENCH_REQUIRE_MILVUS_LITE=1 (CI), so a
differential test can never pass silently.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REQUIRE_LITE = os.environ.get("WORKBENCH_REQUIRE_MILVUS_LITE") == "1"


def lite_unavailable(reason: str) -> None:
    """Skip the test for `reason`, or fail it where Milvus Lite is required (CI)."""
    if REQUIRE_LITE:
        pytest.fail(f"Milvus Lite is required (WORKBENCH_REQUIRE_MILVUS_LITE=1) but {reason}")
    pytest.skip(f"Milvus Lite differential tests skipped: {reason}")


def lite_namespace(path: Path) -> Iterator[SimpleNamespace]:
    if sys.platform == "win32":
        reason = "milvus-lite has no Windows build"
    else:
        try:
            import milvus_lite  # noqa: F401
            import pymilvus

            client = pymilvus.MilvusClient(str(path))
            client.get_server_version()
            reason = ""
        except Exception as e:  # ImportError, or a server that does not start
            reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if reason:
        lite_unavailable(reason)
    yield SimpleNamespace(kind="lite", client=client, M=pymilvus, exc=pymilvus.MilvusException)
    client.close()


def engine_namespace(path: Path) -> Iterator[SimpleNamespace]:
    import engine

    client = engine.MilvusClient(str(path))
    yield SimpleNamespace(kind="engine", client=client, M=engine, exc=engine.MilvusException)
    client.close()


def outcome(fn: Callable[[], Any]) -> tuple[bool, str]:
    """(True, repr of the result) or (False, the error message)."""
    try:
        return True, repr(fn())[:300]
    except Exception as e:
        return False, f"{type(e).__name__}: {getattr(e, 'message', '') or e}"
