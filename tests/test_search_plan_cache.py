"""The checked-search-plan cache (engine/client/search_plan.py): a repeated call shape skips its checks,
but never past a change of the collection's schema, indexes or properties by this or another client,
and refusals stay those of the full checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import MilvusClient
from engine.client.search_plan import plan_key
from engine.errors import ParamError

DIM = 8


def _filled(path: Path, index_type: str, metric: str) -> MilvusClient:
    c = MilvusClient(str(path))
    c.create_collection("c", dimension=DIM, metric_type=metric)
    rng = np.random.default_rng(0)
    c.insert("c", [{"id": i, "vector": rng.standard_normal(DIM).astype(np.float32)} for i in range(300)])
    c.flush("c")
    _reindex(c, index_type, metric)
    return c


def _reindex(c: MilvusClient, index_type: str, metric: str) -> None:
    c.release_collection("c")
    for name in c.list_indexes("c"):
        c.drop_index("c", name)
    ip = c.prepare_index_params()
    ip.add_index("vector", index_type=index_type, metric_type=metric,
                 params={"M": 8, "efConstruction": 40} if index_type == "HNSW" else {})
    c.create_index("c", ip)
    c.load_collection("c")


def test_a_repeated_call_shape_reuses_one_plan(tmp_path: Path) -> None:
    c = _filled(tmp_path / "a.db", "HNSW", "L2")
    q = np.ones(DIM, dtype=np.float32)
    first = c.search("c", [q], limit=5, search_params={"params": {"ef": 32}})
    plans = len(c._search_plans._plans)
    assert plans == 1
    for _ in range(3):
        assert c.search("c", [q], limit=5, search_params={"params": {"ef": 32}}) == first
    assert len(c._search_plans._plans) == plans
    # a filter, a ranker or grouping is never cached
    c.search("c", [q], limit=5, filter="id >= 0", search_params={"params": {"ef": 32}})
    assert len(c._search_plans._plans) == plans


@pytest.mark.parametrize("other_client", [False, True])
def test_an_index_change_invalidates_the_plan(tmp_path: Path, other_client: bool) -> None:
    """ef < limit is accepted on FLAT and refused on HNSW: the cached FLAT plan must not survive a rebuild."""
    path = tmp_path / "b.db"
    c = _filled(path, "FLAT", "L2")
    q = np.ones(DIM, dtype=np.float32)
    before = c.search("c", [q], limit=10, search_params={"params": {"ef": 5}})
    assert len(before[0]) == 10
    changer = MilvusClient(str(path)) if other_client else c
    _reindex(changer, "HNSW", "L2")
    with pytest.raises(ParamError, match=r"ef \(5\) should be larger than or equal to k \(10\)"):
        c.search("c", [q], limit=10, search_params={"params": {"ef": 5}})


@pytest.mark.parametrize("other_client", [False, True])
def test_a_metric_change_invalidates_the_plan(tmp_path: Path, other_client: bool) -> None:
    path = tmp_path / "m.db"
    c = _filled(path, "HNSW", "L2")
    q = np.full(DIM, 0.5, dtype=np.float32)
    l2 = c.search("c", [q], limit=5)
    assert l2[0][0]["distance"] <= l2[0][-1]["distance"]  # L2: smaller is closer
    changer = MilvusClient(str(path)) if other_client else c
    _reindex(changer, "HNSW", "IP")
    ip = c.search("c", [q], limit=5)
    assert ip[0][0]["distance"] >= ip[0][-1]["distance"]  # IP: larger is closer
    fresh = MilvusClient(str(path)).search("c", [q], limit=5)
    assert [h["id"] for h in ip[0]] == [h["id"] for h in fresh[0]]


def test_refusals_after_a_cached_plan_are_those_of_the_full_checks(tmp_path: Path) -> None:
    c = _filled(tmp_path / "r.db", "HNSW", "L2")
    fresh = _filled(tmp_path / "r2.db", "HNSW", "L2")
    q = np.ones(DIM, dtype=np.float32)
    sp = {"params": {"ef": 32}}
    c.search("c", [q], limit=5, search_params=sp)  # now cached
    bad_data: list[object] = [None, [], [np.ones(DIM + 1, dtype=np.float32)], [[float("nan")] * DIM], ["x"]]
    for data in bad_data:
        with pytest.raises(Exception) as cached:
            c.search("c", data, limit=5, search_params=sp)
        with pytest.raises(Exception) as full:
            fresh.search("c", data, limit=5, search_params=sp)
        assert type(cached.value) is type(full.value) and str(cached.value) == str(full.value)
    with pytest.raises(Exception) as cached:
        c.search("c", [q], limit=5, search_params=sp, partition_names=["nope"])
    with pytest.raises(Exception) as full:
        fresh.search("c", [q], limit=5, search_params=sp, partition_names=["nope"])
    assert type(cached.value) is type(full.value) and str(cached.value) == str(full.value)
    c.release_collection("c")
    with pytest.raises(Exception, match="not loaded|load"):
        c.search("c", [q], limit=5, search_params=sp)


def test_plan_keys_keep_exact_types() -> None:
    assert plan_key({"ef": 64}) != plan_key({"ef": "64"})
    assert plan_key({"ef": 64}) != plan_key({"ef": 64.0})
    assert plan_key(1) != plan_key(True)
    assert plan_key([1, 2]) != plan_key((1, 2))
    assert plan_key({"ef": np.int64(64)}) is None  # not a plain value: not cached
    assert plan_key({"ef": 64}) == plan_key({"ef": 64})
