"""workbench.search_modes on the engine and on Milvus Lite: range search mapped per metric (radius and
range_filter), grouping, hybrid fusion, and what each backend refuses (Milvus before 2.4 and hybrid grouping
on the engine), checked against exact results computed here with numpy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workbench.backends import (
    FLOAT_VECTOR,
    INT64,
    VARCHAR,
    Backend,
    CapabilityError,
    EmbeddedBackend,
    Grouping,
    milvus_capabilities,
)
from workbench.search_modes import (
    FLOAT32_MAX,
    Fusion,
    QueryPart,
    ScoreRange,
    SearchModes,
    check_modes,
    describe_range,
    range_params,
    run_parts,
)
from workbench.settings import InputError
from workbench.templates import existing_fields

N, DIM = 60, 8
SCHEMA: dict[str, Any] = {"fields": [
    {"name": "pk", "type": INT64, "is_primary": True},
    {"name": "tag", "type": VARCHAR, "params": {"max_length": 8}},
    {"name": "l2", "type": FLOAT_VECTOR, "params": {"dim": DIM}},
    {"name": "ip", "type": FLOAT_VECTOR, "params": {"dim": DIM}},
    {"name": "cos", "type": FLOAT_VECTOR, "params": {"dim": DIM}},
]}
INDEXES = [{"field_name": "l2", "index_type": "FLAT", "metric_type": "L2"},
           {"field_name": "ip", "index_type": "FLAT", "metric_type": "IP"},
           {"field_name": "cos", "index_type": "FLAT", "metric_type": "COSINE"}]
RNG = np.random.default_rng(7)
VECS = {f: RNG.standard_normal((N, DIM)).astype(np.float32) for f in ("l2", "ip", "cos")}
TAGS = [f"t{i % 5}" for i in range(N)]
Q = RNG.standard_normal(DIM).astype(np.float32)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(tmp_path / "e.db")
    yield b
    b.close()


@pytest.fixture(params=["embedded", "milvus_lite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    b: Backend = request.getfixturevalue("embedded" if request.param == "embedded" else "lite")
    if b.has_collection("m"):
        b.drop_collection("m")
    b.create_collection("m", SCHEMA, INDEXES)
    b.insert("m", [{"pk": i, "tag": TAGS[i], **{f: VECS[f][i].tolist() for f in VECS}} for i in range(N)])
    b.flush("m")
    return b


def exact(field: str) -> np.ndarray:
    x = VECS[field]
    if field == "l2":
        return ((x - Q) ** 2).sum(axis=1)
    if field == "ip":
        return x @ Q
    return (x @ Q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(Q))


def part(field: str, metric: str, label: str = "q", vec: np.ndarray = Q) -> QueryPart:
    return QueryPart(label, vec, field, metric)


def test_range_params_follow_the_metric() -> None:
    assert range_params("COSINE", ScoreRange(0.2, 0.9)) == {"radius": 0.2, "range_filter": 0.9}
    assert range_params("IP", ScoreRange(0.5, None)) == {"radius": 0.5}
    assert range_params("COSINE", ScoreRange(None, 0.9)) == {"radius": -1.0, "range_filter": 0.9}
    assert range_params("IP", ScoreRange(None, 3.0)) == {"radius": -FLOAT32_MAX, "range_filter": 3.0}
    assert range_params("L2", ScoreRange(0.1, 0.5)) == {"radius": 0.5, "range_filter": 0.1}
    assert range_params("L2", ScoreRange(0.1, None)) == {"radius": FLOAT32_MAX, "range_filter": 0.1}
    assert range_params("L2", ScoreRange(None, 0.5)) == {"radius": 0.5}
    assert range_params("COSINE", ScoreRange()) == {} and range_params("COSINE", None) == {}
    with pytest.raises(InputError, match="must be less than the maximum"):
        range_params("L2", ScoreRange(0.5, 0.5))
    with pytest.raises(InputError, match="never negative"):
        range_params("L2", ScoreRange(-1, 2))
    assert "larger is closer" in describe_range("COSINE") and "0.2 < score ≤ 0.9" in describe_range(
        "COSINE", ScoreRange(0.2, 0.9))
    assert "smaller is closer" in describe_range("L2") and "0.1 ≤ distance < 0.5" in describe_range(
        "L2", ScoreRange(0.1, 0.5))


@pytest.mark.parametrize("field, metric", [("l2", "L2"), ("ip", "IP"), ("cos", "COSINE")])
def test_range_search_keeps_exactly_the_scores_inside(backend: Backend, field: str, metric: str) -> None:
    d = exact(field)
    s = np.sort(d)
    lo, hi = float(s[10] + s[11]) / 2, float(s[40] + s[41]) / 2
    modes = SearchModes(score_range=ScoreRange(lo, hi))
    got = run_parts(backend, "m", [part(field, metric)], limit=N, modes=modes)
    assert {h["id"] for h in got} == {i for i in range(N) if lo < d[i] < hi}
    assert len(got) == 30
    only_min = run_parts(backend, "m", [part(field, metric)], limit=N, modes=SearchModes(score_range=ScoreRange(lo)))
    assert {h["id"] for h in only_min} == {i for i in range(N) if d[i] > lo}
    only_max = run_parts(backend, "m", [part(field, metric)], limit=N,
                         modes=SearchModes(score_range=ScoreRange(None, hi)))
    assert {h["id"] for h in only_max} == {i for i in range(N) if d[i] < hi}


def test_grouping_gives_the_best_of_each_group(backend: Backend) -> None:
    d = exact("cos")
    got = run_parts(backend, "m", [part("cos", "COSINE")], limit=3, modes=SearchModes(group=Grouping("tag", 2)))
    order = sorted(range(N), key=lambda i: -d[i])
    groups: list[str] = []
    for i in order:
        if TAGS[i] not in groups:
            groups.append(TAGS[i])
    want = [i for g in groups[:3] for i in [j for j in order if TAGS[j] == g][:2]]
    assert [h["id"] for h in got] == want
    assert [h["entity"]["tag"] for h in got] == [TAGS[i] for i in want]


def test_hybrid_rrf_of_two_fields(backend: Backend) -> None:
    q2 = RNG.standard_normal(DIM).astype(np.float32)
    parts = [part("cos", "COSINE"), part("l2", "L2", "second", q2)]
    got = run_parts(backend, "m", parts, limit=5, modes=SearchModes(fusion=Fusion("rrf", 20)))
    rank_a = {int(i): r + 1 for r, i in enumerate(np.argsort(-exact("cos")))}
    rank_b = {int(i): r + 1 for r, i in enumerate(np.argsort(((VECS["l2"] - q2) ** 2).sum(axis=1)))}
    fetch = 20  # each request's list: max(2 * limit, 20)
    fused = {i: sum(1 / (20 + r[i]) for r in (rank_a, rank_b) if r[i] <= fetch) for i in range(N)}
    want = sorted(fused.values(), reverse=True)[:5]
    assert [h["distance"] for h in got] == pytest.approx(want, abs=1e-6)


def test_hybrid_grouping_is_refused_on_the_engine_and_runs_on_milvus_lite(backend: Backend) -> None:
    parts = [part("cos", "COSINE"), part("ip", "IP")]
    modes = SearchModes(group=Grouping("tag", 1))
    if backend.capabilities.kind == "embedded":
        with pytest.raises(CapabilityError, match="does not group hybrid search results"):
            run_parts(backend, "m", parts, limit=3, modes=modes)
        return
    got = run_parts(backend, "m", parts, limit=3, modes=modes)
    assert len(got) == 3 and len({h["entity"]["tag"] for h in got}) == 3


def stub(version: str) -> Any:
    return SimpleNamespace(capabilities=milvus_capabilities(version, lite=False), label=f"Milvus {version}")


def test_old_milvus_servers_refuse_with_the_reason(embedded: EmbeddedBackend) -> None:
    embedded.create_collection("m", SCHEMA, INDEXES)
    fields = existing_fields(embedded.describe_collection("m"))
    one, two = [part("cos", "COSINE")], [part("cos", "COSINE"), part("ip", "IP")]
    with pytest.raises(CapabilityError, match=r"grouping search \(it needs Milvus 2.4 or later\)"):
        check_modes(stub("2.3.5"), one, SearchModes(group=Grouping("tag")), fields)
    with pytest.raises(CapabilityError, match="hybrid search.*need Milvus 2.4 or later"):
        check_modes(stub("2.3.5"), two, SearchModes(), fields)
    with pytest.raises(CapabilityError, match="range search.*needs Milvus 2.3"):
        check_modes(stub("2.2.16"), one, SearchModes(score_range=ScoreRange(0.1)), fields)
    with pytest.raises(CapabilityError, match="needs Milvus 2.5 or later"):
        check_modes(stub("2.4.9"), two, SearchModes(group=Grouping("tag")), fields)
    check_modes(stub("2.3.5"), one, SearchModes(score_range=ScoreRange(0.1)), fields)
    check_modes(stub("2.4.9"), one, SearchModes(group=Grouping("tag", 3, True)), fields)
    check_modes(stub("2.5.0"), two, SearchModes(group=Grouping("tag")), fields)
