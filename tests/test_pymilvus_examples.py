"""pymilvus's example scripts, ported (tests/pymilvus_examples.py), on the engine and on Milvus Lite.

`test_runs_as_written` checks how far each script gets on each system, as written: to its end, or
to the error EXPECTED names (the pass rates in docs/differences-tested.md come from this table).
`test_outputs_match` compares what each script prints on the engine with what it prints on Milvus
Lite (run with `lite_workarounds` past Milvus Lite's own gaps); every difference is one listed in
DIFFERENCES and docs/differences-tested.md, and the test checks that it is still there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pymilvus_examples import EXAMPLES, run

pytestmark = pytest.mark.milvus_lite
REQUIRE_LITE = os.environ.get("WORKBENCH_REQUIRE_MILVUS_LITE") == "1"

# How far each script gets as written: None = to its end; else a piece of the error that stops it.
EXPECTED: dict[str, tuple[str | None, str | None]] = {  # (engine, Milvus Lite 3.2.2)
    "simple": (None, None),
    "customize_schema": (None, "missing required 'index_type'"),
    "customize_schema_auto_id": (None, "missing required 'index_type'"),
    "customize_schema_id": (None, "missing required 'index_type'"),
    "index": (None, "missing required 'index_type'"),
    "index_params": (None, None),
    "partition": (None, "does not support LoadPartitions"),
    "hybrid_search": (None, None),
    "flush": (None, None),
    "compact": (None, None),
    "get_server_version": (None, None),
    "alter": ("alter_index_properties() is a pymilvus call the embedded engine does not implement",
              "missing required 'index_type'"),
    "simple_cost": (None, "list indices must be integers"),
    "iterator": (None, "comparison '<=' between incompatible types"),
    # the script drops its alias before creating it: Milvus refuses a missing alias (code 1600), Lite takes it
    "alias": ("alias 'alias_hello_milvus' does not exist", None),
    "bm25": ("unknown parameter(s) ['enable_tokenizer']", "must have enable_analyzer=True"),
}

# (example, printed label) -> the documented difference (docs/differences-tested.md).
DIFFERENCES: dict[tuple[str, str], str] = {
    ("simple", "query ids=[2] after upsert"): "an override upsert drops the old dynamic key 'b'; Milvus Lite keeps it",
    ("simple", "delete"): "delete returns {'delete_count': n, 'cost': 0}, as from a Milvus server; Milvus Lite a list",
    ("flush", "delete"): "delete returns {'delete_count': n, 'cost': 0}, as from a Milvus server; Milvus Lite a list",
    ("index", "describe_index 0"): "rows not flushed yet are pending_index_rows (searched exactly)",
    ("index", "describe_index 1"): "a Trie index named my_trie (Milvus Lite builds INVERTED only, named 'title')",
    ("index", "drop_index while loaded"): "the engine drops an index of a loaded collection; Milvus refuses",
    ("index", "list_indexes"): "Milvus Lite names a scalar index after its field, whatever index_name says",
}


def _api(kind: str, uri: str, workarounds: bool = False) -> SimpleNamespace:
    if kind == "engine":
        import engine

        return SimpleNamespace(MilvusClient=engine.MilvusClient, DataType=engine.DataType, IndexParams=engine.IndexParams,
                               AnnSearchRequest=engine.AnnSearchRequest, RRFRanker=engine.RRFRanker,
                               Function=engine.Function, FunctionType=engine.FunctionType, uri=uri)
    if sys.platform == "win32":
        pytest.skip("milvus-lite has no Windows build")
    try:
        import milvus_lite  # noqa: F401
        import pymilvus
        from pymilvus.milvus_client import IndexParams
    except ImportError as e:
        if REQUIRE_LITE:
            pytest.fail(f"Milvus Lite is required (WORKBENCH_REQUIRE_MILVUS_LITE=1) but {e}")
        pytest.skip(f"pymilvus or milvus-lite is not installed ({e})")
    return SimpleNamespace(MilvusClient=pymilvus.MilvusClient, DataType=pymilvus.DataType, IndexParams=IndexParams,
                           AnnSearchRequest=pymilvus.AnnSearchRequest, RRFRanker=pymilvus.RRFRanker,
                           Function=pymilvus.Function, FunctionType=pymilvus.FunctionType, uri=uri,
                           lite_workarounds=workarounds)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], tuple[list, Any]]]:
    """Every example on the engine, on Milvus Lite as written, and on Milvus Lite with the workarounds."""
    root = Path(tmp_path_factory.mktemp("examples"))
    out: dict[tuple[str, str], tuple[list, Any]] = {}
    for name in EXAMPLES:
        out[(name, "engine")] = run(name, _api("engine", str(root / f"{name}_engine")))
        out[(name, "lite")] = run(name, _api("lite", str(root / f"{name}.db")))
        out[(name, "lite+")] = run(name, _api("lite", str(root / f"{name}_wa.db"), workarounds=True))
    yield out


def _outcome(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {getattr(error, 'message', '') or error}"


@pytest.mark.parametrize("system", ["engine", "lite"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_runs_as_written(results: dict, name: str, system: str) -> None:
    expected = EXPECTED[name][0 if system == "engine" else 1]
    got = _outcome(results[(name, system)][1])
    if expected is None:
        assert got is None, f"{name} stopped on {system}: {got}"
    else:
        assert got is not None and expected in got, f"{name} on {system}: expected to stop on {expected!r}, got {got}"


def test_pass_rates(results: dict) -> None:
    """The pass rates docs/differences-tested.md reports: scripts that run to their end as written."""
    engine_ok = sum(results[(n, "engine")][1] is None for n in EXAMPLES)
    lite_ok = sum(results[(n, "lite")][1] is None for n in EXAMPLES)
    assert len(EXAMPLES) >= 15
    assert (engine_ok, lite_ok, len(EXAMPLES)) == (13, 7, 16)


def _comparable(label: str, value: Any) -> Any:
    if label != "describe_collection" or not isinstance(value, dict):
        return value
    # field ids, collection ids, timestamps and descriptions differ by design (test_difference_describe_*)
    keep = ("name", "type", "params", "is_primary", "auto_id", "element_type", "nullable")
    return {"auto_id": value.get("auto_id"), "enable_dynamic_field": value.get("enable_dynamic_field"),
            "num_partitions": value.get("num_partitions"), "consistency_level": value.get("consistency_level"),
            "fields": [{k: f.get(k) for k in keep} for f in value.get("fields", [])]}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_outputs_match(results: dict, name: str) -> None:
    engine_out = dict(results[(name, "engine")][0])
    lite_out = dict(results[(name, "lite+")][0])
    compared = 0
    for label in engine_out.keys() & lite_out.keys():
        a, b = _comparable(label, engine_out[label]), _comparable(label, lite_out[label])
        if (name, label) in DIFFERENCES:
            assert a != b, f"{name}: {label!r} is listed as a difference but both print {a!r}"
        else:
            assert a == b, f"{name}: {label!r} differs\n engine: {a!r}\n lite:   {b!r}"
            compared += 1
    if results[(name, "lite+")][1] is None and results[(name, "engine")][1] is None:
        assert engine_out.keys() == lite_out.keys()
    assert compared or name in ("alter", "bm25", "alias"), f"{name}: nothing compared"
