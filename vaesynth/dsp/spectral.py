"""Spectral analysis: the one feature definition.

Everything here is a pure function of numpy arrays plus a :class:`SpectralConfig`.
The config is saved inside every model bundle, so training and playback can never
disagree about sample rate, FFT size, hop or dB scaling. Phase reconstruction (the way
back to a waveform) is :mod:`vaesynth.dsp.phase`; pitch analysis is :mod:`vaesynth.dsp.pitch`.

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
    def from_dict(cls, d: object) -> SpectralConfig:
        """A config from its dict (as stored in a bundle), every field type- and range-checked.

        Raises :class:`ValueError` with one readable sentence (bundles are untrusted input).
        """
        if not isinstance(d, dict):
            raise ValueError(f"spectral config must be a mapping, not {type(d).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(k)[:30] for k in d if k not in known)
        if unknown:
            raise ValueError(f"unknown spectral config keys: {unknown}")
        values = {}
        for name, value in d.items():
            lo, hi = LIMITS[name]
            whole = known[name].type in ("int", int)
            ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
            if isinstance(value, bool) or not ok_type or not (lo <= value <= hi):  # NaN fails the range test
                kind = "a whole number" if whole else "a number"
                shown = repr(value) if len(repr(value)) < 30 else repr(value)[:27] + "..."
                raise ValueError(f"spectral {name} must be {kind} in {lo:g}..{hi:g}, not {shown}")
            values[name] = value
        cfg = cls(**values)
        if cfg.hop > cfg.n_fft:
            raise ValueError(f"spectral hop ({cfg.hop}) must not exceed n_fft ({cfg.n_fft})")
        if not cfg.db_max > cfg.db_min:
            raise ValueError("spectral config needs db_max > db_min")
        return cfg


# What each field may be: bundles are untrusted input, and these bound every allocation they drive.
LIMITS: dict[str, tuple[float, float]] = {
    "sample_rate": (1000, 192000),
    "n_fft": (16, 4096),
    "hop": (1, 4096),
    "db_min": (-300.0, 300.0),
    "db_max": (-300.0, 300.0),
    "max_frames": (8, 4096),
    "trim_db": (1.0, 300.0),
    "peak": (0.01, 1.0),
}


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


def frame(wave: np.ndarray, cfg: SpectralConfig, centered: bool = True) -> np.ndarray:
    """Frames of ``wave`` (``(..., n_samples)``) as a read-only view ``(..., n_frames, n_fft)``.

    ``centered``: frame ``i`` is centred on sample ``i * hop`` (zero padding, :func:`n_frames_for`
    frames, what :func:`stft` uses); otherwise frames start at ``i * hop`` and stay inside the signal.
    The one framing helper (STFT, silence trimming, pitch).
    """
    wave = np.asarray(wave)
    if centered:
        pad = cfg.n_fft // 2
        x = np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(pad, pad + cfg.hop)])
        n = n_frames_for(wave.shape[-1], cfg)
        return np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft, axis=-1)[..., :: cfg.hop, :][..., :n, :]
    return np.lib.stride_tricks.sliding_window_view(wave, cfg.n_fft, axis=-1)[..., :: cfg.hop, :]


def stft(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Complex STFT ``(..., n_frames, n_bins)`` of ``wave (..., n_samples)``, centered zero-padded frames."""
    frames = frame(np.asarray(wave, dtype=np.float32), cfg)
    return np.fft.rfft(frames * hann(cfg.n_fft), axis=-1).astype(np.complex64)


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


def sound_span(wave: np.ndarray, cfg: SpectralConfig) -> tuple[int, int]:
    """``(start, end)`` samples of ``wave`` that :func:`trim_silence` keeps."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < cfg.n_fft:
        return 0, len(wave)
    frames = frame(wave, cfg, centered=False)
    energy = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(energy > energy.max() - cfg.trim_db)[0]
    if loud.size == 0:
        return 0, len(wave)
    return int(loud[0] * cfg.hop), int(min(len(wave), loud[-1] * cfg.hop + cfg.n_fft))


def trim_silence(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``cfg.trim_db`` below the loudest frame."""
    wave = np.asarray(wave, dtype=np.float32)
    start, end = sound_span(wave, cfg)
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


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample float32 ``(n,)`` from ``rate_in`` to ``rate_out`` Hz (soxr, high quality)."""
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if rate_in == rate_out or wave.size == 0:
        return wave.copy()
    try:
        import soxr

        return np.asarray(soxr.resample(wave, rate_in, rate_out, quality="HQ"), dtype=np.float32)
    except ImportError:  # pragma: no cover - soxr is a dependency; keep a proper fallback anyway
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate_in), int(rate_out))
        return resample_poly(wave, rate_out // g, rate_in // g).astype(np.float32)
