"""Samplers: committed tokens never change, tau = 1 / tau = 0 extremes, the block cache equals no
cache when nothing before it changed, honest counters, bad input."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_thought import DecodeConfig, Decoder, KVCache, generate
from mctd_thought.testing import tiny_model

MODEL = tiny_model("thought", seed=0)
M = MODEL.mask_id


def _trace(cfg: DecodeConfig, prompt: list[list[int]], seed: int = 0) -> list[torch.Tensor]:
    """Every intermediate sequence of a no-cache decode."""
    dec = Decoder(MODEL, cfg, len(prompt[0]), generator=torch.Generator().manual_seed(seed))
    x = torch.cat([torch.tensor(prompt), torch.full((len(prompt), cfg.length - 3), M)], 1)
    out = [x]
    while bool((x == M).any()):
        x, _ = dec.step(x)
        out.append(x)
    return out


@settings(max_examples=12, deadline=None)
@given(
    method=st.sampled_from(["low_confidence", "threshold"]),
    block=st.sampled_from([0, 4]),
    tau=st.floats(0.0, 1.0),
    temperature=st.sampled_from([0.0, 1.0]),
    seed=st.integers(0, 100),
)
def test_committed_tokens_never_change(
    method: str, block: int, tau: float, temperature: float, seed: int
) -> None:
    cfg = DecodeConfig(15, method, block=block, tau=tau, temperature=temperature)
    trace = _trace(cfg, [[0, 5, 6], [0, 7, 8]], seed)
    for a, b in itertools.pairwise(trace):
        known = a != M
        assert torch.equal(a[known], b[known])  # prompt and committed tokens kept
        assert bool(((a == M) & (b != M)).any(-1)[(a == M).any(-1)].all())  # progress per row
    assert not bool((trace[-1] == M).any())


def test_tau_one_commits_one_token_per_step_and_tau_zero_a_block_per_step() -> None:
    one = generate(MODEL, [0, 1, 2], DecodeConfig(19, "threshold", tau=1.0))
    assert one.stats.row_forwards == 16 and one.stats.tokens == 16
    blocks = generate(MODEL, [0, 1, 2], DecodeConfig(19, "threshold", block=4, tau=0.0))
    assert blocks.stats.row_forwards == 4 and blocks.stats.tokens_per_forward == 4.0
    whole = generate(MODEL, [0, 1, 2], DecodeConfig(19, "threshold", tau=0.0))
    assert whole.stats.row_forwards == 1


def test_semi_ar_blocks_fill_left_to_right() -> None:
    trace = _trace(DecodeConfig(15, "threshold", block=4, tau=0.5), [[0, 5, 6]])
    for x in trace:
        masked = (x[0, 3:] == M).view(3, 4).any(-1).tolist()
        # once a block is finished, every block before it is finished too
        assert masked == sorted(masked)


def test_low_confidence_steps_and_counts() -> None:
    g = generate(MODEL, [[0, 1, 2]] * 2, DecodeConfig(19, block=8, steps=4))
    assert g.stats.calls == 4 and g.stats.row_forwards == 8
    assert g.stats.nfe == 4 * 2 * 19 and g.stats.tokens_per_forward == 4.0
    assert all(M not in a for a in g.answers)


def test_block_cache_span_equals_full_forward_when_nothing_changed() -> None:
    model = tiny_model("thought", seed=3).double()
    x = torch.randint(0, 29, (2, 20))
    x[:, 12:] = M
    stack = model.write(torch.randint(0, 29, (2, 6)), model.empty_stack(2))
    with torch.no_grad():
        cache = KVCache([])
        full = model(x, stack, fill=cache)
        part = model(x, stack, cache=cache, span=(8, 16))
    torch.testing.assert_close(part, full[:, 8:16], rtol=1e-10, atol=1e-10)


# (method, tau, steps): one token a step, and low-confidence at 2 tokens a step
CACHE_CASES = [("threshold", 0.5, 0), ("threshold", 0.9, 0), ("low_confidence", 0.9, 0)]
CACHE_CASES += [("low_confidence", 0.9, 8)]


def _cached_vs_plain(
    model: Any, method: str, tau: float, steps: int, stack: bool
) -> tuple[list[list[int]], list[list[int]], int]:
    """(answers without cache, answers with it, calls of the cached run): 4 blocks of 4."""
    prompts = [[0, 3, 4], [0, 9, 9]]
    st = model.write(torch.tensor([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]), model.empty_stack(2))
    kw: dict[str, Any] = dict(method=method, block=4, tau=tau, steps=steps)
    a = generate(model, prompts, DecodeConfig(19, **kw), stack=st if stack else None)
    b = generate(model, prompts, DecodeConfig(19, **kw, cache=True), stack=st if stack else None)
    return a.answers, b.answers, b.stats.calls


@pytest.mark.parametrize(("method", "tau", "steps"), CACHE_CASES)
@pytest.mark.parametrize("stack", [False, True])
def test_block_cache_gives_the_same_tokens_as_no_cache(
    method: str, tau: float, steps: int, stack: bool
) -> None:
    """With one layer, the cached keys/values of every position outside the block are functions
    of that position's own token (and the thought stack), which do not change while the block is
    decoded: nothing the cache holds is stale, so cached span steps must give the same tokens.
    More calls than blocks: span steps ran."""
    model = tiny_model("thought", seed=0, n_layers=1)
    plain, cached, calls = _cached_vs_plain(model, method, tau, steps, stack)
    assert calls > 4
    assert cached == plain


def test_block_cache_is_approximate_with_two_layers() -> None:
    """From the second layer on, a position outside the block reads the block, so its cached
    keys/values go stale once the block commits tokens: the cache may change the tokens (here
    it does), which is what makes the one-layer equality above a real check."""
    runs = [_cached_vs_plain(MODEL, *case, False) for case in CACHE_CASES]
    assert all(calls > 4 for _, _, calls in runs)
    assert any(plain != cached for plain, cached, _ in runs)


def test_block_cache_recomputes_only_the_block() -> None:
    cfg = DecodeConfig(19, "low_confidence", block=8, steps=8, cache=True)
    g = generate(MODEL, [0, 1, 2], cfg)
    # per block: one full forward of 19 positions, then 3 steps of 8 positions
    assert g.stats.calls == 8 and g.stats.nfe == 2 * (19 + 3 * 8)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="empty prompt"):
        generate(MODEL, [], DecodeConfig(8))
    with pytest.raises(ValueError, match="not above the prompt"):
        generate(MODEL, [0, 1, 2, 3], DecodeConfig(3))
    for tau in (-0.1, 1.5):
        with pytest.raises(ValueError, match="tau"):
            DecodeConfig(8, "threshold", tau=tau)
    with pytest.raises(ValueError, match="method"):
        DecodeConfig(8, "random")
    with pytest.raises(ValueError, match="blocks"):
        generate(MODEL, [0], DecodeConfig(8, block=3))
    with pytest.raises(ValueError, match="max_seq_len"):
        generate(MODEL, [0], DecodeConfig(65))
    with pytest.raises(ValueError, match="MASK"):
        generate(MODEL, [M], DecodeConfig(8))
    with pytest.raises(ValueError, match="baseline"):
        generate(tiny_model("baseline"), [0], DecodeConfig(8), stack=MODEL.empty_stack(1))


@settings(max_examples=20, deadline=None)
@given(
    top_k=st.integers(0, 12),
    top_p=st.floats(0.05, 1.0),
    temperature=st.sampled_from([0.5, 1.0, 2.0]),
    seed=st.integers(0, 1000),
)
def test_cut_logprobs_is_mctd_trees_rule(
    top_k: int, top_p: float, temperature: float, seed: int
) -> None:
    from mctd_thought.sampling import cut_logprobs
    from mctd_tree.lm.sampling import process_logprobs

    z = torch.randn(3, 10, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    ours = cut_logprobs(z / temperature, top_k, top_p).exp().numpy()
    ref = process_logprobs(torch.log_softmax(z, -1).numpy(), temperature, top_k, top_p)
    assert np.allclose(ours, ref, atol=1e-9)


def test_top_k_one_and_tiny_top_p_sample_the_argmax() -> None:
    greedy = generate(MODEL, [[0, 1, 2]] * 3, DecodeConfig(15, temperature=0.0))
    for cut in ({"top_k": 1}, {"top_p": 1e-6}):
        g = generate(MODEL, [[0, 1, 2]] * 3, DecodeConfig(15, temperature=1.5, **cut), seed=7)  # type: ignore[arg-type]
        assert g.answers == greedy.answers
    free = [
        generate(MODEL, [[0, 1, 2]] * 3, DecodeConfig(15, temperature=1.5), seed=s)
        for s in range(3)
    ]
    assert any(f.answers != greedy.answers for f in free)  # without the cut, T = 1.5 differs


def test_bad_sampling_settings() -> None:
    with pytest.raises(ValueError, match="top_k"):
        DecodeConfig(8, top_k=-1)
    with pytest.raises(ValueError, match="top_p"):
        DecodeConfig(8, top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        DecodeConfig(8, temperature=float("nan"))
