"""Engine benchmark: constants, the data set with its exact ground truth, and the timed ef sweeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import LatencyStats, Stopwatch, exact_topk, median, recall_at_k, timed_calls

ROOT = Path(__file__).resolve().parents[1]

K = 10
TARGET = 0.95
EFS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
MILVUS_EFS = (16, 32, 64, 128, 256, 512)
MAXSIM_EFS = (16, 32, 64, 128, 256)
COLL = "bench"
MS_COLL = "bench_maxsim"
# (name, filter expression, numpy mask over (label, bucket)); label 0..9 and bucket 0..99 are independent.
FILTERS: list[tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("0.1%", "bucket == 3 and label == 3", lambda lab, buc: (buc == 3) & (lab == 3)),
    ("1%", "bucket == 3", lambda lab, buc: buc == 3),
    ("10%", "label == 3", lambda lab, buc: lab == 3),
    ("50%", "label < 5", lambda lab, buc: lab < 5),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Dataset:
    """Vectors, held-out queries, scalar columns and exact ground truth."""

    def __init__(self, name: str, x: np.ndarray, q: np.ndarray, seed: int, filters: bool = True) -> None:
        self.name = name
        self.x = x
        self.q = q
        rng = np.random.default_rng(seed + 7)
        self.label = rng.integers(0, 10, len(x)).astype(np.int64)
        self.bucket = rng.integers(0, 100, len(x)).astype(np.int64)
        with Stopwatch() as sw:
            self.truth = exact_topk(q, x, K)
            self.ftruth: dict[str, np.ndarray] = {}
            self.fsel: dict[str, float] = {}
            if filters:
                for fname, _, fn in FILTERS:
                    m = fn(self.label, self.bucket)
                    self.fsel[fname] = float(m.mean())
                    self.ftruth[fname] = exact_topk(q, x, K, mask=m)
        self.truth_s = sw.seconds

    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def nq(self) -> int:
        return len(self.q)

    def summary(self) -> DatasetSummary:
        return DatasetSummary(self.name, self.n, self.dim, self.nq)


@dataclass
class DatasetSummary:
    """What the report needs of a data set; stands in for it when the report is rebuilt from a JSON dump."""

    name: str
    n: int
    dim: int
    nq: int


def rows_of(ds: Dataset, s: int, e: int, filters: bool = True, as_list: bool = False) -> list[dict[str, Any]]:
    if filters:
        return [{"id": i, "vec": ds.x[i].tolist() if as_list else ds.x[i], "label": int(ds.label[i]),
                 "bucket": int(ds.bucket[i])} for i in range(s, e)]
    return [{"id": i, "vec": ds.x[i].tolist() if as_list else ds.x[i]} for i in range(s, e)]


def headline(sweep: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sweep point with the smallest ef reaching recall@10 >= TARGET."""
    ok = [p for p in sweep if p["recall"] >= TARGET]
    return min(ok, key=lambda p: p["ef"]) if ok else None


def at_ef(sweep: list[dict[str, Any]], ef: int) -> dict[str, Any] | None:
    return next((p for p in sweep if p["ef"] == ef), None)


def run_sweep(search: Callable[[np.ndarray, int], list[int]], ds: Dataset, efs: tuple[int, ...],
              label: str, nq: int | None = None) -> list[dict[str, Any]]:
    out = []
    qn = min(nq, len(ds.q)) if nq else len(ds.q)
    for ef in efs:
        times, found = timed_calls(lambda i, ef=ef: search(ds.q[i], ef), qn)
        st = LatencyStats.of(times)
        rec = recall_at_k(found, ds.truth[:qn])
        out.append({"ef": ef, "recall": rec, "p50_ms": st.p50_ms, "p95_ms": st.p95_ms, "qps": st.qps})
        log(f"  {label} ef={ef}: recall {rec:.3f} p50 {st.p50_ms:.2f} ms p95 {st.p95_ms:.2f} ms")
    return out


def run_filtered(search: Callable[[np.ndarray, int, str, np.ndarray], list[int]], ds: Dataset, ef: int,
                 label: str, nq: int | None = None, reps: int = 1) -> dict[str, dict[str, Any]]:
    """Each filter over the queries, `reps` times round-robin; medians over the repeats."""
    qn = min(nq, len(ds.q)) if nq else len(ds.q)
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(max(1, reps)):
        for fname, expr, fn in FILTERS:
            mask = fn(ds.label, ds.bucket)
            times, found = timed_calls(lambda i, expr=expr, mask=mask: search(ds.q[i], ef, expr, mask), qn, warmup=3)
            st = LatencyStats.of(times)
            runs.setdefault(fname, []).append({"recall": recall_at_k(found, ds.ftruth[fname][:qn]),
                                               "p50_ms": st.p50_ms, "p95_ms": st.p95_ms, "qps": st.qps})
    out = {}
    for fname, expr, _ in FILTERS:
        r = runs[fname]
        out[fname] = {"expr": expr, "ef": ef, "selectivity": ds.fsel[fname], "reps": len(r),
                      **{k: median(x[k] for x in r) for k in ("recall", "p50_ms", "p95_ms", "qps")}}
        log(f"  {label} filter {fname} ({expr}): recall {out[fname]['recall']:.3f} "
            f"p50 {out[fname]['p50_ms']:.2f} ms (median of {len(r)})")
    return out
