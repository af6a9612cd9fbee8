"""N reader processes while one writer inserts, deletes, flushes, compacts and rebuilds its index.

Every reader observation (one `query` of all live ids) must equal the state after some prefix of
the writer's operations: no earlier than the operations acknowledged before the query started, no
later than those begun before it ended. Readers and the writer are killed at random moments and
restarted; after the last kill, the database holds exactly the acknowledged operations (plus, or
minus, the one in flight). MP_ROUNDS sets the number of kill rounds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.mp_worker import digest

WORKER = Path(__file__).with_name("mp_worker.py")
ROOT = WORKER.parent.parent


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE)


def wait_ready(log: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait for the worker's READY line; a worker that does not get there shows where it is stuck."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists() and "READY" in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{log.name}: exited {proc.returncode} before READY: "
                                 f"{proc.stderr.read().decode()[-3000:] if proc.stderr else ''}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGUSR1)  # faulthandler in the worker prints every thread's stack
    time.sleep(1.0)
    proc.kill()
    proc.wait(30)
    stacks = proc.stderr.read().decode()[-6000:] if proc.stderr else ""
    raise AssertionError(f"{log.name}: not ready after {timeout} s; its threads:\n{stacks}")


def parse_writer(text: str) -> tuple[set[int], list[tuple[dict[str, Any], float, float | None]]]:
    """(live ids at start, [(op, begin time, ack time or None)])."""
    start: set[int] = set()
    ops: list[tuple[dict[str, Any], float, float | None]] = []
    for line in text.split("\n")[:-1]:
        parts = line.split(" ", 3)
        if parts[0] == "READY":
            start = set(json.loads(line.split(" ", 2)[2]))
        elif parts[0] == "B":
            ops.append((json.loads(parts[3]), float(parts[2]), None))
        elif parts[0] == "A":
            op, t0, _ = ops[-1]
            ops[-1] = (op, t0, float(parts[2]))
    return start, ops


def states(start: set[int], ops: list[tuple[dict[str, Any], float, float | None]]) -> list[set[int]]:
    """The live ids after each prefix of ops: states[j] = after the first j ops."""
    out = [set(start)]
    cur = set(start)
    for op, _, _ in ops:
        if op["op"] == "insert":
            cur = cur | set(op["ids"])
        elif op["op"] == "delete":
            cur = cur - set(op["ids"])
        out.append(cur)
    return out


def check_reader(log: Path, start: set[int], ops: list[tuple[dict[str, Any], float, float | None]]) -> int:
    """Every observation equals some allowed prefix; returns the number of observations."""
    snaps = states(start, ops)
    digests = [digest(sorted(s)) for s in snaps]
    n = 0
    for line in log.read_text().split("\n")[:-1]:
        if line.startswith("E "):
            raise AssertionError(f"{log.name}: {line}")
        if not line.startswith("Q "):
            continue
        _, t0s, t1s, count, dig = line.split(" ")
        t0, t1 = float(t0s), float(t1s)
        lo = sum(1 for _, _, ack in ops if ack is not None and ack < t0)  # acknowledged before the query began
        hi = sum(1 for _, begin, _ in ops if begin <= t1)  # begun before it ended
        allowed = [j for j in range(lo, hi + 1) if digests[j] == dig]
        assert allowed, (f"{log.name}: a query between {t0:.3f} and {t1:.3f} saw {count} rows ({dig}), matching no "
                         f"state after ops {lo}..{hi} (counts {[len(snaps[j]) for j in range(lo, hi + 1)]})")
        n += 1
    return n


def test_readers_see_acknowledged_prefixes_while_a_writer_works(tmp_path: Path) -> None:
    db = str(tmp_path / "mp.db")
    rng = random.Random(int(os.environ.get("MP_SEED", "7")))
    rounds = int(os.environ.get("MP_ROUNDS", "3"))
    n_readers = 3
    observations = 0
    for rnd in range(rounds):
        wlog = tmp_path / f"writer{rnd}.log"
        rlogs = [tmp_path / f"reader{rnd}_{i}.log" for i in range(n_readers)]
        readers = [spawn("reader", db, str(p), "30") for p in rlogs]
        w = spawn("writer", db, str(wlog), "400", str(rnd + 1))
        wait_ready(wlog, w)
        for p, r in zip(rlogs, readers):
            wait_ready(p, r)
        time.sleep(rng.uniform(1.0, 4.0))
        victim = rng.randrange(n_readers)  # kill one reader mid-way; it must not disturb anyone
        readers[victim].send_signal(signal.SIGKILL)
        time.sleep(rng.uniform(0.5, 3.0))
        if w.poll() is None:
            w.send_signal(signal.SIGKILL)
        w.wait(60)
        for i, r in enumerate(readers):
            if i != victim:
                r.send_signal(signal.SIGTERM)
        for r in readers:
            r.wait(60)
        assert w.returncode in (0, -signal.SIGKILL), w.stderr.read().decode()[-3000:] if w.stderr else ""
        start, ops = parse_writer(wlog.read_text())
        for i, p in enumerate(rlogs):
            if i != victim:
                assert readers[i].returncode in (0, -signal.SIGTERM), p.read_text()[-2000:]
            observations += check_reader(p, start, ops)
        # after the kill: exactly the acknowledged ops, plus or minus the one in flight
        from engine import MilvusClient

        c = MilvusClient(db)
        got = {r["id"] for r in c.query("c", filter="", limit=10**7, output_fields=["id"])}
        c.close()
        done = sum(1 for _, _, ack in ops if ack is not None)
        snaps = states(start, ops)
        assert got in (snaps[done], snaps[min(done + 1, len(snaps) - 1)]), \
            f"round {rnd}: {len(got)} rows after the kill; acknowledged state has {len(snaps[done])}"
    assert observations > 20 * rounds, f"readers made only {observations} observations"
