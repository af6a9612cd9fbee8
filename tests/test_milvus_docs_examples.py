"""Code from Milvus's documentation, with only the import changed, checked against numpy.

The Array of Structs page (schema, struct schema, index params with MAX_SIM_COSINE, generated
book records, EmbeddingList searches), the image-search tutorial (quick-form collection with
auto_id and dynamic fields, one-dict inserts, `hit["entity"]["filename"]`), partitions, upsert,
delete and hybrid search as the docs write them (`param={"nprobe": 10}` un-nested).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from engine import AnnSearchRequest, DataType, MilvusClient, RRFRanker, WeightedRanker
from engine.client.embedding_list import EmbeddingList  # pymilvus.client.embedding_list


def test_array_of_structs_page(tmp_path: Path) -> None:
    client = MilvusClient(str(tmp_path / "books.db"))
    schema = MilvusClient.create_schema()
    schema.add_field(field_name="id", datatype=DataType.INT64, is_primary=True, auto_id=True)
    schema.add_field(field_name="title", datatype=DataType.VARCHAR, max_length=512)
    schema.add_field(field_name="author", datatype=DataType.VARCHAR, max_length=512)
    schema.add_field(field_name="year_of_publication", datatype=DataType.INT64)
    schema.add_field(field_name="title_vector", datatype=DataType.FLOAT_VECTOR, dim=5)
    struct_schema = MilvusClient.create_struct_field_schema()
    struct_schema.add_field("text", DataType.VARCHAR, max_length=65535)
    struct_schema.add_field("chapter", DataType.VARCHAR, max_length=512)
    struct_schema.add_field("text_vector", DataType.FLOAT_VECTOR, mmap_enabled=True, dim=5)
    schema.add_field("chunks", datatype=DataType.ARRAY, element_type=DataType.STRUCT,
                     struct_schema=struct_schema, max_capacity=1000)
    index_params = MilvusClient.prepare_index_params()
    index_params.add_index(field_name="title_vector", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 128})
    index_params.add_index(field_name="chunks[text_vector]", index_type="HNSW", metric_type="MAX_SIM_COSINE",
                           params={"M": 16, "efConstruction": 200})
    client.create_collection(collection_name="my_collection", schema=schema, index_params=index_params)

    random.seed(7)
    books = [("Pride and Prejudice", "Jane Austen", 1813), ("Moby Dick", "Herman Melville", 1851),
             ("Dracula", "Bram Stoker", 1897), ("War and Peace", "Leo Tolstoy", 1869)]
    chapters = ["Introduction", "Chapter I", "Economy", "Epilogue"]

    def random_vector() -> list[float]:
        return [round(random.random(), 1) for _ in range(5)]

    def generate_record(record_id: int) -> dict[str, Any]:
        title, author, year = random.choice(books)
        chunks = [{"text": f"snippet {record_id}-{j}", "text_vector": random_vector(),
                   "chapter": random.choice(chapters)} for j in range(random.randint(1, 5))]
        return {"title": title, "title_vector": random_vector(), "author": author,
                "year_of_publication": year, "chunks": chunks}

    data = [generate_record(i) for i in range(1000)]
    res = client.insert(collection_name="my_collection", data=data)
    assert res["insert_count"] == 1000
    ids = res["ids"]
    client.flush("my_collection")

    embedding_list_1 = EmbeddingList()
    embedding_list_1.add([0.2, 0.9, 0.4, -0.3, 0.2])
    embedding_list_2 = EmbeddingList()
    embedding_list_2.add([-0.2, -0.2, 0.5, 0.6, 0.9])
    embedding_list_2.add([-0.4, 0.3, 0.5, 0.8, 0.2])
    results = client.search(collection_name="my_collection", data=[embedding_list_1, embedding_list_2],
                            anns_field="chunks[text_vector]", search_params={"metric_type": "MAX_SIM_COSINE"},
                            limit=3, output_fields=["chunks[text]"])
    assert len(results) == 2
    for el, hits in zip((embedding_list_1, embedding_list_2), results):
        q = el.to_numpy().astype(np.float64)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        scores = []
        for row in data:
            e = np.array([c["text_vector"] for c in row["chunks"]], dtype=np.float64)
            e /= np.linalg.norm(e, axis=1, keepdims=True)
            scores.append((q @ e.T).max(axis=1).sum())
        order = sorted(range(1000), key=lambda i: (-scores[i], ids[i]))[:3]
        np.testing.assert_allclose([h["distance"] for h in hits], [scores[i] for i in order], rtol=1e-5)
        for h, i in zip(hits, order):
            # ties (the data is rounded to 0.1) may order equal scores differently; scores must match
            assert h["entity"]["chunks"] == [{"text": c["text"]} for c in data[ids.index(h["id"])]["chunks"]]
            assert abs(scores[ids.index(h["id"])] - scores[i]) < 1e-5

    # the title vector through its IVF_FLAT (L2) index, with a filter on a scalar field
    q = [0.5, 0.5, 0.5, 0.5, 0.5]
    hits = client.search("my_collection", data=[q], anns_field="title_vector", limit=5,
                         filter="year_of_publication > 1850", search_params={"metric_type": "L2", "params": {"nprobe": 128}},
                         output_fields=["title", "year_of_publication"])[0]
    tv = np.array([r["title_vector"] for r in data])
    d = ((tv - np.array(q)) ** 2).sum(1)
    ok = [i for i in range(1000) if data[i]["year_of_publication"] > 1850]
    best = sorted(ok, key=lambda i: (d[i], ids[i]))[:5]
    np.testing.assert_allclose([h["distance"] for h in hits], d[best], rtol=1e-5, atol=1e-6)
    assert all(h["entity"]["year_of_publication"] > 1850 for h in hits)
    client.close()


def test_image_search_tutorial(tmp_path: Path) -> None:
    client = MilvusClient(uri=str(tmp_path / "example.db"))
    if client.has_collection(collection_name="image_embeddings"):
        client.drop_collection(collection_name="image_embeddings")
    client.create_collection(collection_name="image_embeddings", vector_field_name="vector", dimension=512,
                             auto_id=True, enable_dynamic_field=True, metric_type="COSINE")
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((200, 512)).astype(np.float32)
    names = [f"./train/{i // 20}/{i}.JPEG" for i in range(200)]
    for v, name in zip(vecs, names):
        client.insert("image_embeddings", {"vector": v, "filename": name})
    query = vecs[17] + 0.1 * rng.standard_normal(512).astype(np.float32)
    results = client.search("image_embeddings", data=[query], output_fields=["filename"],
                            search_params={"metric_type": "COSINE"})
    got = [hit["entity"]["filename"] for result in results for hit in result[:10]]
    sims = (vecs @ query) / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(query))
    assert got == [names[i] for i in np.argsort(-sims)[:10]]
    np.testing.assert_allclose([h["distance"] for h in results[0]], np.sort(sims)[::-1][:10], rtol=1e-5)
    client.close()


def test_partitions_upsert_delete_hybrid_as_documented(tmp_path: Path) -> None:
    client = MilvusClient(str(tmp_path / "docs.db"))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field(field_name="id", datatype=DataType.INT64, is_primary=True)
    schema.add_field(field_name="text_dense", datatype=DataType.FLOAT_VECTOR, dim=8)
    schema.add_field(field_name="image_dense", datatype=DataType.FLOAT_VECTOR, dim=4)
    schema.add_field(field_name="color", datatype=DataType.VARCHAR, max_length=16)
    index_params = client.prepare_index_params()
    index_params.add_index(field_name="text_dense", index_name="text_dense_index", index_type="IVF_FLAT",
                           metric_type="IP", params={"nlist": 16})
    index_params.add_index(field_name="image_dense", index_name="image_dense_index", index_type="IVF_FLAT",
                           metric_type="IP", params={"nlist": 16})
    client.create_collection(collection_name="my_collection", schema=schema, index_params=index_params)
    client.create_partition(collection_name="my_collection", partition_name="partitionA")
    assert client.list_partitions(collection_name="my_collection") == ["_default", "partitionA"]
    rng = np.random.default_rng(1)
    t, im = rng.standard_normal((100, 8)), rng.standard_normal((100, 4))
    colors = ["red", "green", "blue", "pink"]
    data = [{"id": i, "text_dense": t[i], "image_dense": im[i], "color": colors[i % 4], "tag": i % 3} for i in range(100)]
    client.insert(collection_name="my_collection", data=data[:50])
    client.insert(collection_name="my_collection", data=data[50:], partition_name="partitionA")
    res = client.upsert(collection_name="my_collection", data=[{**data[3], "color": "black"}])
    assert res["upsert_count"] == 1
    assert client.get("my_collection", ids=[3], output_fields=["color"]) == [{"id": 3, "color": "black"}]
    assert client.delete(collection_name="my_collection", filter="color in ['red', 'green']")["delete_count"] == 50
    survivors = [i for i in range(100) if i % 4 in (2, 3)]  # red and green deleted; 3 (pink, then black) kept
    expect_tag1 = sum(1 for i in survivors if i % 3 == 1)
    assert client.query("my_collection", filter="tag == 1", output_fields=["count(*)"])[0]["count(*)"] == expect_tag1
    client.flush("my_collection")
    qt, qi = rng.standard_normal(8), rng.standard_normal(4)
    reqs = [AnnSearchRequest(**{"data": [qt], "anns_field": "text_dense", "param": {"nprobe": 16}, "limit": 10}),
            AnnSearchRequest(**{"data": [qi], "anns_field": "image_dense", "param": {"nprobe": 16}, "limit": 10})]
    live = survivors
    ranked = []
    for q, vecs in ((qt, t), (qi, im)):
        s = vecs[live] @ q
        ranked.append([live[j] for j in np.argsort(-s)[:10]])
    rrf: dict[int, float] = {}
    for lst in ranked:
        for r, pk in enumerate(lst, start=1):
            rrf[pk] = rrf.get(pk, 0.0) + 1 / (100 + r)
    expected = sorted(rrf, key=lambda p: (-rrf[p], p))[:5]
    got = client.hybrid_search(collection_name="my_collection", reqs=reqs, ranker=RRFRanker(100), limit=5)
    assert [h["id"] for h in got[0]] == expected
    np.testing.assert_allclose([h["distance"] for h in got[0]], [rrf[p] for p in expected], rtol=1e-5)
    weighted = client.hybrid_search("my_collection", reqs, WeightedRanker(0.8, 0.3), limit=3, output_fields=["color"])
    assert len(weighted[0]) == 3 and all("color" in h["entity"] for h in weighted[0])
    client.drop_partition(collection_name="my_collection", partition_name="partitionA")
    assert client.get_collection_stats("my_collection")["row_count"] == sum(1 for i in survivors if i < 50)
    client.close()
