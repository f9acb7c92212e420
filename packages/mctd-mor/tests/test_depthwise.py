"""Depth-wise batched decoding equals synchronous decoding and the full forward pass."""

from __future__ import annotations

import pytest
import torch
from mctd_mor import Compute, MoRCache
from mctd_mor.depthwise import decode_depthwise
from mctd_mor.testing import tiny_model


def _sync(model, ids, start, depths, compute=None):
    cache = MoRCache()
    d0 = None if depths is None else depths[:, :start]
    model(ids[:, :start], cache=cache, depths=d0, compute=compute)
    outs, deps = [], []
    b = ids.shape[0]
    for t in range(start, ids.shape[1]):
        d = None if depths is None else depths[:, t : t + 1]
        o = model(ids[:, t : t + 1], torch.full((b, 1), t), cache=cache, depths=d, compute=compute)
        outs.append(o.logits)
        deps.append(o.depth)
    return torch.cat(outs, 1), torch.cat(deps, 1), cache


def _depthwise(model, ids, start, depths, compute=None):
    cache = MoRCache()
    d0 = None if depths is None else depths[:, :start]
    model(ids[:, :start], cache=cache, depths=d0, compute=compute)
    return decode_depthwise(model, ids, start, cache, depths=depths, compute=compute), cache


@pytest.mark.parametrize("arch", ["vanilla", "recursive", "mor-ec", "mor-tc"])
@pytest.mark.parametrize("sharing", ["cycle", "middle_cycle"])
@pytest.mark.parametrize("seed", [0, 1])
def test_depthwise_equals_sync_with_forced_depths(arch: str, sharing: str, seed: int) -> None:
    model = tiny_model(arch, seed=seed, sharing=sharing).double()
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 29, (4, 11), generator=g)
    n_r = model.cfg.n_recursion
    depths = torch.randint(0, n_r + 1, (4, 11), generator=g) if arch.startswith("mor") else None
    full = model(ids, depths=depths)
    sync, sync_depth, sync_cache = _sync(model, ids, 3, depths)
    out, cache = _depthwise(model, ids, 3, depths)
    assert torch.allclose(out.logits, sync, atol=1e-9)
    assert torch.allclose(out.logits, full.logits[:, 3:], atol=1e-9)
    assert torch.equal(out.depth, sync_depth)
    assert cache.entries() == sync_cache.entries()  # same tokens cached at every depth
    for name, kv in sync_cache.slots.items():
        got = cache.slots[name]
        assert torch.equal(got.valid.sum(1), kv.valid.sum(1)), name


@pytest.mark.parametrize("arch", ["mor-ec", "mor-tc"])
def test_depthwise_equals_sync_with_router_decisions(arch: str) -> None:
    model = tiny_model(arch, seed=3).double()
    ids = torch.randint(0, 29, (5, 12), generator=torch.Generator().manual_seed(3))
    seen: set[int] = set()
    for c in (Compute(threshold=0.3), Compute(threshold=0.6), Compute(max_depth=2)):
        sync, sync_depth, _ = _sync(model, ids, 2, None, c)
        out, _ = _depthwise(model, ids, 2, None, c)
        assert torch.allclose(out.logits, sync, atol=1e-9)
        assert torch.equal(out.depth, sync_depth)
        seen |= set(out.depth.flatten().tolist())
    assert len(seen) > 1  # rows really sit at different depths


def test_depthwise_block_calls_are_the_longest_row_total() -> None:
    """Every live row takes one recursion per tick (exits are served within the tick), so the
    block runs max over rows of the row's summed depths times, where synchronous decoding runs
    the sum over steps of the deepest depth any row reaches."""
    model = tiny_model("mor-ec", seed=0).double()
    b, t, start = 8, 20, 2
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 29, (b, t), generator=g)
    depths = torch.randint(1, 4, (b, t), generator=g)
    out, _ = _depthwise(model, ids, start, depths)
    fed = depths[:, start:]
    assert out.ticks == int(fed.sum(1).max())
    assert out.ticks < int(fed.max(0).values.sum())


def test_depthwise_refuses_shared_kv_and_bad_start() -> None:
    model = tiny_model("mor-ec", kv_mode="share")
    ids = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="recursion-wise"):
        decode_depthwise(model, ids, 2, MoRCache())
    with pytest.raises(ValueError, match="start"):
        decode_depthwise(tiny_model("mor-ec"), ids, 0, MoRCache())
