"""A source-filter vocoder for the harmonic head (natural-voice research; not used by the app).

The default model's decoder describes each frame as a source and a filter
(:meth:`vaesynth.model.models.ConditionalVAE.decode_parts`: f0, voicing gate, harmonic and noise
envelopes). The engine mixes them into one magnitude and finds a waveform for it with Griffin-Lim;
:func:`render_parts` instead renders the parts directly, as DDSP and classic vocoders do: a sum of
harmonics of the integrated f0, and white noise filtered by the noise envelope in the STFT domain.
``experiments/natural_voice_vocoder.py`` judges it against the engine's rendering.
"""

from __future__ import annotations

import math

import numpy as np

from vaesynth.dsp.phase import istft
from vaesynth.dsp.spectral import SpectralConfig, hann, stft


def render_parts(
    parts: dict, n: int, cfg: SpectralConfig, rng: np.random.Generator, phase: str = "zero", voiced_noise: float = 1.0
) -> np.ndarray:
    """One utterance's waveform ``(n * hop,)`` float32 from the first ``n`` frames of one row of
    :meth:`~vaesynth.model.models.ConditionalVAE.decode_parts` (numpy arrays ``harm_ln``, ``noise_ln``
    ``(T, F)``, ``f0``, ``gate`` ``(T,)``).

    - harmonics: sum over k of ``a_k(t) cos(k phi(t) + p_k)``; ``phi`` integrates f0 (linear per
      sample between frame centres); ``a_k`` is the gated harmonic envelope at ``k f0``, divided by
      ``n_fft / 4`` so that the sinusoid's STFT peak (Hann window) equals the envelope; ``p_k`` = 0
      (``phase="zero"``, pulse-like) or uniform random (``"random"``);
    - noise: the STFT of white noise, normalised like the model's noise texture, times the noise
      envelope, inverse STFT (consistent phase; the re-analysed magnitude is the envelope times a
      real noise's fine structure), times ``voiced_noise`` in gate-on frames.
    """
    hop, n_fft, sr = cfg.hop, cfg.n_fft, cfg.sample_rate
    off = cfg.db_min / 20 * math.log(10)  # feature 0 = db_min
    harm = np.exp(parts["harm_ln"][:n] + off) * parts["gate"][:n, None] / (n_fft / 4)
    noise_env = np.exp(parts["noise_ln"][:n] + off)
    f0, gate = parts["f0"][:n].astype(np.float64), parts["gate"][:n]
    n_samp = n * hop
    ts, tf = np.arange(n_samp), np.arange(n) * hop
    phi = 2 * np.pi * np.cumsum(np.interp(ts, tf, f0)) / sr
    k = np.arange(1, int(sr / 2 / f0.min()) + 1)
    fk = k[None, :] * f0[:, None]  # (n, K)
    pos = np.clip(fk / (sr / n_fft), 0, harm.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, harm.shape[1] - 1)
    w = pos - lo
    rows = np.arange(n)[:, None]
    amp = (harm[rows, lo] * (1 - w) + harm[rows, hi] * w) * (fk < sr / 2)  # (n, K)
    # frame-rate amplitudes to sample rate (linear between frame centres)
    x = np.clip(ts / hop, 0, n - 1)
    i0 = np.floor(x).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    a = x - i0
    amp_s = amp[i0] * (1 - a)[:, None] + amp[i1] * a[:, None]  # (n_samp, K)
    p0 = np.zeros(len(k)) if phase == "zero" else rng.uniform(0, 2 * np.pi, len(k))
    wave = (amp_s * np.cos(phi[:, None] * k[None, :] + p0[None, :])).sum(1)
    spec = stft(rng.standard_normal(n_samp).astype(np.float32), cfg)[:n]
    spec = spec / np.sqrt((hann(n_fft) ** 2).sum()) * noise_env
    noise = istft(spec, cfg, n_samp)
    if voiced_noise != 1.0:
        g = np.interp(ts, tf, gate)
        noise = noise * (g * voiced_noise + (1 - g))
    return (wave + noise).astype(np.float32)


def vocoder_features(model, z, digit):
    """What :func:`render_parts` would render, re-analysed, as normalised features ``(B, T, F)`` in
    [0, 1], differentiable (torch), so the adversarial stage can judge the vocoder's output.

    The model's parts in its current mode (:meth:`~vaesynth.model.models.ConditionalVAE.trunk` and its
    source-filter head; a hard-gated model's gate is made hard with a straight-through gradient),
    harmonics summed in the time domain and analysed with the engine's STFT framing, plus the noise
    envelope times the STFT of fresh white noise (the STFT is linear, so this is the analysis of
    harmonics plus filtered noise, up to the filtered noise's consistency)."""
    import torch

    cfg = model.cfg
    hop, n_fft, sr = cfg.hop, cfg.n_fft, cfg.sample_rate
    off = cfg.db_min / 20 * math.log(10)
    h = model.trunk(z, digit)
    harm_ln, noise_ln, f0, _, gate, _ = model.source_filter(h)
    if gate is None:
        gate = torch.ones_like(f0)
    elif model.hard_gate:
        gate = (gate > 0.5).to(gate.dtype) + gate - gate.detach()
    b, t, f = harm_ln.shape
    n_samp = t * hop
    x = torch.arange(n_samp, device=z.device, dtype=f0.dtype) / hop
    i0 = x.floor().long().clamp(max=t - 1)
    i1 = (i0 + 1).clamp(max=t - 1)
    a = (x - i0.to(x.dtype)).clamp(0, 1)
    phi = 2 * math.pi * torch.cumsum(f0[:, i0] * (1 - a) + f0[:, i1] * a, dim=1) / sr  # (B, n_samp)
    k = torch.arange(1, int(sr / 2 / float(f0.detach().min())) + 2, device=z.device, dtype=f0.dtype)
    fk = f0[..., None] * k  # (B, T, K)
    pos = (fk / (sr / n_fft)).clamp(0, f - 1)
    lo = pos.detach().floor().long()
    hi = (lo + 1).clamp(max=f - 1)
    w = pos - lo.to(pos.dtype)
    harm = torch.exp(harm_ln + off) * gate[..., None] / (n_fft / 4)
    amp = (torch.gather(harm, 2, lo) * (1 - w) + torch.gather(harm, 2, hi) * w) * (fk < sr / 2)
    amp_s = amp[:, i0] * (1 - a)[None, :, None] + amp[:, i1] * a[None, :, None]  # (B, n_samp, K)
    wave = (amp_s * torch.cos(phi[..., None] * k)).sum(-1)
    win = torch.hann_window(n_fft, periodic=True, device=z.device, dtype=wave.dtype)

    def spec(sig):
        s = torch.stft(sig, n_fft, hop, window=win, center=True, pad_mode="constant", return_complex=True)
        return s.transpose(1, 2)[:, :t]

    noise = spec(torch.randn(b, n_samp, device=z.device)) / torch.sqrt((win**2).sum())
    total = spec(wave) + noise * torch.exp(noise_ln + off)
    log_mag = torch.log(total.abs() + 1e-9) - off
    return (log_mag / model.span).clamp(0.0, 1.0)
