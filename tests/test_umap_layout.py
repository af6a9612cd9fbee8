"""ui/embedding_map/umap_layout (Qt-free): exact neighbours as umap-learn's, the epoch counter read from tqdm,
and a real UMAP in its own process reporting every phase."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ui.embedding_map.umap_layout import _EpochPipe, exact_knn, stop_process, umap_events


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_knn_matches_brute_force(metric: str) -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    x = rng.standard_normal((700, 24)).astype(np.float32)
    rows: list[tuple[int, int]] = []
    idx, dist = exact_knn(x, 10, metric, block=256, on_rows=lambda d, t: rows.append((d, t)))
    nn = NearestNeighbors(n_neighbors=10, metric=metric, algorithm="brute").fit(x)
    want_d, want_i = nn.kneighbors(x)
    assert (idx[:, 0] == np.arange(700)).all() and np.allclose(dist[:, 0], 0)
    assert np.allclose(dist, want_d, atol=1e-4)
    assert (idx[:, 1:] == want_i[:, 1:]).mean() > 0.999
    assert rows == [(256, 700), (512, 700), (700, 700)]


def test_epoch_pipe_reads_the_tqdm_count() -> None:
    sent: list[dict[str, Any]] = []
    pipe = _EpochPipe(type("C", (), {"send": lambda self, ev: sent.append(ev)})())
    pipe.write("\r12/200")
    pipe.write("\r")
    pipe.write("\r200/200\n")
    assert sent == [{"phase": "epochs", "done": 12, "total": 200}, {"phase": "epochs", "done": 200, "total": 200}]


def test_umap_reports_every_phase_and_returns_the_layout() -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((3, 32)) * 4
    x = np.concatenate([c + rng.standard_normal((40, 32)) for c in centres]).astype(np.float32)
    events: list[dict[str, Any]] = []
    g = umap_events(x, metric="euclidean", n_neighbors=10, seed=0)
    try:
        while True:
            events.append(next(g))
    except StopIteration as stop:
        y = stop.value
    finally:
        stop_process()
    phases = list(dict.fromkeys(e["phase"] for e in events))
    assert phases[0] == "start" and phases[1:] == ["import", "knn", "graph", "epochs"]
    knn = [e for e in events if e["phase"] == "knn" and e["total"]]
    assert knn and knn[-1]["done"] == knn[-1]["total"] == 120
    epochs = [e for e in events if e["phase"] == "epochs"]
    assert epochs[-1]["done"] == epochs[-1]["total"] > 0 and "layout: epoch" in epochs[-1]["text"]
    assert all(e["text"].endswith(" s") for e in events)
    assert [e["elapsed"] for e in events] == sorted(e["elapsed"] for e in events)
    assert y.shape == (120, 2) and np.isfinite(y).all()
    # the three blobs stay apart: each point's nearest layout neighbour is in its own blob
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (d.argmin(axis=1) // 40 == np.arange(120) // 40).mean() > 0.95
