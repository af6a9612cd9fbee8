"""Differential tests: the same calls on `engine.MilvusClient` and on pymilvus with the real Milvus Lite.

Every test either checks that both give the same answer (hits and scores of exact/FLAT search,
query results for the same filter, counts after deletes and upserts, get by ids, output field
shapes, hybrid search), or asserts a known difference explicitly; such tests are named
`test_difference_*` and are listed in docs/differences-tested.md.

Milvus Lite runs locally (pymilvus starts it on a file). Where it cannot start, the tests skip with the
reason; with WORKBENCH_REQUIRE_MILVUS_LITE=1 (CI on Linux and macOS) they fail instead, so that they
can never pass silently.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from lite_pair import lite_unavailable

pytestmark = pytest.mark.milvus_lite


TOL = 1e-5




# --- the two clients -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """pymilvus + a Milvus Lite server on a file, one per module."""
    if sys.platform == "win32":
        lite_unavailable("milvus-lite has no Windows build (see pyproject.toml: sys_platform != 'win32')")
    try:
        import milvus_lite  # noqa: F401
        import pymilvus
        from pymilvus.client.embedding_list import EmbeddingList
    except ImportError as e:
        lite_unavailable(f"pymilvus or milvus-lite is not installed ({e}); install the 'milvus' extra")
        raise  # unreachable
    path = tmp_path_factory.mktemp("lite") / "lite.db"
    try:
        client = pymilvus.MilvusClient(str(path))
        version = client.get_server_version()
    except Exception as e:
        lite_unavailable(f"Milvus Lite cannot start here: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
        raise
    yield SimpleNamespace(kind="milvus_lite", client=client, version=version, DataType=pymilvus.DataType,
                          AnnSearchRequest=pymilvus.AnnSearchRequest, RRFRanker=pymilvus.RRFRanker,
                          WeightedRanker=pymilvus.WeightedRanker, EmbeddingList=EmbeddingList,
                          MilvusClient=pymilvus.MilvusClient, exc=pymilvus.MilvusException)
    client.close()


@pytest.fixture(scope="module")
def engine_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    import engine
    from engine.client.embedding_list import EmbeddingList

    client = engine.MilvusClient(str(tmp_path_factory.mktemp("engine") / "engine.db"))
    yield SimpleNamespace(kind="engine", client=client, version="engine", DataType=engine.DataType,
                          AnnSearchRequest=engine.AnnSearchRequest, RRFRanker=engine.RRFRanker,
                          WeightedRanker=engine.WeightedRanker, EmbeddingList=EmbeddingList,
                          MilvusClient=engine.MilvusClient, exc=engine.MilvusException)
    client.close()


@pytest.fixture(params=["engine", "milvus_lite"])
def api(request: pytest.FixtureRequest) -> SimpleNamespace:
    """Each client in turn (the Milvus Lite one skips, or fails, as described above)."""
    return request.getfixturevalue("engine_api" if request.param == "engine" else "lite_api")


@pytest.fixture
def both(engine_api: SimpleNamespace, lite_api: SimpleNamespace) -> tuple[SimpleNamespace, SimpleNamespace]:
    return engine_api, lite_api


_names = iter(range(10**6))


def fresh(prefix: str = "c") -> str:
    return f"{prefix}_{next(_names)}"


def same(both: tuple[SimpleNamespace, SimpleNamespace], fn: Callable[[SimpleNamespace], Any]) -> tuple[Any, Any]:
    """Run `fn` on each client; return (engine result, lite result)."""
    return fn(both[0]), fn(both[1])


def raises(fn: Callable[[], Any]) -> str | None:
    """The error message if `fn()` raises, else None."""
    try:
        fn()
    except Exception as e:
        return str(getattr(e, "message", "") or e)
    return None


def hits(res: Any) -> list[list[tuple[Any, float]]]:
    """(id, distance) per hit; pymilvus's hits carry the key under the primary field's name."""
    return [[(h.id, float(h.distance)) for h in page] for page in res]


def assert_same_hits(a: Any, b: Any, tol: float = TOL) -> None:
    ha, hb = hits(a), hits(b)
    assert [[i for i, _ in p] for p in ha] == [[i for i, _ in p] for p in hb]
    for pa, pb in zip(ha, hb):
        for (_, da), (_, db) in zip(pa, pb):
            assert math.isclose(da, db, rel_tol=tol, abs_tol=tol), (da, db)


# --- a shared data set --------------------------------------------------------------------------
N = 240
DIM = 8
WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape"]


def _rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((N, DIM)).astype(np.float32)
    rows = []
    for i in range(N):
        r: dict[str, Any] = {
            "id": i, "vec": vecs[i].tolist(), "i8": i % 100 - 50, "i32": i * 3, "f": i / 7, "d": i * 1.5,
            "b": i % 3 == 0, "s": WORDS[i % 7] + str(i), "tags": [WORDS[(i + k) % 7] for k in range(i % 4)],
            "nums": list(range(i % 5)),
            "js": {"a": i, "b": {"c": WORDS[i % 7]}, "l": [i, i + 1]} if i % 10 else None,
            "opt": None if i % 4 == 0 else f"o{i}", "color": ["red", "green", "blue"][i % 3], "size": i % 11,
        }
        if i % 6 == 0:
            r["rare"] = i
        rows.append(r)
    return rows


ROWS = _rows()


def _dataset_schema(api: SimpleNamespace) -> Any:
    DT = api.DataType
    s = api.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("id", DT.INT64, is_primary=True)
    s.add_field("vec", DT.FLOAT_VECTOR, dim=DIM)
    s.add_field("i8", DT.INT8)
    s.add_field("i32", DT.INT32)
    s.add_field("f", DT.FLOAT)
    s.add_field("d", DT.DOUBLE)
    s.add_field("b", DT.BOOL)
    s.add_field("s", DT.VARCHAR, max_length=64)
    s.add_field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_length=16, max_capacity=8)
    s.add_field("nums", DT.ARRAY, element_type=DT.INT64, max_capacity=8)
    s.add_field("js", DT.JSON, nullable=True)
    s.add_field("opt", DT.VARCHAR, max_length=16, nullable=True)
    return s


@pytest.fixture(scope="module")
def dataset(engine_api: SimpleNamespace, lite_api: SimpleNamespace) -> str:
    """Collection "ds" (FLAT L2 index, dynamic fields) with the same rows in both."""
    for api in (engine_api, lite_api):
        ip = api.client.prepare_index_params()
        ip.add_index("vec", index_type="FLAT", metric_type="L2")
        api.client.create_collection("ds", schema=_dataset_schema(api), index_params=ip)
        api.client.insert("ds", ROWS)
    return "ds"


def test_each_client_runs(api: SimpleNamespace) -> None:
    """Both clients start, create, insert and count (the skip reason shows when Lite cannot)."""
    name = fresh("smoke")
    api.client.create_collection(name, dimension=4)
    api.client.insert(name, [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    assert api.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 1
    api.client.drop_collection(name)


# --- search ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_quick_form_search_matches(both: tuple[SimpleNamespace, SimpleNamespace], metric: str) -> None:
    rng = np.random.default_rng(1)
    data = rng.standard_normal((150, 16)).astype(np.float32)
    queries = rng.standard_normal((4, 16)).astype(np.float32).tolist()
    name = fresh("quick")

    def run(api: SimpleNamespace) -> Any:
        api.client.create_collection(name, dimension=16, metric_type=metric)
        api.client.insert(name, [{"id": i, "vector": v.tolist(), "k": i % 5} for i, v in enumerate(data)])
        return (api.client.search(name, data=queries, limit=10),
                api.client.search(name, data=queries, limit=5, filter="k == 2", output_fields=["k"]))

    (ea, ef), (la, lf) = same(both, run)
    assert_same_hits(ea, la)
    assert_same_hits(ef, lf)
    assert all(h["entity"]["k"] == 2 for page in ef for h in page)
    assert all(h["entity"]["k"] == 2 for page in lf for h in page)


@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_flat_search_matches(both: tuple[SimpleNamespace, SimpleNamespace], metric: str) -> None:
    """FLAT index: ids and distances (L2 squared, IP, COSINE) to 1e-5, with offset and nq > 1."""
    rng = np.random.default_rng(2)
    data = (rng.standard_normal((200, 12)) * 3).astype(np.float32)
    queries = (rng.standard_normal((3, 12)) * 3).astype(np.float32).tolist()
    name = fresh("flat")

    def run(api: SimpleNamespace) -> Any:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DT.VARCHAR, is_primary=True, max_length=12)
        s.add_field("emb", DT.FLOAT_VECTOR, dim=12)
        s.add_field("g", DT.INT32)
        ip = api.client.prepare_index_params()
        ip.add_index("emb", index_type="FLAT", metric_type=metric)
        api.client.create_collection(name, schema=s, index_params=ip)
        api.client.insert(name, [{"pk": f"p{i}", "emb": v.tolist(), "g": i % 4} for i, v in enumerate(data)])
        return (api.client.search(name, data=queries, anns_field="emb", limit=7, output_fields=["g"]),
                api.client.search(name, data=queries, anns_field="emb", limit=4, offset=3),
                api.client.search(name, data=queries, anns_field="emb", limit=6, filter="g in [1, 3]"))

    for a, b in zip(*same(both, run)):
        assert_same_hits(a, b)
    e, lite = same(both, lambda api: api.client.search(name, data=queries[:1], anns_field="emb", limit=3,
                                                       output_fields=["g"]))
    assert [h["entity"]["g"] for h in e[0]] == [h["entity"]["g"] for h in lite[0]]


def test_range_search_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    q = ROWS[5]["vec"]
    params = {"params": {"radius": 12.0, "range_filter": 2.0}}  # L2: 2 <= d < 12
    e, lite = same(both, lambda api: api.client.search(dataset, data=[q], anns_field="vec", limit=50,
                                                       search_params=params))
    assert_same_hits(e, lite)
    assert all(2.0 <= d < 12.0 for _, d in hits(e)[0])


def test_search_filters_on_dynamic_and_json_match(both: tuple[SimpleNamespace, SimpleNamespace],
                                                  dataset: str) -> None:
    q = [ROWS[9]["vec"], ROWS[100]["vec"]]
    for flt in ['color == "red" and size > 3', "js['a'] > 100", "rare >= 0", "array_contains(tags, 'fig')"]:
        def run(api: SimpleNamespace, flt: str = flt) -> Any:
            return api.client.search(dataset, data=q, anns_field="vec", limit=8, filter=flt,
                                     output_fields=["color", "js"])

        e, lite = same(both, run)
        assert_same_hits(e, lite)
        assert [[dict(h["entity"]) for h in p] for p in e] == [[dict(h["entity"]) for h in p] for p in lite]


@pytest.mark.parametrize("metric_a", ["COSINE", "IP"])
def test_hybrid_search_matches(both: tuple[SimpleNamespace, SimpleNamespace], metric_a: str) -> None:
    """RRF and weighted fusion (whose normalisation depends on the metric) give the same hits and scores."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((80, 6)).astype(np.float32), rng.standard_normal((80, 6)).astype(np.float32)
    name = fresh("hyb")

    def run(api: SimpleNamespace) -> Any:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("a", DT.FLOAT_VECTOR, dim=6)
        s.add_field("b", DT.FLOAT_VECTOR, dim=6)
        ip = api.client.prepare_index_params()
        ip.add_index("a", index_type="FLAT", metric_type=metric_a)
        ip.add_index("b", index_type="FLAT", metric_type="L2")
        api.client.create_collection(name, schema=s, index_params=ip)
        api.client.insert(name, [{"id": i, "a": a[i].tolist(), "b": b[i].tolist(), "t": i % 3} for i in range(80)])
        reqs = [api.AnnSearchRequest(data=[a[4].tolist(), a[7].tolist()], anns_field="a", param={}, limit=15),
                api.AnnSearchRequest(data=[b[5].tolist(), b[7].tolist()], anns_field="b", param={}, limit=15,
                                     expr="t != 1")]
        return (api.client.hybrid_search(name, reqs, api.RRFRanker(60), limit=8, output_fields=["t"]),
                api.client.hybrid_search(name, reqs, api.WeightedRanker(0.3, 0.7), limit=8))

    (er, ew), (lr, lw) = same(both, run)
    assert_same_hits(er, lr)
    assert_same_hits(ew, lw)
    assert [[h["entity"]["t"] for h in p] for p in er] == [[h["entity"]["t"] for h in p] for p in lr]


# --- query ------------------------------------------------------------------------------------------
FILTERS = [
    "i32 > 300", "i8 <= -40", "f >= 10.5 and f < 12", "d != 3.0", "b == true", "not b", "b",
    "s == 'apple7'", 's == "apple0"', "s > 'f'", "id in [1, 2, 3, 500]", "id not in [1, 2, 3]",
    "s in ['apple0', 'fig5']",
    "s like 'app%'", "s like '%9'", "s like '%an%'", "s like 'c_erry%'", "s like '_pple%'", "color like 'gr%n'",
    "(i32 > 100 and i32 < 200) or id < 3", "not (id > 5)", "id >= 190 || id < 2", "id < 3 && b", "!(id > 2)",
    "i32 + 1 > 590", "i32 * 2 == 120", "f * 7 > 190", "i32 / 3 == 10", "-i8 > 45", "i32 - 3 == 0",
    "color == 'red'", "size > 8 and color in ['red', 'blue']", "color != 'red'", "color not in ['red']",
    "rare >= 0", "rare > 100", "rare in [6, 12]", "rare != 6", "rare is null", "exists rare",
    "js['a'] > 150", "js['b']['c'] == 'fig'", "js['l'][0] == 21", "js['a'] + 1 == 12", "js['b']['c'] like 'f%'",
    "js['missing'] == 1", "js['a'] != 5", "not (js['a'] == 5)", "exists js['a']", "not exists js['a']",
    "json_contains(js['l'], 5)", "json_contains_all(js['l'], [5, 6])", "json_contains_any(js['l'], [5, 99])",
    "array_contains(tags, 'apple')", "array_contains_all(tags, ['apple', 'banana'])",
    "array_contains_any(tags, ['fig', 'grape'])", "not array_contains(tags, 'apple')",
    "array_length(tags) == 2", "array_length(nums) >= 3", "tags[0] == 'cherry'", "nums[1] == 1", "nums[10] == 1",
    "opt is null", "opt is not null", "opt IS NOT NULL", "js is null", "js is not null",
    "opt != 'o1'", "not (opt == 'o1')", "opt in ['o1', 'o2']", "opt like 'o1%'", "opt is null and js is null",
    "js is null or js['a'] < 3", "TRUE", "false", "id == 1 or false", "f > 1e1", "d < 1.5e0",
    "id >= 10 and id < 20 and not (id == 15)", "size >= 2 and size <= 4",
]


@pytest.mark.parametrize("expr", FILTERS)
def test_query_filter_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str, expr: str) -> None:
    e, lite = same(both, lambda api: sorted(r["id"] for r in api.client.query(dataset, filter=expr,
                                                                             output_fields=["id"])))
    assert e == lite
    ce, cl = same(both, lambda api: api.client.query(dataset, filter=expr, output_fields=["count(*)"])[0]["count(*)"])
    assert ce == cl == len(e)


def test_difference_filter_params(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """Filter templates (`filter_params`): the engine fills them in, as Milvus 2.5+ does; Milvus Lite 3.x
    refuses the `{name}` placeholders."""
    eng, lite = both
    flt, params = "i32 > {lo} and color in {cs}", {"lo": 500, "cs": ["red", "blue"]}
    got = sorted(r["id"] for r in eng.client.query(dataset, filter=flt, filter_params=params, output_fields=["id"]))
    assert got == sorted(r["id"] for r in ROWS if r["i32"] > 500 and r["color"] in ("red", "blue"))
    assert raises(lambda: lite.client.query(dataset, filter=flt, filter_params=params, output_fields=["id"]))


# Milvus Lite 3.x parses filters with its own parser, narrower than Milvus's: these are refused by
# Milvus Lite and evaluated by the engine (each result checked against Python).
LITE_REFUSES = {
    "size % 2 == 1": lambda r: r["size"] % 2 == 1,
    "1 < id < 5": lambda r: 1 < r["id"] < 5,
    "10 >= id > 7": lambda r: 10 >= r["id"] > 7,
    "js['a'] in [11, 12]": lambda r: r["js"] is not None and r["js"]["a"] in (11, 12),
    "js['b']['c'] in ['fig', 'date']": lambda r: r["js"] is not None and r["js"]["b"]["c"] in ("fig", "date"),
    "js['l'] == [11, 12]": lambda r: r["js"] is not None and r["js"]["l"] == [11, 12],
    "s like 'a\\_%'": lambda r: r["s"].startswith("a_"),
}


@pytest.mark.parametrize("expr", list(LITE_REFUSES))
def test_difference_filters_milvus_lite_refuses(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str,
                                               expr: str) -> None:
    eng, lite = both
    assert raises(lambda: lite.client.query(dataset, filter=expr, output_fields=["id"])) is not None
    got = sorted(r["id"] for r in eng.client.query(dataset, filter=expr, output_fields=["id"]))
    assert got == sorted(r["id"] for r in ROWS if LITE_REFUSES[expr](r))


def test_difference_not_in_on_null_rows(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """`opt not in [...]`: Milvus Lite returns rows where opt is null; the engine (three-valued logic,
    as for `!=`, on which both agree) does not."""
    expr = "opt not in ['o1', 'o2']"
    e, lite = same(both, lambda api: {r["id"] for r in api.client.query(dataset, filter=expr, output_fields=["id"])})
    nulls = {r["id"] for r in ROWS if r["opt"] is None}
    non_null = {r["id"] for r in ROWS if r["opt"] is not None and r["opt"] not in ("o1", "o2")}
    assert e == non_null
    assert lite == non_null | nulls
    ne, nl = same(both, lambda api: {r["id"] for r in api.client.query(dataset, filter="opt != 'o1'",
                                                                        output_fields=["id"])})
    assert ne == nl == {r["id"] for r in ROWS if r["opt"] is not None and r["opt"] != "o1"}


def test_query_limit_and_offset_page_the_same_set(both: tuple[SimpleNamespace, SimpleNamespace],
                                                  dataset: str) -> None:
    """Paging the same filter: the union of pages is the same set (page order may differ, see below)."""
    def pages(api: SimpleNamespace) -> list[int]:
        out: list[int] = []
        for off in range(0, 100, 25):
            out += [r["id"] for r in api.client.query(dataset, filter="id < 100", output_fields=["id"], limit=25,
                                                      offset=off)]
        return out

    e, lite = same(both, pages)
    assert sorted(e) == sorted(lite) == list(range(100))


def test_query_iterator_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    def drain(api: SimpleNamespace) -> tuple[list[int], list[int]]:
        it = api.client.query_iterator(dataset, batch_size=50, filter="i32 >= 30", output_fields=["id", "s"])
        sizes, ids = [], []
        while True:
            batch = it.next()
            if not batch:
                break
            sizes.append(len(batch))
            ids += [r["id"] for r in batch]
        it.close()
        return sizes, sorted(ids)

    (es, ei), (ls, li) = same(both, drain)
    assert es == ls and ei == li


# --- get and output fields ---------------------------------------------------------------------------
def _by_id(rows: Any, pk: str = "id") -> dict[Any, dict[str, Any]]:
    return {r[pk]: {k: _plain(v) for k, v in dict(r).items()} for r in rows}


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@pytest.mark.parametrize("output_fields", [None, ["*"], ["s", "color"], ["vec"], ["$meta"], ["js", "rare", "opt"],
                                           ["tags", "nums", "f"]])
def test_get_by_ids_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str,
                            output_fields: list[str] | None) -> None:
    ids = [0, 6, 7, 99, 100, 12345]
    e, lite = same(both, lambda api: _by_id(api.client.get(dataset, ids=ids, output_fields=output_fields)))
    assert e == lite
    assert set(e) == {0, 6, 7, 99, 100}


@pytest.mark.parametrize("output_fields", [None, ["*"], ["color", "size"], ["$meta"], ["vec", "js"]])
def test_query_output_fields_match(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str,
                                   output_fields: list[str] | None) -> None:
    e, lite = same(both, lambda api: _by_id(api.client.query(dataset, filter="id in [3, 6, 40]",
                                                             output_fields=output_fields)))
    assert e == lite


@pytest.mark.parametrize("output_fields", [["*"], ["color"], ["$meta"], ["vec", "opt"], ["id"]])
def test_search_output_fields_match(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str,
                                    output_fields: list[str]) -> None:
    e, lite = same(both, lambda api: api.client.search(dataset, data=[ROWS[3]["vec"]], anns_field="vec", limit=3,
                                                       output_fields=output_fields))
    assert_same_hits(e, lite)
    assert [_plain(dict(h["entity"])) for h in e[0]] == [_plain(dict(h["entity"])) for h in lite[0]]


# --- counts after writes -------------------------------------------------------------------------------
def test_counts_after_deletes_and_upserts_match(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    name = fresh("writes")
    rng = np.random.default_rng(4)
    vecs = rng.standard_normal((120, 4)).astype(np.float32)

    def count(api: SimpleNamespace, flt: str = "") -> int:
        return int(api.client.query(name, filter=flt, output_fields=["count(*)"])[0]["count(*)"])

    def run(api: SimpleNamespace) -> list[Any]:
        c = api.client
        c.create_collection(name, dimension=4, metric_type="L2")
        c.insert(name, [{"id": i, "vector": vecs[i].tolist(), "g": i % 6} for i in range(100)])
        out: list[Any] = [count(api)]
        c.delete(name, ids=[1, 2, 3, 999])
        out += [count(api), count(api, "g == 1")]
        c.delete(name, filter="g == 4")
        out += [count(api), count(api, "g == 4")]
        c.flush(name)
        c.upsert(name, [{"id": i, "vector": vecs[i].tolist(), "g": 7} for i in (0, 5, 10, 100, 101)])
        out += [count(api), count(api, "g == 7"), count(api, "g == 0")]
        c.delete(name, filter="g == 7")
        out += [count(api), c.get_collection_stats(name)["row_count"]]
        out.append(sorted(r["id"] for r in c.query(name, filter="id < 12", output_fields=["id"])))
        out.append(hits(c.search(name, data=[vecs[11].tolist()], limit=5)))
        return out

    e, lite = same(both, run)
    assert e[:-1] == lite[:-1]
    assert [i for i, _ in e[-1][0]] == [i for i, _ in lite[-1][0]]
    assert e[0] == 100 and e[1] == 97


def test_row_count_after_delete_is_live_rows_on_both(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """get_collection_stats()["row_count"] after a delete: both report live rows. (A Milvus *server*
    counts deleted rows until compaction; Milvus Lite 3.x does not, so this is not a difference here.)"""
    name = fresh("rc")
    e, lite = same(both, lambda api: (api.client.create_collection(name, dimension=2),
                                      api.client.insert(name, [{"id": i, "vector": [1.0, i]} for i in range(10)]),
                                      api.client.delete(name, ids=[0, 1]),
                                      api.client.get_collection_stats(name)["row_count"])[-1])
    assert e == lite == 8


# --- documented differences ------------------------------------------------------------------------------
def test_duplicate_pk_insert_replaces_on_both(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """Inserting a key that exists is accepted by both, and every read then sees the new row only:
    count(*), query by id, get and search (a Milvus server keeps both rows until compaction: count(*)
    counts both and query may answer with the old one; docs/engine.md)."""
    name = fresh("dup")

    def run(api: SimpleNamespace) -> tuple[Any, ...]:
        c = api.client
        c.create_collection(name, dimension=2, metric_type="L2")
        c.insert(name, [{"id": 1, "vector": [1.0, 0.0], "v": "old"}, {"id": 2, "vector": [5.0, 5.0], "v": "two"}])
        res = c.insert(name, [{"id": 1, "vector": [0.0, 1.0], "v": "new"}])
        count = c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        by_id = [r["v"] for r in c.query(name, filter="id == 1", output_fields=["v"])]
        got = [r["v"] for r in c.get(name, ids=[1], output_fields=["v"])]
        hits = c.search(name, [[0.0, 1.0]], limit=1, output_fields=["v"])[0]
        old = c.search(name, [[1.0, 0.0]], limit=2, output_fields=["v"])[0]
        return ((res["insert_count"], res["ids"]), count, by_id, got, [(h["id"], h["entity"]["v"], round(h["distance"], 5)) for h in hits],
                [h["entity"]["v"] for h in old])

    e, lite = same(both, run)
    assert e == lite
    assert e[1:] == (2, ["new"], ["new"], [(1, "new", 0.0)], ["new", "two"])


def test_difference_search_without_output_fields(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """No output_fields: the engine returns id and distance only; Milvus Lite 3.x returns every field,
    the vector and the dynamic keys included."""
    e, lite = same(both, lambda api: api.client.search(dataset, data=[ROWS[0]["vec"]], anns_field="vec", limit=2))
    assert_same_hits(e, lite)
    assert all(dict(h["entity"]) == {} for h in e[0])
    for h in lite[0]:
        assert {"vec", "s", "color", "js"} <= set(h["entity"])


def test_hit_key_is_primary_field_name_on_both(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """Both key a hit by the primary field's name ({"pk": ...}); `hit.id` works on both."""
    eng, lite = both
    name = fresh("pkname")
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DT.VARCHAR, is_primary=True, max_length=8)
        s.add_field("v", DT.FLOAT_VECTOR, dim=2)
        ip = api.client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        api.client.create_collection(name, schema=s, index_params=ip)
        api.client.insert(name, [{"pk": "a", "v": [1.0, 0.0]}])
    lh = lite.client.search(name, data=[[1.0, 0.0]], limit=1)[0][0]
    eh = eng.client.search(name, data=[[1.0, 0.0]], limit=1)[0][0]
    assert lh.id == eh.id == "a"
    assert "pk" in dict(lh) and "id" not in dict(lh)
    assert "pk" in dict(eh) and "id" not in dict(eh)
    assert lh["pk"] == eh["pk"] == "a"


def test_reads_of_a_released_collection_refused_by_both(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """search, query and get refuse a released collection on both ("load it first"); load restores them;
    get_collection_stats and describe_collection still answer."""
    name = fresh("rel")

    def run(api: SimpleNamespace) -> tuple[Any, ...]:
        c = api.client
        c.create_collection(name, dimension=2)
        c.insert(name, [{"id": 1, "vector": [1.0, 0.0]}])
        c.release_collection(name)
        refused = [raises(lambda: c.search(name, data=[[1.0, 0.0]], limit=1)) is not None,
                   raises(lambda: c.query(name, filter="id > 0")) is not None,
                   raises(lambda: c.get(name, ids=[1])) is not None]
        state = str(c.get_load_state(name)["state"])
        stats = c.get_collection_stats(name)["row_count"]
        c.load_collection(name)
        return refused, state, stats, [h["id"] for h in c.search(name, data=[[1.0, 0.0]], limit=1)[0]]

    e, lite = same(both, run)
    assert e == lite == ([True, True, True], "NotLoad", 1, [1])


def test_difference_upsert_without_a_dynamic_key(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """Upserting a row without a dynamic key it had: the engine replaces the whole row (the key is gone,
    as in Milvus's default override mode); Milvus Lite 3.x keeps the old key's value."""
    eng, lite = both
    name = fresh("ups")
    for api in both:
        api.client.create_collection(name, dimension=2)
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)], "tag": 1} for i in range(4)])
        api.client.upsert(name, [{"id": 1, "vector": [0.0, 1.0]}])
    assert eng.client.query(name, filter="tag == 1", output_fields=["count(*)"])[0]["count(*)"] == 3
    assert lite.client.query(name, filter="tag == 1", output_fields=["count(*)"])[0]["count(*)"] == 4
    assert "tag" not in eng.client.get(name, ids=[1])[0]
    assert lite.client.get(name, ids=[1])[0]["tag"] == 1


def test_difference_query_order_after_upsert(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """Query order is unspecified in Milvus. The engine returns rows in insertion order per segment (an
    upserted row moves to the end); Milvus Lite 3.x keeps an upserted row in its old place."""
    eng, lite = both
    name = fresh("order")
    for api in both:
        api.client.create_collection(name, dimension=2)
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in (5, 3, 9, 1)])
        api.client.upsert(name, [{"id": 3, "vector": [0.0, 1.0]}])
    order = {api.kind: [r["id"] for r in api.client.query(name, filter="id > 0", output_fields=["id"])]
             for api in both}
    assert order["engine"] == [5, 9, 1, 3]
    assert order["milvus_lite"] == [5, 3, 9, 1]


def test_difference_delete_return_value(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """delete() returns {"delete_count": n} from the engine (as from a Milvus server); pymilvus on Milvus
    Lite 3.x returns a list of keys: those asked for (by ids, existing or not) or those deleted (by filter)."""
    eng, lite = both
    name = fresh("del")
    for api in both:
        api.client.create_collection(name, dimension=2)
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(5)])
    assert eng.client.delete(name, ids=[1, 99]) == {"delete_count": 1, "cost": 0}
    assert eng.client.delete(name, filter="id == 2") == {"delete_count": 1, "cost": 0}
    assert list(lite.client.delete(name, ids=[1, 99])) == [1, 99]
    assert list(lite.client.delete(name, filter="id == 2")) == [2]


def test_difference_index_progress_counts_growing_rows(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """describe_index right after an insert: Milvus Lite reports every row indexed; the engine reports
    rows that are not sealed yet as pending (they are searched exactly), until flush."""
    eng, lite = both
    name = fresh("idx")
    for api in both:
        api.client.create_collection(name, dimension=2)
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(10)])
    ld = lite.client.describe_index(name, "vector")
    ed = eng.client.describe_index(name, "vector")
    assert (ld["total_rows"], ld["indexed_rows"], ld["pending_index_rows"]) == (10, 10, 0)
    assert (ed["total_rows"], ed["indexed_rows"], ed["pending_index_rows"]) == (10, 0, 10)
    eng.client.flush(name)
    ed = eng.client.describe_index(name, "vector")
    assert (ed["indexed_rows"], ed["pending_index_rows"], ed["state"]) == (10, 0, "Finished")


def _two_index_collection(api: SimpleNamespace, name: str) -> None:
    DT = api.DataType
    s = api.MilvusClient.create_schema(auto_id=False)
    s.add_field("id", DT.INT64, is_primary=True)
    s.add_field("v", DT.FLOAT_VECTOR, dim=3)
    s.add_field("w", DT.FLOAT_VECTOR, dim=3)
    ip = api.client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    ip.add_index("w", index_type="FLAT", metric_type="IP")
    api.client.create_collection(name, schema=s, index_params=ip)


def test_difference_drop_index_drops_every_index_on_milvus_lite(both: tuple[SimpleNamespace, SimpleNamespace]
                                                                ) -> None:
    """drop_index of one index: the engine drops that index; Milvus Lite 3.2.2 drops every index of the
    collection (workbench.backends re-creates the others, see tests/test_backends.py)."""
    eng, lite = both
    name = fresh("drop")
    for api in both:
        _two_index_collection(api, name)
        api.client.release_collection(name)
        api.client.drop_index(name, "w")
    assert eng.client.list_indexes(name) == ["v"]
    assert lite.client.list_indexes(name) == []
    assert lite.client.describe_index(name, "v") is None


def test_difference_release_partitions(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """release_partitions: the engine accepts it; Milvus Lite 3.2.2 answers UNIMPLEMENTED (it releases
    whole collections only)."""
    eng, lite = both
    name = fresh("relp")
    for api in both:
        _two_index_collection(api, name)
        api.client.create_partition(name, "p")
    eng.client.insert(name, [{"id": i, "v": [1.0, 0.0, float(i)], "w": [0.0, 1.0, 1.0]} for i in range(5)],
                      partition_name="p")
    eng.client.flush(name)
    assert raises(lambda: eng.client.release_partitions(name, ["p"])) is None
    assert eng.client.search(name, [[1.0, 0.0, 4.0]], anns_field="v", limit=1)[0][0]["id"] == 4  # maps again
    assert "does not exist" in (raises(lambda: eng.client.release_partitions(name, ["nope"])) or "")
    eng.client.load_partitions(name, ["p"])
    assert "partition-level release is not supported" in (raises(lambda: lite.client.release_partitions(name, ["p"]))
                                                          or "")


def test_difference_describe_index_build_params(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """describe_index of an HNSW index: the engine reports M and efConstruction; Milvus Lite 3.x omits them."""
    eng, lite = both
    name = fresh("hnsw")
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False)
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("v", DT.FLOAT_VECTOR, dim=4)
        ip = api.client.prepare_index_params()
        ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
        api.client.create_collection(name, schema=s, index_params=ip)
    ed, ld = eng.client.describe_index(name, "v"), lite.client.describe_index(name, "v")
    assert ed["index_type"] == ld["index_type"] == "HNSW"
    assert (int(ed["M"]), int(ed["efConstruction"])) == (8, 64)
    assert "M" not in ld and "efConstruction" not in ld


def test_difference_describe_collection_defaults(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """describe_collection: the engine numbers fields from 100 and defaults to Bounded consistency (2), as
    a Milvus server does; Milvus Lite 3.x reports field_id 0 and Strong consistency (0)."""
    eng, lite = both
    name = fresh("desc")
    for api in both:
        api.client.create_collection(name, dimension=2)
    ed, ld = eng.client.describe_collection(name), lite.client.describe_collection(name)
    assert [f["name"] for f in ed["fields"]] == [f["name"] for f in ld["fields"]] == ["id", "vector"]
    assert [int(f["type"]) for f in ed["fields"]] == [int(f["type"]) for f in ld["fields"]]
    assert [f["field_id"] for f in ed["fields"]] == [100, 101]
    assert [f["field_id"] for f in ld["fields"]] == [0, 0]
    assert (ed["consistency_level"], ld["consistency_level"]) == (2, 0)
    assert ed["enable_dynamic_field"] is ld["enable_dynamic_field"] is True


@pytest.mark.parametrize("vtype", ["FLOAT16_VECTOR", "BFLOAT16_VECTOR", "BINARY_VECTOR"])
def test_difference_vector_types_milvus_lite_refuses(both: tuple[SimpleNamespace, SimpleNamespace],
                                                     vtype: str) -> None:
    eng, lite = both
    name = fresh("vt")
    schemas = {}
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False)
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("v", getattr(DT, vtype), dim=16)
        schemas[api.kind] = s
    msg = raises(lambda: lite.client.create_collection(name, schema=schemas["milvus_lite"]))
    assert msg is not None and re.search(r"not support", msg)
    eng.client.create_collection(name, schema=schemas["engine"])
    assert eng.client.has_collection(name)


def test_difference_struct_array_dropped_by_milvus_lite(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """An Array of Structs field: the engine keeps it (and searches it with MAX_SIM); Milvus Lite 3.x
    creates the collection *without* the field and says nothing. The workbench's capability report
    says so (checked in tests/test_backends.py)."""
    eng, lite = both
    name = fresh("structs")
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("v", DT.FLOAT_VECTOR, dim=2)
        st = api.MilvusClient.create_struct_field_schema()
        st.add_field("text", DT.VARCHAR, max_length=16)
        st.add_field("e", DT.FLOAT_VECTOR, dim=2)
        s.add_field("chunks", DT.ARRAY, element_type=DT.STRUCT, struct_schema=st, max_capacity=4)
        ip = api.client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        api.client.create_collection(name, schema=s, index_params=ip)
    assert "chunks" in [f["name"] for f in eng.client.describe_collection(name)["fields"]]
    assert "chunks" not in [f["name"] for f in lite.client.describe_collection(name)["fields"]]
    row = {"id": 1, "v": [1.0, 0.0], "chunks": [{"text": "a", "e": [1.0, 0.0]}, {"text": "b", "e": [0.0, 1.0]}]}
    assert raises(lambda: lite.client.insert(name, [row])) is not None
    eng.client.insert(name, [row])
    q = eng.EmbeddingList()
    q.add([0.0, 1.0])
    res = eng.client.search(name, data=[q], anns_field="chunks[e]", search_params={"metric_type": "MAX_SIM_COSINE"},
                            limit=1, output_fields=["chunks[text]"])
    assert res[0][0].id == 1 and math.isclose(res[0][0].distance, 1.0, abs_tol=TOL)


def test_difference_list_persistent_segments(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """Milvus Lite 3.x does not implement list_persistent_segments (gRPC UNIMPLEMENTED); the engine does."""
    eng, lite = both
    assert raises(lambda: lite.client.list_persistent_segments(dataset)) is not None
    segs = eng.client.list_persistent_segments(dataset)
    assert sum(s.num_rows - s.deleted_rows for s in segs) == N


def test_engine_matches_a_python_oracle_for_l2_distances(engine_api: SimpleNamespace, dataset: str) -> None:
    """Sanity for the comparisons above: the engine's L2 is squared L2, as Milvus reports it."""
    q = np.asarray(ROWS[11]["vec"], dtype=np.float32)
    res = engine_api.client.search(dataset, data=[q.tolist()], anns_field="vec", limit=3)
    for h in res[0]:
        v = np.asarray(ROWS[h.id]["vec"], dtype=np.float32)
        assert math.isclose(h.distance, float(((v - q) ** 2).sum()), rel_tol=1e-5, abs_tol=1e-5)



def test_partition_scoped_reads_match(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    name = fresh("parts")

    def run(api: SimpleNamespace) -> Any:
        c = api.client
        c.create_collection(name, dimension=2, metric_type="L2")
        c.create_partition(name, "p1")
        c.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(5)])
        c.insert(name, [{"id": 10 + i, "vector": [1.0, float(i)]} for i in range(3)], partition_name="p1")
        return (sorted(c.list_partitions(name)),
                sorted(r["id"] for r in c.query(name, filter="id >= 0", output_fields=["id"], partition_names=["p1"])),
                c.query(name, filter="id >= 0", output_fields=["count(*)"], partition_names=["p1"])[0]["count(*)"],
                hits(c.search(name, data=[[1.0, 1.0]], limit=3, partition_names=["p1"])))

    e, lite = same(both, run)
    assert e[:3] == lite[:3] == (["_default", "p1"], [10, 11, 12], 3)
    assert [i for i, _ in e[3][0]] == [i for i, _ in lite[3][0]]
    assert {i for i, _ in e[3][0]} == {10, 11, 12}


def test_difference_count_all_in_a_partition(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """count(*) with an empty filter and partition_names: Milvus Lite 3.x counts the whole collection
    (with a filter it counts the partition); the engine counts the partition."""
    eng, lite = both
    name = fresh("pcount")
    for api in both:
        api.client.create_collection(name, dimension=2)
        api.client.create_partition(name, "p1")
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(5)])
        api.client.insert(name, [{"id": 10, "vector": [1.0, 3.0]}], partition_name="p1")

    def count(api: SimpleNamespace, flt: str) -> int:
        return int(api.client.query(name, filter=flt, output_fields=["count(*)"], partition_names=["p1"])[0]["count(*)"])

    assert count(eng, "") == count(eng, "id >= 0") == count(lite, "id >= 0") == 1
    assert count(lite, "") == 6


def test_difference_float_field_compared_at_float32(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """A FLOAT (32-bit) field compared with a constant: the engine rounds the constant to float32 (so
    `f == 0.1` finds rows stored as 0.1; docs/filter-expressions.md); Milvus Lite 3.x compares in
    float64, so a float32 value never equals the float64 constant it was written from."""
    eng, lite = both
    name = fresh("f32")
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False)
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("v", DT.FLOAT_VECTOR, dim=2)
        s.add_field("f", DT.FLOAT)
        ip = api.client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        api.client.create_collection(name, schema=s, index_params=ip)
        api.client.insert(name, [{"id": i, "v": [1.0, float(i)], "f": i / 7} for i in range(6)])

    def ids(api: SimpleNamespace, flt: str) -> list[int]:
        return sorted(r["id"] for r in api.client.query(name, filter=flt, output_fields=["id"]))

    assert ids(eng, f"f == {1 / 7!r}") == [1]
    assert ids(lite, f"f == {1 / 7!r}") == []
    assert ids(eng, f"f <= {1 / 7!r}") == [0, 1]
    assert ids(lite, f"f <= {1 / 7!r}") == [0]
    assert ids(eng, "f == 0.5") == ids(lite, "f == 0.5") == []  # no row holds 0.5
    assert ids(eng, "f > 0.5") == ids(lite, "f > 0.5") == [4, 5]


def test_difference_get_with_repeated_ids(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """get(ids=[1, 1, 2]): the engine returns each entity once (a Milvus server treats the ids as a
    filter); Milvus Lite 3.x returns entity 1 twice."""
    e, lite = same(both, lambda api: sorted(r["id"] for r in api.client.get(dataset, ids=[1, 1, 2],
                                                                            output_fields=["id"])))
    assert e == [1, 2]
    assert lite == [1, 1, 2]


def test_difference_unbounded_query(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    """query with neither a filter nor a limit: refused by the engine, as by a Milvus server ("empty
    expression should be used with limit"); Milvus Lite 3.x returns every row."""
    eng, lite = both
    assert "limit" in (raises(lambda: eng.client.query(dataset, filter="", output_fields=["id"])) or "")
    assert len(lite.client.query(dataset, filter="", output_fields=["id"])) == N


@pytest.mark.parametrize("group_field", ["b", "i8"])
def test_grouping_search_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str,
                                 group_field: str) -> None:
    e, lite = same(both, lambda api: api.client.search(dataset, data=[ROWS[20]["vec"]], anns_field="vec", limit=3,
                                                       group_by_field=group_field, output_fields=[group_field]))
    assert_same_hits(e, lite)
    values = [h["entity"][group_field] for h in e[0]]
    assert len(set(values)) == len(values)


def test_grouping_by_a_dynamic_key_refused_by_both(both: tuple[SimpleNamespace, SimpleNamespace],
                                                   dataset: str) -> None:
    for api in both:
        def run(api: SimpleNamespace = api) -> Any:
            return api.client.search(dataset, data=[ROWS[20]["vec"]], anns_field="vec", limit=3,
                                     group_by_field="color")

        assert raises(run)


def test_search_iterator_matches(both: tuple[SimpleNamespace, SimpleNamespace], dataset: str) -> None:
    def drain(api: SimpleNamespace) -> list[tuple[Any, float]]:
        it = api.client.search_iterator(dataset, data=[ROWS[30]["vec"]], anns_field="vec", batch_size=16, limit=40)
        out: list[tuple[Any, float]] = []
        while True:
            page = it.next()
            if not page:
                break
            out += [(h.id, float(h.distance)) for h in page]
        it.close()
        return out

    e, lite = same(both, drain)
    assert [i for i, _ in e] == [i for i, _ in lite] and len(e) == 40
    assert all(math.isclose(a, b, rel_tol=TOL, abs_tol=TOL) for (_, a), (_, b) in zip(e, lite))


def test_difference_describe_collection_omits_descriptions_and_array_max_length(
        both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """Milvus Lite 3.x's describe_collection drops the collection's and the fields' descriptions and an
    ARRAY<VARCHAR>'s max_length, and it does not enforce that max_length on insert; the engine keeps
    and enforces them (as a Milvus server does)."""
    eng, lite = both
    name = fresh("descr")
    for api in both:
        DT = api.DataType
        s = api.MilvusClient.create_schema(auto_id=False, description="coll")
        s.add_field("id", DT.INT64, is_primary=True)
        s.add_field("v", DT.FLOAT_VECTOR, dim=2, description="the vector")
        s.add_field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_length=4, max_capacity=3)
        ip = api.client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        api.client.create_collection(name, schema=s, index_params=ip)
    ed, ld = eng.client.describe_collection(name), lite.client.describe_collection(name)
    assert (ed["description"], ed["fields"][1]["description"], ed["fields"][2]["params"]["max_length"]) == \
        ("coll", "the vector", 4)
    assert (ld["description"], ld["fields"][1]["description"]) == ("", "")
    assert "max_length" not in ld["fields"][2]["params"]
    row = {"id": 1, "v": [1.0, 0.0], "tags": ["toolong"]}
    assert raises(lambda: eng.client.insert(name, [row])) is not None
    assert raises(lambda: lite.client.insert(name, [row])) is None


# --- bad input (issue 10, parts 3 and 9; tests/test_api_fuzz.py fuzzes the engine alone) ----------------
def _count(api: SimpleNamespace, name: str) -> int:
    return int(api.client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _small(both: tuple[SimpleNamespace, SimpleNamespace], prefix: str, metric: str = "COSINE") -> str:
    name = fresh(prefix)
    for api in both:
        api.client.create_collection(name, dimension=2, metric_type=metric, consistency_level="Strong")
        api.client.insert(name, [{"id": i, "vector": [1.0, float(i)]} for i in range(1, 31)])
    return name


@pytest.mark.parametrize("name", ["_x", "X9_y", "abc", "a" * 255])
def test_names_the_engine_accepts_milvus_lite_accepts(both: tuple[SimpleNamespace, SimpleNamespace],
                                                      name: str) -> None:
    """Milvus's naming rules, which the engine applies, are narrower than Milvus Lite's: what one takes, both do."""
    for api in both:
        if api.client.has_collection(name):
            api.client.drop_collection(name)
        api.client.create_collection(name, dimension=2)
        api.client.create_partition(name, "2024-p")
        assert "2024-p" in api.client.list_partitions(name)
        api.client.drop_collection(name)


def test_names_too_long_refused_by_both(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    for api in both:
        assert raises(lambda api=api: api.client.create_collection("a" * 256, dimension=2))
        assert not api.client.has_collection("a" * 256)


@pytest.mark.parametrize("name", ["x\n", "1abc", "a-b", "a b", " a", "é", "a$b"])
def test_difference_names_milvus_lite_accepts(both: tuple[SimpleNamespace, SimpleNamespace], name: str) -> None:
    """Milvus Lite 3.x takes any collection name; the engine follows a Milvus server
    (validateCollectionNameOrAlias: a letter or '_', then letters, digits and '_', matched in full), so
    a name with a trailing newline, a space, a leading digit or a non-ASCII letter is refused."""
    eng, lite = both
    assert "collection name" in (raises(lambda: eng.client.create_collection(name, dimension=2)) or "")
    assert not eng.client.has_collection(name)
    lite.client.create_collection(name, dimension=2)
    assert lite.client.has_collection(name)
    lite.client.drop_collection(name)


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\u00a0", "\u3000"])
def test_delete_with_a_blank_filter_deletes_nothing_on_both(both: tuple[SimpleNamespace, SimpleNamespace],
                                                            blank: str) -> None:
    name = _small(both, "blank")
    for api in both:
        assert raises(lambda api=api: api.client.delete(name, filter=blank))
        assert _count(api, name) == 30


def test_difference_blank_filter_in_query(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """query(filter=" ", limit=5): the engine reads a blank filter as no filter, everywhere; Milvus Lite
    3.x refuses it ("unexpected end of expression"). Both refuse it in delete (test above)."""
    eng, lite = both
    name = _small(both, "blankq")
    assert len(eng.client.query(name, filter=" \u00a0", limit=5)) == 5
    assert raises(lambda: lite.client.query(name, filter=" ", limit=5))


def test_difference_create_collection_with_a_bogus_metric(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """create_collection(metric_type="BOGUS") is refused by both, but Milvus Lite 3.x creates the collection
    anyway; the engine checks everything first and creates nothing."""
    eng, lite = both
    name = fresh("bogus")
    for api in both:
        assert raises(lambda api=api: api.client.create_collection(name, dimension=4, metric_type="BOGUS"))
    assert not eng.client.has_collection(name)
    assert lite.client.has_collection(name)


def test_difference_ids_of_another_type(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """delete(ids=[True]) is refused by both; delete(ids=["5"]) on an INT64 key deletes key 5 on Milvus Lite
    3.x and is refused by the engine (ids must be of the key's type, for sealed and growing rows alike)."""
    eng, lite = both
    name = _small(both, "ids")
    for api in both:
        assert raises(lambda api=api: api.client.delete(name, ids=[True]))
        assert _count(api, name) == 30
    assert "INT64 primary key" in (raises(lambda: eng.client.delete(name, ids=["5"])) or "")
    assert _count(eng, name) == 30
    lite.client.delete(name, ids=["5"])
    assert _count(lite, name) == 29


def test_difference_digits_of_other_scripts_in_filters(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """`id > ₅` is refused by both; Milvus Lite 3.x reads `id > ٣` (an Arabic-Indic three) as `id > 3`. The
    engine, as Milvus's grammar (Digit: [0-9]), takes ASCII digits only and refuses it, naming the column."""
    eng, lite = both
    name = _small(both, "digits")
    for api in both:
        assert raises(lambda api=api: api.client.query(name, filter="id > ₅"))
    assert "column 6" in (raises(lambda: eng.client.query(name, filter="id > ٣")) or "")
    assert len(lite.client.query(name, filter="id > ٣")) == 27


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": "5"}, {"limit": 2.5}, {"limit": True},
                                    {"limit": 5, "round_decimal": 7}, {"limit": 5, "offset": "1"}])
def test_bad_search_numbers_refused_by_both(both: tuple[SimpleNamespace, SimpleNamespace],
                                            kwargs: dict[str, Any]) -> None:
    name = _small(both, "num")
    for api in both:
        assert raises(lambda api=api: api.client.search(name, [[1.0, 2.0]], **kwargs))


def test_difference_negative_offset(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """search(limit=10, offset=-1): Milvus Lite 3.x answers (9 hits); the engine refuses, as a Milvus
    server does ("offset should be gte than 0")."""
    eng, lite = both
    name = _small(both, "off")
    assert "offset" in (raises(lambda: eng.client.search(name, [[1.0, 2.0]], limit=10, offset=-1)) or "")
    assert len(lite.client.search(name, [[1.0, 2.0]], limit=10, offset=-1)[0]) == 9


def test_difference_vector_beyond_float32(both: tuple[SimpleNamespace, SimpleNamespace]) -> None:
    """A component of 1e39 overflows float32: Milvus Lite 3.x stores the row; the engine refuses it (it
    would be stored as inf, and IP search would rank it first)."""
    eng, lite = both
    name = _small(both, "big", metric="IP")
    assert "row 0, field 'vector'" in (raises(lambda: eng.client.insert(name, [{"id": 99, "vector": [1e39, 0.0]}]))
                                       or "")
    assert _count(eng, name) == 30
    lite.client.insert(name, [{"id": 99, "vector": [1e39, 0.0]}])
    assert _count(lite, name) == 31
