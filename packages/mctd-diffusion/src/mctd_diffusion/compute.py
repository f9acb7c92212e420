"""Compute knobs and meters of denoisers: FLOPs as run, capacity, classifier-free guidance.

- :class:`FlopMeter`: FLOPs of a denoiser's calls as actually run. The fixed part (every conv and
  matmul that runs whatever the input) is measured once per batch element with torch's
  ``FlopCounterMode``; a routed model (the MoR UNet) adds what its modules report in an integer
  ``flops`` attribute for the work they chose to do (counted at the call, so a low capacity
  shows up). 2 FLOPs per multiply-add, as ``FlopCounterMode`` counts.
- :func:`capacity`: a context that sets every module's ``set_capacity`` knob (MoR routers) and
  restores it; models without the knob run unchanged.
- :class:`ClassifierFreeGuidance`: eps = (1 + w) eps(x, c) - w eps(x, uncond), one batched call of
  2B rows, so ``evals_per_call = 2`` (the problem counts 2 NFE per element and step).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from mctd_tree.errors import UserError
from torch import nn


def routed_flops(model: nn.Module) -> int:
    """Sum of the integer ``flops`` counters that ``model``'s modules keep (0 if none)."""
    counts = (getattr(m, "flops", None) for m in model.modules())
    return sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))


def capacity_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` with a ``set_capacity`` knob."""
    return [m for m in model.modules() if callable(getattr(m, "set_capacity", None))]


@contextmanager
def capacity(model: nn.Module, value: float) -> Iterator[None]:
    """Run the block with every capacity knob of ``model`` at ``value`` (restored after)."""
    mods = capacity_modules(model)
    old = [float(m.capacity) for m in mods]  # type: ignore[arg-type]
    for m in mods:
        m.set_capacity(value)  # type: ignore[operator]
    try:
        yield
    finally:
        for m, c in zip(mods, old, strict=True):
            m.set_capacity(c)  # type: ignore[operator]


class FlopMeter:
    """Counts the FLOPs of ``model``'s calls: ``fixed`` per element + routed work as run."""

    def __init__(
        self, model: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None
    ) -> None:
        from torch.utils.flop_counter import FlopCounterMode

        with capacity(model, 1.0), torch.no_grad():
            before = routed_flops(model)
            with FlopCounterMode(display=False) as fc:
                model(x[:1], t[:1], None if cond is None else cond[:1])
            self.fixed = int(fc.get_total_flops()) - (routed_flops(model) - before)
        self.model = model

    def mark(self) -> int:
        """The routed counter now (pass it to :meth:`since` after the call)."""
        return routed_flops(self.model)

    def since(self, mark: int, batch: int) -> int:
        """FLOPs of a forward call on ``batch`` elements that began at ``mark``."""
        return batch * self.fixed + routed_flops(self.model) - mark


class ClassifierFreeGuidance(nn.Module):
    """``model`` guided toward ``cond`` (one row, or one per element) at scale ``scale``.

    Called as a denoiser ``(x, t, uncond)``: ``uncond`` is the "no class" input (zeros when
    None). Output (1 + w) model(x, t, cond) - w model(x, t, uncond), from one call of 2B rows.
    """

    evals_per_call = 2

    def __init__(self, model: nn.Module, cond: torch.Tensor, scale: float) -> None:
        super().__init__()
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale < 0:
            raise UserError(f"the classifier-free guidance scale must be >= 0, got {scale!r}")
        if cond.ndim != 2:
            raise UserError(f"the CFG condition must be (1 or B, K), got {tuple(cond.shape)}")
        self.model, self.cond, self.scale = model, cond, float(scale)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, uncond: torch.Tensor | None = None
    ) -> torch.Tensor:
        b = x.shape[0]
        c = self.cond.to(x.device).expand(b, -1) if self.cond.shape[0] == 1 else self.cond
        u = torch.zeros_like(c) if uncond is None else uncond.to(c).expand(b, -1)
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(b) if t.ndim == 0 else t
        out = self.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([c, u]))
        e_c, e_u = out[:b], out[b:]
        return (1.0 + self.scale) * e_c - self.scale * e_u
