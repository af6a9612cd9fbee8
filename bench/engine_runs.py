"""Engine benchmark runs: numpy, raw hnswlib and the engine on the same data, build repeats, MAX_SIM,
the Gaussian case and the large run. Each returns a plain dict of measurements."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    EmbeddingGenerator,
    EmbeddingModel,
    LatencyStats,
    Stopwatch,
    dir_bytes,
    gaussian_unit,
    maxsim_corpus,
    maxsim_exact_scores,
    maxsim_queries,
    median,
    recall_at_k,
    timed_calls,
    top_ids,
)
from bench.engine_dataset import (
    COLL,
    FILTERS,
    MS_COLL,
    Dataset,
    K,
    headline,
    log,
    rows_of,
    run_filtered,
    run_sweep,
)
from bench.engine_profiles import profile_summary


def bench_numpy(ds: Dataset, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    x = ds.x

    def search(q: np.ndarray, ef: int) -> list[int]:
        return top_ids(x @ q, K).tolist()

    def fsearch(q: np.ndarray, ef: int, expr: str, mask_unused: np.ndarray) -> list[int]:
        # evaluate the filter on the columns, then score: gather the matching rows when few match,
        # otherwise score every row and mask (cheaper than copying half the matrix)
        fn = next(f for _, e, f in FILTERS if e == expr)
        mask = fn(ds.label, ds.bucket)
        rows = np.flatnonzero(mask)
        if len(rows) * 20 < len(x):
            return rows[top_ids(x[rows] @ q, K)].tolist()
        sc = np.where(mask, x @ q, -np.inf)
        return top_ids(sc, K).tolist()

    res: dict[str, Any] = {"name": "numpy brute force"}
    res["sweep"] = run_sweep(search, ds, (0,), "numpy")
    res["filtered"] = run_filtered(fsearch, ds, 0, "numpy", reps=args.sweep_reps)
    path = work / "numpy_vectors.npy"
    np.save(path, x)
    res["disk_bytes"] = path.stat().st_size
    res["path"] = path
    return res


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (less sensitive to noisy neighbours than wall time)."""
    t = os.times()
    return t.user + t.system


def hnswlib_build(x: np.ndarray, m: int, efc: int, threads: int) -> tuple[Any, float, float]:
    import hnswlib

    c0 = cpu_seconds()
    with Stopwatch() as sw:
        ix = hnswlib.Index(space="ip", dim=int(x.shape[1]))
        ix.init_index(max_elements=len(x), M=m, ef_construction=efc)
        ix.add_items(x, np.arange(len(x)), num_threads=threads)
    return ix, sw.seconds, cpu_seconds() - c0


def bench_hnswlib(ds: Dataset, work: Path, args: argparse.Namespace, tag: str = "") -> dict[str, Any]:
    log(f"hnswlib{tag}: building (M={args.M}, efConstruction={args.ef_construction}, threads={args.threads})")
    ix, build_s, build_cpu = hnswlib_build(ds.x, args.M, args.ef_construction, args.threads)
    log(f"hnswlib{tag}: built in {build_s:.1f} s ({build_cpu:.1f} CPU s)")

    def search(q: np.ndarray, ef: int) -> list[int]:
        if ix.ef != ef:
            ix.set_ef(ef)
        labels, _ = ix.knn_query(q.reshape(1, -1), k=K, num_threads=1)
        return labels[0].tolist()

    res: dict[str, Any] = {"name": "hnswlib", "build_s": build_s, "build_cpu_s": build_cpu, "search_fn": search}
    path = work / f"hnswlib{tag}.bin"
    ix.save_index(str(path))
    res["disk_bytes"] = path.stat().st_size
    res["path"] = path
    res["index"] = ix
    return res


def engine_schema(dim: int, filters: bool = True) -> tuple[Any, Any]:
    from engine import DataType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    if filters:
        s.add_field("label", DataType.INT64)
        s.add_field("bucket", DataType.INT64)
    return s, DataType


def engine_ingest(client: Any, ds: Dataset, args: argparse.Namespace, name: str = COLL, filters: bool = True,
                  n: int | None = None) -> dict[str, float]:
    """Create the collection (HNSW index), insert, seal and index; returns timings."""
    from engine import MilvusClient

    n = ds.n if n is None else n
    schema, _ = engine_schema(ds.dim, filters)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    # One sealed segment of n rows, sealed by flush (not by the last insert): see the report. The public
    # storage settings (docs/storage.md) keep every row in the growing segment until then.
    client.create_collection(name, schema=schema, index_params=ip,
                             properties={"engine.seal_rows": n + 1, "engine.seal_bytes": 1 << 50})
    coll = client._db.get(name)
    insert_s = 0.0
    for s in range(0, n, args.batch):
        rows = rows_of(ds, s, min(n, s + args.batch), filters)
        t0 = time.perf_counter()
        client.insert(name, rows)
        insert_s += time.perf_counter() - t0
    with Stopwatch() as sw_seal:
        coll.seal()
    c0 = cpu_seconds()
    with Stopwatch() as sw_index:
        client.flush(name)
    return {"insert_s": insert_s, "insert_rows_s": n / insert_s, "seal_s": sw_seal.seconds,
            "index_s": sw_index.seconds, "index_cpu_s": cpu_seconds() - c0,
            "seal_index_s": sw_seal.seconds + sw_index.seconds}


def bench_engine(ds: Dataset, work: Path, args: argparse.Namespace, tag: str = "",
                 filters: bool = True) -> dict[str, Any]:
    from engine import MilvusClient

    path = work / f"engine{tag}.db"
    client = MilvusClient(str(path))
    res: dict[str, Any] = {"name": "engine", "path": path}
    log(f"engine{tag}: inserting {ds.n:,} rows in batches of {args.batch}")
    res.update(engine_ingest(client, ds, args, filters=filters))
    log(f"engine{tag}: insert {res['insert_s']:.1f} s, seal {res['seal_s']:.1f} s, index {res['index_s']:.1f} s")
    res["describe_index"] = client.describe_index(COLL, "vec")
    segs = client.list_persistent_segments(COLL)
    res["segments"] = [(s.state, s.num_rows, dict(s.index_states)) for s in segs]

    def search(q: np.ndarray, ef: int) -> list[int]:
        r = client.search(COLL, data=[q], anns_field="vec", limit=K,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    def fsearch(q: np.ndarray, ef: int, expr: str, mask: np.ndarray) -> list[int]:
        r = client.search(COLL, data=[q], anns_field="vec", limit=K, filter=expr,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    res["search_fn"] = search
    res["fsearch_fn"] = fsearch
    res["client"] = client
    return res


def engine_after_sweep(E: dict[str, Any], ds: Dataset, args: argparse.Namespace, filters: bool, tag: str) -> None:
    """Filtered searches and the search profile, at the engine's headline ef."""
    h = headline(E["sweep"])
    ef = h["ef"] if h else args.efs[-1]
    if filters:
        E["filtered"] = run_filtered(E["fsearch_fn"], ds, ef, f"engine{tag}", reps=args.sweep_reps)
    search = E["search_fn"]
    E["profile_search"] = profile_summary(
        lambda: [search(ds.q[i], ef) for i in range(len(ds.q))],
        f"engine: {len(ds.q)} single-query searches at ef={ef} ({ds.name})")
    E["memory_usage"] = E["client"].memory_usage(COLL)
    try:
        E["layers"] = latency_layers(E, ds, ef)
    except Exception as exc:  # diagnostics only; private engine objects may change
        E["layers"] = {"error": f"{type(exc).__name__}: {exc}"}
    if filters:
        try:
            E["filter_whatif"] = filter_whatif(E, ds, ef)
        except Exception as exc:
            E["filter_whatif"] = {"error": f"{type(exc).__name__}: {exc}"}


def latency_layers(E: dict[str, Any], ds: Dataset, ef: int, reps: int = 3) -> dict[str, Any]:
    """Where a search's time goes: hnswlib on the engine's own graph, `HNSWIndex.search`, `client.search`.

    Each layer runs the queries as a block (so no layer reuses the cache state of the same query in another
    layer), blocks rotating over `reps` passes; medians over the passes of each block's p50."""
    client = E["client"]
    coll = client._db.get(COLL)
    seg = coll.sealed_segments()[0]
    ix = coll.indexes.get(seg, "vec", coll.indexes.spec_for("vec"))
    raw = ix._index
    qs = [ds.q[i].reshape(1, -1) for i in range(len(ds.q))]

    def raw_fn(i: int) -> Any:
        if raw.ef != ef:
            raw.set_ef(ef)
        return raw.knn_query(qs[i], k=K, num_threads=1)

    layers: dict[str, Callable[[int], Any]] = {
        "raw": raw_fn,
        "index": lambda i: ix.search(qs[i], K, None, {"ef": ef}),
        "client": lambda i: E["search_fn"](ds.q[i], ef),
    }
    p50s: dict[str, list[float]] = {k: [] for k in layers}
    names = list(layers)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            times, _ = timed_calls(layers[name], len(qs))
            p50s[name].append(LatencyStats.of(times).p50_ms)
    return {"ef": ef, **{f"{k}_p50_ms": median(v) for k, v in p50s.items()}}


def filter_whatif(E: dict[str, Any], ds: Dataset, ef: int) -> dict[str, Any]:
    """Diagnostic: the same filtered searches with the engine's exact-scan shortcut switched off
    (engine.index.hnsw.EXACT_COST_RATIO = 0 in this process only), to price its cost model."""
    import engine.index.hnsw as hnsw_mod

    out: dict[str, Any] = {}
    saved = hnsw_mod.EXACT_COST_RATIO
    try:
        hnsw_mod.EXACT_COST_RATIO = 0.0
        for fname, expr, _ in FILTERS:
            if ds.fsel[fname] * ds.n <= hnsw_mod.EXACT_MAX_ROWS:
                continue  # below the fixed floor the exact scan stays on
            times, found = timed_calls(lambda i, expr=expr: E["fsearch_fn"](ds.q[i], ef, expr, None), len(ds.q), 3)
            st = LatencyStats.of(times)
            out[fname] = {"recall": recall_at_k(found, ds.ftruth[fname]), "p50_ms": st.p50_ms, "p95_ms": st.p95_ms}
    finally:
        hnsw_mod.EXACT_COST_RATIO = saved
    return out


def paired_sweeps(fns: dict[str, Callable[[np.ndarray, int], list[int]]], ds: Dataset, efs: tuple[int, ...],
                  reps: int, tag: str = "") -> dict[str, list[dict[str, Any]]]:
    """Sweep ef for several systems, interleaved query by query (the order alternating), so that the
    machine's noise hits them alike; `reps` passes; per point the median over passes of p50, p95 and QPS."""
    names = list(fns)
    raw: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for rep in range(max(1, reps)):
        for ef in efs:
            times: dict[str, list[float]] = {n: [] for n in names}
            found: dict[str, list[list[int]]] = {n: [] for n in names}
            for name in names:  # warm-up at this ef
                for i in range(min(5, len(ds.q))):
                    fns[name](ds.q[i], ef)
            for i in range(len(ds.q)):
                order = names if (i + rep) % 2 == 0 else names[::-1]
                for name in order:
                    t0 = time.perf_counter()
                    r = fns[name](ds.q[i], ef)
                    times[name].append(time.perf_counter() - t0)
                    found[name].append(r)
            for name in names:
                st = LatencyStats.of(times[name])
                raw.setdefault((name, ef), []).append({"recall": recall_at_k(found[name], ds.truth),
                                                       "p50_ms": st.p50_ms, "p95_ms": st.p95_ms, "qps": st.qps})
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for (name, ef), pts in raw.items():
        out[name].append({"ef": ef, "recall": median(p["recall"] for p in pts),
                          "p50_ms": median(p["p50_ms"] for p in pts), "p95_ms": median(p["p95_ms"] for p in pts),
                          "qps": median(p["qps"] for p in pts), "reps": len(pts),
                          "p50_ms_reps": [p["p50_ms"] for p in pts]})
    for name in names:
        out[name].sort(key=lambda p: p["ef"])
        for p in out[name]:
            log(f"  {name}{tag} ef={p['ef']}: recall {p['recall']:.3f} p50 {p['p50_ms']:.2f} ms "
                f"p95 {p['p95_ms']:.2f} ms (median of {p['reps']})")
    return out


def run_pair(ds: Dataset, work: Path, args: argparse.Namespace, tag: str = "",
             filters: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """hnswlib and the engine on the same data: builds, then interleaved ef sweeps, then engine-only extras.

    The engine's client stays open (E["client"]); call `engine_finish(E)` when done with it.
    """
    H = bench_hnswlib(ds, work, args, tag=tag)
    E = bench_engine(ds, work, args, tag=tag, filters=filters)
    log(f"paired ef sweeps{tag}: {args.sweep_reps} reps × {len(args.efs)} ef values × {len(ds.q)} queries")
    sw = paired_sweeps({"hnswlib": H["search_fn"], "engine": E["search_fn"]}, ds, args.efs, args.sweep_reps, tag)
    H["sweep"], E["sweep"] = sw["hnswlib"], sw["engine"]
    H.pop("index", None)
    H.pop("search_fn", None)
    engine_after_sweep(E, ds, args, filters, tag)
    return H, E


def engine_finish(res: dict[str, Any]) -> None:
    """Close the engine's client (the database lock is per process) and measure its directory."""
    client = res.pop("client", None)
    if client is not None:
        client.close()
    res["disk_bytes"] = dir_bytes(res["path"])


# ---------------------------------------------------------------------------- build ratio reps


def build_ratio_reps(ds: Dataset, work: Path, args: argparse.Namespace) -> list[dict[str, float]]:
    """Alternating engine / hnswlib index builds on the same subset (the machine is noisy)."""
    from engine import MilvusClient

    n = min(ds.n, args.build_rep_n)
    out = []
    for r in range(args.build_reps):
        path = work / f"engine_rep{r}.db"

        def engine_run(path: Path = path) -> dict[str, float]:
            client = MilvusClient(str(path))
            t = engine_ingest(client, ds, args, filters=False, n=n)
            client.close()
            shutil.rmtree(path, ignore_errors=True)
            return t

        if r % 2 == 0:  # alternate which one goes first
            _, hs, hcpu = hnswlib_build(ds.x[:n], args.M, args.ef_construction, args.threads)
            t = engine_run()
        else:
            t = engine_run()
            _, hs, hcpu = hnswlib_build(ds.x[:n], args.M, args.ef_construction, args.threads)
        out.append({"n": n, "hnswlib_s": hs, "engine_index_s": t["index_s"], "ratio": t["index_s"] / hs,
                    "hnswlib_cpu_s": hcpu, "engine_index_cpu_s": t["index_cpu_s"],
                    "cpu_ratio": t["index_cpu_s"] / hcpu if hcpu > 0 else float("nan")})
        log(f"  build rep {r}: hnswlib {hs:.1f} s ({hcpu:.1f} CPU s), engine index {t['index_s']:.1f} s "
            f"({t['index_cpu_s']:.1f} CPU s): {t['index_s'] / hs:.2f}x")
    return out


def profile_engine_build(ds: Dataset, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from engine import MilvusClient

    n = min(ds.n, args.build_rep_n)
    path = work / "engine_prof.db"
    client = MilvusClient(str(path))
    holder: dict[str, Any] = {}
    schema, _ = engine_schema(ds.dim, False)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    client.create_collection(COLL, schema=schema, index_params=ip,
                             properties={"engine.seal_rows": n + 1, "engine.seal_bytes": 1 << 50})
    for s in range(0, n, args.batch):
        client.insert(COLL, rows_of(ds, s, min(n, s + args.batch), False))
    p = profile_summary(lambda: holder.update(r=client.flush(COLL)),
                        f"engine: flush (seal + HNSW build) of {n:,} × {ds.dim} rows")
    client.close()
    shutil.rmtree(path, ignore_errors=True)
    return p


def profile_engine_insert(ds: Dataset, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from engine import MilvusClient

    n = min(ds.n, 20000)
    path = work / "engine_prof_ins.db"
    client = MilvusClient(str(path))
    schema, _ = engine_schema(ds.dim, True)
    client.create_collection(COLL, schema=schema,
                             properties={"engine.seal_rows": n + 1, "engine.seal_bytes": 1 << 50})
    batches = [rows_of(ds, s, min(n, s + args.batch)) for s in range(0, n, args.batch)]
    p = profile_summary(lambda: [client.insert(COLL, b) for b in batches],
                        f"engine: insert of {n:,} rows in batches of {args.batch}")
    client.close()
    shutil.rmtree(path, ignore_errors=True)
    return p


# ---------------------------------------------------------------------------- MAX_SIM


def bench_maxsim(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from engine import DataType, EmbeddingList, MilvusClient

    gen = EmbeddingGenerator(args.maxsim_dim, EmbeddingModel(), seed=args.seed + 100)
    ne, per = args.maxsim_entities, args.maxsim_per_entity
    elements, offsets, doc = maxsim_corpus(gen, ne, per, seed=args.seed + 101)
    queries = maxsim_queries(gen, doc, args.maxsim_queries, args.maxsim_m[0], args.maxsim_m[1], seed=args.seed + 102)
    res: dict[str, Any] = {"entities": ne, "per_entity": per, "elements": len(elements), "dim": args.maxsim_dim,
                           "nq": len(queries), "m": tuple(args.maxsim_m)}
    # exact numpy scan (the oracle and the baseline)
    times, truth = timed_calls(lambda i: top_ids(maxsim_exact_scores(queries[i], elements, offsets), K),
                               len(queries), warmup=3)
    res["numpy"] = LatencyStats.of(times).__dict__
    truth_arr = np.array([t.tolist() for t in truth])
    log(f"MAX_SIM numpy exact: p50 {res['numpy']['p50_ms']:.2f} ms")

    path = work / "engine_maxsim.db"
    client = MilvusClient(str(path))
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=args.maxsim_dim)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=64)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("chunks[emb]", index_type="HNSW", metric_type="MAX_SIM_COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    client.create_collection(MS_COLL, schema=s, index_params=ip,
                             properties={"engine.seal_rows": ne + 1, "engine.seal_bytes": 1 << 50})
    batch = max(1, args.batch // per)
    insert_s = 0.0
    for s0 in range(0, ne, batch):
        rows = [{"id": i, "chunks": [{"emb": elements[j]} for j in range(offsets[i], offsets[i + 1])]}
                for i in range(s0, min(ne, s0 + batch))]
        t0 = time.perf_counter()
        client.insert(MS_COLL, rows)
        insert_s += time.perf_counter() - t0
    with Stopwatch() as sw:
        client.flush(MS_COLL)
    res.update(insert_s=insert_s, flush_s=sw.seconds)
    log(f"MAX_SIM engine: insert {insert_s:.1f} s, flush (seal + index of {len(elements):,} elements) {sw.seconds:.1f} s")
    elists = [EmbeddingList(q) for q in queries]

    def search(i: int, ef: int) -> list[int]:
        r = client.search(MS_COLL, data=[elists[i]], anns_field="chunks[emb]", limit=K,
                          search_params={"metric_type": "MAX_SIM_COSINE",
                                         "params": {"ef": ef, "retrieval_ann_ratio": args.maxsim_ratio}})
        return [h["id"] for h in r[0]]

    sweep = []
    for ef in args.maxsim_efs:
        times, found = timed_calls(lambda i, ef=ef: search(i, ef), len(queries), warmup=3)
        stt = LatencyStats.of(times)
        rec = recall_at_k(found, truth_arr)
        sweep.append({"ef": ef, "recall": rec, "p50_ms": stt.p50_ms, "p95_ms": stt.p95_ms, "qps": stt.qps,
                      "hits": float(np.mean([len(f) for f in found]))})
        log(f"  MAX_SIM engine ef={ef}: recall {rec:.3f} p50 {stt.p50_ms:.2f} ms")
    res["sweep"] = sweep
    h = headline(sweep)
    ef = h["ef"] if h else args.maxsim_efs[-1]
    res["profile"] = profile_summary(lambda: [search(i, ef) for i in range(len(queries))],
                                     f"engine: {len(queries)} MAX_SIM searches at ef={ef}")
    client.close()
    res["disk_bytes"] = dir_bytes(path)
    return res


# ---------------------------------------------------------------------------- pathological Gaussian case


def _unfiltered_pair(ds: Dataset, work: Path, args: argparse.Namespace, tag: str, res: dict[str, Any]
                     ) -> dict[str, Any]:
    """hnswlib and the engine on `ds` without filters, into `res` (the engine's database removed after)."""
    h, e = run_pair(ds, work, args, tag=tag, filters=False)
    e.pop("profile_search", None)
    res["hnswlib"] = h
    engine_finish(e)
    shutil.rmtree(e["path"], ignore_errors=True)
    res["engine"] = e
    return res


def bench_gaussian(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    n, dim = args.gauss_n, args.gauss_dim
    x = gaussian_unit(n + args.queries, dim, seed=args.seed + 200)
    ds = Dataset(f"{n:,} × {dim} independent Gaussian", x[args.queries:], x[: args.queries], args.seed, filters=False)
    res: dict[str, Any] = {"n": n, "dim": dim}
    return _unfiltered_pair(ds, work, args, "_gauss", res)


def bench_large(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    n, dim = args.large_n, args.large_dim
    log(f"large run: {n:,} × {dim}")
    gen = EmbeddingGenerator(dim, EmbeddingModel(), seed=args.seed + 300)
    x = gen.sample(n + args.queries, seed=args.seed + 301)
    ds = Dataset(f"{n:,} × {dim} embedding-like", x[args.queries:], x[: args.queries], args.seed, filters=False)
    res: dict[str, Any] = {"n": n, "dim": dim}
    nres = bench_numpy_plain(ds)
    res["numpy"] = nres
    return _unfiltered_pair(ds, work, args, "_large", res)


def bench_numpy_plain(ds: Dataset) -> dict[str, Any]:
    x = ds.x
    return {"sweep": run_sweep(lambda q, ef: top_ids(x @ q, K).tolist(), ds, (0,), "numpy")}
