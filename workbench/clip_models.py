"""Loading open_clip models: names, tags, checkpoints, devices, and clear errors.

torch and open_clip are imported inside the functions that need them (importing
open_clip takes seconds), never at module import.

- `register_tiny_test_model()` registers a tiny CLIP architecture (embed dim 64)
  for tests and demos; checkpoints of it load like any other.
- `infer_model_name(checkpoint)` guesses the architecture of a state_dict
  checkpoint from its tensor shapes, so `--checkpoint file.pt` works alone.
- `load_open_clip(...)` creates the model, its image transform and tokenizer, and
  turns open_clip's failures into `ModelError` messages that say what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.settings import ModelError, cache_dir

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
TINY_MODEL_NAME = "workbench-tiny-test"
# A CLIP small enough for unit tests: ~1,400 images/s on two CPU cores.
TINY_MODEL_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
CHECKPOINT_HOWTO = (
    "to make a checkpoint file: python -c \"import open_clip, torch; "
    "m = open_clip.create_model('ViT-B-32', pretrained='laion2b_s34b_b79k'); "
    "torch.save(m.state_dict(), 'vit-b-32.pt')\" on a machine with internet"
)

_register_lock = threading.Lock()
_registered_tiny = False


def register_tiny_test_model() -> str:
    """Register the tiny test architecture with open_clip (idempotent); return its model name."""
    global _registered_tiny
    import open_clip

    with _register_lock:
        if not _registered_tiny or TINY_MODEL_NAME not in open_clip.list_models():
            folder = Path(tempfile.gettempdir()) / f"vector-workbench-models-{os.getuid() if hasattr(os, 'getuid') else 0}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{TINY_MODEL_NAME}.json"
            text = json.dumps(TINY_MODEL_CONFIG)
            if not path.exists() or path.read_text() != text:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
            open_clip.add_model_config(path)
            _registered_tiny = True
    return TINY_MODEL_NAME


def pick_device(requested: str | None = None) -> str:
    """`requested` if given (validated), else CUDA, then MPS, then CPU."""
    import torch

    if requested and requested != "auto":
        dev = requested.lower()
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device {requested!r} was asked for but CUDA is not available here; use --device cpu")
        if dev == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ModelError("device 'mps' was asked for but Apple MPS is not available here; use --device cpu")
        if not (dev == "cpu" or dev == "mps" or dev.startswith("cuda")):
            raise ModelError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
        return dev
    if torch.cuda.is_available():
        return "cuda"
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_batch_size(device: str) -> int:
    """Images per forward pass suited to the device (bigger on GPUs)."""
    if device.startswith("cuda"):
        import torch

        try:
            total = torch.cuda.get_device_properties(torch.device(device)).total_memory
        except Exception:
            total = 0
        return 256 if total >= 12 * 2**30 else 64
    if device == "mps":
        return 64
    return 32


# --- checkpoint checksums ----------------------------------------------------
def file_sha256(path: str | os.PathLike[str], use_cache: bool = True) -> str:
    """sha256 of a file; cached by (absolute path, size, mtime) since checkpoints are large."""
    p = Path(path).resolve()
    st = p.stat()
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = cache_dir() / "checksums.json"
    cache: dict[str, str] = {}
    if use_cache:
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if use_cache:
        try:
            cache = {k: v for k, v in cache.items() if not k.startswith(f"{p}|")}
            cache[key] = digest
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, cache_file)
        except OSError:
            pass
    return digest


# --- architecture inference --------------------------------------------------
@dataclass(frozen=True)
class _Signature:
    embed_dim: int
    v_width: int
    v_layers: int
    v_patch: int
    v_image: int
    t_width: int
    t_layers: int
    t_context: int
    t_vocab: int


def _count_blocks(keys: list[str], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in keys if (m := pat.match(k))}
    return max(found) + 1 if found else 0


def _signature_of_state_dict(sd: dict[str, Any]) -> _Signature | None:
    need = ("text_projection", "visual.conv1.weight", "visual.positional_embedding", "token_embedding.weight",
            "positional_embedding")
    if not all(k in sd for k in need):
        return None
    keys = list(sd)
    conv = sd["visual.conv1.weight"].shape
    grid = int(round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5))
    return _Signature(
        embed_dim=int(sd["text_projection"].shape[1]),
        v_width=int(conv[0]),
        v_layers=_count_blocks(keys, "visual.transformer.resblocks."),
        v_patch=int(conv[-1]),
        v_image=int(conv[-1]) * grid,
        t_width=int(sd["token_embedding.weight"].shape[1]),
        t_layers=_count_blocks(keys, "transformer.resblocks."),
        t_context=int(sd["positional_embedding"].shape[0]),
        t_vocab=int(sd["token_embedding.weight"].shape[0]),
    )


def _signature_of_config(cfg: dict[str, Any]) -> _Signature | None:
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    v, t = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    if "timm_model_name" in v or "hf_model_name" in t or cfg.get("custom_text") or "multimodal_cfg" in cfg:
        return None
    try:
        vc, tc = CLIPVisionCfg(**v), CLIPTextCfg(**t)
    except TypeError:
        return None
    if not isinstance(vc.layers, int) or vc.patch_size is None:
        return None
    image = vc.image_size if isinstance(vc.image_size, int) else vc.image_size[0]
    return _Signature(int(cfg["embed_dim"]), vc.width, vc.layers, vc.patch_size, image,
                      tc.width, tc.layers, tc.context_length, tc.vocab_size)


def infer_model_name(checkpoint: str | os.PathLike[str]) -> str | None:
    """The open_clip model name whose architecture matches the checkpoint's shapes, or None."""
    import open_clip

    register_tiny_test_model()
    sd = _load_state_dict_shapes(checkpoint)
    sig = _signature_of_state_dict(sd)
    if sig is None:
        return None
    matches = [n for n in open_clip.list_models() if _signature_of_config(open_clip.get_model_config(n) or {}) == sig]
    if not matches:
        return None
    # Same shapes, different activation: prefer the plain name over "-quickgelu" variants.
    matches.sort(key=lambda n: ("quickgelu" in n.lower(), len(n), n))
    return matches[0]


def _load_state_dict_shapes(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's state_dict, memory-mapped where possible (only shapes are read)."""
    import torch

    path = str(checkpoint)
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            obj: Any = load_file(path, device="cpu")
        else:
            try:
                obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(_checkpoint_read_error(path, e)) from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ModelError(f"checkpoint {path} does not hold a state_dict (a dict of tensors); {CHECKPOINT_HOWTO}")
    if next(iter(obj)).startswith("module."):
        obj = {k[7:]: v for k, v in obj.items()}
    return obj


def _checkpoint_read_error(path: str, e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "Unsupported global" in str(e) or "GLOBAL" in str(e):
        return (f"checkpoint {path} is a pickled model object, which is not loaded for safety; "
                "save the weights only with torch.save(model.state_dict(), 'file.pt')")
    return f"cannot read checkpoint {path}: {text}; {CHECKPOINT_HOWTO}"


def _mismatch(model_name: str, ckpt_path: Path | None) -> str:
    guess = infer_model_name(ckpt_path) if ckpt_path is not None else None
    hint = (f"; it looks like {guess}: pass --model {guess} (or leave --model out)" if guess and guess != model_name
            else "; pass the --model the checkpoint was saved from")
    return f"checkpoint {ckpt_path} does not fit model {model_name}{hint}"


def _check_fits(model_name: str, ckpt_path: Path) -> None:
    """Raise ModelError early when a standard-CLIP checkpoint's shapes do not match `model_name`."""
    import open_clip

    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        return  # reported as an unknown model later
    want = _signature_of_config(cfg)
    have = _signature_of_state_dict(_load_state_dict_shapes(ckpt_path))
    if want is not None and have is not None and want != have:
        raise ModelError(_mismatch(model_name, ckpt_path))


# --- loading -----------------------------------------------------------------
@dataclass
class LoadedModel:
    """An open_clip model ready for inference, with how it was obtained."""

    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[[list[str]], Any]
    model_name: str
    pretrained: str | None
    checkpoint: Path | None
    checkpoint_sha256: str | None
    device: str
    precision: str
    dim: int


def _weights_cached(model_name: str, tag: str) -> bool:
    """True when open_clip's weights for (model, tag) are already in the Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from open_clip.pretrained import get_pretrained_cfg

        cfg = get_pretrained_cfg(model_name, tag)
        repo = (cfg.get("hf_hub") or "").rstrip("/")
        if not repo:
            return False
        for fn in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(repo, fn), str):
                return True
    except Exception:
        return False
    return False


def _missing_weights(model_name: str, tag: str | None, why: str) -> str:
    return (
        f"weights for {model_name} tag {tag!r} are not on this machine and could not be downloaded ({why}): "
        "open_clip needs internet once to fetch them (they are then cached under ~/.cache/huggingface). "
        f"Alternatively pass --checkpoint /path/to/file.pt; {CHECKPOINT_HOWTO}"
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint answers a TCP connect (True when a proxy is configured)."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_open_clip(
    model_name: str | None = None,
    pretrained: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
    on_status: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Create an open_clip model from a pretrained tag or a local checkpoint file.

    With a checkpoint and no model name, the architecture is inferred from the
    checkpoint's shapes. With neither tag nor checkpoint, `ViT-B-32` with its
    default LAION tag is used (downloaded once by open_clip).
    """
    status = on_status or (lambda _msg: None)
    if pretrained and checkpoint:
        raise ModelError("give either a pretrained tag or a checkpoint file, not both")
    import open_clip
    import torch

    register_tiny_test_model()
    ckpt_path: Path | None = None
    sha: str | None = None
    if checkpoint is not None:
        ckpt_path = Path(checkpoint).expanduser()
        if not ckpt_path.is_file():
            raise ModelError(f"checkpoint file not found: {ckpt_path}")
        if model_name is None:
            model_name = infer_model_name(ckpt_path)
            if model_name is None:
                raise ModelError(
                    f"cannot tell which CLIP architecture checkpoint {ckpt_path} is; pass --model NAME "
                    "(for example --model ViT-B-32)"
                )
            status(f"checkpoint {ckpt_path.name} looks like {model_name}")
        else:
            _check_fits(model_name, ckpt_path)
        sha = file_sha256(ckpt_path)
    else:
        model_name = model_name or DEFAULT_MODEL
        pretrained = pretrained or (DEFAULT_PRETRAINED if model_name == DEFAULT_MODEL else None)
        if pretrained is None:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ModelError(
                f"model {model_name} needs a pretrained tag or a checkpoint: pass --pretrained "
                f"{tags[0] if tags else 'TAG'} or --checkpoint /path/to/file.pt"
                + (f" (known tags: {', '.join(tags)})" if tags else "")
            )
    if open_clip.get_model_config(model_name) is None:
        known = [m for m in open_clip.list_models() if m != TINY_MODEL_NAME]
        close = [m for m in known if model_name.lower().replace("/", "-") in m.lower()][:8]
        raise ModelError(
            f"unknown CLIP model {model_name!r}; "
            + (f"did you mean {', '.join(close)}?" if close else f"some known models: {', '.join(known[:12])}")
        )
    dev = pick_device(device)
    precision = "fp16" if (dev.startswith("cuda") or dev == "mps") else "fp32"
    source: str | None = str(ckpt_path) if ckpt_path is not None else pretrained
    if pretrained and not _weights_cached(model_name, pretrained):
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            status(f"HF_HUB_OFFLINE is set: not downloading weights {model_name}/{pretrained}")
        elif not _hub_reachable():
            raise ModelError(_missing_weights(model_name, pretrained, "Hugging Face cannot be reached from here"))
        else:
            status(f"downloading weights {model_name}/{pretrained} from Hugging Face (once; cached afterwards) ...")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=source, device=dev, precision=precision
        )
    except RuntimeError as e:
        msg = str(e)
        if "Failed to download weights" in msg:
            raise ModelError(_missing_weights(model_name, pretrained, "the download failed")) from e
        if "not a known tag" in msg:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ModelError(
                f"{pretrained!r} is not a known pretrained tag for {model_name}"
                + (f"; known tags: {', '.join(tags)}" if tags else "; this model has no published tags")
                + " (or pass --checkpoint /path/to/file.pt)"
            ) from e
        if "size mismatch" in msg or "Missing key" in msg or "Unexpected key" in msg:
            raise ModelError(_mismatch(model_name, ckpt_path)) from e
        raise ModelError(f"cannot load CLIP model {model_name}: {msg.splitlines()[0] if msg else e!r}") from e
    except AssertionError as e:  # open_clip asserts on some shape mismatches
        raise ModelError(_mismatch(model_name, ckpt_path)) from e
    except (OSError, ValueError, KeyError, EOFError) as e:
        where = ckpt_path if ckpt_path is not None else f"{model_name}/{pretrained}"
        raise ModelError(_checkpoint_read_error(str(where), e)) from e
    except Exception as e:
        if type(e).__name__ == "UnpicklingError" and ckpt_path is not None:
            raise ModelError(_checkpoint_read_error(str(ckpt_path), e)) from e
        raise
    model.eval()
    try:
        tokenizer = open_clip.get_tokenizer(model_name)
    except Exception as e:
        raise ModelError(f"cannot load the tokenizer of {model_name}: {e}") from e
    dim = int((open_clip.get_model_config(model_name) or {}).get("embed_dim") or 0)
    if not dim:
        with torch.no_grad():
            dim = int(model.encode_text(tokenizer(["x"]).to(dev)).shape[-1])
    return LoadedModel(model, preprocess, tokenizer, model_name, pretrained if ckpt_path is None else None,
                       ckpt_path, sha, dev, precision, dim)
