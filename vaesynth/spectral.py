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

    Returns float32 ``(..., n_samples)``; batch dimensions are kept (vectorised).
    """
    n = spec.shape[-2]
    if n_samples is None:
        n_samples = (n - 1) * cfg.hop
    w = hann(cfg.n_fft)
    frames = np.fft.irfft(spec, n=cfg.n_fft, axis=-1).astype(np.float32) * w
    total = (n - 1) * cfg.hop + cfg.n_fft
    batch = spec.shape[:-2]
    out = np.zeros(batch + (total,), dtype=np.float32)
    norm = np.zeros(total, dtype=np.float32)
    # Overlap-add in n_fft // hop strided passes: each pass adds non-overlapping frames at once.
    step = cfg.n_fft // cfg.hop if cfg.n_fft % cfg.hop == 0 else None
    if step:
        for k in range(step):
            idx = np.arange(k, n, step)
            if len(idx) == 0:
                continue
            seg = frames[..., idx, :].reshape(batch + (-1,))
            start = k * cfg.hop
            out[..., start : start + seg.shape[-1]] += seg
            wseg = np.tile(w * w, len(idx))
            norm[start : start + wseg.shape[-1]] += wseg
    else:  # pragma: no cover - only for hops that do not divide n_fft
        for i in range(n):
            out[..., i * cfg.hop : i * cfg.hop + cfg.n_fft] += frames[..., i, :]
            norm[i * cfg.hop : i * cfg.hop + cfg.n_fft] += w * w
    out /= np.maximum(norm, 1e-3)
    pad = cfg.n_fft // 2
    return out[..., pad : pad + n_samples]


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
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al. 2013) phase reconstruction, vectorised.

    ``mag``: linear magnitude ``(n_frames, n_bins)`` or a batch ``(batch, n_frames, n_bins)``.
    ``init``: ``"random"`` (uniform phase from ``seed``) or ``"zeros"``.
    Returns float32 waveform(s) ``(..., (n_frames - 1) * hop)``.
    """
    mag = np.asarray(mag, dtype=np.float32)
    n_samples = (mag.shape[-2] - 1) * cfg.hop
    if init == "random":
        rng = np.random.default_rng(seed)
        angles = np.exp(2j * np.pi * rng.random(mag.shape)).astype(np.complex64)
    elif init == "zeros":
        angles = np.ones(mag.shape, dtype=np.complex64)
    else:
        raise ValueError(f"unknown Griffin-Lim init {init!r}")
    prev = np.zeros_like(angles)
    for _ in range(n_iter):
        wave = istft(mag * angles, cfg, n_samples)
        rebuilt = _stft_batch(wave, cfg, mag.shape[-2])
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return istft(mag * angles, cfg, n_samples)


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
    frames = frames[energy > energy.max() - voiced_db]
    n = cfg.n_fft
    spec = np.fft.rfft(frames, n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    # normalise by the overlap length so that long lags are not penalised by the window
    ac = ac / (n - np.arange(n))[None, :]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(cfg.sample_rate / fmax), min(int(cfg.sample_rate / fmin), n // 2)
    seg = ac[:, lo:hi]
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
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    ac = ac / (n - np.arange(n))[None, :]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(cfg.sample_rate / fmax), min(int(cfg.sample_rate / fmin), n // 2)
    seg = ac[:, lo:hi]
    i = seg.argmax(axis=1)
    # parabolic interpolation of the peak for sub-sample lag
    left = seg[np.arange(len(i)), np.maximum(i - 1, 0)]
    mid = seg[np.arange(len(i)), i]
    right = seg[np.arange(len(i)), np.minimum(i + 1, seg.shape[1] - 1)]
    denom = left - 2 * mid + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    lag = i + lo + np.clip(shift, -0.5, 0.5)
    return (cfg.sample_rate / lag).astype(np.float32), np.clip(mid, 0.0, 1.0).astype(np.float32)
