"""engine.vectors.rankers: pymilvus-compatible rankers and Milvus's fusion scoring."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ParamError
from engine.vectors.rankers import RRFRanker, WeightedRanker, fuse


def norm(metric: str, d: float) -> float:
    if metric == "COSINE":
        return (1 + d) / 2
    if metric == "IP":
        return 0.5 + math.atan(d) / math.pi
    return 1 - 2 * math.atan(d) / math.pi


def oracle_rrf(lists, k):
    scores: dict = {}
    for results in lists:
        for rank, (pk, _) in enumerate(results, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (k + rank)
    return scores


def oracle_weighted(lists, metrics, weights):
    scores: dict = {}
    for w, results, metric in zip(weights, lists, metrics):
        for pk, d in results:
            scores[pk] = scores.get(pk, 0.0) + w * norm(metric, d)
    return scores


def check(got, scores, limit, offset, descending=True):
    sign = -1 if descending else 1
    want = sorted(scores.items(), key=lambda kv: (sign * kv[1], kv[0]))[offset : offset + limit]
    assert len(got) == len(want)
    for (gpk, gs), (wpk, ws) in zip(got, want):
        assert abs(gs - ws) <= 1e-6 * (1 + abs(ws))
        if gpk != wpk:  # only acceptable when the oracle scores tie to float32 precision
            assert abs(scores[gpk] - scores[wpk]) <= 1e-6 * (1 + abs(ws))


def test_dict_matches_pymilvus() -> None:
    pm = pytest.importorskip("pymilvus")
    assert RRFRanker().dict() == pm.RRFRanker().dict()
    assert RRFRanker(100).dict() == pm.RRFRanker(100).dict()
    assert WeightedRanker(0.2, 0.8).dict() == pm.WeightedRanker(0.2, 0.8).dict()
    assert WeightedRanker(1, norm_score=False).dict() == pm.WeightedRanker(1, norm_score=False).dict()
    assert str(RRFRanker(5)) == str(pm.RRFRanker(5))


def test_rrf_example() -> None:
    lists = [[(1, 0.9), (2, 0.8), (3, 0.1)], [(3, 0.5), (1, 0.4)]]
    got = fuse(lists, ["IP", "L2"], RRFRanker(60), limit=10)
    assert [pk for pk, _ in got] == [1, 3, 2]
    assert got[0][1] == pytest.approx(1 / 61 + 1 / 62, rel=1e-6)
    assert got[1][1] == pytest.approx(1 / 63 + 1 / 61, rel=1e-6)
    assert fuse(lists, ["IP", "L2"], RRFRanker(60), limit=1, offset=1) == got[1:2]


def test_weighted_example_mixed_metrics() -> None:
    lists = [[("a", 2.0), ("b", -1.0)], [("b", 0.3), ("c", 5.0)]]
    got = fuse(lists, ["IP", "L2"], WeightedRanker(0.7, 0.3), limit=5)
    want = {
        "a": 0.7 * norm("IP", 2.0),
        "b": 0.7 * norm("IP", -1.0) + 0.3 * norm("L2", 0.3),
        "c": 0.3 * norm("L2", 5.0),
    }
    check(got, want, 5, 0)


def test_weighted_cosine() -> None:
    lists = [[(1, 0.9), (2, 0.2)], [(2, 0.95)]]
    got = fuse(lists, ["COSINE", "COSINE"], WeightedRanker(0.5, 0.5), limit=5)
    check(got, {1: 0.5 * 0.95, 2: 0.5 * 0.6 + 0.5 * 0.975}, 5, 0)


def test_weighted_without_normalisation() -> None:
    # All distances, no normalisation: raw weighted sum, ascending.
    lists = [[(1, 1.0), (2, 3.0)], [(2, 0.5), (3, 2.0)]]
    got = fuse(lists, ["L2", "L2"], WeightedRanker(1.0, 1.0, norm_score=False), limit=5)
    check(got, {1: 1.0, 2: 3.5, 3: 2.0}, 5, 0, descending=False)
    # Mixed: the L2 side is flipped with 1 - 2 atan(d)/pi, the IP side stays raw.
    got = fuse(
        [[(1, 4.0)], [(1, 1.0), (2, 0.0)]], ["IP", "L2"], WeightedRanker(0.5, 1.0, norm_score=False), 5
    )
    check(got, {1: 0.5 * 4.0 + norm("L2", 1.0), 2: 1.0}, 5, 0)
    # All similarities, no normalisation: raw sum, descending.
    got = fuse([[(1, 4.0), (2, 9.0)]], ["IP"], WeightedRanker(0.5, norm_score=False), 5)
    check(got, {1: 2.0, 2: 4.5}, 5, 0)


def test_ties_break_by_pk() -> None:
    lists = [[(5, 0.0), (3, 0.0)], [(3, 0.0), (5, 0.0)]]
    assert [pk for pk, _ in fuse(lists, ["L2", "L2"], RRFRanker(), 10)] == [3, 5]
    assert [pk for pk, _ in fuse(lists, ["L2", "L2"], WeightedRanker(1, 1), 10)] == [3, 5]


def test_validation() -> None:
    lists = [[(1, 0.1)], [(1, 0.2)]]
    with pytest.raises(ParamError, match="weights but the hybrid search has 2"):
        fuse(lists, ["IP", "IP"], WeightedRanker(0.5), 10)
    with pytest.raises(ParamError, match=r"range \[0, 1\]"):
        fuse(lists, ["IP", "IP"], WeightedRanker(0.5, 1.5), 10)
    with pytest.raises(ParamError, match=r"range \[0, 1\]"):
        fuse(lists, ["IP", "IP"], WeightedRanker(-0.1, 0.5), 10)
    for bad in (0, -1, 16384, 20000):
        with pytest.raises(ParamError, match=r"\(0, 16384\)"):
            fuse(lists, ["IP", "IP"], RRFRanker(bad), 10)
    with pytest.raises(TypeError):  # as in pymilvus, and a MilvusException
        WeightedRanker(0.5, "x")  # type: ignore[arg-type]
    with pytest.raises(ParamError, match="'x' is not a number"):
        WeightedRanker(0.5, "x")  # type: ignore[arg-type]
    with pytest.raises(ParamError, match="metric types"):
        fuse(lists, ["IP"], RRFRanker(), 10)
    assert fuse(lists, ["IP", "IP"], RRFRanker(16383.5), 10)[0][0] == 1


result_lists = st.lists(
    st.lists(
        st.tuples(st.integers(0, 30), st.floats(-50, 50, allow_nan=False, width=32)),
        max_size=12,
        unique_by=lambda t: t[0],
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(lists=result_lists, k=st.integers(1, 200), limit=st.integers(0, 20), offset=st.integers(0, 5))
def test_rrf_property(lists, k, limit, offset) -> None:
    got = fuse(lists, ["L2"] * len(lists), RRFRanker(k), limit, offset)
    check(got, oracle_rrf(lists, k), limit, offset)


@settings(max_examples=150, deadline=None)
@given(
    lists=result_lists,
    data=st.data(),
    limit=st.integers(0, 20),
    offset=st.integers(0, 5),
)
def test_weighted_property(lists, data, limit, offset) -> None:
    metrics = data.draw(
        st.lists(st.sampled_from(["L2", "IP", "COSINE"]), min_size=len(lists), max_size=len(lists))
    )
    weights = data.draw(st.lists(st.floats(0, 1), min_size=len(lists), max_size=len(lists)))
    lists = [
        [(pk, max(-1.0, min(1.0, d)) if m == "COSINE" else d) for pk, d in r] for r, m in zip(lists, metrics)
    ]
    got = fuse(lists, metrics, WeightedRanker(*weights), limit, offset)
    check(got, oracle_weighted(lists, metrics, weights), limit, offset)
