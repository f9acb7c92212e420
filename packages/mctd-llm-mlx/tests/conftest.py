"""Shared fixtures: a tiny random Llama written as a Hugging Face folder, and the default model.

Both backends load the same tiny folder (config, safetensors, word-level tokenizer), so the parity
tests compare one set of weights. Tests never touch the network (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
ROLES = ["system", "user", "assistant"]
N_WORDS = 57
VOCAB = SPECIALS + ROLES + [f"w{i}" for i in range(N_WORDS)]  # 64 tokens
EOS_ID = 2
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }}<|im_end|>{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant{% endif %}"
)
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "vocab_size": len(VOCAB),
    "max_position_embeddings": 64,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": EOS_ID,
    "pad_token_id": 0,
    "torch_dtype": "float32",
}


def tiny_weights(seed: int = 0, vocab: int | None = None) -> dict[str, np.ndarray]:
    """Random HF-layout Llama weights of the tiny config (``vocab`` overrides its vocabulary)."""
    c = CONFIG
    rng = np.random.default_rng(seed)
    d, f, v = c["hidden_size"], c["intermediate_size"], vocab or c["vocab_size"]
    hd = c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd

    def mat(rows: int, cols: int, scale: float = 0.5) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)

    def norm() -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(d)).astype(np.float32)

    w = {
        "model.embed_tokens.weight": (rng.standard_normal((v, d))).astype(np.float32),
        "model.norm.weight": norm(),
        "lm_head.weight": mat(v, d, 4.0),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = mat(q, d, 2.0)
        w[p + "self_attn.k_proj.weight"] = mat(kv, d, 2.0)
        w[p + "self_attn.v_proj.weight"] = mat(kv, d)
        w[p + "self_attn.o_proj.weight"] = mat(d, q)
        w[p + "mlp.gate_proj.weight"] = mat(f, d)
        w[p + "mlp.up_proj.weight"] = mat(f, d)
        w[p + "mlp.down_proj.weight"] = mat(d, f)
    return w


def write_tokenizer(out: Path) -> None:
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS[:3]])
    tok.save(str(out / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<unk>",
        "chat_template": CHAT_TEMPLATE,
        "model_max_length": CONFIG["max_position_embeddings"],
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))


def write_tiny_llama(out: Path, seed: int = 0) -> Path:
    """Write the tiny model folder (HF layout, loadable by mlx-lm and transformers)."""
    import mlx.core as mx

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2))
    weights = {k: mx.array(a) for k, a in tiny_weights(seed).items()}
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "pt"})
    write_tokenizer(out)
    return out


def reference_logprobs(lm, seq) -> np.ndarray:
    """Next-token log-probs of ``seq`` by a plain full forward pass (no cache), float32."""
    import mlx.core as mx

    logits = lm.model(mx.array([[int(t) for t in seq]], dtype=mx.int32))[0, -1].astype(mx.float32)
    return np.array(logits - mx.logsumexp(logits), copy=True)


def reference_greedy(lm, seq, n: int) -> list[int]:
    """Greedy continuation by full forward passes, stopping after EOS."""
    out: list[int] = []
    for _ in range(n):
        tok = int(np.argmax(reference_logprobs(lm, [*seq, *out])))
        out.append(tok)
        if tok in lm.eos_token_ids:
            break
    return out


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture
def tiny_lm(tiny_dir: Path):
    from mctd_llm_mlx import MLXLM

    return MLXLM(str(tiny_dir))


@pytest.fixture(scope="session")
def default_lm():
    from mctd_llm_mlx import MLXLM

    return MLXLM("default")


class Reference:
    """Plain, cache-free computations to compare the tree cache against."""

    logprobs = staticmethod(reference_logprobs)
    greedy = staticmethod(reference_greedy)


@pytest.fixture(scope="session")
def ref() -> type[Reference]:
    return Reference


@pytest.fixture(scope="session")
def tiny() -> type[Tiny]:
    return Tiny


class Tiny:
    """The tiny model's config and weight builder, for tests that write their own files."""

    config = CONFIG
    weights = staticmethod(tiny_weights)
