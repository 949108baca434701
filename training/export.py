"""Turn a trained model into a shipped bundle: latent statistics, metadata, atomic write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaesynth.bundle import Bundle, LatentStats, save_bundle
from vaesynth.models import N_DIGITS, VAE, build_model
from vaesynth.spectral import SpectralConfig

DISPLAY_NAMES = {
    "cvae": "Conditional VAE (default)",
    "cnn": "CNN-VAE (baseline)",
    "mlp": "MLP-VAE (baseline)",
}


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


def export_bundle(
    model: VAE,
    params: dict,
    spectral: SpectralConfig,
    stats: LatentStats,
    speakers: list[str],
    folder: str | Path,
    name: str | None = None,
    metrics: dict | None = None,
    data_fingerprint: dict | None = None,
    training: dict | None = None,
    render: dict | None = None,
) -> Path:
    """Write a bundle for ``model`` to ``folder`` (atomic per file). ``render``: optional per-bundle
    render settings for :class:`vaesynth.synth.Synth` (e.g. ``{"fade_out_s": 0.0}``)."""
    name = name or model.kind
    meta = {
        "display_name": DISPLAY_NAMES.get(model.kind, name),
        "params": params,
        "metrics": metrics or {},
        "data_fingerprint": data_fingerprint or {},
        "training": training or {},
        "credits": "Trained on the Free Spoken Digit Dataset (Zohar Jackson et al.), CC BY-SA 4.0",
    }
    if render:
        meta["render"] = dict(render)
    return save_bundle(Bundle(name, model, spectral, stats, list(speakers), meta), folder)


def untrained_bundle(
    kind: str,
    folder: str | Path,
    params: dict | None = None,
    spectral: SpectralConfig | None = None,
    speakers: tuple[str, ...] = ("alice", "bob"),
    seed: int = 0,
) -> Path:
    """A loadable bundle with random weights and unit latent statistics (for tests and demos)."""
    torch.manual_seed(seed)
    spectral = spectral or SpectralConfig()
    model = build_model(kind, spectral, params)
    d = model.latent_dim
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((40 * len(speakers), d))
    digits = np.arange(len(mu)) % N_DIGITS
    spk = (np.arange(len(mu)) // N_DIGITS) % len(speakers)
    stats = fit_latent_stats(mu, digits, spk, len(speakers))
    return export_bundle(model, params or {}, spectral, stats, list(speakers), folder, name=Path(folder).name)


def refresh_latent_stats(folder: str | Path, data: str | Path | None = None) -> Path:
    """Re-fit a bundle's latent statistics (and stored posteriors) from FSDD's train split.

    Uses the bundle's own weights, so the statistics describe exactly the shipped model; the
    weights, metrics and training record are kept. Writes atomically.
    """
    from vaesynth.bundle import load_bundle

    from .data import find_data, load_dataset
    from .fit import encode_posteriors

    b = load_bundle(folder)
    ds = load_dataset(find_data(data), b.spectral)
    train, _ = ds.split()
    if list(ds.speakers) != list(b.speakers):
        raise ValueError(f"the data's speakers {ds.speakers} differ from the bundle's {b.speakers}")
    mu, var = encode_posteriors(b.model, train)
    b.stats = fit_latent_stats(mu, train.digit, train.speaker, len(ds.speakers), var=var)
    return save_bundle(b, folder)
