"""Near duplicates, clusters, marks, uniqueness and diversity on synthetic vectors inserted directly.

The vectors are embedding-like rows with planted groups of near-copies; every claim is checked against
an exact numpy oracle (all pairs at or above the threshold, connected components of them).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import embedding_like
from workbench.backends import FLOAT_VECTOR, INT64, VARCHAR, Backend, EmbeddedBackend
from workbench.diversity import farthest_points, most_diverse, uniqueness_scan
from workbench.duplicate_marks import check_marks, delete_rows, mark_target, marked_rows, write_marks
from workbench.duplicates import DisjointSets, DuplicateScan, exact_scan, near_scan, run
from workbench.near_join import _batched, entity_similarity
from workbench.settings import CollectionError, InputError

DIM = 32


def planted(n: int, groups: list[int], seed: int, noise: float = 0.012) -> tuple[np.ndarray, list[set[int]]]:
    """`n` embedding-like rows, then for each group size g, g-1 near-copies of a random row."""
    rng = np.random.default_rng(seed)
    base = embedding_like(n, DIM, seed=seed)
    rows, truth = [base], []
    nxt = n
    for g, src in zip(groups, rng.choice(n, len(groups), replace=False)):
        copies = base[src] + rng.normal(0, noise, (g - 1, DIM)).astype(np.float32)
        copies /= np.linalg.norm(copies, axis=1, keepdims=True)
        rows.append(copies)
        truth.append({int(src), *range(nxt, nxt + g - 1)})
        nxt += g - 1
    return np.vstack(rows).astype(np.float32), truth


def oracle_clusters(vecs: np.ndarray, threshold: float) -> list[set[int]]:
    sims = vecs @ vecs.T
    sets = DisjointSets()
    for i, j in zip(*np.nonzero(np.triu(sims >= threshold, 1))):
        sets.union(int(i), int(j))
    return [set(g) for g in sets.groups()]


def make(backend: Backend, name: str, vecs: np.ndarray, index: str = "HNSW", dynamic: bool = False,
         mark_field: bool = True) -> None:
    fields: list[dict[str, Any]] = [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "path", "type": VARCHAR, "params": {"max_length": 64}},
        {"name": "bytes", "type": INT64},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": DIM}},
    ]
    if mark_field:
        fields.append({"name": "duplicate_of", "type": VARCHAR, "params": {"max_length": 128}, "nullable": True})
    backend.create_collection(name, {"enable_dynamic_field": dynamic, "fields": fields},
                              [{"field_name": "v", "index_type": index, "metric_type": "COSINE"}])
    backend.insert(name, [{"id": i, "path": f"/p/{i}.jpg", "bytes": 1000 + i, "v": vecs[i].tolist()}
                          for i in range(len(vecs))])
    backend.flush(name)


@pytest.fixture
def emb(tmp_path: Path) -> Any:
    b = EmbeddedBackend(tmp_path / "d.db")
    yield b
    b.close()


def as_sets(clusters: Any) -> list[set[Any]]:
    return sorted((set(c.members) for c in clusters), key=min)


def test_near_clusters_equal_the_exact_oracle(emb: EmbeddedBackend) -> None:
    vecs, truth = planted(1500, [2, 2, 3, 4, 5, 2, 3], seed=3)
    make(emb, "c", vecs)
    events: list[Any] = []
    scan = run(near_scan(emb, "c", threshold=0.95, k=6), events.append)
    assert events and events[0].phase == "searching" and events[-1].done == events[-1].total
    got = as_sets(scan.clusters())
    want = sorted(oracle_clusters(vecs, 0.95), key=min)
    assert got == want  # exact on this data: every planted group, nothing else
    assert all(t in got for t in truth)
    # the slider: a stricter threshold, from the stored pairs, equals the oracle at that threshold
    assert as_sets(scan.clusters(0.985)) == sorted(oracle_clusters(vecs, 0.985), key=min)
    n_clusters, to_mark = scan.count_at(0.95)
    assert n_clusters == len(want) and to_mark == sum(len(g) - 1 for g in want)
    for t in (0.95, 0.96, 0.975, 0.985, 0.99, 0.995, 1.0):  # the slider's curve equals a union-find at each t
        cl = scan.clusters(t)
        assert scan.count_at(t) == (len(cl), sum(len(c.members) - 1 for c in cl))
    with pytest.raises(InputError, match="looser"):
        scan.clusters(0.9)
    # the one to keep comes first: the largest file (bytes grow with the id)
    assert all(c.keep == max(c.members) for c in scan.clusters())
    edges, counts = scan.histogram(20)
    assert sum(counts) == len(vecs) and len(edges) == 21
    nn = (vecs @ vecs.T - 2 * np.eye(len(vecs))).max(axis=1)
    assert np.allclose(sorted(s for _, s in scan.nearest.values()), np.sort(nn), atol=1e-4)
    assert scan.info[max(truth[0])]["path"] == f"/p/{max(truth[0])}.jpg"


def test_batched_client_join_equals_the_engine_join(emb: EmbeddedBackend) -> None:
    vecs, _ = planted(800, [2, 3, 4], seed=5)
    make(emb, "c", vecs, index="FLAT")
    engine = list(emb.find_duplicates("c", "v", 0.95, k=4))[-1]
    client = list(_batched(emb, "c", "v", 0.95, 4, "", 100))[-1]  # the path a Milvus server takes
    assert [(a, b) for a, b, _ in client["pairs"]] == [(a, b) for a, b, _ in engine["pairs"]]
    assert np.allclose([s for *_, s in client["pairs"]], [s for *_, s in engine["pairs"]], atol=1e-5)
    assert {k: v[0] for k, v in client["nearest"].items()} == {k: v[0] for k, v in engine["nearest"].items()}


def test_near_scan_on_milvus_lite_by_batched_searches(lite: Backend) -> None:
    vecs, truth = planted(400, [2, 3], seed=6)
    make(lite, "dups", vecs, index="FLAT")
    scan = run(near_scan(lite, "dups", threshold=0.95, k=4))
    assert as_sets(scan.clusters()) == sorted(oracle_clusters(vecs, 0.95), key=min)
    assert "batched searches" in scan.notes[0]
    lite.drop_collection("dups")


def test_max_sim_field_compares_whole_entities(emb: EmbeddedBackend) -> None:
    from workbench.backends import ARRAY, STRUCT

    rng = np.random.default_rng(9)
    lists = [embedding_like(int(rng.integers(2, 6)), DIM, seed=200 + i) for i in range(80)]
    lists.append(lists[4][::-1].copy())  # 80: entity 4's views in another order
    lists.append(np.vstack([lists[9], lists[9][:1]]))  # 81: entity 9's views and one of them again
    emb.create_collection("p", {"fields": [
        {"name": "id", "type": INT64, "is_primary": True},
        {"name": "views", "type": ARRAY, "element_type": STRUCT, "params": {"max_capacity": 8},
         "struct_fields": [{"name": "e", "type": FLOAT_VECTOR, "params": {"dim": DIM}}]}]},
        [{"field_name": "views[e]", "index_type": "HNSW", "metric_type": "MAX_SIM_COSINE"}])
    emb.insert("p", [{"id": i, "views": [{"e": v.tolist()} for v in vs]} for i, vs in enumerate(lists)])
    scan = run(near_scan(emb, "p", field="views[e]", threshold=0.97, k=4))
    oracle = {(i, j) for i, j in itertools.combinations(range(len(lists)), 2)
              if entity_similarity(lists[i], lists[j], "MAX_SIM_COSINE") >= 0.97}
    assert {(a, b) for a, b, _ in scan.pairs} == oracle == {(4, 80), (9, 81)}
    assert all(s == pytest.approx(1.0, abs=1e-5) for *_, s in scan.pairs)  # per element: 1.0 for the same views
    assert all(s <= 1.0 + 1e-5 for _, s in scan.nearest.values())  # not the MAX_SIM sum (up to 5)


def test_exact_scan_groups_equal_sha256(emb: EmbeddedBackend) -> None:
    emb.create_collection("f", {"fields": [
        {"name": "id", "type": VARCHAR, "params": {"max_length": 32}, "is_primary": True},
        {"name": "sha256", "type": VARCHAR, "params": {"max_length": 64}},
        {"name": "v", "type": FLOAT_VECTOR, "params": {"dim": 2}}]},
        [{"field_name": "v", "index_type": "FLAT", "metric_type": "COSINE"}])
    shas = ["a", "b", "a", "c", "b", "a", "d"]
    emb.insert("f", [{"id": f"r{i}", "sha256": s, "v": [1.0, float(i)]} for i, s in enumerate(shas)])
    scan = run(exact_scan(emb, "f"))
    assert as_sets(scan.clusters()) == [{"r0", "r2", "r5"}, {"r1", "r4"}]
    assert scan.marks() == {"r2": "r0", "r5": "r0", "r4": "r1"}
    make(emb, "nosha", embedding_like(5, DIM))
    with pytest.raises(CollectionError, match="no sha256 field"):
        run(exact_scan(emb, "nosha"))
    with pytest.raises(InputError, match="no vector field 'nope'.*v"):
        run(near_scan(emb, "f", field="nope"))
    with pytest.raises(CollectionError, match="no collection 'missing'"):
        run(exact_scan(emb, "missing"))


def test_marks_keep_every_other_value_and_filters_use_them(emb: EmbeddedBackend) -> None:
    vecs, truth = planted(300, [3, 2], seed=7)
    make(emb, "c", vecs)
    scan = run(near_scan(emb, "c", threshold=0.95))
    marks = scan.marks()
    assert set(marks) == {m for g in truth for m in g} - {c.keep for c in scan.clusters()}
    before = {r["id"]: r for r in emb.get("c", list(range(len(vecs))), output_fields=["*"])}
    report = run(write_marks(emb, "c", marks, batch_size=2))
    assert report.marked == len(marks) and report.where == "field" and not report.gone
    after = {r["id"]: r for r in emb.get("c", list(range(len(vecs))), output_fields=["*"])}
    for pk, row in after.items():
        assert row.pop("duplicate_of") == (str(marks[pk]) if pk in marks else None)
        old = dict(before[pk])
        old.pop("duplicate_of")
        assert row == old  # vectors and every scalar as they were
    got = {r["id"] for r in emb.query("c", 'duplicate_of != ""', output_fields=["id"])}
    assert got == set(marks) and marked_rows(emb, "c") == {k: str(v) for k, v in marks.items()}
    assert emb.count("c", "duplicate_of is null") == len(vecs) - len(marks)
    run(write_marks(emb, "c", dict.fromkeys(marks)))  # clear
    assert marked_rows(emb, "c") == {}
    assert delete_rows(emb, "c", sorted(marks)) == len(marks)
    assert emb.count("c") == len(vecs) - len(marks)


def test_marks_go_to_a_dynamic_field_or_are_refused_with_the_reason(emb: EmbeddedBackend) -> None:
    vecs, _ = planted(50, [2], seed=8)
    make(emb, "dyn", vecs, dynamic=True, mark_field=False)
    report = run(write_marks(emb, "dyn", {50: 1, 12345: 1}))
    assert report.where == "dynamic field" and report.marked == 1 and report.gone == [12345]
    assert emb.query("dyn", 'duplicate_of == "1"', output_fields=["id"]) == [{"id": 50}]
    make(emb, "plain", vecs, mark_field=False)
    with pytest.raises(CollectionError, match="no 'duplicate_of' field and no dynamic field.*cannot add a field"):
        mark_target(emb, "plain")
    for bad, why in (({1: 1}, "itself"), ({1: 2, 2: 3}, "marked itself")):
        with pytest.raises(InputError, match=why):
            check_marks(bad)


def test_uniqueness_is_the_distance_to_the_nearest_neighbour(emb: EmbeddedBackend) -> None:
    vecs, truth = planted(400, [2, 3], seed=11)
    make(emb, "c", vecs, index="FLAT")
    u = run(uniqueness_scan(emb, "c"))
    sims = vecs @ vecs.T - 2 * np.eye(len(vecs))
    want = {i: 1.0 - float(sims[i].max()) for i in range(len(vecs))}
    assert len(u.scores) == len(vecs)
    assert all(abs(s - want[pk]) < 1e-4 and nn == int(sims[pk].argmax()) for pk, s, nn in u.scores)
    assert [s for _, s, _ in u.scores] == sorted((s for _, s, _ in u.scores), reverse=True)
    planted_rows = {m for g in truth for m in g}
    assert {pk for pk, _, _ in u.scores[-len(planted_rows):]} == planted_rows  # the least unique


def naive_fps(x: np.ndarray, n: int) -> list[int]:
    """Greedy farthest-point selection written the slow, obvious way (the oracle)."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    m = x.mean(axis=0)
    m /= np.linalg.norm(m)
    picks = [max(range(len(x)), key=lambda i: 1 - float(x[i] @ m))]
    while len(picks) < n:
        picks.append(max((i for i in range(len(x)) if i not in picks),
                         key=lambda i: min(1 - float(x[i] @ x[p]) for p in picks)))
    return picks


def test_farthest_points_equal_the_naive_oracle_and_cover_the_clusters(emb: EmbeddedBackend) -> None:
    x = embedding_like(300, 16, seed=4)
    assert [i for i, _ in farthest_points(x, 12)] == naive_fps(x, 12)
    radii = [d for _, d in farthest_points(x, 40)][1:]
    assert all(a >= b - 1e-6 for a, b in zip(radii, radii[1:]))  # the covering radius never grows
    # eight tight clusters: the first eight picks take one from each
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.standard_normal((DIM, 8)))[0].T
    pts = np.repeat(centres, 40, axis=0) + rng.normal(0, 0.03, (320, DIM))
    pts = (pts / np.linalg.norm(pts, axis=1, keepdims=True)).astype(np.float32)
    make(emb, "k8", pts)
    sel = run(most_diverse(emb, "k8", 8))
    assert sorted(pk // 40 for pk, _ in sel.picks) == list(range(8)) and not sel.notes
    approx = run(most_diverse(emb, "k8", 8, sample=100, seed=1))
    assert approx.rows_considered == 100 and approx.rows_total == 320 and "approximate" in approx.notes[0]
    with pytest.raises(InputError, match="at least 1"):
        run(most_diverse(emb, "k8", 0))


def test_scan_results_serialise(emb: EmbeddedBackend) -> None:
    vecs, _ = planted(100, [3], seed=12)
    make(emb, "c", vecs)
    scan = run(near_scan(emb, "c", threshold=0.95))
    d = scan.to_dict(0.96)
    assert d["mode"] == "near" and d["metric"] == "COSINE" and d["threshold"] == 0.96
    assert d["clusters"][0]["members"][0]["id"] == d["clusters"][0]["keep"]
    assert all(p[2] >= 0.96 for p in d["pairs"])
    assert isinstance(scan, DuplicateScan)
