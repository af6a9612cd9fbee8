"""Measure an index's recall@k and latency against exact search, per search setting.

`recall_check` is a generator: it yields `RecallProgress` events and *returns* a
`RecallReport` (``StopIteration.value``); `run_recall_check` drains it for callers
that only want the report. Cancel with any object that has ``is_set()`` (a
``threading.Event``) or a callable returning True; the report then holds the
settings measured so far and ``cancelled=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.index.base import VectorIndex
from engine.index.flat import BruteForceIndex

__all__ = ["RecallPoint", "RecallProgress", "RecallReport", "recall_check", "run_recall_check"]


@dataclass(frozen=True)
class RecallProgress:
    """``stage`` is "ground_truth" or "search"; ``value`` is the setting being measured."""

    stage: str
    done: int
    total: int
    value: int | None = None


@dataclass(frozen=True)
class RecallPoint:
    """Recall@k and per-query latency (one query at a time) for one search setting."""

    param: str | None
    value: int | None
    recall: float
    p50_ms: float
    p95_ms: float
    mean_ms: float


@dataclass
class RecallReport:
    k: int
    queries: int
    points: list[RecallPoint] = field(default_factory=list)
    cancelled: bool = False


def _param_name(index: VectorIndex) -> str | None:
    t = index.index_type.upper()
    if "IVF" in t:
        return "nprobe"
    if "HNSW" in t or t == "AUTOINDEX":
        return "ef"
    return None


def _is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def recall_check(
    index: VectorIndex,
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int,
    ef_values: Sequence[int],
    cancel: Any = None,
    valid_mask: np.ndarray | None = None,
    param: str | None = None,
) -> Generator[RecallProgress, None, RecallReport]:
    """Recall@k of ``index`` (built over ``vectors``) for each value in ``ef_values``.

    ``param`` names the search parameter the values set (default: ``ef`` for HNSW,
    ``nprobe`` for IVF, none for FLAT, which is measured once). Ground truth comes from
    `BruteForceIndex`. Each query is timed on its own (as an interactive search is).
    An ``ef`` below k is measured as ``ef = k``.
    """
    q = np.asarray(queries)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    nq = len(q)
    report = RecallReport(k=k, queries=nq)
    name = param or _param_name(index)
    values: list[int | None] = list(ef_values) if name is not None else [None]
    oracle = BruteForceIndex(index.metric)
    oracle.build(vectors)
    truth = np.full((nq, k), -1, dtype=np.int64)
    step = max(1, min(256, nq // 10 or 1))
    for s in range(0, nq, step):
        if _is_cancelled(cancel):
            report.cancelled = True
            return report
        truth[s : s + step], _ = oracle.search(q[s : s + step], k, valid_mask)
        yield RecallProgress("ground_truth", min(s + step, nq), nq)
    for value in values:
        params: dict[str, Any] = {}
        if name is not None and value is not None:  # Milvus refuses ef < k; measure ef = k then
            params[name] = max(int(value), k) if name == "ef" else int(value)
        found = np.full((nq, k), -1, dtype=np.int64)
        times = np.zeros(nq)
        for i in range(nq):
            if _is_cancelled(cancel):
                report.cancelled = True
                return report
            t0 = time.perf_counter()
            found[i], _ = index.search(q[i : i + 1], k, valid_mask, params)
            times[i] = (time.perf_counter() - t0) * 1000.0
            if (i + 1) % step == 0 or i + 1 == nq:
                yield RecallProgress("search", i + 1, nq, value)
        hits = sum(len(set(t[t >= 0]) & set(f[f >= 0])) for t, f in zip(truth, found))
        total = int((truth >= 0).sum())
        report.points.append(
            RecallPoint(
                name,
                value,
                hits / total if total else 1.0,
                float(np.percentile(times, 50)) if nq else 0.0,
                float(np.percentile(times, 95)) if nq else 0.0,
                float(times.mean()) if nq else 0.0,
            )
        )
    return report


def run_recall_check(
    *args: Any, on_progress: Callable[[RecallProgress], None] | None = None, **kwargs: Any
) -> RecallReport:
    """Run `recall_check` to the end and return its report."""
    gen = recall_check(*args, **kwargs)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if on_progress is not None:
            on_progress(event)
