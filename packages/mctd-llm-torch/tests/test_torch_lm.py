"""TorchLM on a tiny random Llama: tree-cache exactness, batching, stopping, counters, eviction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from mctd_llm_torch import ModelNotFoundError, PrefixCache, TorchLM
from mctd_llm_torch.testing import EOS, full_logprobs
from mctd_tree import Generation, LanguageModel

Make = Callable[..., TorchLM]


def random_tree(rng: np.random.Generator, nodes: int = 14) -> list[tuple[int, ...]]:
    """Prefixes forming a random tree: each extends a random earlier one by 1-4 tokens."""
    seqs = [tuple(int(t) for t in rng.integers(2, 60, rng.integers(1, 7)))]
    for _ in range(nodes - 1):
        parent = seqs[int(rng.integers(len(seqs)))]
        cut = int(rng.integers(1, len(parent) + 1))  # branch anywhere on the parent's path
        seqs.append(parent[:cut] + tuple(int(t) for t in rng.integers(2, 60, rng.integers(1, 5))))
    return seqs


def assert_matches_full(lm: TorchLM, seqs: list[tuple[int, ...]], got: np.ndarray) -> None:
    for s, row in zip(seqs, got, strict=True):
        ref = full_logprobs(lm, s)[-1].numpy()
        np.testing.assert_allclose(row, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_tree_cache_logprobs_equal_full_forward(make_lm: Make, seed: int, attn: str) -> None:
    lm = make_lm(seed=seed, attn=attn)
    rng = np.random.default_rng(seed)
    seqs = random_tree(rng)
    for _ in range(4):  # random batches of mixed lengths, repeats and shared ancestors
        batch = [seqs[int(i)] for i in rng.integers(len(seqs), size=int(rng.integers(1, 7)))]
        assert_matches_full(lm, batch, lm.next_logprobs(batch))
    assert_matches_full(lm, seqs, lm.next_logprobs(seqs))


def test_generated_logprobs_and_cached_rollout_positions_are_exact(make_lm: Make) -> None:
    lm = make_lm(seed=1)
    rng = np.random.default_rng(0)
    seqs = random_tree(rng, 6)
    gens = lm.generate(seqs, rng, max_new_tokens=7, temperature=0.9, top_p=0.95)
    for s, g in zip(seqs, gens, strict=True):
        ref = full_logprobs(lm, s + tuple(g.tokens)).numpy()
        want = [ref[len(s) - 1 + j, t] for j, t in enumerate(g.tokens)]
        np.testing.assert_allclose(g.logprobs, want, rtol=1e-4, atol=1e-4)
    # Every prefix along a rollout (except past its last token) is now cached: exact, and only
    # the head reads are counted.
    before = lm.counters.snapshot()
    along = [
        s + tuple(g.tokens[:j])
        for s, g in zip(seqs, gens, strict=True)
        for j in range(1, len(g.tokens))
    ]
    got = lm.next_logprobs(along)
    used = lm.counters.since(before)
    assert used.nfe == used.reads == len(set(along)) and used.calls == 0
    assert_matches_full(lm, along, got)


def test_batched_equals_unbatched(make_lm: Make) -> None:
    seqs = random_tree(np.random.default_rng(5), 8)
    batched = make_lm(seed=2)
    single = make_lm(seed=2)
    lp_b = batched.next_logprobs(seqs)
    lp_s = np.concatenate([single.next_logprobs([s]) for s in seqs])
    np.testing.assert_allclose(lp_b, lp_s, rtol=1e-4, atol=1e-5)
    gen_b = batched.generate(seqs, np.random.default_rng(0), max_new_tokens=6, temperature=0)
    fresh = make_lm(seed=2)
    for s, g in zip(seqs, gen_b, strict=True):
        (g1,) = fresh.generate([s], np.random.default_rng(0), max_new_tokens=6, temperature=0)
        assert g1.tokens == g.tokens
        np.testing.assert_allclose(g1.logprobs, g.logprobs, rtol=1e-4, atol=1e-5)


def test_eos_stops_its_row_and_only_that_row(make_lm: Make) -> None:
    rows = [(3, 4, 5), (7, 8), (9, 10, 11, 12)]
    base = make_lm(seed=3).generate(rows, np.random.default_rng(0), max_new_tokens=8, temperature=0)
    assert all(g.finish_reason == "length" and EOS not in g.tokens for g in base)
    # Declare row 0's third generated token the EOS (absent from the other rows' outputs).
    stop_tok = base[0].tokens[2]
    assert all(stop_tok not in g.tokens for g in base[1:]) and stop_tok not in base[0].tokens[:2]
    lm = make_lm(seed=3, eos=stop_tok)
    assert stop_tok in lm.eos_token_ids
    gens = lm.generate(rows, np.random.default_rng(0), max_new_tokens=8, temperature=0)
    assert gens[0].tokens == base[0].tokens[:3] and gens[0].finish_reason == "eos"
    for g, b in zip(gens[1:], base[1:], strict=True):
        assert g.tokens == b.tokens and g.finish_reason == "length"


def test_stop_strings_stop_a_row(make_lm: Make) -> None:
    lm = make_lm(seed=3)
    (g,) = lm.generate([(3, 4, 5)], np.random.default_rng(0), max_new_tokens=8, temperature=0)
    text = lm.decode(g.tokens[:3])
    (h,) = lm.generate(
        [(3, 4, 5)], np.random.default_rng(0), max_new_tokens=8, temperature=0, stop=[text[-2:]]
    )
    assert h.finish_reason == "stop" and h.tokens == g.tokens[: len(h.tokens)]
    assert text[-2:] in lm.decode(h.tokens) and len(h.tokens) <= 3


def test_counters_equal_a_hand_count(make_lm: Make) -> None:
    lm = make_lm()
    assert isinstance(lm, LanguageModel)
    lm.next_logprobs([(5, 6, 7)])
    assert (lm.counters.nfe, lm.counters.calls) == (3, 1)
    # two new positions in one call, and a read of the cached (5, 6, 7)
    lm.next_logprobs([(5, 6, 7, 8), (5, 6, 7, 9), (5, 6, 7)])
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.reads) == (6, 2, 1)
    lm.next_logprobs([(5, 6, 7, 8)])  # cached: no forward, one head read
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.reads) == (7, 2, 2)
    # Two prefixes sharing an uncached ancestor: the ancestor once, then the two tails (of 2
    # and 1 tokens: the shorter is left-padded by one, and that is counted).
    lm.next_logprobs([(20, 21, 22, 23), (20, 21, 24)])
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.padded) == (7 + 5 + 1, 2 + 2, 1)
    # generate: each row reads its cached distribution; 5 new tokens feed 4 (the last never).
    g = lm.generate([(5, 6, 7, 8)] * 2, np.random.default_rng(0), max_new_tokens=5)
    assert all(x.finish_reason == "length" for x in g)
    assert lm.counters.nfe == 13 + 2 + 2 * 4 and lm.counters.calls == 4 + 4
    # Ragged tails in one prefill call: the shorter one is left-padded, and that is counted.
    lm.reset_counters()
    lm.next_logprobs([(5, 6, 7, 30, 31, 32), (5, 6, 7, 40)])
    assert (lm.counters.nfe, lm.counters.padded, lm.counters.calls) == (3 + 1 + 2, 2, 1)
    # A cap per row: one ragged call.
    lm.reset_counters()
    g = lm.generate([(5, 6, 7, 8)] * 2, np.random.default_rng(0), max_new_tokens=[1, 3])
    assert [len(x.tokens) for x in g] == [1, 3] and lm.counters.nfe == 2 + 2
    lm.reset_counters()
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.padded) == (0, 0, 0)


def test_cache_eviction_respects_the_bound_and_stays_exact(make_lm: Make) -> None:
    lm = make_lm(seed=4, max_cache_positions=24)
    rng = np.random.default_rng(4)
    seqs = random_tree(rng, 20)
    for _ in range(6):
        batch = [seqs[int(i)] for i in rng.integers(len(seqs), size=4)]
        assert_matches_full(lm, batch, lm.next_logprobs(batch))
        assert lm.cache_stats().positions <= 24
        lm.generate(batch[:2], rng, max_new_tokens=5)
        assert lm.cache_stats().positions <= 24
    assert lm.cache_stats().evicted_positions > 0
    assert lm.cache_bytes_per_position == (2 * 2 * 2 * 8 + 32) * 4


def test_prefix_cache_evicts_least_recently_used_leaves() -> None:
    cache = PrefixCache(6, torch.Tensor.contiguous)

    def put(ids: tuple[int, ...]) -> None:
        m = cache.match(ids)
        n = len(ids) - m.length
        cache.insert(ids, m.length, torch.zeros(1, 2, 1, n, 1), torch.zeros(n, 1))

    put((1, 2, 3))
    put((1, 2, 4))  # splits (1,2,3) into (1,2) + (3,)
    put((1, 5))
    assert (cache.positions, cache.nodes) == (5, 5)
    cache.match((1, 2, 3))  # touch: (1,2,4) and (1,5) are now older
    put((1, 2, 3, 6, 7))
    assert cache.positions == 7
    cache.evict()
    assert cache.positions <= 6
    assert cache.match((1, 2, 3, 6, 7)).length == 5  # the recent path survives
    assert cache.match((1, 2, 4)).length == 2  # the oldest leaf went first


def test_sampling_is_reproducible_and_top_k_1_is_greedy(make_lm: Make) -> None:
    lm = make_lm(seed=6)
    a = lm.generate([(3, 4)] * 3, np.random.default_rng(9), max_new_tokens=6)
    b = make_lm(seed=6).generate([(3, 4)] * 3, np.random.default_rng(9), max_new_tokens=6)
    assert [g.tokens for g in a] == [g.tokens for g in b]
    greedy = lm.generate([(3, 4)], np.random.default_rng(0), max_new_tokens=6, temperature=0)
    top1 = lm.generate([(3, 4)], np.random.default_rng(1), max_new_tokens=6, top_k=1)
    assert greedy[0].tokens == top1[0].tokens


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda lm: lm.next_logprobs([[]]), "empty prompt"),
        (lambda lm: lm.next_logprobs([[3] * 129]), "longer than the model's context"),
        (
            lambda lm: lm.generate([[3] * 128], np.random.default_rng(0), max_new_tokens=2),
            "context",
        ),
        (
            lambda lm: lm.generate(
                [[3]], np.random.default_rng(0), max_new_tokens=2, temperature=-1
            ),
            "temperature",
        ),
        (
            lambda lm: lm.generate([[3]], np.random.default_rng(0), max_new_tokens=0),
            "max_new_tokens",
        ),
        (
            lambda lm: lm.generate([[3]], np.random.default_rng(0), max_new_tokens=2, top_p=0),
            "top_p",
        ),
    ],
)
def test_bad_input_is_rejected_clearly(
    make_lm: Make, call: Callable[[TorchLM], object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        call(make_lm())


def test_unknown_model_offline_names_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="offline") as err:
        TorchLM("no-such-org/no-such-model-mctd", device="cpu")
    assert "local folder" in str(err.value) and ".gguf" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="GGUF file not found"):
        TorchLM("/nonexistent/model.gguf", device="cpu")


class Ledger:
    """Counts the distinct positions a search asked the model for (the minimum any exact model
    must process)."""

    def __init__(self, lm: TorchLM) -> None:
        self.lm = lm
        self.seen: set[tuple[int, ...]] = set()

    def __getattr__(self, name: str) -> object:
        return getattr(self.lm, name)

    @property
    def counters(self) -> object:
        return self.lm.counters

    def _need(self, seq: tuple[int, ...]) -> None:
        self.seen.update(seq[:j] for j in range(1, len(seq) + 1))

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        for p in prefixes:
            self._need(tuple(p))
        return self.lm.next_logprobs(prefixes)

    def generate(
        self, prefixes: Sequence[Sequence[int]], rng: np.random.Generator, **kw: Any
    ) -> list[Generation]:
        gens = self.lm.generate(prefixes, rng, **kw)
        for p, g in zip(prefixes, gens, strict=True):
            self._need(tuple(p) + tuple(g.tokens[:-1]))
        return gens


@pytest.mark.parametrize("algo", ["maxent_ts", "dts", "mcts_chunk3"])
def test_search_never_recomputes_a_position(make_lm: Make, algo: str) -> None:
    from mctd_tree import dts, maxent_ts, mcts
    from mctd_tree.problems.tokens import TokenSearchProblem

    lm = make_lm(seed=7)
    ledger = Ledger(lm)
    prompt = [5, 6, 7, 8, 9]
    kw = {"chunk": 3} if algo == "mcts_chunk3" else {}
    prob = TokenSearchProblem(
        ledger,
        prompt,
        lambda t: np.array([s.count("e") for s in t], float),
        k=3,
        max_new_tokens=10,
        **kw,
    )
    if algo == "maxent_ts":
        res = maxent_ts(prob, 12, k=3, lam=2.0, parallel=3, rng=0)
    elif algo == "dts":
        res = dts(prob, 12, lam=2.0, parallel=3, rng=0)
    else:
        res = mcts(prob, 12, k=3, parallel=3, rng=0)
    assert res.best_state is not None
    c = lm.counters  # every needed position exactly once (and reads of cached ones counted)
    assert c.nfe - c.reads - c.padded == len(ledger.seen) and c.reads > 0


def test_decode_steps_on_the_backend_batch_are_generate(make_lm: Make) -> None:
    """`TorchLM.generate` is `decode_steps` over its `DecodeBatch`: same tokens for the same seed,
    one forward per step, the fed positions counted and cached exactly (ragged caps)."""
    from mctd_tree.lm import Rows, decode_steps

    rows = [(5, 6, 7), (9, 10), (5, 6, 7, 8)]
    caps = [4, 2, 6]
    ref = make_lm().generate(rows, np.random.default_rng(4), max_new_tokens=caps)
    lm = make_lm()
    lm.next_logprobs(rows)  # cache the prefixes (what generate does first)
    lm.reset_counters()
    out = Rows(caps, lm.eos_token_ids, (), lm.decode)
    with torch.inference_mode():
        batch, lp = lm._decode_batch(rows, max(caps))
        steps = list(decode_steps(batch, lp, out, np.random.default_rng(4), lm.counters))
    assert out.toks == [g.tokens for g in ref]
    assert [len(s.rows) for s in steps] == [sum(len(t) > k for t in out.toks) for k in range(6)]
    fed = sum(len(t) - 1 for t in out.toks)
    assert (lm.counters.nfe, lm.counters.calls) == (fed, max(len(t) for t in out.toks) - 1)
    for r, t, g in zip(rows, out.toks, ref, strict=True):
        seq = r + tuple(t[:-1])
        assert lm.cache.match(seq, touch=False).length == len(seq)  # fed positions cached
        np.testing.assert_allclose(
            [s.logprobs[s.rows.index(rows.index(r))] for s in steps if rows.index(r) in s.rows],
            g.logprobs,
            rtol=1e-5,
        )
