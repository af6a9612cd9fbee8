"""Graph reordering (engine/index/hnsw_reorder.py): a renumbered hnswlib file is the same graph.

Each test builds a real hnswlib index, renumbers its saved file and loads the result with hnswlib
itself: the same labels, vectors, links (by label), levels, deleted marks and search results.
Damaged files are refused with a CorruptionError, never renumbered into garbage.
"""

from __future__ import annotations

from pathlib import Path

import hnswlib
import numpy as np
import pytest

from engine.errors import CorruptionError
from engine.index import hnsw_reorder
from engine.index.hnsw import HNSWIndex
from engine.index.hnsw_format import HEADER_DTYPE, parse_hnsw_index
from engine.index.hnsw_reorder import locality_order, reorder_index_bytes

DIM = 16


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM)).astype(np.float32) * 3
    x = centres[rng.integers(0, 20, n)] + rng.standard_normal((n, DIM)).astype(np.float32)
    return x.astype(np.float32)


def _saved(tmp_path: Path, space: str = "l2", n: int = 3000, deleted: tuple[int, ...] = ()) -> tuple[Path, np.ndarray]:
    x = _clustered(n)
    index = hnswlib.Index(space=space, dim=DIM)
    index.init_index(max_elements=n + 100, M=8, ef_construction=64, random_seed=7)
    labels = np.arange(n) * 3 + 11  # labels unlike internal ids
    index.add_items(x, labels, num_threads=1)
    for lab in deleted:
        index.mark_deleted(lab)
    path = tmp_path / "g.bin"
    index.save_index(str(path))
    return path, x


def _load(path: Path, space: str = "l2") -> hnswlib.Index:
    index = hnswlib.Index(space=space, dim=DIM)
    index.load_index(str(path))
    return index


def _links_by_label(raw: np.ndarray) -> dict[int, list[int]]:
    """Layer-0 neighbours of each element, as labels, in stored order."""
    s = parse_hnsw_index(raw)
    h = s.header
    n, size, off0, m0 = (int(h[k]) for k in ("cur_element_count", "size_data_per_element", "offset_level0", "max_m0"))
    blocks = raw[HEADER_DTYPE.itemsize : HEADER_DTYPE.itemsize + n * size].reshape(n, size)
    ids = blocks[:, off0 + 4 : off0 + 4 + 4 * m0].copy().view("<u4")
    return {int(s.labels[i]): [int(s.labels[j]) for j in ids[i, : s.degree0[i]]] for i in range(n)}


@pytest.mark.parametrize("space", ["l2", "ip"])
@pytest.mark.parametrize("how", ["locality", "random"])
def test_renumbered_file_is_the_same_graph(tmp_path: Path, space: str, how: str) -> None:
    path, x = _saved(tmp_path, space, deleted=(11, 14, 3011))
    raw = np.fromfile(path, dtype=np.uint8)
    order = None if how == "locality" else np.random.default_rng(1).permutation(3000)
    out = tmp_path / "r.bin"
    out.write_bytes(reorder_index_bytes(raw, DIM, order))
    new = np.fromfile(out, dtype=np.uint8)
    assert len(new) == len(raw)
    before, after = parse_hnsw_index(raw), parse_hnsw_index(new)
    assert not np.array_equal(before.labels, after.labels)  # really renumbered
    assert sorted(before.labels.tolist()) == sorted(after.labels.tolist())
    assert before.level_counts() == after.level_counts()
    assert before.degree_histogram() == after.degree_histogram()
    assert before.upper_bytes == after.upper_bytes
    assert int(after.deleted.sum()) == 3
    assert after.labels[int(after.header["enterpoint_node"])] == before.labels[int(before.header["enterpoint_node"])]
    assert _links_by_label(raw) == _links_by_label(new)

    old_ix, new_ix = _load(path, space), _load(out, space)
    labels = np.arange(3000) * 3 + 11
    live = labels[~np.isin(labels, [11, 14, 3011])]
    assert np.array_equal(np.asarray(old_ix.get_items(live)), np.asarray(new_ix.get_items(live)))
    queries = _clustered(200, seed=5)
    for ef in (10, 50):
        old_ix.set_ef(ef)
        new_ix.set_ef(ef)
        a, da = old_ix.knn_query(queries, k=10, num_threads=1)
        b, db = new_ix.knn_query(queries, k=10, num_threads=1)
        assert np.array_equal(a, b)
        assert np.array_equal(da, db)
        assert not np.isin(b, [11, 14, 3011]).any()
    new_ix.add_items(_clustered(50, seed=9), np.arange(50) + 100_000)  # still a working graph
    assert new_ix.get_current_count() == 3050


def test_locality_order_is_a_deterministic_permutation_that_groups_near_rows() -> None:
    x = _clustered(5000)
    order = locality_order(x)
    assert sorted(order.tolist()) == list(range(5000))
    assert np.array_equal(order, locality_order(x))
    gap = np.linalg.norm(x[order][1:] - x[order][:-1], axis=1).mean()
    shuffled = np.random.default_rng(0).permutation(5000)
    random_gap = np.linalg.norm(x[shuffled][1:] - x[shuffled][:-1], axis=1).mean()
    assert gap < 0.6 * random_gap
    assert locality_order(x[:0]).tolist() == []
    assert sorted(locality_order(x[:10]).tolist()) == list(range(10))


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    raw = np.fromfile(path, dtype=np.uint8)
    with pytest.raises(CorruptionError):
        reorder_index_bytes(raw[: len(raw) - 400], DIM)  # upper layers cut short
    with pytest.raises(CorruptionError):
        reorder_index_bytes(raw[:50], DIM)  # not even a header
    h = raw[: HEADER_DTYPE.itemsize].view(HEADER_DTYPE)[0]
    bad = raw.copy()
    first_link = HEADER_DTYPE.itemsize + int(h["offset_level0"]) + 4
    bad[first_link : first_link + 4] = np.array([4_000_000], "<u4").view(np.uint8)
    with pytest.raises(CorruptionError, match="does not exist"):
        reorder_index_bytes(bad, DIM)
    with pytest.raises(CorruptionError, match="dim"):
        reorder_index_bytes(raw, 4096)
    with pytest.raises(ValueError, match="permutation"):
        reorder_index_bytes(raw, DIM, np.zeros(3000, dtype=np.int64))


@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_saved_engine_index_is_renumbered_and_searches_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             metric: str) -> None:
    x = _clustered(2500)
    if metric == "COSINE":
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = HNSWIndex(metric, {"M": 8, "efConstruction": 64})
    index.use_raw_cosine_if_unit(x)
    index.build(x)
    index.save(tmp_path / "plain")  # below MIN_ROWS: as hnswlib wrote it
    monkeypatch.setattr(hnsw_reorder, "MIN_ROWS", 1000)
    index.save(tmp_path / "renumbered")
    assert sorted(p.name for p in (tmp_path / "renumbered").iterdir()) == sorted(
        p.name for p in (tmp_path / "plain").iterdir())  # no file left behind
    plain, renumbered = HNSWIndex.load(tmp_path / "plain"), HNSWIndex.load(tmp_path / "renumbered")
    s_plain, s_new = plain.structure(), renumbered.structure()
    assert s_plain is not None and s_new is not None
    assert s_new.labels.tolist() != s_plain.labels.tolist()
    assert sorted(s_new.labels.tolist()) == list(range(2500))
    queries = _clustered(100, seed=3)
    for q in queries:
        a = plain.search(q[None, :], 10, search_params={"ef": 40})
        b = renumbered.search(q[None, :], 10, search_params={"ef": 40})
        assert a[0].tolist() == b[0].tolist()
        assert a[1].tobytes() == b[1].tobytes()
    assert np.array_equal(plain.get_vectors(np.arange(2500)), renumbered.get_vectors(np.arange(2500)))
