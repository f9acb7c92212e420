"""A byte-level BPE tokenizer trained on the story corpus with HF ``tokenizers``.

Why not SmolLM2's own tokenizer: its 49 152 entries would put ~12 M parameters into the
embedding of a 256-wide model, more than the few-million-parameter models trained here have in
all their layers; a BPE trained on the stories (the shipped one: 2 048 entries, made with
`--tokenizer-only --vocab-size 2048`) covers their simple vocabulary with short sequences (about
the same tokens per story as SmolLM2's) and leaves the parameters to the recursive blocks MoR is
about. Byte level: any text encodes, nothing maps to an unknown token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

EOS = "<|endoftext|>"
TOKENIZER_FILE = "tokenizer.json"


def train_bpe(texts: Sequence[str], vocab_size: int = 4096) -> Any:
    """Train a byte-level BPE (``<|endoftext|>`` is id 0) on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (256 bytes + merges), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    return tok


def save_tokenizer(tok: Any, folder: Path) -> Path:
    """Write ``tokenizer.json`` atomically into ``folder``."""
    from mctd_trainer.corpus.files import atomic_write_bytes

    path = folder / TOKENIZER_FILE
    atomic_write_bytes(path, tok.to_str().encode())
    return path


def load_tokenizer(folder: Path | None = None) -> Any:
    """The corpus tokenizer as a ``transformers.PreTrainedTokenizerFast`` (eos ``<|endoftext|>``).

    ``folder``: a corpus folder or a ``tokenizer.json`` path (default: `find_corpus()`).
    """
    from transformers import PreTrainedTokenizerFast

    from mctd_trainer.corpus.load import CorpusError, find_corpus

    path = Path(folder) if folder is not None else find_corpus()
    if path.is_dir():
        path = path / TOKENIZER_FILE
    if not path.is_file():
        raise CorpusError(f"{path} not found: train it with `mctd-train corpus --tokenizer-only`")
    return PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token=EOS, pad_token=EOS)
