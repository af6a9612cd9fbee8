"""Sixteen of pymilvus's example scripts (github.com/milvus-io/pymilvus, examples/), ported to run on either client.

Each `ex_*` function makes the calls its script makes, in the same order and with the same arguments,
and records what the script prints (`out(label, value)`). The adaptation is the one-import change (the
client and the classes come from `api`: pymilvus or `engine`), a temporary path instead of
`http://localhost:19530`, and a smaller data set in iterator.py (2,000 rows, nlist 32); objects a
script imports from pymilvus other than the client (iterator.py's `FieldSchema`) still come from
pymilvus. The scripts themselves are not copied here.

`api.lite_workarounds` (set only for a second Milvus Lite run, to compare outputs past the point
where Milvus Lite 3.2.2 stops) works around Milvus Lite's own gaps: `add_index` without an
`index_type` (a Milvus server makes it AUTOINDEX; Milvus Lite refuses), `load_partitions`
(unimplemented in Milvus Lite), a chained comparison in a filter (refused by its parser) and a Trie
index (Milvus Lite has INVERTED scalar indexes only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

Out = Callable[[str, Any], None]


def ex_simple(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/simple.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    c.create_collection(name, dim, consistency_level="Strong", metric_type="L2")
    out("list_collections", c.list_collections())
    out("describe_collection", c.describe_collection(name))
    rng = np.random.default_rng(seed=19530)
    rows = [{"id": i, "vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("abcdef", start=1)]
    out("insert", c.insert(name, rows, progress_bar=True))
    out("query ids=[2]", c.query(name, ids=[2])[0])
    out("upsert", c.upsert(name, {"id": 2, "vector": rng.random((1, dim))[0], "g": 100}))
    out("query ids=[2] after upsert", c.query(name, ids=[2])[0])
    out("query f == 600", list(c.query(name, filter="f == 600")))
    out("delete", c.delete(name, ids=[6]))
    assert len(c.query(name, filter="f == 600")) == 0
    rng = np.random.default_rng(seed=19530)
    out("search", c.search(name, rng.random((1, dim)), limit=3, output_fields=["pk", "a", "b"]))
    c.drop_collection(name)


def _schema_collection(api: SimpleNamespace, c: Any, name: str, dim: int, auto_id: bool = False,
                       pk: str = "id", extra_id: bool = False, index: bool = True) -> None:
    schema = c.create_schema(enable_dynamic_field=True, **({"auto_id": True} if auto_id else {}))
    schema.add_field(pk, api.DataType.INT64, is_primary=True)
    schema.add_field("embeddings", api.DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("title", api.DataType.VARCHAR, max_length=64)
    if extra_id:
        schema.add_field("id", api.DataType.VARCHAR, max_length=64)
    if not index:
        c.create_collection(name, schema=schema, consistency_level="Strong")
        return
    ip = c.prepare_index_params()
    ip.add_index(field_name="embeddings", metric_type="L2", **_auto(api))
    c.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")


def _auto(api: SimpleNamespace) -> dict[str, str]:
    """`add_index` as the script writes it (no index_type), or with AUTOINDEX spelled out for Milvus Lite."""
    return {"index_type": "AUTOINDEX"} if getattr(api, "lite_workarounds", False) else {}


def _titled_rows(dim: int, rng: np.random.Generator, pk: str | None = "id", extra_id: bool = False) -> list[dict]:
    rows = []
    for i, k in enumerate("abcdef", start=1):
        row: dict[str, Any] = {} if pk is None else {pk: i}
        row.update({"embeddings": rng.random((1, dim))[0], k: 100 * i, "title": f"t{i}"})
        if extra_id:
            row["id"] = f"u{i}"
        rows.append(row)
    return rows


def ex_customize_schema(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/customize_schema.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    _schema_collection(api, c, name, dim)
    out("list_collections", c.list_collections())
    out("describe_collection", c.describe_collection(name))
    rng = np.random.default_rng(seed=19530)
    out("insert", c.insert(name, _titled_rows(dim, rng)))
    c.load_collection(name)
    out("query ids=[2]", c.query(name, ids=[2])[0])
    out("query f == 600 or title == 't2'", list(c.query(name, filter="f == 600 or title == 't2'")))
    rng = np.random.default_rng(seed=19530)
    out("search", c.search(name, rng.random((1, dim)), limit=3, output_fields=["pk", "a", "b"]))
    c.drop_collection(name)


def ex_customize_schema_auto_id(api: SimpleNamespace, out: Out) -> None:  # examples/customize_schema_auto_id.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    _schema_collection(api, c, name, dim, auto_id=True)
    out("list_collections", c.list_collections())
    out("describe_collection", c.describe_collection(name))
    rng = np.random.default_rng(seed=19530)
    res = c.insert(name, _titled_rows(dim, rng, pk=None))
    out("insert count", res["insert_count"])  # the generated keys differ from one system to the other
    c.load_collection(name)
    first = c.query(name, ids=res["ids"][0])[0]
    out("query first id", {k: v for k, v in first.items() if k != "id"})
    out("query f == 600 or title == 't2'",
        [{k: v for k, v in r.items() if k != "id"} for r in c.query(name, filter="f == 600 or title == 't2'")])
    rng = np.random.default_rng(seed=19530)
    hits = c.search(name, rng.random((1, dim)), limit=3, output_fields=["pk", "a", "b"])
    out("search (without the generated ids)", [[(round(h["distance"], 4), h["entity"]) for h in p] for p in hits])
    c.drop_collection(name)


def ex_customize_schema_id(api: SimpleNamespace, out: Out) -> None:  # examples/customize_schema_id.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    _schema_collection(api, c, name, dim, pk="uid", extra_id=True)
    out("list_collections", c.list_collections())
    out("describe_collection", c.describe_collection(name))
    rng = np.random.default_rng(seed=19530)
    out("insert", c.insert(name, _titled_rows(dim, rng, pk="uid", extra_id=True)))
    c.load_collection(name)
    rng = np.random.default_rng(seed=19530)
    out("search", c.search(name, rng.random((1, dim)), limit=3, output_fields=["id"]))
    c.drop_collection(name)


def ex_index(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/index.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    _schema_collection(api, c, name, dim, index=False)
    rng = np.random.default_rng(seed=19530)
    out("insert", c.insert(name, _titled_rows(dim, rng)))
    ip = c.prepare_index_params()
    ip.add_index(field_name="embeddings", metric_type="L2", **_auto(api))
    trie = "INVERTED" if getattr(api, "lite_workarounds", False) else "Trie"  # Milvus Lite has INVERTED only
    ip.add_index(field_name="title", index_type=trie, index_name="my_trie")
    c.create_index(name, ip)
    names = c.list_indexes(name)
    out("list_indexes", sorted(names))
    for i, n in enumerate(sorted(names)):  # labelled by position: Milvus Lite names the scalar index differently
        out(f"describe_index {i}", c.describe_index(name, index_name=n))
    c.load_collection(name)
    out("query ids=[2]", c.query(name, ids=[2])[0])
    out("query f == 600 or title == 't2'", list(c.query(name, filter="f == 600 or title == 't2'")))
    out("search", c.search(name, rng.random((1, dim)), limit=3, output_fields=["title"]))
    out("list_indexes embeddings", c.list_indexes(name, field_name="embeddings"))
    try:
        c.drop_index(name, "my_trie")
        out("drop_index while loaded", "dropped")
    except Exception:
        out("drop_index while loaded", "refused")
    c.release_collection(name)
    c.drop_index(name, "my_trie")
    c.drop_collection(name)


def ex_index_params(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/index_params.py
    ip = api.IndexParams()
    ip.add_index(field_name="embeddings", metric_type="L2", efConstruction=100, M=10)
    ip.add_index(field_name="embeddings", metric_type="L2", params={"efConstruction": 100, "M": 20})
    ip.add_index(field_name="title", index_type="Trie", index_name="my_trie")
    ip.add_index(field_name="text", index_type="INVERTED", index_name="my_inverted")
    out("printed", [str(i) for i in ip])


def ex_partition(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/partition.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    c.create_collection(name, dim, consistency_level="Strong", metric_type="L2")
    out("list_collections", c.list_collections())
    out("describe_collection", c.describe_collection(name))
    rng = np.random.default_rng(seed=19530)
    c.create_partition(name, partition_name="p1")
    for i, k in ((1, "a"), (2, "b"), (3, "c")):
        c.insert(name, {"id": i, "vector": rng.random((1, dim))[0], k: 100 * i}, partition_name="p1")
    c.create_partition(name, partition_name="p2")
    for i, k in ((4, "e"), (5, "f"), (6, "g")):
        c.insert(name, {"id": i, "vector": rng.random((1, dim))[0], k: 100 * i}, partition_name="p2")
    out("has p1", c.has_partition(name, "p1"))
    out("has p3", c.has_partition(name, "p3"))
    out("list_partitions", c.list_partitions(name))
    c.release_collection(name)
    if getattr(api, "lite_workarounds", False):
        c.load_collection(name)
    else:
        c.load_partitions(name, partition_names=["p1", "p2"])
    q = rng.random((1, dim))
    out("search p1", c.search(name, q, limit=3, output_fields=["pk", "a", "b"], partition_names=["p1"]))
    c.release_partitions(name, partition_names=["p1"])
    c.drop_partition(name, partition_name="p1", timeout=2.0)
    try:
        c.drop_partition(name, partition_name="p2", timeout=2.0)
        out("drop loaded p2", "dropped")
    except Exception:
        out("drop loaded p2", "refused")
    out("has p1 after drop", c.has_partition(name, "p1"))
    assert len(c.query(name, ids=[2])) == 0
    out("query ids=[4]", c.query(name, ids=[4]))
    out("query f == 500", list(c.query(name, filter="f == 500")))
    out("search", c.search(name, q, limit=3, output_fields=["pk", "a", "b"]))
    c.drop_collection(name)


def ex_hybrid_search(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/hybrid_search.py
    n, dim, name = 3000, 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    schema = c.create_schema(auto_id=False, description="hello_milvus is the simplest demo to introduce the APIs")
    schema.add_field("pk", api.DataType.VARCHAR, is_primary=True, max_length=100)
    schema.add_field("random", api.DataType.DOUBLE)
    schema.add_field("embeddings", api.DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("embeddings2", api.DataType.FLOAT_VECTOR, dim=dim)
    ip = c.prepare_index_params()
    ip.add_index(field_name="embeddings", index_type="IVF_FLAT", metric_type="L2", nlist=128)
    ip.add_index(field_name="embeddings2", index_type="IVF_FLAT", metric_type="L2", nlist=128)
    c.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")
    rng = np.random.default_rng(seed=19530)
    pks, rnd = [str(i) for i in range(n)], rng.random(n).tolist()
    e1, e2 = rng.random((n, dim)), rng.random((n, dim))
    c.insert(name, [{"pk": pks[i], "random": rnd[i], "embeddings": e1[i], "embeddings2": e2[i]} for i in range(n)])
    c.load_collection(name)
    reqs = [api.AnnSearchRequest(data=rng.random((1, dim)), anns_field="embeddings", param={"metric_type": "L2"},
                                 limit=5, expr="random > 0.5")]
    hits = c.hybrid_search(name, reqs, api.RRFRanker(), 5, output_fields=["random"])
    # IVF_FLAT is approximate and the two systems cluster differently: the script prints the hits; the
    # comparison keeps what both must agree on (the filter held, five hits, RRF's score of rank 1..5).
    out("hybrid hits", [[(round(h["distance"], 6), h["entity"]["random"] > 0.5) for h in p] for p in hits])


def ex_flush(api: SimpleNamespace, out: Out) -> None:  # examples/flush.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    c.create_collection(name, dim, consistency_level="Strong", metric_type="L2")
    rng = np.random.default_rng(seed=19530)
    rows = [{"id": i, "vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("abcdef", start=1)]
    out("insert", c.insert(name, rows))
    out("upsert", c.upsert(name, {"id": 2, "vector": rng.random((1, dim))[0], "g": 100}))
    c.flush(name)
    out("count", c.query(name, "", output_fields=["count(*)"])[0]["count(*)"])
    out("delete", c.delete(name, ids=[6]))
    c.flush(name)
    out("count after delete", c.query(name, "", output_fields=["count(*)"])[0]["count(*)"])
    c.drop_collection(name)


def ex_compact(api: SimpleNamespace, out: Out) -> None:  # examples/compact.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    c.create_collection(name, dim, consistency_level="Strong", metric_type="L2")
    rng = np.random.default_rng(seed=19530)
    rows = [{"id": i, "vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("abcdef", start=1)]
    out("insert", c.insert(name, rows))
    out("upsert", c.upsert(name, {"id": 2, "vector": rng.random((1, dim))[0], "g": 100}))
    c.flush(name)
    out("count", c.query(name, "", output_fields=["count(*)"])[0]["count(*)"])
    rows = [{"id": i, "vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("ghijkl", start=7)]
    out("insert 2", c.insert(name, rows))
    c.flush(name)
    out("count 2", c.query(name, "", output_fields=["count(*)"])[0]["count(*)"])
    job = c.compact(name)
    state, tries = c.get_compaction_state(job), 0
    while state != "Completed" and tries < 10:
        time.sleep(0.2)
        state, tries = c.get_compaction_state(job), tries + 1
    out("compaction state", state)
    out("count after compaction", c.query(name, "", output_fields=["count(*)"])[0]["count(*)"])
    c.drop_collection(name)


def ex_get_server_version(api: SimpleNamespace, out: Out) -> None:  # examples/get_server_version.py
    version = api.MilvusClient(api.uri).get_server_version()
    out("prints a version", isinstance(version, str) and bool(version))


def ex_alter(api: SimpleNamespace, out: Out) -> None:  # examples/alter.py
    dim, name = 8, "hello_milvus"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    _schema_collection(api, c, name, dim, index=False)
    rng = np.random.default_rng(seed=19530)
    c.insert(name, _titled_rows(dim, rng))
    ip = c.prepare_index_params()
    ip.add_index(field_name="embeddings", metric_type="L2", **_auto(api))
    c.create_index(name, ip)
    c.alter_index_properties(name, index_name="embeddings", properties={"mmap.enabled": True})
    c.drop_index_properties(name, index_name="embeddings", property_keys=["mmap.enabled"])
    c.alter_collection_field(name, field_name="title", field_params={"mmap.enabled": True, "max_length": 2500})
    c.alter_collection_properties(name, properties={"mmap.enabled": True, "collection.ttl.seconds": 500})
    c.drop_collection_properties(name, index_name="embeddings", property_keys=["mmap.enabled"])
    c.load_collection(name)
    out("describe_index", c.describe_index(name, index_name="embeddings"))
    out("describe_collection", c.describe_collection(name))
    c.release_collection(name)
    c.drop_index(name, "embeddings")
    c.drop_collection(name)


def ex_simple_cost(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/simple_cost.py
    dim, name = 8, "hello_client_cost"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    c.create_collection(name, dim, consistency_level="Strong", metric_type="L2")
    rng = np.random.default_rng(seed=19530)
    rows = [{"id": i, "vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("abcdef", start=1)]
    res = c.insert(name, rows, progress_bar=True)
    out("insert", res)
    out("insert cost", res["cost"])
    q = c.query(name, ids=[2])
    out("query cost", q.extra["cost"])
    up = c.upsert(name, {"id": 2, "vector": rng.random((1, dim))[0], "g": 100})
    out("upsert cost", up["cost"])
    out("delete cost", c.delete(name, ids=[6])["cost"])
    rng = np.random.default_rng(seed=19530)
    out("search cost", c.search(name, rng.random((1, dim)), limit=3, output_fields=["pk", "a", "b"]).extra["cost"])
    c.drop_collection(name)


def ex_iterator(api: SimpleNamespace, out: Out) -> None:  # examples/iterator/iterator.py (2,000 rows, nlist 32)
    import pymilvus  # the script imports the schema classes from pymilvus, whichever client it uses

    name, dim, n = "test_milvus_client_iterator", 8, 2000
    rng = np.random.default_rng(seed=19530)
    c = api.MilvusClient(api.uri)
    if c.has_collection(name):
        c.drop_collection(name)
    fields = [pymilvus.FieldSchema(name="id", dtype=pymilvus.DataType.INT64, is_primary=True, auto_id=False),
              pymilvus.FieldSchema(name="age", dtype=pymilvus.DataType.INT64),
              pymilvus.FieldSchema(name="deposit", dtype=pymilvus.DataType.DOUBLE),
              pymilvus.FieldSchema(name="picture", dtype=pymilvus.DataType.FLOAT_VECTOR, dim=dim)]
    c.create_collection(name, dimension=dim, schema=pymilvus.CollectionSchema(fields))
    c.insert(name, [{"id": i, "age": i % 100, "deposit": float(i), "picture": rng.random((1, dim))[0]}
                    for i in range(n)])
    c.flush(name)
    ip = c.prepare_index_params()
    ip.add_index(field_name="picture", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 32})
    c.create_index(name, ip)
    c.load_collection(name)
    flt = "age >= 10 and age <= 25" if getattr(api, "lite_workarounds", False) else "10 <= age <= 25"
    it = c.query_iterator(name, filter=flt, batch_size=50, output_fields=["id", "age"])
    pages = []
    while True:
        page = it.next()
        if not page:
            it.close()
            break
        pages.append(page)
    out("query iterator rows", sorted((r["id"], r["age"]) for p in pages for r in p))
    out("query iterator page sizes", sorted(len(p) for p in pages))
    sit = c.search_iterator(name, data=rng.random((1, dim), np.float32), batch_size=100, anns_field="picture")
    seen = 0
    while True:
        page = sit.next()
        if not page:
            sit.close()
            break
        seen += len(page)
    out("search iterator visits every row", seen == n)


def ex_alias(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/alias.py
    dim, name, name2, alias = 8, "hello_milvus", "hello_milvus2", "alias_hello_milvus"
    c = api.MilvusClient(api.uri)
    for n in (name, name2):
        c.drop_collection(n)
        c.create_collection(n, dim, consistency_level="Strong", metric_type="L2", auto_id=True)
    out("list_collections", c.list_collections())
    rng = np.random.default_rng(seed=19530)
    c.insert(name, [{"vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("abc", start=1)])
    c.insert(name2, [{"vector": rng.random((1, dim))[0], k: 100 * i} for i, k in enumerate("def", start=4)])
    c.drop_alias(alias)
    c.create_alias(name, alias)
    out("list_aliases", c.list_aliases(name))
    out("describe_alias", c.describe_alias(alias))
    assert c.describe_collection(alias) == c.describe_collection(name)
    c.alter_alias(name2, alias)
    out("query f == 600 through the alias", [{k: v for k, v in r.items() if k != "id"}
                                             for r in c.query(alias, filter="f == 600")])
    c.drop_alias(alias)
    assert not c.has_collection(alias) and c.has_collection(name2)
    c.drop_collection(name)
    c.drop_collection(name2)


def ex_bm25(api: SimpleNamespace, out: Out) -> None:  # examples/milvus_client/bm25.py
    name = "doc_in_doc_out"
    c = api.MilvusClient(api.uri)
    if c.has_collection(name, timeout=5):
        c.drop_collection(name)
    schema = c.create_schema()
    schema.add_field("id", api.DataType.INT64, is_primary=True, auto_id=False)
    schema.add_field("document_content", api.DataType.VARCHAR, max_length=9000, enable_tokenizer=True)
    schema.add_field("sparse_vector", api.DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(api.Function(name="bm25_fn", input_field_names=["document_content"],
                                     output_field_names="sparse_vector", function_type=api.FunctionType.BM25))
    ip = c.prepare_index_params()
    ip.add_index(field_name="sparse_vector", index_name="sparse_inverted_index", index_type="SPARSE_INVERTED_INDEX",
                 metric_type="BM25", params={"bm25_k1": 1.2, "bm25_b": 0.75})
    c.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")
    c.insert(name, [{"id": 1, "document_content": "hello world"}, {"id": 2, "document_content": "hello milvus"},
                    {"id": 3, "document_content": "hello zilliz"}], progress_bar=True)
    out("search zilliz", c.search(name, ["zilliz"], limit=3, output_fields=["document_content"],
                                  search_params={"metric_type": "BM25", "params": {}}))
    out("query ids=[3]", c.query(name, ids=[3])[0])
    c.upsert(name, {"id": 2, "document_content": "hello milvus again"})
    out("query after upsert", list(c.query(name, filter="document_content == 'hello milvus again'")))
    c.delete(name, ids=[3])
    out("query after delete", list(c.query(name, filter="document_content == 'hello zilliz'")))
    c.drop_collection(name)


EXAMPLES: dict[str, Callable[[SimpleNamespace, Out], None]] = {
    "simple": ex_simple, "customize_schema": ex_customize_schema,
    "customize_schema_auto_id": ex_customize_schema_auto_id, "customize_schema_id": ex_customize_schema_id,
    "index": ex_index, "index_params": ex_index_params, "partition": ex_partition,
    "hybrid_search": ex_hybrid_search, "flush": ex_flush, "compact": ex_compact,
    "get_server_version": ex_get_server_version, "alter": ex_alter, "simple_cost": ex_simple_cost,
    "iterator": ex_iterator, "alias": ex_alias, "bm25": ex_bm25,
}


def normalise(value: Any) -> Any:
    """What a script prints, as plain data: hits as dicts, numbers rounded to 4 places, numpy as lists."""
    if isinstance(value, dict) or hasattr(value, "keys") and hasattr(value, "items"):
        return {str(k): normalise(v) for k, v in dict(value).items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, np.ndarray):
        return normalise(value.tolist())
    if isinstance(value, (float, np.floating)):
        return round(float(value), 4)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if hasattr(value, "name") and type(value).__name__ in ("DataType", "LoadState", "FunctionType"):
        return f"{type(value).__name__}.{value.name}"
    return value


def run(name: str, api: SimpleNamespace) -> tuple[list[tuple[str, Any]], BaseException | None]:
    """Run one ported example; (what it printed, the exception that stopped it or None)."""
    printed: list[tuple[str, Any]] = []
    try:
        EXAMPLES[name](api, lambda label, value: printed.append((label, normalise(value))))
    except Exception as e:  # the point is to see which examples fail, and how
        return printed, e
    return printed, None
