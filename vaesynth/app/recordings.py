"""The real recordings behind the voice map: loading one, and the A/B buffer a map click plays.

Where they are is :mod:`vaesynth.sound.recordings` (the one lookup of FSDD).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_recording(path: str | Path, sample_rate: int) -> np.ndarray:
    """A recording as float32 mono ``(n,)`` at ``sample_rate`` Hz, peak-normalised to 0.9.

    Raises ``OSError``/``RuntimeError`` from soundfile when it cannot be read, ``ValueError`` when its
    header is outside the limits (:func:`vaesynth.sound.safeio.read_audio`: checked before decoding).
    """
    from vaesynth.dsp.spectral import SpectralConfig, normalize_peak, resample
    from vaesynth.sound.safeio import read_audio

    wave, sr = read_audio(path, max_seconds=30.0, max_bytes=16 << 20)
    wave = wave.mean(axis=1)
    if sr != sample_rate and len(wave) > 1:
        wave = resample(wave, sr, sample_rate)
    return normalize_peak(wave, SpectralConfig(peak=0.9))


def a_then_b(a: np.ndarray, b: np.ndarray, sample_rate: int, gap_s: float = 0.3) -> np.ndarray:
    """``a``, ``gap_s`` of silence, then ``b`` (float32, one buffer): the A/B played after a map click."""
    gap = np.zeros(round(gap_s * sample_rate), dtype=np.float32)
    return np.concatenate([np.asarray(a, np.float32), gap, np.asarray(b, np.float32)])
