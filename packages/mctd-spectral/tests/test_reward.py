from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
import pytest
from mctd_spectral import (
    SpectralReward,
    reference_from_history,
    reference_psd,
    spectral_distances,
)
from mctd_tree.protocols import Reward


@pytest.fixture
def red_reference(ar1: Callable[..., np.ndarray]) -> tuple[np.ndarray, SpectralReward]:
    history = ar1(600, 0.9, np.random.default_rng(0))
    return history, SpectralReward.from_history(history, 32, gamma=1.0)


def test_satisfies_the_reward_protocol(red_reference: tuple[np.ndarray, SpectralReward]) -> None:
    _, reward = red_reference
    r: Reward[np.ndarray] = reward
    assert isinstance(r, Reward)
    out = r([np.sin(np.arange(32.0)), np.cos(np.arange(40.0))])
    assert out.shape == (2,) and out.dtype == np.float64


def test_reward_decreases_with_gamma_for_a_spectrally_wrong_series(
    red_reference: tuple[np.ndarray, SpectralReward],
) -> None:
    history, _ = red_reference
    ref = reference_from_history(history, 32)
    wrong = np.cos(np.pi * np.arange(32.0)) + 0.1 * np.random.default_rng(1).standard_normal(32)
    rewards = [SpectralReward(ref, g)([wrong])[0] for g in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert rewards[0] == 0.0
    assert all(a > b for a, b in pairwise(rewards))


def test_right_spectrum_beats_wrong_spectrum(
    ar1: Callable[..., np.ndarray], red_reference: tuple[np.ndarray, SpectralReward]
) -> None:
    _, reward = red_reference
    rng = np.random.default_rng(2)
    right = [ar1(32, 0.9, rng) for _ in range(20)]
    wrong = [rng.standard_normal(32) for _ in range(20)]
    assert np.mean(reward(right)) > np.mean(reward(wrong)) + 0.1


def test_composes_with_a_task_reward() -> None:
    rng = np.random.default_rng(3)
    ref = reference_psd([rng.standard_normal(64)])
    seen: list[int] = []

    def task(xs: Sequence[np.ndarray]) -> np.ndarray:
        seen.append(len(xs))
        return np.array([float(x[-1]) for x in xs])

    reward = SpectralReward(ref, 0.7, task)
    xs = [rng.standard_normal(n) for n in (16, 64, 30)]
    expected = np.array([x[-1] for x in xs]) - 0.7 * spectral_distances(xs, ref)
    np.testing.assert_allclose(reward(xs), expected)
    assert seen == [3]  # one batched call
    # Mixed lengths in one batch equal one-at-a-time scoring.
    np.testing.assert_allclose(reward(xs), [reward([x])[0] for x in xs])


def test_task_reward_must_return_one_float_each() -> None:
    ref = reference_psd([np.random.default_rng(4).standard_normal(64)])
    reward = SpectralReward(ref, 1.0, lambda xs: np.zeros(len(xs) + 1))
    with pytest.raises(ValueError, match="one float per candidate"):
        reward([np.arange(10.0)])


def test_invalid_candidates_raise_or_get_the_invalid_reward() -> None:
    ref = reference_psd([np.random.default_rng(5).standard_normal(64)])
    good = np.sin(np.arange(20.0))
    bad = [np.array([]), np.array([1.0, np.nan, 2.0, 3.0, 4.0]), np.array([1.0, 2.0])]
    with pytest.raises(ValueError, match="empty"):
        SpectralReward(ref, 1.0)([good, bad[0]])
    with pytest.raises(ValueError, match="NaN"):
        SpectralReward(ref, 1.0)([bad[1]])
    with pytest.raises(ValueError, match="too short"):
        SpectralReward(ref, 1.0)([bad[2]])

    calls: list[int] = []

    def task(xs: Sequence[np.ndarray]) -> np.ndarray:
        calls.append(len(xs))
        return np.ones(len(xs))

    reward = SpectralReward(ref, 1.0, task, invalid_reward=-100.0)
    out = reward([good, *bad])
    assert out[1:].tolist() == [-100.0] * 3
    assert out[0] == pytest.approx(1.0 - spectral_distances([good], ref)[0])
    assert calls == [1]  # the task reward never saw the invalid candidates
    assert np.isnan(reward.distances([good, *bad])[1:]).all()
    assert reward([bad[0]]).tolist() == [-100.0]


def test_constant_candidate_is_valid_and_far(
    red_reference: tuple[np.ndarray, SpectralReward],
) -> None:
    _, reward = red_reference
    r_const, r_sin = reward([np.full(32, 2.0), np.sin(0.2 * np.arange(32.0))])
    assert np.isfinite(r_const) and r_const < r_sin


def test_context_scores_history_tail_plus_forecast(
    red_reference: tuple[np.ndarray, SpectralReward],
) -> None:
    history, _ = red_reference
    reward = SpectralReward.from_history(history, 16, 2.0, context=48)
    assert reward.prefix is not None
    np.testing.assert_array_equal(reward.prefix, history[-48:])
    ref = reference_from_history(history, 64)
    np.testing.assert_allclose(reward.reference.power, ref.power)
    x = np.random.default_rng(6).standard_normal(16)
    d = spectral_distances([np.concatenate([history[-48:], x])], ref)[0]
    assert reward([x])[0] == pytest.approx(-2.0 * d)
    # With a prefix, a candidate shorter than 4 values is still scorable.
    assert np.isfinite(reward([np.array([0.5])])[0])


def test_bad_arguments() -> None:
    ref = reference_psd([np.random.default_rng(7).standard_normal(64)])
    with pytest.raises(ValueError, match="gamma"):
        SpectralReward(ref, -1.0)
    with pytest.raises(ValueError, match="gamma"):
        SpectralReward(ref, float("nan"))
    with pytest.raises(TypeError, match="ReferencePSD"):
        SpectralReward(np.ones(5), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context"):
        SpectralReward.from_history(np.arange(50.0), 10, 1.0, context=60)
    assert SpectralReward(ref, 1.0)([]).shape == (0,)


@pytest.mark.parametrize("invalid_reward", [None, -100.0])
def test_a_2d_candidate_is_refused_even_with_an_invalid_reward(
    invalid_reward: float | None,
) -> None:
    from mctd_tree.errors import UserError

    ref = reference_psd([np.random.default_rng(5).standard_normal(64)])
    good = np.sin(np.arange(20.0))
    reward = SpectralReward(ref, 1.0, invalid_reward=invalid_reward)
    with pytest.raises(UserError, match=r"candidate 1 has shape \(2, 20\)"):
        reward([good, np.stack([good, good])])
    assert reward(np.stack([good, good])).shape == (2,)  # a 2-D array of rows is a batch
