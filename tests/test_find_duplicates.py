"""`MilvusClient.find_duplicates`: the batched self-join finds exactly the pairs an exact oracle finds."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.errors import ParamError
from tests.conftest import embedding_like


def oracle(vecs: np.ndarray, ids: list[int], threshold: float) -> set[tuple[int, int]]:
    sims = vecs @ vecs.T
    return {(ids[i], ids[j]) for i, j in itertools.combinations(range(len(ids)), 2) if sims[i, j] >= threshold}


def planted(n: int, dim: int, copies: int, seed: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Embedding-like rows, plus `copies` near-copies (small noise) of random rows."""
    rng = np.random.default_rng(seed)
    base = embedding_like(n, dim, seed=seed)
    src = rng.choice(n, copies, replace=False)
    near = base[src] + rng.normal(0, 0.01, (copies, dim)).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return np.vstack([base, near]).astype(np.float32), [(int(s), n + i) for i, s in enumerate(src)]


def run(gen: object) -> dict:  # type: ignore[type-arg]
    events = list(gen)  # type: ignore[call-overload]
    assert events[0]["done"] == 0 and all(a["done"] <= b["done"] for a, b in zip(events, events[1:]))
    return events[-1]  # type: ignore[no-any-return]


@pytest.mark.parametrize("index", ["HNSW", "FLAT"])
def test_pairs_equal_the_exact_oracle(tmp_path: Path, index: str) -> None:
    vecs, plants = planted(3000, 32, 40, seed=1)
    c = MilvusClient(str(tmp_path / "d.db"))
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=32)
    ip = c.prepare_index_params()
    ip.add_index("v", index_type=index, metric_type="COSINE")
    c.create_collection("c", schema=s, index_params=ip)
    c.alter_collection_properties("c", {"engine.seal_rows": 1000})
    for i in range(0, len(vecs), 500):
        c.insert("c", [{"id": j, "v": vecs[j]} for j in range(i, min(i + 500, len(vecs)))])
    c.flush("c")
    c.insert("c", [{"id": 10_000, "v": vecs[0]}])  # a growing row identical to row 0
    res = run(c.find_duplicates("c", threshold=0.97, k=5, batch_size=700))
    got = {(a, b) for a, b, _ in res["pairs"]}
    want = oracle(np.vstack([vecs, vecs[:1]]), [*range(len(vecs)), 10_000], 0.97)
    assert got == want and {(0, 10_000)} | set(plants) <= got
    assert all(s >= 0.97 for _, _, s in res["pairs"]) and res["metric"] == "COSINE"
    assert len(res["nearest"]) == len(vecs) + 1 and res["nearest"][10_000][0] == 0
    c.close()


def test_l2_threshold_filter_and_cancel(tmp_path: Path) -> None:
    vecs, plants = planted(500, 8, 10, seed=2)
    c = MilvusClient(str(tmp_path / "d.db"))
    c.create_collection("c", dimension=8, metric_type="L2")
    c.insert("c", [{"id": i, "vector": vecs[i], "even": i % 2 == 0} for i in range(len(vecs))])
    res = run(c.find_duplicates("c", threshold=0.01, k=3))
    d2 = ((vecs[:, None, :] - vecs[None, :, :]) ** 2).sum(-1)
    want = {(i, j) for i, j in itertools.combinations(range(len(vecs)), 2) if d2[i, j] <= 0.01}
    assert {(a, b) for a, b, _ in res["pairs"]} == want and want
    evens = run(c.find_duplicates("c", threshold=0.01, k=3, filter="even == true"))
    assert all(a % 2 == 0 and b % 2 == 0 for a, b, _ in evens["pairs"])
    gen = c.find_duplicates("c", threshold=0.01, batch_size=50)
    next(gen), next(gen)
    gen.close()  # cancelled: nothing to undo, the collection is as it was
    assert c.query("c", filter="", output_fields=["count(*)"])[0]["count(*)"] == len(vecs)
    for bad in ({"threshold": "x"}, {"k": 0}, {"batch_size": True}, {"field": "nope"}, {"filter": "id >"}):
        with pytest.raises(ParamError):
            c.find_duplicates("c", **bad)  # type: ignore[arg-type]
    c.close()


def test_max_sim_compares_whole_entities(tmp_path: Path) -> None:
    c = MilvusClient(str(tmp_path / "d.db"))
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    st = c.create_struct_field_schema()
    st.add_field("e", DataType.FLOAT_VECTOR, dim=16)
    s.add_field("views", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=8)
    ip = c.prepare_index_params()
    ip.add_index("views[e]", index_type="HNSW", metric_type="MAX_SIM_COSINE")
    c.create_collection("c", schema=s, index_params=ip)
    lists = [embedding_like(3, 16, seed=100 + i) for i in range(60)]
    lists.append(lists[7][::-1].copy())  # entity 60: the same views as entity 7, in another order
    c.insert("c", [{"id": i, "views": [{"e": v} for v in vs]} for i, vs in enumerate(lists)])
    res = run(c.find_duplicates("c", field="views[e]", threshold=2.99, k=3))
    assert [(a, b) for a, b, _ in res["pairs"]] == [(7, 60)] and res["metric"] == "MAX_SIM_COSINE"
    c.close()
