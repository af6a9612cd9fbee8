"""Where a repeat search's time goes, layer by layer, against one raw hnswlib index (issue 12).

    PYTHONPATH=. python bench/bench_search_path.py [--n 300000 --dim 128 --ef 96 --queries 200 --write-docs]

Fills an engine collection the way users do (default settings, rows in batches of 1,000, then
`flush()`), builds one raw hnswlib index over the same rows, then measures single-query searches
at one `ef`, each variant interleaved query by query with the raw hnswlib index (the order
alternating, 3 passes; p50 per pass, median of the passes), as `bench/bench_scale.py` does:

* hnswlib `knn_query` on the engine's saved graph as hnswlib wrote it (insertion order) and as the
  engine lays it out (`engine/index/hnsw_reorder.py`): the graph walk alone;
* `HNSWIndex.search_one_lists`: the walk plus the COSINE re-rank, as lists;
* `MilvusClient.search` through the full path (every check resolved again), as shipped (a repeat call
  served by `engine/client/hot_search.py`), and as shipped with the compiled functions switched off
  (`engine/ranking.py`'s numpy and Python code, as on a machine without a C compiler);
* the catalog's change check of every call (`Catalog.data_version`, SQLite's `PRAGMA data_version`).

Each variant is measured in two orders against the raw index: alternating (``e r r e e r ...``, as
`bench/bench_scale.py` does, so half the calls follow a call of the same system) and strict (``r e r e
...``: every call follows a walk of the other index, the coldest case).

Everything runs in one process on the same data; the section goes between
`<!-- search-path:start/end -->` of docs/benchmarks.md with --write-docs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import embedding_like, machine_facts, write_section

START, END = "<!-- search-path:start -->", "<!-- search-path:end -->"


def interleaved(engine: Callable[[np.ndarray], Any], raw: Callable[[np.ndarray], Any], queries: np.ndarray,
                passes: int = 3, strict: bool = False) -> tuple[float, float]:
    """Median over passes of the p50 (ms) of `engine` and of `raw`, run query by query: the order
    alternating (``strict`` False) or raw then engine for every query (every call follows the other)."""
    per_pass: list[tuple[float, float]] = []
    for p in range(passes):
        times: dict[str, list[float]] = {"e": [], "r": []}
        for i, q in enumerate(queries):
            for name in ("r", "e") if strict or (i + p) % 2 else ("e", "r"):
                fn = engine if name == "e" else raw
                t0 = time.perf_counter()
                fn(q)
                times[name].append(time.perf_counter() - t0)
        per_pass.append((float(np.median(times["e"])) * 1e3, float(np.median(times["r"])) * 1e3))
    return float(np.median([e for e, _ in per_pass])), float(np.median([r for _, r in per_pass]))


@contextmanager
def compiled_off() -> Iterator[None]:
    """The engine's numpy and Python code instead of engine/_ranking.c, as where it is not built."""
    import engine.client.hot_search as hot_search
    import engine.client.milvus_client as milvus_client
    from engine import ranking
    from engine.client.search_plan import python_plan_key

    saved = ranking.native, hot_search.plan_key, milvus_client.plan_key
    ranking.native = None
    hot_search.plan_key = milvus_client.plan_key = python_plan_key
    try:
        yield
    finally:
        ranking.native, hot_search.plan_key, milvus_client.plan_key = saved


def _machine() -> str:
    facts = machine_facts()
    return f"{facts['CPU']}, {facts['cores available']} cores, Python {facts['Python']}, numpy {facts['numpy']}"


def build(n: int, dim: int, work: Path, x: np.ndarray) -> Any:
    from engine import DataType, MilvusClient

    client = MilvusClient(str(work / "engine.db"))
    schema = client.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    client.create_collection("c", schema=schema, index_params=ip)
    for lo in range(0, n, 1000):
        client.insert("c", [{"id": i, "vec": x[i]} for i in range(lo, min(n, lo + 1000))])
    client.flush("c")
    return client


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ef", type=int, default=96)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    import hnswlib

    from engine import MilvusClient, ranking
    from engine.index.hnsw import HNSWIndex
    from engine.index.hnsw_format import parse_hnsw_index
    from engine.index.hnsw_reorder import reorder_index_bytes

    x = embedding_like(args.n + args.queries, args.dim, seed=21).astype(np.float32)
    queries, x = x[args.n :], x[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        client = build(args.n, args.dim, work, x)
        build_s = time.perf_counter() - t0
        own = hnswlib.Index(space="ip", dim=args.dim)
        own.init_index(max_elements=args.n, M=16, ef_construction=200)
        for lo in range(0, args.n, 1000):
            own.add_items(x[lo : lo + 1000], np.arange(lo, min(args.n, lo + 1000)), num_threads=2)
        own.set_ef(args.ef)
        sp = {"metric_type": "COSINE", "params": {"ef": args.ef}}
        client.search("c", data=[queries[0]], anns_field="vec", limit=10, search_params=sp)
        coll = client._coll("c")
        seg = next(s.data for s in coll.snapshot.segments if s.data.num_rows)
        graph: HNSWIndex = seg.loaded_indexes["vec"]
        saved = seg.index_rows["vec"]["file"]
        raw_bytes = np.fromfile(coll.seg_dir / saved / "hnsw.bin", dtype=np.uint8)
        labels = parse_hnsw_index(raw_bytes).labels
        plain_file = work / "plain.bin"  # the same graph in insertion (label) order, as hnswlib writes it
        plain_file.write_bytes(reorder_index_bytes(raw_bytes, args.dim, np.argsort(labels, kind="stable")))
        plain = hnswlib.Index(space="ip", dim=args.dim)
        plain.load_index(str(plain_file))
        laid = hnswlib.Index(space="ip", dim=args.dim)
        laid.load_index(str(coll.seg_dir / saved / "hnsw.bin"))
        full = MilvusClient.search.__wrapped__  # type: ignore[attr-defined]
        catalog = client._db.catalog

        def raw(q: np.ndarray) -> Any:
            return own.knn_query(q.reshape(1, -1), k=10, num_threads=1)

        def shipped(q: np.ndarray) -> Any:
            return client.search("c", data=[q], anns_field="vec", limit=10, search_params=sp)

        def shipped_python(q: np.ndarray) -> Any:
            with compiled_off():
                return client.search("c", data=[q], anns_field="vec", limit=10, search_params=sp)

        ef = args.ef
        variants: list[tuple[str, Callable[[np.ndarray], Any]]] = [
            ("hnswlib on the engine's graph, insertion order (k=ef)", lambda q: plain.knn_query(q.reshape(1, -1), k=ef)),
            ("hnswlib on the engine's graph, as laid out (k=ef)", lambda q: laid.knn_query(q.reshape(1, -1), k=ef)),
            ("HNSWIndex.search_one_lists (walk + COSINE re-rank)",
             lambda q: graph.search_one_lists(q.reshape(1, -1), 10, ef)),
            ("MilvusClient.search, full path", lambda q: full(client, "c", data=[q], anns_field="vec", limit=10,
                                                              search_params=sp)),
            ("MilvusClient.search as shipped (repeat call)", shipped),
            ("the same without the compiled functions (numpy and Python)", shipped_python),
            ("Catalog.data_version (PRAGMA data_version, every call)", lambda q: catalog.data_version()),
        ]
        compiled = ranking.native_available()
        rows = []
        for name, fn in variants:
            e, r = interleaved(fn, raw, queries)
            es, rs = interleaved(fn, raw, queries, strict=True)
            rows.append((name, e, r, es, rs))
            print(f"{name:58s} alternating {e:7.3f} / {r:.3f} ms ({e / r:.2f})   strict {es:7.3f} / {rs:.3f} ms "
                  f"({es / rs:.2f})", flush=True)
    lines = [
        "## Where a repeat search's time goes (bench/bench_search_path.py)",
        "",
        f"`{' '.join(['python', 'bench/bench_search_path.py', *sys.argv[1:]])}`: {args.n:,} × {args.dim} embedding-like "
        f"vectors in one engine collection filled with default settings (batches of 1,000, then flush; "
        f"{build_s:.0f} s) and in one raw hnswlib index (M=16, efConstruction=200, `ip` space), {args.queries} "
        f"queries at ef={args.ef}. Each row is run query by query against the raw index in two orders: "
        "alternating (3 passes, the order flipping each query, as `bench/bench_scale.py` does, so half the calls "
        "follow a call of the same system) and strict (3 passes, raw then engine for every query, so every call "
        "follows a walk of the other index: the coldest caches); p50 per pass, median of the passes. Compiled "
        f"functions (engine/_ranking.c) {'built' if compiled else 'NOT built'}. Machine: " + _machine() + ".",
        "",
        "| layer | alternating: p50 ms | raw p50 ms | ratio | strict: p50 ms | raw p50 ms | ratio |",
        "|---|---|---|---|---|---|---|",
        *[f"| {name} | {e:.3f} | {r:.3f} | {e / r:.2f} | {es:.3f} | {rs:.3f} | {es / rs:.2f} |"
          for name, e, r, es, rs in rows],
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_section(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", text, start=START, end=END)


if __name__ == "__main__":
    main()
