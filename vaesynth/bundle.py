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
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .models import N_DIGITS, VAE, build_model
from .spectral import SpectralConfig

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
    """Write ``bundle`` to ``folder`` atomically (temp files, then rename). Returns the folder."""
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
    tmp_w = folder / (WEIGHTS_FILE + ".tmp")
    tmp_c = folder / (CONFIG_FILE + ".tmp")
    save_file(tensors, str(tmp_w))
    tmp_c.write_text(json.dumps(config, indent=2, sort_keys=False) + "\n")
    tmp_w.replace(folder / WEIGHTS_FILE)
    tmp_c.replace(folder / CONFIG_FILE)
    return folder


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


def resources_dir() -> Path:
    """The shipped ``resources/`` folder (next to the ``vaesynth`` package)."""
    return Path(__file__).resolve().parent.parent / "resources"


def default_models_dir() -> Path:
    return resources_dir() / "models"


def list_bundles(root: str | Path | None = None) -> dict[str, Path]:
    """Bundle folders under ``root`` (default: shipped models), by name, default model first."""
    root = Path(root) if root is not None else default_models_dir()
    found = {p.parent.name: p.parent for p in sorted(root.glob(f"*/{CONFIG_FILE}"))}
    order = ["cvae", "cnn", "mlp"]
    return dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))
