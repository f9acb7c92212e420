"""Full-depth MoR == fixed-depth recursive model; incremental decoding == full forward."""

from __future__ import annotations

import pytest
import torch
from mctd_mor import Compute, MoRCache
from mctd_mor.testing import tiny_model


def _same_weights(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    sd = {k: v for k, v in src.state_dict().items() if k in dst.state_dict()}
    dst.load_state_dict(sd, strict=False)


@pytest.mark.parametrize("sharing", ["cycle", "middle_cycle"])
@pytest.mark.parametrize("routing", ["topk", "threshold"])
def test_full_depth_expert_choice_equals_recursive(sharing: str, routing: str) -> None:
    rec = tiny_model("recursive", sharing=sharing).double()
    mor = tiny_model("mor-ec", seed=1, sharing=sharing, capacities=(1.0, 1.0, 1.0), alpha=2.0)
    mor = mor.double()
    _same_weights(mor, rec)
    assert mor.ec is not None
    for p in mor.ec.parameters():  # sigmoid(0) = 1/2, so the gate alpha * 1/2 = 1
        p.data.zero_()
    ids = torch.randint(0, 29, (3, 11), generator=torch.Generator().manual_seed(0))
    a, b = rec(ids).logits, mor(ids, routing=routing).logits
    assert torch.allclose(a, b, atol=1e-10)
    assert (mor(ids, routing=routing).depth == 3).all()


def _decode(model, ids, depths, kv_mode_cache: MoRCache, compute=None):
    outs = []
    b, n = ids.shape
    for t in range(n):
        d = None if depths is None else depths[:, t : t + 1]
        o = model(
            ids[:, t : t + 1], torch.full((b, 1), t), cache=kv_mode_cache, depths=d, compute=compute
        )
        outs.append(o.logits)
    return torch.cat(outs, 1)


@pytest.mark.parametrize("arch", ["vanilla", "recursive", "mor-ec", "mor-tc"])
@pytest.mark.parametrize("kv_mode", ["recursion", "share"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_decoding_equals_full_forward(arch: str, kv_mode: str, seed: int) -> None:
    model = tiny_model(arch, seed=seed, kv_mode=kv_mode).double()
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 29, (2, 9), generator=g)
    n_r = model.cfg.n_recursion
    depths = torch.randint(1, n_r + 1, (2, 9), generator=g) if arch.startswith("mor") else None
    full = model(ids, depths=depths)
    inc = _decode(model, ids, depths, MoRCache())
    assert torch.allclose(full.logits, inc, atol=1e-9)


@pytest.mark.parametrize("kv_mode", ["recursion", "share"])
def test_incremental_equals_full_with_threshold_routing(kv_mode: str) -> None:
    model = tiny_model("mor-ec", seed=3, kv_mode=kv_mode).double()
    ids = torch.randint(0, 29, (2, 12), generator=torch.Generator().manual_seed(3))
    seen: set[int] = set()
    for tau in (0.3, 0.5, 0.7):
        c = Compute(threshold=tau)
        full = model(ids, compute=c)
        seen |= set(full.depth.flatten().tolist())
        assert torch.allclose(full.logits, _decode(model, ids, None, MoRCache(), c), atol=1e-9)
    assert len(seen) > 1  # routing really varies


def test_chunked_prefill_equals_full_forward() -> None:
    model = tiny_model("mor-ec", seed=4).double()
    ids = torch.randint(0, 29, (1, 10), generator=torch.Generator().manual_seed(4))
    full = model(ids).logits
    cache = MoRCache()
    a = model(ids[:, :6], cache=cache).logits
    b = model(ids[:, 6:], torch.arange(6, 10)[None], cache=cache).logits
    assert torch.allclose(full, torch.cat([a, b], 1), atol=1e-9)


def test_expert_choice_decode_never_looks_ahead() -> None:
    model = tiny_model("mor-ec", seed=5).double()
    ids = torch.randint(0, 29, (1, 12), generator=torch.Generator().manual_seed(5))
    other = ids.clone()
    other[0, 8:] = (other[0, 8:] + 7) % 29
    a, b = model(ids), model(other)
    assert torch.equal(a.depth[:, :8], b.depth[:, :8])
    assert torch.allclose(a.logits[:, :8], b.logits[:, :8], atol=1e-12)
    # top-k over the sequence does look ahead (why the BCE router loss exists)
    ta, tb = model(ids, routing="topk"), model(other, routing="topk")
    assert not torch.equal(ta.depth[:, :8], tb.depth[:, :8]) or not torch.allclose(
        ta.logits[:, :8], tb.logits[:, :8]
    )


@pytest.mark.parametrize("sharing", ["cycle", "middle_cycle"])
@pytest.mark.parametrize("kv_mode", ["recursion", "share"])
def test_packed_batch_decoding_equals_full_and_caches_compactly(sharing: str, kv_mode: str) -> None:
    """Rows that skip a recursion sit it out; each depth's slot holds only its tokens, packed."""
    model = tiny_model("mor-ec", seed=4, sharing=sharing, kv_mode=kv_mode).double()
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(0, 29, (5, 10), generator=g)
    depths = torch.randint(1, 4, (5, 10), generator=g)
    depths[0] = 1  # a row that never goes deeper than one recursion
    cache = MoRCache()
    prefill = model(ids[:, :3], cache=cache, depths=depths[:, :3])
    rest = _decode_from(model, ids, depths, cache, 3)
    full = model(ids, depths=depths)
    assert torch.allclose(full.logits, torch.cat([prefill.logits, rest], 1), atol=1e-9)
    for r in range(1 if kv_mode == "share" else 3):
        kv = cache.slots[f"block.{r}.0"]
        per_row = (depths > r).sum(1)
        assert torch.equal(kv.valid.sum(1), per_row)  # only the tokens that reached depth r
        assert kv.k.shape[2] == int(per_row.max())  # left-aligned: width = the longest row
        assert kv.held_bytes() >= kv.nbytes()


def _decode_from(model, ids, depths, cache: MoRCache, start: int):
    b, n = ids.shape
    outs = []
    for t in range(start, n):
        o = model(
            ids[:, t : t + 1], torch.full((b, 1), t), cache=cache, depths=depths[:, t : t + 1]
        )
        outs.append(o.logits)
    return torch.cat(outs, 1)
