"""The backend registry (entry points, built-in toy) and the shared likelihood helpers."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import numpy as np
import pytest
from mctd_tree.errors import UserError
from mctd_tree.lm import backends
from mctd_tree.lm.backends import (
    MissingBackendError,
    UnknownBackendError,
    backend_names,
    load_lm,
)
from mctd_tree.lm.likelihood import FLOOR, LikelihoodReward, mean_logprob, token_logprobs
from mctd_tree.problems.toy_lm import ToyLM


def test_toy_is_built_in_and_names_are_listed() -> None:
    lm = load_lm("toy")
    assert lm.encode("ab1") and lm.vocab_size == 27
    assert backend_names()[:3] == ("torch", "mlx", "mor") and backend_names()[-1] == "toy"
    with pytest.raises(UserError, match="one model"):
        load_lm("toy", "big")
    with pytest.raises(UserError, match="no device"):
        load_lm("toy", device="cuda")


def test_unknown_and_missing_backends(monkeypatch: Any) -> None:
    with pytest.raises(UnknownBackendError, match="unknown backend 'jax'; valid backends: torch"):
        load_lm("jax")
    monkeypatch.setattr(backends, "_registered", dict)
    with pytest.raises(MissingBackendError, match="needs the package mctd-llm-mlx"):
        load_lm("mlx")


def test_a_registered_entry_point_is_loaded(monkeypatch: Any) -> None:
    ep = importlib.metadata.EntryPoint("mine", "mctd_tree.lm.backends:load_toy", backends.GROUP)
    monkeypatch.setattr(backends, "_registered", lambda: {"mine": ep})
    assert "mine" in backend_names()
    assert load_lm("mine", threads=2, progress=False).vocab_size == 27


def test_token_logprobs_equal_one_at_a_time() -> None:
    lm = ToyLM(6, seed=1, max_context=8)
    prompt, comps = [1, 2], [[3, 4, 5], [], [2]]
    got = token_logprobs(lm, prompt, comps)
    for c, lp in zip(comps, got, strict=True):
        want = [lm.next_logprobs([prompt + c[:j]])[0][c[j]] for j in range(len(c))]
        np.testing.assert_allclose(lp, want, rtol=1e-6)
    long = token_logprobs(lm, prompt, [[1] * 20])[0]
    assert len(long) == 6  # cut at max_context
    assert mean_logprob(np.zeros(0)) == FLOOR and mean_logprob(np.array([-50.0])) == FLOOR


def test_likelihood_reward_is_the_floored_mean() -> None:
    lm = ToyLM(6, seed=1, max_context=64)
    r = LikelihoodReward(lm, [1, 2])(["cde", ""])
    want = mean_logprob(token_logprobs(lm, [1, 2], [lm.encode("cde")])[0])
    assert r[0] == pytest.approx(want) and r[1] == FLOOR
