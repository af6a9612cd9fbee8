"""Fuzz and fault layer of the public API: arbitrary text and bad values into every argument.

Every text input (filters, names, output field names, partition names, index parameters, VARCHAR,
JSON and dynamic-field values, primary keys) is fuzzed with arbitrary Unicode: white space of
every class, lone surrogates, digits of other scripts, control characters, very long strings, and
fragments of the filter language. The properties, for every call:

* only `MilvusException`s escape (any other exception fails the test);
* a refused call leaves the database as it was (a fingerprint of schemas, partitions, indexes and
  rows per partition, before and after);
* a blank filter is no filter: it never deletes anything, and reads see every row;
* what is accepted follows an independent oracle (Milvus's naming rules written as character
  loops, as in Milvus's Go code; UTF-8 length limits) and round-trips.

A parametrized matrix then feeds wrong types, bools, negatives, zero, huge numbers, NaN and
strings to every numeric argument. API_FUZZ_EXAMPLES (default 60) scales the fuzz run:
`API_FUZZ_EXAMPLES=3000 pytest tests/test_api_fuzz.py` for a deep one.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_state import N_GROWING, N_SEALED, fingerprint, make_collection
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import AnnSearchRequest, DataType, MilvusClient, MilvusException, RRFRanker

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOTAL = N_SEALED + N_GROWING
Q = [[1.0, 0.5, 0.25, 0.3]]

# --- text ----------------------------------------------------------------------------------------
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
NOT_WHITESPACE = ["\u200b", "\u200c", "\u2060", "\ufeff", "\u180e"]  # zero-width: not white space
SPECIAL = WHITESPACE + NOT_WHITESPACE + [
    "\ud800", "\udbff", "\udc00", "\udfff",  # lone surrogates
    "₅", "٣", "²", "๑", "߂", "१", "０", "Ⅷ",  # digits (and a number) of other scripts
    "\x00", "\x01", "\x1b", "\x7f", "\x85",  # control characters
    "é", "ß", "İ", "ﬁ", "Ω", "😀", "$", "_", "-", ".", "*", "[", "]", "{", "}", "(", ")", "%", "'", '"', "\\", "/",
    "0", "7", "a", "Z",
]
any_text = st.text(st.characters(exclude_categories=()), max_size=24)
special_text = st.text(st.sampled_from(SPECIAL), max_size=10)
blank_text = st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=5)
long_text = st.builds(lambda c, n: c * n, st.sampled_from(["a", "_", "é", " ", "\ud800", "1", "😀"]),
                      st.sampled_from([64, 254, 255, 256, 1000, 70000]))
identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
near_identifier = st.builds(lambda a, b, c: a + b + c, special_text, identifier, special_text)
TEXT = st.one_of(any_text, special_text, blank_text, long_text, identifier, near_identifier)

FILTER_WORDS = ["id", "label", "score", "meta", "meta['n']", 'meta["tags"]', "extra", "$meta['extra']", "vector",
                "nope", "==", "!=", ">", "<", ">=", "<=", "in", "not in", "like", "and", "or", "not", "&&", "||", "!",
                "+", "-", "*", "/", "%", "**", "(", ")", "[", "]", ",", "is null", "is not null", "exists",
                "json_contains", "array_length", "1", "5", "-3", "2.5", "1e39", "1e999", "0x1F", "0b12", "07",
                "9223372036854775808", "'label 1'", '"a%"', "'\\u00e9'", "r'x'", "[1, 2]", "true", "FALSE",
                "₅", "٣", "{x}", "{y}", "{__ids}"]
filter_like = st.lists(st.one_of(st.sampled_from(FILTER_WORDS), special_text), min_size=1, max_size=7).map(" ".join)
simple_filter = st.builds(lambda f, op, v: f"{f} {op} {v}", st.sampled_from(["id", "score", "label", "meta['n']", "extra"]),
                          st.sampled_from(["==", "!=", ">", "<", ">=", "<=", "in", "like"]),
                          st.sampled_from(["3", "7.5", "'label 1'", "[1, 3, 5]", '"label%"', "{x}", "-1", "true"]))
# Fuzzed text inside string literals, JSON keys and template values: raw, or escaped as JSON (\uXXXX).
quoted = st.one_of(TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
                   TEXT.map(json.dumps), TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)))
text_filter = st.builds(lambda form, q: form.format(q=q), st.sampled_from([
    "label == {q}", "label != {q}", "label like {q}", "label in [{q}, 'label 1']", "meta[{q}] == 1",
    "$meta[{q}] > 0", "json_contains(meta['tags'], {q})", "label == {{x}}", "label in {{x}}", "{q} == label",
]), quoted)
FILTER = st.one_of(TEXT, filter_like, simple_filter, text_filter)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def blank(s: str) -> bool:
    return not s.strip()


def utf8_ok(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


LETTERS = set(string.ascii_letters)
DIGITS = set(string.digits)


def milvus_name_ok(s: str) -> bool:
    """Milvus's validateCollectionNameOrAlias / validateFieldName / validateIndexName, byte by byte."""
    if not s or not utf8_ok(s) or len(s.encode()) > 255:
        return False
    if s[0] != "_" and s[0] not in LETTERS:
        return False
    return all(c == "_" or c in LETTERS or c in DIGITS for c in s[1:])


def milvus_partition_ok(s: str) -> bool:
    """Milvus's validatePartitionTag (strict): a digit may lead, '-' may follow. (Milvus trims white space
    around the name before checking it; the engine refuses it instead.)"""
    if not s or not utf8_ok(s) or len(s.encode()) > 255:
        return False
    if s[0] != "_" and s[0] not in LETTERS and s[0] not in DIGITS:
        return False
    return all(c in "_-" or c in LETTERS or c in DIGITS for c in s[1:])


# --- the database under test -------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusClient]:
    c = MilvusClient(str(tmp_path_factory.mktemp("fuzz") / "db"))
    make_collection(c, "c")
    make_collection(c, "s", pk="str")
    s = c.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    c.create_collection("n", schema=s)  # no index: create_index is fuzzed on it
    c.insert("n", [{"id": i, "v": [float(i), 1.0]} for i in range(6)])
    c.flush("n")
    yield c
    c.close()


@pytest.fixture(scope="module")
def original(api: MilvusClient) -> str:
    return fingerprint(api)


def attempt(client: MilvusClient, fn: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result), or (False, error) for a MilvusException, after checking it changed nothing.

    Any other exception propagates and fails the test."""
    before = fingerprint(client)
    try:
        return True, fn()
    except MilvusException as e:
        assert fingerprint(client) == before, f"refused call changed the database: {e}"
        assert e.message, "an error without a message"
        return False, e


_keys = itertools.count(1_000_000)


# --- names ---------------------------------------------------------------------------------------
@FUZZ
@given(name=TEXT)
def test_fuzz_names(api: MilvusClient, original: str, name: str) -> None:
    assume(name not in ("c", "s", "n"))
    ok, _ = attempt(api, lambda: api.create_collection(name, dimension=2))
    assert ok == milvus_name_ok(name), name
    if ok:
        assert api.has_collection(name)
        api.drop_collection(name)
    ok, _ = attempt(api, lambda: api.rename_collection("n", name))
    assert ok == milvus_name_ok(name), name
    if ok:
        api.rename_collection(name, "n")
    ok, _ = attempt(api, lambda: api.create_partition("c", name))
    assert ok == (milvus_partition_ok(name) and name not in ("_default", "p1")), name
    if ok:
        api.drop_partition("c", name)
    s = api.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    ok, _ = attempt(api, lambda: s.add_field(name, DataType.INT64) and api.create_collection("f", schema=s))
    assert ok == (milvus_name_ok(name) and name not in ("id", "v")), name
    if ok:
        api.drop_collection("f")
    ip = api.prepare_index_params()
    ip.add_index("label", index_type="INVERTED", index_name=name)
    ok, _ = attempt(api, lambda: api.create_index("c", ip))
    assert ok == (name == "" or milvus_name_ok(name)), name  # "" names the index after its field
    if ok:
        api.drop_index("c", name or "label")
    assert fingerprint(api) == original
    lookups: list[Callable[[], Any]] = [
        lambda: api.has_collection(name), lambda: api.describe_collection(name), lambda: api.drop_collection(name),
        lambda: api.get_load_state(name), lambda: api.get_collection_stats(name), lambda: api.has_partition("c", name),
        lambda: api.drop_partition("c", name), lambda: api.load_partitions("c", [name]),
        lambda: api.get_load_state("c", partition_name=name), lambda: api.list_indexes("c", field_name=name),
        lambda: api.describe_index("c", name), lambda: api.drop_index("c", name),
        lambda: api.query("c", limit=2, partition_names=[name]), lambda: api.insert("c", [], partition_name=name),
        lambda: api.search("c", Q, limit=2, partition_names=[name]), lambda: api.search("c", Q, anns_field=name),
        lambda: api.delete("c", ids=[-7], partition_name=name), lambda: api.search("c", Q, group_by_field=name),
    ]
    for call in lookups:
        attempt(api, call)
    assert fingerprint(api) == original


# --- filters -------------------------------------------------------------------------------------
FILTER_PARAMS = st.one_of(st.none(), st.fixed_dictionaries({"x": JSONISH}), st.fixed_dictionaries({"x": TEXT}),
                          st.fixed_dictionaries({"x": st.lists(TEXT, max_size=3)}),
                          st.dictionaries(TEXT, JSONISH, max_size=2))


@FUZZ
@given(expr=FILTER, params=FILTER_PARAMS)
def test_fuzz_filters(api: MilvusClient, original: str, expr: str, params: dict[str, Any] | None) -> None:
    for coll in ("c", "s"):
        _fuzz_filter(api, coll, expr, params)
        assert fingerprint(api) == original


def _fuzz_filter(api: MilvusClient, coll: str, expr: str, params: dict[str, Any] | None) -> None:
    """query, count, search, query_iterator, hybrid_search and delete with one filter on `coll`."""
    ok, matched = attempt(api, lambda: api.query(coll, filter=expr, limit=10_000, output_fields=["id"],
                                                filter_params=params))
    if blank(expr):
        assert ok and len(matched) == TOTAL, "a blank filter must read every row"
    ok_count, counted = attempt(api, lambda: api.query(coll, filter=expr, output_fields=["count(*)"],
                                                      filter_params=params))
    assert ok_count == ok
    if ok:
        assert counted[0]["count(*)"] == len(matched)
    ok_search, hits = attempt(api, lambda: api.search(coll, Q, filter=expr, limit=TOTAL, filter_params=params))
    assert ok_search == ok, expr
    if ok:
        assert {h["id"] for h in hits[0]} <= {r["id"] for r in matched}
    ok_it, _ = attempt(api, lambda: api.query_iterator(coll, filter=expr, filter_params=params).next())
    assert ok_it == ok
    req = AnnSearchRequest(Q, "vector", {}, limit=3, expr=expr, expr_params=params)
    ok_hybrid, _ = attempt(api, lambda: api.hybrid_search(coll, [req], RRFRanker(), limit=3))
    assert ok_hybrid == ok
    _fuzz_delete(api, coll, expr, params, ok, matched)


def _fuzz_delete(api: MilvusClient, coll: str, expr: str, params: dict[str, Any] | None, readable: bool,
                 matched: Any) -> None:
    """delete(filter) deletes what query(filter) reads, and nothing when the filter is blank or refused."""
    saved = {p: api.query(coll, filter=expr, output_fields=["*"], partition_names=[p], filter_params=params)
             for p in api.list_partitions(coll)} if readable and not blank(expr) else {}
    ok, res = attempt(api, lambda: api.delete(coll, filter=expr, filter_params=params))
    if blank(expr) or not readable:
        assert not ok, f"delete(filter={expr!r}) must be refused"
        return
    assert ok and res["delete_count"] == len(matched)
    for p, got in saved.items():  # put the rows back
        if got:
            api.upsert(coll, got, partition_name=p)


# --- output fields -------------------------------------------------------------------------------
@FUZZ
@given(fields=st.lists(st.one_of(TEXT, st.sampled_from(["*", "count(*)", "meta", "vector", "$meta", "extra",
                                                       "id", "COUNT( * )", "vector[x]", "meta[n]"])), max_size=4))
def test_fuzz_output_fields(api: MilvusClient, original: str, fields: list[str]) -> None:
    for coll, key in (("c", 1), ("s", "k1")):
        attempt(api, lambda coll=coll: api.query(coll, filter="", limit=3, output_fields=fields))
        attempt(api, lambda coll=coll, key=key: api.get(coll, ids=[key], output_fields=fields))
        attempt(api, lambda coll=coll: api.search(coll, Q, limit=3, output_fields=fields))
    assert fingerprint(api) == original


# --- values --------------------------------------------------------------------------------------
@FUZZ
@given(text=TEXT, key=TEXT, value=JSONISH)
def test_fuzz_values(api: MilvusClient, original: str, text: str, key: str, value: Any) -> None:
    assume(key not in ("id", "vector", "label", "score", "meta", "$meta"))
    pk = next(_keys)
    row = {"id": pk, "vector": [1.0, 0.0, 0.0, 0.0], "label": text, "score": 1.0,
           "meta": {"t": text, "v": value}, key: value}
    ok, _ = attempt(api, lambda: api.insert("c", [row]))
    text_ok = utf8_ok(text) and len(text.encode("utf-8")) <= 32
    if not (utf8_ok(key) and _json_storable(value)):
        assert not ok
    elif not text_ok:
        assert not ok
    if ok:
        got = api.get("c", ids=[pk], output_fields=["*"])[0]
        assert got["label"] == text and got["meta"]["t"] == text
        assert _same_json(got[key], value) and _same_json(got["meta"]["v"], value)
        api.delete("c", ids=[pk])
    ok, _ = attempt(api, lambda: api.insert("s", [{**row, "id": text, "label": "x", "meta": None}]))
    assert not ok or (utf8_ok(text) and len(text.encode()) <= 64)
    if ok:
        assert [r["id"] for r in api.get("s", ids=[text])] == [text]
        api.delete("s", ids=[text])
    assert fingerprint(api) == original


def _json_storable(v: Any, depth: int = 0) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return utf8_ok(v)
    if isinstance(v, list):
        return all(_json_storable(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(utf8_ok(k) and _json_storable(x, depth + 1) for k, x in v.items())
    return True


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.floats(-1e40, 1e40),
                   st.booleans(), st.text(max_size=3), st.none())


@FUZZ
@given(vec=st.lists(NUMBER, min_size=3, max_size=5))
def test_fuzz_vectors(api: MilvusClient, original: str, vec: list[Any]) -> None:
    """A vector is stored (or searched with) only if it is 4 numbers, finite within float32: never inf, which
    IP would rank first; never a string or a bool read as a number."""
    pk = next(_keys)
    ok, _ = attempt(api, lambda: api.insert("c", [{"id": pk, "vector": vec, "score": 0.5}]))
    assert ok == _storable(vec), vec
    if ok:
        stored = api.get("c", ids=[pk], output_fields=["vector"])[0]["vector"]
        assert np.isfinite(stored).all()
        api.delete("c", ids=[pk])
    ok_search, _ = attempt(api, lambda: api.search("c", [vec], limit=2))
    assert ok_search == _storable(vec), vec
    assert fingerprint(api) == original


def _storable(vec: list[Any]) -> bool:
    if len(vec) != 4 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vec):
        return False
    if all(isinstance(x, bool) for x in vec):
        return False
    try:
        return all(math.isfinite(float(x)) and abs(float(x)) <= 3.4028234663852886e38 for x in vec)
    except OverflowError:
        return False


# --- index parameters ----------------------------------------------------------------------------
@FUZZ
@given(key=st.one_of(TEXT, st.sampled_from(["M", "efConstruction", "ef", "nlist", "metric_type"])), value=JSONISH)
def test_fuzz_index_params(api: MilvusClient, original: str, key: str, value: Any) -> None:
    ip = api.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={key: value})
    ok, _ = attempt(api, lambda: api.create_index("n", ip))
    if ok:
        assert api.list_indexes("n") == ["v"]
        api.drop_index("n", "v")
    for params in ({key: value}, {"params": {key: value}}, {"metric_type": value} if key == "metric_type" else {}):
        attempt(api, lambda params=params: api.search("c", Q, limit=3, search_params=params))  # type: ignore[misc]
    assert fingerprint(api) == original


# --- the bad-input matrix of numeric arguments -----------------------------------------------------
BAD = {"true": True, "false": False, "neg": -1, "zero": 0, "huge": 2**70, "nan": float("nan"), "inf": float("inf"),
       "float": 2.5, "whole_float": 5.0, "numpy_float": np.float64(5.0), "digits": "5", "junk": "x",
       "surrogate": "\ud800", "none": None, "list": [5]}
ALL = set(BAD)


def _search(api: MilvusClient, **kw: Any) -> Any:
    return api.search("c", Q, **{"limit": 5, **kw})


def _params(**p: Any) -> dict[str, Any]:
    return {"search_params": {"params": p}}


# argument -> (call with the value, the BAD keys it must refuse, a value it must accept)
MATRIX: dict[str, tuple[Callable[[MilvusClient, Any], Any], set[str], Any]] = {
    "search.limit": (lambda a, v: a.search("c", Q, limit=v), ALL, 5),
    "search.offset": (lambda a, v: _search(a, offset=v), ALL - {"zero", "none"}, 2),
    "search.ef": (lambda a, v: _search(a, **_params(ef=v)), ALL - {"digits", "none"}, 16),
    "search.nprobe": (lambda a, v: _search(a, **_params(nprobe=v)), ALL - {"digits", "none"}, 8),
    "search.radius": (lambda a, v: _search(a, **_params(radius=v)), ALL - {"neg", "zero", "huge", "float", "whole_float",
                                                                           "numpy_float", "none"}, 0.5),
    "search.range_filter": (lambda a, v: _search(a, **_params(radius=-5.0, range_filter=v)),
                            ALL - {"neg", "zero", "huge", "float", "whole_float", "numpy_float", "none"}, 3.0),
    "search.group_size": (lambda a, v: _search(a, group_by_field="label", group_size=v), ALL - {"none"}, 2),
    "search.round_decimal": (lambda a, v: _search(a, round_decimal=v), ALL - {"neg", "zero", "none"}, 3),
    "query.limit": (lambda a, v: a.query("c", limit=v), ALL, 5),
    "query.offset": (lambda a, v: a.query("c", limit=5, offset=v), ALL - {"zero", "none"}, 2),
    "query_iterator.batch_size": (lambda a, v: a.query_iterator("c", batch_size=v), ALL, 10),
    "search_iterator.batch_size": (lambda a, v: a.search_iterator("c", Q, batch_size=v), ALL, 10),
    "hybrid.limit": (lambda a, v: a.hybrid_search("c", [AnnSearchRequest(Q, "vector", {}, 3)], RRFRanker(), limit=v),
                     ALL, 5),
    "hybrid.request_limit": (lambda a, v: a.hybrid_search("c", [AnnSearchRequest(Q, "vector", {}, v)], RRFRanker()),
                             ALL, 5),
    "create_collection.dimension": (lambda a, v: a.create_collection("d", dimension=v), ALL, 8),
    "delete.ids": (lambda a, v: a.delete("c", ids=[v]), ALL - {"neg", "zero"}, 10**6),
    "get.ids": (lambda a, v: a.get("c", ids=[v]), ALL - {"neg", "zero"}, 3),
    "compact.target_size": (lambda a, v: a.compact("n", target_size=v), ALL - {"huge", "none"}, 100),
}
CASES = [(arg, bad) for arg, (_, bads, _) in MATRIX.items() for bad in sorted(bads)]


@pytest.mark.parametrize("arg, bad", CASES)
def test_bad_numeric_argument_is_refused(api: MilvusClient, original: str, arg: str, bad: str) -> None:
    call = MATRIX[arg][0]
    ok, err = attempt(api, lambda: call(api, BAD[bad]))
    assert not ok, f"{arg}={BAD[bad]!r} was accepted"
    assert fingerprint(api) == original


@pytest.mark.parametrize("arg", sorted(MATRIX))
def test_good_numeric_argument_is_accepted(tmp_path: Path, arg: str) -> None:
    """The matrix's control: each argument's good value goes through (so a refusal above is about the value)."""
    c = MilvusClient(str(tmp_path / "db"))
    make_collection(c, "c")
    c.create_collection("n", dimension=2)
    MATRIX[arg][0](c, MATRIX[arg][2])
    c.close()
