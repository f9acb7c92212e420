"""Model resolution, cache folder, device and dtype choice (no model is loaded here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mctd_llm_torch import cache_root, default_gguf_path, pick_device, pick_dtype
from mctd_llm_torch.loading import (
    ModelNotFoundError,
    ModelSource,
    _add_top_level_rope_theta,
    default_model_dir,
    resolve_source,
)


def test_cache_root_follows_mctd_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    assert default_model_dir().parent == tmp_path / "models"
    monkeypatch.delenv("MCTD_CACHE")
    assert cache_root() == Path.home() / ".cache" / "mctd"


def test_embedded_gguf_is_found_without_importing_its_package() -> None:
    path = default_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert resolve_source(path) == ModelSource(str(path.parent), path.name)


def test_sources(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"holds no config\.json"):
        resolve_source(tmp_path)  # an empty folder is not a model
    (tmp_path / "config.json").write_text("{}")
    assert resolve_source(tmp_path) == ModelSource(str(tmp_path))
    assert resolve_source("HuggingFaceTB/SmolLM2-135M") == ModelSource("HuggingFaceTB/SmolLM2-135M")


def test_rope_theta_is_copied_to_the_top_level(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}}))
    _add_top_level_rope_theta(cfg)
    assert json.loads(cfg.read_text())["rope_theta"] == 1e5


def test_device_and_dtype_choice() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cuda")) == torch.bfloat16
    assert pick_dtype(torch.device("mps")) == torch.float16
    assert pick_dtype(torch.device("cpu"), "bfloat16") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype"):
        pick_dtype(torch.device("cpu"), "float99")
