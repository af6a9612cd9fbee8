"""Benchmark: several processes on one database (issue 13).

    .venv/bin/python bench/bench_processes.py                  # 100k x 128, prints the results
    .venv/bin/python bench/bench_processes.py --write-docs     # also update docs/benchmarks.md

Measures, in one run on one database:

* reader latency: p50/p95 of `search` (limit 10) in a reader process, quiet, and while a separate writer
  process inserts 1,000-row batches (which seal, merge and extend the graph in the background);
* visibility delay: a writer process inserts one row and notes the time its `insert` returned; a reader
  process polls `query` by id and notes when it first sees it. Both use `time.time()` on the same machine.

Embedding-like data (bench/common.py), COSINE, HNSW M=16, efConstruction=200, default storage settings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- processes-benchmark:start -->", "<!-- processes-benchmark:end -->"
sys.path.insert(0, str(ROOT))

from bench.common import embedding_like  # noqa: E402

READER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from engine import MilvusClient
    db, qfile, seconds, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    q = np.load(qfile)
    c = MilvusClient(db)
    c.search("c", data=[q[0].tolist()], limit=10)  # load the graph first
    lat, i, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        v = q[i % len(q)].tolist()
        t = time.perf_counter()
        c.search("c", data=[v], limit=10, search_params={"params": {"ef": 64}})
        lat.append(time.perf_counter() - t)
        i += 1
    json.dump(lat, open(out, "w"))
""")

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from engine import MilvusClient
    db, vfile, start, batches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    v = np.load(vfile)
    c = MilvusClient(db)
    for b in range(batches):
        base = start + b * 1000
        c.insert("c", [{"id": base + j, "vector": v[(base + j) % len(v)].tolist()} for j in range(1000)])
    print("done", flush=True)
""")

VISIBILITY_READER = textwrap.dedent("""
    import sys, time
    from engine import MilvusClient
    db, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    c = MilvusClient(db)
    print("ready", flush=True)
    seen = []
    for k in range(first, first + n):
        while not c.query("c", ids=[k], output_fields=["id"]):
            time.sleep(0.001)
        seen.append(time.time())
        print(repr(time.time()), flush=True)
""")


WARMUP = 5


def run_py(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kw)  # type: ignore[call-overload]


def pct(a: list[float], p: float) -> float:
    return float(np.percentile(np.array(a) * 1e3, p))


def build(db: str, vecs: np.ndarray) -> None:
    from engine import DataType, MilvusClient

    c = MilvusClient(db)
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=vecs.shape[1])
    ip = c.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    c.create_collection("c", schema=s, index_params=ip)
    for i in range(0, len(vecs), 1000):
        c.insert("c", [{"id": j, "vector": vecs[j].tolist()} for j in range(i, min(i + 1000, len(vecs)))])
    c.flush("c")
    c.close()


def reader_latencies(db: str, qfile: str, seconds: float, work: Path, tag: str) -> list[float]:
    out = work / f"lat_{tag}.json"
    p = run_py(READER, db, qfile, str(seconds), str(out))
    p.wait()
    return list(json.loads(out.read_text()))


def visibility(db: str, first: int, n: int) -> list[float]:
    from engine import MilvusClient

    r = run_py(VISIBILITY_READER, db, str(first), str(n), stdout=subprocess.PIPE)
    assert r.stdout is not None and r.stdout.readline().strip() == "ready"
    c = MilvusClient(db)
    acked = []
    for k in range(first, first + n):
        time.sleep(0.05)
        c.insert("c", [{"id": k, "vector": [1.0] + [0.0] * (c.describe_collection("c")["fields"][1]["params"]["dim"] - 1)}])
        acked.append(time.time())
    seen = [float(r.stdout.readline()) for _ in range(n)]
    r.wait()
    c.close()
    return [s - a for s, a in zip(seen, acked)][WARMUP:]  # the first rows also time the reader's first loads


def run(n: int, dim: int, seconds: float) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench_proc_"))
    db = str(work / "p.db")
    vecs = embedding_like(n, dim, seed=1)
    q = embedding_like(500, dim, seed=2)
    np.save(work / "q.npy", q)
    np.save(work / "v.npy", vecs)
    t0 = time.monotonic()
    build(db, vecs)
    build_s = time.monotonic() - t0
    quiet = reader_latencies(db, str(work / "q.npy"), seconds, work, "quiet")
    batches = max(1, int(seconds * 2))
    w = run_py(WRITER, db, str(work / "v.npy"), str(n + 10_000_000), str(batches), stdout=subprocess.PIPE)
    busy = reader_latencies(db, str(work / "q.npy"), seconds, work, "busy")
    w.wait()
    delays = visibility(db, 2 * 10**9, 30 + WARMUP)
    return {
        "n": n, "dim": dim, "build_s": build_s, "load": os.getloadavg(), "cores": os.cpu_count(),
        "quiet": {"p50": pct(quiet, 50), "p95": pct(quiet, 95), "count": len(quiet)},
        "busy": {"p50": pct(busy, 50), "p95": pct(busy, 95), "count": len(busy), "writer_batches": batches},
        "visibility_ms": {"p50": float(np.percentile(delays, 50) * 1e3), "p95": float(np.percentile(delays, 95) * 1e3),
                          "max": float(max(delays) * 1e3)},
    }


def report(R: dict, command: str) -> str:  # type: ignore[type-arg]
    q, b, v = R["quiet"], R["busy"], R["visibility_ms"]
    return "\n".join([
        START,
        "## Several processes on one database (`bench/bench_processes.py`)",
        "",
        f"{R['n']:,} × {R['dim']} embedding-like vectors, COSINE, HNSW M=16/efConstruction=200, default storage "
        f"settings; searches at ef=64, limit 10, from a separate reader process. Machine: {R['cores']} cores, "
        f"load average {R['load'][0]:.1f} during the run (a shared machine: absolute times are noisy; compare "
        "the rows with each other).",
        "",
        "| reader | p50 | p95 | searches |",
        "|---|---|---|---|",
        f"| quiet | {q['p50']:.3f} ms | {q['p95']:.3f} ms | {q['count']:,} |",
        f"| while another process inserts {b['writer_batches']} batches of 1,000 rows | {b['p50']:.3f} ms | "
        f"{b['p95']:.3f} ms | {b['count']:,} |",
        "",
        f"Delay before a row another process inserted is visible (insert returned → a polling reader's `query` by "
        f"id sees it), 30 rows: p50 {v['p50']:.1f} ms, p95 {v['p95']:.1f} ms, max {v['max']:.1f} ms. A negative "
        "delay means the reader saw the row before the writer's `insert` returned: the log's header is written "
        "before the fsync that acknowledges the record, and readers read it from the page cache.",
        "",
        f"Command: `{command}`",
        END,
    ])


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    if START in doc:
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    DOC.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    R = run(args.n, args.dim, args.seconds)
    print(json.dumps(R, indent=1))
    cmd = "python bench/bench_processes.py" + ("" if args.n == 100_000 else f" --n {args.n}") + \
        ("" if args.dim == 128 else f" --dim {args.dim}") + ("" if args.seconds == 20.0 else f" --seconds {args.seconds}")
    text = report(R, cmd + " --write-docs")
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
