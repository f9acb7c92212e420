"""Bad models, devices and token ids are one clear `UserError` naming the value, at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mctd_llm_torch import TorchLM
from mctd_llm_torch.loading import ModelNotFoundError
from mctd_tree.errors import UserError


def test_model_not_found_is_a_user_error() -> None:
    assert issubclass(ModelNotFoundError, UserError) and issubclass(ModelNotFoundError, OSError)


@pytest.mark.parametrize("device", ["tpu", "gpu0", "cuda:x"])
def test_unknown_device(device: str) -> None:
    with pytest.raises(UserError, match=repr(device)):
        TorchLM("/nonexistent-never-loaded", device=device)


def test_empty_model_folder_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=rf"{tmp_path} holds no config.json"):
        TorchLM(str(tmp_path), device="cpu")


def test_garbage_config_in_a_model_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{this is not json")
    with pytest.raises(ModelNotFoundError, match=rf"cannot load the model in {tmp_path}"):
        TorchLM(str(tmp_path), device="cpu")


@pytest.mark.parametrize("name", ["my-local-modle", "./my-local-modle", "runs/x/model", "~/m"])
def test_a_missing_path_like_model_fails_at_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # would otherwise try the Hub
    with pytest.raises(ModelNotFoundError, match=rf"model path '{name}' does not exist") as err:
        TorchLM(name, device="cpu")
    assert err.value.__cause__ is None  # refused before any Hub request was made


@pytest.mark.parametrize("ids", [[-1], [0, 10**6]])
def test_decode_of_an_id_outside_the_vocabulary(
    make_lm: Callable[..., TorchLM], ids: list[int]
) -> None:
    lm = make_lm()
    bad = next(i for i in ids if not 0 <= i < lm.vocab_size)
    with pytest.raises(UserError, match=rf"token id {bad} is outside the vocabulary"):
        lm.decode(ids)
    assert isinstance(lm.decode([0, 1]), str)
