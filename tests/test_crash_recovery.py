"""SIGKILL a writer at random moments, many times over, and check what survives.

Each round starts `tests/crash_writer.py` on the same database, kills it with
SIGKILL (after a random delay, or through a fault point that lands inside a
seal or a WAL append), reopens the database here and compares it with a model
rebuilt from the writer's acknowledged operations:

* every acknowledged insert or upsert row is present with exactly its values
  (and in its partition);
* every acknowledged delete is absent;
* the operation in flight when the kill came is wholly applied or wholly absent;
* no other row exists;
* count(*), get_collection_stats and search agree with the model; the catalog
  passes `PRAGMA integrity_check`; no orphan segment or temp file is left.

Damage accumulates: the next round writes to the recovered database.
`CRASH_ROUNDS` sets the number of rounds (default 30), `CRASH_SEED` the seed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import MilvusClient

# An exception in an engine thread (the background index builder) is a bug too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


WRITER = Path(__file__).with_name("crash_writer.py")
COLLECTION = "crash"
PARTITIONS = ("_default", "p1")
from engine.storage.faults import POINTS as FAULT_POINTS  # noqa: E402

SIDE_NAMES = ("side_a", "side_b")
STAGING = "staging"
# Points reached only by rare operations, or late in a run: the kill comes on an early arrival.
RARE_POINTS = ("maint.reorder", "create.committed", "drop.marked", "drop.trashed", "replace.committed", "maint.written", "maint.committed",
               "maint.graph", "seal.files", "seal.committed", "segment.tmp", "segment.renamed")

# The model: "main" maps primary key -> (partition, row as query(output_fields=["*"]) returns it);
# the side collections map their name -> {primary key: row}.
State = dict[str, Any]


def empty_state() -> State:
    return {"main": {}, "sides": {}}


@dataclass
class WriterLog:
    ready: bool = False
    done: bool = False
    acked: list[dict[str, Any]] = field(default_factory=list)
    inflight: dict[str, Any] | None = None


def parse_log(text: str) -> WriterLog:
    """Acknowledged ops in order, and the op that began but was not acknowledged."""
    log = WriterLog()
    begun: dict[str, Any] | None = None
    lines = text.split("\n")
    for line in lines[:-1]:  # the last piece has no newline: a partial line, never acted upon
        tag, _, rest = line.partition(" ")
        if tag == "READY":
            log.ready = True
        elif tag == "DONE":
            log.done = True
        elif tag == "B":
            assert begun is None, f"two ops began without an ack: {begun['seq']} then {rest[:80]}"
            begun = json.loads(rest)
        elif tag == "A":
            assert begun is not None and begun["seq"] == int(rest), f"ack {rest} for op {begun}"
            log.acked.append(begun)
            begun = None
        else:
            raise AssertionError(f"unexpected writer output line: {line[:200]!r}")
    log.inflight = begun
    return log


def apply_op(state: State, op: dict[str, Any]) -> State:
    main = dict(state["main"])
    sides = {k: dict(v) for k, v in state["sides"].items()}
    kind = op["op"]
    if kind in ("insert", "upsert"):
        for row in op["rows"]:
            main[row["id"]] = (op["partition"], row)
    elif kind == "delete":
        for k in op["ids"]:
            main.pop(k, None)
    elif kind == "recreate_p1":
        main = {k: v for k, v in main.items() if v[0] != "p1"}
    elif kind in ("side_create", "staging_create"):
        sides[op["name"] if kind == "side_create" else STAGING] = {r["id"]: r for r in op["rows"]}
    elif kind == "side_rename":
        sides[op["new"]] = sides.pop(op["old"])
    elif kind == "side_drop":
        sides.pop(op["name"], None)
    elif kind == "truncate":
        main = {}
    elif kind == "side_truncate":
        sides[op["name"]] = {}
    elif kind == "staging_swap":
        sides[op["target"]] = sides.pop(STAGING)
    return {"main": main, "sides": sides}


def partial_states(state: State, op: dict[str, Any]) -> list[State]:
    """States between the atomic steps of a compound op (each step is atomic on its own)."""
    if op["op"] not in ("side_create", "staging_create"):
        return []
    name = op["name"] if op["op"] == "side_create" else STAGING
    dropped = {"main": state["main"], "sides": {k: v for k, v in state["sides"].items() if k != name}}
    created = {"main": state["main"], "sides": {**dropped["sides"], name: {}}}
    return [dropped, created]


def read_state(client: MilvusClient) -> State:
    main: dict[int, tuple[str, dict[str, Any]]] = {}
    for p in client.list_partitions(COLLECTION):  # a kill during set-up may leave p1 uncreated
        rows = client.query(COLLECTION, filter="", limit=10**9, output_fields=["*"], partition_names=[p])
        for r in rows:
            assert r["id"] not in main, f"primary key {r['id']} is live twice (partitions {main[r['id']][0]!r}, {p!r})"
            main[r["id"]] = (p, r)
    sides = {}
    for name in (*SIDE_NAMES, STAGING):
        if client.has_collection(name):
            # a kill between create_collection's commit and its load leaves a side released: its rows still count
            client.load_collection(name)
            sides[name] = {r["id"]: r for r in client.query(name, filter="", limit=10**9, output_fields=["*"])}
    return {"main": main, "sides": sides}


def describe_diff(actual_state: State, expected_state: State, limit: int = 5) -> str:
    if actual_state["sides"].keys() != expected_state["sides"].keys():
        return f"side collections {sorted(actual_state['sides'])}, expected {sorted(expected_state['sides'])}"
    for name, rows in actual_state["sides"].items():
        if rows != expected_state["sides"][name]:
            return f"side collection {name}: rows {sorted(rows)[:limit]}, expected {sorted(expected_state['sides'][name])[:limit]}"
    actual, expected = actual_state["main"], expected_state["main"]
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])
    parts = [f"{len(missing)} missing {missing[:limit]}", f"{len(extra)} unexpected {extra[:limit]}",
             f"{len(changed)} changed {changed[:limit]}"]
    for k in changed[:2]:
        parts.append(f"  id {k}: actual {actual[k]} expected {expected[k]}")
    return "; ".join(parts)


def check_search(client: MilvusClient, state: dict[int, Any], rng: random.Random) -> None:
    """Search (HNSW per sealed segment, exact on growing rows) returns live rows only, scored by
    their stored vectors, in order, and (nearly) the exact top-k."""
    if not state:
        assert client.search(COLLECTION, data=[[1.0] * 8], limit=5) == [[]]
        return
    q = np.array([rng.uniform(-1, 1) for _ in range(8)], dtype=np.float32)
    k = min(len(state), 50)
    hits = client.search(COLLECTION, data=[q.tolist()], limit=k, output_fields=["batch"],
                         search_params={"params": {"ef": 256}})[0]
    ids = np.array(sorted(state))
    base = np.array([state[i][1]["vec"] for i in ids], dtype=np.float64)
    scores = base @ q.astype(np.float64) / (np.linalg.norm(base, axis=1) * np.linalg.norm(q.astype(np.float64)))
    assert len(hits) == k
    for h in hits:
        assert h["id"] in state, f"search returned {h['id']}, which is not live"
        assert h["entity"]["batch"] == state[h["id"]][1]["batch"]
        assert abs(h["distance"] - scores[np.searchsorted(ids, h["id"])]) < 1e-5
    dists = [h["distance"] for h in hits]
    assert dists == sorted(dists, reverse=True)
    exact_top = set(ids[np.argsort(-scores, kind="stable")[:k]].tolist())
    recall = len(exact_top & {h["id"] for h in hits}) / k
    assert recall >= 0.9, f"recall {recall} of the exact top-{k}"


def check_files(db: Path) -> None:
    """Catalog integrity, and the directory holds exactly the files the catalog lists: no intent left
    behind, no file of a dropped collection or of a replaced segment, no temp file."""
    conn = sqlite3.connect(str(db / "catalog.sqlite"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("select path from pending_files").fetchall() == []
        colls = {r[0]: r[1] for r in conn.execute("select id, wal_file from collections where state = 'active'")}
        assert conn.execute("select count(*) from collections where state != 'active'").fetchone() == (0,)
        expect: dict[int, set[str]] = {cid: set() for cid in colls}
        for cid, file, dels in conn.execute("select collection_id, file, del_file from segments"):
            expect[cid] |= {file} | ({dels} if dels else set())
        for cid, file in conn.execute("select s.collection_id, si.file from segment_indexes si "
                                      "join segments s on s.id = si.segment_id"):
            expect[cid].add(file.split("/")[0])
    finally:
        conn.close()
    on_disk = {int(p.name) for p in (db / "collections").iterdir()}
    assert on_disk == set(colls), f"collection directories {sorted(on_disk)}, catalog {sorted(colls)}"
    assert not (db / "trash").exists() or not list((db / "trash").iterdir()), "a dropped collection is left in trash"
    for cid, wal in colls.items():
        seg_dir = db / "collections" / str(cid) / "segments"
        files = {p.name for p in seg_dir.iterdir()} if seg_dir.exists() else set()
        assert files == expect[cid], f"collection {cid}: unexpected {sorted(files - expect[cid])}, " \
                                     f"missing {sorted(expect[cid] - files)}"
        wal_dir = db / "collections" / str(cid) / "wal"
        logs = {p.name for p in wal_dir.iterdir()} if wal_dir.exists() else set()
        assert logs == ({wal} if wal else set()), f"collection {cid}: logs {sorted(logs)}, catalog names {wal}"


def verify(db: Path, model: State, log: WriterLog, rng: random.Random, label: str) -> State:
    """Reopen `db`, compare it with the model; return the state it matched."""
    without = apply_op_all(model, log.acked)
    candidates = [without]
    if log.inflight is not None:
        candidates += partial_states(without, log.inflight)
        candidates.append(apply_op(without, log.inflight))
    client = MilvusClient(str(db))
    try:
        if not client.has_collection(COLLECTION):  # killed before the collection was created
            assert all(not c["main"] and not c["sides"] for c in candidates), f"{label}: the collection vanished"
            return empty_state()
        actual = read_state(client)
        if actual not in candidates:
            detail = describe_diff(actual, without)
            if log.inflight is not None:
                detail += f"\n  vs. with in-flight op {log.inflight['op']} #{log.inflight['seq']}: " + describe_diff(
                    actual, candidates[1])
            raise AssertionError(f"{label}: recovered data matches neither model: {detail}")
        main = actual["main"]
        count = client.query(COLLECTION, filter="", output_fields=["count(*)"])[0]["count(*)"]
        assert count == len(main), f"{label}: count(*) {count} != {len(main)} rows"
        assert client.get_collection_stats(COLLECTION)["row_count"] == len(main), label
        check_search(client, main, rng)
    finally:
        client.close()
    check_files(db)
    return actual


def apply_op_all(state: State, ops: list[dict[str, Any]]) -> State:
    for op in ops:
        state = apply_op(state, op)
    return state


def wait_for(path: Path, needle: bytes, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if needle in path.read_bytes():
            return True
        if proc.poll() is not None:
            return needle in path.read_bytes()
        time.sleep(0.005)
    return False


class Writer:
    """One writer subprocess, started ahead of its round: it imports the engine, then waits for `go`."""

    def __init__(self, db: Path, work: Path, seed: int, rng: random.Random) -> None:
        self.seed = seed
        self.out, self.err = work / f"writer_{seed}.out", work / f"writer_{seed}.err"
        env = {k: v for k, v in os.environ.items() if k != "VECTOR_WORKBENCH_FAULT"}
        env["CRASH_WAIT_GO"] = "1"
        env["CRASH_REORDER_ROWS"] = "40"  # renumber the workload's small graphs too
        roll = rng.random()
        self.delay = 0.0
        if roll < 0.12:  # lands in start-up: open, orphan clean-up, WAL replay, set-up, first ops
            self.mode, self.delay = "early", rng.uniform(0.0, 0.3)
        elif roll < 0.55:
            self.mode, self.delay = "timed", rng.uniform(0.0, 1.0)
        else:
            point = rng.choice(FAULT_POINTS)
            n = rng.randint(1, 2) if point in RARE_POINTS else rng.randint(1, 40)
            env["VECTOR_WORKBENCH_FAULT"] = f"{point}:{n}"
            self.mode, self.delay = f"fault {point}:{n}", 1.2  # the delay is only a backstop
        with open(self.out, "wb") as fo, open(self.err, "wb") as fe:
            self.proc = subprocess.Popen([sys.executable, str(WRITER), str(db), str(seed)], stdin=subprocess.PIPE,
                                         stdout=fo, stderr=fe, env=env)

    def go(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            self.proc.wait(30)
            raise AssertionError(f"writer {self.seed} ({self.mode}) died before it was started "
                                 f"(exit {self.proc.returncode}):\n{self.err.read_text()[-5000:]}") from None

    def run_and_kill(self) -> tuple[WriterLog, int]:
        """Let it run, SIGKILL it; return its log and exit status."""
        try:
            self.go()
            if self.mode != "early":
                ready = wait_for(self.out, b"READY", self.proc, 60)
                killed_in_setup = self.proc.poll() == -signal.SIGKILL and self.mode.startswith("fault")
                assert ready or killed_in_setup, f"writer {self.seed} never got ready: {self.err.read_text()[-3000:]}"
            time.sleep(self.delay)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            rc = self.proc.wait(30)
        finally:
            self.stop()
        if rc not in (-signal.SIGKILL, 0):
            raise AssertionError(f"writer {self.seed} ({self.mode}) exited with {rc}:\n{self.err.read_text()[-5000:]}")
        return parse_log(self.out.read_text()), rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def crash_rounds(tmp_path: Path, rounds: int, base_seed: int) -> dict[str, float]:
    db = tmp_path / "crash.db"
    rng = random.Random(base_seed)
    model: State = empty_state()
    stats: dict[str, float] = {"rounds": 0, "killed": 0, "inflight": 0, "inflight_applied": 0, "acked_ops": 0,
                               "fault": 0, "writer_s": 0.0, "verify_s": 0.0}
    seeds = [base_seed % 100_000 * 100 + i + 1 for i in range(rounds)]  # ids seed * 1e6 + n: fresh every round
    ahead: list[Writer] = []  # writers started early, so their imports overlap the previous rounds
    try:
        for i, seed in enumerate(seeds):
            while len(ahead) < 3 and i + len(ahead) < rounds:
                ahead.append(Writer(db, tmp_path, seeds[i + len(ahead)], rng))
            writer = ahead.pop(0)
            t0 = time.monotonic()
            log, rc = writer.run_and_kill()
            t1 = time.monotonic()
            label = f"round {i} (CRASH_SEED={base_seed}, writer seed {seed}, {writer.mode}, {len(log.acked)} acked)"
            matched = verify(db, model, log, rng, label)
            stats["writer_s"] += t1 - t0
            stats["verify_s"] += time.monotonic() - t1
            stats["rounds"] += 1
            stats["killed"] += rc == -signal.SIGKILL
            stats["fault"] += writer.mode.startswith("fault")
            stats["acked_ops"] += len(log.acked)
            if log.inflight is not None:
                stats["inflight"] += 1
                stats["inflight_applied"] += matched != apply_op_all(model, log.acked)
            model = matched
    finally:
        for w in ahead:
            w.stop()
    stats["final_rows"] = len(model["main"])
    return stats


@pytest.mark.slow
def test_sigkill_at_random_points_keeps_acknowledged_data(tmp_path: Path) -> None:
    rounds = int(os.environ.get("CRASH_ROUNDS", "30"))
    base_seed = int(os.environ.get("CRASH_SEED", random.randrange(1, 10**6)))
    stats = crash_rounds(tmp_path, rounds, base_seed)
    print(f"crash test CRASH_SEED={base_seed}: {stats}")
    assert stats["rounds"] == rounds
    assert stats["acked_ops"] > 0 and stats["final_rows"] > 0


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_each_fault_point_recovers(tmp_path: Path, point: str) -> None:
    """Every fault point, deterministically: kill there (twice, the second time with sealed data
    and a recovered log behind it), recover, check."""
    db = tmp_path / "fault.db"
    model: State = empty_state()
    rng = random.Random(7)
    fired = 0
    for i, n in enumerate((1, 2) if point in RARE_POINTS else (3, 25)):
        out = tmp_path / f"w{i}.out"
        env = {**os.environ, "VECTOR_WORKBENCH_FAULT": f"{point}:{n}", "CRASH_SEAL_ROWS": "30",
               "CRASH_REORDER_ROWS": "40"}
        with open(out, "wb") as fo:
            proc = subprocess.run([sys.executable, str(WRITER), str(db), str(i + 1)], stdout=fo,
                                  stderr=subprocess.PIPE, env=env, timeout=300)
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr.decode()[-3000:]
        fired += proc.returncode == -signal.SIGKILL
        log = parse_log(out.read_text())
        model = verify(db, model, log, rng, f"fault {point}:{n}")
    assert fired, f"fault {point} never fired"
    assert model["main"]
