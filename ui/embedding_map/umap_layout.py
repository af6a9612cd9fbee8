"""UMAP (umap-learn) of a collection's vectors in a child process, with honest progress and a real cancel.

umap-learn has no progress callback, and its numba code holds the GIL for up to a second at a time, so
it runs in a process of its own (spawned, so nothing of Qt is inherited), kept for the next map: each
new process loads numba's code for umap-learn and pynndescent (10 to 30 s on 2 cores; the first process
after installing umap-learn compiles it into numba's on-disk cache, longer). The
process reports its phases through a pipe: loading umap-learn, the nearest-neighbour graph (exact, in
blocks of rows with a count, up to `EXACT_KNN_MAX` points; pynndescent, without a count, above), the
fuzzy graph and spectral initialisation (no count), then each layout epoch, read from the tqdm bar
umap-learn draws when asked to (`tqdm_kwds` with a file of ours and `bar_format="{n}/{total}"`). Every
event carries the elapsed time, and one comes at least every `poll_s` seconds, so a bar without a count
still shows that time goes on.

Cancel is real: closing the generator (the worker does on Cancel) terminates the process at once (the
next map starts a new one). Qt-free; `bench/bench_umap.py` times the same function.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import re
import shutil
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

PHASES = {
    "start": "starting a UMAP process",
    "import": "loading umap-learn (numba compiles it on first use)",
    "knn": "nearest-neighbour graph",
    "graph": "fuzzy graph and spectral initialisation",
    "epochs": "layout",
}


class UmapError(RuntimeError):
    """UMAP failed in its process; the message says how."""


def umap_available() -> str | None:
    """None when umap-learn can be imported; else why not (without importing it: that takes seconds)."""
    import importlib.util

    if importlib.util.find_spec("umap") is None:
        return "umap-learn is not installed (pip install umap-learn)"
    return None


EXACT_KNN_MAX = 30_000  # up to this many points the neighbours are found exactly (BLAS), with a count
_worker: dict[str, Any] = {}  # the UMAP process kept between maps: {"proc", "conn"}


def _process() -> tuple[Any, Any]:
    """The UMAP process and its end of the pipe (started when there is none alive)."""
    proc, conn = _worker.get("proc"), _worker.get("conn")
    if proc is not None and proc.is_alive():
        return proc, conn
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_serve, args=(theirs,), name="vector-workbench-umap", daemon=True)
    proc.start()
    theirs.close()
    _worker.update(proc=proc, conn=ours)
    return proc, ours


def stop_process() -> None:
    """End the UMAP process (a cancelled map's, or at shutdown); the next map starts another."""
    proc, conn = _worker.pop("proc", None), _worker.pop("conn", None)
    if proc is not None and proc.is_alive():
        proc.terminate()
        proc.join(3)
        if proc.is_alive():
            proc.kill()
            proc.join(3)
    if conn is not None:
        conn.close()


def umap_events(x: np.ndarray, *, metric: str = "cosine", n_neighbors: int = 15, min_dist: float = 0.1,
                seed: int | None = None, poll_s: float = 0.1) -> Generator[dict[str, Any], None, np.ndarray]:
    """Progress events of a 2-D UMAP of the rows of `x`; returns the layout (float32, n × 2).

    Events: {"phase", "done", "total" (0 when there is no count), "text", "elapsed"}.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) < 4:
        raise UmapError(f"UMAP needs at least 4 points, got {len(x)}")
    n_neighbors = max(2, min(n_neighbors, len(x) - 1))
    tmp = Path(tempfile.mkdtemp(prefix="vw-umap-"))
    params = {"metric": metric, "n_neighbors": n_neighbors, "min_dist": min_dist, "seed": seed}
    t0 = time.monotonic()
    last: dict[str, Any] = {"phase": "start", "done": 0, "total": 0}
    finished = False
    try:
        np.save(tmp / "in.npy", x)
        proc, conn = _process()
        conn.send((str(tmp / "in.npy"), str(tmp / "out.npy"), params))
        while True:
            fresh = False
            while conn.poll():
                try:
                    ev = conn.recv()
                except EOFError:
                    break
                if ev["phase"] == "error":
                    raise UmapError(f"UMAP failed: {ev['text']}")
                if ev["phase"] == "done":
                    finished = True
                    break
                last, fresh = ev, True
                yield _event(last, time.monotonic() - t0, len(x), n_neighbors)  # every phase is seen
            if finished:
                break
            if not fresh:  # nothing new: the same phase, a later time
                yield _event(last, time.monotonic() - t0, len(x), n_neighbors)
            if not proc.is_alive() and not conn.poll():
                raise UmapError(f"the UMAP process ended without a result (exit code {proc.exitcode})")
            conn.poll(poll_s)
        return np.asarray(np.load(tmp / "out.npy"), dtype=np.float32)
    finally:
        if not finished:  # cancelled or failed: the process may be busy for minutes more, so it goes
            stop_process()
        shutil.rmtree(tmp, ignore_errors=True)


def _event(ev: dict[str, Any], elapsed: float, n: int, k: int) -> dict[str, Any]:
    phase = ev["phase"]
    text = PHASES.get(phase, phase)
    if phase == "import":
        text = "loading umap-learn (a new process loads its compiled code: seconds, longer after an install)"
    if phase == "knn":
        text = f"nearest-neighbour graph (k={k}) of {n:,} points"
        if ev.get("total"):
            text += f": {ev['done']:,} of {ev['total']:,} rows"
    if phase == "epochs" and ev.get("total"):
        text = f"layout: epoch {ev['done']} of {ev['total']}"
    return {"phase": phase, "done": int(ev.get("done", 0)), "total": int(ev.get("total", 0)),
            "text": f"UMAP: {text} · {elapsed:.0f} s", "elapsed": elapsed}


class _EpochPipe:
    """A file for tqdm: each "{n}/{total}" it writes becomes an "epochs" event on the pipe."""

    _count = re.compile(r"(\d+)/(\d+)")

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def write(self, s: str) -> int:
        counts = self._count.findall(s)
        if counts:
            done, total = counts[-1]
            self.conn.send({"phase": "epochs", "done": int(done), "total": int(total)})
        return len(s)

    def flush(self) -> None:
        pass


def exact_knn(x: np.ndarray, k: int, metric: str, block: int = 2048,
              on_rows: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest neighbours of every row (itself first), exactly, a block of rows at a time:
    (indices, distances) as umap-learn's nearest_neighbors returns them (cosine: 1 - cosine similarity)."""
    n = len(x)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sq = (x * x).sum(axis=1)
    idx = np.empty((n, k), dtype=np.int32)
    dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        q = x[start:start + block]
        d = (1.0 - q @ x.T) if metric == "cosine" else np.maximum(sq[start:start + block, None] + sq[None, :]
                                                                  - 2.0 * (q @ x.T), 0.0)
        rows = np.arange(len(q))
        d[rows, start + rows] = -1.0  # each point is its own first neighbour
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
        idx[start:start + block] = np.take_along_axis(part, order, axis=1)
        got = np.take_along_axis(d, idx[start:start + block].astype(np.int64), axis=1)
        got[:, 0] = 0.0
        dist[start:start + block] = got if metric == "cosine" else np.sqrt(got)
        if on_rows is not None:
            on_rows(min(n, start + block), n)
    return idx, np.maximum(dist, 0.0)


def _serve(conn: Any) -> None:
    """The UMAP process: one job at a time from `conn` until the pipe closes."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        _child(*job, conn)


def _child(in_path: str, out_path: str, params: dict[str, Any], conn: Any) -> None:
    """One map in the UMAP process: each phase is announced on `conn`, then {"phase": "done"} or "error"."""
    import warnings

    try:
        warnings.simplefilter("ignore")
        conn.send({"phase": "import", "done": 0, "total": 0})
        import umap
        from sklearn.utils import check_random_state
        from umap.umap_ import nearest_neighbors

        x = np.load(in_path)
        conn.send({"phase": "knn", "done": 0, "total": len(x) if len(x) <= EXACT_KNN_MAX else 0})
        seed = params["seed"]
        k = params["n_neighbors"]
        knn: tuple[Any, ...]
        if len(x) <= EXACT_KNN_MAX:
            knn = exact_knn(x, k, params["metric"],
                            on_rows=lambda d, t: conn.send({"phase": "knn", "done": d, "total": t}))
        else:
            knn = nearest_neighbors(x, k, params["metric"], {}, False, check_random_state(seed), low_memory=True,
                                    use_pynndescent=True, n_jobs=-1, verbose=False)
        conn.send({"phase": "graph", "done": 0, "total": 0})
        reducer = umap.UMAP(n_neighbors=params["n_neighbors"], min_dist=params["min_dist"], metric=params["metric"],
                            random_state=seed, precomputed_knn=knn,
                            tqdm_kwds={"file": _EpochPipe(conn), "bar_format": "{n}/{total}", "mininterval": 0.2,
                                       "disable": False, "ascii": True, "desc": ""})
        y = reducer.fit_transform(x)
        np.save(out_path, np.asarray(y, dtype=np.float32))
        conn.send({"phase": "done", "done": 0, "total": 0})
    except BaseException as e:  # reported to the parent, which raises it there
        with contextlib.suppress(Exception):
            conn.send({"phase": "error", "text": f"{type(e).__name__}: {e}"})
