"""The real text model for the document tests: the packaged all-MiniLM-L6-v2, loaded once per process.

Test modules wrap `minilm()` in fixtures of their own (as `ingest_fixtures` does for the tiny CLIP).
"""

from __future__ import annotations

from typing import Any

_cache: dict[str, Any] = {}


def minilm() -> Any:
    """The default text embedder through the real loading code (CPU)."""
    if "minilm" not in _cache:
        from workbench.text_embedders import load_text_embedder

        _cache["minilm"] = load_text_embedder(device="cpu")
    return _cache["minilm"]
