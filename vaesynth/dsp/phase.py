"""Phase reconstruction: from a magnitude spectrogram back to a waveform.

:func:`griffin_lim` (fast Griffin-Lim with momentum, vectorised over a batch) and its starting
phases (:func:`initial_phase`: random, zeros, or the phase-gradient heuristic :func:`pghi_phase`),
plus :func:`istft`, the weighted overlap-add inverse of :func:`vaesynth.dsp.spectral.stft`.
The FFT backend is an explicit argument (``fft="numpy"`` or ``"torch"``), never global state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spectral import SpectralConfig, hann, stft

FFT_BACKENDS = ("numpy", "torch")


def _check_fft(fft: str) -> None:
    if fft not in FFT_BACKENDS:
        raise ValueError(f"unknown FFT backend {fft!r}; known: {', '.join(FFT_BACKENDS)}")


def _torch():
    import torch

    return torch


def _rfft(x: np.ndarray, fft: str, out: np.ndarray | None = None) -> np.ndarray:
    """Real FFT along the last axis (float32 -> complex64) with backend ``fft``, into ``out`` if given."""
    if fft == "numpy":
        r = np.fft.rfft(x, axis=-1)
        if out is None:
            return r.astype(np.complex64, copy=False)
        out[...] = r
        return out
    torch = _torch()
    if out is None:
        return torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(x)), dim=-1).numpy()
    torch.fft.rfft(torch.from_numpy(x), dim=-1, out=torch.from_numpy(out))
    return out


def _irfft(c: np.ndarray, n: int, fft: str, out: np.ndarray | None = None) -> np.ndarray:
    """Inverse real FFT of length ``n`` along the last axis (complex64 -> float32) with backend ``fft``."""
    if fft == "numpy":
        r = np.fft.irfft(c, n=n, axis=-1)
        if out is None:
            return r.astype(np.float32, copy=False)
        out[...] = r
        return out
    torch = _torch()
    if out is None:
        return torch.fft.irfft(torch.from_numpy(np.ascontiguousarray(c)), n=n, dim=-1).numpy()
    torch.fft.irfft(torch.from_numpy(c), n=n, dim=-1, out=torch.from_numpy(out))
    return out


def istft(spec: np.ndarray, cfg: SpectralConfig, n_samples: int | None = None, fft: str = "numpy") -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add. ``spec``: ``(..., n_frames, n_bins)``.

    Returns float32 ``(..., n_samples)`` (default ``(n_frames - 1) * hop``); batch dimensions
    are kept (vectorised). ``fft``: ``"numpy"`` or ``"torch"`` (see :data:`FFT_BACKENDS`).
    """
    _check_fft(fft)
    spec = np.asarray(spec)
    n = spec.shape[-2]
    if n_samples is None:
        n_samples = (n - 1) * cfg.hop
    pad = cfg.n_fft // 2
    if cfg.n_fft % cfg.hop:  # pragma: no cover - only for hops that do not divide n_fft
        return _istft_generic(spec, cfg, n_samples)
    plan = _ola_plan(cfg, n)
    frames = _irfft(spec.astype(np.complex64, copy=False), cfg.n_fft, fft)
    frames *= plan.window
    out = _overlap_add(frames, plan)
    out *= plan.inv_norm
    return out.reshape(spec.shape[:-2] + (-1,))[..., pad : pad + n_samples]


def _istft_generic(spec: np.ndarray, cfg: SpectralConfig, n_samples: int) -> np.ndarray:  # pragma: no cover
    n = spec.shape[-2]
    w = hann(cfg.n_fft)
    frames = np.fft.irfft(spec, n=cfg.n_fft, axis=-1).astype(np.float32) * w
    total = (n - 1) * cfg.hop + cfg.n_fft
    out = np.zeros(spec.shape[:-2] + (total,), dtype=np.float32)
    norm = np.zeros(total, dtype=np.float32)
    for i in range(n):
        out[..., i * cfg.hop : i * cfg.hop + cfg.n_fft] += frames[..., i, :]
        norm[i * cfg.hop : i * cfg.hop + cfg.n_fft] += w * w
    out /= np.maximum(norm, 1e-3)
    pad = cfg.n_fft // 2
    return out[..., pad : pad + n_samples]


@dataclass(frozen=True)
class _OLAPlan:
    """Precomputed overlap-add data for ``n_frames`` frames with ``ratio = n_fft // hop``.

    The waveform is handled as ``(n_frames + ratio - 1, hop)`` blocks: frame ``t`` covers
    blocks ``t .. t + ratio - 1``.
    """

    n_frames: int
    ratio: int
    hop: int
    window: np.ndarray  # (n_fft,)
    inv_norm: np.ndarray  # (n_blocks, hop): 1 / window-sum-square
    inv_norm_signal: np.ndarray  # same, zero outside the signal (what stft's zero padding sees)


_PLANS: dict[tuple[int, int, int], _OLAPlan] = {}


def _ola_plan(cfg: SpectralConfig, n_frames: int) -> _OLAPlan:
    key = (cfg.n_fft, cfg.hop, n_frames)
    plan = _PLANS.get(key)
    if plan is None:
        r, h = cfg.n_fft // cfg.hop, cfg.hop
        w = hann(cfg.n_fft)
        norm = np.zeros((n_frames + r - 1, h), dtype=np.float32)
        w2 = (w * w).reshape(r, h)
        for k in range(r):
            norm[k : k + n_frames] += w2[k]
        inv = (1.0 / np.maximum(norm, 1e-3)).astype(np.float32)
        # stft() sees the signal (n_frames - 1) * hop samples long, zero-padded by n_fft // 2:
        # in block units the signal spans [pad_blocks, pad_blocks + n_frames - 1).
        inv_sig = inv.copy()
        pb = (cfg.n_fft // 2) // h
        inv_sig[:pb] = 0.0
        inv_sig[n_frames - 1 + pb :] = 0.0
        plan = _OLAPlan(n_frames, r, h, w, inv, inv_sig)
        if len(_PLANS) > 256:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _overlap_add(frames: np.ndarray, plan: _OLAPlan, out: np.ndarray | None = None) -> np.ndarray:
    """Frames ``(..., n_frames, n_fft)`` -> summed blocks ``(..., n_frames + ratio - 1, hop)``."""
    t, r, h = plan.n_frames, plan.ratio, plan.hop
    y = frames.reshape(frames.shape[:-1] + (r, h))
    if out is None:
        out = np.empty(frames.shape[:-2] + (t + r - 1, h), dtype=np.float32)
    out[..., :t, :] = y[..., 0, :]
    out[..., t:, :] = 0.0
    for k in range(1, r):
        out[..., k : k + t, :] += y[..., k, :]
    return out


def griffin_lim(
    mag: np.ndarray,
    cfg: SpectralConfig,
    n_iter: int = 32,
    momentum: float = 0.99,
    init: str = "random",
    seed: int | None = 0,
    n_samples: int | None = None,
    fft: str = "numpy",
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al. 2013) phase reconstruction, vectorised.

    ``mag``: linear magnitude ``(n_frames, n_bins)`` or a batch ``(batch, n_frames, n_bins)``.
    ``init``: ``"random"`` (uniform phase from ``seed``), ``"zeros"``, or ``"pghi"`` (phase
    integrated from the magnitude's gradients, see :func:`pghi_phase`; ``seed`` unused).
    ``momentum`` 0 gives the classic Griffin-Lim algorithm.
    Returns float32 waveform(s) ``(..., n_samples)``; default ``(n_frames - 1) * hop``.
    ``fft``: the FFT backend, ``"numpy"`` or ``"torch"``. On these small frames torch's
    single-threaded FFT is 2-3x faster than numpy's, but with several intra-op threads torch
    splits even a 40-frame batch across threads, and on a busy machine they wait for each other
    (measured: 2 ms became 400 ms); so pick ``"torch"`` only where torch runs single-threaded
    (:class:`vaesynth.engine.synth.Synth` does). Results agree to float32 rounding.

    All iterations run in preallocated buffers in the frame domain (overlap-add in
    hop-sized blocks, re-framing through a strided view), which is exactly equivalent to
    alternating :func:`istft` and :func:`stft` of the ``(n_frames - 1) * hop`` signal.
    """
    _check_fft(fft)
    mag = np.ascontiguousarray(mag, dtype=np.float32)
    t = mag.shape[-2]
    if n_samples is None:
        n_samples = (t - 1) * cfg.hop
    angles = initial_phase(mag, cfg, init, seed)
    if cfg.n_fft % cfg.hop:  # pragma: no cover - only for hops that do not divide n_fft
        return istft(mag * _gla_generic(mag, cfg, angles, n_iter, momentum), cfg, n_samples)
    return istft(_gla_blocks(mag, cfg, angles, n_iter, momentum, fft), cfg, n_samples, fft)


GL_INITS = ("random", "zeros", "pghi")


def initial_phase(mag: np.ndarray, cfg: SpectralConfig, init: str = "random", seed: int | None = 0) -> np.ndarray:
    """Unit-modulus complex64 phase ``(..., n_frames, n_bins)`` to start Griffin-Lim from."""
    if init == "random":
        rng = np.random.default_rng(seed)
        return _unit_phasors((2 * np.pi) * rng.random(mag.shape, dtype=np.float32))
    if init == "zeros":
        return np.ones(mag.shape, dtype=np.complex64)
    if init == "pghi":
        return _unit_phasors(pghi_phase(mag, cfg))
    raise ValueError(f"unknown Griffin-Lim init {init!r}")


def _unit_phasors(phase: np.ndarray) -> np.ndarray:
    """``exp(1j * phase)`` as complex64, via float32 cos and sin (several times faster than np.exp)."""
    phase = np.asarray(phase, dtype=np.float32)
    out = np.empty(phase.shape, dtype=np.complex64)
    f = out.view(np.float32).reshape(phase.shape + (2,))
    np.cos(phase, out=f[..., 0])
    np.sin(phase, out=f[..., 1])
    return out


def _gla_blocks(
    mag: np.ndarray, cfg: SpectralConfig, angles: np.ndarray, n_iter: int, momentum: float, fft: str
) -> np.ndarray:
    """The fast Griffin-Lim loop; returns the final complex spectrogram ``mag * phase`` (complex64)."""
    t, n_fft = mag.shape[-2], cfg.n_fft
    batch = mag.shape[:-2]
    plan = _ola_plan(cfg, t)
    w = plan.window
    alpha = np.float32(momentum / (1.0 + momentum))
    blocks = np.empty(batch + (t + plan.ratio - 1, cfg.hop), dtype=np.float32)
    # frame t of the rebuilt signal = blocks t .. t + ratio - 1, i.e. a strided view
    s = blocks.strides
    framed = np.lib.stride_tricks.as_strided(blocks, batch + (t, n_fft), s[:-2] + (s[-2], s[-1]), writeable=False)
    frames = np.empty(batch + (t, n_fft), dtype=np.float32)
    spec = np.multiply(mag, angles).astype(np.complex64, copy=False)
    rebuilt = np.empty(mag.shape, dtype=np.complex64)
    prev = np.zeros(mag.shape, dtype=np.complex64)
    target = np.empty(mag.shape, dtype=np.complex64)
    scale = np.empty(mag.shape, dtype=np.float32)
    # complex arrays seen as (..., n_bins, 2) floats: complex * real is a cheap broadcast multiply
    target_f = target.view(np.float32).reshape(mag.shape + (2,))
    spec_f = spec.view(np.float32).reshape(mag.shape + (2,))
    scale_f = scale[..., None]
    for _ in range(n_iter):
        _irfft(spec, n_fft, fft, out=frames)  # synthesis frames
        frames *= w
        _overlap_add(frames, plan, out=blocks)
        blocks *= plan.inv_norm_signal  # istft normalisation, and the signal's extent
        np.multiply(framed, w, out=frames)  # analysis frames
        _rfft(frames, fft, out=rebuilt)
        # momentum: target = rebuilt - alpha * prev; then spec = mag * target / |target|
        np.multiply(prev, -alpha, out=target)
        target += rebuilt
        prev, rebuilt = rebuilt, prev
        np.abs(target, out=scale)
        np.maximum(scale, 1e-16, out=scale)
        np.divide(mag, scale, out=scale)
        np.multiply(target_f, scale_f, out=spec_f)
    return spec


def _gla_generic(
    mag: np.ndarray, cfg: SpectralConfig, angles: np.ndarray, n_iter: int, momentum: float
) -> np.ndarray:  # pragma: no cover - only for hops that do not divide n_fft
    n_samples = (mag.shape[-2] - 1) * cfg.hop
    prev = np.zeros_like(angles)
    for _ in range(n_iter):
        wave = istft(mag * angles, cfg, n_samples)
        rebuilt = stft(wave, cfg)[..., : mag.shape[-2], :]
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return angles


PGHI_GAMMA_HANN = 0.25645  # Gaussian approximation of a Hann window: gamma = 0.25645 * n_fft**2


def pghi_phase(mag: np.ndarray, cfg: SpectralConfig, tol_db: float = 60.0) -> np.ndarray:
    """Phase (radians, float32, same shape as ``mag``) from phase-gradient heuristic integration.

    A vectorised simplification of PGHI (Prusa, Balazs & Sondergaard 2017): the
    instantaneous frequency of each bin is estimated from the frequency derivative of the
    log-magnitude (exact for a Gaussian window, approximate for Hann), and integrated along
    time (trapezoid rule) with ``np.cumsum``. Bins more than ``tol_db`` below the peak are
    left at zero phase. The integration across frequency of full PGHI is skipped, so
    neighbouring bins of one partial are not phase-aligned at onsets; Griffin-Lim fixes that.
    """
    mag = np.asarray(mag, dtype=np.float32)
    n_fft, hop = cfg.n_fft, cfg.hop
    gamma = PGHI_GAMMA_HANN * n_fft**2
    logm = np.log(np.maximum(mag, 1e-12))
    # d log|S| / d bin by central differences (one-sided at the edges)
    dlog = np.gradient(logm, axis=-1) if mag.shape[-1] > 1 else np.zeros_like(logm)
    k = np.arange(mag.shape[-1], dtype=np.float32)
    # phase advance per hop: 2 pi hop (k + delta) / n_fft, with delta = dlog * n_fft^2 / (2 pi gamma)
    step = 2 * np.pi * hop * k / n_fft + (hop * n_fft / gamma) * dlog
    phase = np.cumsum(0.5 * (step + np.roll(step, 1, axis=-2)), axis=-2)
    phase -= phase[..., :1, :]
    small = logm < logm.max(axis=(-2, -1), keepdims=True) - tol_db / 20 * np.log(10)
    phase[small] = 0.0
    return phase.astype(np.float32)
