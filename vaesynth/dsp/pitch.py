"""Pitch analysis: per-frame f0 and periodicity from the normalised autocorrelation.

Used to build the f0 teacher of the source-filter model (training), to measure harmonic
sharpness (evaluation), and for any audio coming in.
"""

from __future__ import annotations

import numpy as np

from .spectral import SpectralConfig, frame


def lag_autocorrelation(frames: np.ndarray, cfg: SpectralConfig, fmin: float, fmax: float) -> tuple[np.ndarray, int]:
    """Normalised autocorrelation ``(n, n_lags)`` of zero-mean ``frames (n, n_fft)`` over the lags
    of ``fmax``..``fmin`` Hz, and the first lag (samples). 1.0 at a lag = periodic with that period.
    """
    n = cfg.n_fft
    spec = np.fft.rfft(frames, n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    # normalise by the overlap length so that long lags are not penalised by the window
    ac = ac / (n - np.arange(n))[None, :]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(cfg.sample_rate / fmax), min(int(cfg.sample_rate / fmin), n // 2)
    return ac[:, lo:hi], lo


def periodicity(
    wave: np.ndarray, cfg: SpectralConfig, fmin: float = 70.0, fmax: float = 400.0, voiced_db: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame periodicity and f0 of ``wave``, for frames within ``voiced_db`` of the loudest.

    Periodicity is the peak of the normalised autocorrelation over lags ``sr/fmax``..``sr/fmin``
    (1.0 = perfectly periodic). Returns ``(periodicity (n,), f0_hz (n,))`` for the loud frames.
    This measures harmonic sharpness: a blurred-harmonic (buzzy/noisy) spectrum scores lower.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.size < cfg.n_fft:
        return np.zeros(0), np.zeros(0)
    frames = frame(wave, cfg, centered=False)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    seg, lo = lag_autocorrelation(frames[energy > energy.max() - voiced_db], cfg, fmin, fmax)
    lag = seg.argmax(axis=1) + lo
    peak = np.clip(seg.max(axis=1), 0.0, 1.0)
    return peak, cfg.sample_rate / lag


def pitch_track(
    wave: np.ndarray, cfg: SpectralConfig, fmin: float = 60.0, fmax: float = 400.0
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) and periodicity per STFT frame, aligned with :func:`vaesynth.dsp.spectral.stft` (centered frames).

    Returns ``(f0 (n_frames,), periodicity (n_frames,))``; periodicity in [0, 1] as in
    :func:`periodicity`, computed for every frame (silent frames score near 0).
    """
    wave = np.asarray(wave, dtype=np.float64)
    frames = frame(wave, cfg)
    seg, lo = lag_autocorrelation(frames - frames.mean(axis=1, keepdims=True), cfg, fmin, fmax)
    i = seg.argmax(axis=1)
    # parabolic interpolation of the peak for sub-sample lag
    left = seg[np.arange(len(i)), np.maximum(i - 1, 0)]
    mid = seg[np.arange(len(i)), i]
    right = seg[np.arange(len(i)), np.minimum(i + 1, seg.shape[1] - 1)]
    denom = left - 2 * mid + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    lag = i + lo + np.clip(shift, -0.5, 0.5)
    return (cfg.sample_rate / lag).astype(np.float32), np.clip(mid, 0.0, 1.0).astype(np.float32)
