"""Writer subprocess for tests/test_crash_recovery.py: a deterministic random workload.

    python tests/crash_writer.py DB SEED

Opens (or creates) the collection ``crash`` in the database directory DB and
runs inserts, upserts, deletes, flushes, compactions and partition drops
chosen by ``random.Random(SEED)``, with a small ``seal_rows`` so that automatic
seals happen often. New primary keys are ``SEED * 1_000_000 + n``, so every run
uses fresh ids; upserts and deletes also pick ids written by earlier runs.

The protocol on stdout, one line each, flushed at once:

    READY {"live": N}      the database is open and recovered
    B {op as JSON}         about to call the operation (it may or may not land)
    A SEQ                  the call for op SEQ returned: it is acknowledged
    DONE                   the workload ended (no kill came)

Environment:

    CRASH_FAULT=POINT:N    SIGKILL this process the N-th time POINT is reached
                           (fault injection that makes kills land mid-seal or
                           mid-append; see FAULT_POINTS)
    CRASH_SEAL_ROWS=R      seal_rows to use (default: picked from SEED)
    CRASH_MAX_OPS=K        stop after K operations (default 2000)
    CRASH_WAIT_GO=1        after the imports, wait for a line on stdin before opening the
                           database (lets the test start the next writer ahead of time)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLLECTION = "crash"
PARTITIONS = ("_default", "p1")
DIM = 8
IDS_PER_SEED = 1_000_000

# Where CRASH_FAULT may kill the process:
#   wal_torn       a WAL append wrote only a prefix of its record (torn write)
#   wal_unsynced   a WAL append wrote its record but did not fsync it yet
#   seg_tmp        a seal or compaction wrote the segment's temp file, before the rename
#   seg_renamed    a seal or compaction renamed the segment file, before the catalog commit
#   cat_precommit  inside a seal's or compaction's catalog transaction, before COMMIT
#   cat_committed  after that COMMIT (for a seal: before the WAL is rotated)
#   rotate_new     the new WAL file exists, the old one is not removed yet
#   rotate_done    the WAL was rotated (the seal is about to return)
FAULT_POINTS = (
    "wal_torn",
    "wal_unsynced",
    "seg_tmp",
    "seg_renamed",
    "cat_precommit",
    "cat_committed",
    "rotate_new",
    "rotate_done",
)


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Fault:
    """Counts arrivals at one fault point and kills the process at the chosen one."""

    def __init__(self, spec: str | None) -> None:
        self.point, self.remaining = "", 0
        if spec:
            point, _, n = spec.partition(":")
            if point not in FAULT_POINTS:
                raise SystemExit(f"unknown fault point {point!r}; use one of {FAULT_POINTS}")
            self.point, self.remaining = point, int(n or 1)
        self.sealing_thread: int | None = None  # ident of the thread inside a seal or compaction
        self.compacting = False

    @property
    def in_seal(self) -> bool:
        return self.sealing_thread == threading.get_ident()

    def hit(self, point: str) -> bool:
        """True when this arrival at `point` is the one to die at."""
        if point != self.point:
            return False
        self.remaining -= 1
        return self.remaining <= 0

    def at(self, point: str) -> None:
        if self.hit(point):
            die()


def install_faults(fault: Fault) -> None:
    """Wrap engine internals (in this process only) so the fault can fire where it should."""
    import engine.client.admin as admin_mod
    import engine.collection as collection_mod
    import engine.storage.segment as segment_mod
    from engine.collection import Collection
    from engine.storage import wal as wal_mod
    from engine.storage.catalog import Catalog

    if not fault.point:
        return

    def append(self: Any, lsn: int, kind: int, payload: bytes) -> None:
        crc = wal_mod._crc(lsn, kind, payload)
        data = wal_mod.HEADER.pack(wal_mod.MAGIC, len(payload), crc, lsn, kind) + payload
        if fault.hit("wal_torn"):
            cut = random.Random(lsn).randrange(1, len(data))
            self._fh.write(data[:cut])
            self._fh.flush()
            os.fsync(self._fh.fileno())
            die()
        self._fh.write(data)
        self._fh.flush()
        if fault.hit("wal_unsynced"):
            die()
        os.fsync(self._fh.fileno())

    wal_mod.WriteAheadLog.append = append  # type: ignore[method-assign]

    real_seal = Collection.seal

    def seal(self: Any) -> Any:
        if fault.in_seal:  # a seal inside a compaction (admin.compact seals first)
            return real_seal(self)
        fault.sealing_thread = threading.get_ident()
        try:
            return real_seal(self)
        finally:
            fault.sealing_thread = None

    Collection.seal = seal  # type: ignore[method-assign]

    real_compact = admin_mod.compact

    def compact(coll: Any, *args: Any, **kwargs: Any) -> Any:
        fault.sealing_thread = threading.get_ident()
        fault.compacting = True
        try:
            return real_compact(coll, *args, **kwargs)
        finally:
            fault.sealing_thread = None
            fault.compacting = False

    admin_mod.compact = compact  # type: ignore[assignment]

    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        is_segment = str(dst).endswith(".arrow")
        if is_segment:
            fault.at("seg_tmp")
        real_replace(src, dst, *args, **kwargs)
        if is_segment:
            fault.at("seg_renamed")

    segment_mod.os.replace = replace  # type: ignore[assignment]  # the os module: this process only

    real_tx = Catalog.transaction

    @contextmanager
    def transaction(self: Any) -> Iterator[Any]:
        with real_tx(self) as db:
            yield db
            if fault.in_seal:
                fault.at("cat_precommit")
        if fault.in_seal:
            fault.at("cat_committed")

    Catalog.transaction = transaction  # type: ignore[method-assign]

    real_fsync_dir = collection_mod.fsync_dir
    rotate_calls = {"n": 0}

    def fsync_dir(path: Path) -> None:
        real_fsync_dir(path)
        # _rotate_wal calls it twice: the new WAL exists (1st call), the old one is removed (2nd call)
        if fault.in_seal and not fault.compacting:
            rotate_calls["n"] += 1
            fault.at("rotate_new" if rotate_calls["n"] % 2 == 1 else "rotate_done")

    collection_mod.fsync_dir = fsync_dir  # type: ignore[assignment]


def make_row(rng: random.Random, pk: int, seq: int, seed: int) -> dict[str, Any]:
    vec = np.array([rng.uniform(-1, 1) for _ in range(DIM)], dtype=np.float32)
    if not np.any(vec):
        vec[0] = 1.0
    row: dict[str, Any] = {"id": pk, "vec": [float(x) for x in vec], "batch": seq,
                           "tag": f"s{seed}-o{seq}-{pk}"}
    if rng.random() < 0.3:
        row["extra"] = rng.choice([seq, f"x{pk}", [seq, pk]])
    return row


def setup(client: Any) -> None:
    from engine import DataType

    if not client.has_collection(COLLECTION):
        schema = client.create_schema(enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("batch", DataType.INT64)
        schema.add_field("tag", DataType.VARCHAR, max_length=64)
        client.create_collection(COLLECTION, schema=schema)
    if not client.list_indexes(COLLECTION):
        ip = client.prepare_index_params()
        ip.add_index("vec", index_type="AUTOINDEX", metric_type="COSINE")
        client.create_index(COLLECTION, ip)
    for p in PARTITIONS:
        if not client.has_partition(COLLECTION, p):
            client.create_partition(COLLECTION, p)


def live_ids(client: Any) -> dict[int, str]:
    """Primary key -> partition of every live row."""
    out: dict[int, str] = {}
    for p in PARTITIONS:
        for r in client.query(COLLECTION, filter="", limit=10**9, output_fields=["id"], partition_names=[p]):
            out[r["id"]] = p
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    db, seed = argv[1], int(argv[2])
    rng = random.Random(seed)
    fault = Fault(os.environ.get("CRASH_FAULT"))
    install_faults(fault)
    from engine import MilvusClient

    if os.environ.get("CRASH_WAIT_GO"):
        sys.stdin.readline()
    client = MilvusClient(db)
    setup(client)
    coll = client._db.get(COLLECTION)
    coll.seal_rows = int(os.environ.get("CRASH_SEAL_ROWS", 0)) or rng.choice([20, 40, 80, 150])
    live = live_ids(client)
    emit("READY " + json.dumps({"live": len(live)}))
    next_id = seed * IDS_PER_SEED
    max_ops = int(os.environ.get("CRASH_MAX_OPS", 2000))
    for seq in range(max_ops):
        r = rng.random()
        op: dict[str, Any] = {"seq": seq}
        if r < 0.45:
            part = rng.choice(PARTITIONS)
            n = rng.randint(1, 50)
            rows = [make_row(rng, next_id + i, seq, seed) for i in range(n)]
            next_id += n
            op.update(op="insert", partition=part, rows=rows)
        elif r < 0.62:
            part = rng.choice(PARTITIONS)
            here = sorted(k for k, p in live.items() if p == part)
            old = rng.sample(here, min(len(here), rng.randint(0, 15)))
            fresh = list(range(next_id, next_id + rng.randint(0 if old else 1, 5)))
            next_id += len(fresh)
            keys = old + fresh
            rng.shuffle(keys)
            op.update(op="upsert", partition=part, rows=[make_row(rng, k, seq, seed) for k in keys])
        elif r < 0.85:
            everything = sorted(live)
            keys = rng.sample(everything, min(len(everything), rng.randint(1, 20)))
            if rng.random() < 0.2 or not keys:
                keys.append(next_id + 999_000)  # never written: deleting it is a no-op
            op.update(op="delete", ids=keys)
        elif r < 0.95:
            op.update(op="flush")
        elif r < 0.98:
            op.update(op="compact", target=rng.choice([100, 300, 1000]))
        else:
            op.update(op="recreate_p1")  # drop partition p1 (and its rows), create it again empty
        emit("B " + json.dumps(op))
        kind = op["op"]
        if kind == "insert":
            res = client.insert(COLLECTION, op["rows"], partition_name=op["partition"])
            assert res["ids"] == [row["id"] for row in op["rows"]], res
            for row in op["rows"]:
                live[row["id"]] = op["partition"]
        elif kind == "upsert":
            res = client.upsert(COLLECTION, op["rows"], partition_name=op["partition"])
            assert res["upsert_count"] == len(op["rows"]), res
            for row in op["rows"]:
                live[row["id"]] = op["partition"]
        elif kind == "delete":
            res = client.delete(COLLECTION, ids=op["ids"])
            expected = sum(1 for k in op["ids"] if k in live)
            assert res["delete_count"] == expected, (res, expected)
            for k in op["ids"]:
                live.pop(k, None)
        elif kind == "flush":
            client.flush(COLLECTION)
        elif kind == "recreate_p1":
            client.drop_partition(COLLECTION, "p1")
            client.create_partition(COLLECTION, "p1")
            live = {k: p for k, p in live.items() if p != "p1"}
        else:
            client.compact(COLLECTION, target_size=op["target"])
        emit(f"A {seq}")
    client.close()
    emit("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
