"""Engine benchmark: Milvus Lite on the same data, and what it really builds (read from its in-process objects)."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Stopwatch, dir_bytes, exact_topk, recall_at_k
from bench.engine_dataset import COLL, FILTERS, Dataset, K, headline, log, rows_of, run_filtered, run_sweep


def milvus_lite_indexed(db: Path, timeout: float) -> tuple[bool, int]:
    """Wait until every data file of the collection has its index sidecar (built in the background)."""
    base = db / "collections" / COLL / "partitions"
    t_end = time.perf_counter() + timeout
    while True:
        data = {p.stem for p in base.rglob("*.parquet")}
        idx = {p.name.split(".", 1)[0] for p in base.rglob("*.idx")}
        if data and data <= idx:
            return True, len(data)
        if time.perf_counter() > t_end:
            return False, len(data)
        time.sleep(0.02)


def milvus_lite_internals(db: Path, name: str = COLL) -> dict[str, Any]:
    """What Milvus Lite really built: its in-process server's segments and their FAISS indexes."""
    out: dict[str, Any] = {}
    try:
        from milvus_lite.server_manager import server_manager_instance as sm

        entry = sm._servers.get(os.path.abspath(str(db)))
        if entry is None:
            return {"error": "no in-process server found"}
        lite = entry[1]
        coll = lite.get_collection(name)
        spec = coll._index_specs.get("vec")
        out["build_params"] = dict(spec.build_params) if spec is not None else None
        segs = list(coll._segment_cache.values())
        out["segments"] = [int(s.num_rows) for s in segs]
        kinds = []
        for s in segs:
            ix = s.indexes.get("vec")
            if ix is None:
                kinds.append("none (brute force)")
                continue
            raw = getattr(ix, "_index", None)
            desc = f"{type(ix).__name__}"
            if raw is not None:
                desc += f" → faiss.{type(raw).__name__}"
                hnsw = getattr(raw, "hnsw", None)
                if hnsw is not None:
                    out["efConstruction"] = int(hnsw.efConstruction)
                    out["M"] = int(hnsw.nb_neighbors(1))
                    desc += (f" (efConstruction={hnsw.efConstruction}, layer-0 degree={hnsw.nb_neighbors(0)}, "
                             f"upper-layer degree={hnsw.nb_neighbors(1)})")
            kinds.append(desc)
        out["indexes"] = kinds
        try:
            import faiss

            out["faiss_threads"] = faiss.omp_get_max_threads()
        except Exception as exc:  # pragma: no cover
            out["faiss_threads"] = f"unknown ({exc})"
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def bench_milvus_lite(ds: Dataset, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    # One segment, like the engine here: keep every row in the memtable until flush() (set before
    # milvus_lite is imported; it reads these once). Without it the memtable flushes at 128 MiB.
    os.environ.setdefault("MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES", str(8 << 30))
    os.environ.setdefault("MILVUS_LITE_WAL_SIZE_LIMIT_BYTES", str(8 << 30))
    from pymilvus import DataType, MilvusClient

    path = work / "milvus_lite.db"
    res: dict[str, Any] = {"name": "Milvus Lite", "path": path}
    n = min(ds.n, args.milvus_lite_n) if args.milvus_lite_n else ds.n
    res["n"] = n
    client = MilvusClient(str(path))
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=ds.dim)
    s.add_field("label", DataType.INT64)
    s.add_field("bucket", DataType.INT64)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                 params={"M": args.M, "efConstruction": args.ef_construction})
    client.create_collection(COLL, schema=s, index_params=ip)
    log(f"Milvus Lite: inserting {n:,} rows in batches of {args.batch}")
    insert_s = 0.0
    for s0 in range(0, n, args.batch):
        rows = rows_of(ds, s0, min(n, s0 + args.batch))
        t0 = time.perf_counter()
        client.insert(COLL, rows)
        insert_s += time.perf_counter() - t0
    res.update(insert_s=insert_s, insert_rows_s=n / insert_s)
    with Stopwatch() as sw_flush:
        client.flush(COLL)
    ok, nfiles = milvus_lite_indexed(path, timeout=args.milvus_lite_index_timeout)
    res["flush_s"] = sw_flush.seconds
    res["seal_index_s"] = time.perf_counter() - sw_flush.t0
    res["indexed"] = ok
    res["data_files"] = nfiles
    log(f"Milvus Lite: insert {insert_s:.1f} s, flush returned after {sw_flush.seconds:.1f} s, "
        f"indexed after {res['seal_index_s']:.1f} s ({nfiles} segments, indexed={ok})")
    res["describe_index"] = client.describe_index(COLL, "vec")
    # the sidecar file is written just before the index is attached to the segment: wait for the attach
    t_end = time.perf_counter() + 60
    while True:
        res["internals"] = milvus_lite_internals(path)
        kinds = res["internals"].get("indexes") or []
        if "error" in res["internals"] or (kinds and not any(k.startswith("none") for k in kinds)) or \
                time.perf_counter() > t_end:
            break
        time.sleep(0.05)

    def search(q: np.ndarray, ef: int) -> list[int]:
        r = client.search(COLL, data=[q.tolist()], anns_field="vec", limit=K,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    def fsearch(q: np.ndarray, ef: int, expr: str, mask: np.ndarray) -> list[int]:
        r = client.search(COLL, data=[q.tolist()], anns_field="vec", limit=K, filter=expr,
                          search_params={"metric_type": "COSINE", "params": {"ef": ef}})
        return [h["id"] for h in r[0]]

    sub = ds if n == ds.n else subset_dataset(ds, n)
    res["dataset"] = sub
    res["sweep"] = run_sweep(search, sub, args.milvus_lite_efs, "Milvus Lite", nq=args.milvus_lite_queries)
    h = headline(res["sweep"])
    ef = h["ef"] if h else args.milvus_lite_efs[-1]
    res["filtered"] = run_filtered(fsearch, sub, ef, "Milvus Lite", nq=args.milvus_lite_queries)
    # Do HNSW build parameters change anything? Build a second, tiny-graph collection and compare recall.
    res["param_probe"] = milvus_lite_param_probe(client, ds, args)
    res["maxsim"] = milvus_lite_maxsim_probe(client)
    client.close()
    with contextlib.suppress(Exception):
        from milvus_lite.server_manager import server_manager_instance as sm

        sm.release_server(str(path))
    res["disk_bytes"] = dir_bytes(path)
    return res


def subset_dataset(ds: Dataset, n: int) -> Dataset:
    sub = Dataset.__new__(Dataset)
    sub.name, sub.x, sub.q = f"{ds.name} (first {n:,} rows)", ds.x[:n], ds.q
    sub.label, sub.bucket = ds.label[:n], ds.bucket[:n]
    sub.truth = exact_topk(ds.q, sub.x, K)
    sub.ftruth, sub.fsel = {}, {}
    for fname, _, fn in FILTERS:
        m = fn(sub.label, sub.bucket)
        sub.fsel[fname] = float(m.mean())
        sub.ftruth[fname] = exact_topk(ds.q, sub.x, K, mask=m)
    sub.truth_s = 0.0
    return sub


def milvus_lite_param_probe(client: Any, ds: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Same rows (a 10k subset), HNSW M=4/efConstruction=8 vs M=16/efConstruction=200: same recall => ignored."""
    from pymilvus import DataType

    n = min(ds.n, 10000)
    sub = subset_dataset(ds, n) if n < ds.n else ds
    out: dict[str, Any] = {"n": n}
    for m, efc in ((4, 8), (args.M, args.ef_construction)):
        name = f"probe_m{m}"
        s = client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=ds.dim)
        ip = client.prepare_index_params()
        ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": m, "efConstruction": efc})
        client.create_collection(name, schema=s, index_params=ip)
        for s0 in range(0, n, args.batch):
            client.insert(name, [{"id": i, "vec": sub.x[i]} for i in range(s0, min(n, s0 + args.batch))])
        t0 = time.perf_counter()
        client.flush(name)
        base = Path(client_path(client)) / "collections" / name / "partitions"
        while time.perf_counter() - t0 < args.milvus_lite_index_timeout:
            data = {p.stem for p in base.rglob("*.parquet")}
            if data and data <= {p.name.split(".", 1)[0] for p in base.rglob("*.idx")}:
                break
            time.sleep(0.02)
        build = time.perf_counter() - t0
        found = []
        for i in range(min(100, len(sub.q))):
            r = client.search(name, data=[sub.q[i].tolist()], anns_field="vec", limit=K,
                              search_params={"metric_type": "COSINE", "params": {"ef": 16}})
            found.append([h["id"] for h in r[0]])
        it = milvus_lite_internals(Path(client_path(client)), name)
        out[f"M={m}, efConstruction={efc}"] = {"recall_ef16": recall_at_k(found, sub.truth[: len(found)]),
                                               "build_s": build, "built_M": it.get("M"),
                                               "built_efConstruction": it.get("efConstruction"),
                                               "build_params": it.get("build_params")}
        client.drop_collection(name)
    return out


def client_path(client: Any) -> str:
    from milvus_lite.server_manager import server_manager_instance as sm

    return next(iter(sm._servers.keys()))


def milvus_lite_maxsim_probe(client: Any) -> str:
    """Does Milvus Lite take an Array of Structs vector field (needed for MAX_SIM)?"""
    import logging

    from pymilvus import DataType, MilvusClient

    logger = logging.getLogger("pymilvus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DataType.INT64, is_primary=True)
        st = MilvusClient.create_struct_field_schema()
        st.add_field("emb", DataType.FLOAT_VECTOR, dim=8)
        s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=64)
        client.create_collection("maxsim_probe", schema=s)
        client.drop_collection("maxsim_probe")
        return "accepted an Array of Structs schema (not benchmarked)"
    except Exception as exc:
        msg = str(exc).splitlines()[0][:200]
        return f"refused: `{msg}`"
    finally:
        logger.setLevel(level)
