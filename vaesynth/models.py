"""The VAE models: two unconditional baselines and the digit-conditioned default.

Every model works on normalised log-magnitude features ``x`` of shape
``(batch, n_frames, n_bins)`` in [0, 1] (see :mod:`vaesynth.spectral`) and shares one
interface:

- ``encode(x, digit) -> (mu, logvar)``, each ``(batch, latent_dim)``;
- ``decode(z, digit) -> DecoderOutput`` with ``features (batch, n_frames, n_bins)`` in [0, 1]
  and ``valid_logits (batch, n_frames)`` (> 0 where the utterance is still going on);
- ``conditional``: whether ``digit`` is used (the baselines ignore it; they reach a digit
  through per-digit latent statistics stored in their bundle).

Architectures are built from a plain ``params`` dict that is saved in each bundle's
``config.json``, so a bundle is data, never code.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .spectral import SpectralConfig

N_DIGITS = 10


@dataclass
class DecoderOutput:
    features: torch.Tensor  # (B, T, F) in [0, 1]
    valid_logits: torch.Tensor  # (B, T)
    f0_hz: torch.Tensor | None = None  # (B, T), harmonic head only
    voicing_logits: torch.Tensor | None = None  # (B, T), harmonic head with ``voicing=True`` only


class VAE(nn.Module):
    """Shared VAE plumbing: reparameterisation and the forward pass."""

    kind: str = "base"
    conditional: bool = False

    def __init__(self, cfg: SpectralConfig, latent_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim = latent_dim
        self.n_frames = cfg.max_frames
        self.n_bins = cfg.n_bins

    def encode(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, digit: torch.Tensor) -> DecoderOutput:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[DecoderOutput, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, digit)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z, digit), mu, logvar


class MLPVAE(VAE):
    """Baseline 1: fully connected VAE over the flattened spectrogram (unconditional)."""

    kind = "mlp"

    def __init__(self, cfg: SpectralConfig, latent_dim: int = 16, hidden: int = 64) -> None:
        super().__init__(cfg, latent_dim)
        d_in = self.n_frames * self.n_bins
        self.enc = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.to_stats = nn.Linear(hidden, 2 * latent_dim)
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.to_out = nn.Linear(hidden, d_in + self.n_frames)

    def encode(self, x, digit):
        mu, logvar = self.to_stats(self.enc(x.flatten(1))).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z, digit):
        out = self.to_out(self.dec(z))
        d = self.n_frames * self.n_bins
        feat = torch.sigmoid(out[:, :d]).view(-1, self.n_frames, self.n_bins)
        return DecoderOutput(feat, out[:, d:])


class CNNVAE(VAE):
    """Baseline 2: 2-D convolutional VAE over the spectrogram image (unconditional)."""

    kind = "cnn"

    def __init__(self, cfg: SpectralConfig, latent_dim: int = 32, channels: int = 32) -> None:
        super().__init__(cfg, latent_dim)
        c = channels
        # channels grow as resolution shrinks, so the full-resolution layers stay cheap on a CPU
        self.enc = nn.Sequential(
            nn.Conv2d(1, c // 2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
        )  # fmt: skip
        self.t0 = math.ceil(self.n_frames / 16)
        self.f0 = math.ceil(self.n_bins / 16)
        flat = 2 * c * self.t0 * self.f0
        self.to_stats = nn.Linear(flat, 2 * latent_dim)
        self.from_z = nn.Linear(latent_dim, flat)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(c // 2, c // 4, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c // 4, 1, 3, padding=1),
        )  # fmt: skip
        self.valid_head = nn.Linear(self.n_bins, 1)

    def encode(self, x, digit):
        h = self.enc(x.unsqueeze(1)).flatten(1)
        mu, logvar = self.to_stats(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z, digit):
        h = self.from_z(z).view(-1, self.to_stats.in_features // (self.t0 * self.f0), self.t0, self.f0)
        logits = self.dec(F.gelu(h))[:, 0, : self.n_frames, : self.n_bins]
        feat = torch.sigmoid(logits)
        return DecoderOutput(feat, self.valid_head(logits).squeeze(-1))


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
    k = torch.arange(n_coeffs, dtype=torch.float32)[:, None]
    f = torch.arange(n_bins, dtype=torch.float32)[None, :]
    return torch.cos(math.pi * k * (f + 0.5) / n_bins)


class ConditionalVAE(VAE):
    """The default: a digit-conditioned 1-D convolutional VAE.

    The digit conditions encoder and decoder (embedding + FiLM in every decoder block), so the
    small latent is free to hold voice and prosody. The decoder also predicts a per-frame
    ``valid`` logit, which decides the utterance length.

    ``head="harmonic"`` (default) makes the decoder a source-filter model: per frame it
    predicts f0, a smooth harmonic envelope and a smooth aperiodic (noise) envelope, and the
    magnitude is ``harm_env * comb(f0) + noise_env``, where ``comb`` is the analysis window's
    main lobe placed at every harmonic of f0. Harmonics are sharp by construction, which a
    plain regression head on log-magnitude blurs. ``head="magnitude"`` predicts the
    log-magnitude bins directly.

    Options of the harmonic head (issue 13; the defaults keep older bundles bit-identical):
    ``voicing=True`` adds a per-frame voicing output ``v`` in [0, 1] that gates the comb
    (``harm_env * v * comb(f0) + noise_env``), trained with BCE against the measured voicing and
    teacher-forced in training like f0, so fricatives and closures come out as noise;
    ``hard_gate=True`` makes the gate 0 or 1 outside training, like the teacher's gate.
    ``texture > 0`` multiplies the noise envelope by the normalised STFT magnitude of white noise
    (raised to ``texture``): the Rayleigh-distributed fine structure a real noise spectrum has,
    where the envelope alone is smooth. It is applied in eval mode (seeded from the latent, so a
    render stays deterministic) and when ``decode(..., texture=True)`` asks for it (adversarial
    stage); plain VAE training sees the smooth envelope.
    """

    kind = "cvae"
    conditional = True

    def __init__(
        self,
        cfg: SpectralConfig,
        latent_dim: int = 12,
        channels: int = 96,
        digit_dim: int = 32,
        n_blocks: int = 2,
        head: str = "harmonic",
        n_ceps: int = 32,
        voicing: bool = False,
        texture: float = 0.0,
        hard_gate: bool = False,
    ) -> None:
        super().__init__(cfg, latent_dim)
        if head not in ("harmonic", "magnitude"):
            raise ValueError(f"unknown head {head!r}")
        if self.n_frames % 8:
            raise ValueError("ConditionalVAE needs max_frames divisible by 8")
        self.head = head
        self.voicing = bool(voicing)
        self.texture = float(texture)
        self.hard_gate = bool(hard_gate)
        c = channels
        self.digit_emb = nn.Embedding(N_DIGITS, digit_dim)
        self.enc_in = nn.Conv1d(self.n_bins + digit_dim, c, 5, padding=2)
        self.enc_down = nn.ModuleList([nn.Conv1d(c, c, 4, stride=2, padding=1) for _ in range(3)])
        self.enc_blocks = nn.ModuleList([FiLMBlock(c, digit_dim) for _ in range(3)])
        self.t0 = self.n_frames // 8
        self.to_stats = nn.Linear(c * self.t0, 2 * latent_dim)
        cond = latent_dim + digit_dim
        self.from_z = nn.Linear(cond, c * self.t0)
        self.dec_up = nn.ModuleList([nn.ConvTranspose1d(c, c, 4, stride=2, padding=1) for _ in range(3)])
        self.dec_blocks = nn.ModuleList(
            [nn.ModuleList([FiLMBlock(c, cond, dilation=2**j) for j in range(n_blocks)]) for _ in range(3)]
        )
        self.pos = nn.Parameter(torch.zeros(1, c, self.n_frames))
        self.valid_head = nn.Conv1d(c, 1, 5, padding=2)
        if head == "magnitude":
            self.out = nn.Conv1d(c, self.n_bins, 1)
        else:
            self.n_ceps = n_ceps
            # 2 envelopes + f0
            self.out = nn.Conv1d(c, 2 * n_ceps + 1 + int(self.voicing), 1)
            self.register_buffer("basis", dct_basis(n_ceps, self.n_bins), persistent=False)
            freqs = torch.arange(self.n_bins, dtype=torch.float32) * cfg.sample_rate / cfg.n_fft
            self.register_buffer("bin_hz", freqs, persistent=False)

    def encode(self, x, digit):
        e = self.digit_emb(digit)
        h = torch.cat([x.transpose(1, 2), e[:, :, None].expand(-1, -1, x.shape[1])], dim=1)
        h = self.enc_in(h)
        for down, block in zip(self.enc_down, self.enc_blocks, strict=True):
            h = block(down(F.gelu(h)), e)
        mu, logvar = self.to_stats(F.gelu(h).flatten(1)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def trunk(self, z: torch.Tensor, digit: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([z, self.digit_emb(digit)], dim=-1)
        h = self.from_z(cond).view(z.shape[0], -1, self.t0)
        for up, blocks in zip(self.dec_up, self.dec_blocks, strict=True):
            h = up(F.gelu(h))
            for block in blocks:
                h = block(h, cond)
        return F.gelu(h + self.pos)

    def decode(
        self,
        z,
        digit,
        teacher_f0: torch.Tensor | None = None,
        teacher_voicing: torch.Tensor | None = None,
        texture: bool | None = None,
    ):
        """Decode; ``teacher_f0 (B, T)`` (Hz, NaN where unknown) replaces the predicted f0 in the
        harmonic comb during training, so the envelopes learn against correctly placed harmonics;
        ``teacher_voicing (B, T)`` in [0, 1] likewise replaces the voicing gate (``voicing=True``).
        ``texture``: apply the noise texture (default: in eval mode, when ``self.texture > 0``)."""
        h = self.trunk(z, digit)
        valid = self.valid_head(h).squeeze(1)
        if self.head == "magnitude":
            feat = torch.sigmoid(self.out(h)).transpose(1, 2)
            return DecoderOutput(feat, valid)
        o = self.out(h).transpose(1, 2)  # (B, T, 2K+1)
        k = self.n_ceps
        harm_db = o[..., :k] @ self.basis  # (B, T, F), in feature units (1 = full dB range)
        noise_db = o[..., k : 2 * k] @ self.basis
        f0 = 60.0 * torch.exp(torch.sigmoid(o[..., 2 * k]) * math.log(400.0 / 60.0))  # 60..400 Hz
        comb_f0 = f0 if teacher_f0 is None else torch.where(torch.isnan(teacher_f0), f0.detach(), teacher_f0)
        comb = harmonic_comb(comb_f0, self.bin_hz, self.cfg.sample_rate / self.cfg.n_fft)
        v_logits = None
        if self.voicing:
            v_logits = o[..., 2 * k + 1]
            # hard_gate: outside training the gate is 0 or 1, as the teacher-forced gate was in training
            gate = (v_logits > 0).float() if self.hard_gate and not self.training else torch.sigmoid(v_logits)
            if teacher_voicing is not None:
                gate = torch.where(torch.isnan(teacher_voicing), gate, teacher_voicing)
            comb = comb * gate.unsqueeze(-1)
        # mix in the linear-magnitude domain, return to normalised dB
        span = (self.cfg.db_max - self.cfg.db_min) / 20.0 * math.log(10.0)  # feature unit -> ln
        noise_ln = noise_db * span
        if self.texture > 0 and (texture if texture is not None else not self.training):
            noise_ln = noise_ln + self.texture * self.noise_texture(z)
        log_mag = torch.logaddexp(harm_db * span + torch.log(comb + 1e-6), noise_ln)
        feat = (log_mag / span).clamp(0.0, 1.0)
        return DecoderOutput(feat, valid, f0, v_logits)

    def noise_texture(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` natural log of the STFT magnitude of unit white noise, normalised to unit
        mean power (Rayleigh-distributed, correlated across overlapping frames like a real
        noise spectrum). Random in training mode; in eval mode seeded from each latent's bytes."""
        cfg = self.cfg
        n = self.n_frames * cfg.hop
        if self.training:
            noise = torch.randn(z.shape[0], n, device=z.device)
        else:
            rows = []
            for zi in z.detach().float().cpu().numpy():
                seed = int.from_bytes(hashlib.blake2b(zi.tobytes(), digest_size=8).digest(), "little") >> 1
                rows.append(torch.randn(n, generator=torch.Generator().manual_seed(seed)))
            noise = torch.stack(rows).to(z.device)
        win = torch.hann_window(cfg.n_fft, periodic=True, device=z.device)
        spec = torch.stft(noise, cfg.n_fft, cfg.hop, window=win, center=True, return_complex=True)
        mag2 = spec.abs().transpose(1, 2)[:, : self.n_frames] ** 2 / (win**2).sum()
        return 0.5 * torch.log(mag2 + 1e-8)


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


MODEL_TYPES: dict[str, type[VAE]] = {"mlp": MLPVAE, "cnn": CNNVAE, "cvae": ConditionalVAE}


def build_model(kind: str, cfg: SpectralConfig, params: dict | None = None) -> VAE:
    """Instantiate a model from its type name and its ``params`` dict (as stored in a bundle)."""
    if kind not in MODEL_TYPES:
        raise ValueError(f"unknown model type {kind!r}; known: {', '.join(MODEL_TYPES)}")
    try:
        return MODEL_TYPES[kind](cfg, **(params or {}))
    except TypeError as e:
        raise ValueError(f"bad parameters for model type {kind!r}: {e}") from None
