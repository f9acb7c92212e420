"""Tiny in-process models for the chat tests: a random 2-layer Llama over characters that include
JSON's, with a chat template, saved to a folder so that the CLI and the server load it by path."""

from __future__ import annotations

from pathlib import Path

from mctd_llm_torch import TorchLM
from mctd_llm_torch.testing import VOCAB, tiny_llama
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

CHARS = [
    "<eos>",
    "<pad>",
    *[chr(c) for c in range(ord("a"), ord("z") + 1)],
    *"0123456789",
    *' .,!?{}[]":-\n',
    *"ABCDEFGHIJKLM",
]
TEMPLATE = (
    "{% for m in messages %}{{ m['role'][0] }}: {{ m['content'] | lower }}\n{% endfor %}"
    "{% if add_generation_prompt %}a: {% endif %}"
)


def tokenizer() -> PreTrainedTokenizerFast:
    """One token per character (every token decodes to one character and back), a chat template."""
    assert len(CHARS) == VOCAB
    tk = Tokenizer(models.WordLevel({c: i for i, c in enumerate(CHARS)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tk.decoder = decoders.Fuse()
    out = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", pad_token="<pad>")
    out.chat_template = TEMPLATE
    return out


def tiny_chat_lm(seed: int = 0) -> TorchLM:
    return TorchLM.from_model(tiny_llama(seed), tokenizer(), device="cpu")


def save_tiny(folder: Path, seed: int = 0) -> Path:
    """Write the tiny model and its tokenizer to ``folder`` (loadable with ``--model folder``)."""
    tiny_llama(seed).save_pretrained(folder)
    tokenizer().save_pretrained(folder)
    return folder
