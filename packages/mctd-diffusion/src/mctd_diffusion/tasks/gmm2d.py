"""Task gmm2d: a 25-mode 2-D grid mixture, an MLP denoiser, a reward with an exact tilted target.

Prior: 5 x 5 modes at spacing 1 with std 0.1. Reward r(x) = -(q/2)||x - c||^2 (c between modes), so
p(x) exp(lam r(x)) / Z is an exact mixture (``mctd_diffusion.mixture.tilt``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from mctd_diffusion.denoisers import MLPDenoiser
from mctd_diffusion.metrics import mmd_rbf, mode_coverage, sliced_wasserstein
from mctd_diffusion.mixture import GaussianMixture, QuadraticReward, grid_mixture, tilt
from mctd_diffusion.schedulers import Scheduler, make_scheduler

MMD_BANDWIDTH = 0.5  # RBF kernel bandwidth (half the mode spacing) for every gmm2d MMD


@dataclass
class Gmm2dTask:
    """Everything that defines the task and its model; saved with a training run as JSON."""

    n_side: int = 5
    spacing: float = 1.0
    std: float = 0.1
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"
    hidden: int = 128
    depth: int = 3
    emb_dim: int = 64
    reward_c: tuple[float, float] = (1.5, 1.0)
    reward_q: float = 2.0
    lam: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Gmm2dTask:
        d = dict(d)
        d["reward_c"] = tuple(d.get("reward_c", cls.reward_c))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def mixture(self) -> GaussianMixture:
        return grid_mixture(self.n_side, self.spacing, self.std)

    def reward(self) -> QuadraticReward:
        return QuadraticReward((0.0, 0.0), self.reward_c, self.reward_q)

    def target(self, lam: float | None = None) -> GaussianMixture:
        """The exact tilted mixture p(x) exp(lam r(x)) / Z."""
        return tilt(self.mixture(), self.reward(), self.lam if lam is None else lam)

    def scheduler(self, name: str = "ddim", eta: float = 1.0) -> Scheduler:
        return make_scheduler(
            name,
            num_train_timesteps=self.num_train_timesteps,
            beta_schedule=self.beta_schedule,
            prediction_type=self.prediction_type,
            eta=eta,
        )

    def model(self) -> MLPDenoiser:
        return MLPDenoiser(2, hidden=self.hidden, depth=self.depth, emb_dim=self.emb_dim)

    def batch(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n exact training samples of the prior (float32), drawn with a torch generator."""
        mix = self.mixture()
        k = torch.multinomial(
            torch.as_tensor(mix.weights), n, replacement=True, generator=generator
        )
        z = torch.randn((n, 2), generator=generator, dtype=torch.float64)
        x = torch.as_tensor(mix.means)[k] + torch.as_tensor(mix.stds)[k, None] * z
        return x.float()


def evaluate(
    samples: np.ndarray,
    target: GaussianMixture,
    rewards: np.ndarray,
    rng: np.random.Generator | int = 0,
    n_ref: int = 4000,
) -> dict[str, float]:
    """MMD (RBF, bandwidth 0.5) and sliced W2 to exact target draws, mean reward, mode coverage."""
    rng = np.random.default_rng(rng)
    ref = target.sample(n_ref, rng)
    return {
        "mmd": mmd_rbf(samples, ref, MMD_BANDWIDTH),
        "swd": sliced_wasserstein(samples, ref, rng=rng),
        "mean_reward": float(np.mean(rewards)),
        "coverage": mode_coverage(samples, target.means, target.stds, target.weights),
        "n": float(len(samples)),
    }


def evaluate_cell(
    task: Gmm2dTask,
    model: torch.nn.Module,
    method: str | Callable[..., Any],
    nfe: int,
    seed: int,
    *,
    num_steps: int = 50,
    branch_every: int = 10,
    n_out: int = 256,
    parallel: int = 32,
    keep: bool = False,
    **method_kwargs: float,
) -> dict[str, Any]:
    """One (method, NFE budget, seed) cell of the gmm2d benchmark: metrics vs the tilted target.

    Builds the problem (stochastic DDIM eta = 1, ``num_steps`` steps, branching every
    ``branch_every``), runs the method (a name in ``mctd_diffusion.methods.METHODS`` or one of its
    functions; ``method_kwargs``: e.g. DTS's ``c_widen``, ``alpha``) and scores its samples with
    ``evaluate``. ``keep``: also return the ``MethodRun`` (samples, rewards, tree) under
    ``"run"``, for figures and tree viewers.
    """
    from mctd_diffusion.methods import run_method
    from mctd_diffusion.problem import DenoisingProblem

    torch.manual_seed(seed)
    problem = DenoisingProblem(
        model,
        task.scheduler("ddim", eta=1.0),
        task.reward(),
        sample_shape=(2,),
        num_steps=num_steps,
        branch_every=branch_every,
    )
    run = run_method(
        method,
        problem,
        nfe,
        lam=task.lam,
        n_out=n_out,
        seed=seed,
        parallel=parallel,
        **method_kwargs,
    )
    metrics: dict[str, Any] = dict(evaluate(run.samples, task.target(), run.rewards, 10_000 + seed))
    metrics.update(
        method=method if isinstance(method, str) else getattr(method, "__name__", str(method)),
        budget_nfe=nfe,
        seed=seed,
        best_reward=run.best_reward,
        nfe=run.nfe,
        calls=run.calls,
        wall_time=run.wall_time,
    )
    if keep:
        metrics["run"] = run
    return metrics
