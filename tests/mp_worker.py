"""Processes for tests/test_multiprocess_consistency.py.

    python tests/mp_worker.py writer DB LOG OPS SEED
    python tests/mp_worker.py reader DB LOG SECONDS

The writer runs OPS operations on collection ``c``: inserts of fresh ids, deletes of earlier ones,
flushes, compactions and an index rebuild, chosen by SEED. For each it logs ``B seq`` before the call
and ``A seq`` after it returns, with times. Each op is described in the log so the test can replay it.

A reader loops for SECONDS: it queries every live id (one call, so one snapshot) and logs the start
and end times with the sorted ids' digest and count; it also searches and checks that every hit has
a consistent row. Any engine error is logged as ``E ...`` and ends the reader with status 1.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 8


def digest(ids: list[int]) -> str:
    return hashlib.sha1(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]


def vec(i: int) -> list[float]:
    r = random.Random(i)
    v = [r.uniform(-1, 1) for _ in range(DIM)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def writer(db: str, log_path: str, ops: int, seed: int) -> None:
    from engine import MilvusClient

    rng = random.Random(seed)
    c = MilvusClient(db, write_lock_timeout=120)
    if not c.has_collection("c"):
        c.create_collection("c", dimension=DIM)
        c.alter_collection_properties("c", {"engine.seal_rows": 300})
    live: set[int] = {r["id"] for r in c.query("c", filter="", limit=10**7, output_fields=["id"])}
    next_id = max(live, default=-1) + 1
    with open(log_path, "a", buffering=1) as log:
        log.write(f"READY {time.time()!r} {json.dumps(sorted(live))}\n")
        for seq in range(ops):
            r = rng.random()
            if r < 0.6 or not live:
                ids = list(range(next_id, next_id + rng.randint(1, 60)))
                next_id += len(ids)
                op = {"op": "insert", "ids": ids}
            elif r < 0.85:
                op = {"op": "delete", "ids": rng.sample(sorted(live), min(len(live), rng.randint(1, 25)))}
            elif r < 0.93:
                op = {"op": "flush"}
            elif r < 0.98:
                op = {"op": "compact"}
            else:
                op = {"op": "reindex", "M": rng.choice([8, 16])}
            log.write(f"B {seq} {time.time()!r} {json.dumps(op)}\n")
            if op["op"] == "insert":
                c.insert("c", [{"id": i, "vector": vec(i), "tag": f"t{i}"} for i in op["ids"]])
                live.update(op["ids"])
            elif op["op"] == "delete":
                c.delete("c", ids=op["ids"])
                live.difference_update(op["ids"])
            elif op["op"] == "flush":
                c.flush("c")
            elif op["op"] == "compact":
                c.compact("c")
            else:
                if c.list_indexes("c"):  # an earlier writer may have been killed between drop and create
                    c.drop_index("c", "vector")
                ip = c.prepare_index_params()
                ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": op["M"]})
                c.create_index("c", ip)
            log.write(f"A {seq} {time.time()!r}\n")
        log.write("DONE\n")
    c.close()


def reader(db: str, log_path: str, seconds: float) -> int:
    from engine import MilvusClient
    from engine.errors import MilvusException

    c = MilvusClient(db)
    end = time.monotonic() + seconds
    rng = random.Random(log_path)
    with open(log_path, "a", buffering=1) as log:
        log.write("READY\n")
        while time.monotonic() < end:
            try:
                if not c.has_collection("c"):
                    time.sleep(0.01)
                    continue
                t0 = time.time()
                rows = c.query("c", filter="", limit=10**7, output_fields=["id", "tag"])
                t1 = time.time()
                bad = [r for r in rows if r["tag"] != f"t{r['id']}"]
                if bad:
                    log.write(f"E inconsistent rows {bad[:3]}\n")
                    return 1
                log.write(f"Q {t0!r} {t1!r} {len(rows)} {digest([r['id'] for r in rows])}\n")
                q = vec(rng.randrange(10**6))
                for h in c.search("c", data=[q], limit=5, output_fields=["tag", "vector"])[0]:
                    stored = [float(x) for x in np.asarray(vec(h["id"]), dtype=np.float32)]
                    if h["entity"]["tag"] != f"t{h['id']}" or h["entity"]["vector"] != stored:
                        log.write(f"E inconsistent hit {h}\n")
                        return 1
            except MilvusException as e:
                log.write(f"E {type(e).__name__}: {e}\n")
                return 1
    return 0


if __name__ == "__main__":
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack when a worker hangs
    if sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(reader(sys.argv[2], sys.argv[3], float(sys.argv[4])))
