"""Tiny in-process models for tests and examples: a random Llama with a character tokenizer.

Nothing here touches the network or the disk; the weights come from ``torch.manual_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from mctd_llm_torch.model import TorchLM

VOCAB = 64
EOS = 0


def char_tokenizer(vocab: int = VOCAB) -> PreTrainedTokenizerFast:
    """One token per character: ``<eos>``, ``<pad>``, a-z, space and punctuation, then fillers."""
    chars = ["<eos>", "<pad>", *[chr(c) for c in range(ord("a"), ord("z") + 1)], *" .,!?"]
    chars += [f"<x{i}>" for i in range(vocab - len(chars))]
    tk = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", pad_token="<pad>")


def tiny_llama(seed: int = 0, attn: str = "sdpa", eos: int = EOS) -> LlamaForCausalLM:
    """A 2-layer, 32-wide random Llama (GQA: 4 query heads, 2 key/value heads), context 128."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(  # type: ignore[call-arg]
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        eos_token_id=eos,
        pad_token_id=1,
        bos_token_id=None,
        tie_word_embeddings=False,
        attn_implementation=attn,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = eos
    return model


def tiny_lm(seed: int = 0, attn: str = "sdpa", eos: int = EOS, **kwargs: Any) -> TorchLM:
    """`TorchLM` around `tiny_llama` on the CPU."""
    return TorchLM.from_model(tiny_llama(seed, attn, eos), char_tokenizer(), device="cpu", **kwargs)


def full_logprobs(lm: TorchLM, seq: Sequence[int]) -> torch.Tensor:
    """Reference: next-token log-probs at every position from one plain full forward pass."""
    with torch.inference_mode():
        ids = torch.tensor([list(seq)], device=lm.device)
        logits = lm.model(input_ids=ids).logits[0].float()
    return torch.log_softmax(logits, dim=-1).cpu()
