"""Repeat searches served by `HotSearches` (engine/client/hot_search.py) answer exactly as the full path.

Each test searches the same call shape again and again while something changes between the calls
(rows written by this or another process, deletes, a release, a drop, an alias, the current database,
index parameters, a damaged log), and compares every answer with the full path's (the undecorated
`search` of a second client) and with what the change must show. A counter checks that the hot path
really served the repeat calls, so these tests cannot pass by always falling back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import DataType, MilvusClient
from engine.client import hot_search
from engine.errors import MilvusException

DIM = 16
SP = {"metric_type": "COSINE", "params": {"ef": 64}}


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts of repeat calls served hot and sent to the full path."""
    counts = {"hot": 0, "full": 0}
    original = hot_search.HotSearches.search

    def counted(self: Any, *args: Any) -> Any:
        r = original(self, *args)
        counts["hot" if r is not None else "full"] += 1
        return r

    monkeypatch.setattr(hot_search.HotSearches, "search", counted)
    yield counts


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _make(path: Path, n: int = 600) -> tuple[MilvusClient, np.ndarray]:
    c = MilvusClient(str(path))
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 64})
    c.create_collection("c", schema=s, index_params=ip)
    x = _vectors(n)
    c.insert("c", [{"id": i, "vec": x[i]} for i in range(n)])
    c.flush("c")
    return c, x


def _ids(result: Any) -> list[list[Any]]:
    return [[(h["id"], h["distance"]) for h in page] for page in result]


def _full(client: MilvusClient, *args: Any, **kwargs: Any) -> Any:
    return MilvusClient.search.__wrapped__(client, *args, **kwargs)  # type: ignore[attr-defined]


def test_repeat_calls_are_served_hot_and_match_the_full_path(tmp_path: Path, served: dict[str, int]) -> None:
    c, x = _make(tmp_path / "db")
    other = MilvusClient(str(tmp_path / "db"))
    q = _vectors(30, seed=1)
    forms = [lambda v: [v], lambda v: [v.tolist()], lambda v: v, lambda v: v[None, :], lambda v: [v.astype(np.float64)]]
    for form in forms:
        for v in q:
            got = c.search("c", data=form(v), anns_field="vec", limit=7, search_params=SP)
            want = _full(other, "c", data=form(v), anns_field="vec", limit=7, search_params=SP)
            assert _ids(got) == _ids(want)
            assert got[0][0]["entity"] == {} and got[0][0].id == want[0][0].id
    assert served["hot"] >= 4 * 30  # the float64 form is converted by the full checks
    paged = c.search("c", data=[q[0]], anns_field="vec", limit=3, search_params={**SP, "offset": 2})
    paged = c.search("c", data=[q[0]], anns_field="vec", limit=3, search_params={**SP, "offset": 2})
    assert _ids(paged) == _ids(_full(other, "c", data=[q[0]], anns_field="vec", limit=3,
                                     search_params={**SP, "offset": 2}))
    rounded = [c.search("c", data=[q[1]], anns_field="vec", limit=3, search_params=SP, round_decimal=2)
               for _ in range(2)][-1]
    assert all(h["distance"] == round(h["distance"], 2) for h in rounded[0])


def test_bad_queries_get_the_full_paths_errors(tmp_path: Path, served: dict[str, int]) -> None:
    c, _ = _make(tmp_path / "db")
    good = _vectors(1, seed=2)[0]
    for _ in range(3):  # checked, then planned (and remembered), then hot
        c.search("c", data=[good], anns_field="vec", limit=5, search_params=SP)
    assert served["hot"] == 1
    for bad in ([np.full(DIM, np.nan, np.float32)], [[float("inf")] + [0.0] * (DIM - 1)], [[1e39] * DIM],
                [np.ones(DIM + 1, np.float32)], [[True] * DIM], [], None, [[0.5] * (DIM - 1)]):
        with pytest.raises(MilvusException) as hot_error:
            c.search("c", data=bad, anns_field="vec", limit=5, search_params=SP)
        with pytest.raises(MilvusException) as full_error:
            _full(MilvusClient(str(tmp_path / "db")), "c", data=bad, anns_field="vec", limit=5, search_params=SP)
        assert str(hot_error.value) == str(full_error.value)
    ok = c.search("c", data=[[0.5] * (DIM - 1) + [1]], anns_field="vec", limit=5, search_params={**SP})
    assert len(ok[0]) == 5  # ints among floats: the full checks accept them


def test_changes_of_this_process_are_seen(tmp_path: Path, served: dict[str, int]) -> None:
    c, x = _make(tmp_path / "db")
    q = x[5]

    def top() -> list[Any]:
        return [h["id"] for h in c.search("c", data=[q], anns_field="vec", limit=3, search_params=SP)[0]]

    assert top()[0] == 5 and top()[0] == 5 and top()[0] == 5
    hot_before = served["hot"]
    held = c._coll("c").snapshot  # as a search on another thread would: the old snapshot stays alive
    c.insert("c", [{"id": 10_000, "vec": q}])  # a growing row (no catalog commit): the same best distance
    assert 10_000 in top()
    del held
    c.flush("c")
    assert 10_000 in top() and 10_000 in top()
    c.delete("c", ids=[5, 10_000])
    assert 5 not in top() and 10_000 not in top()
    c.upsert("c", [{"id": 5, "vec": q}])
    c.flush("c")
    c.compact("c")
    assert top()[0] == 5 and top()[0] == 5
    c.release_collection("c")
    with pytest.raises(MilvusException, match="load|released"):
        top()
    c.load_collection("c")
    assert top()[0] == 5
    c.create_alias("c", "a")
    assert [h["id"] for h in c.search("a", data=[q], anns_field="vec", limit=1, search_params=SP)[0]] == [5]
    c.drop_alias("a")
    c.drop_collection("c")
    with pytest.raises(MilvusException, match="does not exist|alias"):
        top()
    assert hot_before >= 1 and served["full"] >= 8  # each change sent the next call to the full path


def test_an_index_rebuilt_with_other_parameters_is_used(tmp_path: Path, served: dict[str, int]) -> None:
    c, x = _make(tmp_path / "db")
    for _ in range(3):
        c.search("c", data=[x[1]], anns_field="vec", limit=3, search_params=SP)
    c.release_collection("c")
    c.drop_index("c", "vec")
    ip = MilvusClient.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 4, "efConstruction": 16})
    c.create_index("c", ip)
    c.load_collection("c")
    with pytest.raises(MilvusException, match="metric"):
        c.search("c", data=[x[1]], anns_field="vec", limit=3, search_params=SP)  # COSINE asked, L2 built
    l2 = {"params": {"ef": 64}}
    r = [c.search("c", data=[x[1]], anns_field="vec", limit=3, search_params=l2) for _ in range(3)][-1]
    assert r[0][0]["id"] == 1 and r[0][0]["distance"] == pytest.approx(0.0, abs=1e-6)


def test_current_database_and_close(tmp_path: Path, served: dict[str, int]) -> None:
    c, x = _make(tmp_path / "db")
    c.create_database("other")
    for _ in range(2):
        assert c.search("c", data=[x[2]], anns_field="vec", limit=1, search_params=SP)[0][0]["id"] == 2
    c.use_database("other")
    with pytest.raises(MilvusException, match="does not exist"):
        c.search("c", data=[x[2]], anns_field="vec", limit=1, search_params=SP)
    c.use_database("default")
    assert c.search("c", data=[x[2]], anns_field="vec", limit=1, search_params=SP)[0][0]["id"] == 2
    c.close()
    with pytest.raises(MilvusException, match="closed"):
        c.search("c", data=[x[2]], anns_field="vec", limit=1, search_params=SP)


def _child(db: Path, code: str) -> None:
    script = f"import numpy as np\nfrom engine import MilvusClient\nc = MilvusClient({str(db)!r})\n{code}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)


def test_writes_of_another_process_are_seen(tmp_path: Path, served: dict[str, int]) -> None:
    """Rows another process appends to the log change no catalog state: the log is read on every call."""
    db = tmp_path / "db"
    c, x = _make(db)
    q = _vectors(1, seed=9)[0]
    script = (f"import sys, numpy as np\nfrom engine import MilvusClient\nc = MilvusClient({str(db)!r})\n"
              f'c.insert("c", [{{"id": 50_000, "vec": np.ones({DIM}, np.float32)}}]); c.flush("c")\n'
              "print('ready', flush=True); sys.stdin.readline()\n"
              f'c.insert("c", [{{"id": 77_777, "vec": np.array({q.tolist()!r}, np.float32)}}])\n'
              "print('done', flush=True); sys.stdin.readline()\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writer = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env, text=True)
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        for _ in range(3):
            before = c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)
        assert before[0][0]["id"] not in (50_000, 77_777) and served["hot"] >= 1
        version = c._db.catalog.data_version()  # type: ignore[union-attr]
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"
        assert c._db.catalog.data_version() == version  # type: ignore[union-attr]  # only the log changed
        assert c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)[0][0]["id"] == 77_777
    finally:
        if writer.stdin is not None:
            writer.stdin.close()
        writer.wait(timeout=120)
    _child(db, 'c.delete("c", ids=[77_777]); c.flush("c")')
    for _ in range(3):
        assert c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)[0][0]["id"] != 77_777
    _child(db, 'c.alter_database_properties("default", {"database.force.deny.reading": "true"})')
    with pytest.raises(MilvusException, match="deny"):
        c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)
    _child(db, 'c.alter_database_properties("default", {"database.force.deny.reading": "false"})')
    for _ in range(3):
        c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)
    _child(db, 'c.release_collection("c")')
    with pytest.raises(MilvusException, match="load|released"):
        c.search("c", data=[q], anns_field="vec", limit=1, search_params=SP)


def test_entries_do_not_keep_released_graphs(tmp_path: Path, served: dict[str, int]) -> None:
    import gc
    import weakref

    from engine.index.hnsw import HNSWIndex

    c, x = _make(tmp_path / "db")
    for _ in range(3):
        c.search("c", data=[x[0]], anns_field="vec", limit=1, search_params=SP)
    graphs = [weakref.ref(ix) for seg in c._coll("c").sealed_segments() for ix in seg.loaded_indexes.values()
              if isinstance(ix, HNSWIndex)]
    assert graphs and served["hot"] >= 1
    c.release_collection("c")
    gc.collect()
    alive = [g() for g in graphs if g() is not None]
    assert not alive


def test_a_graph_that_does_not_serve_the_spec_is_not_used(tmp_path: Path, served: dict[str, int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The full path searches a segment exactly when its loaded graph does not serve the field's index spec
    (`SegmentIndexes.get` says None: a graph built with other parameters, kept because it stores the
    vectors); a repeat call must then not be served from that graph either."""
    from engine.indexing import SegmentIndexes

    c, x = _make(tmp_path / "db")
    for _ in range(3):
        c.search("c", data=[x[4]], anns_field="vec", limit=3, search_params=SP)
    assert served["hot"] == 1  # the graph is loaded and served
    original = SegmentIndexes.get
    monkeypatch.setattr(SegmentIndexes, "get",  # no graph serves the spec; the stored vectors stay readable
                        lambda self, seg, field, spec=None: None if spec is not None else original(self, seg, field))
    c.insert("c", [{"id": 20_000, "vec": x[4]}])
    c.flush("c")  # a new snapshot: the next calls are resolved by the full path again
    hot_before = served["hot"]
    for _ in range(4):
        got = c.search("c", data=[x[4]], anns_field="vec", limit=3, search_params=SP)
        assert {h["id"] for h in got[0][:2]} == {4, 20_000}
    assert served["hot"] == hot_before
