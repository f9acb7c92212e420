"""mctd-diffusion: schedulers, denoisers, guidance and denoising search problems for mctd."""

from importlib.metadata import version as _version

from mctd_diffusion.denoisers import ExactMixtureDenoiser, MLPDenoiser, TransformerDenoiser, UNet1D
from mctd_diffusion.guidance import guided_step
from mctd_diffusion.metrics import mmd_rbf, mode_coverage, sliced_wasserstein
from mctd_diffusion.mixture import GaussianMixture, QuadraticReward, grid_mixture, tilt
from mctd_diffusion.parameterisation import to_x0_eps
from mctd_diffusion.problem import DenoisingProblem, DiffusionState
from mctd_diffusion.sampling import ancestral, best_of_groups, importance_resample
from mctd_diffusion.schedulers import (
    DDIMScheduler,
    DDPMScheduler,
    Scheduler,
    SchedulerOutput,
    make_scheduler,
)
from mctd_diffusion.schedules import cosine_betas, linear_betas, make_betas
from mctd_diffusion.smc import SMCResult, smc
from mctd_diffusion.training import diffusion_loss

__version__ = _version("mctd-diffusion")

__all__ = [
    "DDIMScheduler",
    "DDPMScheduler",
    "DenoisingProblem",
    "DiffusionState",
    "ExactMixtureDenoiser",
    "GaussianMixture",
    "MLPDenoiser",
    "QuadraticReward",
    "SMCResult",
    "Scheduler",
    "SchedulerOutput",
    "TransformerDenoiser",
    "UNet1D",
    "ancestral",
    "best_of_groups",
    "cosine_betas",
    "diffusion_loss",
    "grid_mixture",
    "guided_step",
    "importance_resample",
    "linear_betas",
    "make_betas",
    "make_scheduler",
    "mmd_rbf",
    "mode_coverage",
    "sliced_wasserstein",
    "smc",
    "tilt",
    "to_x0_eps",
]
