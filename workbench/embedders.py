"""Embedders: two small protocols, and a CLIP implementation over open_clip.

An embedder turns images and texts into L2-normalised float32 vectors of one
dimension, and says who it is (`identity`), so a collection can record which
model embedded it and refuse queries from another. `TextEmbedder` is the text
half alone (the sentence-transformers models of `workbench.text_embedders`);
`Embedder` adds images (CLIP).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from workbench.settings import ModelError, ModelMismatchError

if TYPE_CHECKING:
    from PIL import Image

    from workbench.clip_models import LoadedModel
    from workbench.targets import DbTarget


TEXT_FAMILY = "sentence-transformers"


@dataclass(frozen=True)
class EmbedderIdentity:
    """Which model produced a vector space: name, weights (tag or checkpoint sha256), dimension, and the
    library family ("open_clip", or "sentence-transformers" for text models)."""

    model: str
    pretrained: str | None
    checkpoint_sha256: str | None
    dim: int
    family: str = "open_clip"

    @property
    def weights(self) -> str:
        """The weights as one string: `tag:<tag>` or `sha256:<hex>`."""
        if self.checkpoint_sha256:
            return f"sha256:{self.checkpoint_sha256}"
        return f"tag:{self.pretrained}"

    def describe(self) -> str:
        """Short human form, e.g. `ViT-B-32 (checkpoint sha256 1a2b3c4d5e6f, dim 512)`."""
        if self.family != "open_clip":
            sha = f"weights sha256 {self.checkpoint_sha256[:12]}, " if self.checkpoint_sha256 else ""
            return f"{self.model} ({self.family}, {sha}dim {self.dim})"
        if self.checkpoint_sha256:
            return f"{self.model} (checkpoint sha256 {self.checkpoint_sha256[:12]}, dim {self.dim})"
        return f"{self.model} (pretrained {self.pretrained}, dim {self.dim})"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"model": self.model, "pretrained": self.pretrained,
                             "checkpoint_sha256": self.checkpoint_sha256, "dim": self.dim}
        if self.family != "open_clip":  # records of CLIP collections stay as they were
            d["family"] = self.family
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmbedderIdentity:
        return cls(str(d["model"]), d.get("pretrained"), d.get("checkpoint_sha256"), int(d["dim"]),
                   str(d.get("family") or "open_clip"))

    def same_space(self, other: EmbedderIdentity) -> bool:
        """True when both produce the same vectors: equal identities, or for text models the same
        weights (by sha256) and dimension, wherever the files were loaded from."""
        if self == other:
            return True
        return (self.family == other.family != "open_clip" and self.checkpoint_sha256 is not None
                and self.checkpoint_sha256 == other.checkpoint_sha256 and self.dim == other.dim)

    def check_same(self, other: EmbedderIdentity, collection: str) -> None:
        """Raise ModelMismatchError unless `other` produces the same vector space."""
        if self.same_space(other):
            return
        if TEXT_FAMILY in (self.family, other.family):
            raise ModelMismatchError(
                f"collection {collection!r} was embedded with {self.describe()}, but the model given is "
                f"{other.describe()}; vectors from different models cannot be compared. Leave --text-model "
                "out to use the collection's model, or ingest into another collection"
            )
        raise ModelMismatchError(
            f"collection {collection!r} was embedded with {self.describe()}, but the model given is "
            f"{other.describe()}; vectors from different models cannot be compared. Use the same model "
            "(--model/--pretrained or --checkpoint) or ingest into another collection"
        )


@runtime_checkable
class TextEmbedder(Protocol):
    """What text search needs from an embedding model (CLIP's text tower or a text model)."""

    @property
    def dim(self) -> int: ...

    @property
    def identity(self) -> EmbedderIdentity: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        ...


@runtime_checkable
class Embedder(TextEmbedder, Protocol):
    """What image ingestion and search need from an embedding model (CLIP)."""

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        ...


@runtime_checkable
class PreparingEmbedder(Embedder, Protocol):
    """An embedder whose image preprocessing can run on worker threads, apart from inference."""

    def prepare_image(self, image: Image.Image) -> Any:
        """Thread-safe preprocessing of one RGB image into the model's input."""
        ...

    def embed_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        """Embed inputs made by `prepare_image`; (n, dim) float32, L2-normalised."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class ClipEmbedder:
    """A CLIP model from open_clip: image and text towers of the same model."""

    def __init__(self, loaded: LoadedModel, batch_size: int | None = None) -> None:
        from workbench.clip_models import default_batch_size

        self._m = loaded
        self.batch_size = int(batch_size or default_batch_size(loaded.device))
        self._lock = threading.Lock()
        self._fast = _split_transform(loaded.preprocess)
        self._identity = EmbedderIdentity(loaded.model_name, loaded.pretrained, loaded.checkpoint_sha256, loaded.dim)

    # --- protocol ----------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._m.dim

    @property
    def identity(self) -> EmbedderIdentity:
        return self._identity

    @property
    def device(self) -> str:
        return self._m.device

    @property
    def checkpoint_path(self) -> str | None:
        """The checkpoint file the weights came from (None for a pretrained tag)."""
        return None if self._m.checkpoint is None else str(self._m.checkpoint.resolve())

    def prepare_image(self, image: Image.Image) -> Any:
        """The model's preprocessing; the tensor conversion is done in numpy when the transform
        is the usual resize/crop/to-tensor/normalise (torch's threaded ops cost ~20 ms per small
        image on a busy CPU)."""
        if self._fast is None:
            return self._m.preprocess(image)
        import torch

        pil_steps, mean, std = self._fast
        for step in pil_steps:
            image = step(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        arr = np.asarray(image, dtype=np.float32)
        arr = (arr * np.float32(1 / 255) - mean) / std
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))

    def embed_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        import torch

        if len(prepared) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        dtype = torch.float16 if self._m.precision == "fp16" else torch.float32
        with self._lock, torch.inference_mode():
            for i in range(0, len(prepared), self.batch_size):
                x = torch.stack(list(prepared[i : i + self.batch_size])).to(self._m.device, dtype=dtype)
                out.append(self._m.model.encode_image(x).float().cpu().numpy())
        return l2_normalise(np.concatenate(out))

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_prepared([self.prepare_image(im.convert("RGB")) for im in images])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                tokens = self._m.tokenizer(list(texts[i : i + self.batch_size])).to(self._m.device)
                out.append(self._m.model.encode_text(tokens).float().cpu().numpy())
        return l2_normalise(np.concatenate(out))

    def __repr__(self) -> str:
        return f"ClipEmbedder({self.identity.describe()}, device={self.device}, batch_size={self.batch_size})"


def _split_transform(preprocess: Any) -> tuple[list[Any], np.ndarray, np.ndarray] | None:
    """(PIL steps, mean, std) when `preprocess` is PIL steps + to-tensor + normalise, else None."""
    steps = list(getattr(preprocess, "transforms", []) or [])
    names = [type(t).__name__ for t in steps]
    if len(steps) < 2 or names[-1] != "Normalize" or names[-2] not in ("ToTensor", "MaybeToTensor"):
        return None
    pil_ok = {"Resize", "CenterCrop", "MaybeConvertMode", "function"}
    if not all(n in pil_ok for n in names[:-2]):
        return None
    norm = steps[-1]
    mean = np.asarray(norm.mean, dtype=np.float32).reshape(1, 1, -1)
    std = np.asarray(norm.std, dtype=np.float32).reshape(1, 1, -1)
    if mean.size != 3 or std.size != 3:
        return None
    return steps[:-2], mean, std


def load_clip_embedder(
    model: str | None = None,
    pretrained: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ClipEmbedder:
    """A `ClipEmbedder` from a model name plus pretrained tag, or from a local checkpoint file.

    Raises `ModelError` with what to do when weights are missing or do not fit.
    """
    from workbench.clip_models import load_open_clip

    loaded = load_open_clip(model, pretrained, checkpoint, device=device, on_status=on_status)
    return ClipEmbedder(loaded, batch_size=batch_size)


def embedder_for_collection(
    db: DbTarget,
    collection: str,
    model: str | None = None,
    pretrained: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Embedder:
    """The image embedder asked for, or, when none is named, the one recorded for the collection.

    `db` is a Backend, or a database target to open (an engine directory, `lite:FILE`, a server URI, a
    BackendSpec; see `workbench.targets`): the record is the sidecar in the backend's workspace. A
    documents collection records its CLIP model (for page images) as `image_embedder`; one with text
    embeddings only has none, and asking for it is a ModelError (see `workbench.text_embedders`).
    """
    from workbench.targets import workspace_target
    from workbench.templates import read_meta

    if model is None and pretrained is None and checkpoint is None:
        meta = read_meta(workspace_target(db), collection) or {}
        rec = meta.get("image_embedder") or meta.get("embedder") or {}
        if rec.get("family", "open_clip") != "open_clip":
            raise ModelError(
                f"collection {collection!r} holds text embeddings of {EmbedderIdentity.from_dict(rec).describe()} "
                "and no image vectors; search it by text (workbench search --text ...)"
            )
        if rec:
            hint = meta.get("checkpoint_path")
            if rec.get("checkpoint_sha256"):
                if not hint or not Path(hint).is_file():
                    raise ModelError(
                        f"collection {collection!r} was embedded with {rec.get('model')} from checkpoint "
                        f"{hint or '(unknown path)'} (sha256 {str(rec['checkpoint_sha256'])[:12]}), which is not "
                        "there any more; pass --checkpoint /path/to/that/file.pt"
                    )
                return load_clip_embedder(rec.get("model"), None, hint, device, batch_size, on_status)
            return load_clip_embedder(rec.get("model"), rec.get("pretrained"), None, device, batch_size, on_status)
    return load_clip_embedder(model, pretrained, checkpoint, device, batch_size, on_status)
