"""Building blocks of the decoders: FiLM-conditioned residual blocks, a cosine basis for smooth
spectral envelopes, and the harmonic comb of the source-filter head (shapes in each docstring)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class FiLMBlock(nn.Module):
    """Residual 1-D conv block whose activations are scaled and shifted by the condition."""

    def __init__(self, channels: int, cond_dim: int, kernel: int = 5, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * channels)
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        y = self.norm(self.conv1(F.gelu(h)))
        y = y * (1 + scale) + shift
        return h + self.conv2(F.gelu(y))


def dct_basis(n_coeffs: int, n_bins: int) -> torch.Tensor:
    """Cosine basis ``(n_coeffs, n_bins)``: a smooth spectral envelope from a few coefficients."""
    # on the CPU explicitly, also while a shape-only model is built on the meta device
    k = torch.arange(n_coeffs, dtype=torch.float32, device="cpu")[:, None]
    f = torch.arange(n_bins, dtype=torch.float32, device="cpu")[None, :]
    return torch.cos(math.pi * k * (f + 0.5) / n_bins)


def harmonic_comb(
    f0: torch.Tensor, bin_hz: torch.Tensor, bin_width_hz: float, sigma_bins: float = 0.85
) -> torch.Tensor:
    """Magnitude comb ``(B, T, F)``: a Gaussian main lobe at every harmonic of ``f0 (B, T)``.

    ``sigma_bins`` approximates a Hann window's main lobe (-6 dB at one bin). Bins below
    half the fundamental get nothing (no DC harmonic).
    """
    f0 = f0.unsqueeze(-1)
    ratio = bin_hz / f0
    dist_hz = (ratio - torch.round(ratio)) * f0
    comb = torch.exp(-0.5 * (dist_hz / (sigma_bins * bin_width_hz)) ** 2)
    return comb * (ratio > 0.5).float()
