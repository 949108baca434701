"""Building the texture bank of a trained model (:mod:`vaesynth.model.texture`) from the training split.

For every training utterance: its residual over its valid frames (real features minus the
decoder's smooth reconstruction, ``decode(mu, texture=False)``), with the utterance's static
per-bin offset removed (its spectral fingerprint); the digit's mean residual, kept once per digit;
the posterior, digit, speaker and the measured f0 track. Residuals are stored in 8 or 4 bits per value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaesynth.digits import N_DIGITS
from vaesynth.model.bundle import Bundle, BundleError, load_bundle, save_bundle
from vaesynth.model.catalog import resolve_model
from vaesynth.model.models import VAE
from vaesynth.model.texture_bank import BANK_FILE, F0_RANGE, TextureBank, quantise

from .config import texture_options
from .data import Dataset, find_data, load_dataset
from .latent_stats import encode_posteriors


@torch.inference_mode()
def smooth_reconstructions(model: VAE, ds: Dataset, mu: np.ndarray, batch: int = 256) -> np.ndarray:
    """The decoder's smooth output ``(N, T, F)`` for posterior means ``mu (N, D)`` of ``ds``."""
    model.eval()
    out = []
    for i in range(0, len(ds), batch):
        z = torch.from_numpy(mu[i : i + batch].astype(np.float32))
        d = torch.from_numpy(ds.digit[i : i + batch])
        kw = {"texture": False} if model.kind == "cvae" else {}
        out.append(model.decode(z, d, **kw).features.float().numpy())
    return np.concatenate(out)


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of ``x (T, F)`` over ``width`` frames along time (edges repeated)."""
    pad = width // 2
    c = np.cumsum(np.pad(x, ((pad + 1, width - pad - 1), (0, 0)), mode="edge"), axis=0, dtype=np.float64)
    return ((c[width:] - c[:-width]) / width).astype(np.float32)


def select_utterances(ds: Dataset, per_cell: int | None, seed: int = 0) -> np.ndarray:
    """Indices of ``ds`` kept in the bank: all, or at most ``per_cell`` per (digit, speaker), at random."""
    if per_cell is None:
        return np.arange(len(ds))
    rng = np.random.default_rng(seed)
    keep = []
    for d in range(N_DIGITS):
        for s in np.unique(ds.speaker):
            rows = np.flatnonzero((ds.digit == d) & (ds.speaker == s))
            keep.append(rng.permutation(rows)[:per_cell])
    return np.sort(np.concatenate(keep))


def build_bank(
    model: VAE,
    train: Dataset,
    mu: np.ndarray,
    var: np.ndarray,
    per_cell: int | None = None,
    strip_static: bool = True,
    bits: int = 8,
    detrend: int = 0,
    seed: int = 0,
) -> TextureBank:
    """The texture bank of ``model`` from the training split ``train`` and its posteriors ``mu``, ``var`` ``(N, D)``.

    ``per_cell``: keep at most that many utterances per digit and speaker (None: all).
    ``strip_static``: remove each utterance's per-bin mean residual (keep only its variation over
    time); each digit's mean residual over all its utterances is stored once instead.
    ``bits``: 8 or 4 per value (:func:`vaesynth.model.texture.quantise`). ``detrend``: also remove
    each residual's slow variation, its moving average over that many frames (0: keep it), so that the
    donor's formant tracks and loudness contour are not copied, only its frame-to-frame texture.
    """
    smooth = smooth_reconstructions(model, train, mu)
    rows = select_utterances(train, per_cell, seed)
    residuals, means, f0s = [], np.zeros((N_DIGITS, train.features.shape[2]), np.float32), []
    for d in range(N_DIGITS):  # the digit's mean residual, over all its training utterances
        idx = np.flatnonzero(train.digit == d)
        if idx.size:
            means[d] = np.mean([(train.features[i, : train.n_valid[i]] - smooth[i, : train.n_valid[i]]).mean(0)
                                for i in idx], axis=0)  # fmt: skip
    for i in rows:
        n = int(train.n_valid[i])
        r = train.features[i, :n] - smooth[i, :n]
        r = r - r.mean(0, keepdims=True) if strip_static else r - means[train.digit[i]]
        if detrend > 1:
            r = r - moving_average(r, detrend)
        residuals.append(r.astype(np.float32))
        f0s.append(np.clip(train.f0[i, :n], *F0_RANGE).astype(np.float32))
    codes, levels = quantise(residuals, bits)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in residuals])]).astype(np.int64)
    return TextureBank(
        codes=codes, levels=levels, offsets=offsets,
        latents=mu[rows].astype(np.float32), variances=var[rows].astype(np.float32),
        digits=train.digit[rows].astype(np.int64), speakers=train.speaker[rows].astype(np.int64),
        f0=np.concatenate(f0s), mean=means,
    )  # fmt: skip


def attach_bank(bundle: Bundle, train: Dataset, options: dict, mu=None, var=None) -> Bundle:  # noqa: ANN001
    """Build ``bundle``'s texture bank from the training split ``train`` with ``options`` (a recipe's
    ``texture`` entry) and set it, with its settings, on the bundle (which the caller then saves)."""
    if bundle.kind != "cvae":
        raise BundleError(f"a texture bank is a stage of the default model (cvae), not of {bundle.kind!r}")
    if list(train.speakers) != list(bundle.speakers):
        raise BundleError(f"the data's speakers {train.speakers} differ from the bundle's {bundle.speakers}")
    if mu is None or var is None:
        mu, var = encode_posteriors(bundle.model, train)
    bank_opts, settings = texture_options(options)
    bundle.texture = build_bank(bundle.model, train, mu, var, **bank_opts)
    bundle.texture_settings = settings
    return bundle


def texture_cli(models: list[str], data: str | None, options: dict) -> None:
    """``vaesynth-train texture``: (re)build the texture bank of bundles by name or folder, in place."""
    for m in models:
        folder = resolve_model(m)
        bundle = load_bundle(folder)
        train, _ = load_dataset(find_data(data), bundle.spectral).split()
        save_bundle(attach_bank(bundle, train, options), folder)
        bank = load_bundle(folder).texture
        size = (Path(folder) / BANK_FILE).stat().st_size / 2**20
        print(f"texture bank of {folder}: {len(bank)} utterances, {len(bank.f0)} frames, {size:.1f} MB")
