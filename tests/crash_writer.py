"""Writer subprocess for tests/test_crash_recovery.py: a deterministic random workload.

    python tests/crash_writer.py DB SEED

Opens (or creates) the collection ``crash`` in the database directory DB and
runs inserts, upserts, deletes, flushes, compactions, truncations and partition drops
chosen by ``random.Random(SEED)``, with a small ``seal_rows`` so that automatic
seals happen often. New primary keys are ``SEED * 1_000_000 + n``, so every run
uses fresh ids; upserts and deletes also pick ids written by earlier runs.

The protocol on stdout, one line each, flushed at once:

    READY {"live": N}      the database is open and recovered
    B {op as JSON}         about to call the operation (it may or may not land)
    A SEQ                  the call for op SEQ returned: it is acknowledged
    DONE                   the workload ended (no kill came)

Environment:

    VECTOR_WORKBENCH_FAULT=POINT:N   the engine SIGKILLs this process the N-th time it reaches
                           POINT (see engine/storage/faults.py: mid-append, mid-seal,
                           mid-merge, mid-drop, mid-replace...)
    CRASH_SEAL_ROWS=R      engine.seal_rows to use (default: picked from SEED)
    CRASH_MAX_OPS=K        stop after K operations (default 2000)
    CRASH_REORDER_ROWS=R   renumber saved graphs of at least R elements (engine/index/hnsw_reorder.py
                           MIN_ROWS; its default is too large for this workload's graphs)
    CRASH_WAIT_GO=1        after the imports, wait for a line on stdin before opening the
                           database (lets the test start the next writer ahead of time)

Besides the collection ``crash``, the workload keeps "side" collections to exercise DDL:
``side_a``/``side_b`` (one of them at a time: created, renamed back and forth, dropped) and
``staging`` (created full, then put in the side's place with replace_collection).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLLECTION = "crash"
PARTITIONS = ("_default", "p1")
DIM = 8
IDS_PER_SEED = 1_000_000

SIDE_NAMES = ("side_a", "side_b")
STAGING = "staging"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


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


def make_side(client: Any, name: str) -> None:
    from engine import DataType

    schema = client.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("batch", DataType.INT64)
    schema.add_field("tag", DataType.VARCHAR, max_length=64)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=ip)


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
    from engine import MilvusClient
    from engine.index import hnsw_reorder

    hnsw_reorder.MIN_ROWS = int(os.environ.get("CRASH_REORDER_ROWS", hnsw_reorder.MIN_ROWS))
    if os.environ.get("CRASH_WAIT_GO"):
        sys.stdin.readline()
    client = MilvusClient(db)
    setup(client)
    seal_rows = int(os.environ.get("CRASH_SEAL_ROWS", 0)) or rng.choice([20, 40, 80, 150])
    client.alter_collection_properties(COLLECTION, {"engine.seal_rows": seal_rows})
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
        elif r < 0.80:
            everything = sorted(live)
            keys = rng.sample(everything, min(len(everything), rng.randint(1, 20)))
            if rng.random() < 0.2 or not keys:
                keys.append(next_id + 999_000)  # never written: deleting it is a no-op
            op.update(op="delete", ids=keys)
        elif r < 0.88:
            op.update(op="flush")
        elif r < 0.90:
            op.update(op="compact", target=rng.choice([10_000, 30_000, 100_000]))
        elif r < 0.91:
            op.update(op="recreate_p1")  # drop partition p1 (and its rows), create it again empty
        elif r < 0.92:
            op.update(op="reindex", M=rng.choice([8, 16]))  # drop the index, create it with other params
        elif r < 0.925:
            op.update(op="truncate")  # every row of the main collection, sealed and growing, in one commit
        else:
            side = next((n for n in SIDE_NAMES if client.has_collection(n)), None)
            kind = rng.choice(["side_create", "side_rename", "side_drop", "staging_create", "staging_swap",
                               "side_truncate"])
            if kind == "side_create" or side is None:
                rows = [make_row(rng, next_id + i, seq, seed) for i in range(rng.randint(1, 30))]
                next_id += len(rows)
                op.update(op="side_create", name=side or "side_a", rows=rows, exists=side is not None)
            elif kind == "side_rename":
                op.update(op="side_rename", old=side, new=SIDE_NAMES[1 - SIDE_NAMES.index(side)])
            elif kind == "side_drop":
                op.update(op="side_drop", name=side)
            elif kind == "side_truncate":
                op.update(op="side_truncate", name=side)
            elif kind == "staging_create" or not client.has_collection(STAGING):
                rows = [make_row(rng, next_id + i, seq, seed) for i in range(rng.randint(1, 30))]
                next_id += len(rows)
                op.update(op="staging_create", rows=rows, exists=client.has_collection(STAGING))
            else:
                op.update(op="staging_swap", target=side)
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
        elif kind == "reindex":
            client.drop_index(COLLECTION, "vec")
            ip = client.prepare_index_params()
            ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": op["M"], "efConstruction": 64})
            client.create_index(COLLECTION, ip)
        elif kind in ("side_create", "staging_create"):
            name = op["name"] if kind == "side_create" else STAGING
            if op["exists"]:
                client.drop_collection(name)
            make_side(client, name)
            client.insert(name, op["rows"])
        elif kind == "side_rename":
            client.rename_collection(op["old"], op["new"])
        elif kind == "side_drop":
            client.drop_collection(op["name"])
        elif kind == "truncate":
            client.truncate_collection(COLLECTION)
            live = {}
        elif kind == "side_truncate":
            client.truncate_collection(op["name"])
        elif kind == "staging_swap":
            client.replace_collection(STAGING, op["target"])
        else:
            client.alter_collection_properties(COLLECTION, {"engine.max_segment_bytes": op["target"]})
            client.compact(COLLECTION)
        emit(f"A {seq}")
    client.close()
    emit("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
