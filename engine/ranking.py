"""The per-query arithmetic of a graph search and its page of hits: compiled where the extension is
built, numpy otherwise.

`engine/_ranking.c` is built by `pip install` (setup.py, an optional extension: a machine without
a C compiler gets the numpy code below, with the same results). Both give:

* `query_inverse_norm` / `row_inverse_norms`: 1 / |q| in float32. The squared norm is summed in double
  and rounded to float32 once (the products of float32 values are exact in double), so it does not
  depend on how numpy or a BLAS orders a float32 sum; the compiled code and the numpy code agree to the
  bit except where a double sum's last bits differ between summation orders.
* `top_lists`: hnswlib's answer for one query as the best k (row ids, distances): the same float32
  operations in the same order as `HNSWIndex._knn`, so the same values to the bit, and the same stable
  order.
* `hit_page`: one query's page of hits from those lists, when they are already in the order the
  general code (`engine.executor.page_of_hit_lists`) would leave them; None tells it to sort.

A walk over a large graph leaves the CPU caches cold, and then each numpy call costs microseconds; the
compiled functions do in one call what takes a dozen (docs/indexes.md). Set ``ENGINE_PURE_PYTHON=1`` to
use the numpy code even where the extension is built.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

_F32_MAX = float(np.finfo(np.float32).max)


def _load_native() -> ModuleType | None:
    if os.environ.get("ENGINE_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from engine import _ranking
    except ImportError:
        return None
    return _ranking


native: ModuleType | None = _load_native()


def native_available() -> bool:
    """Whether the compiled functions are in use (False: not built here, or ENGINE_PURE_PYTHON is set)."""
    return native is not None


def _squared_norms(q: np.ndarray) -> np.ndarray:
    """Per row: the squared norm summed in double, rounded to float32 (inf beyond float32)."""
    with np.errstate(over="ignore"):  # beyond float32: inf
        return np.einsum("ij,ij->i", q, q, dtype=np.float64).astype(np.float32)


def query_inverse_norm(q: np.ndarray) -> float | None:
    """1 / |q| (a float32 value) of one float32 C-contiguous query; None when its squared norm is 0, not
    finite, or beyond float32 (the caller refuses or converts such a query with the full checks)."""
    if native is not None:
        inv: float | None = native.query_inverse_norm(q)
        return inv
    row = float(row_inverse_norms(q.reshape(1, -1))[0])  # (0 for a squared norm that is 0 or not finite)
    return row if row > 0 else None


def row_inverse_norms(q: np.ndarray) -> np.ndarray:
    """1 / |q[i]| (float32) per row of a float32 C-contiguous matrix; 0 for a row whose squared norm is 0
    or not finite."""
    out = np.empty(len(q), dtype=np.float32)
    if native is not None:
        native.row_inverse_norms(q, out)
        return out
    sq = _squared_norms(q)
    ok = (sq > 0) & (sq <= _F32_MAX)
    out[:] = 0
    np.divide(np.float32(1.0), np.sqrt(sq, where=ok, out=np.ones_like(sq)), out=out, where=ok)
    return out


def top_lists(labels: np.ndarray, dist: np.ndarray, k: int, similarity: bool, inv_norm: float | None,
              inv_rows: np.ndarray | None) -> tuple[list[int], list[float]] | None:
    """The best k of hnswlib's answer for one query (`labels` uint64, `dist` float32, m of each, best
    first) as lists. L2 (`similarity` False): the first k. Otherwise sim = 1 - dist, times `inv_norm`,
    times `inv_rows[label]` (then stably re-sorted best first). None when a value is NaN."""
    if native is not None:
        found: tuple[list[int], list[float]] | None = native.top_lists(labels, dist, k, similarity, inv_norm,
                                                                       inv_rows)
        return found
    rows, d = labels.reshape(-1), dist.reshape(-1)
    if not similarity:
        return rows[:k].tolist(), d[:k].tolist()
    sim = np.subtract(np.float32(1.0), d)
    if inv_norm is not None:
        sim *= np.float32(inv_norm)
    if inv_rows is not None:
        sim *= inv_rows[rows]
    total = float(sim.sum())  # NaN when a value is (one call; an overflow to inf -inf also gives NaN)
    if total != total and np.isnan(sim).any():
        return None
    if inv_rows is not None and np.count_nonzero(sim[1:] > sim[:-1]):
        order = np.argsort(-sim, kind="stable")[:k]
        return rows[order].tolist(), sim[order].tolist()
    return rows[:k].tolist(), sim[:k].tolist()


def hit_page(hit_type: type[dict[str, Any]], rows: list[int], ds: list[float], pks: np.ndarray, pk_name: str,
             offset: int, larger: bool) -> list[Any] | None:
    """`hit_type` dicts `{pk_name: pks[row], "distance": d, "entity": {}}` (attribute ``_pk_name``) for the
    hits from `offset` on, made in one compiled call; None where the caller's general code must make
    them: not compiled here, primary keys that are not int64, a row < 0, or hits not best first
    (`larger`: descending), ties by primary key."""
    if native is None or pks.dtype != np.int64:
        return None
    page: list[Any] | None = native.hit_page(hit_type, rows, ds, pks, pk_name, offset, larger)
    return page
