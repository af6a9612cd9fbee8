"""The pymilvus API surface, tested from the Milvus documentation (engine only; the differential tests are in
tests/test_differential_compat.py): FieldSchema keywords, rerank formulas, Array of Structs rules,
checked keywords, released collections, ignore_growing, the calls the engine adds or refuses.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pymilvus
import pytest
from pymilvus.client.embedding_list import EmbeddingList as PymilvusEmbeddingList

import engine
from engine import DataType, EmbeddingList, Function, FunctionScore, FunctionType, MilvusClient
from engine.client.keywords import KEYWORDS, UNSUPPORTED
from engine.errors import (
    CollectionNotLoadedError,
    MilvusException,
    ParamError,
    SchemaError,
    UnsupportedCallError,
    UnsupportedError,
)

DIM = 4


@pytest.fixture
def c(tmp_path: Path) -> Any:
    client = MilvusClient(str(tmp_path / "db"))
    yield client
    client.close()


def ranked(c: MilvusClient, n: int = 30) -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("ts", DataType.INT64, nullable=True)
    s.add_field("doc", DataType.VARCHAR, max_length=10)
    ip = c.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="COSINE")
    c.create_collection("r", schema=s, index_params=ip)
    rng = np.random.default_rng(3)
    c.insert("r", [{"id": i, "v": rng.random(DIM).tolist(), "ts": None if i == 7 else i * 10,
                    "doc": ["a", "b"][i % 2]} for i in range(n)])


def decay_fn(**params: Any) -> Function:
    return Function("d", FunctionType.RERANK, ["ts"], params={"reranker": "decay", **params})


# --- FieldSchema: pymilvus's keywords, kept ------------------------------------------------------------
def test_field_schema_takes_pymilvus_keywords_and_keeps_them(c: MilvusClient) -> None:
    """Every keyword of pymilvus's FieldSchema is kept and reported by describe_collection, as Milvus stores
    them (type params as text for the analyzer flags, analyzer_params as JSON)."""
    f = engine.FieldSchema("t", DataType.VARCHAR, "text", max_length=30, enable_analyzer=True, enable_match=True,
                           analyzer_params={"type": "english"}, is_clustering_key=True, mmap_enabled=False)
    s = engine.CollectionSchema([engine.FieldSchema("id", DataType.INT64, is_primary=True, auto_id=True),
                                 engine.FieldSchema("v", DataType.FLOAT_VECTOR, dim=DIM), f,
                                 engine.FieldSchema("n", DataType.INT8, nullable=True, default_value=3,
                                                    is_partition_key=False)])
    c.create_collection("k", schema=s)
    fields = {d["name"]: d for d in c.describe_collection("k")["fields"]}
    assert fields["t"]["params"] == {"max_length": 30, "enable_analyzer": "true", "enable_match": "true",
                                     "analyzer_params": '{"type":"english"}', "mmap_enabled": False}
    assert fields["t"]["is_clustering_key"] is True and fields["t"]["description"] == "text"
    assert fields["n"]["nullable"] is True and fields["n"]["default_value"] == 3
    assert fields["id"]["auto_id"] is True


@pytest.mark.parametrize("kwargs, match", [
    ({"enable_analyzer": "maybe"}, "enable_analyzer must be True or False"),
    ({"analyzer_params": [1]}, "analyzer_params must be a dict"),
    ({"is_clustering_key": 1}, "is_clustering_key must be True or False"),
    ({"max_lenght": 5}, "unknown parameter"),
    ({"enable_match": True}, "enable_match=True needs enable_analyzer=True"),
])
def test_field_keywords_checked(c: MilvusClient, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(match)):
        s = c.create_schema()
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
        s.add_field("t", DataType.VARCHAR, max_length=10, **kwargs)
        c.create_collection("x", schema=s)
    assert not c.has_collection("x")


def test_pymilvus_struct_field_schema_and_embedding_list(c: MilvusClient) -> None:
    """A pymilvus schema with an Array of Structs (pymilvus keeps it in struct_fields) and a pymilvus
    EmbeddingList query: the engine answers as with its own classes (Milvus Lite drops such fields)."""
    st = pymilvus.StructFieldSchema()
    st.add_field("text", pymilvus.DataType.VARCHAR, max_length=50)
    st.add_field("emb", pymilvus.DataType.FLOAT_VECTOR, dim=3)
    s = pymilvus.MilvusClient.create_schema()
    s.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    s.add_field("chunks", pymilvus.DataType.ARRAY, element_type=pymilvus.DataType.STRUCT, struct_schema=st,
                max_capacity=4)
    c.create_collection("s", schema=s)
    c.insert("s", [{"id": i, "chunks": [{"text": f"t{i}{j}", "emb": [1.0, i, j]} for j in range(2)]}
                   for i in range(5)])
    q1, q2 = PymilvusEmbeddingList(), EmbeddingList()
    for q in (q1, q2):
        q.add([1.0, 2.0, 1.0])
    a = c.search("s", [q1], anns_field="chunks[emb]", search_params={"metric_type": "MAX_SIM_COSINE"}, limit=3)
    b = c.search("s", [q2], anns_field="chunks[emb]", search_params={"metric_type": "MAX_SIM_COSINE"}, limit=3)
    assert [(h["id"], h["distance"]) for h in a[0]] == [(h["id"], h["distance"]) for h in b[0]] and len(a[0]) == 3


# --- Array of Structs: the docs' rules ------------------------------------------------------------------
@pytest.fixture
def structs(c: MilvusClient) -> MilvusClient:
    st = c.create_struct_field_schema()
    st.add_field("text", DataType.VARCHAR, max_length=50)
    st.add_field("emb", DataType.FLOAT_VECTOR, dim=3)
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=3)
    s.add_field("g", DataType.INT64)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=st, max_capacity=4)
    c.create_collection("s", schema=s)
    c.insert("s", [{"id": i, "v": [1.0, i, 0.5], "g": i % 2,
                    "chunks": [{"text": "x", "emb": [1.0, i, j]} for j in range(2)]} for i in range(6)])
    return c


def _el() -> EmbeddingList:
    return EmbeddingList().add([1.0, 1.0, 0.0])


@pytest.mark.parametrize("call", [
    lambda c: c.search("s", [_el()], anns_field="chunks[emb]", search_params={"metric_type": "MAX_SIM_COSINE",
                                                                             "params": {"radius": 0.1}}),
    lambda c: c.search("s", [_el()], anns_field="chunks[emb]", group_by_field="g",
                       search_params={"metric_type": "MAX_SIM_COSINE"}),
    lambda c: c.search_iterator("s", [_el()], anns_field="chunks[emb]",
                                search_params={"metric_type": "MAX_SIM_COSINE"}),
    lambda c: c.hybrid_search("s", [engine.AnnSearchRequest([_el()], "chunks[emb]", {"metric_type": "MAX_SIM_COSINE"}, 3),
                                    engine.AnnSearchRequest([[1.0, 0.0, 0.0]], "v", {}, 3)], engine.RRFRanker()),
], ids=["range search", "grouping", "search_iterator", "hybrid_search"])
def test_embedding_list_only_in_a_plain_search(structs: MilvusClient, call: Any) -> None:
    """The docs: an EmbeddingList "can be used only in search() requests without range search or grouping
    search parameters, let alone search_iterator()" (grouping used to fail with a raw KeyError)."""
    with pytest.raises(ParamError, match="can be used only in search"):
        call(structs)


def test_empty_embedding_list_is_a_param_error(structs: MilvusClient) -> None:
    for q in (EmbeddingList(), PymilvusEmbeddingList()):  # pymilvus's raises a plain ValueError of its own
        with pytest.raises(ParamError, match="empty EmbeddingList"):
            structs.search("s", [q], anns_field="chunks[emb]", search_params={"metric_type": "MAX_SIM_COSINE"})


def test_no_index_on_a_struct_scalar_sub_field(structs: MilvusClient) -> None:
    """The docs: "The scalar fields in the Array of Structs field do not support indexes"."""
    ip = structs.prepare_index_params()
    ip.add_index("chunks[text]", index_type="INVERTED")
    with pytest.raises(ParamError, match="scalar sub-fields of an Array of Structs do not support indexes"):
        structs.create_index("s", ip)
    assert structs.list_indexes("s") == []


# --- rerank functions: the docs' formulas ------------------------------------------------------------------
def test_decay_formulas_follow_the_docs(c: MilvusClient) -> None:
    """gauss/exp score `decay` at `scale` past the offset and 1 inside it; linear reaches 0 at
    scale / (1 - decay) past the offset (the docs' formulas); a null value scores 0."""
    ranked(c)
    plain = {h["id"]: h["distance"] for h in c.search("r", [[0.5] * DIM], anns_field="v", limit=30)[0]}
    for fn, origin, scale, offset, decay in (("gauss", 100, 50, 0, 0.5), ("exp", 100, 40, 10, 0.3),
                                             ("linear", 100, 60, 20, 0.25)):
        res = c.search("r", [[0.5] * DIM], anns_field="v", limit=30, output_fields=["ts"],
                       ranker=decay_fn(function=fn, origin=origin, scale=scale, offset=offset, decay=decay))[0]
        for h in res:
            ts = h["entity"]["ts"]
            if ts is None:
                assert h["distance"] == 0.0
                continue
            adj = max(0.0, abs(ts - origin) - offset)
            want = {"gauss": math.exp(adj * adj * math.log(decay) / scale**2),
                    "exp": math.exp(adj * math.log(decay) / scale),
                    "linear": max(0.0, 1 - adj * (1 - decay) / scale)}[fn]
            assert math.isclose(h["distance"], plain[h["id"]] * want, rel_tol=1e-5, abs_tol=1e-7), (fn, ts)
        got = {h["entity"]["ts"]: h["distance"] / plain[h["id"]] for h in res if h["entity"]["ts"] is not None}
        if fn != "linear":
            assert math.isclose(got[100 + offset + scale] if 100 + offset + scale in got else decay, decay, rel_tol=1e-4)
        assert all(math.isclose(got[t], 1.0, rel_tol=1e-6) for t in got if abs(t - origin) <= offset)


def test_a_search_reranks_its_own_top_hits(c: MilvusClient) -> None:
    """As a Milvus server: the decay ranker reorders the search's top limit + offset hits; it does not bring
    in hits from further down."""
    ranked(c)
    top = {h["id"] for h in c.search("r", [[0.5] * DIM], anns_field="v", limit=8)[0]}
    res = c.search("r", [[0.5] * DIM], anns_field="v", limit=5, offset=3,
                   ranker=decay_fn(function="gauss", origin=0, scale=30), round_decimal=3)[0]
    assert len(res) == 5 and {h["id"] for h in res} <= top
    assert all(h["distance"] == round(h["distance"], 3) for h in res)
    assert [h["distance"] for h in res] == sorted((h["distance"] for h in res), reverse=True)


def test_boost_random_score_and_function_score_modes(c: MilvusClient) -> None:
    """random_score multiplies the weight by a number in [0, 1) fixed by (seed, field value); a FunctionScore
    combines the boosts that apply with function_mode and applies them with boost_mode."""
    ranked(c)
    plain = {h["id"]: h["distance"] for h in c.search("r", [[0.5] * DIM], anns_field="v", limit=30)[0]}

    def boosted(fn: Any) -> dict[int, float]:
        return {h["id"]: h["distance"] for h in c.search("r", [[0.5] * DIM], anns_field="v", limit=30,
                                                          ranker=fn)[0]}

    rnd = Function("b", FunctionType.RERANK, [], params={"reranker": "boost", "weight": 1,
                                                          "random_score": {"seed": 126, "field": "id"}})
    a, b = boosted(rnd), boosted(rnd)
    assert a == b and all(0 <= a[i] / plain[i] < 1 for i in plain if plain[i])
    other = Function("b", FunctionType.RERANK, [], params={"reranker": "boost", "weight": 1,
                                                            "random_score": {"seed": 7, "field": "id"}})
    assert boosted(other) != a
    f1 = Function("f1", FunctionType.RERANK, [], params={"reranker": "boost", "weight": 0.8})
    f2 = Function("f2", FunctionType.RERANK, [], params={"reranker": "boost", "weight": 0.4, "filter": "doc == 'a'"})
    summed = boosted(FunctionScore([f1, f2], params={"boost_mode": "Sum", "function_mode": "Multiply"}))
    for i, d in plain.items():
        assert math.isclose(summed[i], d + (0.8 * 0.4 if i % 2 == 0 else 0.8), rel_tol=1e-5)


@pytest.mark.parametrize("ranker, match", [
    ({"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5, "speed": 2}, "unknown decay parameter"),
    ({"reranker": "boost", "weight": 2, "random_score": {"seed": "x"}}, "seed must be an integer"),
    ({"reranker": "weighted", "weights": [2.0]}, "weights must be in the range"),
], ids=["unknown decay parameter", "bad seed", "weight out of range"])
def test_ranker_parameters_checked(c: MilvusClient, ranker: dict[str, Any], match: str) -> None:
    ranked(c)
    inputs = ["ts"] if ranker["reranker"] == "decay" else []
    with pytest.raises(ParamError, match=match):
        c.search("r", [[0.5] * DIM], anns_field="v", limit=3,
                 ranker=Function("f", FunctionType.RERANK, inputs, params=ranker))


def test_fuse_names_the_class_it_got() -> None:
    """The old message said "unsupported ranker RRFRanker; use RRFRanker or WeightedRanker" for pymilvus's."""
    from engine.vectors.rankers import fuse

    with pytest.raises(ParamError, match=r"got pymilvus\.client\.abstract\.RRFRanker"):
        fuse([[(1, 0.5)]], ["L2"], pymilvus.RRFRanker(), 1)  # type: ignore[arg-type]


# --- every keyword checked -------------------------------------------------------------------------
def test_every_public_method_with_kwargs_checks_them() -> None:
    """No public call takes **kwargs it does not check: each is listed in engine/client/keywords.py."""
    unlisted = []
    for name in dir(MilvusClient):
        attr = getattr(MilvusClient, name)
        if name.startswith("_") or not callable(attr):
            continue
        params = inspect.signature(attr).parameters.values()
        if any(p.kind == p.VAR_KEYWORD for p in params) and name not in KEYWORDS:
            unlisted.append(name)
    assert unlisted == []


CALLS = {
    "create_collection": lambda c, kw: c.create_collection("n", dimension=DIM, **kw),
    "insert": lambda c, kw: c.insert("c", [{"id": 9, "vector": [1.0] * DIM}], **kw),
    "upsert": lambda c, kw: c.upsert("c", [{"id": 9, "vector": [1.0] * DIM}], **kw),
    "delete": lambda c, kw: c.delete("c", ids=[1], **kw),
    "query": lambda c, kw: c.query("c", "id > 0", **kw),
    "get": lambda c, kw: c.get("c", [1], **kw),
    "search": lambda c, kw: c.search("c", [[1.0] * DIM], **kw),
    "hybrid_search": lambda c, kw: c.hybrid_search("c", [engine.AnnSearchRequest([[1.0] * DIM], "vector", {}, 3)],
                                                   engine.RRFRanker(), **kw),
    "search_iterator": lambda c, kw: c.search_iterator("c", [[1.0] * DIM], **kw),
    "query_iterator": lambda c, kw: c.query_iterator("c", filter="id > 0", **kw),
    "flush": lambda c, kw: c.flush("c", **kw),
    "drop_collection": lambda c, kw: c.drop_collection("c", **kw),
    "load_collection": lambda c, kw: c.load_collection("c", **kw),
    "create_index": lambda c, kw: c.create_index("c", c.prepare_index_params("vector", index_type="FLAT"), **kw),
    "create_partition": lambda c, kw: c.create_partition("c", "p", **kw),
    "describe_collection": lambda c, kw: c.describe_collection("c", **kw),
    "list_collections": lambda c, kw: c.list_collections(**kw),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_misspelt_keyword_is_refused_and_changes_nothing(c: MilvusClient, method: str) -> None:
    c.create_collection("c", dimension=DIM)
    c.insert("c", [{"id": 1, "vector": [1.0] * DIM}])
    before = (c.list_collections(), c.query("c", "", output_fields=["count(*)"]), c.list_partitions("c"))
    with pytest.raises(ParamError, match=rf"{method}\(\) got an unexpected keyword argument 'limt'; it takes"):
        CALLS[method](c, {"limt": 3})
    assert (c.list_collections(), c.query("c", "", output_fields=["count(*)"]), c.list_partitions("c")) == before


@pytest.mark.parametrize("kw", ["guarantee_timestamp", "hints", "order_by_fields", "replica_number"])
def test_known_pymilvus_options_refused_as_unsupported(c: MilvusClient, kw: str) -> None:
    c.create_collection("c", dimension=DIM)
    call = c.load_collection if kw == "replica_number" else (
        (lambda **k: c.query("c", "id > 0", **k)) if kw == "order_by_fields" else
        (lambda **k: c.search("c", [[1.0] * DIM], **k)))
    with pytest.raises(UnsupportedError, match=re.escape(UNSUPPORTED[kw])):
        call(**({"collection_name": "c"} if kw == "replica_number" else {}), **{kw: 1})


@pytest.mark.parametrize("arg", ["function_chains", "highlighter", "ids", "search_aggregation"])
def test_search_arguments_the_engine_lacks(c: MilvusClient, arg: str) -> None:
    c.create_collection("c", dimension=DIM)
    with pytest.raises(UnsupportedError, match=f"{arg}="):
        c.search("c", [[1.0] * DIM], **{arg: [object()]})


def test_reads_check_timeout_and_consistency_level(c: MilvusClient) -> None:
    c.create_collection("c", dimension=DIM)
    for level in ("Strong", "Session", "Bounded", "Eventually", "Customized", 0, 3):
        c.query("c", "id > 0", consistency_level=level)
        c.search("c", [[1.0] * DIM], consistency_level=level, timeout=1.5)
    with pytest.raises(ParamError, match="timeout"):
        c.query("c", "id > 0", timeout="soon")
    with pytest.raises(ParamError, match="progress_bar"):
        c.insert("c", [{"id": 1, "vector": [1.0] * DIM}], progress_bar="yes")
    assert c.insert("c", [{"id": 1, "vector": [1.0] * DIM}], progress_bar=True)["insert_count"] == 1


def test_hybrid_group_by_is_unsupported(c: MilvusClient) -> None:
    c.create_collection("c", dimension=DIM)
    with pytest.raises(UnsupportedError, match="group_by_field"):
        CALLS["hybrid_search"](c, {"group_by_field": "id"})


# --- load state -----------------------------------------------------------------------------------------
def test_reads_of_a_released_collection_are_refused(c: MilvusClient) -> None:
    c.create_collection("c", dimension=DIM)
    c.insert("c", [{"id": 1, "vector": [1.0] * DIM}])
    c.release_collection("c")
    for name in ("search", "query", "get", "hybrid_search", "search_iterator", "query_iterator"):
        with pytest.raises(CollectionNotLoadedError, match="released; call load_collection"):
            CALLS[name](c, {})
    assert c.get_collection_stats("c") == {"row_count": 1} and c.describe_collection("c")["collection_name"] == "c"
    c.load_partitions("c", ["_default"])  # loading partitions makes it readable again
    assert [h["id"] for h in c.search("c", [[1.0] * DIM])[0]] == [1]


def test_ignore_growing_leaves_out_unflushed_rows(c: MilvusClient) -> None:
    c.create_collection("c", dimension=DIM)
    c.insert("c", [{"id": 1, "vector": [1.0] * DIM}])
    c.flush("c")
    c.insert("c", [{"id": 2, "vector": [1.0] * DIM}])
    assert [r["id"] for r in c.query("c", "id > 0", ignore_growing=True)] == [1]
    assert sorted(h["id"] for h in c.search("c", [[1.0] * DIM], search_params={"ignore_growing": True})[0]) == [1]
    assert sorted(r["id"] for r in c.query("c", "id > 0")) == [1, 2]
    with pytest.raises(ParamError, match="ignore_growing must be True or False"):
        c.query("c", "id > 0", ignore_growing="yes")


# --- create_collection, schema functions, smaller calls -----------------------------------------------
def test_quick_form_arguments_with_a_schema_must_agree(c: MilvusClient) -> None:
    """pymilvus ignores dimension= and the like when schema= is given (its own iterator example passes both);
    the engine takes those that agree with the schema and refuses the others."""
    s = c.create_schema()
    s.add_field("pk", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    c.create_collection("ok", dimension=DIM, primary_field_name="pk", vector_field_name="v", schema=s)
    for bad in ({"dimension": 8}, {"metric_type": "L2"}, {"primary_field_name": "id2"}, {"auto_id": True},
                {"enable_dynamic_field": True}):
        with pytest.raises(ParamError, match=re.escape(next(iter(bad)))):
            c.create_collection("no", schema=s, **bad)
    assert not c.has_collection("no")
    with pytest.raises(UnsupportedError, match="one shard"):
        c.create_collection("no", dimension=DIM, num_shards=2)


@pytest.mark.parametrize("fn", [
    Function("emb", FunctionType.TEXTEMBEDDING, ["text"], ["vec"], params={"provider": "openai"}),
    pymilvus.Function("emb", pymilvus.FunctionType.TEXTEMBEDDING, ["text"], ["vec"], params={"provider": "openai"}),
    Function("mh", FunctionType.MINHASH, ["text"], ["sig"]),
])
def test_schema_functions_the_engine_lacks_are_refused(c: MilvusClient, fn: Any) -> None:
    s = c.create_schema()
    with pytest.raises(UnsupportedError, match="not supported by the engine yet"):
        s.add_function(fn)


@pytest.mark.parametrize("fn", [
    Function("bm25", FunctionType.BM25, ["text"], ["sparse"]),
    pymilvus.Function("bm25", pymilvus.FunctionType.BM25, ["text"], ["sparse"]),
])
def test_bm25_functions_ours_and_pymilvus_make_a_collection(c: MilvusClient, fn: Any) -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(fn)
    idx = c.prepare_index_params()
    idx.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    c.create_collection("docs", schema=s, index_params=idx)
    c.insert("docs", [{"id": 1, "text": "penguins huddle on the ice"}, {"id": 2, "text": "tea leaves"}])
    hits = c.search("docs", ["penguins"], anns_field="sparse", limit=2)[0]
    assert [h["id"] for h in hits] == [1]


def test_get_server_version_and_partition_stats(c: MilvusClient) -> None:
    assert re.fullmatch(r"2\.6\.4-engine-.+", c.get_server_version())
    detail = c.get_server_version(detail=True)
    assert detail["deploy_mode"] == "EMBEDDED" and detail["version"] == c.get_server_version()
    c.create_collection("c", dimension=DIM)
    c.insert("c", [{"id": i, "vector": [1.0] * DIM} for i in range(4)])
    c.delete("c", ids=[0])
    assert c.get_partition_stats("c", "_default") == {"row_count": 3}


def test_pymilvus_calls_the_engine_lacks(c: MilvusClient) -> None:
    with pytest.raises(UnsupportedCallError, match=r"create_user\(\) is a pymilvus call"):
        c.create_user("u", "p")
    assert isinstance(UnsupportedCallError("x"), (MilvusException, NotImplementedError, AttributeError))
    assert not hasattr(c, "list_roles") and not hasattr(c, "no_such_thing")


def test_results_carry_pymilvus_cost_and_extra(c: MilvusClient) -> None:
    c.create_collection("c", dimension=DIM)
    res = c.insert("c", [{"id": 1, "vector": [1.0] * DIM}])
    assert res["cost"] == 0 and str(res) == "{'insert_count': 1, 'ids': [1]}"
    assert c.query("c", "id > 0").extra == {"cost": 0} and c.search("c", [[1.0] * DIM]).extra == {"cost": 0}
    assert str(c.get_load_state("c")["state"]) == "Loaded"


def test_index_params_print_as_pymilvus(c: MilvusClient) -> None:
    ip = c.prepare_index_params()
    ip.add_index("v", metric_type="L2", params={"M": 20}, efConstruction=100)
    assert [str(i) for i in ip] == [str(p) for p in _pymilvus_params()]


def _pymilvus_params() -> Any:
    ip = pymilvus.MilvusClient.prepare_index_params()
    ip.add_index("v", metric_type="L2", params={"M": 20}, efConstruction=100)
    return ip


@pytest.mark.parametrize("index_type, field, match", [
    ("INVERTED", "js", "JSON index needs json_path"),
    ("BITMAP", "f", "BITMAP indexes BOOL, integer and VARCHAR"),
    ("TRIE", "n", "TRIE indexes VARCHAR fields"),
    ("STL_SORT", "b", "STL_SORT indexes numeric, VARCHAR and TIMESTAMPTZ"),
])
def test_scalar_index_field_types(c: MilvusClient, index_type: str, field: str, match: str) -> None:
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    for name, dtype in (("js", DataType.JSON), ("f", DataType.FLOAT), ("n", DataType.INT64), ("b", DataType.BOOL)):
        s.add_field(name, dtype)
    c.create_collection("c", schema=s)
    ip = c.prepare_index_params()
    ip.add_index(field, index_type=index_type)
    with pytest.raises(MilvusException, match=match):
        c.create_index("c", ip)
    assert c.list_indexes("c") == []
