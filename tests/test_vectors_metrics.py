"""engine.vectors.metrics against naive float64 loop oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ParamError
from engine.types import larger_is_closer
from engine.vectors.metrics import maxsim_scores, score_matrix, top_k

# ---------------------------------------------------------------- oracles (float64 loops)


def naive_distance(metric: str, a: np.ndarray, b: np.ndarray) -> float:
    if metric in ("HAMMING", "JACCARD"):
        abits = [int(x) for x in np.unpackbits(a)]
        bbits = [int(x) for x in np.unpackbits(b)]
        if metric == "HAMMING":
            return float(sum(x != y for x, y in zip(abits, bbits)))
        inter = sum(x & y for x, y in zip(abits, bbits))
        union = sum(x | y for x, y in zip(abits, bbits))
        return 0.0 if union == 0 else 1.0 - inter / union
    x = [float(v) for v in a]
    y = [float(v) for v in b]
    if metric == "L2":
        return sum((p - q) ** 2 for p, q in zip(x, y))
    dot = sum(p * q for p, q in zip(x, y))
    if metric == "IP":
        return dot
    nx = math.sqrt(sum(p * p for p in x))
    ny = math.sqrt(sum(q * q for q in y))
    return 0.0 if nx == 0 or ny == 0 else dot / (nx * ny)


def naive_matrix(metric: str, q: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([[naive_distance(metric, x, y) for y in b] for x in q])


def naive_topk(scores: np.ndarray, k: int, metric: str, mask: np.ndarray, offset: int) -> list[list[int]]:
    out = []
    for r in range(scores.shape[0]):
        cand = [j for j in range(scores.shape[1]) if mask[j] and not math.isnan(scores[r, j])]
        sign = -1.0 if larger_is_closer(metric) else 1.0
        cand.sort(key=lambda j: (sign * float(scores[r, j]), j))
        out.append(cand[offset : offset + k])
    return out


def naive_maxsim(metric: str, query: np.ndarray, elements: np.ndarray, offsets: np.ndarray):
    base = metric.removeprefix("MAX_SIM_")
    larger = metric != "MAX_SIM_L2"
    scores, best = [], []
    for i in range(len(offsets) - 1):
        own = range(int(offsets[i]), int(offsets[i + 1]))
        if not own:
            scores.append(float("nan"))
            best.append(-1)
            continue
        sims = {
            (qi, e): naive_distance(base, query[qi], elements[e]) for qi in range(len(query)) for e in own
        }
        pick = max if larger else min
        scores.append(sum(pick(sims[qi, e] for e in own) for qi in range(len(query))))
        best.append(pick(own, key=lambda e: pick(sims[qi, e] for qi in range(len(query)))))
    return np.array(scores), np.array(best)


# ---------------------------------------------------------------- score_matrix


def embedding_like(rng: np.random.Generator, n: int, dim: int = 24) -> np.ndarray:
    latent = rng.normal(size=(n, 6))
    return (latent @ rng.normal(size=(6, dim)) + 0.05 * rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_float_metrics_match_oracle(metric: str) -> None:
    rng = np.random.default_rng(1)
    base = embedding_like(rng, 40)
    base[3] = 0.0  # a zero vector
    queries = embedding_like(rng, 5)
    queries[1] = base[7] + 1e-4  # near-duplicate: cancellation in the L2 expansion
    queries[2] = base[8]  # exact duplicate
    got = score_matrix(metric, queries, base)
    want = naive_matrix(metric, queries, base)
    assert got.dtype == np.float32 and got.shape == (5, 40)
    if metric == "L2":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
    else:
        scale = np.linalg.norm(queries.astype(float), axis=1)[:, None] * np.linalg.norm(
            base.astype(float), axis=1
        )
        if metric == "COSINE":
            scale = np.ones_like(scale)
        assert np.all(np.abs(got - want) <= 1e-5 * np.abs(want) + 1e-6 * scale)
    if metric == "COSINE":
        assert np.all(got[:, 3] == 0.0)


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_binary_metrics_exact(metric: str) -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(0, 256, size=(30, 4), dtype=np.uint8)
    base[0] = 0
    queries = rng.integers(0, 256, size=(4, 4), dtype=np.uint8)
    queries[0] = 0
    got = score_matrix(metric, queries, base)
    np.testing.assert_allclose(got, naive_matrix(metric, queries, base), rtol=1e-6, atol=1e-7)
    assert got[0, 0] == 0.0


def test_score_matrix_errors() -> None:
    with pytest.raises(ParamError, match="dimension"):
        score_matrix("L2", np.zeros((1, 3)), np.zeros((2, 4)))
    with pytest.raises(ParamError, match="BM25"):
        score_matrix("BM25", np.zeros((1, 3)), np.zeros((2, 3)))
    with pytest.raises(ParamError, match="uint8"):
        score_matrix("HAMMING", np.zeros((1, 3)), np.zeros((2, 3)))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    dim=st.integers(1, 40),
    metric=st.sampled_from(["L2", "IP", "COSINE"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_float_metrics_property(n: int, dim: int, metric: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = (rng.normal(size=(n, dim)) * rng.uniform(0.01, 100)).astype(np.float32)
    queries = np.concatenate([base[:2] + np.float32(1e-3), rng.normal(size=(2, dim)).astype(np.float32)])
    got = score_matrix(metric, queries, base).astype(np.float64)
    want = naive_matrix(metric, queries, base)
    if metric == "L2":
        assert np.all(np.abs(got - want) <= 1e-5 * want + 1e-30)
    else:
        qn = np.linalg.norm(queries.astype(float), axis=1)[:, None]
        bn = np.linalg.norm(base.astype(float), axis=1)[None, :]
        scale = np.ones_like(want) if metric == "COSINE" else qn * bn
        assert np.all(np.abs(got - want) <= 1e-5 * np.abs(want) + 1e-6 * scale)


# ---------------------------------------------------------------- top_k


def test_top_k_ties_offset_and_padding() -> None:
    scores = np.array([[1.0, 0.5, 1.0, 0.5, 2.0, np.nan]], dtype=np.float32)
    ids, d = top_k(scores, 3, "L2")
    assert ids.tolist() == [[1, 3, 0]] and d.tolist() == [[0.5, 0.5, 1.0]]
    ids, d = top_k(scores, 3, "IP", offset=1)
    assert ids.tolist() == [[0, 2, 1]]
    ids, d = top_k(scores, 4, "IP", valid_mask=np.array([1, 0, 0, 0, 1, 1], bool))
    assert ids.tolist() == [[4, 0, -1, -1]]
    assert d[0, 2] == -np.inf
    ids, d = top_k(scores, 2, "L2", valid_mask=np.zeros(6, bool))
    assert ids.tolist() == [[-1, -1]] and np.all(d == np.inf)


@settings(max_examples=150, deadline=None)
@given(
    q=st.integers(1, 4),
    n=st.integers(0, 60),
    k=st.integers(0, 70),
    offset=st.integers(0, 10),
    metric=st.sampled_from(["L2", "IP", "COSINE"]),
    seed=st.integers(0, 2**32 - 1),
    levels=st.integers(2, 1000),
)
def test_top_k_property(q: int, n: int, k: int, offset: int, metric: str, seed: int, levels: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(q, n)).astype(np.float32)  # many ties when levels is small
    mask = rng.random(n) < rng.random()
    ids, dists = top_k(scores, k, metric, valid_mask=mask, offset=offset)
    want = naive_topk(scores, k, metric, mask, offset)
    assert ids.shape == (q, k) and ids.dtype == np.int64
    for r in range(q):
        assert ids[r, : len(want[r])].tolist() == want[r]
        assert np.all(ids[r, len(want[r]) :] == -1)
        assert dists[r, : len(want[r])].tolist() == [scores[r, j] for j in want[r]]


def test_top_k_per_row_mask() -> None:
    scores = np.array([[3, 2, 1], [3, 2, 1]], dtype=np.float32)
    mask = np.array([[True, True, False], [False, True, True]])
    ids, _ = top_k(scores, 1, "L2", valid_mask=mask)
    assert ids.tolist() == [[1], [2]]


# ---------------------------------------------------------------- maxsim


@st.composite
def maxsim_case(draw):
    sizes = draw(st.lists(st.integers(0, 4), min_size=1, max_size=8))
    lead = draw(st.integers(0, 3))  # elements before the first entity
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64) + lead
    n_elem = int(offsets[-1]) + draw(st.integers(0, 3))
    m = draw(st.integers(1, 4))
    dim = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    metric = draw(st.sampled_from(["MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"]))
    return metric, m, dim, n_elem, offsets, seed


@settings(max_examples=120, deadline=None)
@given(maxsim_case())
def test_maxsim_property(case) -> None:
    metric, m, dim, n_elem, offsets, seed = case
    rng = np.random.default_rng(seed)
    elements = rng.normal(size=(n_elem, dim)).astype(np.float32)
    query = rng.normal(size=(m, dim)).astype(np.float32)
    scores, best = maxsim_scores(metric, query, elements, offsets, return_best=True)
    want, want_best = naive_maxsim(metric, query, elements, offsets)
    assert scores.shape == (len(offsets) - 1,)
    empty = np.diff(offsets) == 0
    assert np.all(np.isnan(scores[empty])) and np.all(best[empty] == -1)
    np.testing.assert_allclose(scores[~empty], want[~empty], rtol=1e-5, atol=1e-5 * m)
    # The best element must be (one of) the best: compare similarities, not indices.
    base = metric.removeprefix("MAX_SIM_")
    pick = min if metric == "MAX_SIM_L2" else max

    def element_best(e: int) -> float:
        return pick(naive_distance(base, qv, elements[e]) for qv in query)

    for i in np.flatnonzero(~empty):
        assert offsets[i] <= best[i] < offsets[i + 1]
        ref = element_best(int(want_best[i]))
        assert abs(element_best(int(best[i])) - ref) <= 1e-5 * (1 + abs(ref))
    plain = maxsim_scores(metric, query, elements, offsets)
    assert isinstance(plain, np.ndarray)
    np.testing.assert_array_equal(plain, scores)


def test_maxsim_errors() -> None:
    with pytest.raises(ParamError, match="MAX_SIM"):
        maxsim_scores("COSINE", np.zeros((1, 2)), np.zeros((3, 2)), np.array([0, 3]))
    with pytest.raises(ParamError, match="non-decreasing"):
        maxsim_scores("MAX_SIM_IP", np.zeros((1, 2)), np.zeros((3, 2)), np.array([0, 3, 1]))
    with pytest.raises(ParamError, match="elements"):
        maxsim_scores("MAX_SIM_IP", np.zeros((1, 2)), np.zeros((3, 2)), np.array([0, 5]))
