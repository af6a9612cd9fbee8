"""Several processes on one database: readers never wait, writers take turns, forks are safe.

* any number of processes open a database and read while another writes;
* a writer waits for the write lock up to its timeout, then gets an error naming the holder;
* readers see new acknowledged rows by themselves, without reopening;
* releasing needs no ceremony: `with`, `del`, process death;
* a forked child never shares its parent's open database or lock (it reopens, like any process).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from engine import MilvusClient
from engine.storage.locks import WriteLockTimeout

ROOT = Path(__file__).resolve().parent.parent


def run_py(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def make(db: Path, n: int = 0) -> MilvusClient:
    c = MilvusClient(str(db))
    c.create_collection("c", dimension=4)
    if n:
        c.insert("c", [{"id": i, "vector": [1.0, float(i), 0.0, 0.0]} for i in range(n)])
    return c


def count(c: MilvusClient) -> int:
    return int(c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"])


def test_another_process_reads_and_writes_while_this_one_has_it_open(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    c = make(db, 10)
    out = run_py(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db)!r})
        print(c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"])
        c.insert("c", [{{"id": 100, "vector": [0.0, 1.0, 0.0, 0.0]}}])
        print(c.list_collections())
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["10", "['c']"]
    assert count(c) == 11  # the other process's row, seen without reopening
    c.insert("c", [{"id": 101, "vector": [0.0, 0.0, 1.0, 0.0]}])  # and this one can write again
    assert count(c) == 12
    c.close()


def test_readers_see_new_rows_within_a_second(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    c = make(db)
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from engine import MilvusClient
        c = MilvusClient({str(db)!r})
        print("ready", flush=True)
        for line in sys.stdin:
            want = int(line)
            t0 = time.monotonic()
            while c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"] < want:
                if time.monotonic() - t0 > 5:
                    print("stale", flush=True)
                    break
                time.sleep(0.01)
            else:
                print(f"{{time.monotonic() - t0:.3f}}", flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert reader.stdout is not None and reader.stdin is not None
    assert reader.stdout.readline().strip() == "ready"
    delays = []
    for i in range(5):
        c.insert("c", [{"id": i, "vector": [1.0, 0.0, 0.0, float(i)]}])
        reader.stdin.write(f"{i + 1}\n")
        reader.stdin.flush()
        delays.append(reader.stdout.readline().strip())
    c.flush("c")  # a seal (a new segment and a new log) is picked up too
    c.insert("c", [{"id": 99, "vector": [1.0, 0.0, 0.0, 9.0]}])
    reader.stdin.write("6\n")
    reader.stdin.flush()
    delays.append(reader.stdout.readline().strip())
    reader.stdin.close()
    reader.wait(30)
    assert "stale" not in delays and all(float(d) < 1.0 for d in delays), delays
    c.close()


def test_a_second_writer_waits_then_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    c = make(db, 1)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from engine import MilvusClient
        c = MilvusClient({str(db)!r})
        coll = c._coll("c")
        with coll.writing("a long write"):
            print("holding", flush=True)
            time.sleep(3)
        print("released", flush=True)
    """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    t0 = time.monotonic()
    quick = MilvusClient(str(db), write_lock_timeout=0.3)
    with pytest.raises(WriteLockTimeout, match=rf"pid {holder.pid} \(-c"):
        quick.insert("c", [{"id": 5, "vector": [1.0, 0.0, 0.0, 0.0]}])
    assert time.monotonic() - t0 < 2.5
    assert c.db.write_holder() is not None and c.db.write_holder()["pid"] == holder.pid  # type: ignore[index]
    c.insert("c", [{"id": 6, "vector": [1.0, 0.0, 0.0, 0.0]}], timeout=30)  # waits its turn, then writes
    assert holder.stdout.readline().strip() == "released"
    holder.wait(10)
    assert count(c) == 2 and c.db.write_holder() is None
    quick.close()
    c.close()


def test_release_without_ceremony(tmp_path: Path) -> None:
    from engine import database

    db = tmp_path / "m.db"
    with make(db, 3) as c:
        assert count(c) == 3
    key = str(db.resolve())
    gc.collect()
    assert key not in database._REGISTRY or database._REGISTRY[key]() is None
    c2 = MilvusClient(str(db))
    assert count(c2) == 3
    del c2  # no close(), no gc.collect(): the last reference going is enough
    assert key not in database._REGISTRY or database._REGISTRY[key]() is None


def test_a_killed_writer_releases_everything(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    make(db, 1).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from engine import MilvusClient
        c = MilvusClient({str(db)!r})
        with c._coll("c").writing("forever"):
            print("holding", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    holder.kill()
    holder.wait(10)
    c = MilvusClient(str(db), write_lock_timeout=5)
    c.insert("c", [{"id": 2, "vector": [1.0, 0.0, 0.0, 0.0]}])
    assert count(c) == 2
    c.close()


def _forked_insert(client: MilvusClient, start: int, q: Any) -> None:
    try:
        for i in range(start, start + 50):  # the inherited client: it reopens the database in this process
            client.insert("c", [{"id": i, "vector": [1.0, float(i), 0.0, 0.0]}])
        client.flush("c")
        q.put(("ok", count(client)))
    except BaseException as e:
        q.put(("error", repr(e)))


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_forked_children_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    """Issue 10 §2: two forked writers both used to write seg_00000001.arrow, losing the parent's rows."""
    db = tmp_path / "m.db"
    c = make(db, 5)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    kids = [ctx.Process(target=_forked_insert, args=(c, 1000 * (k + 1), q)) for k in range(2)]
    for k in kids:
        k.start()
    for i in range(5, 60):
        c.insert("c", [{"id": i, "vector": [0.0, 1.0, float(i), 0.0]}])
    results = [q.get(timeout=120) for _ in kids]
    for k in kids:
        k.join(60)
    assert all(r[0] == "ok" for r in results), results
    c.flush("c")
    got = {r["id"] for r in c.query("c", filter="", limit=10_000, output_fields=["id"])}
    assert got == set(range(60)) | set(range(1000, 1050)) | set(range(2000, 2050))
    c.close()
    c2 = MilvusClient(str(db))  # and a fresh open agrees, with no checksum errors
    assert count(c2) == 160
    c2.close()


def test_change_tokens_follow_other_processes(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    c = make(db, 2)
    before, before_db = c.change_token("c"), c.change_token()
    assert c.change_token("c") == before  # stable while nothing changes
    out = run_py(f"""
        from engine import MilvusClient
        c = MilvusClient({str(db)!r})
        c.insert("c", [{{"id": 9, "vector": [1.0, 0.0, 0.0, 0.0]}}])
    """)
    assert out.returncode == 0, out.stderr
    assert c.change_token("c") != before and c.change_token() == before_db  # rows changed, not the list
    run_py(f"from engine import MilvusClient; MilvusClient({str(db)!r}).create_collection('d', dimension=2)")
    assert c.change_token() != before_db and c.list_collections() == ["c", "d"]
    assert c.write_lock_holder() is None
    c.close()
