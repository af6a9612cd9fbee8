"""Shared fixtures: a fresh database per test, and offscreen Qt."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def client(db_path: Path) -> Iterator[object]:
    from engine import MilvusClient

    c = MilvusClient(str(db_path))
    yield c
    c.close()


def embedding_like(n: int, dim: int, latent: int = 16, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """Normalised vectors that look like embeddings: a low-dim latent space projected up, plus noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent)).astype(np.float32)
    proj = rng.standard_normal((latent, dim)).astype(np.float32)
    x = z @ proj + noise * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)
