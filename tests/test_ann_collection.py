"""ANN indexes through the client: recall against exact search, filtered recall at every
selectivity, index lifecycle, compaction while searching, grouping, and inspection data."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine import DataType, EmbeddingList, MilvusClient
from engine.errors import ParamError
from tests.conftest import embedding_like

N, DIM = 6000, 64


def exact_ids(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[set[int]]:
    sims = q @ vecs.T
    order = np.argsort(-sims, axis=1)[:, :k]
    return [set(ids[o].tolist()) for o in order]


@pytest.fixture
def indexed(client: MilvusClient) -> tuple[MilvusClient, np.ndarray, np.ndarray]:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("bucket", DataType.INT64)
    s.add_field("label", DataType.VARCHAR, max_length=8)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 100})
    client.create_collection("c", schema=s, index_params=ip)
    client.alter_collection_properties("c", {"engine.seal_rows": 1500})  # 1,000-row batches: three sealed segments of 2,000
    vecs = embedding_like(N, DIM, seed=11)
    buckets = np.arange(N) % 1000
    for start in range(0, N, 1000):
        client.insert("c", [{"id": i, "vec": vecs[i], "bucket": int(buckets[i]), "label": f"l{i % 10}"}
                            for i in range(start, start + 1000)])
    client.flush("c")
    return client, vecs, buckets


def test_flush_indexes_every_sealed_segment(indexed: tuple) -> None:
    client, _, _ = indexed
    info = client.describe_index("c", "vec")
    assert info["indexed_rows"] == N and info["pending_index_rows"] == 0 and info["state"] == "Finished"
    segs = client.list_persistent_segments("c")
    assert sum(s.num_rows for s in segs) == N and all(s.state == "Sealed" for s in segs)
    assert all(s.index_states == {"vec": "Finished"} for s in segs)
    client.insert("c", [{"id": N + 1, "vec": np.ones(DIM), "bucket": 1, "label": "x"}])
    info = client.describe_index("c", "vec")
    assert info["pending_index_rows"] == 1  # growing rows are searched exactly until sealed


def test_recall_against_exact(indexed: tuple) -> None:
    client, vecs, _ = indexed
    q = embedding_like(50, DIM, seed=12)
    truth = exact_ids(vecs, np.arange(N), q, 10)
    res = client.search("c", data=q, limit=10, search_params={"params": {"ef": 64}})
    recall = np.mean([len(t & {h["id"] for h in r}) / 10 for t, r in zip(truth, res)])
    assert recall >= 0.95


@pytest.mark.parametrize(("expr", "bound"), [("bucket < 1", 1), ("bucket < 10", 10), ("bucket < 100", 100),
                                             ("bucket < 500", 500), ("bucket >= 0", 1000)])
def test_filtered_recall_every_selectivity(indexed: tuple, expr: str, bound: int) -> None:
    client, vecs, buckets = indexed
    keep = np.flatnonzero(buckets < bound)
    q = embedding_like(30, DIM, seed=13)
    k = min(10, len(keep))
    truth = exact_ids(vecs[keep], keep, q, k)
    res = client.search("c", data=q, limit=10, filter=expr, output_fields=["bucket"])
    assert all(h["entity"]["bucket"] < bound for r in res for h in r)
    recall = np.mean([len(t & {h["id"] for h in r}) / k for t, r in zip(truth, res)])
    assert recall >= 0.95, (expr, recall)


def test_index_survives_reopen_and_drop(db_path: Path, indexed: tuple) -> None:
    client, vecs, _ = indexed
    before = client.search("c", data=vecs[:3], limit=5)
    client.close()
    c2 = MilvusClient(str(db_path))
    coll = c2._db.get("c")
    assert coll.indexes.memory_bytes() == 0  # nothing loaded at open
    after = c2.search("c", data=vecs[:3], limit=5)
    assert [[h["id"] for h in r] for r in after] == [[h["id"] for h in r] for r in before]
    assert coll.indexes.memory_bytes() > 0
    idx_dirs = list((coll.seg_dir).glob("*.idx/*"))
    assert idx_dirs
    c2.drop_index("c", "vec")
    assert not any(p.exists() for p in idx_dirs)
    assert c2.list_indexes("c") == []
    assert [h["id"] for h in c2.search("c", data=vecs[:1], limit=5)[0]] == [h["id"] for h in before[0]]
    c2.close()


def test_create_index_on_existing_data_yields_progress(client: MilvusClient) -> None:
    client.create_collection("p", dimension=16)
    client.drop_index("p", "vector")
    client.alter_collection_properties("p", {"engine.seal_rows": 250})
    vecs = embedding_like(1000, 16, seed=3)
    for start in range(0, 1000, 250):
        client.insert("p", [{"id": i, "vector": vecs[i]} for i in range(start, start + 250)])
    client.flush("p")
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="IVF_FLAT", metric_type="COSINE", params={"nlist": 16})
    events = list(client.create_index_iter("p", ip))
    assert events and events[-1].segments_done == events[-1].segments_total == 4
    assert client.describe_index("p", "vector")["indexed_rows"] == 1000
    res = client.search("p", data=vecs[:5], limit=1, search_params={"params": {"nprobe": 16}})
    assert [r[0]["id"] for r in res] == [0, 1, 2, 3, 4]


def test_bad_index_params_are_refused(client: MilvusClient) -> None:
    client.create_collection("b", dimension=4)
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 0})
    with pytest.raises(ParamError, match="M"):
        client.create_index("b", ip)
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="DISKANN", metric_type="COSINE")
    with pytest.raises(NotImplementedError, match="DISKANN"):
        client.create_index("b", ip)


def test_compaction_merges_and_purges_while_searching(indexed: tuple) -> None:
    client, vecs, _ = indexed
    client.delete("c", ids=list(range(0, 3000, 2)))
    live = np.setdiff1d(np.arange(N), np.arange(0, 3000, 2))
    q = vecs[3001:3006]
    expected = [[h["id"] for h in r] for r in client.search("c", data=q, limit=5, search_params={"params": {"ef": 128}})]
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                r = client.search("c", data=q, limit=5, search_params={"params": {"ef": 128}})
                assert all(h["id"] in set(live.tolist()) for hits in r for h in hits)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=searcher)
    t.start()
    segs_before = client.list_persistent_segments("c")
    job = client.compact("c")
    stop.set()
    t.join()
    assert not errors
    assert client.get_compaction_state(job) == "Completed"
    segs_after = client.list_persistent_segments("c")
    assert sum(s.deleted_rows for s in segs_before) == 1500 and len(segs_before) == 1
    assert sum(s.deleted_rows for s in segs_after) == 0
    assert sum(s.num_rows for s in segs_after) == len(live)
    assert len(segs_after) == 1 and segs_after[0].compaction_from == [segs_before[0].segment_id]
    assert all(s.index_states == {"vec": "Finished"} for s in segs_after)
    got = [[h["id"] for h in r] for r in client.search("c", data=q, limit=5, search_params={"params": {"ef": 128}})]
    assert got == expected
    assert client.get_collection_stats("c")["row_count"] == len(live)


def test_group_by_and_range_and_iterator(indexed: tuple) -> None:
    client, vecs, _ = indexed
    res = client.search("c", data=vecs[:1], limit=3, group_by_field="label", group_size=2, output_fields=["bucket"])
    labels = [h["entity"]["label"] for h in res[0]]
    assert len(res[0]) == 6 and len(set(labels)) == 3 and all(labels.count(v) == 2 for v in set(labels))
    it = client.search_iterator("c", data=vecs[0], batch_size=7, limit=20)
    pages = []
    while page := it.next():
        pages.append(page)
    flat = [h["id"] for p in pages for h in p]
    assert [len(p) for p in pages] == [7, 7, 6] and len(set(flat)) == 20
    top20 = [h["id"] for h in client.search("c", data=vecs[:1], limit=20)[0]]
    assert flat == top20


def test_inspection_data(indexed: tuple) -> None:
    client, _, _ = indexed
    stats = client.index_stats("c", "vec")  # the three sealed segments were merged into one, its graph extended
    assert len(stats) == 1 and stats[0]["rows"] == N and all(s["memory_bytes"] > 0 for s in stats)
    assert all(s["level_counts"][0] == s["rows"] for s in stats)
    points = client.recall_check("c", "vec", k=10, ef_values=(16, 128), n_queries=20)
    assert [p.ef for p in points] == [16, 128] and points[1].recall >= 0.95 and points[1].p50_ms > 0
    it = client.recall_check_iter("c", "vec", n_queries=5)
    first = next(it)
    assert first["done"] == 1
    it.close()  # cancelling is stopping the generator
    mem = client.memory_usage("c")
    assert mem["indexes"] > 0 and mem["total"] >= mem["indexes"]


def test_maxsim_index_recall(client: MilvusClient) -> None:
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    st = MilvusClient.create_struct_field_schema()
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=32)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=64)
    ip = client.prepare_index_params()
    ip.add_index("chunks[emb]", index_type="HNSW", metric_type="MAX_SIM_COSINE", params={"M": 16, "efConstruction": 100})
    client.create_collection("m", schema=s, index_params=ip)
    pool = embedding_like(40 * 400, 32, seed=21)
    client.insert("m", [{"id": i, "chunks": [{"emb": v} for v in pool[i * 40:(i + 1) * 40]]} for i in range(400)])
    client.flush("m")
    assert client.describe_index("m", "chunks[emb]")["indexed_rows"] == 400
    hits_total = 0
    for qs in range(10):
        q = embedding_like(8, 32, seed=500 + qs)
        el = EmbeddingList()
        for v in q:
            el.add(v)
        res = client.search("m", data=[el], anns_field="chunks[emb]", limit=10,
                            search_params={"metric_type": "MAX_SIM_COSINE", "params": {"ef": 64}})
        scores = (q @ pool.T).reshape(8, 400, 40).max(axis=2).sum(axis=0)
        truth = set(np.argsort(-scores)[:10].tolist())
        hits_total += len(truth & {h["id"] for h in res[0]})
    assert hits_total / 100 >= 0.95


def test_index_settings_change_needs_drop(client: MilvusClient) -> None:
    client.create_collection("s", dimension=4)  # AUTOINDEX COSINE on "vector"
    same = client.prepare_index_params()
    same.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_index("s", same)  # identical: accepted, nothing changes
    other = client.prepare_index_params()
    other.add_index("vector", index_type="HNSW", metric_type="L2", params={"M": 8})
    with pytest.raises(Exception, match="already exists with other settings"):
        client.create_index("s", other)
    client.drop_index("s", "vector")
    client.create_index("s", other)
    assert client.describe_index("s", "vector")["metric_type"] == "L2"
