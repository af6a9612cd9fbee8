"""No engine call drops the POSIX locks this process holds on a database's files.

POSIX record locks belong to the process and are released when it closes *any* descriptor of the file.
SQLite holds them on the catalog (a shared lock on `catalog.sqlite`, the "DMS" byte of
`catalog.sqlite-shm`), and the engine on `MAINT.lock`. Code that opens and closes one of those files
beside them (to map it, copy it or test a lock) silently releases them: another process opening the
database then believes itself alone, truncates and re-initialises the WAL index this process is using
(a reader died of SIGBUS in tests/test_multiprocess_consistency.py that way, and a checkpoint could
delete a log still in use), or builds the same index as this process.

Each test runs a workload in this process, then asks a second process which of those locks it could
take: every lock held before must still be held.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.recovery import check_database
from engine.storage.locks import FileLock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX record locks")

PROBE = r"""
import fcntl, json, os, sys
from pathlib import Path
root = Path(sys.argv[1])
PENDING = 0x40000000  # SQLite's lock bytes in the database file: PENDING, RESERVED, then 510 SHARED bytes
checks = [("catalog.sqlite shared", root / "catalog.sqlite", PENDING + 2, 510),
          ("catalog.sqlite-shm DMS", root / "catalog.sqlite-shm", 128, 1)]
checks += [(str(p.relative_to(root)), p, 0, 0) for p in sorted(root.glob("collections/*/MAINT.lock"))]
held = {}
for name, path, start, length in checks:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
        held[name] = False
    except OSError:
        held[name] = True
print(json.dumps(held))
"""


def held_by_others(root: Path) -> dict[str, bool]:
    """Which of the database's locks another process finds held."""
    import json

    done = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, bool] = json.loads(done.stdout)
    return result


def _fill(c: MilvusClient, name: str, n: int, dim: int = 8) -> np.ndarray:
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    ip = c.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 32})
    c.create_collection(name, schema=schema, index_params=ip)
    x = np.random.default_rng(1).standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for s in range(0, n, 100):
        c.insert(name, [{"id": i, "vec": x[i]} for i in range(s, min(n, s + 100))])
    c.flush(name)
    return x


def test_a_working_client_keeps_every_lock(tmp_path: Path) -> None:
    root = tmp_path / "locks.db"
    c = MilvusClient(str(root))
    x = _fill(c, "c", 600)
    c.search("c", data=[x[0]], limit=5)
    before = held_by_others(root)
    assert before["catalog.sqlite shared"] and before["catalog.sqlite-shm DMS"], before
    sp: dict[str, Any] = {"metric_type": "COSINE", "params": {"ef": 32}}
    for i in range(50):  # repeat searches (engine/client/hot_search.py), queries, writes, maintenance
        c.search("c", data=[x[i]], limit=5, search_params=sp)
        c.search("c", data=[x[i].tolist()], limit=5, search_params=sp)
    c.query("c", filter="id < 10", output_fields=["id"])
    c.delete("c", ids=[1, 2, 3])
    c.upsert("c", [{"id": 4, "vec": x[5]}])
    c.flush("c")
    c.compact("c")
    c.release_collection("c")
    c.load_collection("c")
    c.search("c", data=[x[0]], limit=5, search_params=sp)
    c.create_alias("c", "a")
    c.describe_collection("a")
    c.get_collection_stats("c")
    c.create_database("other")
    c.list_databases()
    after = held_by_others(root)
    assert after == before, f"locks dropped by the workload: {after} (before: {before})"
    c.close()


def test_checking_an_open_database_keeps_its_locks(tmp_path: Path) -> None:
    """`check_database` reads the catalog on a private copy and tests who holds the lock files; run in a
    process that has the database open, neither may drop that process's locks."""
    root = tmp_path / "checked.db"
    c = MilvusClient(str(root))
    x = _fill(c, "c", 300)
    c.search("c", data=[x[0]], limit=5)
    maint = FileLock.shared(next(root.glob("collections/*/MAINT.lock")))  # as a merge or index build holds it
    assert maint.try_acquire()
    try:
        before = held_by_others(root)
        assert all(before.values()), before
        report = check_database(root)
        assert report.ok, report.summary()
        after = held_by_others(root)
    finally:
        maint.release()
        maint.close()
    assert after == before, f"locks dropped by check_database: {after} (before: {before})"
    c.close()
