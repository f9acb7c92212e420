"""A saved MoR LM as a `MoRLM`: the ``mor`` backend of the apps (``--backend mor --model DIR``).

``DIR`` is a ``mctd-train mor`` run directory or its ``model/`` folder: ``config.json`` +
``model.safetensors`` (`mctd_mor.io`) and the ``tokenizer.json`` it was trained with (a Hugging
Face ``tokenizers`` file; ``<|endoftext|>`` is the EOS).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from mctd_tree.errors import UserError

from mctd_mor.io import CONFIG, MoRLoadError, load_model
from mctd_mor.lm import MoRLM

TOKENIZER = "tokenizer.json"
EOS = "<|endoftext|>"


class FileTokenizer:
    """A ``tokenizers.Tokenizer`` behind the Hugging Face style surface `MoRLM` uses."""

    def __init__(self, path: Path, eos: str = EOS) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path))
        self.eos_token = eos
        self.eos_token_id = self.tok.token_to_id(eos)
        self.all_special_tokens = [eos] if self.eos_token_id is not None else []

    def __len__(self) -> int:
        return int(self.tok.get_vocab_size())

    def get_vocab(self) -> dict[str, int]:
        return dict(self.tok.get_vocab())

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return str(self.tok.decode(list(ids), skip_special_tokens=skip_special_tokens))


def model_folder(path: str | Path) -> Path:
    """The model folder of ``path`` (a run directory or the folder itself); clear errors."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise MoRLoadError(f"{folder} does not exist: expected a `mctd-train mor` run directory")
    if (folder / "model").is_dir():
        folder = folder / "model"
    if not (folder / CONFIG).is_file():
        raise MoRLoadError(
            f"{folder} holds no {CONFIG}: not a MoR model folder (a `mctd-train mor` run "
            "directory or its model/ folder)"
        )
    if not (folder / TOKENIZER).is_file():
        raise MoRLoadError(f"{folder} holds no {TOKENIZER}: the model's tokenizer is missing")
    return folder


def load_lm(path: str | Path, *, device: str | None = None, **kwargs: Any) -> MoRLM:
    """A `MoRLM` of the saved model at ``path`` (``kwargs`` go to `MoRLM`)."""
    folder = model_folder(path)
    model = load_model(folder, device=device or "cpu")
    return MoRLM(model, FileTokenizer(folder / TOKENIZER), **kwargs)


def load(
    model: str,
    *,
    threads: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> MoRLM:
    """The ``mor`` entry point of ``mctd.lm_backends``: ``model`` is a run or model folder."""
    del progress  # a few MB load instantly
    if model == "default":
        raise UserError(
            "the mor backend has no default model: pass --model DIR, a `mctd-train mor` run "
            "directory (or its model/ folder)"
        )
    if threads:
        torch.set_num_threads(int(threads))
    return load_lm(model, device=device)
