"""A process that opens a database while another is still creating it waits for the creator.

The creator sets the catalog's journal mode (the file now has a SQLite header but no tables)
and only then creates the tables under the write lock. An opener arriving in between must not
report the catalog as damaged ("is empty"): it waits for the write lock and then sees the tables.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine import MilvusClient
from engine.errors import CorruptionError

CREATOR = textwrap.dedent("""
    import fcntl, os, sqlite3, sys, time
    from pathlib import Path
    db = Path(sys.argv[1]); db.mkdir(parents=True, exist_ok=True)
    fd = os.open(db / "WRITE.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    conn = sqlite3.connect(str(db / "catalog.sqlite"))
    conn.execute("pragma journal_mode = wal")
    conn.close()
    print("HEADER", flush=True)
    time.sleep(float(sys.argv[2]))
    sys.path.insert(0, sys.argv[3])
    os.close(fd)  # releases the lock: the real creation below takes it again
    from engine import MilvusClient
    c = MilvusClient(str(db))
    c.create_collection("made_by_creator", dimension=4)
    c.close()
    print("DONE", flush=True)
""")


def test_an_opener_waits_for_a_catalog_being_created(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", CREATOR, str(db), "1.0", root],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "HEADER"
        assert (db / "catalog.sqlite").stat().st_size > 0
        conn = sqlite3.connect(str(db / "catalog.sqlite"))
        assert conn.execute("select count(*) from sqlite_master").fetchone()[0] == 0  # header, no tables
        conn.close()
        started = time.monotonic()
        c = MilvusClient(str(db))  # before the fix: CorruptionError "catalog ... is empty"
        waited = time.monotonic() - started
        assert waited > 0.3, "the opener must wait for the creator's write lock"
        c.close()
    finally:
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "DONE" in out
    c = MilvusClient(str(db))
    assert c.list_collections() == ["made_by_creator"]
    c.close()


def test_a_table_less_catalog_beside_collection_data_is_still_refused(tmp_path: Path) -> None:
    db = tmp_path / "lost.db"
    c = MilvusClient(str(db))
    c.create_collection("photos", dimension=4)
    c.insert("photos", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    c.close()
    for p in db.glob("catalog.sqlite*"):
        p.unlink()
    conn = sqlite3.connect(str(db / "catalog.sqlite"))
    conn.execute("pragma journal_mode = wal")
    conn.close()
    with pytest.raises(CorruptionError, match="catalog.sqlite is empty"):
        MilvusClient(str(db))

