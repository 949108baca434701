"""Evaluation metrics that compare sounds (the runtime never needs them)."""

from __future__ import annotations

import numpy as np


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
