"""Task digits (the "image" family): latent diffusion on scikit-learn's 8x8 digits, steered to a
target class by a classifier reward (``mctd_diffusion.images``).

It runs on trained models, not a language model: ``--model DIR`` holds the run folders of
``mctd-train vae``, ``unet`` and ``classifier`` (``DIR/vae``, ``DIR/unet``, ``DIR/clf``; the
task parameters ``vae``, ``unet`` and ``classifier`` rename them), with the image methods
(``mctd_eval.methods.IMAGE_METHODS``). The UNet samples with the "no class" input (its prior
covers all ten digits); the reward is log p(target | decoded image), tilted with ``lam``. One
instance (the target class), so a cell is (method, NFE budget, seed). Metrics on the ``n_out``
samples a method returns: target-class rate, mean reward, diversity and Frechet distance (to the
real validation digits of the class) in the classifier's 64-d feature space, and the denoiser
FLOPs as run. Scoring lives in ``mctd_eval.digits.DigitsRunner``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from mctd_tree.errors import UserError

from mctd_eval.tasks.base import Instance, TaskBase


@dataclass(frozen=True)
class DigitsEvalTask(TaskBase):
    name: ClassVar[str] = "digits"
    description: ClassVar[str] = (
        "image: latent diffusion on 8x8 digits (--model DIR of mctd-train vae/unet/classifier "
        "runs) tilted toward a target class; target rate, reward, diversity, Frechet, FLOPs"
    )
    family: ClassVar[str] = "image"
    max_instances: ClassVar[int | None] = 1  # the target class; seeds are the replicates
    metric_names: ClassVar[tuple[str, ...]] = (
        "target_rate",
        "mean_reward",
        "best_reward",
        "diversity",
        "frechet",
    )
    table_note: ClassVar[str] = (
        "target_rate = share of samples the classifier calls the target class; mean_reward = "
        "mean log p(target | x); diversity = mean pairwise distance and frechet = Frechet "
        "distance to the real validation digits of the class, both in the classifier's 64-d "
        "feature space."
    )

    target: int = 3  # the digit class the reward asks for (0-9)
    lam: float = 5.0  # tilt of p exp(lam log p(target | x))
    num_steps: int = 20  # DDIM (eta = 1) denoising steps per sample
    branch_every: int = 5  # tree / SMC branching every this many steps
    n_out: int = 32  # samples scored per cell
    parallel: int = 8  # leaves per iteration of the tree searches
    vae: str = "vae"  # run folders relative to --model (absolute paths as they are)
    unet: str = "unet"
    classifier: str = "clf"

    def __post_init__(self) -> None:
        t = self.target
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 9:
            raise UserError(f"digits needs a target class, an integer in 0-9, got {t!r}")
        lam = self.lam
        if isinstance(lam, bool) or not isinstance(lam, int | float) or not math.isfinite(lam):
            raise UserError(f"digits needs a finite number lam >= 0, got {lam!r}")
        if lam < 0:
            raise UserError(f"digits needs a finite number lam >= 0, got {lam!r}")
        object.__setattr__(self, "lam", float(lam))
        for k in ("num_steps", "branch_every", "n_out", "parallel"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"digits needs an integer {k} >= 1, got {v!r}")
        for k in ("vae", "unet", "classifier"):
            if not isinstance(getattr(self, k), str) or not getattr(self, k):
                raise UserError(f"digits needs a folder name for {k}, got {getattr(self, k)!r}")

    def instances(self, n: int) -> list[Instance]:
        return [Instance(0, f"class-{self.target}", self.target, None)]

    def evaluate(self, text: str, public: Any, truth: Any) -> dict[str, float]:
        raise TypeError("digits is scored by mctd_eval.digits.DigitsRunner")
