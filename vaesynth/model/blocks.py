"""Building blocks of the decoders: FiLM-conditioned residual blocks, a cosine basis for smooth
spectral envelopes, the harmonic comb of the source-filter head, latent-seeded noise and the
autoregressive prior of time-varying latents (shapes in each docstring)."""

from __future__ import annotations

import hashlib
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


def warp_frequency(env: torch.Tensor, ratio: float | torch.Tensor) -> torch.Tensor:
    """``env (B, T, F)`` (values on a linear frequency axis of ``F`` bins from 0 Hz) with its
    frequency axis scaled by ``ratio`` (one number, or one per row ``(B,)``): ``out[k] = env[k / ratio]``
    (linear interpolation), so a peak at bin ``k`` moves to ``ratio * k``. Past the top (``ratio < 1``)
    the last bin is held. A vocal tract ``1 / ratio`` as long has all its resonances ``ratio`` times as high."""
    n = env.shape[-1]
    bins = torch.arange(n, dtype=torch.float32, device=env.device)
    r = torch.as_tensor(ratio, dtype=torch.float32, device=env.device).reshape(-1, 1, 1)  # (1 or B, 1, 1)
    pos = (bins / r).clamp(max=n - 1)  # (1 or B, 1, F)
    lo = pos.floor().long().clamp(max=n - 2)
    w = (pos - lo).to(env.dtype)
    shape = env.shape[:-1] + (n,)
    below = torch.gather(env, -1, lo.expand(shape))
    above = torch.gather(env, -1, (lo + 1).expand(shape))
    return below * (1 - w) + above * w


def latent_seeds(z: torch.Tensor, salt: int = 0) -> list[int]:
    """One reproducible 63-bit seed per row of ``z (B, D)``, from the row's bytes (and ``salt``)."""
    out = []
    for zi in z.detach().float().cpu().numpy():
        digest = hashlib.blake2b(zi.tobytes(), digest_size=8, salt=salt.to_bytes(8, "little")).digest()
        out.append(int.from_bytes(digest, "little") >> 1)
    return out


def seeded_normal(z: torch.Tensor, shape: tuple[int, ...], salt: int = 0) -> torch.Tensor:
    """``(B, *shape)`` standard normal noise, each row seeded from the latent row ``z[b]``."""
    rows = [torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in latent_seeds(z, salt)]
    return torch.stack(rows).to(z.device)


def noise_texture(noise: torch.Tensor, n_fft: int, hop: int, n_frames: int) -> torch.Tensor:
    """``(B, n_frames, n_fft // 2 + 1)`` natural log of the STFT magnitude of white ``noise (B, N)``,
    normalised to unit mean power (Rayleigh-distributed, correlated across overlapping frames like
    a real noise spectrum)."""
    win = torch.hann_window(n_fft, periodic=True, device=noise.device)
    spec = torch.stft(noise, n_fft, hop, window=win, center=True, return_complex=True)
    mag2 = spec.abs().transpose(1, 2)[:, :n_frames] ** 2 / (win**2).sum()
    return 0.5 * torch.log(mag2 + 1e-8)


class SegmentPrior(nn.Module):
    """Autoregressive Gaussian prior ``p(w_s | w_<s, cond)`` of a latent sequence ``w (B, S, dim)``.

    A GRU cell runs over the ``S`` segments; its state starts from the condition (global code and
    digit embedding), and each step sees the previous segment's latent, a learnt position embedding
    and the condition. Outputs per segment a mean and a log-variance ``(B, S, dim)`` each.
    """

    def __init__(self, dim: int, cond_dim: int, n_seg: int, hidden: int = 64) -> None:
        super().__init__()
        self.dim, self.n_seg = dim, n_seg
        self.init = nn.Linear(cond_dim, hidden)
        self.pos = nn.Parameter(torch.zeros(n_seg, 8))
        self.cell = nn.GRUCell(dim + 8 + cond_dim, hidden)
        self.out = nn.Linear(hidden, 2 * dim)

    def _step(self, h, w_prev, s, cond):
        pos = self.pos[s].expand(cond.shape[0], -1)
        h = self.cell(torch.cat([w_prev, pos, cond], dim=-1), h)
        mu, logvar = self.out(h).chunk(2, dim=-1)
        return h, mu, logvar.clamp(-8, 4)

    def forward(self, w: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced prior statistics of the given sequence ``w (B, S, dim)``."""
        h, prev, mus, logvars = torch.tanh(self.init(cond)), torch.zeros_like(w[:, 0]), [], []
        for s in range(self.n_seg):
            h, mu, logvar = self._step(h, prev, s, cond)
            mus.append(mu)
            logvars.append(logvar)
            prev = w[:, s]
        return torch.stack(mus, 1), torch.stack(logvars, 1)

    def sample(self, cond: torch.Tensor, eps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """A sequence ``(B, S, dim)`` drawn with the standard normal noise ``eps (B, S, dim)``."""
        h, prev, ws = torch.tanh(self.init(cond)), eps.new_zeros(eps.shape[0], self.dim), []
        for s in range(self.n_seg):
            h, mu, logvar = self._step(h, prev, s, cond)
            prev = mu + temperature * eps[:, s] * torch.exp(0.5 * logvar)
            ws.append(prev)
        return torch.stack(ws, 1)
