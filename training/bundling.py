"""Writing model bundles from training: metadata and destination checks.

The bundle format itself (and its atomic per-file write) belongs to :mod:`vaesynth.model.bundle`;
this module prepares the folder and the metadata around :func:`vaesynth.model.bundle.save_bundle`
(which also removes temporary files that an earlier, killed write left behind).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
import torch

from vaesynth.digits import N_DIGITS
from vaesynth.dsp.spectral import SpectralConfig
from vaesynth.model.bundle import CONFIG_FILE, WEIGHTS_FILE, Bundle, LatentStats, load_bundle, save_bundle
from vaesynth.model.models import VAE, build_model
from vaesynth.voices.voice import fit_latent_stats

from .config import ConfigError
from .data import DataError, find_data, load_dataset
from .latent_stats import encode_posteriors

DISPLAY_NAMES = {
    "cvae": "Conditional VAE (default)",
    "cnn": "CNN-VAE (baseline)",
    "mlp": "MLP-VAE (baseline)",
}
CREDITS = "Trained on the Free Spoken Digit Dataset (Zohar Jackson et al.), CC BY-SA 4.0"


def check_bundle_destination(folder: str | Path) -> Path:
    """Fail early (before any training) if a bundle cannot be written to ``folder``.

    Creates nothing. Raises :class:`ConfigError` when ``folder`` (or a folder above it) is a
    file, or when the nearest existing folder is not writable.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file, not a folder; choose a folder for the bundle")
    parent = folder
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"cannot create bundle folder {folder}: {parent} is a file")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write a bundle to {folder}: {parent} is not writable")
    return folder


def staging_folder(out: str | Path) -> Path:
    """A fresh, empty folder beside ``out`` (same file system) where a new bundle is written before it is
    validated and swapped in (:func:`swap_in`); a link ``out`` stages beside the folder it points to."""
    out = Path(os.path.realpath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.new-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staged = out.parent / f".{out.name}.new-{secrets.token_hex(4)}"
    staged.mkdir()
    return staged


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(staged: Path, out: str | Path) -> Path:
    """Put the validated bundle ``staged`` in place of ``out`` (atomically where the system allows) and
    remove the old one. Files of ``out`` that are not part of a bundle are carried over."""
    out = Path(os.path.realpath(out))
    if not out.exists():
        os.rename(staged, out)
        return out
    for entry in out.iterdir():
        if entry.name in (CONFIG_FILE, WEIGHTS_FILE) or entry.name.startswith(".vs-") or (staged / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, staged / entry.name, symlinks=True)
        elif entry.is_file() or entry.is_symlink():
            shutil.copy2(entry, staged / entry.name, follow_symlinks=False)
    if not _exchange(staged, out):
        old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
        os.rename(out, old)
        try:
            os.rename(staged, out)
        except OSError:
            os.rename(old, out)
            raise
        staged = old
    shutil.rmtree(staged, ignore_errors=True)  # now the old bundle
    return out


def prepare_bundle_folder(folder: str | Path) -> Path:
    """Check ``folder`` and create it."""
    folder = check_bundle_destination(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_bundle(
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
    """Write a bundle for ``model`` to ``folder`` (atomic per file; stale temporaries removed first).

    ``render``: optional per-bundle render settings for :class:`vaesynth.engine.synth.Synth`
    (e.g. ``{"fade_out_s": 0.0}``)."""
    name = name or model.kind
    meta = {
        "display_name": DISPLAY_NAMES.get(model.kind, name),
        "params": params,
        "metrics": metrics or {},
        "data_fingerprint": data_fingerprint or {},
        "training": training or {},
        "credits": CREDITS,
    }
    if render:
        meta["render"] = dict(render)
    folder = prepare_bundle_folder(folder)
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
    return write_bundle(model, params or {}, spectral, stats, list(speakers), folder, name=Path(folder).name)


def refresh_latent_stats(folder: str | Path, data: str | Path | None = None) -> Path:
    """Re-fit a bundle's latent statistics (and stored posteriors) from FSDD's train split.

    Uses the bundle's own weights, so the statistics describe exactly the shipped model; the
    weights, metrics and training record are kept. Writes atomically.
    """
    b = load_bundle(folder)
    ds = load_dataset(find_data(data), b.spectral)
    train, _ = ds.split()
    if list(ds.speakers) != list(b.speakers):
        raise DataError(f"the data's speakers {ds.speakers} differ from the bundle's {b.speakers}")
    mu, var = encode_posteriors(b.model, train)
    b.stats = fit_latent_stats(mu, train.digit, train.speaker, len(ds.speakers), var=var)
    return save_bundle(b, prepare_bundle_folder(folder))
