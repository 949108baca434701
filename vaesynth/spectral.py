"""Spectral analysis and phase reconstruction: the one feature definition.

Everything here is a pure function of numpy arrays plus a :class:`SpectralConfig`.
The config is saved inside every model bundle, so training and playback can never
disagree about sample rate, FFT size, hop or dB scaling.

Array conventions (librosa-style, but time first):
- waveforms are float32 ``(n_samples,)`` in [-1, 1] at ``cfg.sample_rate`` Hz;
- spectrograms are ``(n_frames, n_bins)`` with ``n_bins = n_fft // 2 + 1``;
- "features" are normalised log-magnitudes in [0, 1], where 0 is ``db_min`` dB and
  1 is ``db_max`` dB (dB re. a Hann-windowed STFT of a waveform peak-normalised to
  ``peak``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass(frozen=True)
class SpectralConfig:
    sample_rate: int = 8000  # Hz; the model rate (FSDD's native rate)
    n_fft: int = 256  # samples (32 ms)
    hop: int = 64  # samples (8 ms)
    db_min: float = -70.0  # dB mapped to feature 0
    db_max: float = 35.0  # dB mapped to feature 1
    max_frames: int = 112  # frames per utterance (0.9 s); longer ones are cut
    trim_db: float = 50.0  # silence trimming threshold, dB below the loudest frame
    peak: float = 0.9  # waveforms are peak-normalised to this before analysis

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SpectralConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown spectral config keys: {sorted(unknown)}")
        cfg = cls(**d)
        if cfg.n_fft <= 0 or cfg.hop <= 0 or cfg.hop > cfg.n_fft or cfg.sample_rate <= 0:
            raise ValueError(f"invalid spectral config: {cfg}")
        if not cfg.db_max > cfg.db_min:
            raise ValueError("spectral config needs db_max > db_min")
        return cfg


_WINDOWS: dict[int, np.ndarray] = {}


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window ``(n_fft,)`` float32, cached."""
    w = _WINDOWS.get(n_fft)
    if w is None:
        w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
        _WINDOWS[n_fft] = w
    return w


def n_frames_for(n_samples: int, cfg: SpectralConfig) -> int:
    """Frames produced by :func:`stft` for a waveform of ``n_samples`` (centered framing)."""
    return 1 + n_samples // cfg.hop


def stft(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Complex STFT ``(n_frames, n_bins)`` of ``wave`` with centered, zero-padded frames."""
    wave = np.asarray(wave, dtype=np.float32)
    pad = cfg.n_fft // 2
    x = np.pad(wave, (pad, pad + cfg.hop))
    n = n_frames_for(len(wave), cfg)
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft)[:: cfg.hop][:n]
    return np.fft.rfft(frames * hann(cfg.n_fft), axis=-1).astype(np.complex64)


def istft(spec: np.ndarray, cfg: SpectralConfig, n_samples: int | None = None) -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add. ``spec``: ``(..., n_frames, n_bins)``.

    Returns float32 ``(..., n_samples)`` (default ``(n_frames - 1) * hop``); batch dimensions
    are kept (vectorised).
    """
    spec = np.asarray(spec)
    n = spec.shape[-2]
    if n_samples is None:
        n_samples = (n - 1) * cfg.hop
    pad = cfg.n_fft // 2
    if cfg.n_fft % cfg.hop:  # pragma: no cover - only for hops that do not divide n_fft
        return _istft_generic(spec, cfg, n_samples)
    plan = _ola_plan(cfg, n)
    frames = _irfft(spec.astype(np.complex64, copy=False), cfg.n_fft)
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


def _torch_fft():
    """torch, when its FFT is the fast choice here, else None (use numpy).

    On these small frames torch's single-threaded FFT is 2-3x faster than numpy's; but with
    several intra-op threads, torch splits even a 40-frame batch across threads, and on a
    busy machine the threads wait for each other (measured: 2 ms became 400 ms). So torch is
    used only when the process runs torch single-threaded (``torch.set_num_threads(1)``, as
    :class:`vaesynth.synth.Synth` does by default). Results agree to float32 rounding.
    torch is imported lazily and only if the process already imported it.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None or torch.get_num_threads() != 1:
        return None
    return torch


def _rfft(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Real FFT along the last axis (float32 -> complex64), into ``out`` if given."""
    torch = _torch_fft()
    if torch is None:
        r = np.fft.rfft(x, axis=-1)
        if out is None:
            return r.astype(np.complex64, copy=False)
        out[...] = r
        return out
    if out is None:
        return torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(x)), dim=-1).numpy()
    torch.fft.rfft(torch.from_numpy(x), dim=-1, out=torch.from_numpy(out))
    return out


def _irfft(c: np.ndarray, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Inverse real FFT of length ``n`` along the last axis (complex64 -> float32)."""
    torch = _torch_fft()
    if torch is None:
        r = np.fft.irfft(c, n=n, axis=-1)
        if out is None:
            return r.astype(np.float32, copy=False)
        out[...] = r
        return out
    if out is None:
        return torch.fft.irfft(torch.from_numpy(np.ascontiguousarray(c)), n=n, dim=-1).numpy()
    torch.fft.irfft(torch.from_numpy(c), n=n, dim=-1, out=torch.from_numpy(out))
    return out


def magnitude(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Linear magnitude spectrogram ``(n_frames, n_bins)`` float32."""
    return np.abs(stft(wave, cfg))


def mag_to_features(mag: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Linear magnitude -> normalised log-magnitude features in [0, 1]."""
    db = 20.0 * np.log10(np.maximum(mag, 1e-12))
    return np.clip((db - cfg.db_min) / (cfg.db_max - cfg.db_min), 0.0, 1.0).astype(np.float32)


def features_to_mag(feat: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Normalised log-magnitude features in [0, 1] -> linear magnitude (same shape)."""
    db = np.asarray(feat, dtype=np.float32) * (cfg.db_max - cfg.db_min) + cfg.db_min
    return np.power(10.0, db / 20.0).astype(np.float32)


def features_to_db(feat: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Normalised features -> dB, for display."""
    return np.asarray(feat, dtype=np.float32) * (cfg.db_max - cfg.db_min) + cfg.db_min


def normalize_peak(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Scale ``wave`` so that its absolute peak is ``cfg.peak`` (silence is returned as is)."""
    wave = np.asarray(wave, dtype=np.float32)
    p = float(np.max(np.abs(wave))) if wave.size else 0.0
    return wave if p < 1e-6 else (wave * (cfg.peak / p)).astype(np.float32)


def trim_silence(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``cfg.trim_db`` below the loudest frame."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < cfg.n_fft:
        return wave
    frames = np.lib.stride_tricks.sliding_window_view(wave, cfg.n_fft)[:: cfg.hop]
    energy = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(energy > energy.max() - cfg.trim_db)[0]
    if loud.size == 0:
        return wave
    start = loud[0] * cfg.hop
    end = min(len(wave), loud[-1] * cfg.hop + cfg.n_fft)
    return wave[start:end]


def wave_to_features(wave: np.ndarray, cfg: SpectralConfig) -> tuple[np.ndarray, int]:
    """A recording -> (features ``(max_frames, n_bins)`` in [0, 1], n_valid frames).

    Peak-normalises, trims silence, analyses, cuts to ``max_frames`` and pads the rest
    with silence (feature 0). ``n_valid`` counts the frames that hold the utterance.
    """
    wave = trim_silence(normalize_peak(wave, cfg), cfg)
    feat = mag_to_features(magnitude(wave, cfg), cfg)
    n_valid = min(len(feat), cfg.max_frames)
    out = np.zeros((cfg.max_frames, cfg.n_bins), dtype=np.float32)
    out[:n_valid] = feat[:n_valid]
    return out, n_valid


def griffin_lim(
    mag: np.ndarray,
    cfg: SpectralConfig,
    n_iter: int = 32,
    momentum: float = 0.99,
    init: str = "random",
    seed: int | None = 0,
    n_samples: int | None = None,
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al. 2013) phase reconstruction, vectorised.

    ``mag``: linear magnitude ``(n_frames, n_bins)`` or a batch ``(batch, n_frames, n_bins)``.
    ``init``: ``"random"`` (uniform phase from ``seed``), ``"zeros"``, or ``"pghi"`` (phase
    integrated from the magnitude's gradients, see :func:`pghi_phase`; ``seed`` unused).
    ``momentum`` 0 gives the classic Griffin-Lim algorithm.
    Returns float32 waveform(s) ``(..., n_samples)``; default ``(n_frames - 1) * hop``.

    All iterations run in preallocated buffers in the frame domain (overlap-add in
    hop-sized blocks, re-framing through a strided view), which is exactly equivalent to
    alternating :func:`istft` and :func:`stft` of the ``(n_frames - 1) * hop`` signal.
    """
    mag = np.ascontiguousarray(mag, dtype=np.float32)
    t = mag.shape[-2]
    if n_samples is None:
        n_samples = (t - 1) * cfg.hop
    angles = initial_phase(mag, cfg, init, seed)
    if cfg.n_fft % cfg.hop:  # pragma: no cover - only for hops that do not divide n_fft
        return istft(mag * _gla_generic(mag, cfg, angles, n_iter, momentum), cfg, n_samples)
    return istft(_gla_blocks(mag, cfg, angles, n_iter, momentum), cfg, n_samples)


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


def _gla_blocks(mag: np.ndarray, cfg: SpectralConfig, angles: np.ndarray, n_iter: int, momentum: float) -> np.ndarray:
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
        _irfft(spec, n_fft, out=frames)  # synthesis frames
        frames *= w
        _overlap_add(frames, plan, out=blocks)
        blocks *= plan.inv_norm_signal  # istft normalisation, and the signal's extent
        np.multiply(framed, w, out=frames)  # analysis frames
        _rfft(frames, out=rebuilt)
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
        rebuilt = _stft_batch(wave, cfg, mag.shape[-2])
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


def _stft_batch(wave: np.ndarray, cfg: SpectralConfig, n_frames: int) -> np.ndarray:
    pad = cfg.n_fft // 2
    x = np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(pad, pad + cfg.hop)])
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft, axis=-1)[..., :: cfg.hop, :]
    frames = frames[..., :n_frames, :]
    return np.fft.rfft(frames * hann(cfg.n_fft), axis=-1).astype(np.complex64)


def log_spectral_distance(ref_mag: np.ndarray, est_mag: np.ndarray, floor_db: float = -60.0) -> float:
    """Mean over frames of the RMS dB difference between two magnitudes (dB).

    Both are ``(n_frames, n_bins)``; values are floored at ``floor_db`` below the
    reference peak so that silence does not dominate.
    """
    n = min(len(ref_mag), len(est_mag))
    ref = 20 * np.log10(np.maximum(ref_mag[:n], 1e-12))
    est = 20 * np.log10(np.maximum(est_mag[:n], 1e-12))
    floor = ref.max() + floor_db
    ref = np.maximum(ref, floor)
    est = np.maximum(est, floor)
    return float(np.mean(np.sqrt(np.mean((ref - est) ** 2, axis=-1))))


def _lag_autocorrelation(frames: np.ndarray, cfg: SpectralConfig, fmin: float, fmax: float) -> tuple[np.ndarray, int]:
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
    frames = np.lib.stride_tricks.sliding_window_view(wave, cfg.n_fft)[:: cfg.hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    seg, lo = _lag_autocorrelation(frames[energy > energy.max() - voiced_db], cfg, fmin, fmax)
    lag = seg.argmax(axis=1) + lo
    peak = np.clip(seg.max(axis=1), 0.0, 1.0)
    return peak, cfg.sample_rate / lag


def pitch_track(
    wave: np.ndarray, cfg: SpectralConfig, fmin: float = 60.0, fmax: float = 400.0
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) and periodicity per STFT frame, aligned with :func:`stft` (centered frames).

    Returns ``(f0 (n_frames,), periodicity (n_frames,))``; periodicity in [0, 1] as in
    :func:`periodicity`, computed for every frame (silent frames score near 0).
    """
    wave = np.asarray(wave, dtype=np.float64)
    n = cfg.n_fft
    pad = n // 2
    x = np.pad(wave, (pad, pad + cfg.hop))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[:: cfg.hop][: n_frames_for(len(wave), cfg)]
    seg, lo = _lag_autocorrelation(frames - frames.mean(axis=1, keepdims=True), cfg, fmin, fmax)
    i = seg.argmax(axis=1)
    # parabolic interpolation of the peak for sub-sample lag
    left = seg[np.arange(len(i)), np.maximum(i - 1, 0)]
    mid = seg[np.arange(len(i)), i]
    right = seg[np.arange(len(i)), np.minimum(i + 1, seg.shape[1] - 1)]
    denom = left - 2 * mid + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    lag = i + lo + np.clip(shift, -0.5, 0.5)
    return (cfg.sample_rate / lag).astype(np.float32), np.clip(mid, 0.0, 1.0).astype(np.float32)
