"""`EmbeddingList`: the query of a MAX_SIM search, one list of vectors (pymilvus's API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.errors import ParamError


class EmbeddingList:
    """An ordered list of same-dimension vectors, used as one MAX_SIM query."""

    def __init__(self, embeddings: Any = None, dim: int | None = None, dtype: Any = None) -> None:
        self._embeddings: list[np.ndarray] = []
        self._dim = dim
        try:
            self._dtype = np.dtype(dtype) if dtype is not None else None
        except TypeError:
            raise ParamError(f"EmbeddingList: dtype {dtype!r} is not a numpy data type") from None
        if embeddings is not None:
            self.add_batch(embeddings)

    def add(self, embedding: Any) -> EmbeddingList:
        arr = np.frombuffer(embedding, dtype=self._dtype or np.float32) if isinstance(embedding, bytes) else np.asarray(embedding)
        if arr.ndim != 1:
            raise ParamError(f"Embedding must be 1D, got shape {arr.shape}")
        expected = self.dim if self._embeddings else self._dim
        if expected is not None and len(arr) != expected:
            raise ParamError(f"Embedding dimension {len(arr)} doesn't match expected {expected}")
        if self._dtype is None:
            self._dtype = arr.dtype if arr.dtype.kind in "fu" and arr.dtype != np.float64 else np.dtype(np.float32)
        self._embeddings.append(arr.astype(self._dtype))
        return self

    def add_batch(self, embeddings: Any) -> EmbeddingList:
        for e in np.asarray(embeddings) if not isinstance(embeddings, list) else embeddings:
            self.add(e)
        return self

    def to_numpy(self) -> np.ndarray:
        if not self._embeddings:
            raise ParamError("EmbeddingList is empty")
        return np.stack(self._embeddings)

    def to_flat_array(self) -> np.ndarray:
        return self.to_numpy().reshape(-1)

    def clear(self) -> EmbeddingList:
        self._embeddings.clear()
        return self

    def __len__(self) -> int:
        return len(self._embeddings)

    def __getitem__(self, index: int) -> np.ndarray:
        return self._embeddings[index]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._embeddings)

    @property
    def dim(self) -> int:
        if self._embeddings:
            return len(self._embeddings[0])
        return self._dim or 0

    @property
    def dtype(self) -> np.dtype | None:
        return self._dtype

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.dim)

    @property
    def is_empty(self) -> bool:
        return not self._embeddings

    def __repr__(self) -> str:
        return f"EmbeddingList(count={len(self)}, dim={self.dim})"
