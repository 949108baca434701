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
from safetensors.torch import save_file

from ..digits import N_DIGITS
from ..dsp.spectral import SpectralConfig
from ..sound.safeio import TMP_PREFIX, TMP_SUFFIX, atomic_write, read_bounded, remove_stale_temporaries
from .annotations import MapPlane, parse_knob_labels
from .files import (  # noqa: F401  (CONFIG_FILE, WEIGHTS_FILE, BundleError, weights_fingerprint: imported from here too)
    CONFIG_FILE,
    MAX_WEIGHTS_BYTES,
    WEIGHTS_FILE,
    BundleError,
    locate_base,
    read_weights,
    weights_fingerprint,
)
from .models import VAE, build_model
from .texture import TextureSettings
from .texture_bank import BANK_FILE, BankError, TextureBank, load_bank, save_bank

FORMAT = "vaesynth-bundle"
FORMAT_VERSION = 1
STAT_NAMES = ("digit_mean", "digit_chol", "speaker_mean", "speaker_digit_mean")
# Bounds that keep a hostile bundle from driving allocations or arithmetic off the rails.
MAX_CONFIG_BYTES = 1 << 20  # config.json
MAX_JSON_DEPTH = 32
MAX_SPEAKERS = 256
MAX_POSTERIORS = 200_000
STAT_LIMIT = 1e3  # |latent statistics| (latents live within a few units of 0)
MIN_CHOL_DIAG = 1e-4  # a digit's knob axes must not collapse (the knob <-> latent map stays invertible)
# Temporary files of bundle writes: ours, and the fixed names older versions used (never other *.tmp
# files: a bundle may be written into a folder that holds the user's own).
STALE_PATTERNS = (f"{TMP_PREFIX}*{TMP_SUFFIX}", f"{WEIGHTS_FILE}.tmp", f"{CONFIG_FILE}.tmp", f"{CONFIG_FILE}.*.tmp")
POSTERIOR_NAMES = ("post_mu", "post_var", "post_digit")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # reorder text


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
            if not torch.isfinite(t).all() or t.abs().max() > STAT_LIMIT:
                raise BundleError(f"latent statistic {name} holds non-finite or absurdly large values")
        chol = self.digit_chol
        diag = torch.diagonal(chol, dim1=-2, dim2=-1)
        if not torch.equal(chol, torch.tril(chol)) or not (diag >= MIN_CHOL_DIAG).all():
            raise BundleError("latent statistic digit_chol is not a Cholesky factor (lower-triangular, diagonal > 0)")
        if self.has_posteriors:
            n = len(self.post_digit)
            if n > MAX_POSTERIORS:
                raise BundleError(f"the bundle stores {n} training posteriors, at most {MAX_POSTERIORS}")
            if (
                tuple(self.post_mu.shape) != (n, d)
                or tuple(self.post_var.shape) != (n, d)
                or not torch.isfinite(self.post_mu).all()
                or self.post_mu.abs().max() > STAT_LIMIT
                or not ((self.post_var > 0) & (self.post_var <= STAT_LIMIT)).all()
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
    voice_map: MapPlane | None = None  # the plane of the map of training voices, if annotated
    knob_labels: list[dict] | None = None  # what each knob measurably does, if annotated
    texture: TextureBank | None = None  # the texture bank (vaesynth.model.texture), if the bundle has one
    texture_settings: TextureSettings = field(default_factory=TextureSettings)

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

    @property
    def voice_map_missing(self) -> str:
        """Why there is no voice map ("" when there is one), in words for the map view."""
        if self.voice_map is not None:
            return ""
        if not self.stats.has_posteriors:
            return "This model stores no training voices to show on a map."
        return "This model was made without a voice map (vaesynth-train annotate adds one)."


def save_bundle(
    bundle: Bundle, folder: str | Path, extra: dict | None = None, base: dict | None = None, keys=None  # noqa: ANN001
) -> Path:
    """Write ``bundle`` to ``folder`` (each file atomically: temporary file, then rename). Returns the folder.

    Temporary files that an earlier, killed write left behind are removed first.
    ``base`` (a personal model, :mod:`training.adapt`): ``{"model": name or folder, "weights": its
    fingerprint}`` of the bundle whose weights this one changes; only the model weights named in
    ``keys`` are stored, the rest come from the base when the bundle is loaded.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = bundle.model
    state = model.state_dict()
    if base is not None:
        unknown = set(keys or ()) - set(state)
        if unknown:
            raise ValueError(f"not weights of the model: {sorted(unknown)[:3]}")
        state = {k: v for k, v in state.items() if k in set(keys or ())}
    tensors = {f"model.{k}": v.detach().to(torch.float16).contiguous() for k, v in state.items()}
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
        **{k: v for k, v in bundle.meta.items() if k not in ("params", "base")},
        **(extra or {}),
    }
    if base is not None:
        config["base"] = dict(base)
    if bundle.voice_map is not None and "voice_map" not in config:
        config["voice_map"] = bundle.voice_map.to_config()
    if bundle.knob_labels is not None and "knob_labels" not in config:
        config["knob_labels"] = bundle.knob_labels
    if bundle.texture is not None:
        config["texture"] = {"file": BANK_FILE, **bundle.texture_settings.to_dict()}
    else:
        config.pop("texture", None)
    for pattern in STALE_PATTERNS:  # what an earlier, killed write of a bundle may have left here
        remove_stale_temporaries(folder, pattern)
    # readable like any shipped data file (the writer may create it private)
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)), mode=0o644)
    if bundle.texture is not None:
        atomic_write(folder / BANK_FILE, lambda tmp: save_bank(bundle.texture, tmp), mode=0o644)
    else:
        (folder / BANK_FILE).unlink(missing_ok=True)
    write_config(folder, config)
    return folder


def write_config(folder: str | Path, config: dict) -> Path:
    """Write a bundle's ``config.json`` atomically (temporary file, then rename); the one writer of it."""
    return atomic_write(Path(folder) / CONFIG_FILE, (json.dumps(config, indent=2, sort_keys=False) + "\n").encode())


def update_config(folder: str | Path, **entries: object) -> Path:
    """Set top-level ``config.json`` entries of an existing bundle (e.g. ``metrics``), atomically."""
    config = read_config(folder)
    config.update(entries)
    return write_config(folder, config)


def _check_json(value: object, where: str, depth: int = 0) -> None:
    """Reject deep nesting and text with control characters (they would reach terminals raw)."""
    if depth > MAX_JSON_DEPTH:
        raise BundleError(f"{where} is nested too deeply")
    if isinstance(value, str):
        if any(ord(c) < 32 or 127 <= ord(c) < 160 or c in BIDI_CONTROLS for c in value):
            raise BundleError(f"{where} holds text with control characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json(k, where, depth + 1)
            _check_json(v, where, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_json(v, where, depth + 1)


def _render_ok(render: object) -> bool:
    """A bundle's optional render settings (seconds; :class:`vaesynth.engine.synth.Synth`) are few and small."""
    keys = {"fade_in_s", "fade_out_s", "trim_end_s"}
    return isinstance(render, dict) and set(render) <= keys and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 0.1 for v in render.values()
    )


def read_config(folder: str | Path) -> dict:
    """Read and check a bundle's ``config.json`` without loading weights (for listings).

    Checks the size, the nesting, the text (no control characters) and the type of every entry
    that is used; raises :class:`BundleError` with one readable sentence.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"model bundle not found: {folder}")
    path = folder / CONFIG_FILE
    try:
        config = json.loads(read_bounded(path, MAX_CONFIG_BYTES, "bundle config").decode("utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a model bundle: {CONFIG_FILE} is missing") from None
    except OSError as e:  # not a regular file, too large, no permission
        raise BundleError(f"{path} is unusable: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{path} is corrupt: {' '.join(str(e).split())[:200]}") from None
    except RecursionError:
        raise BundleError(f"{path} is nested too deeply") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(f"{path} is not a vaesynth bundle config")
    _check_json(config, str(path))
    if config.get("format_version") != FORMAT_VERSION:
        shown = repr(config.get("format_version"))[:20]
        raise BundleError(f"{path} has format version {shown}, this vaesynth reads {FORMAT_VERSION}")
    for key in ("name", "model", "spectral", "speakers", "latent_dim"):
        if key not in config:
            raise BundleError(f"{path} lacks the {key!r} entry")
    model, speakers, latent = config["model"], config["speakers"], config["latent_dim"]
    problems = [
        (not isinstance(config["name"], str) or not 0 < len(config["name"]) <= 200, "'name' must be short text"),
        (not isinstance(config.get("display_name", ""), str), "'display_name' must be text"),
        (not isinstance(model, dict) or not isinstance(model.get("type"), str), "'model' must name a model type"),
        (isinstance(model, dict) and not isinstance(model.get("params", {}), dict), "model 'params' must be a mapping"),
        (
            not isinstance(speakers, list)
            or not 0 < len(speakers) <= MAX_SPEAKERS
            or not all(isinstance(x, str) and 0 < len(x) <= 64 for x in speakers)
            or len(set(speakers)) != len(speakers),
            f"'speakers' must be a list of 1-{MAX_SPEAKERS} distinct short names",
        ),
        (isinstance(latent, bool) or not isinstance(latent, int) or not 0 < latent <= 256, "'latent_dim' is invalid"),
        (not isinstance(config.get("metrics", {}), dict), "'metrics' must be a mapping"),
        (not _render_ok(config.get("render", {})), "'render' may hold fade_in_s, fade_out_s, trim_end_s in 0..0.1 s"),
    ]
    for bad, what in problems:
        if bad:
            raise BundleError(f"{path}: {what}")
    return config


def _over_base(folder: Path, config: dict, own: dict, expected: dict) -> dict:
    """A personal model's whole state: its base's weights (:func:`.files.locate_base`), with the ones
    it stores in their place; the base must be of the same type, params and features, and no
    personal model itself."""
    base_folder = locate_base(folder, config["base"])
    base_config = read_config(base_folder)
    if "base" in base_config:
        raise BundleError(f"{folder / CONFIG_FILE}: a personal model's base must be a shipped model")
    if base_config["model"] != config["model"] or base_config["spectral"] != config["spectral"]:
        raise BundleError(f"{folder.name} does not match its base model {config['base']['model'][:60]!r}")
    state = {k[len("model.") :]: v.float() for k, v in read_weights(base_folder).items() if k.startswith("model.")}
    for k, v in own.items():
        if k not in expected or tuple(v.shape) != expected[k]:
            raise BundleError(f"{folder / WEIGHTS_FILE} does not match its base: weight {k[:60]} is unexpected")
        state[k] = v
    return state


def load_bundle(folder: str | Path) -> Bundle:
    """Load and validate a bundle folder; raises :class:`BundleError` on any problem.

    A bundle is untrusted input: the config is checked (:func:`read_config`, then the spectral
    config and the model parameters, type and range) and the model's size is known before any
    weight is allocated; the weights file's size, tensor types and shapes, and the latent
    statistics' values are checked before they are used.
    """
    folder = Path(folder)
    config = read_config(folder)
    try:
        spectral = SpectralConfig.from_dict(config["spectral"])
        mconf = config["model"]
        model = build_model(mconf["type"], spectral, mconf.get("params", {}))
    except ValueError as e:
        raise BundleError(f"{folder / CONFIG_FILE} is invalid: {e}") from None
    wpath = folder / WEIGHTS_FILE
    tensors = read_weights(folder)
    state = {k[len("model.") :]: v.float() for k, v in tensors.items() if k.startswith("model.")}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if "base" in config:  # a personal model: the weights it changes, over its base's
        state = _over_base(folder, config, state, expected)
    for k in sorted(set(expected) | set(state)):
        if k not in state or k not in expected or tuple(state[k].shape) != expected[k]:
            what = "is missing" if k not in state else "is unexpected" if k not in expected else "has another shape"
            raise BundleError(f"{wpath} does not match its config: weight {k[:60]} {what}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "mismatch"
        raise BundleError(f"{wpath} does not match its config ({first[:200]})") from None
    for k, v in state.items():
        if not torch.isfinite(v).all():
            raise BundleError(f"{wpath} holds non-finite weights in {k}")
    missing = [n for n in STAT_NAMES if f"stats.{n}" not in tensors]
    if missing:
        raise BundleError(f"{wpath} lacks latent statistics: {', '.join(missing)}")
    stats = LatentStats(**{n: tensors[f"stats.{n}"] for n in STAT_NAMES})
    present = [n for n in POSTERIOR_NAMES if f"stats.{n}" in tensors]
    if present and len(present) != len(POSTERIOR_NAMES):
        raise BundleError(f"{wpath} holds only part of the training posteriors ({', '.join(present)})")
    if present:
        stats.post_mu = tensors["stats.post_mu"]
        stats.post_var = tensors["stats.post_var"]
        stats.post_digit = tensors["stats.post_digit"]
    speakers = list(config["speakers"])
    if model.latent_dim != config["latent_dim"]:
        raise BundleError(f"{folder}: latent_dim {config['latent_dim']} does not match the model's {model.latent_dim}")
    stats.validate(model.latent_dim, len(speakers))
    model.eval()
    voice_map = knob_labels = None
    try:
        if "voice_map" in config:
            n_posteriors = len(stats.post_digit) if stats.has_posteriors else None
            voice_map = MapPlane.from_config(config["voice_map"], n_posteriors, model.latent_dim)
            spk = voice_map.speakers
            if spk.size and not 0 <= spk.min() <= spk.max() < len(speakers):
                raise ValueError("voice_map names speakers the bundle does not have")
        if "knob_labels" in config:
            knob_labels = parse_knob_labels(config["knob_labels"], model.latent_dim)
        bank, settings = None, TextureSettings()
        if "texture" in config:
            settings = TextureSettings.from_dict(config["texture"])
            bank = load_bank(folder / BANK_FILE, spectral.n_bins, model.latent_dim)
    except BankError as e:
        raise BundleError(f"{folder}: {e}") from None
    except ValueError as e:
        raise BundleError(f"{folder / CONFIG_FILE} is invalid: {e}") from None
    skip = ("format", "format_version", "spectral", "speakers", "voice_map", "knob_labels", "texture", "base")
    meta = {k: v for k, v in config.items() if k not in skip}
    meta["params"] = config["model"].get("params", {})
    name = config["name"]
    return Bundle(name, model, spectral, stats, speakers, meta, folder, voice_map, knob_labels, bank, settings)
