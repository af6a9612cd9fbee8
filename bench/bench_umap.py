"""Embedding map layouts: PCA and UMAP time for n × 512 embedding-like vectors.

    python bench/bench_umap.py --sizes 10000,30000,100000 --write-docs

Times the functions the embedding map runs: `pca_2d` (in the app's process) and `umap_events` (umap-learn
in the map's own process, cosine metric, 15 neighbours), each phase as the map reports it: the
nearest-neighbour graph (exact up to `EXACT_KNN_MAX` points, pynndescent above), the fuzzy graph and
spectral initialisation, and the layout epochs. A first, small map is timed alone: it starts the UMAP
process and numba compiles umap-learn's code there (once per process, whatever the size). The UMAP
process is kept, as in the app, so the sizes after it are timed warm; the first size above
`EXACT_KNN_MAX` also pays pynndescent's compilation (reported as its nearest-neighbour time).
`--write-docs` replaces the section between the umap-benchmark markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import embedding_like, md_table, write_section  # noqa: E402
from ui.embedding_map.projection import pca_2d  # noqa: E402
from ui.embedding_map.umap_layout import EXACT_KNN_MAX, stop_process, umap_events  # noqa: E402

START, END = "<!-- umap-benchmark:start -->", "<!-- umap-benchmark:end -->"


def time_umap(x: Any) -> dict[str, float]:
    """Seconds per phase of one UMAP map (and in all)."""
    g = umap_events(x)
    t0 = time.perf_counter()
    first: dict[str, float] = {}
    try:
        while True:
            ev = next(g)
            first.setdefault(ev["phase"], time.perf_counter() - t0)
    except StopIteration as stop:
        y = stop.value
    total = time.perf_counter() - t0
    assert y.shape == (len(x), 2)
    marks = sorted(first.items(), key=lambda kv: kv[1]) + [("end", total)]
    out = {name: marks[i + 1][1] - t for i, (name, t) in enumerate(marks[:-1])}
    out["total"] = total
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    warm = time_umap(embedding_like(500, args.dim, seed=1))
    print(f"first map (500 points): {warm}", flush=True)
    for n in sizes:
        x = embedding_like(n, args.dim)
        t = time.perf_counter()
        pca_2d(x)
        pca = time.perf_counter() - t
        u = time_umap(x)
        print(n, f"pca {pca:.2f}s", {k: round(v, 1) for k, v in u.items()}, flush=True)
        knn = "exact" if n <= EXACT_KNN_MAX else "pynndescent"
        rows.append([f"{n:,} × {args.dim}", f"{pca:.2f}", f"{u.get('knn', 0):.1f} ({knn})",
                     f"{u.get('graph', 0):.1f}", f"{u.get('epochs', 0):.1f}", f"{u['total']:.1f}"])
    stop_process()
    load = os.getloadavg()[0]
    body = "\n".join([
        "## Embedding map: PCA and UMAP (`bench/bench_umap.py`)",
        "",
        f"Machine: {os.cpu_count()} CPU cores (shared), load average {load:.1f} when the run ended. "
        f"Command: `python bench/bench_umap.py --sizes {args.sizes} --write-docs`.",
        "",
        md_table(["vectors", "PCA s", "UMAP: neighbours s", "fuzzy graph + spectral init s", "layout epochs s",
                  "UMAP total s"], rows),
        "",
        f"Before these, the first UMAP map of the session (500 points) took {warm['total']:.0f} s: "
        "starting the UMAP process, importing umap-learn and getting numba's code for it there, paid once per "
        "app session (the process is kept for the next map; a cancelled map ends it). numba caches what it "
        "compiles on disk, so the very first map after installing umap-learn, which compiles all of it, takes "
        "longer. Vectors: `bench.common.embedding_like` "
        "(unit vectors around a few hundred topics, like CLIP image embeddings). UMAP: umap-learn, cosine metric, "
        f"15 neighbours, min_dist 0.1, no seed (all cores). Neighbours are found exactly up to {EXACT_KNN_MAX:,} "
        "points (BLAS, a block of rows at a time, counted in the progress bar) and by pynndescent above; the "
        "first pynndescent map also compiles pynndescent. PCA: `pca_2d` (covariance and eigh in float64). "
        "The app samples collections larger than its Max points (default 100,000 for PCA, 20,000 for UMAP) "
        "at random and says so.",
    ])
    print(body)
    if args.write_docs:
        write_section(ROOT / "docs" / "benchmarks.md", body, start=START, end=END)


if __name__ == "__main__":
    main()
