"""What `workbench search` keeps between runs: the query vectors it embedded.

Each `workbench search` is a new process, so the model cannot stay loaded; loading it (torch,
open_clip, the weights) is most of a search's time. What can be kept is the result: the vector of
each query text or image, per model (its identity: name, weights, dimension). A repeated query then
needs no model at all: `CachedQueryEmbedder` loads the model only on a cache miss. Vectors are small
(2 KB for 512-d) and live in the user cache folder (`query_cache_dir()`, or `$WORKBENCH_QUERY_CACHE`); `--no-cache` skips them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def query_cache_dir() -> Path:
    """`$WORKBENCH_QUERY_CACHE`, else `<user cache>/vector-workbench/query-vectors` ($XDG_CACHE_HOME on Linux)."""
    if os.environ.get("WORKBENCH_QUERY_CACHE"):
        return Path(os.environ["WORKBENCH_QUERY_CACHE"])
    import platformdirs

    from workbench.settings import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "query-vectors"


class CachedQueryEmbedder:
    """An embedder for queries: cached vectors for `identity`, else the real model (`load()`, once).

    `identity` is the collection's recorded `EmbedderIdentity`: the cache is only right for that model, and
    the search checks the identity against the collection's as it does for a loaded model."""

    def __init__(self, identity: Any, load: Callable[[], Any], folder: Path | None = None) -> None:
        self.identity = identity
        self._load = load
        self._model: Any = None
        key = hashlib.sha256(json.dumps(identity.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
        self.folder = (folder or query_cache_dir()) / key
        self.hits = 0
        self.misses = 0
        self.demo = False  # the identity is the untrained demo model (set by the CLI, for its warning)

    @property
    def dim(self) -> int:
        return int(self.identity.dim)

    @property
    def model(self) -> Any:
        """The real embedder, loaded on first use."""
        if self._model is None:
            self._model = self._load()
            if self._model.identity != self.identity:  # the recorded model is not what loaded: cache nothing
                self.identity.check_same(self._model.identity, "the cached query vectors")
        return self._model

    def _cached(self, kind: str, payloads: Sequence[bytes], embed: Callable[[], np.ndarray]) -> np.ndarray:
        paths = [self.folder / f"{kind}-{hashlib.sha256(p).hexdigest()}.npy" for p in payloads]
        try:
            out = np.stack([np.load(p) for p in paths]).astype(np.float32)
            if out.shape[1] == self.dim:
                self.hits += len(paths)
                return out
        except (OSError, ValueError):
            pass
        self.misses += len(paths)
        vecs = np.asarray(embed(), dtype=np.float32)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for p, v in zip(paths, vecs):
                tmp = p.with_suffix(f".{os.getpid()}.tmp")
                with open(tmp, "wb") as f:
                    np.save(f, v)
                os.replace(tmp, p)
        except OSError:
            pass  # a read-only cache folder: search on, uncached
        return vecs

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached("text", [t.encode() for t in texts], lambda: self.model.embed_texts(list(texts)))

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        """Images decoded by the caller (PIL): keyed by their pixels."""
        payloads = [im.tobytes() + repr((im.size, im.mode)).encode() for im in images]
        return self._cached("image", payloads, lambda: self.model.embed_images(list(images)))
