"""The demo model: an untrained tiny CLIP, the same for the app's demo collection and `--model demo`.

No weights can be assumed on a new machine, so the demo is embedded with
`workbench.clip_models.register_tiny_test_model()` at a fixed random seed, saved once as a
checkpoint under the app's data folder. Search with it runs the whole pipeline, but its
ranking is random; `DEMO_MODEL_WARNING` says so wherever it is used.
"""

from __future__ import annotations

import os
from pathlib import Path

DEMO_MODEL = "demo"  # the name `--model` and the app's Settings › Model give it
DEMO_MODEL_WARNING = (
    "This collection was embedded with the demo model, a tiny CLIP that was never trained: "
    "search results are random. For real search, use real CLIP weights (Settings › Model): "
    "a pretrained tag that open_clip downloads once (needs internet), or a checkpoint file."
)
DEMO_MODEL_WARNING_CLI = (
    "warning: the demo model is a tiny CLIP that was never trained: search results are random. For real search, "
    "pass --model ViT-B-32 --pretrained laion2b_s34b_b79k (downloaded once) or --checkpoint FILE."
)


def data_dir() -> Path:
    """The app's data folder (where the default database also lives)."""
    import platformdirs

    from workbench.settings import APP_NAME

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def demo_checkpoint(folder: Path | None = None) -> Path:
    """The demo model's checkpoint (created once, deterministic: seed 0). Slow first time: imports torch."""
    folder = Path(folder) if folder is not None else data_dir() / "models"
    path = folder / "workbench-tiny-demo.pt"
    if path.is_file():
        return path
    import open_clip
    import torch

    from workbench.clip_models import register_tiny_test_model

    name = register_tiny_test_model()
    folder.mkdir(parents=True, exist_ok=True)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        model = open_clip.create_model(name, pretrained=None)
    finally:
        torch.random.set_rng_state(state)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return path


def is_demo_identity(record: dict[str, object] | None) -> bool:
    """True when a collection's embedder record is the untrained demo model."""
    from workbench.clip_models import TINY_MODEL_NAME

    return bool(record) and (record or {}).get("model") == TINY_MODEL_NAME
