"""A small transformer denoiser for sequences, with a noise-level embedding per token."""

from __future__ import annotations

import torch
from torch import nn

from mctd_diffusion.denoisers._checks import check_cond, per_token_t
from mctd_diffusion.embeddings import NoiseLevelEmbedding


class TransformerDenoiser(nn.Module):
    """(x (B, L, D), t (B, L) or (B,), cond (B, C) | None) -> prediction (B, L, D).

    Token input: W_in x_l + pos_l + emb(t_l) (+ W_c cond), so each token carries its own noise
    level (Diffusion Forcing); a pre-norm encoder mixes tokens.
    """

    def __init__(
        self,
        data_dim: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        max_len: int = 128,
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.data_dim, self.cond_dim, self.max_len = data_dim, cond_dim, max_len
        self.inp = nn.Linear(data_dim, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        self.t_emb = NoiseLevelEmbedding(d_model)
        self.cond = nn.Linear(cond_dim, d_model) if cond_dim else None
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, data_dim))

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = per_token_t(x, t, self.data_dim, seq=True)
        check_cond(cond, x.shape[0], self.cond_dim)
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len={self.max_len}")
        h = self.inp(x) + self.pos[: x.shape[1]] + self.t_emb(t)
        if cond is not None and self.cond is not None:
            h = h + self.cond(cond)[:, None, :]
        return self.out(self.encoder(h))
