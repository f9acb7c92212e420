"""Denoisers: plain ``nn.Module``s ``(x, t_per_token, cond) -> prediction`` of x's shape."""

from mctd_diffusion.denoisers.exact import ExactMixtureDenoiser
from mctd_diffusion.denoisers.mlp import MLPDenoiser
from mctd_diffusion.denoisers.transformer import TransformerDenoiser
from mctd_diffusion.denoisers.unet1d import UNet1D

__all__ = ["ExactMixtureDenoiser", "MLPDenoiser", "TransformerDenoiser", "UNet1D"]
