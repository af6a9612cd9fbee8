"""Loading and caching CLIP embedders, and Documents collections' text models, for the app (always
called on worker threads).

Search and ingestion into an existing collection use the model recorded for
that collection (`workbench.embedders.embedder_for_collection`); new
collections use the model chosen in Settings › Model (`ModelChoice`). Loaded
models are kept, so the second search is instant.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ui.app_settings import ModelChoice
from workbench.demo_model import DEMO_MODEL_WARNING

__all__ = ["DEMO_MODEL_WARNING", "EmbedderProvider", "default_model_choice", "is_demo_model"]

# The default open_clip weights live in this Hugging Face repository (open_clip's
# pretrained config for ViT-B-32 / laion2b_s34b_b79k).
_DEFAULT_HF_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"

EmbedderFactory = Callable[[str, str | None, ModelChoice | None], Any]


def default_weights_cached() -> bool:
    """True when ViT-B-32's default weights are already in the Hugging Face cache (no download needed)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for fn in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        try:
            if isinstance(try_to_load_from_cache(_DEFAULT_HF_REPO, fn), str):
                return True
        except Exception:
            return False
    return False


def default_model_choice() -> ModelChoice:
    """ViT-B-32 when its weights are here already, otherwise the demo model."""
    return ModelChoice(kind="pretrained") if default_weights_cached() else ModelChoice(kind="demo")


def checkpoint_howto() -> str:
    """The workbench's instructions for making a checkpoint file on a machine with internet."""
    from workbench.clip_models import CHECKPOINT_HOWTO

    return CHECKPOINT_HOWTO


class EmbedderProvider:
    """Thread-safe cache of loaded embedders.

    `factory(db, collection, choice)` replaces the real loading (tests use a fake
    embedder); it is called with `collection` for existing collections and with
    `choice` for new ones. `text_factory(db, collection)` replaces the loading of a Documents
    collection's text model the same way.
    """

    def __init__(self, factory: EmbedderFactory | None = None, data_dir: Path | None = None,
                 text_factory: Callable[[str, str], Any] | None = None) -> None:
        self._factory = factory
        self._text_factory = text_factory
        self._data_dir = data_dir
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        emb = load()
        with self._lock:
            self._cache.setdefault(key, emb)
            return self._cache[key]

    def for_collection(self, db: Any, collection: str,
                       on_status: Callable[[str], None] | None = None) -> Any:
        """The embedder that made `collection`'s vectors (blocking: call from a worker).

        `db` is the Backend (its workspace holds the collection's sidecar) or a database directory.
        """
        from workbench.templates import read_meta, workspace_of

        meta = read_meta(db, collection) or {}
        rec = meta.get("embedder")
        where = str(workspace_of(db))
        key = "coll:" + (json.dumps([rec, meta.get("checkpoint_path")], sort_keys=True) if rec
                         else f"{where}/{collection}")
        if self._factory is not None:
            return self._cached(key, lambda: self._factory(where, collection, None))  # type: ignore[misc]

        def load() -> Any:
            from workbench.embedders import embedder_for_collection

            return embedder_for_collection(db, collection, on_status=on_status)

        return self._cached(key, load)

    def text_for_collection(self, db: Any, collection: str,
                            on_status: Callable[[str], None] | None = None) -> Any:
        """The text model (sentence-transformers) that embedded a Documents collection's chunks
        (blocking: call from a worker); `workbench.text_embedders.text_embedder_for_collection`."""
        from workbench.templates import read_meta, workspace_of

        meta = read_meta(db, collection) or {}
        where = str(workspace_of(db))
        key = "text:" + json.dumps([meta.get("embedder"), meta.get("text_model_source")], sort_keys=True)
        if self._text_factory is not None:
            return self._cached(key, lambda: self._text_factory(where, collection))  # type: ignore[misc]

        def load() -> Any:
            from workbench.text_embedders import text_embedder_for_collection

            return text_embedder_for_collection(db, collection, on_status=on_status)

        return self._cached(key, load)

    def for_choice(self, choice: ModelChoice, on_status: Callable[[str], None] | None = None) -> Any:
        """The embedder for new collections (blocking: call from a worker)."""
        key = "choice:" + json.dumps(choice.__dict__, sort_keys=True)
        if self._factory is not None:
            return self._cached(key, lambda: self._factory("", None, choice))  # type: ignore[misc]

        def load() -> Any:
            from workbench.embedders import load_clip_embedder

            device = None if choice.device in ("", "auto") else choice.device
            if choice.kind == "demo":
                from workbench.demo_model import demo_checkpoint

                return load_clip_embedder(checkpoint=demo_checkpoint(self._data_dir), device=device,
                                          on_status=on_status)
            if choice.kind == "checkpoint":
                from workbench.settings import ModelError

                if not choice.checkpoint:
                    raise ModelError("no checkpoint file is chosen; pick one in Settings › Model")
                return load_clip_embedder(choice.model or None, None, choice.checkpoint, device,
                                          on_status=on_status)
            return load_clip_embedder(choice.model or None, choice.pretrained or None, None, device,
                                      on_status=on_status)

        return self._cached(key, load)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def is_demo_model(meta: dict[str, Any] | None) -> bool:
    """True when a collection's sidecar says it was embedded with the untrained demo model."""
    from workbench.clip_models import TINY_MODEL_NAME

    rec = (meta or {}).get("embedder") or {}
    return rec.get("model") == TINY_MODEL_NAME
