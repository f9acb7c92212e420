"""GGUF -> MLX conversion on a tiny llama GGUF written here (the real one is tested elsewhere):
exact weights (llama.cpp's q/k permutation undone), top-level rope_theta, tokenizer, reuse and
atomicity of the cached folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

import mlx.core as mx
from mctd_llm_mlx import MLXLM, convert
from mctd_llm_mlx.convert import ensure_converted

pytestmark = pytest.mark.mlx

ROPE_THETA = 50000.0
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}"


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's convert script: half-split rotary rows -> interleaved."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _byte_tokens() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return [*sorted(ByteLevel.alphabet()), "ab"]


def write_tiny_gguf(path: Path, cfg: dict, weights: dict[str, np.ndarray]) -> Path:
    from gguf import GGUFWriter

    tokens = _byte_tokens() + SPECIALS
    w = GGUFWriter(str(path), "llama")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_dimension_count(cfg["head_dim"])
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([1] * (len(tokens) - 3) + [3, 3, 3])
    w.add_token_merges(["a b"])
    w.add_bos_token_id(len(tokens) - 2)
    w.add_eos_token_id(len(tokens) - 1)
    w.add_chat_template(TEMPLATE)
    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    sub = {
        "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }  # fmt: skip
    for name, arr in weights.items():
        if name not in names:
            layer, rest = name.removeprefix("model.layers.").split(".", 1)
            module = rest.removesuffix(".weight")
            names[name] = f"blk.{layer}.{sub[module]}.weight"
            if module == "self_attn.q_proj":
                arr = _permute(arr, cfg["num_attention_heads"])
            elif module == "self_attn.k_proj":
                arr = _permute(arr, cfg["num_key_value_heads"])
        w.add_tensor(names[name], np.ascontiguousarray(arr))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def gguf_file(tmp_path: Path, tiny) -> tuple[Path, dict[str, np.ndarray]]:
    weights = tiny.weights(seed=1, vocab=len(_byte_tokens()) + len(SPECIALS))
    return write_tiny_gguf(tmp_path / "tiny.gguf", tiny.config, weights), weights


def test_conversion_is_exact(gguf_file, tmp_path: Path) -> None:
    path, weights = gguf_file
    out = ensure_converted(path, tmp_path / "out", verbose=False)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["rope_theta"] == ROPE_THETA  # top level: mlx-lm would silently use 10000
    assert cfg["model_type"] == "llama" and cfg["tie_word_embeddings"] is False
    saved = mx.load(str(out / "model.safetensors"))
    assert set(saved) == set(weights)
    for name, arr in weights.items():
        np.testing.assert_array_equal(np.array(saved[name]), arr, err_msg=name)


def test_converted_model_loads_and_tokenizes(gguf_file, tmp_path: Path, monkeypatch) -> None:
    path, _ = gguf_file
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    lm = MLXLM(str(path), progress=False)
    assert (tmp_path / "cache" / "mlx-gguf").is_dir()
    ids = lm.encode("ab c<|im_end|>")
    assert lm.decode(ids) == "ab c" and ids[-1] == lm.vocab_size - 1
    assert len(ids) == 4  # "ab" (merged), " " , "c", <|im_end|>
    assert lm.chat_prompt([{"role": "user", "content": "ab"}])[0] == lm.vocab_size - 2
    assert lm.eos_token_ids >= {lm.vocab_size - 1}
    lp = lm.next_logprobs([ids])
    assert lp.shape == (1, lm.vocab_size) and np.isfinite(lp).all()


def test_conversion_is_reused_and_atomic(gguf_file, tmp_path: Path, monkeypatch) -> None:
    path, _ = gguf_file
    target = tmp_path / "out"

    def broken(*args, **kwargs):
        (args[1] / "partial.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(convert, "convert_gguf", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            ensure_converted(path, target, verbose=False)
    assert list(tmp_path.iterdir()) == [path]  # no target, no temporary folder left behind
    ensure_converted(path, target, verbose=False)
    stamp = (target / "mctd_stamp.json").stat().st_mtime_ns
    with monkeypatch.context() as m:
        m.setattr(convert, "convert_gguf", broken)
        assert ensure_converted(path, target, verbose=False) == target  # reused, not redone
    assert (target / "mctd_stamp.json").stat().st_mtime_ns == stamp
    (target / "mctd_stamp.json").write_text("{}")  # stale: converted again
    ensure_converted(path, target, verbose=False)
    assert json.loads((target / "mctd_stamp.json").read_text())["source"] == "tiny.gguf"
