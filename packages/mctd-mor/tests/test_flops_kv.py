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


def test_attention_bias_is_made_once_and_only_when_needed() -> None:
    """Equal-length rows decoding at their last position attend with no mask; ragged rows get
    -inf on padding; a group reuses its first layer's bias."""
    from mctd_mor.kv import KV
    from mctd_mor.layers import Group, Rope

    pos = torch.tensor([[3], [3]])
    grp = Group(pos, torch.ones(2, 1, dtype=torch.bool), Rope.at(pos, 4, 1e4, torch.float32))
    k = torch.zeros(2, 1, 4, 4)
    kpos = torch.arange(4).expand(2, 4)
    full = KV(k, k, kpos, torch.ones(2, 4, dtype=torch.bool))
    assert grp.attention_bias(full, None) is None
    ragged_valid = torch.tensor([[True, True, False, False], [True, True, True, True]])
    ragged = KV(k, k, kpos, ragged_valid)
    assert grp.attention_bias(ragged, None) is None  # made once: the group's first layer's
    bias = grp.fresh().attention_bias(ragged, None)
    assert bias is not None and bias.shape == (2, 1, 1, 4)
    assert torch.equal(torch.isinf(bias[:, 0, 0]), ~ragged_valid)
