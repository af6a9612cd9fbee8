"""engine.index: FLAT, HNSW, IVF_FLAT, the factory, persistence, stats and recall_check.

Data are embedding-like (a 24-dim latent projected to 128 dims plus small noise):
random Gaussian vectors are a worst case for graph indexes and say little.
"""

from __future__ import annotations

import struct
import threading

import hnswlib
import numpy as np
import pytest

import engine.index.hnsw as hnsw_mod
from engine.errors import CorruptionError, ParamError
from engine.index import (
    BruteForceIndex,
    HNSWIndex,
    IVFFlatIndex,
    create_index,
    load_index,
    recall_check,
    run_recall_check,
)
from engine.index.hnsw_format import parse_hnsw_index
from engine.vectors.metrics import score_matrix, top_k

N, NQ, K = 4000, 60, 10


def embed(n: int, dim: int = 128, latent: int = 24, seed: int = 0, scaled: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    proj = np.random.default_rng(12345).normal(size=(latent, dim))
    x = rng.normal(size=(n, latent)) @ proj + 0.05 * np.sqrt(latent) * rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if scaled:  # norms in [0.5, 2] so that IP, COSINE and L2 rank differently
        x *= rng.uniform(0.5, 2.0, size=(n, 1))
    return x.astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth))
    total = int((truth >= 0).sum())
    return hits / total if total else 1.0


def exact(metric: str, x: np.ndarray, q: np.ndarray, k: int = K, mask: np.ndarray | None = None):
    return top_k(score_matrix(metric, q, x), k, metric, valid_mask=mask)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return {"x": embed(N, scaled=True), "q": embed(NQ, seed=1, scaled=True)}


@pytest.fixture(scope="module")
def hnsw_cosine(data) -> HNSWIndex:
    index = HNSWIndex("COSINE", {"M": 16, "efConstruction": 200})
    index.build(data["x"])
    return index


# ---------------------------------------------------------------- FLAT


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_flat_matches_score_matrix(data, metric: str) -> None:
    index = BruteForceIndex(metric)
    index.build(data["x"])
    mask = np.random.default_rng(0).random(N) < 0.3
    for m in (None, mask):
        ids, d = index.search(data["q"], K, m)
        want_ids, want_d = exact(metric, data["x"], data["q"], K, m)
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_allclose(d, want_d, rtol=1e-6)


def test_flat_blocks_keep_order(monkeypatch: pytest.MonkeyPatch, data) -> None:
    import engine.index.flat as flat

    monkeypatch.setattr(flat, "_BLOCK_FLOATS", 1)  # blocks of 1024 rows
    x = np.repeat(data["x"][:1500], 2, axis=0)  # every vector twice: ties everywhere
    ids, _ = flat.exact_search("L2", x, data["q"], 6)
    want, _ = exact("L2", x, data["q"], 6)
    np.testing.assert_array_equal(ids, want)


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_binary_indexes(metric: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(1500, 16), dtype=np.uint8)
    q = rng.integers(0, 256, size=(20, 16), dtype=np.uint8)
    want_ids, want_d = exact(metric, x, q)
    flat = create_index("BIN_FLAT", metric, {})
    flat.build(x)
    ids, d = flat.search(q, K)
    np.testing.assert_array_equal(d, want_d)
    ivf = create_index("BIN_IVF_FLAT", metric, {"nlist": 8})
    ivf.build(x)
    ids, d = ivf.search(q, K, search_params={"nprobe": 8})  # every list: exact
    np.testing.assert_array_equal(d, want_d)


# ---------------------------------------------------------------- HNSW


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_hnsw_recall(data, metric: str) -> None:
    index = HNSWIndex(metric, {"M": 16, "efConstruction": 200})
    index.build(data["x"])
    ids, d = index.search(data["q"], K)
    want_ids, want_d = exact(metric, data["x"], data["q"])
    assert recall(ids, want_ids) >= 0.95
    # Distances are in Milvus's convention: compare the rows found with exact scores.
    s = score_matrix(metric, data["q"], data["x"])
    np.testing.assert_allclose(d, np.take_along_axis(s, ids, axis=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("force_graph", [False, True])
@pytest.mark.parametrize("selectivity", [0.001, 0.01, 0.1, 0.5, 1.0])
def test_hnsw_filtered_recall(monkeypatch, data, hnsw_cosine, selectivity: float, force_graph: bool) -> None:
    if force_graph:  # exercise the widened graph search even where a scan would be chosen
        monkeypatch.setattr(hnsw_mod, "EXACT_MAX_ROWS", 0)
        monkeypatch.setattr(hnsw_mod, "EXACT_COST_RATIO", 0.0)
    rng = np.random.default_rng(int(selectivity * 1000))
    mask = rng.random(N) < selectivity
    mask[rng.integers(N)] = True
    ids, _ = hnsw_cosine.search(data["q"], K, mask)
    want, _ = exact("COSINE", data["x"], data["q"], K, mask)
    assert recall(ids, want) >= 0.95
    assert np.all(mask[ids[ids >= 0]])
    assert np.all((ids >= 0).sum(axis=1) == min(K, int(mask.sum())))


def test_hnsw_edge_cases(data, hnsw_cosine) -> None:
    ids, d = hnsw_cosine.search(data["q"][:2], K, np.zeros(N, bool))
    assert np.all(ids == -1) and np.all(d == -np.inf)
    ids, _ = hnsw_cosine.search(data["q"][:2], 0)
    assert ids.shape == (2, 0)
    with pytest.raises(ParamError, match="ef"):
        hnsw_cosine.search(data["q"][:1], 20, search_params={"ef": 10})
    with pytest.raises(ParamError, match="valid_mask"):
        hnsw_cosine.search(data["q"][:1], 5, np.ones(N - 1, bool))
    small = HNSWIndex("L2")
    small.build(data["x"][:5])
    ids, d = small.search(data["q"][:1], K)
    assert sorted(ids[0][:5].tolist()) == [0, 1, 2, 3, 4] and np.all(ids[0][5:] == -1)
    assert np.all(d[0][5:] == np.inf)
    empty = HNSWIndex("L2")
    assert empty.search(data["q"][:1], 3)[0].tolist() == [[-1, -1, -1]]


def test_hnsw_higher_ef_not_worse(data, hnsw_cosine) -> None:
    want, _ = exact("COSINE", data["x"], data["q"])
    low = recall(hnsw_cosine.search(data["q"], K, search_params={"ef": 10})[0], want)
    high = recall(hnsw_cosine.search(data["q"], K, search_params={"ef": 200})[0], want)
    assert high >= low and high >= 0.98


def test_hnsw_concurrent_searches_and_add(data) -> None:
    index = HNSWIndex("IP", {"M": 12, "efConstruction": 100})
    index.build(data["x"][:2000])
    expected, _ = index.search(data["q"], K)
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for _ in range(15):
                ids, _ = index.search(data["q"], K)
                assert ids.shape == (NQ, K) and np.all(ids >= 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        try:
            for s in range(2000, N, 500):
                index.add(data["x"][s : s + 500])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert index.count == N
    ids, _ = index.search(data["q"], K)
    assert recall(ids, exact("IP", data["x"], data["q"])[0]) >= 0.95


# ---------------------------------------------------------------- HNSW persistence and stats


def test_hnsw_save_load_keeps_ef(tmp_path, data) -> None:
    index = HNSWIndex("L2", {"M": 8, "efConstruction": 100, "ef": 123})
    index.build(data["x"][:1000])
    before = index.search(data["q"], K)
    index.save(tmp_path / "h")
    loaded = load_index(tmp_path / "h")
    assert isinstance(loaded, HNSWIndex)
    assert loaded.default_ef == 123 and loaded.M == 8 and loaded.metric == "L2" and loaded.count == 1000
    after = loaded.search(data["q"], K)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1])
    mask = np.zeros(1000, bool)
    mask[:50] = True  # exact fallback without the raw vectors: uses hnswlib's stored copy
    np.testing.assert_array_equal(
        loaded.search(data["q"], K, mask)[0], exact("L2", data["x"][:1000], data["q"], K, mask)[0]
    )


def test_hnsw_load_rejects_damage(tmp_path, data) -> None:
    index = HNSWIndex("COSINE")
    index.build(data["x"][:200])
    index.save(tmp_path / "h")
    (tmp_path / "h" / "hnsw.bin").write_bytes(b"garbage")
    with pytest.raises(CorruptionError):
        load_index(tmp_path / "h")
    with pytest.raises(CorruptionError):
        load_index(tmp_path / "missing")


def independent_structure(index: HNSWIndex) -> tuple[list[int], list[int]]:
    """Level counts and layer-0 degree histogram from hnswlib's pickled state, element by element."""
    assert index._index is not None
    state = index._index.__getstate__()[0]
    n = state["cur_element_count"]
    levels = [int(v) for v in state["element_levels"][:n]]
    level_counts = [sum(1 for v in levels if v >= lvl) for lvl in range(max(levels) + 1)]
    raw = bytes(np.asarray(state["data_level0"], dtype=np.uint8))
    size, off0 = state["size_data_per_element"], state["offset_level0"]
    degrees = [struct.unpack_from("<H", raw, i * size + off0)[0] for i in range(n)]
    hist = [0] * (max(degrees) + 1)
    for d in degrees:
        hist[d] += 1
    return level_counts, hist


@pytest.mark.parametrize("m", [2, 4, 16])
def test_hnsw_stats_tiny(tmp_path, data, m: int) -> None:
    index = HNSWIndex("L2", {"M": m, "efConstruction": 20})
    index.build(data["x"][:300], threads=1)
    stats = index.stats()
    levels, hist = independent_structure(index)
    assert stats["element_count"] == 300
    assert stats["level_counts"] == levels
    assert stats["degree_histogram"] == hist
    assert stats["max_level"] == len(levels) - 1
    assert len(hist) - 1 <= 2 * m and sum(hist) == 300
    assert stats["memory_bytes"] > 300 * 128 * 4
    # After a save the saved file is parsed; after the directory moves, a fresh copy is.
    index.save(tmp_path / "a")
    assert index.stats()["level_counts"] == levels
    (tmp_path / "a").rename(tmp_path / "b")
    assert index.stats()["degree_histogram"] == hist
    assert load_index(tmp_path / "b").stats()["level_counts"] == levels


def test_parse_hnsw_saved_file(tmp_path) -> None:
    rng = np.random.default_rng(0)
    raw = hnswlib.Index(space="l2", dim=3)
    raw.init_index(max_elements=10, M=2, ef_construction=10, random_seed=7)
    raw.add_items(rng.random((7, 3)).astype(np.float32), np.arange(7) * 10, num_threads=1)
    raw.save_index(str(tmp_path / "f"))
    s = parse_hnsw_index((tmp_path / "f").read_bytes())
    assert s.count == 7 and s.header["max_elements"] == 10 and s.header["m"] == 2
    assert sorted(s.labels.tolist()) == [0, 10, 20, 30, 40, 50, 60]
    assert s.level_counts()[0] == 7
    with pytest.raises(CorruptionError):
        parse_hnsw_index((tmp_path / "f").read_bytes()[:200])


# ---------------------------------------------------------------- IVF


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_ivf_recall(data, metric: str) -> None:
    index = IVFFlatIndex(metric, {"nlist": 32})
    index.build(data["x"])
    want, want_d = exact(metric, data["x"], data["q"])
    ids, d = index.search(data["q"], K, search_params={"nprobe": 20})
    assert recall(ids, want) >= 0.95
    ids, d = index.search(data["q"], K, search_params={"nprobe": 32})  # all lists: exact
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_allclose(d, want_d, rtol=1e-5, atol=1e-6)
    stats = index.stats()
    assert stats["nlist"] == 32 and stats["list_size_min"] + stats["empty_lists"] >= 0
    assert sum([stats["count"]]) == N


@pytest.mark.parametrize("selectivity", [0.001, 0.05, 0.5])
def test_ivf_filtered(data, selectivity: float) -> None:
    index = IVFFlatIndex("COSINE", {"nlist": 32, "nprobe": 16})
    index.build(data["x"])
    mask = np.random.default_rng(1).random(N) < selectivity
    ids, _ = index.search(data["q"], K, mask)
    assert np.all(mask[ids[ids >= 0]])
    assert recall(ids, exact("COSINE", data["x"], data["q"], K, mask)[0]) >= 0.95


def test_ivf_and_flat_save_load(tmp_path, data) -> None:
    for index in (IVFFlatIndex("IP", {"nlist": 16, "nprobe": 4}), BruteForceIndex("COSINE")):
        index.build(data["x"][:800])
        before = index.search(data["q"], K)
        index.save(tmp_path / index.index_type)
        loaded = load_index(tmp_path / index.index_type)
        assert type(loaded) is type(index)
        after = loaded.search(data["q"], K)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_allclose(before[1], after[1])


def test_ivf_more_lists_than_vectors(data) -> None:
    index = IVFFlatIndex("L2", {"nlist": 64})
    index.build(data["x"][:20])
    ids, _ = index.search(data["q"][:2], 5, search_params={"nprobe": 64})
    np.testing.assert_array_equal(ids, exact("L2", data["x"][:20], data["q"][:2], 5)[0])


# ---------------------------------------------------------------- factory


def test_factory_types_and_defaults() -> None:
    auto = create_index("AUTOINDEX", "COSINE", {})
    assert isinstance(auto, HNSWIndex) and auto.M == 18 and auto.ef_construction == 240
    assert isinstance(create_index("HNSW", "L2", {"M": "32"}), HNSWIndex)
    assert isinstance(create_index("ivf_flat", "IP", {"nlist": 10}), IVFFlatIndex)
    assert isinstance(create_index("FLAT", None, {}), BruteForceIndex)
    assert create_index("FLAT", None, {}).metric == "COSINE"
    assert create_index("AUTOINDEX", "HAMMING", {}).index_type == "AUTOINDEX"
    assert create_index("HNSW", "COSINE", {}, maxsim=True).metric == "MAX_SIM_COSINE"


@pytest.mark.parametrize(
    ("index_type", "metric", "params", "match"),
    [
        ("HNSW", "L2", {"M": 1}, "M = 1 is out of range"),
        ("HNSW", "L2", {"M": 4096}, "out of range"),
        ("HNSW", "L2", {"M": "many"}, "must be an integer"),
        ("HNSW", "L2", {"M": True}, "must be an integer"),
        ("HNSW", "L2", {"efConstruction": 0}, "efConstruction"),
        ("HNSW", "L2", {"efConstruction": 2**31}, "efConstruction"),
        ("IVF_FLAT", "L2", {"nlist": 0}, "nlist"),
        ("IVF_FLAT", "L2", {"nlist": 65537}, "nlist"),
        ("HNSW", "HAMMING", {}, "not supported by index type HNSW"),
        ("BIN_FLAT", "L2", {}, "not supported"),
        ("NO_SUCH_INDEX", "L2", {}, "unknown index type"),
        ("FLAT", "MAX_SIM_IP", {}, "not supported"),
    ],
)
def test_factory_rejects(index_type, metric, params, match) -> None:
    with pytest.raises(ParamError, match=match):
        create_index(index_type, metric, params)


@pytest.mark.parametrize("index_type", ["DISKANN", "IVF_PQ", "SCANN", "HNSW_SQ", "IVF_SQ8"])
def test_factory_not_implemented(index_type: str) -> None:
    with pytest.raises(NotImplementedError, match=index_type):
        create_index(index_type, "L2", {})


def test_factory_maxsim_flag_mismatch() -> None:
    with pytest.raises(ParamError, match="MAX_SIM"):
        create_index("HNSW", "HAMMING", {}, maxsim=True)
    with pytest.raises(ParamError, match="L2, IP or COSINE"):
        create_index("HNSW", "MAX_SIM_IP", {}, maxsim=False)


# ---------------------------------------------------------------- recall_check


def test_recall_check_reports_per_ef(data, hnsw_cosine) -> None:
    events = []
    gen = recall_check(hnsw_cosine, data["x"], data["q"][:30], K, [10, 40, 160])
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            report = stop.value
            break
    assert events[0].stage == "ground_truth" and events[-1].stage == "search"
    assert [p.value for p in report.points] == [10, 40, 160] and not report.cancelled
    assert all(p.param == "ef" for p in report.points)
    assert report.points[-1].recall >= 0.98 and report.points[-1].recall >= report.points[0].recall
    assert all(0 <= p.p50_ms <= p.p95_ms for p in report.points)


def test_recall_check_cancel_and_flat(data) -> None:
    flat = BruteForceIndex("L2")
    flat.build(data["x"][:500])
    stop = threading.Event()
    seen = []

    def on_progress(event) -> None:
        seen.append(event)
        stop.set()

    report = run_recall_check(
        flat, data["x"][:500], data["q"], K, [8, 16], cancel=stop, on_progress=on_progress
    )
    assert report.cancelled and len(seen) == 1
    report = run_recall_check(flat, data["x"][:500], data["q"][:10], K, [8, 16])
    assert len(report.points) == 1 and report.points[0].param is None and report.points[0].recall == 1.0
