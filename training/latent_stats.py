"""Per-digit latent statistics of a trained model (the knob space a bundle ships with).

Encoding the training posteriors; fitting the statistics from them is
:func:`vaesynth.voices.voice.fit_latent_stats`; writing them into a bundle is :mod:`training.bundling`'s job.
"""

from __future__ import annotations

import numpy as np
import torch

from vaesynth.model.models import VAE

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

