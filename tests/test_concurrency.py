"""One writer thread and several reader threads on one collection.

The writer inserts batches (then also deletes) and flushes, with a small
seal_rows so seals happen under the readers' feet; in the second variant a
compactor thread also merges segments meanwhile. A last test races
compaction against seals alone, as fast as they go. Readers run count(*),
search and paged queries in a loop and check every answer against what the
writer had acknowledged (or at least begun) around the call: counts within
bounds and never going backwards while only inserts happen, rows exactly as
written, search hits live and scored right. At the end everything equals the
model.
"""

from __future__ import annotations

import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient

# An exception in an engine thread (the background index builder) is a bug too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


DIM = 8
PHASE_SECONDS = float(os.environ.get("CONCURRENCY_SECONDS", "3"))


def vec_of(i: int) -> np.ndarray:
    return np.random.default_rng(i).uniform(-1, 1, DIM).astype(np.float32) + np.float32(0.01)


def row_of(i: int) -> dict[str, Any]:
    return {"id": i, "vec": [float(x) for x in vec_of(i)], "grp": i % 7, "name": f"n{i}"}


@dataclass
class Progress:
    """What the writer has begun and acknowledged; read under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    phase: str = "inserts"  # then "mixed", then "done"
    ins_started: int = 0  # ids 0 .. ins_started-1 have been (or are being) inserted
    ins_acked: int = 0
    del_started: set[int] = field(default_factory=set)
    del_acked: set[int] = field(default_factory=set)

    def view(self) -> tuple[str, int, int, frozenset[int], frozenset[int]]:
        with self.lock:
            return self.phase, self.ins_started, self.ins_acked, frozenset(self.del_started), frozenset(self.del_acked)


class Harness:
    def __init__(self, client: MilvusClient) -> None:
        self.client = client
        self.progress = Progress()
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.calls: dict[str, int] = {}
        self.last_count = -1  # the counter's last count(*) taken wholly during the inserts-only phase
        self.minimums: dict[str, int] = {}  # role -> calls the test asserts (see `enough`)

    def enough(self) -> bool:
        """Whether every role has run the number of times the test checks (`minimums`)."""
        return all(self.calls.get(name, 0) >= n for name, n in self.minimums.items())

    def fail(self, who: str, msg: str) -> None:
        self.errors.append(f"{who}: {msg}")
        self.stop.set()

    # --- writer ------------------------------------------------------------
    def writer(self) -> None:
        rng = random.Random(1)
        p = self.progress
        try:
            for phase in ("inserts", "mixed"):
                with p.lock:
                    p.phase = phase
                end = time.monotonic() + PHASE_SECONDS
                hard_end = end + 60  # on a loaded machine the mixed phase runs on until every role has had its turns
                while not self.stop.is_set() and (
                        time.monotonic() < end
                        or (phase == "mixed" and not self.enough() and time.monotonic() < hard_end)):
                    r = rng.random()
                    if phase == "mixed" and r < 0.3:
                        with p.lock:
                            live = [i for i in range(p.ins_acked) if i not in p.del_started]
                        ids = rng.sample(live, min(len(live), rng.randint(1, 15)))
                        with p.lock:
                            p.del_started.update(ids)
                        n = self.client.delete("c", ids=ids)["delete_count"]
                        if n != len(ids):
                            self.fail("writer", f"delete of {len(ids)} live ids deleted {n}")
                        with p.lock:
                            p.del_acked.update(ids)
                    elif r < 0.05:
                        self.client.flush("c")
                    else:
                        n = rng.randint(1, 40)
                        with p.lock:
                            start = p.ins_started
                            p.ins_started += n
                        self.client.insert("c", [row_of(i) for i in range(start, start + n)])
                        with p.lock:
                            p.ins_acked = start + n
        except Exception:
            self.fail("writer", traceback.format_exc())
        finally:
            with p.lock:
                p.phase = "done"
            self.stop.set()

    def compactor(self) -> None:
        """Compacts now and then, racing the writer's seals (as a background maintenance job would)."""
        rng = random.Random(2)
        try:
            while not self.stop.is_set():
                self.client.alter_collection_properties(
                    "c", {"engine.max_segment_bytes": rng.choice([20_000, 60_000, 200_000])})
                self.client.compact("c")
                self.calls["compactor"] = self.calls.get("compactor", 0) + 1
                time.sleep(rng.uniform(0.0, 0.05))
        except Exception:
            self.fail("compactor", traceback.format_exc())

    # --- readers -----------------------------------------------------------
    def reader(self, name: str, step: Callable[[random.Random], None]) -> None:
        rng = random.Random(name)
        try:
            while not self.stop.is_set():
                step(rng)
                self.calls[name] = self.calls.get(name, 0) + 1
        except Exception:
            self.fail(name, traceback.format_exc())

    def check_row(self, who: str, r: dict[str, Any], before: tuple, after: tuple) -> None:
        _, _, _, _, del_acked = before
        _, ins_started, _, _, _ = after
        i = r["id"]
        if not 0 <= i < ins_started:
            self.fail(who, f"row {i} was never written (only ids < {ins_started} began)")
        elif i in del_acked:
            self.fail(who, f"row {i} was deleted before the call began, but was returned")
        expected = row_of(i)
        for k, v in r.items():
            if k == "vec":
                if not np.allclose(v, expected["vec"], atol=1e-6):
                    self.fail(who, f"row {i}: vec {v} != {expected['vec']}")
            elif expected.get(k) != v:
                self.fail(who, f"row {i}: {k}={v!r}, written {expected.get(k)!r}")

    def counter(self, rng: random.Random) -> None:
        before = self.progress.view()
        count = self.client.query("c", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"]
        after = self.progress.view()
        phase0, _, acked0, _, del_acked0 = before
        phase1, started1, _, del_started1, _ = after
        low, high = acked0 - len(del_started1), started1 - len(del_acked0)
        if not low <= count <= high:
            self.fail("counter", f"count(*) {count} outside [{low}, {high}]")
        if phase0 == phase1 == "inserts":
            if count < self.last_count:
                self.fail("counter", f"count(*) went backwards during inserts only: {self.last_count} -> {count}")
            self.last_count = count

    def searcher(self, rng: random.Random) -> None:
        q = np.array([rng.uniform(-1, 1) for _ in range(DIM)], dtype=np.float32)
        before = self.progress.view()
        hits = self.client.search("c", data=[q.tolist()], limit=10, output_fields=["grp", "name"])[0]
        after = self.progress.view()
        ids = [h["id"] for h in hits]
        if len(set(ids)) != len(ids):
            self.fail("searcher", f"duplicate ids in one result: {ids}")
        dists = [h["distance"] for h in hits]
        if dists != sorted(dists, reverse=True):
            self.fail("searcher", f"hits not sorted by distance: {dists}")
        if before[2] - len(after[3]) >= 10 and len(hits) != 10:
            self.fail("searcher", f"{len(hits)} hits with at least 10 live rows")
        for h in hits:
            self.check_row("searcher", {"id": h["id"], **h["entity"]}, before, after)
            v = vec_of(h["id"]).astype(np.float64)
            cos = float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q.astype(np.float64))))
            if abs(cos - h["distance"]) > 1e-5:
                self.fail("searcher", f"hit {h['id']}: distance {h['distance']}, cosine is {cos}")

    def pager(self, rng: random.Random) -> None:
        before = self.progress.view()
        offset = rng.randint(0, max(0, before[2] - 20))
        rows = self.client.query("c", filter="", limit=50, offset=offset, output_fields=["*"])
        after = self.progress.view()
        ids = [r["id"] for r in rows]
        if len(set(ids)) != len(ids):
            self.fail("pager", f"duplicate ids in one page: {ids}")
        for r in rows:
            if set(r) != {"id", "vec", "grp", "name"}:
                self.fail("pager", f"row {r.get('id')} has fields {sorted(r)}")
            self.check_row("pager", r, before, after)

    def getter(self, rng: random.Random) -> None:
        before = self.progress.view()
        _, _, acked, del_started, _ = before
        if not acked:
            return
        want = [rng.randrange(acked) for _ in range(5)]
        rows = self.client.get("c", ids=want, output_fields=["*"])
        after = self.progress.view()
        got = {r["id"] for r in rows}
        for i in set(want):
            if i not in got and i not in after[3]:
                self.fail("getter", f"id {i} was acknowledged before the call and never deleted, but get missed it")
        for r in rows:
            self.check_row("getter", r, before, after)


@pytest.mark.parametrize("with_compactor", [False, True], ids=["writer", "writer+compactor"])
def test_one_writer_many_readers(tmp_path: Path, with_compactor: bool) -> None:
    client = MilvusClient(str(tmp_path / "conc.db"))
    try:
        schema = client.create_schema(enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("grp", DataType.INT64)
        schema.add_field("name", DataType.VARCHAR, max_length=32)
        ip = client.prepare_index_params()
        ip.add_index("vec", index_type="AUTOINDEX", metric_type="COSINE")
        client.create_collection("c", schema=schema, index_params=ip)
        client.alter_collection_properties("c", {"engine.seal_rows": 60 if with_compactor else 300})
        h = Harness(client)
        h.minimums = {"counter": 5, "searcher": 5, "pager": 5, "getter": 5, **({"compactor": 3} if with_compactor else {})}
        threads = [threading.Thread(target=h.writer, name="writer")]
        for name, step in (("counter", h.counter), ("searcher", h.searcher), ("pager", h.pager),
                           ("getter", h.getter)):
            threads.append(threading.Thread(target=h.reader, args=(name, step), name=name))
        if with_compactor:
            threads.append(threading.Thread(target=h.compactor, name="compactor"))
        for t in threads:
            t.start()
        for t in threads:
            t.join(PHASE_SECONDS * 2 + 120)
        assert not any(t.is_alive() for t in threads), "a thread hung"
        assert not h.errors, "\n".join(h.errors[:10])
        for name, n in h.minimums.items():  # each compaction rebuilds the merged segment's graph: fewer, longer calls
            assert h.calls.get(name, 0) >= n, f"{name} ran only {h.calls.get(name, 0)} times"

        _, started, acked, del_started, del_acked = h.progress.view()
        assert started == acked and del_started == del_acked
        model = {i: row_of(i) for i in range(acked) if i not in del_acked}
        assert len(del_acked) > 0 and len(model) > 300, (len(model), len(del_acked))
        assert client.query("c", filter="id >= 0", output_fields=["count(*)"]) == [{"count(*)": len(model)}]
        assert client.get_collection_stats("c")["row_count"] == len(model)
        rows = client.query("c", filter="", limit=10**6, output_fields=["*"])
        assert sorted(r["id"] for r in rows) == sorted(model)
        for r in rows:
            np.testing.assert_allclose(r.pop("vec"), model[r["id"]]["vec"], atol=1e-6)
            assert r == {k: v for k, v in model[r["id"]].items() if k != "vec"}
    finally:
        client.close()
    client = MilvusClient(str(tmp_path / "conc.db"))  # and the same after reopening
    try:
        rows = client.query("c", filter="", limit=10**6, output_fields=["*"])
        assert sorted(r["id"] for r in rows) == sorted(model)
        assert all(r["name"] == model[r["id"]]["name"] for r in rows)
    finally:
        client.close()


def test_compaction_racing_seals_loses_nothing(tmp_path: Path) -> None:
    """A seal (in the inserting thread) and a compaction (in another) running at once.

    Both used to take `max(id) + 1` from the catalog as the new segment's id, so
    they wrote the same `seg_<id>.arrow`: the seal's acknowledged rows could be
    overwritten by the compaction's (CorruptionError, or a failed insert)."""
    client = MilvusClient(str(tmp_path / "race.db"))
    errors: list[str] = []
    done = threading.Event()
    try:
        client.create_collection("c", dimension=4)
        client.alter_collection_properties("c", {"engine.seal_rows": 10})
        n = 1500

        def writer() -> None:
            try:
                for start in range(0, n, 10):
                    client.insert("c", [{"id": i, "vector": list(vec_of(i)[:4])} for i in range(start, start + 10)])
            except Exception:
                errors.append("writer: " + traceback.format_exc())
            finally:
                done.set()

        def compactor() -> None:
            try:
                while not done.is_set():
                    client.compact("c")
            except Exception:
                errors.append("compactor: " + traceback.format_exc())

        threads = [threading.Thread(target=writer), threading.Thread(target=compactor)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, "\n".join(errors)
        assert client.query("c", filter="", output_fields=["count(*)"]) == [{"count(*)": n}]
    finally:
        client.close()
    client = MilvusClient(str(tmp_path / "race.db"))
    try:
        rows = client.query("c", filter="", limit=10**6, output_fields=["*"])
        assert sorted(r["id"] for r in rows) == list(range(n))
        for r in rows:
            np.testing.assert_allclose(r["vector"], vec_of(r["id"])[:4], atol=1e-6)
    finally:
        client.close()
