"""Task gmm2d (a diffusion task): sample a 2-D 25-mode Gaussian-mixture prior tilted by a
quadratic reward, p(x) exp(lam r(x)) / Z, known in closed form (``mctd_diffusion.tasks.gmm2d``).

It runs on a denoiser (``--model exact`` or an ``mctd-train gmm2d`` folder), with the diffusion
methods (``mctd_eval.methods.DIFFUSION_METHODS``); one instance (the target), so a cell is
(method, NFE budget, seed) and seeds are the replicates. Metrics vs exact target draws: ``mmd``
(RBF, bandwidth 0.5), ``swd`` (sliced W2), ``mean_reward`` of the samples, ``best_reward`` found,
``coverage`` (share of the target's modes that hold samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mctd_eval.tasks.base import Instance, TaskBase


@dataclass(frozen=True)
class Gmm2dEvalTask(TaskBase):
    name: ClassVar[str] = "gmm2d"
    description: ClassVar[str] = (
        "diffusion: 25-mode 2-D Gaussian mixture tilted by a quadratic reward (exact target); "
        "MMD / sliced W2 to the target, mean and best reward, mode coverage"
    )
    family: ClassVar[str] = "diffusion"
    max_instances: ClassVar[int | None] = 1  # the target; seeds are the replicates
    metric_names: ClassVar[tuple[str, ...]] = (
        "mmd",
        "swd",
        "mean_reward",
        "best_reward",
        "coverage",
    )

    lam: float = 1.0  # tilt strength of the target p exp(lam r)
    num_steps: int = 50  # DDIM (eta = 1) denoising steps per sample
    branch_every: int = 10  # tree / SMC branching every this many steps
    n_out: int = 256  # samples scored per cell
    parallel: int = (
        8  # DTS leaves per iteration (one iteration costs parallel x num_steps NFE at most)
    )

    def __post_init__(self) -> None:
        if not self.lam >= 0:
            raise ValueError(f"gmm2d needs lam >= 0, got {self.lam}")
        for k in ("num_steps", "branch_every", "n_out", "parallel"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"gmm2d needs an integer {k} >= 1, got {v!r}")

    def instances(self, n: int) -> list[Instance]:
        return [Instance(0, "tilted-gmm2d", None, None)]

    def evaluate(self, text: str, public: Any, truth: Any) -> dict[str, float]:
        raise TypeError("gmm2d is scored by mctd_eval.diffusion.DiffusionRunner")
