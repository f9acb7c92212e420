"""Tree-aware KV reuse on the tiny random Llama: cached results equal plain full forward passes,
no position is computed twice, batched equals unbatched, per-row stop, hand-counted counters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

from mctd_llm_mlx import MLXLM

pytestmark = pytest.mark.mlx

ATOL = 1e-5  # float32, same weights, different padding/batching: measured ~2e-6


tree_ops = st.lists(
    st.tuples(
        st.sampled_from(["logprobs", "generate"]),
        st.lists(  # a batch of nodes: (parent pick, extra tokens)
            st.tuples(st.integers(0, 10**6), st.lists(st.integers(3, 63), max_size=4)),
            min_size=1,
            max_size=4,
        ),
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(root=st.lists(st.integers(3, 63), min_size=1, max_size=9), ops=tree_ops)
def test_random_trees_match_full_forward(tiny_dir, ref, root, ops) -> None:
    """Random trees grown by batched calls on nodes of mixed depth (including rollout tokens):
    every log-prob row equals a full forward pass, and no cached position is computed again.

    The expected count: each distinct prefix position once, plus every decode step of a rollout
    (a rollout always decodes, as in TorchLM; its positions are then cached like any other)."""
    lm = MLXLM(str(tiny_dir))
    nodes: list[tuple[int, ...]] = [tuple(root)]
    computed: set[tuple[int, ...]] = set()
    expected = 0

    def prefill(prefixes) -> int:
        new = {p[:i] for p in prefixes for i in range(1, len(p) + 1)} - computed
        computed.update(new)
        return len(new)

    for kind, batch in ops:
        prefixes = [nodes[pick % len(nodes)] + tuple(extra) for pick, extra in batch]
        cached = {p for p in prefixes if p in computed}
        fresh = len(set(prefixes)) - len(cached)
        expected += prefill(prefixes)
        # reads of cached distributions: one per distinct prefix (logprobs), per row (generate)
        expected += len(cached) if kind == "logprobs" else len(prefixes) - fresh
        if kind == "logprobs":
            lp = lm.next_logprobs(prefixes)
            for p, row in zip(prefixes, lp, strict=True):
                np.testing.assert_allclose(row, ref.logprobs(lm, p), atol=ATOL)
        else:
            gens = lm.generate(prefixes, np.random.default_rng(0), max_new_tokens=3, temperature=0)
            for p, g in zip(prefixes, gens, strict=True):
                assert g.tokens == ref.greedy(lm, p, 3)
                expected += len(g.tokens) - 1  # the last token is never fed
                computed.update(p + tuple(g.tokens[:i]) for i in range(1, len(g.tokens)))
                nodes.append(p + tuple(g.tokens[: len(g.tokens) // 2 + 1]))
        nodes += prefixes
        assert lm.counters.nfe - lm.counters.padded == expected
    assert lm.cache_stats().positions == len(computed)


def test_rollout_positions_are_reused(tiny_lm, ref) -> None:
    p = (5, 6, 7)
    (g,) = tiny_lm.generate([p], np.random.default_rng(1), max_new_tokens=6, temperature=1.0)
    start = tiny_lm.counters.snapshot()
    mids = [p + tuple(g.tokens[:i]) for i in range(len(g.tokens))]  # prefixes inside the rollout
    lp = tiny_lm.next_logprobs(mids)
    used = tiny_lm.counters.since(start)  # read from cached hidden states: reads only
    assert used.nfe == used.reads == len(set(mids)) and used.calls == 0
    for m, row in zip(mids, lp, strict=True):
        np.testing.assert_allclose(row, ref.logprobs(tiny_lm, m), atol=ATOL)


def test_batched_equals_unbatched(tiny_dir) -> None:
    prefixes = [(5,), (9, 10, 11, 12, 13, 14), (9, 10, 20), (30, 31)]
    a, b = MLXLM(str(tiny_dir)), MLXLM(str(tiny_dir))
    batched = a.next_logprobs(prefixes)
    single = np.concatenate([b.next_logprobs([p]) for p in prefixes])
    np.testing.assert_allclose(batched, single, atol=ATOL)
    gb = a.generate(prefixes, np.random.default_rng(0), max_new_tokens=8, temperature=0)
    gs = [
        b.generate([p], np.random.default_rng(0), max_new_tokens=8, temperature=0)[0]
        for p in prefixes
    ]
    assert [g.tokens for g in gb] == [g.tokens for g in gs]
    assert [g.finish_reason for g in gb] == [g.finish_reason for g in gs]


def _find_eos_prefix(lm: MLXLM, ref) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A prefix whose greedy continuation hits EOS within 8 tokens, and one that does not."""
    eos, other = None, None
    for t in range(3, 64):
        out = ref.greedy(lm, (t,), 8)
        if out[-1] in lm.eos_token_ids and eos is None:
            eos = (t,)
        elif out[-1] not in lm.eos_token_ids and other is None:
            other = (t,)
        if eos and other:
            return eos, other
    pytest.skip("the tiny model never reaches EOS greedily")


def test_eos_stops_only_its_row(tiny_lm, ref) -> None:
    eos, other = _find_eos_prefix(tiny_lm, ref)
    g_eos, g_other = tiny_lm.generate(
        [eos, other], np.random.default_rng(0), max_new_tokens=8, temperature=0
    )
    assert g_eos.finish_reason == "eos" and g_eos.tokens[-1] in tiny_lm.eos_token_ids
    assert g_other.finish_reason == "length" and len(g_other.tokens) == 8
    assert g_other.tokens == ref.greedy(tiny_lm, other, 8)
    assert len(g_eos.logprobs) == len(g_eos.tokens)
    raw = ref.logprobs(tiny_lm, other)
    assert g_other.logprobs[0] == pytest.approx(raw[g_other.tokens[0]], abs=ATOL)


def test_stop_string_stops_only_its_row(tiny_lm, ref) -> None:
    a, b = (5, 6), (7, 8)
    ga = ref.greedy(tiny_lm, a, 6)
    stop_word = tiny_lm.decode([ga[2]])
    gb = ref.greedy(tiny_lm, b, 6)
    clash = stop_word in tiny_lm.decode(ga[:2]) or stop_word in tiny_lm.decode(gb)
    if ga[2] in tiny_lm.eos_token_ids or clash:
        pytest.skip("no usable stop word for this tiny model")
    ra, rb = tiny_lm.generate(
        [a, b], np.random.default_rng(0), max_new_tokens=6, temperature=0, stop=[stop_word]
    )
    assert ra.finish_reason == "stop" and ra.tokens == ga[:3]  # the completing token is kept
    assert rb.tokens == gb


def test_counters_hand_count(tiny_lm) -> None:
    lm = tiny_lm
    p = (5, 6, 7, 8, 9)
    lm.next_logprobs([p])
    assert (lm.counters.nfe, lm.counters.calls) == (5, 1)
    lm.next_logprobs([(*p, 10), (*p, 11)])  # two children: one call, one position each
    assert (lm.counters.nfe, lm.counters.calls) == (7, 2)
    lm.next_logprobs([p, (*p, 10)])  # fully cached: two head reads, no forward
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.reads) == (9, 2, 2)
    lm.reset_counters()
    q = (20, 21, 22)
    lm.next_logprobs([(*q, 1), (*q, 3)])  # shared uncached stem: computed once, in a first round
    assert (lm.counters.nfe, lm.counters.calls) == (5, 2)
    lm.reset_counters()
    g = lm.generate([(*p, 10)] * 3, np.random.default_rng(0), max_new_tokens=4, temperature=0)
    fed = max(len(x.tokens) for x in g) - 1  # decode steps; the prefix was cached: no prefill
    assert lm.counters.calls == fed
    assert lm.counters.nfe == 3 + sum(len(x.tokens) - 1 for x in g)  # 3 rows read (*p, 10)


def test_memory_bound_is_respected(tiny_dir, ref) -> None:
    lm = MLXLM(str(tiny_dir), max_cache_positions=12)
    rng = np.random.default_rng(3)
    for _ in range(6):
        batch = [tuple(rng.integers(3, 64, size=rng.integers(1, 8))) for _ in range(3)]
        lp = lm.next_logprobs(batch)
        assert lm.cache_stats().positions <= 12
        for p, row in zip(batch, lp, strict=True):
            np.testing.assert_allclose(row, ref.logprobs(lm, p), atol=ATOL)
        lm.generate(batch, rng, max_new_tokens=4)
        assert lm.cache_stats().positions <= 12
    assert lm.cache_stats().evicted_positions > 0
    assert lm.cache_bytes_per_position == (2 * 2 * 2 * 8 + 32) * 4
