"""Search, MAX_SIM and hybrid search equal an independent numpy oracle (to 1e-5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import AnnSearchRequest, DataType, EmbeddingList, MilvusClient, RRFRanker, WeightedRanker
from tests.conftest import embedding_like


def oracle_scores(metric: str, q: np.ndarray, base: np.ndarray) -> np.ndarray:
    q64, b64 = q.astype(np.float64), base.astype(np.float64)
    if metric == "L2":
        return ((q64[:, None, :] - b64[None, :, :]) ** 2).sum(-1)
    if metric == "IP":
        return q64 @ b64.T
    qn = q64 / np.linalg.norm(q64, axis=1, keepdims=True)
    bn = b64 / np.linalg.norm(b64, axis=1, keepdims=True)
    return qn @ bn.T


def oracle_topk(scores: np.ndarray, ids: np.ndarray, k: int, larger: bool) -> list[list[tuple[int, float]]]:
    out = []
    for row in scores:
        order = sorted(range(len(row)), key=lambda j: (-row[j] if larger else row[j], ids[j]))[:k]
        out.append([(int(ids[j]), float(row[j])) for j in order])
    return out


@pytest.fixture
def loaded(client: MilvusClient) -> tuple[MilvusClient, np.ndarray, np.ndarray]:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=32)
    s.add_field("label", DataType.INT64)
    client.create_collection("c", schema=s)
    client.alter_collection_properties("c", {"engine.seal_rows": 700})  # several sealed segments plus a growing one
    vecs = embedding_like(2000, 32, seed=1)
    rng = np.random.default_rng(2)
    vecs[:500] *= rng.uniform(0.5, 2.0, (500, 1)).astype(np.float32)  # not all unit length (IP != COSINE)
    labels = rng.integers(0, 10, 2000)
    for start in range(0, 2000, 250):
        client.insert("c", [{"id": i, "vec": vecs[i], "label": int(labels[i])} for i in range(start, start + 250)])
    return client, vecs, labels


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_exact_search_matches_oracle(loaded: tuple, metric: str) -> None:
    client, vecs, labels = loaded
    queries = embedding_like(5, 32, seed=9)
    res = client.search("c", data=queries.tolist(), anns_field="vec", limit=10, search_params={"metric_type": metric},
                        output_fields=["label"])
    expect = oracle_topk(oracle_scores(metric, queries, vecs), np.arange(2000), 10, metric != "L2")
    for hits, exp in zip(res, expect):
        assert [h["id"] for h in hits] == [e[0] for e in exp]
        np.testing.assert_allclose([h["distance"] for h in hits], [e[1] for e in exp], rtol=1e-5, atol=1e-5)
        assert all(h["entity"]["label"] == labels[h["id"]] for h in hits)


def test_offset_and_deletes(loaded: tuple) -> None:
    client, vecs, _ = loaded
    q = vecs[:1]
    client.delete("c", ids=[0, 5])
    res = client.search("c", data=q, limit=5, offset=3, search_params={"metric_type": "COSINE"})
    live = np.setdiff1d(np.arange(2000), [0, 5])
    exp = oracle_topk(oracle_scores("COSINE", q, vecs[live]), live, 8, True)[0][3:8]
    assert [h["id"] for h in res[0]] == [e[0] for e in exp]


def test_range_search(loaded: tuple) -> None:
    client, vecs, _ = loaded
    q = vecs[10:11]
    res = client.search("c", data=q, limit=50, search_params={"metric_type": "COSINE", "params": {"radius": 0.8, "range_filter": 0.99}})
    sims = oracle_scores("COSINE", q, vecs)[0]
    expected = {i for i in range(2000) if 0.8 < sims[i] <= 0.99}
    got = {h["id"] for h in res[0]}
    assert got <= expected and len(got) == min(50, len(expected))


def test_binary_metrics(client: MilvusClient) -> None:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("bits", DataType.BINARY_VECTOR, dim=64)
    client.create_collection("b", schema=s)
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    client.insert("b", [{"id": i, "bits": data[i].tobytes()} for i in range(300)])
    q = data[7]
    bits = np.unpackbits(data, axis=1).astype(int)
    qb = np.unpackbits(q).astype(int)
    ham = (bits != qb).sum(1)
    inter = (bits & qb).sum(1)
    union = (bits | qb).sum(1)
    jac = 1 - inter / union
    for metric, d in (("HAMMING", ham), ("JACCARD", jac)):
        res = client.search("b", data=[q.tobytes()], limit=5, search_params={"metric_type": metric})
        exp = sorted(range(300), key=lambda i: (d[i], i))[:5]
        assert [h["id"] for h in res[0]] == exp
        np.testing.assert_allclose([h["distance"] for h in res[0]], d[exp], atol=1e-5)


def maxsim_oracle(metric: str, q: np.ndarray, elems: list[np.ndarray]) -> float:
    total = 0.0
    for qv in q.astype(np.float64):
        best = None
        for e in elems:
            e = e.astype(np.float64)
            if metric == "MAX_SIM_L2":
                v = float(((qv - e) ** 2).sum())
                best = v if best is None else min(best, v)
            else:
                if metric == "MAX_SIM_COSINE":
                    v = float(qv @ e / (np.linalg.norm(qv) * np.linalg.norm(e)))
                else:
                    v = float(qv @ e)
                best = v if best is None else max(best, v)
        total += best  # type: ignore[operator]
    return total


@pytest.mark.parametrize("metric", ["MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"])
def test_maxsim_matches_oracle(client: MilvusClient, metric: str) -> None:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("title", DataType.VARCHAR, max_length=20)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=20)
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=16)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=50)
    ip = client.prepare_index_params()
    ip.add_index("chunks[emb]", index_type="HNSW", metric_type=metric, params={"M": 16, "efConstruction": 100})
    client.create_collection("m", schema=s, index_params=ip)
    client.alter_collection_properties("m", {"engine.seal_rows": 120})
    rng = np.random.default_rng(5)
    pool = embedding_like(6000, 16, seed=4)
    elems, rows, pos = [], [], 0
    for i in range(300):
        n = int(rng.integers(1, 20))
        e = pool[pos : pos + n] * rng.uniform(0.5, 1.5)
        pos += n
        elems.append(e)
        rows.append({"id": i, "title": f"t{i}", "chunks": [{"text": f"c{j}", "emb": e[j]} for j in range(n)]})
    client.insert("m", rows[:200])
    client.flush("m")
    client.insert("m", rows[200:])
    client.delete("m", ids=[3])
    queries = []
    for nq in (1, 3, 8):
        el = EmbeddingList()
        for v in embedding_like(nq, 16, seed=100 + nq):
            el.add(v)
        queries.append(el)
    res = client.search("m", data=queries, anns_field="chunks[emb]", limit=7, search_params={"metric_type": metric},
                        output_fields=["title"])
    live = [i for i in range(300) if i != 3]
    for el, hits in zip(queries, res):
        q = el.to_numpy()
        scores = {i: maxsim_oracle(metric, q, list(elems[i])) for i in live}
        larger = metric != "MAX_SIM_L2"
        exp = sorted(live, key=lambda i: (-scores[i] if larger else scores[i], i))[:7]
        assert [h["id"] for h in hits] == exp
        np.testing.assert_allclose([h["distance"] for h in hits], [scores[i] for i in exp], rtol=1e-5, atol=1e-5)
        assert all(h["entity"] == {"title": f"t{h['id']}"} for h in hits)


def test_hybrid_search_rrf_and_weighted(loaded: tuple) -> None:
    client, vecs, _ = loaded
    q1, q2 = vecs[100:101], vecs[200:201]
    r1 = AnnSearchRequest(q1.tolist(), "vec", {"metric_type": "COSINE"}, 20)
    r2 = AnnSearchRequest(q2.tolist(), "vec", {"metric_type": "COSINE"}, 20)
    ids = np.arange(2000)
    l1 = oracle_topk(oracle_scores("COSINE", q1, vecs), ids, 20, True)[0]
    l2 = oracle_topk(oracle_scores("COSINE", q2, vecs), ids, 20, True)[0]
    rrf: dict[int, float] = {}
    for lst in (l1, l2):
        for rank, (pk, _) in enumerate(lst, start=1):
            rrf[pk] = rrf.get(pk, 0.0) + 1.0 / (60 + rank)
    exp = sorted(rrf, key=lambda p: (-rrf[p], p))[:5]
    res = client.hybrid_search("c", [r1, r2], RRFRanker(60), limit=5, output_fields=["label"])
    assert [h["id"] for h in res[0]] == exp
    np.testing.assert_allclose([h["distance"] for h in res[0]], [rrf[p] for p in exp], rtol=1e-5)
    w: dict[int, float] = {}
    for weight, lst in ((0.7, l1), (0.3, l2)):
        for pk, d in lst:
            w[pk] = w.get(pk, 0.0) + weight * (1 + d) / 2  # COSINE normalised to [0, 1]
    exp_w = sorted(w, key=lambda p: (-w[p], p))[:5]
    res = client.hybrid_search("c", [r1, r2], WeightedRanker(0.7, 0.3), limit=5)
    assert [h["id"] for h in res[0]] == exp_w
    np.testing.assert_allclose([h["distance"] for h in res[0]], [w[p] for p in exp_w], rtol=1e-5)
    assert not math.isnan(res[0][0].score)


def test_metric_mismatch_and_bad_queries(client: MilvusClient) -> None:
    client.create_collection("x", dimension=4, metric_type="L2")
    client.insert("x", [{"id": 1, "vector": [1, 2, 3, 4]}])
    with pytest.raises(Exception, match="metric type not match"):
        client.search("x", data=[[1, 2, 3, 4]], search_params={"metric_type": "IP"})
    with pytest.raises(Exception, match="dimension 3"):
        client.search("x", data=[[1, 2, 3]])
    with pytest.raises(Exception, match="NaN"):
        client.search("x", data=[[1, 2, float("nan"), 4]])
    with pytest.raises(Exception, match="limit must be"):
        client.search("x", data=[[1, 2, 3, 4]], limit=0)
