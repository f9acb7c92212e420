"""The masked-diffusion objective: the formula on a hand case, masking at t -> 1 and t -> 0,
prompt positions never masked, gradients through the thought write."""

from __future__ import annotations

import math

import pytest
import torch
from mctd_thought import mdlm_loss, nll_bound, nll_bound_rows, segment_loss, split_segments
from mctd_thought.loss import draw_mask
from mctd_thought.testing import tiny_model


def test_loss_equals_formula_on_hand_case() -> None:
    model = tiny_model("baseline", seed=1)
    x0 = torch.tensor([[3, 5, 7, 9], [2, 4, 6, 8]])
    mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
    t = torch.tensor([0.5, 0.25])
    out = mdlm_loss(model, x0, t=t, mask=mask)
    xt = torch.where(mask, torch.full_like(x0, model.mask_id), x0)
    with torch.no_grad():
        logp = torch.log_softmax(model(xt), -1)
    want = []
    for r in range(2):
        s = sum(-float(logp[r, i, x0[r, i]]) for i in range(4) if mask[r, i])
        want.append(s / float(t[r]) / 4)
    assert out.per_row.tolist() == pytest.approx(want, rel=1e-5)
    assert float(out.loss.detach()) == pytest.approx(sum(want) / 2, rel=1e-5)
    # the model saw [MASK] at the masked positions, not the clean token (no target leak)
    assert int((xt == model.mask_id).sum()) == int(mask.sum())


def test_prompt_length_excluded_and_prompt_never_masked() -> None:
    model = tiny_model("baseline", seed=2)
    x0 = torch.tensor([[1, 2, 3, 4, 5, 6]])
    pm = torch.tensor([[True, True, False, False, False, False]])
    out = mdlm_loss(model, x0, t=torch.tensor([1.0]), prompt_mask=pm)
    assert out.mask.tolist() == [[False, False, True, True, True, True]]
    xt = torch.where(out.mask, torch.full_like(x0, model.mask_id), x0)
    with torch.no_grad():
        logp = torch.log_softmax(model(xt), -1)
    want = sum(-float(logp[0, i, x0[0, i]]) for i in range(2, 6)) / 4
    assert float(out.loss.detach()) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="prompt"):
        mdlm_loss(model, x0, t=torch.tensor([0.5]), mask=pm, prompt_mask=pm)


def test_mask_rate_at_the_ends() -> None:
    g = torch.Generator().manual_seed(0)
    assert bool(draw_mask((64, 128), torch.ones(64), g).all())
    assert not bool(draw_mask((64, 128), torch.full((64,), 1e-9), g).any())
    frac = float(draw_mask((256, 256), torch.full((256,), 0.3), g).float().mean())
    assert abs(frac - 0.3) < 0.01


def test_bad_t_and_eps() -> None:
    model = tiny_model("baseline")
    x0 = torch.ones(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="t must"):
        mdlm_loss(model, x0, t=torch.tensor([0.0]))
    with pytest.raises(ValueError, match="eps"):
        mdlm_loss(model, x0, eps=1.5)


def test_segment_loss_trains_the_write() -> None:
    model = tiny_model("thought", seed=3, scale=0.1)
    model.train()
    seg = split_segments(torch.randint(0, 29, (2, 12)), 3)
    loss, per = segment_loss(model, seg, generator=torch.Generator().manual_seed(0))
    assert per.shape == (3, 2) and math.isfinite(float(loss.detach()))
    loss.backward()
    assert model.writer is not None
    assert float(model.writer.queries.grad.abs().sum()) > 0  # type: ignore[union-attr]
    assert float(model.writer.score.weight.grad.abs().sum()) > 0  # type: ignore[union-attr]


def test_nll_bound_is_deterministic_and_baseline_ignores_stack() -> None:
    base = tiny_model("baseline", seed=4, scale=0.1)
    seg = split_segments(torch.randint(0, 29, (3, 16)), 2)
    a, b = nll_bound(base, seg, samples=2, seed=5), nll_bound(base, seg, samples=2, seed=5)
    assert torch.equal(a, b) and a.shape == (2,)
    rows = nll_bound_rows(base, seg, samples=2, seed=5)  # the same draws, per window
    assert rows.shape == (2, 3) and torch.allclose(rows.mean(-1), a, atol=1e-6)
    with pytest.raises(ValueError, match="baseline"):
        base.empty_stack(1)
    with pytest.raises(ValueError, match="segments"):
        split_segments(torch.zeros(1, 10, dtype=torch.long), 3)
