"""The masked-diffusion objective (MDLM / LLaDA) and the thought-stack training on segments.

For a clean sequence x_0 of length L: t ~ U(eps, 1) per sequence, each position masked
independently with probability t (never a prompt position), and

    loss = (1 / L') * sum_{i masked} -log p_theta(x_0^i | x_t) / t

with L' the number of maskable (non-prompt) positions. Its expectation over t and the mask is
the continuous-time ELBO of the linear schedule alpha_t = 1 - t (weight -alpha'_t / (1 - alpha_t)
= 1/t), an upper bound on the per-token NLL; no label smoothing enters it. Unmasked positions
carry no loss (copy-through).

`segment_loss`: a window cut into n consecutive segments; segment i is denoised reading the
stack written from segments 0..i-1 (gradients flow through the writes); the baseline denoises
each segment alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from mctd_thought.model import MaskedDiffusionLM
from mctd_thought.stack import ThoughtStack


@dataclass
class LossOut:
    """The batch loss, the per-row bound terms (nats per maskable token) and the mask used."""

    loss: Tensor
    per_row: Tensor
    mask: Tensor
    t: Tensor


def draw_mask(
    shape: tuple[int, int],
    t: Tensor,
    generator: torch.Generator | None = None,
    prompt_mask: Tensor | None = None,
) -> Tensor:
    """Bernoulli(t) per position (``t (B,)``), never on a prompt position."""
    u = torch.rand(shape, generator=generator, device=t.device)
    mask = u < t[:, None]
    return mask & ~prompt_mask if prompt_mask is not None else mask


def mdlm_loss(
    model: MaskedDiffusionLM,
    x0: Tensor,
    *,
    t: Tensor | None = None,
    mask: Tensor | None = None,
    prompt_mask: Tensor | None = None,
    stack: ThoughtStack | None = None,
    generator: torch.Generator | None = None,
    eps: float = 1e-3,
) -> LossOut:
    """The 1/t-weighted masked cross-entropy of ``x0 (B, L)`` (``t`` and ``mask`` may be given)."""
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    b, n = x0.shape
    if t is None:
        t = eps + (1 - eps) * torch.rand(b, generator=generator, device=x0.device)
    if bool((t <= 0).any()) or bool((t > 1).any()):
        raise ValueError("t must lie in (0, 1]")
    if mask is None:
        mask = draw_mask((b, n), t, generator, prompt_mask)
    elif prompt_mask is not None and bool((mask & prompt_mask).any()):
        raise ValueError("a prompt position is never masked")
    xt = torch.where(mask, torch.full_like(x0, model.mask_id), x0)
    logits = model(xt, stack)
    ce = F.cross_entropy(logits.float().transpose(1, 2), x0, reduction="none")
    length = n - (prompt_mask.sum(-1) if prompt_mask is not None else 0)
    length = torch.as_tensor(length, device=x0.device).clamp(min=1)
    per_row = (ce * mask).sum(-1) / t / length
    return LossOut(per_row.mean(), per_row, mask, t)


def split_segments(window: Tensor, n_seg: int) -> Tensor:
    """``(B, n_seg * L)`` -> ``(B, n_seg, L)``."""
    b, total = window.shape
    if n_seg < 1 or total % n_seg:
        raise ValueError(f"a window of {total} tokens does not split into {n_seg} segments")
    return window.view(b, n_seg, total // n_seg)


def segment_loss(
    model: MaskedDiffusionLM,
    segments: Tensor,
    *,
    generator: torch.Generator | None = None,
    eps: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """(mean loss over segments, per-segment per-row bound ``(n_seg, B)``) of ``(B, n_seg, L)``.

    The thought model reads the stack written from the earlier segments; the baseline reads
    nothing. Writes are differentiable (no detach): segment i+1's loss trains segment i's write.
    """
    b, n_seg, _ = segments.shape
    stack = model.empty_stack(b) if model.cfg.has_thought else None
    rows = []
    for i in range(n_seg):
        out = mdlm_loss(model, segments[:, i], stack=stack, generator=generator, eps=eps)
        rows.append(out.per_row)
        if stack is not None and i + 1 < n_seg:
            stack = model.write(segments[:, i], stack)
    per = torch.stack(rows)
    return per.mean(), per


@torch.no_grad()
def nll_bound(
    model: MaskedDiffusionLM, segments: Tensor, *, samples: int = 4, seed: int = 0
) -> Tensor:
    """Monte-Carlo ELBO bound (nats/token) per segment ``(n_seg,)`` averaged over rows and
    ``samples`` draws of (t, mask), with stratified t (draw j of row r: (j + u) / samples) so
    the estimate has low variance; the same seed gives both architectures the same draws."""
    return nll_bound_rows(model, segments, samples=samples, seed=seed).mean(-1)


@torch.no_grad()
def nll_bound_rows(
    model: MaskedDiffusionLM, segments: Tensor, *, samples: int = 4, seed: int = 0
) -> Tensor:
    """`nll_bound` per segment and row ``(n_seg, B)`` (the same draws): for paired tests over
    windows."""
    was = model.training
    model.eval()
    g = torch.Generator(device=segments.device).manual_seed(seed)
    b, n_seg, _ = segments.shape
    total = torch.zeros(n_seg, b, dtype=torch.float64)
    for j in range(samples):
        stack = model.empty_stack(b) if model.cfg.has_thought else None
        for i in range(n_seg):
            u = torch.rand(b, generator=g, device=segments.device)
            t = ((j + u) / samples).clamp(min=1e-3)
            mask = draw_mask((b, segments.shape[2]), t, g)
            out = mdlm_loss(model, segments[:, i], t=t, mask=mask, stack=stack)
            total[i] += out.per_row.double().cpu()
            if stack is not None and i + 1 < n_seg:
                stack = model.write(segments[:, i], stack)
    model.train(was)
    return (total / samples).float()
