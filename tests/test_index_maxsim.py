"""engine.index.MaxSimIndex against exact MAX_SIM scoring (embedding lists)."""

from __future__ import annotations

import numpy as np
import pytest

import engine.index.maxsim as maxsim_mod
from engine.errors import CorruptionError, ParamError
from engine.index import MaxSimIndex, create_index, load_index
from engine.vectors.metrics import maxsim_scores, top_k

N_ROWS, K = 1500, 10


def embedding_lists(n: int, max_elements: int = 8, dim: int = 64, latent: int = 16, seed: int = 0):
    """Entities with a topic each and 0..max_elements element vectors (pages) around it."""
    rng = np.random.default_rng(seed)
    proj = np.random.default_rng(12345).normal(size=(latent, dim))
    sizes = rng.integers(0, max_elements + 1, size=n)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    topics = rng.normal(size=(n, latent))
    z = np.repeat(topics, sizes, axis=0) + 0.6 * rng.normal(size=(int(offsets[-1]), latent))
    x = z @ proj + 0.05 * np.sqrt(latent) * rng.normal(size=(len(z), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), offsets, topics


def query_lists(nq: int, m: int, topics: np.ndarray, dim: int = 64, seed: int = 1) -> list[np.ndarray]:
    """Query lists of m vectors, each list around a perturbed entity topic."""
    rng = np.random.default_rng(seed)
    proj = np.random.default_rng(12345).normal(size=(topics.shape[1], dim))
    out = []
    for _ in range(nq):
        t = topics[rng.integers(len(topics))] + 0.5 * rng.normal(size=topics.shape[1])
        z = t + 0.6 * rng.normal(size=(m, topics.shape[1]))
        x = z @ proj + 0.05 * np.sqrt(topics.shape[1]) * rng.normal(size=(m, dim))
        out.append((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))
    return out


def exact_maxsim(metric, queries, elements, offsets, k=K, mask=None):
    ids = []
    for q in queries:
        s = maxsim_scores(metric, q, elements, offsets)
        assert isinstance(s, np.ndarray)
        ids.append(top_k(s.reshape(1, -1), k, metric, valid_mask=mask)[0][0])
    return np.array(ids)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth))
    total = int((truth >= 0).sum())
    return hits / total if total else 1.0


@pytest.fixture(scope="module")
def lists():
    return embedding_lists(N_ROWS)


@pytest.fixture(scope="module")
def cosine_index(built) -> MaxSimIndex:
    return built("MAX_SIM_COSINE")


@pytest.fixture(scope="module")
def built(lists):
    """One index per metric, built on first use."""
    cache: dict[str, MaxSimIndex] = {}

    def get(metric: str) -> MaxSimIndex:
        if metric not in cache:
            index = create_index("HNSW", metric, {"M": 16, "efConstruction": 100})
            assert isinstance(index, MaxSimIndex)
            index.build(lists[0], offsets=lists[1])
            cache[metric] = index
        return cache[metric]

    return get


@pytest.mark.parametrize("metric", ["MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"])
@pytest.mark.parametrize("m", [1, 4, 16])
def test_maxsim_recall(lists, built, metric: str, m: int) -> None:
    elements, offsets, topics = lists
    index = built(metric)
    assert index.element_count > maxsim_mod.EXACT_MAX_ELEMENTS  # the graph path, not a scan
    queries = query_lists(25, m, topics, seed=m)
    ids, scores = index.search(queries, K)
    want = exact_maxsim(metric, queries, elements, offsets)
    assert recall(ids, want) >= 0.95
    # Scores are exact MAX_SIM scores of the returned rows.
    for q, row_ids, row_scores in zip(queries, ids, scores):
        s = maxsim_scores(metric, q, elements, offsets)
        assert isinstance(s, np.ndarray)
        np.testing.assert_allclose(row_scores, s[row_ids], rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(offsets)[ids[ids >= 0]] > 0)  # rows without elements never match


@pytest.mark.parametrize("selectivity", [0.002, 0.05, 0.5])
def test_maxsim_filtered(lists, cosine_index, selectivity: float) -> None:
    elements, offsets, topics = lists
    mask = np.random.default_rng(5).random(N_ROWS) < selectivity
    queries = query_lists(20, 4, topics, seed=9)
    ids, _ = cosine_index.search(queries, K, mask)
    assert np.all(mask[ids[ids >= 0]])
    assert recall(ids, exact_maxsim("MAX_SIM_COSINE", queries, elements, offsets, mask=mask)) >= 0.95


def test_maxsim_query_forms_and_params(lists, cosine_index) -> None:
    _, _, topics = lists
    q = query_lists(3, 5, topics, seed=3)
    one = cosine_index.search(q[0], K)
    many = cosine_index.search(np.stack(q), K)
    np.testing.assert_array_equal(one[0][0], many[0][0])
    wide = cosine_index.search(q, K, search_params={"retrieval_ann_ratio": 10, "ef": 200})
    assert wide[0].shape == (3, K)
    for bad in (0, -1, "x", float("inf")):
        with pytest.raises(ParamError, match="retrieval_ann_ratio"):
            cosine_index.search(q, K, search_params={"retrieval_ann_ratio": bad})
    with pytest.raises(ParamError, match="shape"):
        cosine_index.search([np.zeros((2, 3), np.float32)], K)
    ids, _ = cosine_index.search(q, K, np.zeros(N_ROWS, bool))
    assert np.all(ids == -1)


def test_maxsim_build_needs_offsets(lists) -> None:
    elements, offsets, _ = lists
    index = MaxSimIndex()
    with pytest.raises(ParamError, match="offsets"):
        index.build(elements)
    with pytest.raises(ParamError, match="keyword"):
        index.build(elements, offsets)  # type: ignore[arg-type]
    with pytest.raises(ParamError, match="offsets must rise"):
        index.build(elements, offsets=offsets[:-1])


def test_maxsim_save_load(tmp_path, lists, cosine_index) -> None:
    elements, offsets, topics = lists
    queries = query_lists(5, 3, topics, seed=4)
    before = cosine_index.search(queries, K)
    cosine_index.save(tmp_path / "ms")
    for vectors in (None, elements):
        loaded = load_index(tmp_path / "ms", vectors, offsets=offsets)
        assert isinstance(loaded, MaxSimIndex) and loaded.count == N_ROWS
        after = loaded.search(queries, K)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_allclose(before[1], after[1], rtol=1e-5)
    with pytest.raises(CorruptionError, match="offsets"):
        load_index(tmp_path / "ms", offsets=offsets + 1)
    stats = loaded.stats()
    assert stats["count"] == N_ROWS and stats["element_count"] == int(offsets[-1])
    assert stats["empty_rows"] == int((np.diff(offsets) == 0).sum())
    assert stats["level_counts"][0] == int(offsets[-1])
