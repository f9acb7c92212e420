"""`MoRLM`: tree-cached log-probs equal a plain forward; honest counters; searches run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_mor import (
    Compute,
    FlopCounter,
    MoRLM,
    MoRLoadError,
    SplitComputeLM,
    load_model,
    save_model,
)
from mctd_mor.testing import CharTokenizer, tiny_model
from mctd_tree import Budget, dts_star, maxent_ts, mcts
from mctd_tree.problems.tokens import TokenSearchProblem


def _plain(model, prefix, compute=None) -> tuple[np.ndarray, torch.Tensor]:
    with torch.no_grad():
        out = model(torch.tensor([prefix]), compute=compute)
    return torch.log_softmax(out.logits[0, -1].float(), -1).numpy(), out.depth[0]


@pytest.mark.parametrize("arch", ["vanilla", "mor-ec", "mor-tc"])
@pytest.mark.parametrize("kv_mode", ["recursion", "share"])
def test_cached_logprobs_equal_plain_forward(arch: str, kv_mode: str) -> None:
    model = tiny_model(arch, seed=7, kv_mode=kv_mode)
    lm = MoRLM(model, CharTokenizer(), prefill_tokens=16)
    rng = np.random.default_rng(0)
    base = list(rng.integers(1, 29, 5))
    prefixes = [base + list(rng.integers(1, 29, int(n))) for n in rng.integers(0, 6, 8)]
    prefixes += [p[: len(p) - 1] for p in prefixes[:3] if len(p) > 1]
    got = lm.next_logprobs(prefixes)
    positions: dict[tuple[int, ...], int] = {}
    for i, p in enumerate(prefixes):
        want, depth = _plain(model, p)
        np.testing.assert_allclose(got[i], want, atol=1e-5)
        for t in range(len(p)):
            positions[tuple(p[: t + 1])] = int(depth[t])
    # every position computed exactly once, plus the padding of ragged prefills and the reads of
    # distributions taken from positions already cached (mctd-tree's honest counters)
    c = lm.counters
    assert c.nfe == sum(positions.values()) + c.padded + c.reads
    again, reads = c.nfe, c.reads
    lm.next_logprobs(prefixes)
    assert c.nfe - again == c.reads - reads == len(set(map(tuple, prefixes)))  # reads only


def test_greedy_generation_equals_plain_decoding_and_is_cached() -> None:
    model = tiny_model("mor-ec", seed=8)
    lm = MoRLM(model, CharTokenizer())
    prompt = [3, 4, 5]
    (g,) = lm.generate([prompt], np.random.default_rng(0), max_new_tokens=6, temperature=0)
    seq = list(prompt)
    for _ in range(len(g.tokens)):
        lp, _ = _plain(model, seq)
        seq.append(int(lp.argmax()))
    assert g.tokens == seq[3:]
    nfe = lm.counters.nfe
    lm.next_logprobs([prompt + g.tokens[:-1]])  # rollout positions were cached:
    assert lm.counters.nfe == nfe + 1  # only the read of one cached distribution is paid


def test_lower_compute_costs_fewer_flops_and_searches_run() -> None:
    model = tiny_model("mor-ec", seed=9)
    full = MoRLM(model, CharTokenizer())
    low = full.with_compute(Compute(max_depth=1))
    seq = [[1, 2, 3, 4, 5, 6, 7, 8]]
    full.next_logprobs(seq)
    f_full = full.flops.total
    full.reset_counters()
    low.next_logprobs(seq)
    assert low.flops.total < f_full and full.flops.total == low.flops.total
    assert low.counters.nfe == 8  # one recursion per position
    split = SplitComputeLM(full, low)

    def reward(texts: list[str]) -> np.ndarray:
        return np.array([t.count("a") / 10 for t in texts])

    for algo in (maxent_ts, mcts):
        prob = TokenSearchProblem(split, [1, 2], reward, k=3, max_new_tokens=6)
        res = algo(prob, Budget(simulations=4), k=3, rng=0)
        assert np.isfinite(res.best_reward)
    prob = TokenSearchProblem(full, [1, 2], reward, k=3, max_new_tokens=6)
    assert np.isfinite(dts_star(prob, Budget(simulations=4), rng=0).best_reward)
    assert split.counters.nfe > 0 and split.flops.total > 0
    split.reset_counters()
    assert split.counters.nfe == 0 and split.flops.total == 0 and low.flops.total == 0


def test_save_load_roundtrip_and_wrong_arch(tmp_path: Path) -> None:
    model = tiny_model("mor-tc", seed=10)
    save_model(model, tmp_path / "m")
    back = load_model(tmp_path / "m", arch="mor-tc")
    ids = torch.randint(0, 29, (1, 7))
    assert torch.equal(model(ids).logits, back(ids).logits)
    with pytest.raises(MoRLoadError, match="expected 'mor-ec'"):
        load_model(tmp_path / "m", arch="mor-ec")
    other = tiny_model("mor-ec")
    from mctd_mor.io import load_tensors
    from safetensors.torch import load_file

    with pytest.raises(MoRLoadError, match="another architecture"):
        load_tensors(other, load_file(str(tmp_path / "m" / "model.safetensors")), "m")
    with pytest.raises(MoRLoadError, match="not a mctd-mor model"):
        load_model(tmp_path / "nothing")


def test_flop_counter_counts_lm_work() -> None:
    lm = MoRLM(tiny_model("vanilla"), CharTokenizer())
    lm.next_logprobs([[1, 2, 3]])
    f = FlopCounter()
    lm.model(torch.tensor([[1, 2, 3]]), flops=f, logits="none")
    assert lm.flops.total == f.total + 2 * 16 * 29  # + the head on the read-out position
