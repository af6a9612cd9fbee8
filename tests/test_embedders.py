"""CLIP embedders: loading from a checkpoint (the real code path), identity, errors that say what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from ingest_fixtures import gradient, tiny_checkpoint_file, tiny_clip_embedder

from workbench.clip_models import (
    TINY_MODEL_NAME,
    _signature_of_config,
    _signature_of_state_dict,
    file_sha256,
    infer_model_name,
    pick_device,
)
from workbench.embedders import (
    ClipEmbedder,
    Embedder,
    EmbedderIdentity,
    PreparingEmbedder,
    load_clip_embedder,
)
from workbench.settings import ModelError, ModelMismatchError


@pytest.fixture
def tiny_checkpoint() -> Path:
    return tiny_checkpoint_file()


@pytest.fixture
def tiny_embedder() -> Any:
    return tiny_clip_embedder()



def test_checkpoint_loads_with_inferred_model(tiny_embedder: ClipEmbedder, tiny_checkpoint: Path) -> None:
    emb = tiny_embedder
    assert isinstance(emb, Embedder) and isinstance(emb, PreparingEmbedder)
    ident = emb.identity
    assert ident.model == TINY_MODEL_NAME
    assert ident.dim == emb.dim == 64
    assert ident.pretrained is None
    assert ident.checkpoint_sha256 == file_sha256(tiny_checkpoint, use_cache=False)
    assert emb.device == "cpu"
    assert emb.checkpoint_path == str(tiny_checkpoint.resolve())


def test_outputs_are_normalised_and_deterministic(tiny_embedder: ClipEmbedder) -> None:
    images = [gradient(64 + 10 * i, 48 + 7 * i, seed=i) for i in range(11)]  # more than one batch of 8
    a = tiny_embedder.embed_images(images)
    b = tiny_embedder.embed_images(images)
    assert a.shape == (11, 64) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    t = tiny_embedder.embed_texts(["a cat", "a dog", ""])
    assert t.shape == (3, 64) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, rtol=1e-5)
    assert tiny_embedder.embed_texts([]).shape == (0, 64)
    assert tiny_embedder.embed_images([]).shape == (0, 64)
    # prepare + embed_prepared (the pipeline's path) gives the same vectors as embed_images
    prepared = [tiny_embedder.prepare_image(im) for im in images]
    np.testing.assert_allclose(tiny_embedder.embed_prepared(prepared), a, rtol=1e-5, atol=1e-6)


def test_fast_preprocessing_matches_open_clip(tiny_embedder: ClipEmbedder) -> None:
    import open_clip
    from PIL import Image

    _, _, reference = open_clip.create_model_and_transforms(TINY_MODEL_NAME, pretrained=None)
    images = [gradient(640, 480, 1), gradient(90, 300, 2), gradient(224, 224, 3), Image.new("L", (50, 70), 99)]
    for im in images:
        ours, theirs = tiny_embedder.prepare_image(im), reference(im)
        assert ours.shape == theirs.shape == (3, 224, 224) and ours.dtype == theirs.dtype
        assert float((ours - theirs).abs().max()) < 1e-5


def test_explicit_model_name_and_checkpoint(tiny_checkpoint: Path, tiny_embedder: ClipEmbedder) -> None:
    emb = load_clip_embedder(model=TINY_MODEL_NAME, checkpoint=str(tiny_checkpoint), device="cpu")
    assert emb.identity == tiny_embedder.identity
    im = gradient(80, 60, 3)
    np.testing.assert_allclose(emb.embed_images([im]), tiny_embedder.embed_images([im]), rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_architecture_is_explained(tiny_checkpoint: Path) -> None:
    with pytest.raises(ModelError) as e:
        load_clip_embedder(model="ViT-B-32", checkpoint=tiny_checkpoint, device="cpu")
    msg = str(e.value)
    assert "does not fit model ViT-B-32" in msg and f"--model {TINY_MODEL_NAME}" in msg


def test_missing_weights_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home-for-test")
    statuses: list[str] = []
    with pytest.raises(ModelError) as e:
        load_clip_embedder(model="ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu",
                           on_status=statuses.append)
    msg = str(e.value)
    assert "laion2b_s34b_b79k" in msg and "internet" in msg and "--checkpoint" in msg
    assert "~/.cache/huggingface" in msg and "torch.save" in msg
    assert "\n" not in msg
    assert statuses and "HF_HUB_OFFLINE" in statuses[0]


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home-for-test")
    for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(k, raising=False)
    t = time.monotonic()
    with pytest.raises(ModelError, match=r"Hugging Face cannot be reached from here.*--checkpoint"):
        load_clip_embedder(model="ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu")
    assert time.monotonic() - t < 10


def test_unknown_tag_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="not a known pretrained tag for ViT-B-32; known tags: .*laion2b_s34b_b79k"):
        load_clip_embedder(model="ViT-B-32", pretrained="no-such-tag", device="cpu")
    with pytest.raises(ModelError, match="unknown CLIP model 'ViT-Q-99'"):
        load_clip_embedder(model="ViT-Q-99", pretrained="x", device="cpu")


def test_bad_checkpoint_files(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with pytest.raises(ModelError, match="checkpoint file not found"):
        load_clip_embedder(checkpoint=tmp_path / "missing.pt", device="cpu")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a torch file")
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        load_clip_embedder(checkpoint=junk, device="cpu")
    with pytest.raises(ModelError, match="either a pretrained tag or a checkpoint"):
        load_clip_embedder(pretrained="x", checkpoint=tiny_checkpoint)


def test_pickled_model_object_is_refused_with_advice(tmp_path: Path) -> None:
    import open_clip
    import torch

    model = open_clip.create_model(TINY_MODEL_NAME, pretrained=None)
    path = tmp_path / "whole-model.pt"
    torch.save(model, path)
    with pytest.raises(ModelError, match=r"pickled model object.*model\.state_dict\(\)"):
        load_clip_embedder(checkpoint=path, device="cpu")


def test_identity_mismatch_message() -> None:
    a = EmbedderIdentity("ViT-B-32", None, "a" * 64, 512)
    b = EmbedderIdentity("ViT-B-32", "laion2b_s34b_b79k", None, 512)
    a.check_same(EmbedderIdentity.from_dict(a.to_dict()), "photos")
    with pytest.raises(ModelMismatchError, match="collection 'photos' was embedded with ViT-B-32 .checkpoint"):
        a.check_same(b, "photos")


def test_device_selection() -> None:
    import torch

    assert pick_device(None) in ("cpu", "cuda", "mps")
    assert pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert pick_device(None) != "cuda"
        with pytest.raises(ModelError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ModelError, match="unknown device"):
        pick_device("tpu")


def test_architecture_inference_from_shapes() -> None:
    import open_clip

    def sd_for(name: str) -> dict[str, SimpleNamespace]:
        cfg = open_clip.get_model_config(name)
        v, t, e = cfg["vision_cfg"], cfg["text_cfg"], cfg["embed_dim"]
        grid = v["image_size"] // v["patch_size"]
        sd = {
            "text_projection": SimpleNamespace(shape=(t["width"], e)),
            "visual.conv1.weight": SimpleNamespace(shape=(v["width"], 3, v["patch_size"], v["patch_size"])),
            "visual.positional_embedding": SimpleNamespace(shape=(grid * grid + 1, v["width"])),
            "token_embedding.weight": SimpleNamespace(shape=(t["vocab_size"], t["width"])),
            "positional_embedding": SimpleNamespace(shape=(t["context_length"], t["width"])),
        }
        for i in range(v["layers"]):
            sd[f"visual.transformer.resblocks.{i}.ln_1.weight"] = SimpleNamespace(shape=(v["width"],))
        for i in range(t["layers"]):
            sd[f"transformer.resblocks.{i}.ln_1.weight"] = SimpleNamespace(shape=(t["width"],))
        return sd

    for name in ("ViT-B-32", "ViT-L-14", "ViT-B-16"):
        sig = _signature_of_state_dict(sd_for(name))
        assert sig == _signature_of_config(open_clip.get_model_config(name)), name


def test_infer_model_name_on_real_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    assert infer_model_name(tiny_checkpoint) == TINY_MODEL_NAME
    import torch

    odd = tmp_path / "odd.pt"
    torch.save({"weight": torch.zeros(3)}, odd)
    assert infer_model_name(odd) is None
    with pytest.raises(ModelError, match="cannot tell which CLIP architecture"):
        load_clip_embedder(checkpoint=odd, device="cpu")


@pytest.mark.slow
def test_vit_b_32_checkpoint_loads(tmp_path: Path) -> None:
    """A checkpoint saved from a randomly initialised ViT-B-32 loads alone and with --model ViT-B-32."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path / "vit-b-32-random.pt"
    torch.save(model.state_dict(), path)
    del model
    emb = load_clip_embedder(checkpoint=path, device="cpu")
    assert emb.identity.model == "ViT-B-32" and emb.dim == 512
    v = emb.embed_images([gradient(300, 200, 1)])
    assert v.shape == (1, 512)
    emb2 = load_clip_embedder(model="ViT-B-32", checkpoint=path, device="cpu")
    assert emb2.identity == emb.identity


def test_workbench_imports_do_not_import_torch() -> None:
    code = (
        "import sys, workbench.cli, workbench.ingest, workbench.embedders, workbench.collection_ops; "
        "bad = [m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
