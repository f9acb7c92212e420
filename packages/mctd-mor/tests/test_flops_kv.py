"""The FLOP counter equals a hand count; KV memory is what each caching mode should hold."""

from __future__ import annotations

import torch
from mctd_mor import FlopCounter, MoRCache
from mctd_mor.testing import tiny_model

D, F, V = 16, 32, 29


def _layer_flops(tokens: int, pairs: int, shared: bool = False) -> int:
    proj = 2 * tokens * D * D * (2 if shared else 4)  # q, o (+ k, v)
    return proj + 2 * tokens * D * 3 * F + 4 * pairs * D


def test_flops_vanilla_hand_count() -> None:
    model = tiny_model("vanilla", n_layers=2)
    f = FlopCounter()
    model(torch.zeros(1, 4, dtype=torch.long), flops=f)
    pairs = 1 + 2 + 3 + 4
    assert f.total == 2 * _layer_flops(4, pairs) + 2 * 4 * D * V


def test_flops_mor_hand_count_with_given_depths() -> None:
    # middle-cycle, 4 unique layers: first, block of 2 layers (x3), last
    model = tiny_model("mor-ec")
    depths = torch.tensor([[3, 1, 2, 3, 1]])
    f = FlopCounter()
    model(torch.zeros(1, 5, dtype=torch.long), depths=depths, flops=f)
    full = _layer_flops(5, 15)  # 5 tokens, causal pairs 1+..+5
    r1 = _layer_flops(5, 15)
    r2 = _layer_flops(3, 6)  # tokens 0, 2, 3 attend among themselves: 1+2+3
    r3 = _layer_flops(2, 3)  # tokens 0, 3
    router = 2 * D * (5 + 5 + 3)  # scored: all at r1, active ones at r2 and r3
    want = 2 * full + 2 * (r1 + r2 + r3) + router + 2 * 5 * D * V
    assert f.total == want
    assert f.by_kind["router"] == router


def test_flops_shared_kv_hand_count() -> None:
    model = tiny_model("mor-ec", kv_mode="share")
    depths = torch.tensor([[3, 1, 2, 3, 1]])
    f = FlopCounter()
    model(torch.zeros(1, 5, dtype=torch.long), depths=depths, flops=f, logits="none")
    # depths >= 2 compute queries only and attend to recursion-1 keys of all earlier tokens
    r2 = _layer_flops(3, 1 + 3 + 4, shared=True)  # tokens 0, 2, 3 over keys <= them
    r3 = _layer_flops(2, 1 + 4, shared=True)
    want = 2 * _layer_flops(5, 15) + 2 * (_layer_flops(5, 15) + r2 + r3) + 2 * D * 13
    assert f.total == want


def test_kv_memory_by_mode() -> None:
    depths = torch.tensor([[3, 1, 2, 3, 1, 2]])
    ids = torch.zeros(1, 6, dtype=torch.long)
    per_entry = 2 * D * 4  # k and v, float32
    rec = MoRCache()
    tiny_model("recursive")(ids, cache=rec)
    rw = MoRCache()
    tiny_model("mor-ec")(ids, depths=depths, cache=rw)
    sh = MoRCache()
    tiny_model("mor-ec", kv_mode="share")(ids, depths=depths, cache=sh)
    assert rec.nbytes() == (2 + 2 * 3) * 6 * per_entry
    assert rw.nbytes() == (2 * 6 + 2 * (6 + 4 + 2)) * per_entry
    assert sh.nbytes() == (2 * 6 + 2 * 6) * per_entry
