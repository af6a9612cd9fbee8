"""Regression tests of issue 10, parts 3 and 9: blank filters, and bad input at the API boundary.

Each refused call must raise a `MilvusException` naming the argument or value, and change nothing
(checked with a fingerprint of everything the client can observe). tests/test_api_fuzz.py is the
layer that generalises these cases.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_state import N_GROWING, N_SEALED, count, fingerprint, make_collection, rows

from engine import AnnSearchRequest, DataType, MilvusClient, MilvusException, RRFRanker
from engine.errors import ClientClosedError, DataError, FilterError, ParamError, SchemaError

BLANKS = [" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\u2028", " \t\u00a0\n "]
TOTAL = N_SEALED + N_GROWING


@pytest.fixture
def db(tmp_path: Path) -> Iterator[MilvusClient]:
    c = MilvusClient(str(tmp_path / "db"))
    make_collection(c, "c")
    yield c
    c.close()


def refused(client: MilvusClient, call: Any, exc: type[BaseException] = MilvusException, match: str | None = None) -> Any:
    """Run `call()`: it must raise `exc` (matching `match`) and leave the database as it was; returns the error."""
    before = fingerprint(client)
    with pytest.raises(exc, match=match) as info:
        call()
    assert fingerprint(client) == before
    return info.value


# --- part 3: a blank filter is no filter ---------------------------------------------------------
def test_delete_with_a_blank_filter_is_refused_like_no_filter(db: MilvusClient) -> None:
    for blank in BLANKS:
        msg = refused(db, lambda blank=blank: db.delete("c", filter=blank), ParamError, "delete needs ids= or a filter=")
        assert "blank" in str(msg)
    assert count(db, "c") == TOTAL


def test_query_with_a_blank_filter_is_no_filter(db: MilvusClient) -> None:
    for blank in BLANKS:
        refused(db, lambda blank=blank: db.query("c", filter=blank), ParamError, "needs a filter, ids or a limit")
        assert db.query("c", filter=blank, limit=5) == db.query("c", limit=5), repr(blank)
        assert db.query("c", filter=blank, output_fields=["count(*)"]) == [{"count(*)": TOTAL}]
        assert db.query("c", filter=blank, ids=[1], output_fields=["id"]) == [{"id": 1}]
    with pytest.raises(ParamError, match="ids= or filter=, not both"):
        db.query("c", filter="id > 1", ids=[1])


def test_search_and_iterators_with_a_blank_filter_are_unfiltered(db: MilvusClient) -> None:
    q = [[1.0, 0.5, 0.25, 0.3]]
    for blank in BLANKS:
        assert db.search("c", q, filter=blank, limit=TOTAL) == db.search("c", q, limit=TOTAL), repr(blank)
        it = db.query_iterator("c", batch_size=7, filter=blank)
        got = []
        while page := it.next():
            got.extend(page)
        assert len(got) == TOTAL
        assert len(db.search_iterator("c", q, filter=blank, batch_size=100).next()) == TOTAL
        req = AnnSearchRequest(q, "vector", {}, limit=TOTAL, expr=blank)
        plain = AnnSearchRequest(q, "vector", {}, limit=TOTAL)
        assert db.hybrid_search("c", [req], RRFRanker(), limit=TOTAL) == db.hybrid_search("c", [plain], RRFRanker(),
                                                                                        limit=TOTAL)


def test_a_zero_width_space_is_not_blank_but_a_bad_filter(db: MilvusClient) -> None:
    """U+200B is not white space (Milvus refuses it too): the filter is refused, nothing is deleted."""
    e = refused(db, lambda: db.delete("c", filter="\u200b"), FilterError, "unexpected character")
    assert e.position == 1


def test_a_filter_that_is_not_a_string_is_refused(db: MilvusClient) -> None:
    for call in (lambda: db.delete("c", filter=5), lambda: db.query("c", filter=["id > 1"], limit=3),  # type: ignore[arg-type]
                 lambda: db.search("c", [[1, 0, 0, 0]], filter=b"id > 1")):  # type: ignore[arg-type]
        refused(db, call, ParamError, "filter must be a string")


# --- part 9: vectors beyond float32 ------------------------------------------------------------
@pytest.mark.parametrize("bad", [1e39, -1e39, 3.5e38, 10**400, float("nan"), float("inf")],
                         ids=["1e39", "-1e39", "3.5e38", "10**400", "nan", "inf"])
def test_a_vector_component_beyond_float32_is_refused(db: MilvusClient, bad: Any) -> None:
    row = {**rows(100, 1)[0], "vector": [bad, 0.0, 0.0, 0.0]}
    msg = str(refused(db, lambda: db.insert("c", [rows(101, 1)[0], row]), DataError, "row 1, field 'vector'"))
    assert "position 0" in msg or "float range" in msg
    with pytest.raises(ParamError, match="query vectors|search data"):
        db.search("c", [[bad, 0.0, 0.0, 0.0]], limit=3)


def test_float16_and_bfloat16_vectors_refuse_values_they_cannot_hold(tmp_path: Path) -> None:
    c = MilvusClient(str(tmp_path / "db"))
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("h", DataType.FLOAT16_VECTOR, dim=2)
    s.add_field("b", DataType.BFLOAT16_VECTOR, dim=2)
    c.create_collection("v", schema=s)
    with pytest.raises(DataError, match="field 'h'.*70000.*float16"):
        c.insert("v", [{"id": 1, "h": [70000.0, 0.0], "b": [1.0, 0.0]}])
    with pytest.raises(DataError, match="field 'b'.*bfloat16"):
        c.insert("v", [{"id": 1, "h": [1.0, 0.0], "b": [3.4e38, 0.0]}])
    assert c.insert("v", [{"id": 1, "h": [65504.0, 0.0], "b": [3.3e38, 0.0]}])["insert_count"] == 1
    c.close()


def test_ip_search_never_ranks_an_infinite_vector_first(db: MilvusClient) -> None:
    with pytest.raises(DataError):
        db.insert("c", [{**rows(200, 1)[0], "vector": [1e39, 0, 0, 0]}])
    hits = db.search("c", [[1.0, 0.0, 0.0, 0.0]], limit=1)[0]
    assert hits[0]["id"] != 200 and np.isfinite(hits[0]["distance"])


# --- create_collection validates everything before creating anything ---------------------------
BAD_QUICK_FORMS = [
    {"dimension": 4, "metric_type": "BOGUS"},
    {"dimension": 4, "metric_type": 5},
    {"dimension": 4, "consistency_level": "Bogus"},
    {"dimension": 1},
    {"dimension": 4, "id_type": "float"},
    {"dimension": 4, "primary_field_name": "bad name"},
    {"dimension": 4, "vector_field_name": "v\n"},
    {"dimension": 4, "auto_id": "yes"},
]


def test_create_collection_refused_creates_nothing(db: MilvusClient) -> None:
    for kwargs in BAD_QUICK_FORMS:
        refused(db, lambda kwargs=kwargs: db.create_collection("x", **kwargs))
        assert not db.has_collection("x"), kwargs
    db.create_collection("x", dimension=4)  # the name is free
    assert db.has_collection("x")


def test_create_collection_with_bad_index_params_creates_nothing(db: MilvusClient) -> None:
    s = db.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    for bad in ({"M": 0}, {"M": "²"}, {"efConstruction": True}, {"M": {1, 2}}):
        ip = db.prepare_index_params()
        ip.add_index("v", index_type="HNSW", metric_type="L2", params=bad)
        refused(db, lambda ip=ip: db.create_collection("x", schema=s, index_params=ip), ParamError)
    twice = db.prepare_index_params()
    twice.add_index("v", index_name="a", metric_type="L2")
    twice.add_index("v", index_name="b", metric_type="L2")
    refused(db, lambda: db.create_collection("x", schema=s, index_params=twice), ParamError, "two indexes")
    assert not db.has_collection("x")


# --- names: a full match, Milvus's rules ---------------------------------------------------------
def test_bad_collection_names_are_refused(db: MilvusClient) -> None:
    for name in ["x\n", "x\r", "x ", " x", "x\u00a0", "1x", "x-y", "é", "x$", "", "a" * 256, "x\ud800"]:
        refused(db, lambda name=name: db.create_collection(name, dimension=4), MilvusException, "collection name")
        refused(db, lambda name=name: db.rename_collection("c", name), MilvusException, "collection name")
    assert db.list_collections() == ["c"]


def test_good_names_follow_milvus(db: MilvusClient) -> None:
    for name in ("_x", "X9_", "a" * 255):
        db.create_collection(name, dimension=4)
    db.rename_collection("_x", "_y")
    assert sorted(db.list_collections()) == sorted(["c", "_y", "X9_", "a" * 255])


def test_bad_partition_names_are_refused(db: MilvusClient) -> None:
    for name in ["p\n", "p ", "-p", "p.q", "é", "p$", "", "p" * 256, "p\ud800"]:
        refused(db, lambda name=name: db.create_partition("c", name), SchemaError, "partition name")


def test_partition_names_may_start_with_a_digit_and_hold_dashes_as_in_milvus(db: MilvusClient) -> None:
    for name in ("2024", "1p", "p-1", "_p"):
        db.create_partition("c", name)
    assert {"2024", "1p", "p-1", "_p"} <= set(db.list_partitions("c"))


def test_field_and_index_names_with_a_trailing_newline_are_refused(db: MilvusClient) -> None:
    s = db.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v\n", DataType.FLOAT_VECTOR, dim=4)
    refused(db, lambda: db.create_collection("x", schema=s), SchemaError, "field name 'v\\\\n'")
    ip = db.prepare_index_params()
    ip.add_index("label", index_type="INVERTED", index_name="idx\n")
    refused(db, lambda: db.create_index("c", ip), SchemaError, "index name")


def test_lookups_with_names_that_are_not_valid_unicode_are_refused(db: MilvusClient) -> None:
    for call in (lambda: db.has_collection("c\ud800"), lambda: db.drop_collection("\udfff"),
                 lambda: db.describe_collection("c\ud800"), lambda: db.query("\ud800", limit=1),
                 lambda: db.has_partition("c", "\ud800"), lambda: db.insert("c", rows(300, 1), partition_name="\ud800")):
        refused(db, call, ParamError, "not valid Unicode")


# --- primary keys of the exact type ---------------------------------------------------------------
def test_int64_ids_must_be_ints(db: MilvusClient) -> None:
    """Key 5 is sealed, 13 growing: neither may be deleted (or found) by a key of another type."""
    for bad in [True, False, "5", "13", 5.0, np.float64(5), 2**70, -(2**63) - 1, None, b"5", [5]]:
        for call in (lambda bad=bad: db.delete("c", ids=[bad]), lambda bad=bad: db.get("c", ids=[bad]),
                     lambda bad=bad: db.query("c", ids=[bad])):
            msg = str(refused(db, call, ParamError, "ids"))
            assert repr(bad)[:20] in msg or str(bad)[:20] in msg
    assert count(db, "c") == TOTAL


def test_int64_ids_accept_numpy_integers(db: MilvusClient) -> None:
    assert db.delete("c", ids=[np.int64(5), np.int32(13)]) == {"delete_count": 2, "cost": 0}


def test_varchar_ids_must_be_strings(tmp_path: Path) -> None:
    c = MilvusClient(str(tmp_path / "db"))
    make_collection(c, "s", pk="str")
    for bad in (5, True, b"k5"):
        refused(c, lambda bad=bad: c.delete("s", ids=[bad]), ParamError, "VARCHAR primary key")
    assert c.delete("s", ids=["k5", "k13"]) == {"delete_count": 2, "cost": 0}
    c.close()


def test_delete_by_ids_in_a_partition_deletes_only_there(db: MilvusClient) -> None:
    """partition_name with ids is not ignored: key 19 is in p1, key 13 is not."""
    assert db.delete("c", ids=[13, 19], partition_name="p1") == {"delete_count": 1, "cost": 0}
    assert [r["id"] for r in db.get("c", ids=[13, 19])] == [13]
    refused(db, lambda: db.delete("c", ids=[1], partition_name="nope"), MilvusException, "nope")


# --- numeric arguments ----------------------------------------------------------------------------
Q = [[1.0, 0.5, 0.25, 0.3]]


@pytest.mark.parametrize("kwargs, match", [
    ({"limit": 5, "offset": -1}, "offset"),
    ({"limit": "5"}, "limit must be an integer"),
    ({"limit": 2.5}, "limit must be an integer"),
    ({"limit": True}, "limit must be an integer"),
    ({"limit": 0}, r"limit must be \[1, 16384\]"),
    ({"limit": 10, "offset": 16375}, "limit \\+ offset"),
    ({"limit": 5, "search_params": {"params": {"ef": 0}}}, "ef"),
    ({"limit": 5, "search_params": {"params": {"ef": -3}}}, "ef"),
    ({"limit": 5, "search_params": {"params": {"ef": 4}}}, r"ef \(4\) should be larger"),
    ({"limit": 5, "search_params": {"params": {"ef": "²"}}}, "ef"),
    ({"limit": 5, "search_params": {"params": {"nprobe": 0}}}, "nprobe"),
    ({"limit": 5, "search_params": {"params": {"radius": "x"}}}, "radius must be a number"),
    ({"limit": 5, "search_params": {"params": {"radius": float("nan")}}}, "radius must be a finite"),
    ({"limit": 5, "search_params": {"params": {"range_filter": 0.5}}}, "needs radius"),
    ({"limit": 5, "search_params": {"params": {"radius": 0.5, "range_filter": 0.2}}}, "greater than radius"),
    ({"limit": 5, "search_params": {"params": {"radius": 0.5, "range_filter": "y"}}}, "range_filter must be"),
    ({"limit": 5, "group_by_field": "label", "group_size": 0}, "group_size"),
    ({"limit": 5, "group_by_field": "label", "group_size": 11}, "group_size"),
    ({"limit": 5, "round_decimal": 7}, "round_decimal"),
    ({"limit": 5, "search_params": "ef=5"}, "search_params must be a dict"),
])
def test_search_refuses_bad_numbers(db: MilvusClient, kwargs: dict[str, Any], match: str) -> None:
    refused(db, lambda: db.search("c", Q, **kwargs), ParamError, match)
    db.flush("c")  # all rows sealed and indexed: the same answer
    refused(db, lambda: db.search("c", Q, **kwargs), ParamError, match)


def test_search_offset_pages_and_range_search_takes_ef_on_indexed_rows(db: MilvusClient) -> None:
    db.flush("c")
    full = db.search("c", Q, limit=10)[0]
    assert [h["id"] for h in db.search("c", Q, limit=4, offset=3)[0]] == [h["id"] for h in full[3:7]]
    ranged = db.search("c", Q, limit=50, search_params={"params": {"radius": 0.0, "ef": 64}})[0]
    assert ranged and all(h["distance"] > 0.0 for h in ranged)


def test_grouping_search_applies_the_offset(db: MilvusClient) -> None:
    groups = [h["entity"]["label"] for h in db.search("c", Q, limit=4, group_by_field="label",
                                                       output_fields=["label"])[0]]
    paged = [h["entity"]["label"] for h in db.search("c", Q, limit=2, offset=1, group_by_field="label",
                                                      output_fields=["label"])[0]]
    assert paged == groups[1:3]


def test_round_decimal_rounds_distances(db: MilvusClient) -> None:
    exact = db.search("c", Q, limit=3)[0]
    rounded = db.search("c", Q, limit=3, round_decimal=2)[0]
    assert [h["distance"] for h in rounded] == [round(h["distance"], 2) for h in exact]


@pytest.mark.parametrize("kwargs, match", [
    ({"limit": 5, "offset": -1}, "offset"),
    ({"limit": 0}, "limit"),
    ({"limit": -1}, "limit"),
    ({"limit": "5"}, "limit"),
    ({"limit": 2.5}, "limit"),
    ({"limit": True}, "limit"),
    ({"limit": 5, "offset": 1.0}, "offset"),
    ({"limit": 5, "filter_params": ["x"]}, "filter_params"),
    ({"limit": 5, "output_fields": "id"}, "output_fields"),
    ({"limit": 5, "partition_names": "p1"}, "partition_names"),
])
def test_query_refuses_bad_arguments(db: MilvusClient, kwargs: dict[str, Any], match: str) -> None:
    refused(db, lambda: db.query("c", **kwargs), ParamError, match)


def test_iterators_refuse_bad_batch_sizes(db: MilvusClient) -> None:
    for bad in (0, -1, 16385, "10", 2.5, True):
        refused(db, lambda bad=bad: db.query_iterator("c", batch_size=bad), ParamError, "batch_size")
        refused(db, lambda bad=bad: db.search_iterator("c", Q, batch_size=bad), ParamError, "batch_size")
    refused(db, lambda: db.query_iterator("c", limit=-2), ParamError, "limit")


# --- only MilvusExceptions escape -----------------------------------------------------------------
def test_values_that_used_to_escape_as_python_errors(db: MilvusClient) -> None:
    base = rows(400, 1)[0]
    refused(db, lambda: db.insert("c", [{**base, "label": "a\ud800"}]), DataError, "field 'label'.*surrogate")
    refused(db, lambda: db.insert("c", [{**base, "meta": {"k": "\udfff"}}]), DataError, "field 'meta'.*Unicode")
    refused(db, lambda: db.insert("c", [{**base, "\ud800": 1}]), DataError, "row 0")
    refused(db, lambda: db.insert("c", [{**base, "score": 10**400}]), DataError, "field 'score'.*range")
    refused(db, lambda: db.insert("c", [{**base, "id": 2**70}]), DataError, "field 'id'.*out of range")
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    refused(db, lambda: db.insert("c", [{**base, "meta": deep}]), DataError, "field 'meta'.*deeper than 256")
    refused(db, lambda: db.insert("c", [{**base, "extra": deep}]), DataError, "row 0.*deeper than 256")
    refused(db, lambda: db.delete("c", ids=[2**70]), ParamError, str(2**70))
    refused(db, lambda: db.insert("c", [{**base, 7: 1}]), DataError, "dynamic field name 7")


@pytest.mark.parametrize("expr, column", [("id > ₅", 6), ("id > ٣", 6), ("id > 5²", 6), ("id in [1, ๑]", 11),
                                          ("id > 0x١", 6)])
def test_filters_with_digits_of_other_scripts_are_refused_with_a_position(db: MilvusClient, expr: str,
                                                                          column: int) -> None:
    for call in (lambda: db.query("c", filter=expr), lambda: db.delete("c", filter=expr)):
        assert refused(db, call, FilterError).position == column


def test_unsupported_features_are_milvus_exceptions(db: MilvusClient) -> None:
    with pytest.raises(MilvusException, match="partial_update"):  # merge mode exists; a flag that is no bool
        db.upsert("c", rows(0, 1), partial_update="yes")
    with pytest.raises(NotImplementedError):  # still a NotImplementedError too
        db.compact("c", is_clustering=True)


# --- a closed client refuses everything -----------------------------------------------------------
def _public_methods() -> list[str]:
    return sorted(n for n, f in inspect.getmembers(MilvusClient, inspect.isfunction)
                  if not n.startswith("_") and not isinstance(inspect.getattr_static(MilvusClient, n), staticmethod))


def test_the_guard_covers_every_public_method() -> None:
    names = _public_methods()
    assert {"rename_collection", "drop_collection", "insert", "search", "compact", "recall_check_iter"} <= set(names)
    for n in names:
        if n != "close":
            assert getattr(MilvusClient, n).__wrapped__, n


def test_a_closed_client_refuses_every_method(tmp_path: Path) -> None:
    c = MilvusClient(str(tmp_path / "db"))
    make_collection(c, "c")
    c.close()
    c.close()  # closing twice is fine
    args = {"collection_name": "c", "old_name": "c", "new_name": "d", "partition_name": "p1", "job_id": 1,
            "partition_names": ["p1"], "index_name": "vector", "field_name": "vector", "data": rows(50, 1),
            "ids": [1], "reqs": [], "ranker": RRFRanker(), "index_params": c.prepare_index_params("label"),
            "properties": {"engine.seal_rows": 5}, "property_keys": ["engine.seal_rows"], "source": "c", "target": "d",
            "alias": "a", "db_name": "d", "data_type": DataType.INT64}
    for method in _public_methods():
        if method == "close":
            continue
        params = [p for p in inspect.signature(getattr(MilvusClient, method)).parameters.values()
                  if p.name != "self" and p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
        with pytest.raises(ClientClosedError, match=f"{method}: this MilvusClient"):
            getattr(c, method)(**{p.name: args[p.name] for p in params})
    again = MilvusClient(str(tmp_path / "db"))
    assert again.list_collections() == ["c"] and count(again, "c") == TOTAL
    again.close()


def test_static_helpers_work_on_a_closed_client(tmp_path: Path) -> None:
    c = MilvusClient(str(tmp_path / "db"))
    c.close()
    assert c.create_schema().fields == [] and len(c.prepare_index_params("v")) == 1


def test_filters_with_lone_surrogates_are_refused_with_a_position(db: MilvusClient) -> None:
    """Raw or escaped (`\\ud800`), in the text or in a template value: a FilterError, never a UnicodeEncodeError."""
    for expr, params, column in [('label == "\ud800"', None, 11), ('label == "\\ud800"', None, 11),
                                 ('label like "x\\udc00%"', None, 14), ("label == {x}", {"x": "a\udfff"}, 10),
                                 ("label in {x}", {"x": ["ok", "\ud800"]}, 10)]:
        err = refused(db, lambda expr=expr, params=params: db.query("c", filter=expr, filter_params=params),
                      FilterError, "surrogate")
        assert err.position == column, (expr, err)
    assert db.query("c", filter='label != "\\ud83d\\ude00"', output_fields=["count(*)"]) == [{"count(*)": TOTAL}]


def test_numbers_too_long_to_print_still_give_a_message(db: MilvusClient) -> None:
    """Python refuses to print an int of more than 4,300 digits: messages describe it by size instead."""
    huge = 10**5000
    for call in (lambda: db.delete("c", ids=[huge]), lambda: db.search("c", Q, limit=huge),
                 lambda: db.query("c", limit=5, offset=huge), lambda: db.insert("c", [{**rows(500, 1)[0], "id": huge}]),
                 lambda: db.query("c", filter="id > {x}", filter_params={"x": huge}),
                 lambda: db.search("c", Q, limit=5, search_params={"params": {"ef": huge}})):
        assert "bits>" in str(refused(db, call))
    assert "out of the 64-bit integer range" in str(refused(db, lambda: db.query("c", filter="id > " + "1" * 5000)))


def test_schema_arguments_of_the_wrong_shape_are_refused(db: MilvusClient) -> None:
    s = db.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4.5)
    refused(db, lambda: db.create_collection("x", schema=s), SchemaError, "dim must be an integer, got 4.5")
    refused(db, lambda: db.create_schema(fields=5), SchemaError, "fields must be a list")
    refused(db, lambda: db.create_collection("x", schema={"fields": [{"name": "id"}]}), SchemaError, "malformed")
    refused(db, lambda: db.prepare_index_params("v", params="M=8"), ParamError, "params must be a dict")
    assert not db.has_collection("x")


def test_a_database_path_that_cannot_be_opened_is_a_param_error(tmp_path: Path) -> None:
    for uri in ("a\x00b", str(tmp_path / ("x" * 300) / "db"), 5, ""):
        with pytest.raises(ParamError, match="database directory|uri must be"):
            MilvusClient(uri)  # type: ignore[arg-type]


def test_an_index_may_be_named_after_its_field_path(tmp_path: Path) -> None:
    """The default index name of a struct sub-field is its path, "chunks[e]"; copies pass it back explicitly."""
    c = MilvusClient(str(tmp_path / "db"))
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    struct = c.create_struct_field_schema()
    struct.add_field("e", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("chunks", DataType.ARRAY, element_type=DataType.STRUCT, struct_schema=struct, max_capacity=4)
    ip = c.prepare_index_params()
    ip.add_index("chunks[e]", index_name="chunks[e]", metric_type="MAX_SIM_COSINE")
    c.create_collection("x", schema=s, index_params=ip)
    assert c.list_indexes("x") == ["chunks[e]"]
    bad = c.prepare_index_params()
    bad.add_index("chunks[e]", index_name="chunks[f]", metric_type="MAX_SIM_COSINE")
    with pytest.raises(SchemaError, match="index name"):
        c.create_collection("y", schema=s, index_params=bad)
    c.close()
