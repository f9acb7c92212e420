"""Latent image diffusion on scikit-learn's digits: data, a VAE, a 2-D UNet, a classifier, rewards.

Images are (B, 1, 8, 8) in [0, 1]; the diffusion runs on the VAE's scaled latents (B, C, 4, 4),
and rewards decode through the VAE before scoring.
"""

from mctd_diffusion.images.classifier import DigitClassifier, classifier_loss
from mctd_diffusion.images.digits import DigitsSplit, load_digits_split
from mctd_diffusion.images.rewards import ClassReward, SymmetryReward, check_class
from mctd_diffusion.images.unet import UNet2D, check_latent_match
from mctd_diffusion.images.vae import VAE, kl_divergence, vae_loss

__all__ = [
    "VAE",
    "ClassReward",
    "DigitClassifier",
    "DigitsSplit",
    "SymmetryReward",
    "UNet2D",
    "check_class",
    "check_latent_match",
    "classifier_loss",
    "kl_divergence",
    "load_digits_split",
    "vae_loss",
]
