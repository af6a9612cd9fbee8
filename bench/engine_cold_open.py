"""Engine benchmark: cold opens, each in a fresh subprocess of bench/bench_engine.py (`--child`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import median, peak_rss_bytes, rss_bytes, rss_file_bytes, top_ids
from bench.engine_dataset import COLL, ROOT, K

# the script that the child processes run (its `--child` mode calls child_main)
SCRIPT = Path(__file__).resolve().with_name("bench_engine.py")


def child_main(argv: list[str]) -> None:
    """`--child SYSTEM PATH QUERIES.npy EF SPAWN_WALLCLOCK`: open, first search, then the rest; print JSON."""
    system, path, qfile, ef_s, spawn = argv
    ef = int(ef_s)
    t0 = time.perf_counter()
    qs = np.load(qfile)
    out: dict[str, Any] = {}
    if system == "engine":
        from engine import MilvusClient

        t1 = time.perf_counter()
        c = MilvusClient(path)

        def one(q: np.ndarray) -> Any:
            return c.search(COLL, data=[q], anns_field="vec", limit=K,
                            search_params={"metric_type": "COSINE", "params": {"ef": ef}})
    elif system == "milvus_lite":
        from pymilvus import MilvusClient as PMC

        t1 = time.perf_counter()
        c = PMC(path)
        c.load_collection(COLL)

        def one(q: np.ndarray) -> Any:
            return c.search(COLL, data=[q.tolist()], anns_field="vec", limit=K,
                            search_params={"metric_type": "COSINE", "params": {"ef": ef}})
    elif system == "hnswlib":
        import hnswlib

        t1 = time.perf_counter()
        c = hnswlib.Index(space="ip", dim=int(qs.shape[1]))
        c.load_index(path)
        c.set_ef(ef)

        def one(q: np.ndarray) -> Any:
            return c.knn_query(q.reshape(1, -1), k=K, num_threads=1)
    elif system == "numpy":
        t1 = time.perf_counter()
        x = np.load(path)

        def one(q: np.ndarray) -> Any:
            return top_ids(x @ q, K)
    else:
        raise SystemExit(f"unknown system {system}")
    t2 = time.perf_counter()
    one(qs[0])
    t3 = time.perf_counter()
    out["spawn_to_first_s"] = time.time() - float(spawn)
    out["import_s"] = t1 - t0
    out["open_s"] = t2 - t1
    out["first_search_s"] = t3 - t2
    out["open_first_s"] = t3 - t1
    out["rss_first"] = rss_bytes()
    for q in qs[1:50]:
        one(q)
    out["rss_after"] = rss_bytes()
    out["rss_file_after"] = rss_file_bytes()
    out["peak_rss"] = peak_rss_bytes()
    out["nq"] = min(len(qs), 50)
    print("CHILD_RESULT " + json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)


def cold_open(system: str, path: Path, queries: np.ndarray, ef: int, work: Path, runs: int) -> dict[str, Any]:
    qfile = work / "cold_queries.npy"
    np.save(qfile, queries.astype(np.float32))
    results = []
    for _ in range(runs):
        cmd = [sys.executable, str(SCRIPT), "--child", system, str(path), str(qfile), str(ef),
               repr(time.time())]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=str(ROOT))
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith("CHILD_RESULT ")), None)
        if line is None:
            raise RuntimeError(f"cold open of {system} failed (rc {p.returncode}): {p.stderr[-800:]}")
        results.append(json.loads(line.split(" ", 1)[1]))
    keys = results[0].keys()
    return {k: median(r[k] for r in results) for k in keys} | {"runs": runs}
