"""Per-digit latent statistics of a trained model (the knob space a bundle ships with).

Pure functions over encoder posteriors; writing them into a bundle is :mod:`training.bundling`'s job.
"""

from __future__ import annotations

import numpy as np
import torch

from vaesynth.bundle import LatentStats
from vaesynth.models import N_DIGITS, VAE

from .data import Dataset


@torch.inference_mode()
def encode_posteriors(model: VAE, ds: Dataset, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and variances, each ``(N, D)``, of every utterance in ``ds``."""
    model.eval()
    mus, variances = [], []
    for i in range(0, len(ds), batch):
        x = torch.from_numpy(ds.features[i : i + batch].astype(np.float32))
        mu, logvar = model.encode(x, torch.from_numpy(ds.digit[i : i + batch]))
        mus.append(mu.numpy())
        variances.append(logvar.exp().numpy())
    return np.concatenate(mus), np.concatenate(variances)


def fit_latent_stats(
    mu: np.ndarray,
    digits: np.ndarray,
    speakers: np.ndarray,
    n_speakers: int,
    var: np.ndarray | None = None,
    keep_posteriors: bool = True,
) -> LatentStats:
    """Aggregate-posterior statistics from the encoder's posteriors.

    ``mu``: ``(N, D)`` posterior means of the training utterances; ``var``: ``(N, D)`` their
    posterior variances (optional); ``digits``, ``speakers``: ``(N,)`` integer labels. Each digit
    gets the moment-matched Gaussian of its aggregate posterior (the mixture of the utterances'
    posteriors): mean of ``mu``, covariance ``cov(mu) + mean(diag(var))``, lightly shrunk towards
    the diagonal so that it stays well conditioned, stored as a Cholesky factor. With
    ``keep_posteriors`` the posteriors themselves are kept too: their mixture is the exact
    aggregate posterior, which :meth:`vaesynth.synth.Synth.random_knobs` samples from.
    """
    mu = np.asarray(mu, dtype=np.float64)
    var = np.zeros_like(mu) if var is None else np.asarray(var, dtype=np.float64)
    d = mu.shape[1]
    digit_mean = np.zeros((N_DIGITS, d))
    digit_chol = np.zeros((N_DIGITS, d, d))
    for k in range(N_DIGITS):
        m = mu[digits == k]
        if len(m) < 2:
            digit_mean[k] = m.mean(0) if len(m) else 0.0
            digit_chol[k] = np.eye(d)
            continue
        digit_mean[k] = m.mean(0)
        cov = np.cov(m, rowvar=False) + np.diag(var[digits == k].mean(0))
        cov = 0.9 * cov + 0.1 * np.diag(np.diag(cov)) + 1e-4 * np.eye(d)
        digit_chol[k] = np.linalg.cholesky(cov)
    speaker_mean = np.zeros((n_speakers, d))
    speaker_digit_mean = np.zeros((n_speakers, N_DIGITS, d))
    for s in range(n_speakers):
        sel = speakers == s
        speaker_mean[s] = mu[sel].mean(0) if sel.any() else mu.mean(0)
        for k in range(N_DIGITS):
            both = sel & (digits == k)
            speaker_digit_mean[s, k] = mu[both].mean(0) if both.any() else digit_mean[k]
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    stats = LatentStats(t(digit_mean), t(digit_chol), t(speaker_mean), t(speaker_digit_mean))
    if keep_posteriors:
        stats.post_mu, stats.post_var = t(mu), t(np.maximum(var, 1e-8))
        stats.post_digit = torch.tensor(np.asarray(digits), dtype=torch.int64)
    return stats
