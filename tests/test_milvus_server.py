"""The workbench against a real Milvus server, compared with the embedded engine.

The server is the `milvus_server` fixture (tests/conftest.py): `$WORKBENCH_MILVUS_URI`, or the `milvus`
package's embedded Milvus 2.3 standalone server (a real Milvus binary, not Milvus Lite). Each test runs
the same calls through `workbench.backends` on the engine and on the server and compares the answers:
exact (FLAT) search hits and scores, query results for the same filters, counts after deletes and
upserts, index progress, segments, copies both ways with full verification, and export/import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.backends import (
    ARRAY,
    FLOAT,
    FLOAT_VECTOR,
    INT32,
    INT64,
    JSON_TYPE,
    STRUCT,
    VARCHAR,
    AnnRequest,
    Backend,
    BackendSpec,
    CapabilityError,
    EmbeddedBackend,
    MilvusBackend,
    Ranker,
    open_backend,
)
from workbench.transfer import copy_collection, export_to_file, import_collection, run

N, DIM = 300, 8
WORDS = ["apple", "banana", "cherry", "date", "elder"]
SCHEMA: dict[str, Any] = {
    "enable_dynamic_field": True,
    "fields": [
        {"name": "pk", "type": INT64, "is_primary": True},
        {"name": "vec", "type": FLOAT_VECTOR, "params": {"dim": DIM}},
        {"name": "label", "type": VARCHAR, "params": {"max_length": 32}},
        {"name": "n", "type": INT32},
        {"name": "score", "type": FLOAT},
        {"name": "meta", "type": JSON_TYPE},
        {"name": "tags", "type": ARRAY, "element_type": INT64, "params": {"max_capacity": 8}},
    ],
}
FILTERS = [
    "n > 50",
    "n >= 10 and n < 20",
    "label == 'banana'",
    "label in ['apple', 'date'] and n % 2 == 0",
    "label like 'ch%'",
    "not (score > 0.5)",
    "score <= 0.25 or n == 7",
    'meta["k"] > 3',
    'meta["tag"] == "odd"',
    "array_contains(tags, 3)",
    "pk in [1, 2, 3, 250]",
    "color == 'red'",  # a dynamic field
    "pk > 100 and (label == 'elder' or score > 0.9)",
]


def _rows(n: int = N, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    vec = rng.standard_normal((n, DIM)).astype(np.float32)
    score = rng.random(n).astype(np.float32)
    return [{"pk": i, "vec": vec[i].tolist(), "label": WORDS[i % 5], "n": i % 97,
             "score": float(score[i]), "meta": {"k": i % 7, "tag": "odd" if i % 2 else "even"},
             "tags": [i % 5, (i * 3) % 11], "color": "red" if i % 3 == 0 else "blue"} for i in range(n)]


def _indexes(metric: str = "COSINE") -> list[dict[str, Any]]:
    return [{"field_name": "vec", "index_type": "FLAT", "metric_type": metric}]


# Two vector fields: Milvus 2.4+ (and the engine); Milvus 2.3 allows one per collection.
SCHEMA2: dict[str, Any] = dict(SCHEMA, fields=[*SCHEMA["fields"], {"name": "vec2", "type": FLOAT_VECTOR,
                                                                   "params": {"dim": DIM}}])
INDEXES2 = [*_indexes(), {"field_name": "vec2", "index_type": "FLAT", "metric_type": "L2"}]


_names = iter(range(10**6))


def fresh(prefix: str = "s") -> str:
    return f"{prefix}_{next(_names)}"


@pytest.fixture(scope="module")
def server(milvus_server: str) -> Iterator[MilvusBackend]:
    b = open_backend(BackendSpec(kind="milvus", uri=milvus_server, probe=True,
                                 token=os.environ.get("WORKBENCH_MILVUS_TOKEN", "")))
    assert isinstance(b, MilvusBackend)
    yield b
    b.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path_factory.mktemp("engine") / "e.db")
    yield b
    b.close()


def _load_both(engine: Backend, server: Backend, metric: str = "COSINE", rows: list[dict[str, Any]] | None = None
               ) -> str:
    name = fresh()
    data = rows if rows is not None else _rows()
    for b in (engine, server):
        b.create_collection(name, SCHEMA, _indexes(metric))
        b.insert(name, data)
        b.flush(name)
        b.load(name)
    return name


def _same_hits(a: list[list[dict[str, Any]]], b: list[list[dict[str, Any]]], tol: float = 1e-4) -> None:
    assert len(a) == len(b)
    for pa, pb in zip(a, b):
        da, db = [h["distance"] for h in pa], [h["distance"] for h in pb]
        for x, y in zip(da, db):
            assert math.isclose(x, y, rel_tol=tol, abs_tol=tol), (da, db)
        # ties may order differently: compare ids where the distances are distinct
        ids_a = [h["id"] for h in pa if sum(math.isclose(h["distance"], d, abs_tol=tol) for d in da) == 1]
        ids_b = [h["id"] for h in pb if sum(math.isclose(h["distance"], d, abs_tol=tol) for d in db) == 1]
        assert ids_a == ids_b


# --- capabilities ---------------------------------------------------------------------------------
def test_the_server_reports_its_capabilities(server: MilvusBackend) -> None:
    caps = server.capabilities
    assert caps.kind == "milvus" and caps.server_version
    assert caps.supports("segments") and caps.supports("index_progress") and caps.supports("binary_vectors")
    if not caps.supports("struct_arrays"):
        assert "2.6.4" in (caps.why_not("struct_arrays") or "") or "probe" in (caps.why_not("struct_arrays") or "")
    assert not caps.supports("recall_check") and "Milvus" in (caps.why_not("recall_check") or "")


def test_struct_arrays_refused_with_the_reason(server: MilvusBackend) -> None:
    if server.capabilities.supports("struct_arrays"):
        pytest.skip(f"{server.capabilities.describe()} has Array of Structs")
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 2}},
                         {"name": "pages", "type": ARRAY, "element_type": STRUCT, "params": {"max_capacity": 4},
                          "struct_fields": [{"name": "e", "type": FLOAT_VECTOR, "params": {"dim": 2}}]}]}
    with pytest.raises(CapabilityError, match="pages"):
        server.create_collection(fresh(), schema)


# --- the same answers as the engine ------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_flat_search_matches_the_engine(engine: EmbeddedBackend, server: MilvusBackend, metric: str) -> None:
    name = _load_both(engine, server, metric)
    q = np.random.default_rng(5).standard_normal((4, DIM)).astype(np.float32).tolist()
    for flt in ("", "n > 40", "label in ['apple', 'cherry']"):
        e = engine.search(name, q, anns_field="vec", limit=10, filter=flt, output_fields=["label"])
        s = server.search(name, q, anns_field="vec", limit=10, filter=flt, output_fields=["label"])
        _same_hits(e, s)
        assert [[h["entity"] for h in p] for p in e][0][:3] == [[h["entity"] for h in p] for p in s][0][:3]


def test_hybrid_search_matches_the_engine(engine: EmbeddedBackend, server: MilvusBackend) -> None:
    name = fresh()
    rng = np.random.default_rng(9)
    rows = [dict(r, vec2=rng.standard_normal(DIM).astype(np.float32).tolist()) for r in _rows()]
    reqs = [AnnRequest(data=rng.standard_normal((2, DIM)).astype(np.float32).tolist(), anns_field="vec", limit=20),
            AnnRequest(data=rng.standard_normal((2, DIM)).astype(np.float32).tolist(), anns_field="vec2", limit=20,
                       filter="n < 60")]
    if not server.capabilities.supports("multi_vector"):
        with pytest.raises(CapabilityError, match="one vector field"):
            server.create_collection(name, SCHEMA2, INDEXES2)
        assert not server.has_collection(name)
        with pytest.raises(CapabilityError, match="hybrid"):
            server.hybrid_search(name, reqs, Ranker())
        return
    for b in (engine, server):
        b.create_collection(name, SCHEMA2, INDEXES2)
        b.insert(name, rows)
        b.flush(name)
        b.load(name)
    for ranker in (Ranker("rrf", k=60), Ranker("weighted", weights=(0.7, 0.3))):
        e = engine.hybrid_search(name, reqs, ranker, limit=8)
        s = server.hybrid_search(name, reqs, ranker, limit=8)
        _same_hits(e, s, tol=1e-3)


@pytest.fixture(scope="module")
def dataset(engine: EmbeddedBackend, server: MilvusBackend) -> str:
    return _load_both(engine, server)


@pytest.mark.parametrize("expr", FILTERS)
def test_query_matches_the_engine(engine: EmbeddedBackend, server: MilvusBackend, dataset: str, expr: str) -> None:
    name = dataset
    out = ["pk", "label", "n", "meta", "tags"]
    e = sorted(engine.query(name, expr, output_fields=out), key=lambda r: r["pk"])
    s = sorted(server.query(name, expr, output_fields=out), key=lambda r: r["pk"])
    assert e, f"{expr!r} selects nothing: a useless test"
    assert [{k: r[k] for k in out} for r in e] == [{k: r[k] for k in out} for r in s]


def test_counts_after_deletes_and_upserts_match(engine: EmbeddedBackend, server: MilvusBackend) -> None:
    name = _load_both(engine, server)
    for b in (engine, server):
        b.delete(name, ids=list(range(0, 40)))
        b.delete(name, filter="label == 'banana'")
        b.upsert(name, [dict(r, pk=r["pk"] + 1000, n=1) for r in _rows(30, seed=3)])
        b.upsert(name, [dict(r, n=2) for r in _rows(60, seed=4)[45:60]])
    for flt in ("", "n == 1", "n == 2", "label == 'banana'", "pk >= 1000"):
        assert engine.count(name, flt) == server.count(name, flt), flt
    live = {i for i in range(40, N) if WORDS[i % 5] != "banana"} | set(range(1000, 1030)) | set(range(45, 60))
    assert engine.count(name) == len(live)  # the oracle: deletes, then upserts of new and of deleted keys
    pks = [1, 2, 46, 47, 1005]
    assert sorted(r["pk"] for r in engine.get(name, pks)) == sorted(r["pk"] for r in server.get(name, pks))


def test_duplicate_insert_is_what_the_capabilities_say(engine: EmbeddedBackend, server: MilvusBackend) -> None:
    """Milvus keeps both rows of a primary key inserted twice (count(*) counts both; query and search may
    answer with either), which is why ingestion and copies upsert. The engine keeps the new row only."""
    name = fresh()
    rows = _rows(3)
    for b in (engine, server):
        b.create_collection(name, SCHEMA, _indexes())
        b.insert(name, rows)
    server.insert(name, [dict(rows[0], n=99)])
    assert server.capabilities.duplicate_pk_insert == "keeps both"
    assert server.count(name) == 4
    engine.insert(name, [dict(rows[0], n=99)])
    assert engine.capabilities.duplicate_pk_insert == "replaces" and engine.count(name) == 3


# --- administration ------------------------------------------------------------------------------------
def test_index_progress_segments_and_administration(server: MilvusBackend) -> None:
    name, new = fresh(), fresh()
    server.create_collection(name, SCHEMA, _indexes())
    server.insert(name, _rows())
    server.flush(name)
    segs = server.segments(name)
    assert sum(s.num_rows for s in segs) == N and all(s.state for s in segs)
    server.drop_index(name, "vec")
    assert server.list_indexes(name) == []
    assert not server.is_loaded(name)  # Milvus needs a release to drop an index
    events = list(server.create_index_iter(name, [{"field_name": "vec", "index_type": "HNSW", "metric_type": "L2",
                                                   "params": {"M": 8, "efConstruction": 64}}]))
    assert events[-1].indexed_rows == N and events[-1].total == N
    info = {i.field_name: i for i in server.list_indexes(name)}
    assert info["vec"].index_type == "HNSW" and info["vec"].indexed_rows == N
    assert server.is_loaded(name)  # loaded again once every vector field has an index
    server.create_partition(name, "extra")
    server.insert(name, [dict(r, pk=r["pk"] + 5000) for r in _rows(5)], partition="extra")
    assert server.count(name, partitions=["extra"]) == 5
    server.drop_partition(name, "extra")
    assert "extra" not in server.list_partitions(name)
    server.load(name)
    server.delete(name, ids=list(range(50)))
    assert server.compact(name).state.endswith("Completed")
    server.rename_collection(name, new)
    assert server.count(new) == N - 50 and not server.has_collection(name)
    with pytest.raises(CapabilityError, match="Milvus"):
        server.memory_usage(new)


# --- moving data -----------------------------------------------------------------------------------------
def test_copy_engine_to_server_and_back_verified(engine: EmbeddedBackend, server: MilvusBackend,
                                                 tmp_path: Path) -> None:
    name = fresh("copy")
    engine.create_collection(name, SCHEMA, _indexes())
    engine.create_partition(name, "p2")
    engine.insert(name, _rows(200))
    engine.insert(name, [dict(r, pk=r["pk"] + 10_000) for r in _rows(25, seed=7)], partition="p2")
    there = run(copy_collection(engine, server, name, batch_size=64, verify="full"))
    assert there.verification is not None and there.verification.ok, there.summary()
    assert server.count(name) == 225 and server.count(name, partitions=["p2"]) == 25
    back = EmbeddedBackend(tmp_path / "back.db")
    try:
        again = run(copy_collection(server, back, name, batch_size=100, verify="full"))
        assert again.verification is not None and again.verification.ok, again.summary()
        a = sorted(engine.query(name, "pk >= 0", output_fields=["*"]), key=lambda r: r["pk"])
        b = sorted(back.query(name, "pk >= 0", output_fields=["*"]), key=lambda r: r["pk"])
        assert [r["pk"] for r in a] == [r["pk"] for r in b]
        for x, y in zip(a, b):
            assert np.allclose(x["vec"], y["vec"], atol=1e-6) and x["meta"] == y["meta"] and x["tags"] == y["tags"]
            assert x.get("color") == y.get("color")
    finally:
        back.close()


def test_export_from_the_server_and_import_into_the_engine(server: MilvusBackend, tmp_path: Path) -> None:
    name = fresh("exp")
    server.create_collection(name, SCHEMA, _indexes())
    server.insert(name, _rows(120))
    with pytest.raises(CapabilityError):
        export_to_file(server, name, tmp_path / "parts", layout="segments")
    export_to_file(server, name, tmp_path / "parts", layout="split", rows_per_file=50)
    assert len(list((tmp_path / "parts").glob("*.parquet"))) == 3
    target = EmbeddedBackend(tmp_path / "imp.db")
    try:
        run(import_collection(target, tmp_path / "parts", name))
        assert target.count(name) == 120
        got = target.get(name, [7], output_fields=["label", "meta", "tags", "color"])[0]
        want = _rows(120)[7]
        assert {k: got[k] for k in ("label", "meta", "tags", "color")} == {k: want[k] for k in
                                                                             ("label", "meta", "tags", "color")}
    finally:
        target.close()


# --- the command line on the server ------------------------------------------------------------------------
def test_cli_ingest_search_and_copy_on_the_server(milvus_server: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench ingest/search/stats/copy --db http://…` against the server, as a user types them."""
    import json

    from click.testing import CliRunner
    from ingest_fixtures import gradient, make_pdf, tiny_checkpoint_file

    from workbench.cli import cli

    if os.environ.get("WORKBENCH_MILVUS_TOKEN"):
        pytest.skip("this test passes the server to the CLI as --db URI, without a token; the library tests "
                    "above cover an authenticated server")
    monkeypatch.setenv("WORKBENCH_WORKSPACES", str(tmp_path / "workspaces"))

    def cli_run(*args: str) -> tuple[int, str, str]:
        r = CliRunner().invoke(cli, list(args))
        return r.exit_code, r.stdout, r.stderr

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        gradient(120, 90, seed=i).save(photos / f"p{i}.png")
    coll = fresh("photos")
    code, out, err = cli_run("ingest", str(photos), "--db", milvus_server, "-c", coll, "--checkpoint",
                             str(tiny_checkpoint_file()), "--device", "cpu", "-q")
    assert code == 0 and "new 4" in out, out + err
    code, out, err = cli_run("search", "--db", milvus_server, "-c", coll, "--image", str(photos / "p2.png"),
                             "--json", "-k", "2")
    assert code == 0, err
    hits = json.loads(out)
    assert hits[0]["file_name"] == "p2.png" and hits[0]["score"] > 0.999 and Path(hits[0]["thumbnail"]).is_file()
    assert str(tmp_path / "workspaces") in hits[0]["thumbnail"]  # the server's workspace, not the user's folder
    code, out, _ = cli_run("stats", coll, "--db", milvus_server, "--json")
    assert code == 0 and json.loads(out)["rows"] == 4

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "a.pdf", ["page one"])
    code, _, err = cli_run("ingest", str(docs), "--db", milvus_server, "-c", fresh("pdfs"), "--checkpoint",
                           str(tiny_checkpoint_file()), "-q")
    if not _server_has_structs(milvus_server):
        assert code == 1 and "Array of Structs" in err

    local = tmp_path / "local.db"
    code, out, err = cli_run("copy", coll, "--from", milvus_server, "--to", str(local), "--verify", "full")
    assert code == 0 and "verified" in out, err
    code, out, _ = cli_run("search", "--db", str(local), "-c", coll, "--image", str(photos / "p1.png"), "--json",
                           "-k", "1")
    assert code == 0 and json.loads(out)[0]["file_name"] == "p1.png"  # the copy is searchable straight away


def _server_has_structs(uri: str) -> bool:
    b = open_backend(BackendSpec(kind="milvus", uri=uri, probe=True))
    try:
        return b.capabilities.supports("struct_arrays")
    finally:
        b.close()


def test_copy_nullable_fields_to_a_server_without_them(engine: EmbeddedBackend, server: MilvusBackend) -> None:
    """A collection with nullable VARCHAR fields (the images template's EXIF date and camera) copies to a
    Milvus before 2.5 as plain VARCHAR fields holding "" for null, and the verification agrees; other nullable
    types are refused (or left out on request)."""
    if server.capabilities.supports("nullable_fields"):
        pytest.skip(f"{server.capabilities.describe()} has nullable fields: nothing to map")
    name = fresh("null")
    schema = {"fields": [{"name": "id", "type": INT64, "is_primary": True},
                         {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 4}},
                         {"name": "camera", "type": VARCHAR, "params": {"max_length": 32}, "nullable": True},
                         {"name": "n", "type": INT32, "default_value": 7}]}
    engine.create_collection(name, schema, [{"field_name": "v", "index_type": "FLAT", "metric_type": "L2"}])
    engine.insert(name, [{"id": i, "v": [float(i), 1.0, 0.0, 0.5], "camera": None if i % 2 else f"cam{i}"}
                         for i in range(40)])
    report = run(copy_collection(engine, server, name, verify="full"))
    assert report.verification is not None and report.verification.ok, report.summary()
    assert report.plan is not None and report.plan.blanked == ["camera"]
    assert any("stored as" in n for n in report.notes) and any("default value" in n for n in report.notes)
    got = {r["id"]: r for r in server.query(name, "id < 4", output_fields=["camera", "n"])}
    assert got[0]["camera"] == "cam0" and got[1]["camera"] == "" and got[1]["n"] == 7

    other = fresh("nullint")
    engine.create_collection(other, {"fields": [*schema["fields"][:2], {"name": "k", "type": INT32,
                                                                        "nullable": True}]},
                             [{"field_name": "v", "index_type": "FLAT", "metric_type": "L2"}])
    engine.insert(other, [{"id": 1, "v": [1.0, 0.0, 0.0, 0.0], "k": None}])
    with pytest.raises(CapabilityError, match="k"):
        run(copy_collection(engine, server, other))
    assert not server.has_collection(other)


def test_replace_is_verified_before_the_swap_on_the_server(engine: EmbeddedBackend, server: MilvusBackend,
                                                            tmp_path: Path) -> None:
    """A damaged line and a cancelled copy leave the server's collection as it was; a good replace import
    swaps it by renames (no temporary or backup collection left), loaded and searchable, aliases kept."""
    from workbench.transfer import CancelToken, TransferError

    src, name = fresh("rsrc"), fresh("rep")
    engine.create_collection(src, SCHEMA, _indexes())
    engine.insert(src, _rows(300, seed=3))
    export_to_file(engine, src, tmp_path / "rows.jsonl")
    server.create_collection(name, SCHEMA, _indexes())
    server.insert(name, _rows(50))
    server.flush(name)
    server.client.create_alias(name, f"{name}_alias")

    def leftovers() -> list[str]:
        return [n for n in server.list_collections() if n.startswith(name + "__")]

    lines = (tmp_path / "rows.jsonl").read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines[:149]) + "{damaged\n" + "".join(lines[150:]))
    bad.with_name("bad.jsonl.schema.json").write_text((tmp_path / "rows.jsonl.schema.json").read_text())
    with pytest.raises(TransferError) as err:
        run(import_collection(server, bad, name, mode="replace", batch_size=100))
    assert server.count(name) == 50 and leftovers() == []
    assert "bad.jsonl:150: " in str(err.value) and f"'{name}' was left as it was" in str(err.value)

    report = run(import_collection(server, tmp_path / "rows.jsonl", name, mode="replace", batch_size=100))
    assert report.ok and report.verification is not None and report.verification.checked == 256, report.summary()
    assert server.count(name) == 300 and leftovers() == [] and server.is_loaded(name)
    assert server.count(f"{name}_alias") == 300  # the alias follows the name
    hits = server.search(name, [_rows(300, seed=3)[7]["vec"]], anns_field="vec", limit=1)
    assert hits[0][0]["id"] == 7

    token = CancelToken()
    for ev in copy_collection(engine, server, src, target_name=name, if_exists="replace", batch_size=100,
                              cancel=token):
        if ev.phase == "copying":
            token.cancel()
    assert ev.report is not None and ev.report.cancelled
    assert server.count(name) == 300 and leftovers() == []
