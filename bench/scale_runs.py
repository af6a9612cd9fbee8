"""bench_scale.py's runs: default ingestion growing through several sizes (engine and one hnswlib index, each
checkpoint followed by interleaved ef sweeps and disk sizes), the search-path layers, write while searching,
Milvus Lite, and the RSS data set. Each returns plain dicts (JSON-able)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import LatencyStats, Stopwatch, dir_bytes, median, recall_at_k, timed_calls
from bench.engine_dataset import TARGET, Dataset, headline, log
from bench.engine_profiles import profile_summary
from bench.engine_runs import cpu_seconds, paired_sweeps
from bench.scale_children import COLL, ROOT, K

SCRIPT = ROOT / "bench" / "bench_scale.py"


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ----------------------------------------------------------------------------- systems


def engine_create(path: Path, dim: int, args: argparse.Namespace) -> Any:
    """A fresh database with the collection: default settings, HNSW M/efConstruction as asked, COSINE."""
    from engine import DataType, MilvusClient

    client = MilvusClient(str(path))
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    client.create_collection(COLL, schema=s, index_params=ip)
    return client


def segments_of(client: Any) -> list[dict[str, Any]]:
    return [{"id": s.segment_id, "state": s.state, "level": s.level, "rows": s.num_rows, "bytes": s.size_bytes,
             "index": dict(s.index_states)} for s in client.list_persistent_segments(COLL)]


def engine_ingest(client: Any, x: np.ndarray, lo: int, hi: int, batch: int) -> dict[str, Any]:
    """Insert rows lo..hi in `batch`-row batches (ids = row numbers), then flush; timings and segment counts."""
    c0 = cpu_seconds()
    insert_s = 0.0
    with Stopwatch() as sw_loop:
        for s in range(lo, hi, batch):
            rows = [{"id": i, "vec": x[i]} for i in range(s, min(hi, s + batch))]
            t0 = time.perf_counter()
            client.insert(COLL, rows)
            insert_s += time.perf_counter() - t0
    before = segments_of(client)
    with Stopwatch() as sw_flush:
        client.flush(COLL)
    return {"rows": hi - lo, "insert_s": insert_s, "loop_s": sw_loop.seconds, "flush_s": sw_flush.seconds,
            "total_s": sw_loop.seconds + sw_flush.seconds, "cpu_s": cpu_seconds() - c0,
            "segments_before_flush": before, "segments": segments_of(client)}


def hnswlib_add(index: Any, x: np.ndarray, lo: int, hi: int, threads: int) -> dict[str, Any]:
    c0 = cpu_seconds()
    with Stopwatch() as sw:
        index.add_items(x[lo:hi], np.arange(lo, hi), num_threads=threads)
    return {"rows": hi - lo, "total_s": sw.seconds, "cpu_s": cpu_seconds() - c0}


def search_fns(client: Any, hindex: Any) -> dict[str, Callable[[np.ndarray, int], list[int]]]:
    def engine(q: np.ndarray, ef: int) -> list[int]:
        r = client.search(COLL, data=[q], anns_field="vec", limit=K,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    def hnsw(q: np.ndarray, ef: int) -> list[int]:
        if hindex.ef != ef:
            hindex.set_ef(ef)
        return hindex.knn_query(q.reshape(1, -1), k=K, num_threads=1)[0][0].tolist()  # type: ignore[no-any-return]

    return {"engine": engine, "hnswlib": hnsw}


def disk_breakdown(db: Path) -> dict[str, int]:
    """Bytes per kind of file in the database directory."""
    out: dict[str, int] = {}
    for f in Path(db).rglob("*"):
        if not f.is_file():
            continue
        n = f.name
        kind = ("graph (hnsw.bin)" if n == "hnsw.bin" else "norms (norms.npy)" if n == "norms.npy"
                else "segment data (.arrow)" if n.endswith(".arrow") else "write-ahead log" if "wal" in f.parts[-2]
                else "catalog (SQLite)" if n.startswith("catalog.sqlite") else "other")
        out[kind] = out.get(kind, 0) + f.stat().st_size
    return out


# ----------------------------------------------------------------------------- growth (ingest, curves, disk)


def run_growth(x: np.ndarray, q: np.ndarray, sizes: list[int], work: Path, args: argparse.Namespace,
               keep: dict[str, Any]) -> list[dict[str, Any]]:
    """Grow one engine collection and one hnswlib index through `sizes`; at each: ingest, flush, sweeps, disk.

    `keep` gets the open client, the hnswlib index and their paths (for the later parts)."""
    import hnswlib

    dim = int(x.shape[1])
    db = work / "engine.db"
    client = engine_create(db, dim, args)
    hidx = hnswlib.Index(space="ip", dim=dim)
    hidx.init_index(max_elements=sizes[-1], M=args.M, ef_construction=args.ef_construction)
    keep.update(client=client, hnswlib=hidx, db=db)
    fns = search_fns(client, hidx)
    out = []
    done = 0
    e_tot = {"total_s": 0.0, "cpu_s": 0.0, "insert_s": 0.0, "flush_s": 0.0}
    h_tot = {"total_s": 0.0, "cpu_s": 0.0}
    for ci, size in enumerate(sizes):
        log(f"growth: {done:,} → {size:,} rows (load {load_average()})")
        order = ["hnswlib", "engine"] if ci % 2 == 0 else ["engine", "hnswlib"]
        step: dict[str, Any] = {"n": size, "order": order, "load_before": load_average()}
        for name in order:
            if name == "hnswlib":
                step["hnswlib_step"] = hnswlib_add(hidx, x, done, size, args.threads)
                log(f"  hnswlib add_items {size - done:,}: {step['hnswlib_step']['total_s']:.1f} s "
                    f"({step['hnswlib_step']['cpu_s']:.1f} CPU s)")
            else:
                step["engine_step"] = engine_ingest(client, x, done, size, args.batch)
                es = step["engine_step"]
                log(f"  engine insert {size - done:,} in {args.batch}-row batches: loop {es['loop_s']:.1f} s "
                    f"(insert calls {es['insert_s']:.1f} s), flush {es['flush_s']:.1f} s, {es['cpu_s']:.1f} CPU s; "
                    f"segments before flush {len(es['segments_before_flush'])}, after {len(es['segments'])}")
        for k in e_tot:
            e_tot[k] += step["engine_step"][k]
        for k in h_tot:
            h_tot[k] += step["hnswlib_step"][k]
        step["engine_cum"] = dict(e_tot)
        step["hnswlib_cum"] = dict(h_tot)
        done = size
        ds = Dataset(f"{size:,} × {dim}", x[:size], q, args.seed, filters=False)
        log(f"  sweeps at {size:,}: {args.sweep_reps} reps × {len(args.efs)} ef × {len(q)} queries, interleaved")
        sw = paired_sweeps(fns, ds, args.efs, args.sweep_reps, f"@{size:,}")
        step["sweep"] = sw
        hpath = work / f"hnswlib_{size}.bin"
        hidx.save_index(str(hpath))
        step["disk"] = {"engine": dir_bytes(db), "engine_parts": disk_breakdown(db), "hnswlib": hpath.stat().st_size,
                        "vectors": size * dim * 4}
        keep["hnswlib_path"] = hpath
        if ci < len(sizes) - 1:
            hpath.unlink()
        step["load_after"] = load_average()
        out.append(step)
    return out


# ----------------------------------------------------------------------------- where a search's time goes


def search_layers(client: Any, hidx: Any, q: np.ndarray, ef: int, reps: int = 3) -> dict[str, Any]:
    """p50 of one query at `ef` through each layer, as blocks rotating over `reps` passes (medians)."""
    coll = client._db.get(COLL)
    segs = coll.sealed_segments()
    seg = max(segs, key=lambda s: s.num_rows)
    spec = coll.indexes.spec_for("vec")
    ix = coll.indexes.get(seg, "vec", spec)
    raw = ix._index
    qs = [q[i].reshape(1, -1) for i in range(len(q))]

    def raw_as_engine(i: int) -> Any:  # what HNSWIndex._knn asks: k = ef results with hnswlib's ef_ at 1
        return raw.knn_query(qs[i], k=ef)

    def own_hnswlib(i: int) -> Any:
        if hidx.ef != ef:
            hidx.set_ef(ef)
        return hidx.knn_query(qs[i], k=K, num_threads=1)

    layers: dict[str, Callable[[int], Any]] = {
        "hnswlib knn_query (own index, set_ef, k=10)": own_hnswlib,
        "hnswlib knn_query on the engine's graph (k=ef, ef_=1)": raw_as_engine,
        "HNSWIndex.search": lambda i: ix.search(qs[i], K, None, {"ef": ef}),
        "Database.get + Collection.sync (per call)": lambda i: client._db.get(COLL),
        "MilvusClient.search": lambda i: client.search(COLL, data=[q[i]], anns_field="vec", limit=K,
                                                       search_params={"metric_type": "COSINE",
                                                                      "params": {"ef": ef}}),
    }
    p50s: dict[str, list[float]] = {k: [] for k in layers}
    names = list(layers)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            times, _ = timed_calls(layers[name], len(qs))
            p50s[name].append(LatencyStats.of(times).p50_ms)
    prof = profile_summary(lambda: [layers["MilvusClient.search"](i) for i in range(len(qs))],
                           f"engine: {len(qs)} single-query `MilvusClient.search` calls at ef={ef}", top=15)
    return {"ef": ef, "segments": len(segs), "p50_ms": {k: median(v) for k, v in p50s.items()}, "profile": prof}


# ----------------------------------------------------------------------------- write while searching


def write_while_searching(client: Any, hidx: Any, db: Path, gen: Any, q: np.ndarray, ef: int, first_id: int,
                          work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Searches here, quiet and then while another process inserts `args.write_rows` rows in batches (seals and
    a background merge into the big segment), then flushes. Each search is tagged with what ran meanwhile.

    A control: every engine search is followed by one hnswlib `knn_query` (this process's own index, same ef),
    tagged alike; if it slows down as much, the cause is CPU contention, not the engine."""
    coll = client._db.get(COLL)
    hidx.set_ef(ef)
    xs = gen.sample(args.write_rows, seed=args.seed + 9)
    vfile = work / "write_rows.npy"
    np.save(vfile, xs)

    def one(i: int) -> None:
        client.search(COLL, data=[q[i % len(q)]], anns_field="vec", limit=K,
                      search_params={"metric_type": "COSINE", "params": {"ef": ef}})

    samples: list[tuple[float, float, bool]] = []  # (wall time at start, seconds, maintenance running)
    control: list[tuple[float, float, bool]] = []  # the same for hnswlib's knn_query right after

    def timed(i: int) -> None:
        maint = coll.maintenance_running()
        t = time.time()
        t0 = time.perf_counter()
        one(i)
        t1 = time.perf_counter()
        hidx.knn_query(q[i % len(q)].reshape(1, -1), k=K, num_threads=1)
        t2 = time.perf_counter()
        samples.append((t, t1 - t0, maint))
        control.append((t, t2 - t1, maint))

    for i in range(20):
        one(i)
    quiet_n = max(len(q), 400)
    for i in range(quiet_n):
        timed(i)
    quiet, quiet_c = samples[:], control[:]
    samples.clear()
    control.clear()
    log(f"write while searching: writer inserts {args.write_rows:,} rows in {args.batch}-row batches, then flushes")
    cmd = [sys.executable, str(SCRIPT), "--child-writer", str(db), str(vfile), str(first_id), str(args.batch)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env)
    events: list[dict[str, Any]] = []

    def reader() -> None:
        assert p.stdout is not None
        for line in p.stdout:
            if line.startswith("EVENT "):
                events.append(json.loads(line[6:]))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    i = 0
    t_end = time.time() + args.write_timeout
    while p.poll() is None and time.time() < t_end:
        timed(i)
        i += 1
    if p.poll() is None:
        p.kill()
    _, err = p.communicate()
    th.join(10)
    busy, busy_c = samples[:], control[:]
    samples.clear()
    control.clear()
    for j in range(quiet_n):  # after: the new segment's graph loaded by the first search that needs it
        timed(j)
    after, after_c = samples[:], control[:]
    if not any(e["ev"] == "flushed" for e in events):
        raise RuntimeError(f"writer did not finish (rc {p.returncode}): {err[-1000:]}")
    t_start = next(e["t"] for e in events if e["ev"] == "start")
    t_ins = next(e["t"] for e in events if e["ev"] == "inserted")

    def stats(xs: list[tuple[float, float, bool]]) -> dict[str, Any]:
        if not xs:
            return {"n": 0}
        s = LatencyStats.of([d for _, d, _ in xs])
        return {"n": s.n, "p50_ms": s.p50_ms, "p95_ms": s.p95_ms, "max_ms": 1000 * max(d for _, d, _ in xs)}

    def phases_of(quiet: list[Any], busy: list[Any], after: list[Any]) -> dict[str, Any]:
        return {
            "quiet (before)": stats(quiet),
            "whole write (insert + flush)": stats([s for s in busy if s[0] >= t_start]),
            "while inserting, no merge running": stats([s for s in busy if t_start <= s[0] < t_ins and not s[2]]),
            "while a merge runs (MAINT.lock held)": stats([s for s in busy if s[2]]),
            "after the writer flushed": stats(after),
        }

    phases = phases_of(quiet, busy, after)
    phases_c = phases_of(quiet_c, busy_c, after_c)
    batches = [e["dur"] for e in events if e["ev"] == "batch"]
    flushed = next(e for e in events if e["ev"] == "flushed")
    slow = [d for _, d, _ in busy + after if d > 10 * phases["quiet (before)"]["p50_ms"] / 1000]
    return {"rows": args.write_rows, "batch": args.batch, "ef": ef, "phases": phases, "control": phases_c,
            "writer_insert_s": t_ins - t_start, "writer_flush_s": flushed["dur"],
            "writer_batch_p50_ms": 1000 * median(batches), "writer_batch_max_ms": 1000 * max(batches),
            "segments_after": flushed["segments"], "searches_over_10x_quiet_p50": len(slow),
            "slowest_ms": 1000 * max(slow) if slow else None, "load": load_average()}


# ----------------------------------------------------------------------------- Milvus Lite


def milvus_lite_run(x: np.ndarray, q: np.ndarray, truth: np.ndarray, work: Path, args: argparse.Namespace,
                    others: dict[str, Callable[[np.ndarray, int], list[int]]]) -> dict[str, Any]:
    """Milvus Lite with its default settings on the same rows (1,000-row batches, flush, wait for its index),
    then an ef sweep interleaved with the engine and hnswlib; skipped when the projected time exceeds the budget."""
    from pymilvus import DataType, MilvusClient

    from bench.engine_milvus_lite import milvus_lite_internals

    n, dim = len(x), int(x.shape[1])
    path = work / "milvus_lite.db"
    res: dict[str, Any] = {"n": n, "path": str(path)}
    client = MilvusClient(str(path))
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    client.create_collection(COLL, schema=s, index_params=ip)
    t_all = time.perf_counter()
    c0 = cpu_seconds()
    insert_s = 0.0
    for s0 in range(0, n, args.batch):
        rows = [{"id": i, "vec": x[i]} for i in range(s0, min(n, s0 + args.batch))]
        t0 = time.perf_counter()
        client.insert(COLL, rows)
        insert_s += time.perf_counter() - t0
        if s0 == 20 * args.batch:
            projected = (time.perf_counter() - t_all) / (s0 + args.batch) * n
            res["projected_insert_s"] = projected
            if projected > args.milvus_lite_budget:
                client.close()
                res["skipped"] = (f"inserting {n:,} rows would take about {projected / 60:.0f} min "
                                  f"(rate of the first {s0 + args.batch:,} rows), over the budget of "
                                  f"{args.milvus_lite_budget / 60:.0f} min (--milvus-lite-budget)")
                return res
    with Stopwatch() as sw_flush:
        client.flush(COLL)
    base = path / "collections" / COLL / "partitions"
    t_end = time.perf_counter() + args.milvus_lite_budget
    indexed = False
    while time.perf_counter() < t_end:
        data = {p.stem for p in base.rglob("*.parquet")}
        if data and data <= {p.name.split(".", 1)[0] for p in base.rglob("*.idx")}:
            indexed = True
            break
        time.sleep(0.05)
    res.update(insert_s=insert_s, flush_s=sw_flush.seconds, total_s=time.perf_counter() - t_all,
               cpu_s=cpu_seconds() - c0, indexed=indexed)
    time.sleep(1.0)  # the index file is written just before it is attached
    res["internals"] = milvus_lite_internals(path, COLL)
    log(f"Milvus Lite: insert {insert_s:.1f} s, flush {sw_flush.seconds:.1f} s, indexed after "
        f"{res['total_s']:.1f} s in all ({res['internals'].get('segments')}), indexed={indexed}")

    def ml(qv: np.ndarray, ef: int) -> list[int]:
        r = client.search(COLL, data=[qv.tolist()], anns_field="vec", limit=K,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    ds = Dataset.__new__(Dataset)
    ds.name, ds.x, ds.q, ds.truth = f"{n:,}", x, q[: args.milvus_lite_queries], truth[: args.milvus_lite_queries]
    sw = paired_sweeps({**others, "Milvus Lite": ml}, ds, args.milvus_lite_efs, 1, " (3-way)")
    res["sweep3"] = sw
    client.close()
    try:
        from milvus_lite.server_manager import server_manager_instance as sm

        sm.release_server(str(path))
    except Exception as exc:  # pragma: no cover - best effort
        res["release_error"] = str(exc)
    c0 = cpu_seconds()
    time.sleep(2.0)
    res["cpu_s_idle_2s_after_release"] = cpu_seconds() - c0  # threads Milvus Lite may leave running
    res["disk"] = dir_bytes(path)
    return res


# ----------------------------------------------------------------------------- RSS data set


def rss_dataset(gen: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The RSS data set (100k × 512 by default): engine default ingestion and one hnswlib build, both saved."""
    import hnswlib

    n, dim = args.rss_n, args.rss_dim
    x = gen.sample(n + 50, seed=args.seed + 21)
    q, x = x[:50], x[50:]
    db = work / "engine_rss.db"
    client = engine_create(db, dim, args)
    res: dict[str, Any] = {"n": n, "dim": dim, "load_before": load_average()}
    hidx = hnswlib.Index(space="ip", dim=dim)
    hidx.init_index(max_elements=n, M=args.M, ef_construction=args.ef_construction)
    res["hnswlib_build"] = hnswlib_add(hidx, x, 0, n, args.threads)
    log(f"RSS set {n:,} × {dim}: hnswlib build {res['hnswlib_build']['total_s']:.1f} s")
    res["engine_ingest"] = engine_ingest(client, x, 0, n, args.batch)
    log(f"RSS set: engine insert + flush {res['engine_ingest']['total_s']:.1f} s, "
        f"{len(res['engine_ingest']['segments'])} segment(s)")
    found = [search_fns(client, hidx)["engine"](q[i], 64) for i in range(len(q))]
    res["engine_recall_ef64_vs_hnswlib"] = recall_at_k(
        found, np.array([hidx.knn_query(q[i:i + 1], k=K)[0][0] for i in range(len(q))]))
    client.close()
    hpath = work / "hnswlib_rss.bin"
    hidx.save_index(str(hpath))
    del hidx
    res["disk"] = {"engine": dir_bytes(db), "engine_parts": disk_breakdown(db), "hnswlib": hpath.stat().st_size,
                   "vectors": n * dim * 4}
    res["paths"] = {"engine": str(db), "hnswlib": str(hpath)}
    res["queries"] = q
    return res


def unlink_tree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)


__all__ = ["TARGET", "headline", "load_average", "run_growth", "search_layers", "write_while_searching",
           "milvus_lite_run", "rss_dataset", "unlink_tree"]
