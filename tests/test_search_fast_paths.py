"""The one-query and one-segment fast paths of a search give exactly what the general paths give (issue 12).

* `HNSWIndex.search` of one unfiltered query (`_search_one`) against the same query searched in a batch
  (the general path): same ids, bit-identical distances, for every metric and raw/normalised COSINE.
* `executor.search_hits` (hits straight from one segment's arrays) against `search_segments` + `to_hits`:
  ties broken by primary key, padding, unordered input, offset.
* `MilvusClient.search` with a cached plan, one and several segments, against exact scoring.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.executor import OutputPlan, search_hits, search_segments, to_hits
from engine.index.hnsw import HNSWIndex
from engine.schema import CollectionSchema, FieldSchema


def _data(n: int, d: int, unit: bool, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True) if unit else x


@pytest.mark.parametrize("metric,unit", [("L2", False), ("IP", False), ("COSINE", False), ("COSINE", True)])
def test_one_query_path_matches_the_batch_path(metric: str, unit: bool) -> None:
    x = _data(600, 16, unit)
    ix = HNSWIndex(metric, {"M": 8, "efConstruction": 64})
    ix.use_raw_cosine_if_unit(x)
    ix.build(x)
    assert ix.raw_cosine == (metric == "COSINE" and unit)
    qs = _data(20, 16, False, seed=1) * 3.0
    for i, q in enumerate(qs):
        one = ix.search(q.reshape(1, -1), 10, search_params={"ef": 40})
        batch = ix.search(np.stack([q, qs[(i + 1) % len(qs)]]), 10, search_params={"ef": 40})
        assert one[0].dtype == np.int64 and one[0].shape == (1, 10)
        assert one[0].tolist() == batch[0][:1].tolist()
        assert one[1].tobytes() == batch[1][:1].tobytes()  # bit for bit


def test_one_query_path_hands_special_cases_to_the_general_path() -> None:
    x = _data(50, 8, True)
    ix = HNSWIndex("COSINE", {"M": 8, "efConstruction": 32})
    ix.build(x)
    zero = ix.search(np.zeros((1, 8), np.float32), 5)  # a zero query: cosine 0 with every row
    assert zero[0].shape == (1, 5) and np.all(zero[1] == 0)
    ids, _ = ix.search(x[:1], 80)  # k beyond the index: padded
    assert ids.shape == (1, 80) and (ids[0, 50:] == -1).all() and sorted(ids[0, :50].tolist()) == list(range(50))
    ids64, d64 = ix.search(x[:1].astype(np.float64), 3)
    assert ids64[0, 0] == 0 and d64[0, 0] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(Exception, match="dimension"):
        ix.search(np.ones((1, 9), np.float32), 3)
    with pytest.raises(Exception, match="ef"):
        ix.search(x[:1], 10, search_params={"ef": 5})


def _segment(pks: list[Any]) -> Any:
    column = np.array(pks, dtype=object if isinstance(pks[0], str) else np.int64)
    return SimpleNamespace(data=SimpleNamespace(num_rows=len(pks), pk_column=lambda: column))


def _schema(pk_type: DataType) -> CollectionSchema:
    pk = FieldSchema("pk", pk_type, is_primary=True, max_length=16) if pk_type == DataType.VARCHAR else \
        FieldSchema("pk", pk_type, is_primary=True)
    return CollectionSchema([pk, FieldSchema("v", DataType.FLOAT_VECTOR, dim=2)])


@pytest.mark.parametrize("metric", ["COSINE", "L2"])
@pytest.mark.parametrize("pk_type", [DataType.INT64, DataType.VARCHAR])
@pytest.mark.parametrize("offset", [0, 2])
def test_hits_from_arrays_match_candidates(metric: str, pk_type: DataType, offset: int) -> None:
    rng = np.random.default_rng(3)
    pks: list[Any] = [int(v) for v in rng.permutation(40) + 100]
    if pk_type == DataType.VARCHAR:
        pks = [f"k{v}" for v in pks]
    seg = _segment(pks)
    schema = _schema(pk_type)
    plan = OutputPlan(["pk"], {}, None, False, pk_requested=False)
    cases = [
        ([3, 1, 2, 0, 5], [0.9, 0.5, 0.5, 0.5, 0.1]),  # ties: ordered by primary key
        ([7, 8, 9, -1, -1], [0.3, 0.2, 0.2, 0.0, 0.0]),  # padded
        ([4, 6, 2, 1, 0], [0.1, 0.7, 0.4, 0.4, 0.9]),  # unordered
        ([10, 11, 12, 13, 14, 15], [0.5] * 6),  # more than k, all tied
    ]
    for rows, dists in cases:
        d = np.array([dists], np.float32) if metric == "COSINE" else -np.array([dists], np.float32)
        ids = np.array([rows], np.int64)

        def searcher(s: Any, mask: Any, k: int, ids: np.ndarray = ids, d: np.ndarray = d) -> Any:
            return ids, d

        k = 5
        fast = search_hits([seg], [None], 1, k, metric, searcher, "pk", offset)
        slow = [to_hits(schema, c[offset:], plan) for c in search_segments([seg], [None], 1, k, metric, searcher)]
        assert fast is not None
        assert [[(h["pk"], h["distance"]) for h in p] for p in fast] == \
            [[(h["pk"], h["distance"]) for h in p] for p in slow]
    empty = _segment([1])
    empty.data.num_rows = 0
    assert search_hits([seg, seg], [None, None], 1, 5, metric, searcher, "pk", 0) is None  # several: merged
    assert search_hits([empty, seg], [None, np.zeros(40, bool)], 1, 5, metric, searcher, "pk", 0) is None


@pytest.mark.parametrize("batches", [1, 3])
def test_planned_search_matches_exact_scoring(tmp_path: Path, batches: int) -> None:
    x = _data(900, 16, True, seed=5)
    c = MilvusClient(str(tmp_path / "db"))
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=16)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
    c.create_collection("c", schema=s, index_params=ip)
    step = len(x) // batches
    for b in range(batches):
        c.insert("c", [{"id": i, "vec": x[i]} for i in range(b * step, (b + 1) * step)])
        c.flush("c")
    c.delete("c", ids=[0, 1, 2])
    alive = np.arange(3, len(x))
    for qi in range(5):
        q = x[10 + qi] + 0.05
        for _ in range(2):  # the second call takes the cached plan
            r = c.search("c", data=[q], anns_field="vec", limit=5, search_params={"params": {"ef": 400}})
        got = [h["id"] for h in r[0]]
        cos = x[alive] @ q / np.linalg.norm(q)
        want = alive[np.argsort(-cos, kind="stable")[:5]].tolist()
        assert got == want
        assert [h["distance"] for h in r[0]] == pytest.approx(np.sort(cos)[::-1][:5].tolist(), abs=1e-5)
        for _ in range(2):
            paged = c.search("c", data=[q], anns_field="vec", limit=3,
                             search_params={"params": {"ef": 400}, "offset": 2})
            assert [h["id"] for h in paged[0]] == want[2:5]


def test_one_query_re_rank_matches_the_batch_path() -> None:
    """Near-unit vectors (norms 1 +- 9e-4) stored as given: hnswlib's inner-product order is re-ranked by cosine."""
    rng = np.random.default_rng(0)
    x = _data(2000, 8, True)
    x *= (1 + rng.uniform(-9e-4, 9e-4, (len(x), 1))).astype(np.float32)
    ix = HNSWIndex("COSINE")
    assert ix.use_raw_cosine_if_unit(x)
    ix.build(x)
    re_ranked = 0
    for q in rng.standard_normal((30, 8)).astype(np.float32):
        one = ix.search(q[None], 10, search_params={"ef": 64})
        batch = ix.search(np.stack([q, q]), 10, search_params={"ef": 64})
        assert one[0].tolist() == batch[0][:1].tolist() and one[1].tobytes() == batch[1][:1].tobytes()
        assert np.all(one[1][0, :-1] >= one[1][0, 1:])
        labels, dist = ix._index.knn_query(q[None], k=64)
        sim = (1 - dist) * ix._inverse_norms()[labels]
        re_ranked += bool((sim[:, 1:] > sim[:, :-1]).any())
    assert re_ranked > 0  # the re-rank branch ran


@pytest.mark.parametrize("metric,unit,wobble", [("L2", False, 0.0), ("IP", False, 0.0), ("COSINE", False, 0.0),
                                                ("COSINE", True, 0.0), ("COSINE", True, 9e-4)])
def test_one_query_lists_match_the_batch_path(metric: str, unit: bool, wobble: float) -> None:
    """`search_one_lists` (the repeat-search path): the batch path's ids and distances, as lists, bit for bit;
    with near-unit stored vectors (`wobble`) its re-rank runs too."""
    rng = np.random.default_rng(4)
    x = _data(1500, 8, unit)
    if wobble:
        x *= (1 + rng.uniform(-wobble, wobble, (len(x), 1))).astype(np.float32)
    ix = HNSWIndex(metric, {"M": 8, "efConstruction": 64})
    ix.use_raw_cosine_if_unit(x)
    ix.build(x)
    assert ix.raw_cosine == (metric == "COSINE" and unit)
    re_ranked = 0
    for i, q in enumerate(rng.standard_normal((40, 8)).astype(np.float32) * 2.0):
        lists = ix.search_one_lists(q[None] if i % 2 else q, 10, 48)  # (1, dim) and (dim,)
        batch = ix.search(np.stack([q, -q]), 10, search_params={"ef": 48})
        assert lists is not None
        assert lists[0] == batch[0][0].tolist()
        assert np.array(lists[1], dtype=np.float32).tobytes() == batch[1][0].tobytes()
        if ix.raw_cosine:
            labels, dist = ix._index.knn_query(q[None], k=48)
            sim = (1 - dist) * ix._inverse_norms()[labels]
            re_ranked += bool((sim[:, 1:] > sim[:, :-1]).any())
    assert re_ranked > 0 or not wobble
    # what it leaves to the full checks: not finite, zero, a squared norm beyond float32, k beyond the index
    for bad in ([np.nan] + [0.0] * 7, [np.inf] + [0.0] * 7, [0.0] * 8, [3e19] * 8):
        assert ix.search_one_lists(np.array([bad], np.float32), 10, 48) is None
    assert ix.search_one_lists(x[:1], 2000, 2000) is None
    assert ix.search_one_lists(np.ones((1, 9), np.float32), 10, 48) is None
