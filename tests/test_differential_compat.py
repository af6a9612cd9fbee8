"""Differential tests of the pymilvus API surface: rerank functions, pymilvus's objects, rulings, bad calls.

The same calls run on `engine.MilvusClient` and on pymilvus with Milvus Lite 3.2.2. Tests named
`test_difference_*` assert a difference listed in docs/differences-tested.md, with the reason there.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from lite_pair import engine_namespace, lite_namespace, outcome

pytestmark = pytest.mark.milvus_lite
N, DIM = 40, 4
_names = itertools.count()


def fresh(prefix: str = "c") -> str:
    return f"{prefix}_{next(_names)}"


@pytest.fixture(scope="module")
def eng(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    yield from engine_namespace(Path(tmp_path_factory.mktemp("engine")) / "db")


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    yield from lite_namespace(Path(tmp_path_factory.mktemp("lite")) / "lite.db")


def both(eng: SimpleNamespace, lite: SimpleNamespace, fn: Callable[[SimpleNamespace], Any]) -> tuple[Any, Any]:
    return fn(eng), fn(lite)


def hits(res: Any) -> list[list[tuple[Any, float]]]:
    return [[(h["id"], float(h["distance"])) for h in page] for page in res]


def assert_same_hits(a: Any, b: Any, tol: float = 1e-5) -> None:
    ha, hb = hits(a), hits(b)
    assert [[i for i, _ in p] for p in ha] == [[i for i, _ in p] for p in hb], (ha, hb)
    for pa, pb in zip(ha, hb):
        for (_, da), (_, db) in zip(pa, pb):
            assert math.isclose(da, db, rel_tol=tol, abs_tol=tol), (da, db)


# --- a data set for rankers ----------------------------------------------------------------------------
def _rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    return [{"id": i, "v": rng.random(DIM).tolist(), "w": rng.random(DIM).tolist(), "ts": i * 10, "f": i / 4,
             "doc": ["abstract", "body", "title"][i % 3]} for i in range(N)]


def _make(api: SimpleNamespace, name: str) -> None:
    DT = api.M.DataType
    s = api.client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DT.INT64, is_primary=True)
    s.add_field("v", DT.FLOAT_VECTOR, dim=DIM)
    s.add_field("w", DT.FLOAT_VECTOR, dim=DIM)
    s.add_field("ts", DT.INT64)
    s.add_field("f", DT.FLOAT)
    s.add_field("doc", DT.VARCHAR, max_length=20)
    ip = api.client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    ip.add_index("w", index_type="FLAT", metric_type="COSINE")
    api.client.create_collection(name, schema=s, index_params=ip)
    api.client.insert(name, _rows())


@pytest.fixture(scope="module")
def ranked(eng: SimpleNamespace, lite: SimpleNamespace) -> str:
    name = fresh("rr")
    for api in (eng, lite):
        _make(api, name)
    return name


def rerank_fn(api: SimpleNamespace, inputs: list[str], **params: Any) -> Any:
    return api.M.Function(name="r", input_field_names=inputs, function_type=api.M.FunctionType.RERANK, params=params)


Q = [[0.5, 0.4, 0.6, 0.5]]


@pytest.mark.parametrize("anns", ["v", "w"])
@pytest.mark.parametrize("decay", [
    {"function": "gauss", "origin": 200, "scale": 80},
    {"function": "exp", "origin": 150, "scale": 60, "offset": 20, "decay": 0.3},
    {"function": "linear", "origin": 100, "scale": 90, "decay": 0.4},
    {"function": "linear", "origin": 0, "scale": 40},  # linear reaches 0 far from the origin: those hits stay, at 0
])
@pytest.mark.parametrize("field", ["ts", "f"])
def test_decay_rerankers_match(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str, anns: str,
                               decay: dict[str, Any], field: str) -> None:
    """search(ranker=decay) scores as Milvus: the hit's "larger is better" score times the decay score.
    limit covers the collection, so both rerank the same candidates (docs/engine.md)."""
    params = dict(decay) if field == "ts" else {**decay, "origin": decay["origin"] / 40, "scale": decay["scale"] / 40,
                                                 **({"offset": decay["offset"] / 40} if "offset" in decay else {})}
    e, lt = both(eng, lite, lambda api: api.client.search(ranked, Q, anns_field=anns, limit=N, output_fields=[field],
                                                          ranker=rerank_fn(api, [field], reranker="decay", **params)))
    assert_same_hits(e, lt)


BOOSTS = [{"filter": "doc == 'abstract'", "weight": 0.5}, {"weight": 2.0},
          {"filter": "ts > 200 and doc != 'body'", "weight": 1.7}]


@pytest.mark.parametrize("boost", BOOSTS)
def test_boost_rerankers_match(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str,
                               boost: dict[str, Any]) -> None:
    """A boost multiplies the score of the hits its filter matches (COSINE: larger is better)."""
    e, lt = both(eng, lite, lambda api: api.client.search(ranked, Q, anns_field="w", limit=N,
                                                          ranker=rerank_fn(api, [], reranker="boost", **boost)))
    assert_same_hits(e, lt)


@pytest.mark.parametrize("boost", BOOSTS)
def test_difference_boost_on_a_distance_metric(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str,
                                               boost: dict[str, Any]) -> None:
    """On L2 the engine multiplies each matching hit's distance by the weight once, as the boost-ranker docs
    show (score × weight, then the metric's order: ascending for L2). Milvus Lite 3.2.2 multiplies some hits
    by the weight twice (its first matching hit once), so its order differs whenever the filter matches
    several hits; it agrees when nothing is filtered out (weight 2 on every hit: the order is unchanged)."""
    plain = {h["id"]: h["distance"] for h in eng.client.search(ranked, Q, anns_field="v", limit=N,
                                                               output_fields=["doc", "ts"])[0]}
    rows = {r["id"]: r for r in _rows()}
    matches = {"doc == 'abstract'": lambda r: r["doc"] == "abstract", None: lambda r: True,
               "ts > 200 and doc != 'body'": lambda r: r["ts"] > 200 and r["doc"] != "body"}[boost.get("filter")]
    want = sorted(((d * boost["weight"] if matches(rows[i]) else d), i) for i, d in plain.items())
    e, lt = both(eng, lite, lambda api: api.client.search(ranked, Q, anns_field="v", limit=N,
                                                          ranker=rerank_fn(api, [], reranker="boost", **boost)))
    assert [i for _, i in want] == [h["id"] for h in e[0]]
    for (d, _), h in zip(want, e[0]):
        assert math.isclose(d, h["distance"], rel_tol=1e-5)
    assert ([h["id"] for h in lt[0]] == [h["id"] for h in e[0]]) == ("filter" not in boost)


@pytest.mark.parametrize("modes", [{"boost_mode": "Multiply", "function_mode": "Sum"},
                                   {"boost_mode": "Sum", "function_mode": "Multiply"}])
def test_function_score_of_boosts_matches(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str,
                                          modes: dict[str, str]) -> None:
    def run(api: SimpleNamespace) -> Any:
        fs = api.M.FunctionScore([rerank_fn(api, [], reranker="boost", weight=0.8),
                                  rerank_fn(api, [], reranker="boost", filter="doc == 'abstract'", weight=0.4)],
                                 params=modes)
        return api.client.search(ranked, Q, anns_field="w", limit=N, ranker=fs)

    assert_same_hits(*both(eng, lite, run))


def test_rrf_function_in_a_search_matches(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str) -> None:
    assert_same_hits(*both(eng, lite, lambda api: api.client.search(
        ranked, Q, anns_field="w", limit=10, ranker=rerank_fn(api, [], reranker="rrf", k=30))))


def _reqs(api: SimpleNamespace, limit: int = N) -> list[Any]:
    return [api.M.AnnSearchRequest(Q, "v", {"metric_type": "L2"}, limit),
            api.M.AnnSearchRequest([[0.1, 0.9, 0.3, 0.2]], "w", {"metric_type": "COSINE"}, limit, expr="ts > 50")]


@pytest.mark.parametrize("ranker", [
    {"reranker": "rrf", "k": 60}, {"reranker": "rrf"}, {"reranker": "weighted", "weights": [0.3, 0.7]},
    {"reranker": "weighted", "weights": [0.9, 0.2], "norm_score": True},
])
def test_hybrid_function_rankers_match(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str,
                                       ranker: dict[str, Any]) -> None:
    assert_same_hits(*both(eng, lite, lambda api: api.client.hybrid_search(
        ranked, _reqs(api, 10), rerank_fn(api, [], **ranker), limit=8)))


def test_hybrid_decay_matches(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str) -> None:
    """A decay ranker over a hybrid search: the largest normalised score among the requests, times the decay."""
    assert_same_hits(*both(eng, lite, lambda api: api.client.hybrid_search(
        ranked, _reqs(api), rerank_fn(api, ["ts"], reranker="decay", function="gauss", origin=120, scale=50),
        limit=N)))


def test_pymilvus_rankers_and_requests_in_the_engine(eng: SimpleNamespace, lite: SimpleNamespace,
                                                     ranked: str) -> None:
    """The engine takes pymilvus's AnnSearchRequest, RRFRanker, WeightedRanker, Function and FunctionScore
    (the objects code that changed only its import may still build) and answers as Milvus Lite does."""
    import pymilvus

    pm = SimpleNamespace(M=pymilvus)
    for ranker in (pymilvus.RRFRanker(20), pymilvus.WeightedRanker(0.4, 0.6),
                   rerank_fn(pm, ["ts"], reranker="decay", function="exp", origin=90, scale=40)):
        e = eng.client.hybrid_search(ranked, _reqs(pm, 10), ranker, limit=6)
        lt = lite.client.hybrid_search(ranked, _reqs(pm, 10), ranker, limit=6)
        assert_same_hits(e, lt)
    fs = pymilvus.FunctionScore([rerank_fn(pm, [], reranker="boost", filter="doc == 'body'", weight=3)])
    assert_same_hits(eng.client.search(ranked, Q, anns_field="w", limit=N, ranker=fs),
                     lite.client.search(ranked, Q, anns_field="w", limit=N, ranker=fs))


BAD_RANKERS: list[tuple[str, list[str], dict[str, Any]]] = [
    ("unknown decay function", ["ts"], {"reranker": "decay", "function": "nope", "origin": 0, "scale": 5}),
    ("decay without origin", ["ts"], {"reranker": "decay", "function": "gauss", "scale": 5}),
    ("decay scale 0", ["ts"], {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 0}),
    ("decay 1", ["ts"], {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5, "decay": 1}),
    ("decay origin text", ["ts"], {"reranker": "decay", "function": "gauss", "origin": "x", "scale": 5}),
    ("decay on VARCHAR", ["doc"], {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5}),
    ("decay without input", [], {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5}),
    ("decay with two inputs", ["ts", "f"], {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5}),
    ("boost without weight", [], {"reranker": "boost", "filter": "ts > 1"}),
    ("boost with inputs", ["ts"], {"reranker": "boost", "weight": 2}),
    ("unknown reranker", [], {"reranker": "nope"}),
]


@pytest.mark.parametrize("case", BAD_RANKERS, ids=[c[0] for c in BAD_RANKERS])
def test_bad_rankers_refused_by_both(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str,
                                    case: tuple[str, list[str], dict[str, Any]]) -> None:
    _, inputs, params = case
    e, lt = both(eng, lite, lambda api: outcome(lambda: api.client.search(
        ranked, Q, anns_field="v", limit=3, ranker=rerank_fn(api, inputs, **params))))
    assert not e[0] and not lt[0], (e, lt)
    assert "r" in e[1]  # the engine's message names the function ("function 'r': ...") or its field


def test_bad_hybrid_rankers_refused_by_both(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str) -> None:
    for params in ({"reranker": "rrf", "k": -1}, {"reranker": "weighted", "weights": [1.0]}):
        e, lt = both(eng, lite, lambda api, params=params: outcome(lambda: api.client.hybrid_search(
            ranked, _reqs(api, 5), rerank_fn(api, [], **params), limit=3)))
        assert not e[0] and not lt[0], (params, e, lt)
    e, lt = both(eng, lite, lambda api: outcome(lambda: api.client.search(ranked, Q, anns_field="v", limit=3,
                                                                          ranker=api.M.RRFRanker())))
    assert not e[0] and not lt[0], "an RRFRanker ranks hybrid searches only (pymilvus refuses it in search)"


def test_difference_rankers_milvus_lite_takes(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str) -> None:
    """Milvus Lite takes these and the engine refuses them: an unknown decay parameter (Lite ignores it), a
    decay ranker in a grouping search (the docs: "Decay ranking cannot be used with grouping searches"), a
    boost ranker on a hybrid search (the docs: "You cannot use Boost Ranker as the ranker in a multi-vector
    hybrid search"; Lite ranks it as RRF), and hybrid_search(group_by_field=) (not implemented by the engine)."""
    decay = {"reranker": "decay", "function": "gauss", "origin": 0, "scale": 5}
    calls: list[Callable[[SimpleNamespace], Any]] = [
        lambda api: api.client.search(ranked, Q, anns_field="v", limit=3,
                                      ranker=rerank_fn(api, ["ts"], **decay, bogus=1)),
        lambda api: api.client.search(ranked, Q, anns_field="v", limit=3, group_by_field="doc",
                                      ranker=rerank_fn(api, ["ts"], **decay)),
        lambda api: api.client.hybrid_search(ranked, _reqs(api, 5), rerank_fn(api, [], reranker="boost", weight=2),
                                             limit=3),
        lambda api: api.client.hybrid_search(ranked, _reqs(api, 5), api.M.RRFRanker(), limit=3, group_by_field="doc"),
    ]
    for call in calls:
        e, lt = both(eng, lite, lambda api, call=call: outcome(lambda: call(api)))
        assert lt[0] and not e[0], (e, lt)


def test_difference_model_rerankers(eng: SimpleNamespace, lite: SimpleNamespace, ranked: str) -> None:
    """Model rerankers call a remote service: the engine refuses them as unsupported; Milvus Lite knows
    only 'cohere' (and needs the network)."""
    params = {"reranker": "model", "provider": "tei", "queries": ["x"], "endpoint": "http://localhost:1"}
    e, lt = both(eng, lite, lambda api: outcome(lambda: api.client.search(
        ranked, Q, anns_field="v", limit=3, ranker=rerank_fn(api, ["doc"], **params))))
    assert not e[0] and "UnsupportedError" in e[1] and "model rerankers" in e[1]
    assert not lt[0]


# --- pymilvus's schema and index objects --------------------------------------------------------------
def test_pymilvus_schema_and_index_objects_in_the_engine(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """A pymilvus CollectionSchema of pymilvus FieldSchemas, pymilvus IndexParams (from pymilvus's
    prepare_index_params) with an IndexType enum: the engine builds the same collection Milvus Lite does."""
    import pymilvus

    name = fresh("pm")
    fields = [pymilvus.FieldSchema("pk", pymilvus.DataType.VARCHAR, is_primary=True, max_length=20),
              pymilvus.FieldSchema("n", pymilvus.DataType.INT32, nullable=True, default_value=7),
              pymilvus.FieldSchema("t", pymilvus.DataType.VARCHAR, max_length=50, enable_analyzer=True,
                                   enable_match=True, is_clustering_key=True),
              pymilvus.FieldSchema("vec", pymilvus.DataType.FLOAT_VECTOR, dim=DIM, description="the vector")]
    schema = pymilvus.CollectionSchema(fields, description="made by pymilvus", enable_dynamic_field=True)
    ip = pymilvus.MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type=pymilvus.IndexType.FLAT, metric_type="L2")
    rows = [{"pk": f"k{i}", "vec": [i, 1.0, 0.5, i / 3], "t": f"text {i}", **({"n": i} if i % 2 else {})}
            for i in range(10)]

    def run(api: SimpleNamespace) -> Any:
        api.client.create_collection(name, schema=schema, index_params=ip)
        api.client.insert(name, rows)
        d = api.client.describe_collection(name)
        shape = [(f["name"], int(f["type"]), f.get("is_primary", False), f.get("nullable", False),
                  f.get("is_clustering_key", False), {k: str(v) for k, v in f["params"].items()}) for f in d["fields"]]
        got = api.client.query(name, filter="pk in ['k1', 'k2']", output_fields=["n"])
        return shape, d["enable_dynamic_field"], sorted((r["pk"], r["n"]) for r in got), api.client.search(
            name, [[2.0, 1.0, 0.5, 0.5]], limit=4)

    (es, edyn, eq, eh), (ls, ldyn, lq, lh) = both(eng, lite, run)
    text = {"max_length": "50", "enable_analyzer": "true", "enable_match": "true"}
    assert ("t", 21, False, False, True, text) in es
    assert ("t", 21, False, False, False, text) in ls  # Milvus Lite drops is_clustering_key (a listed difference)
    assert [f for f in es if f[0] != "t"] == [f for f in ls if f[0] != "t"]
    assert edyn == ldyn and eq == lq == [("k1", 1), ("k2", 7)]
    assert [[h["pk"] for h in p] for p in eh] == [[h["pk"] for h in p] for p in lh]


def test_index_type_enum_and_describe_index(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    import pymilvus

    name = fresh("it")

    def run(api: SimpleNamespace) -> Any:
        api.client.create_collection(name, dimension=DIM)
        api.client.release_collection(name)
        api.client.drop_index(name, "vector")
        ip = api.client.prepare_index_params()
        ip.add_index("vector", index_type=pymilvus.IndexType.HNSW, metric_type="IP", params={"M": 8})
        api.client.create_index(name, ip)
        d = api.client.describe_index(name, "vector")
        return d["index_type"], d["metric_type"], d["field_name"]

    assert both(eng, lite, run) == (("HNSW", "IP", "vector"),) * 2


# --- rulings ------------------------------------------------------------------------------------------
def test_load_state_after_create(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """Loaded after create_collection with an index (quick form or index_params), and, as in Milvus Lite,
    without one (a Milvus server needs an index before it loads)."""
    name, plain = fresh("ls"), fresh("ls")

    def run(api: SimpleNamespace) -> Any:
        api.client.create_collection(name, dimension=DIM)
        s = api.client.create_schema()
        s.add_field("id", api.M.DataType.INT64, is_primary=True)
        s.add_field("v", api.M.DataType.FLOAT_VECTOR, dim=DIM)
        api.client.create_collection(plain, schema=s)
        return str(api.client.get_load_state(name)["state"]), str(api.client.get_load_state(plain)["state"])

    assert both(eng, lite, run) == (("Loaded", "Loaded"),) * 2


def test_list_collections_sorted_on_both(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    names = [f"zz_{fresh('o')}", f"aa_{fresh('o')}", f"mm_{fresh('o')}"]

    def run(api: SimpleNamespace) -> Any:
        for n in names:
            api.client.create_collection(n, dimension=DIM)
        return [n for n in api.client.list_collections() if n in names]

    assert both(eng, lite, run) == (sorted(names), sorted(names))


def test_get_partition_stats_match(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    name = fresh("ps")

    def run(api: SimpleNamespace) -> Any:
        c = api.client
        c.create_collection(name, dimension=DIM)
        c.create_partition(name, "p1")
        c.insert(name, [{"id": i, "vector": [1.0, 2.0, 3.0, float(i)]} for i in range(5)], partition_name="p1")
        c.insert(name, [{"id": 10 + i, "vector": [1.0, 2.0, 3.0, float(i)]} for i in range(3)])
        c.delete(name, ids=[0])
        return (c.get_partition_stats(name, "p1"), c.get_partition_stats(name, "_default"),
                outcome(lambda: c.get_partition_stats(name, "nope"))[0])

    assert both(eng, lite, run) == (({"row_count": 4}, {"row_count": 3}, False),) * 2


def test_get_server_version_parses(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """Both give a string with a version in it; the engine's reads 2.6.4 (the Milvus API it follows)."""
    e, lt = both(eng, lite, lambda api: api.client.get_server_version())
    assert re.search(r"\d+\.\d+\.\d+", lt)
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", e)
    assert m and m.group(0) == "2.6.4" and e.startswith("2.6.4-engine-")


def test_difference_describe_index_of_a_missing_index(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """pymilvus returns None for an index that does not exist (a Milvus server says IndexNotExist); the engine
    returns None. Milvus Lite answers with the collection's one index whatever name is asked for."""
    name = fresh("di")
    for api in (eng, lite):
        api.client.create_collection(name, dimension=DIM)
    assert eng.client.describe_index(name, "nope") is None
    assert lite.client.describe_index(name, "nope")["index_name"] == "vector"


def test_difference_drop_a_missing_index(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """A Milvus server drops a missing index without an error and without touching the others (datacoord's
    DropIndex: "there is no index ..." then success); so does the engine. Milvus Lite drops the collection's
    index instead when it has one, and refuses ("no index to drop") when it has none."""
    name, bare = fresh("dm"), fresh("dm")
    for api in (eng, lite):
        api.client.create_collection(name, dimension=DIM)
        api.client.release_collection(name)
        s = _schema(api, PK, VEC)
        api.client.create_collection(bare, schema=s)
        api.client.release_collection(bare)
    assert outcome(lambda: eng.client.drop_index(name, "nope")) == (True, "None")
    assert eng.client.list_indexes(name) == ["vector"]
    assert outcome(lambda: eng.client.drop_index(bare, "nope"))[0]
    assert outcome(lambda: lite.client.drop_index(name, "nope"))[0] and lite.client.list_indexes(name) == []
    assert not outcome(lambda: lite.client.drop_index(bare, "nope"))[0]


def test_difference_create_the_same_index_again(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """The same index again: a Milvus server does nothing (same name, field and params: ignored); so does the
    engine. Milvus Lite refuses ("index already exists"). Other settings are refused by both."""
    name = fresh("si")

    def index(api: SimpleNamespace, index_type: str) -> Any:
        ip = api.client.prepare_index_params()
        ip.add_index("vector", index_type=index_type, metric_type="L2")
        return outcome(lambda: api.client.create_index(name, ip))

    for api in (eng, lite):
        api.client.create_collection(name, dimension=DIM, metric_type="L2")
        api.client.release_collection(name)
        api.client.drop_index(name, "vector")
        assert index(api, "FLAT")[0]
    assert index(eng, "FLAT")[0] and not index(lite, "FLAT")[0]
    assert not index(eng, "HNSW")[0] and not index(lite, "HNSW")[0]


def test_difference_scalar_index_metric_type(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """describe_index of a scalar index: no metric_type key from the engine (a Milvus server sends none);
    Milvus Lite reports 'NONE'."""
    for api in (eng, lite):
        c = api.client
        other = fresh("sm")
        sch = c.create_schema()
        sch.add_field("id", api.M.DataType.INT64, is_primary=True)
        sch.add_field("v", api.M.DataType.FLOAT_VECTOR, dim=DIM)
        sch.add_field("n", api.M.DataType.INT64)
        ip = c.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        ip.add_index("n", index_type="INVERTED")
        c.create_collection(other, schema=sch, index_params=ip)
        d = c.describe_index(other, "n")
        assert d["index_type"] == "INVERTED"
        if api.kind == "engine":
            assert "metric_type" not in d
        else:
            assert d["metric_type"] == "NONE"


def test_difference_ignore_growing(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """ignore_growing=True leaves out rows not yet sealed into a segment (Milvus's growing segments): the
    engine's search and query then see only flushed rows. Milvus Lite ignores the parameter."""
    name = fresh("ig")

    def run(api: SimpleNamespace) -> Any:
        c = api.client
        c.create_collection(name, dimension=DIM)
        c.insert(name, [{"id": i, "vector": [1.0, 0.5, 0.2, float(i)]} for i in range(3)])
        c.flush(name)
        c.insert(name, [{"id": 10 + i, "vector": [1.0, 0.5, 0.2, float(i)]} for i in range(2)])
        found = [h["id"] for h in c.search(name, [[1.0, 0.5, 0.2, 1.0]], limit=10, ignore_growing=True)[0]]
        everything = [h["id"] for h in c.search(name, [[1.0, 0.5, 0.2, 1.0]], limit=10)[0]]
        return sorted(found), sorted(everything)

    e, lt = both(eng, lite, run)
    assert e == ([0, 1, 2], [0, 1, 2, 10, 11])
    assert lt == ([0, 1, 2, 10, 11], [0, 1, 2, 10, 11])


def test_difference_misspelt_index_build_params(eng: SimpleNamespace, lite: SimpleNamespace) -> None:
    """A build parameter the index type does not take (`m` for HNSW's `M`, `nlist` on HNSW, `M` on IVF_FLAT)
    would do nothing: the engine refuses it, naming the valid ones; Milvus Lite takes and ignores it."""
    for index_type, params in (("HNSW", {"m": 8}), ("HNSW", {"nlist": 8}), ("IVF_FLAT", {"M": 3})):
        name = fresh("bp")

        def run(api: SimpleNamespace, name: str = name, index_type: str = index_type,
                params: dict[str, Any] = params) -> Any:
            s = api.client.create_schema()
            s.add_field("id", api.M.DataType.INT64, is_primary=True)
            s.add_field("v", api.M.DataType.FLOAT_VECTOR, dim=DIM)
            api.client.create_collection(name, schema=s)
            ip = api.client.prepare_index_params()
            ip.add_index("v", index_type=index_type, metric_type="L2", params=params)
            return outcome(lambda: api.client.create_index(name, ip))

        e, lt = both(eng, lite, run)
        assert lt[0] and not e[0], (e, lt)
        key = next(iter(params))
        assert f"no build parameter {key!r}" in e[1] and ("M, efConstruction" in e[1] or "nlist" in e[1])
        if key == "m":
            assert "did you mean 'M'?" in e[1]


# --- bad calls: what Milvus Lite refuses, the engine refuses --------------------------------------------
def _schema(api: SimpleNamespace, *fields: tuple[str, str, dict[str, Any]], **kw: Any) -> Any:
    s = api.client.create_schema(**kw)
    for name, dtype, params in fields:
        s.add_field(name, getattr(api.M.DataType, dtype), **params)
    return s


PK = ("id", "INT64", {"is_primary": True})
VEC = ("v", "FLOAT_VECTOR", {"dim": DIM})

# (case, how to run it, "both" = both refuse, "engine" = only the engine refuses: docs/differences-tested.md)
BAD_CALLS: list[tuple[str, Callable[[SimpleNamespace, str], Any], str]] = [
    ("duplicate field names", lambda a, n: a.client.create_collection(n, schema=_schema(a, PK, VEC, ("v", "INT64", {}))), "both"),
    ("two primary keys", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("id2", "INT64", {"is_primary": True}))), "both"),
    ("no primary key", lambda a, n: a.client.create_collection(n, schema=_schema(a, VEC, ("x", "INT64", {}))), "both"),
    ("vector without dim", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, ("v", "FLOAT_VECTOR", {}))), "both"),
    ("dim 0", lambda a, n: a.client.create_collection(n, schema=_schema(a, PK, ("v", "FLOAT_VECTOR", {"dim": 0}))), "both"),
    ("nullable primary key", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, ("id", "INT64", {"is_primary": True, "nullable": True}), VEC)), "both"),
    ("default value on a vector", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, ("v", "FLOAT_VECTOR", {"dim": DIM, "default_value": [0.0] * DIM}))), "both"),
    ("FLOAT primary key", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, ("id", "FLOAT", {"is_primary": True}), VEC)), "both"),
    ("no vector field", lambda a, n: a.client.create_collection(n, schema=_schema(a, PK, ("x", "INT64", {}))), "both"),
    ("auto_id on a non-key field", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("x", "INT64", {"auto_id": True}))), "both"),
    ("two clustering keys", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("x", "INT64", {"is_clustering_key": True}), ("y", "INT64", {"is_clustering_key": True}))), "both"),
    ("clustering key on JSON", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("x", "JSON", {"is_clustering_key": True}))), "both"),
    ("VARCHAR without max_length", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("s", "VARCHAR", {}))), "engine"),
    ("dim 40000", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, ("v", "FLOAT_VECTOR", {"dim": 40000}))), "engine"),
    ("max_length 70000", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("s", "VARCHAR", {"max_length": 70000}))), "engine"),
    ("ARRAY without max_capacity", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("a", "ARRAY", {"element_type": a.M.DataType.INT64}))), "engine"),
    ("ARRAY of JSON", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("a", "ARRAY", {"element_type": a.M.DataType.JSON, "max_capacity": 4}))), "engine"),
    ("default of the wrong type", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("x", "INT64", {"default_value": "a"}))), "engine"),
    ("field name starting with a digit", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("1x", "INT64", {}))), "engine"),
    ("enable_match on INT64", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, VEC, ("x", "INT64", {"enable_match": True}))), "engine"),
    ("eleven vector fields", lambda a, n: a.client.create_collection(n, schema=_schema(
        a, PK, *[(f"v{i}", "FLOAT_VECTOR", {"dim": 2}) for i in range(11)])), "engine"),
    ("consistency_level Bogus (create)", lambda a, n: a.client.create_collection(
        n, dimension=DIM, consistency_level="Bogus"), "both"),
]
GOOD_ROW = {"id": 1, "v": [0.1, 0.2, 0.3, 0.4], "s": "abc", "i8": 1}


def _good(api: SimpleNamespace, name: str) -> None:
    s = _schema(api, PK, VEC, ("s", "VARCHAR", {"max_length": 5}), ("i8", "INT8", {}))
    ip = api.client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    api.client.create_collection(name, schema=s, index_params=ip)
    api.client.insert(name, [GOOD_ROW])


def _with(name: str, call: Callable[[SimpleNamespace, str], Any]) -> Callable[[SimpleNamespace, str], Any]:
    def run(api: SimpleNamespace, n: str) -> Any:
        _good(api, n)
        return call(api, n)

    return run


BAD_CALLS += [
    (case, _with(case, fn), kind) for case, fn, kind in [
        ("vector of the wrong dim", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": 2, "v": [0.1, 0.2]}]), "both"),
        ("VARCHAR too long", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": 2, "s": "abcdefgh"}]), "both"),
        ("INT8 out of range", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": 2, "i8": 300}]), "both"),
        ("INT8 given a float", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": 2, "i8": 1.5}]), "both"),
        ("a missing field", lambda a, n: a.client.insert(n, [{"id": 3, "v": [0.1] * DIM, "s": "a"}]), "both"),
        ("an unknown field without dynamic fields", lambda a, n: a.client.insert(
            n, [{**GOOD_ROW, "id": 2, "zz": 1}]), "both"),
        ("a primary key of the wrong type", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": "x"}]), "both"),
        ("insert into an unknown partition", lambda a, n: a.client.insert(n, [GOOD_ROW], partition_name="nope"), "both"),
        ("a NaN in a vector", lambda a, n: a.client.insert(n, [{**GOOD_ROW, "id": 2, "v": [math.nan, 0, 0, 0]}]),
         "engine"),
        ("insert: the same key twice in one batch", lambda a, n: a.client.insert(
            n, [{**GOOD_ROW, "id": 6}, {**GOOD_ROW, "id": 6}]), "engine"),
        ("upsert: the same key twice in one batch", lambda a, n: a.client.upsert(
            n, [{**GOOD_ROW, "id": 6}, {**GOOD_ROW, "id": 6}]), "engine"),
        ("search: vectors of the wrong dim", lambda a, n: a.client.search(n, [[0.1] * 3]), "both"),
        ("search: unknown anns_field", lambda a, n: a.client.search(n, [[0.1] * DIM], anns_field="zz"), "both"),
        ("search: a scalar anns_field", lambda a, n: a.client.search(n, [[0.1] * DIM], anns_field="i8"), "both"),
        ("search: HAMMING on a float vector", lambda a, n: a.client.search(
            n, [[0.1] * DIM], search_params={"metric_type": "HAMMING"}), "both"),
        ("search: limit 0", lambda a, n: a.client.search(n, [[0.1] * DIM], limit=0), "both"),
        ("search: an unknown field in the filter", lambda a, n: a.client.search(n, [[0.1] * DIM], filter="zz > 1"), "both"),
        ("search: consistency_level Bogus", lambda a, n: a.client.search(
            n, [[0.1] * DIM], consistency_level="Bogus"), "both"),
        ("query: consistency_level Bogus", lambda a, n: a.client.query(n, "id > 0", consistency_level="Bogus"), "both"),
        ("get: consistency_level Bogus", lambda a, n: a.client.get(n, ids=[1], consistency_level="Bogus"), "both"),
        ("search: a metric other than the index's", lambda a, n: a.client.search(
            n, [[0.1] * DIM], search_params={"metric_type": "IP"}), "engine"),
        ("search: an unknown partition", lambda a, n: a.client.search(n, [[0.1] * DIM], partition_names=["nope"]),
         "engine"),
        ("search: an unknown output field", lambda a, n: a.client.search(n, [[0.1] * DIM], output_fields=["zz"]),
         "engine"),
        ("search: limit 20000", lambda a, n: a.client.search(n, [[0.1] * DIM], limit=20000), "engine"),
        ("search: a misspelt keyword", lambda a, n: a.client.search(n, [[0.1] * DIM], limt=3), "engine"),
        ("search: a misspelt search parameter", lambda a, n: a.client.search(
            n, [[0.1] * DIM], search_params={"params": {"nprob": 3}}), "engine"),
        ("search: consistency_level Bogus in search_params", lambda a, n: a.client.search(
            n, [[0.1] * DIM], search_params={"consistency_level": "Bogus"}), "engine"),
        ("query: a bad filter", lambda a, n: a.client.query(n, "id >>> 0"), "both"),
        ("query: an unknown output field", lambda a, n: a.client.query(n, "id > 0", output_fields=["zz"]), "engine"),
        ("delete: a bad filter", lambda a, n: a.client.delete(n, filter="zz == 1"), "both"),
        ("drop the _default partition", lambda a, n: a.client.drop_partition(n, "_default"), "both"),
        ("create a partition twice", lambda a, n: (a.client.create_partition(n, "p1"),
                                                   a.client.create_partition(n, "p1")), "both"),
        ("get_partition_stats of an unknown partition", lambda a, n: a.client.get_partition_stats(n, "nope"), "both"),
        ("index: an unknown field", lambda a, n: _index(a, n, "zz", "FLAT", "L2"), "both"),
        ("index: HNSW on a VARCHAR", lambda a, n: _index(a, n, "s", "HNSW", "L2"), "both"),
        ("index: INVERTED on JSON", lambda a, n: _json_index(a, n), "both"),
        ("index: empty index_params", lambda a, n: a.client.create_index(n, a.client.prepare_index_params()), "both"),
        ("index: BITMAP on a vector field", lambda a, n: _index(a, n, "v", "BITMAP", None), "both"),
        ("rename to an existing name", lambda a, n: (a.client.create_collection(n + "_o", dimension=2),
                                                     a.client.rename_collection(n, n + "_o")), "both"),
        ("create an existing collection", lambda a, n: a.client.create_collection(n, dimension=DIM), "both"),
    ]
]
BAD_CALLS += [
    ("describe an unknown collection", lambda a, n: a.client.describe_collection("nope_" + n), "both"),
    ("search an unknown collection", lambda a, n: a.client.search("nope_" + n, [[0.1] * DIM]), "both"),
    ("insert into an unknown collection", lambda a, n: a.client.insert("nope_" + n, [GOOD_ROW]), "both"),
    ("load an unknown collection", lambda a, n: a.client.load_collection("nope_" + n), "both"),
    ("get_collection_stats of an unknown collection", lambda a, n: a.client.get_collection_stats("nope_" + n), "both"),
    ("list_partitions of an unknown collection", lambda a, n: a.client.list_partitions("nope_" + n), "both"),
    ("flush an unknown collection", lambda a, n: a.client.flush("nope_" + n), "engine"),
]


def _index(api: SimpleNamespace, name: str, field: str, index_type: str, metric: str | None) -> Any:
    ip = api.client.prepare_index_params()
    ip.add_index(field, index_type=index_type, **({"metric_type": metric} if metric else {}))
    return api.client.create_index(name, ip)


def _json_index(api: SimpleNamespace, name: str) -> Any:
    other = name + "_j"
    api.client.create_collection(other, schema=_schema(api, PK, VEC, ("js", "JSON", {})))
    return _index(api, other, "js", "INVERTED", None)


@pytest.mark.parametrize("case", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls(eng: SimpleNamespace, lite: SimpleNamespace, case: tuple[str, Callable, str]) -> None:
    """Every call in the matrix is refused by the engine (with a MilvusException); Milvus Lite refuses those
    marked "both" and takes those marked "engine" (docs/differences-tested.md says why each is refused)."""
    label, call, kind = case
    name = fresh("bad")
    try:
        call(eng, name)
    except eng.exc:
        pass
    else:
        pytest.fail(f"{label}: the engine took it")
    lt = outcome(lambda: call(lite, name))
    assert lt[0] == (kind == "engine"), f"{label}: Milvus Lite {'took' if lt[0] else 'refused'} it: {lt[1]}"
