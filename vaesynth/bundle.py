"""A trained model on disk: ``weights.safetensors`` + ``config.json``, data and never code.

Layout of a bundle folder ``resources/models/<name>/``::

    config.json          format, model type and params, spectral config, speakers, metrics,
                         training-data fingerprint
    weights.safetensors  "model.*" tensors (the nn.Module state dict, stored as float16)
                         "stats.*" tensors (latent statistics, float32):
                           stats.digit_mean      (10, D)    mean latent of each digit
                           stats.digit_chol      (10, D, D) Cholesky factor of each digit's
                                                            latent covariance (aggregate posterior)
                           stats.speaker_mean    (S, D)     mean latent of each speaker
                           stats.speaker_digit_mean (S, 10, D)
                           stats.post_mu, stats.post_var (N, D), stats.post_digit (N,)
                                            optional: the training utterances' posteriors, whose
                                            mixture is the exact aggregate posterior per digit

Loading validates everything and raises :class:`BundleError` with one readable sentence.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .digits import N_DIGITS
from .models import MODEL_KINDS, VAE, build_model
from .spectral import SpectralConfig
from .wavfile import TMP_PREFIX, TMP_SUFFIX, remove_stale_temporaries

FORMAT = "vaesynth-bundle"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
STAT_NAMES = ("digit_mean", "digit_chol", "speaker_mean", "speaker_digit_mean")
POSTERIOR_NAMES = ("post_mu", "post_var", "post_digit")


class BundleError(Exception):
    """A model bundle is missing, unreadable or inconsistent."""


@dataclass
class LatentStats:
    """Per-digit and per-speaker latent statistics, all float32 tensors (see module doc)."""

    digit_mean: torch.Tensor
    digit_chol: torch.Tensor
    speaker_mean: torch.Tensor
    speaker_digit_mean: torch.Tensor
    post_mu: torch.Tensor | None = None  # (N, D) posterior means of the training utterances
    post_var: torch.Tensor | None = None  # (N, D) their posterior variances
    post_digit: torch.Tensor | None = None  # (N,) their digits

    @property
    def has_posteriors(self) -> bool:
        return self.post_mu is not None

    def validate(self, latent_dim: int, n_speakers: int) -> None:
        d, s = latent_dim, n_speakers
        want = {
            "digit_mean": (N_DIGITS, d),
            "digit_chol": (N_DIGITS, d, d),
            "speaker_mean": (s, d),
            "speaker_digit_mean": (s, N_DIGITS, d),
        }
        for name, shape in want.items():
            t = getattr(self, name)
            if tuple(t.shape) != shape:
                raise BundleError(f"latent statistic {name} has shape {tuple(t.shape)}, expected {shape}")
            if not torch.isfinite(t).all():
                raise BundleError(f"latent statistic {name} holds non-finite values")
        if self.has_posteriors:
            n = len(self.post_digit)
            if (
                tuple(self.post_mu.shape) != (n, d)
                or tuple(self.post_var.shape) != (n, d)
                or not torch.isfinite(self.post_mu).all()
                or not (self.post_var > 0).all()
                or not ((self.post_digit >= 0) & (self.post_digit < N_DIGITS)).all()
            ):
                raise BundleError("the stored training posteriors are inconsistent")
            missing = set(range(N_DIGITS)) - set(self.post_digit.tolist())
            if missing:
                raise BundleError(f"the stored training posteriors lack digits {sorted(missing)}")


@dataclass
class Bundle:
    """A loaded bundle: the model (eval mode, float32), its configs and latent statistics."""

    name: str
    model: VAE
    spectral: SpectralConfig
    stats: LatentStats
    speakers: list[str]
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    @property
    def display_name(self) -> str:
        return self.meta.get("display_name", self.name)

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})


def save_bundle(bundle: Bundle, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``bundle`` to ``folder`` (each file atomically: temporary file, then rename). Returns the folder.

    Temporary files that an earlier, killed write left behind are removed first.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = bundle.model
    tensors = {f"model.{k}": v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    for n in STAT_NAMES:
        tensors[f"stats.{n}"] = getattr(bundle.stats, n).detach().to(torch.float32).contiguous()
    if bundle.stats.has_posteriors:
        tensors["stats.post_mu"] = bundle.stats.post_mu.detach().to(torch.float32).contiguous()
        tensors["stats.post_var"] = bundle.stats.post_var.detach().to(torch.float32).contiguous()
        tensors["stats.post_digit"] = bundle.stats.post_digit.detach().to(torch.int64).contiguous()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": bundle.name,
        "model": {"type": model.kind, "params": bundle.meta.get("params", {})},
        "latent_dim": model.latent_dim,
        "spectral": bundle.spectral.to_dict(),
        "speakers": list(bundle.speakers),
        **{k: v for k, v in bundle.meta.items() if k not in ("params",)},
        **(extra or {}),
    }
    remove_stale_temporaries(folder)
    tmp_w = _temporary(folder)
    try:
        save_file(tensors, str(tmp_w))
        tmp_w.replace(folder / WEIGHTS_FILE)
        write_config(folder, config)
    finally:
        tmp_w.unlink(missing_ok=True)
    return folder


def _temporary(folder: Path) -> Path:
    return folder / f"{TMP_PREFIX}{secrets.token_hex(4)}{TMP_SUFFIX}"


def write_config(folder: str | Path, config: dict) -> Path:
    """Write a bundle's ``config.json`` atomically (temporary file, then rename); the one writer of it."""
    folder = Path(folder)
    tmp = _temporary(folder)
    try:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=False) + "\n")
        tmp.replace(folder / CONFIG_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    return folder / CONFIG_FILE


def update_config(folder: str | Path, **entries: object) -> Path:
    """Set top-level ``config.json`` entries of an existing bundle (e.g. ``metrics``), atomically."""
    config = read_config(folder)
    config.update(entries)
    return write_config(folder, config)


def read_config(folder: str | Path) -> dict:
    """Read and check a bundle's ``config.json`` without loading weights (for listings)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"model bundle not found: {folder}")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise BundleError(f"{folder} is not a model bundle: {CONFIG_FILE} is missing")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{path} is corrupt: {e}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(f"{path} is not a vaesynth bundle config")
    if config.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path} has format version {config.get('format_version')}, this vaesynth reads {FORMAT_VERSION}"
        )
    for key in ("name", "model", "spectral", "speakers", "latent_dim"):
        if key not in config:
            raise BundleError(f"{path} lacks the {key!r} entry")
    return config


def load_bundle(folder: str | Path) -> Bundle:
    """Load and validate a bundle folder; raises :class:`BundleError` on any problem."""
    folder = Path(folder)
    config = read_config(folder)
    try:
        spectral = SpectralConfig.from_dict(config["spectral"])
        mconf = config["model"]
        model = build_model(mconf["type"], spectral, mconf.get("params", {}))
    except (ValueError, TypeError, KeyError) as e:
        raise BundleError(f"{folder / CONFIG_FILE} is invalid: {e}") from None
    wpath = folder / WEIGHTS_FILE
    if not wpath.is_file():
        raise BundleError(f"{folder} is not a complete bundle: {WEIGHTS_FILE} is missing")
    try:
        tensors = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise BundleError(f"{wpath} is corrupt: {e}") from None
    state = {k[len("model.") :]: v.float() for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "mismatch"
        raise BundleError(f"{wpath} does not match its config ({first})") from None
    for k, v in state.items():
        if not torch.isfinite(v).all():
            raise BundleError(f"{wpath} holds non-finite weights in {k}")
    missing = [n for n in STAT_NAMES if f"stats.{n}" not in tensors]
    if missing:
        raise BundleError(f"{wpath} lacks latent statistics: {', '.join(missing)}")
    stats = LatentStats(**{n: tensors[f"stats.{n}"].float() for n in STAT_NAMES})
    present = [n for n in POSTERIOR_NAMES if f"stats.{n}" in tensors]
    if present and len(present) != len(POSTERIOR_NAMES):
        raise BundleError(f"{wpath} holds only part of the training posteriors ({', '.join(present)})")
    if present:
        stats.post_mu = tensors["stats.post_mu"].float()
        stats.post_var = tensors["stats.post_var"].float()
        stats.post_digit = tensors["stats.post_digit"].long()
    speakers = list(config["speakers"])
    if model.latent_dim != config["latent_dim"]:
        raise BundleError(f"{folder}: latent_dim {config['latent_dim']} does not match the model's {model.latent_dim}")
    stats.validate(model.latent_dim, len(speakers))
    model.eval()
    meta = {k: v for k, v in config.items() if k not in ("format", "format_version", "spectral", "speakers")}
    meta["params"] = config["model"].get("params", {})
    return Bundle(config["name"], model, spectral, stats, speakers, meta, folder)


MODELS_ENV = "VAESYNTH_MODELS"  # a folder of bundles that takes precedence over the shipped ones


def resources_dir() -> Path:
    """The shipped ``resources/`` folder.

    Installed from a wheel it is package data (``vaesynth/resources``); in a source checkout it
    is the top-level ``resources/`` next to the ``vaesynth`` package.
    """
    here = Path(__file__).resolve().parent
    installed = here / "resources"
    return installed if (installed / "models").is_dir() else here.parent / "resources"


def default_models_dir() -> Path:
    """Where models are looked up: ``$VAESYNTH_MODELS`` if set, else the shipped ``resources/models``."""
    env = os.environ.get(MODELS_ENV, "")
    return Path(env).expanduser() if env else resources_dir() / "models"


def list_bundles(root: str | Path | None = None) -> dict[str, Path]:
    """Bundle folders under ``root`` (default: :func:`default_models_dir`), by name, shipped kinds first."""
    root = Path(root) if root is not None else default_models_dir()
    found = {p.parent.name: p.parent for p in sorted(root.glob(f"*/{CONFIG_FILE}"))}
    order = list(MODEL_KINDS)
    return dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))


def resolve_model(model: str | Path | None = None, root: str | Path | None = None) -> Path:
    """A bundle folder from a model name (``"cvae"``), a folder path, or ``None`` (the default model).

    Names are looked up in ``root`` (default: :func:`default_models_dir`); the default model is
    the first of :func:`list_bundles`. Raises :class:`BundleError` with a readable message
    (saying where it looked) when nothing matches. The one home of model-name resolution.
    """
    bundles = list_bundles(root)
    where = Path(root) if root is not None else default_models_dir()
    if model is None or str(model) == "":
        if not bundles:
            hint = "" if root is not None else f" (set {MODELS_ENV} to a folder of model bundles)"
            raise BundleError(f"no models found in {where}{hint}")
        return next(iter(bundles.values()))
    if str(model) in bundles:
        return bundles[str(model)]
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    known = ", ".join(bundles) or f"none installed in {where}"
    raise BundleError(f"model {str(model)!r} not found (known models: {known}; or give a bundle folder)")
