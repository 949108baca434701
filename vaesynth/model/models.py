"""The VAE models: two unconditional baselines and the digit-conditioned default.

Every model works on normalised log-magnitude features ``x`` of shape
``(batch, n_frames, n_bins)`` in [0, 1] (see :mod:`vaesynth.dsp.spectral`) and shares one
interface:

- ``encode(x, digit) -> (mu, logvar)``, each ``(batch, latent_dim)``;
- ``decode(z, digit) -> DecoderOutput`` with ``features (batch, n_frames, n_bins)`` in [0, 1]
  and ``valid_logits (batch, n_frames)`` (> 0 where the utterance is still going on);
- ``conditional``: whether ``digit`` is used (the baselines ignore it; they reach a digit
  through per-digit latent statistics stored in their bundle).

Architectures are built from a plain ``params`` dict that is saved in each bundle's
``config.json``, so a bundle is data, never code.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from ..dsp.spectral import SpectralConfig
from .cvae import ConditionalVAE
from .model_base import LATENT, VAE, DecoderOutput, Param

__all__ = [  # the default model and the shared plumbing live in .cvae and .model_base; this is the interface
    "CNNVAE", "LATENT", "MAX_PARAMETERS", "MLPVAE", "MODEL_KINDS", "MODEL_TYPES", "VAE", "ConditionalVAE",
    "DecoderOutput", "Param", "build_model", "check_params",
]  # fmt: skip


class MLPVAE(VAE):
    """Baseline 1: fully connected VAE over the flattened spectrogram (unconditional)."""

    kind = "mlp"
    PARAMS = {"latent_dim": LATENT, "hidden": Param(1, 4096)}

    def __init__(self, cfg: SpectralConfig, latent_dim: int = 16, hidden: int = 64) -> None:
        super().__init__(cfg, latent_dim)
        d_in = self.n_frames * self.n_bins
        self.enc = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.to_stats = nn.Linear(hidden, 2 * latent_dim)
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.to_out = nn.Linear(hidden, d_in + self.n_frames)

    def encode(self, x, digit):
        mu, logvar = self.to_stats(self.enc(x.flatten(1))).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z, digit):
        out = self.to_out(self.dec(z))
        d = self.n_frames * self.n_bins
        feat = torch.sigmoid(out[:, :d]).view(-1, self.n_frames, self.n_bins)
        return DecoderOutput(feat, out[:, d:])


class CNNVAE(VAE):
    """Baseline 2: 2-D convolutional VAE over the spectrogram image (unconditional)."""

    kind = "cnn"
    PARAMS = {"latent_dim": LATENT, "channels": Param(4, 512)}

    def __init__(self, cfg: SpectralConfig, latent_dim: int = 32, channels: int = 32) -> None:
        super().__init__(cfg, latent_dim)
        c = channels
        # channels grow as resolution shrinks, so the full-resolution layers stay cheap on a CPU
        self.enc = nn.Sequential(
            nn.Conv2d(1, c // 2, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
        )  # fmt: skip
        self.t0 = math.ceil(self.n_frames / 16)
        self.f0 = math.ceil(self.n_bins / 16)
        flat = 2 * c * self.t0 * self.f0
        self.to_stats = nn.Linear(flat, 2 * latent_dim)
        self.from_z = nn.Linear(latent_dim, flat)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), nn.GELU(),
            nn.ConvTranspose2d(c // 2, c // 4, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(c // 4, 1, 3, padding=1),
        )  # fmt: skip
        self.valid_head = nn.Linear(self.n_bins, 1)

    def encode(self, x, digit):
        h = self.enc(x.unsqueeze(1)).flatten(1)
        mu, logvar = self.to_stats(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode(self, z, digit):
        h = self.from_z(z).view(-1, self.to_stats.in_features // (self.t0 * self.f0), self.t0, self.f0)
        logits = self.dec(F.gelu(h))[:, 0, : self.n_frames, : self.n_bins]
        feat = torch.sigmoid(logits)
        return DecoderOutput(feat, self.valid_head(logits).squeeze(-1))



# The model kinds, the default first: the one list of them (bundle listings, the training CLI, tests).
MODEL_TYPES: dict[str, type[VAE]] = {"cvae": ConditionalVAE, "cnn": CNNVAE, "mlp": MLPVAE}
MODEL_KINDS: tuple[str, ...] = tuple(MODEL_TYPES)


class _SkipInit(TorchFunctionMode):
    """Skip weight initialisers: pointless on the meta device, and slow there (they pull in torch's
    reference implementations, ~2.5 s on first use)."""

    OPS = frozenset({"normal_", "uniform_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "fill_", "zero_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.OPS:
            return args[0] if args else kwargs.get("tensor")
        return func(*args, **kwargs)


MAX_PARAMETERS = 50_000_000  # a model bundle may describe at most this many weights (200 MB as float32)
# What one utterance may cost, from the config alone (the shipped bundles: 14,448 cells, overlap 4, 125
# frames/s, 1.4 M activations; a 4096-point, hop-1, 4096-frame bundle would need GBs and minutes).
MAX_CELLS = 400_000  # max_frames x frequency bins of one utterance's features
MAX_OVERLAP = 16  # n_fft / hop: Griffin-Lim work per output sample
MAX_FRAME_RATE = 2000  # frames per second of sound (sample_rate / hop)
MAX_ACTIVATIONS = 20_000_000  # cells x channels: the largest feature map of a convolutional model


def check_cost(cfg: SpectralConfig, params: dict) -> None:
    """Raise :class:`ValueError` when ``cfg`` and ``params`` describe a model too costly to run (limits above)."""
    cells = cfg.max_frames * cfg.n_bins
    overlap = cfg.n_fft / cfg.hop
    rate = cfg.sample_rate / cfg.hop
    activations = cells * max(1, int(params.get("channels", 1)))
    for value, limit, what in (
        (cells, MAX_CELLS, "feature cells per utterance (max_frames x bins)"),
        (overlap, MAX_OVERLAP, "overlap (n_fft / hop)"),
        (rate, MAX_FRAME_RATE, "frames per second (sample_rate / hop)"),
        (activations, MAX_ACTIVATIONS, "activations (cells x channels)"),
    ):
        if value > limit:
            raise ValueError(f"too costly to run: {value:,.0f} {what}, at most {limit:,}")


def check_params(kind: object, params: object) -> dict:
    """Validate a model type name and its ``params`` (types and ranges); returns a clean copy.

    Raises :class:`ValueError` with one readable sentence. Cheap: nothing is allocated.
    """
    if not isinstance(kind, str) or kind not in MODEL_TYPES:
        shown = repr(kind) if len(repr(kind)) < 30 else repr(kind)[:27] + "..."
        raise ValueError(f"unknown model type {shown}; known: {', '.join(MODEL_TYPES)}")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError(f"model parameters must be a mapping, not {type(params).__name__}")
    allowed = MODEL_TYPES[kind].PARAMS
    unknown = sorted(str(k)[:30] for k in params if k not in allowed)
    if unknown:
        raise ValueError(f"unknown parameters for model type {kind!r}: {', '.join(unknown)}")
    return {name: allowed[name].check(name, value) for name, value in params.items()}


def build_model(kind: str, cfg: SpectralConfig, params: dict | None = None, device: str | None = None) -> VAE:
    """Instantiate a model from its type name and its ``params`` dict (as stored in a bundle).

    Parameters are validated first (:func:`check_params`), then the model is built on PyTorch's
    ``meta`` device (no memory) to count its weights against :data:`MAX_PARAMETERS`, and only
    then for real (on ``device``; ``"meta"`` returns the shape-only model). Raises
    :class:`ValueError` with one readable sentence.
    """
    params = check_params(kind, params)
    check_cost(cfg, params)
    cls = MODEL_TYPES[kind]
    try:
        with torch.device("meta"), _SkipInit():
            shape_only = cls(cfg, **params)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"bad parameters for model type {kind!r}: {str(e).splitlines()[0][:200]}") from None
    n = sum(p.numel() for p in shape_only.state_dict().values())
    if n > MAX_PARAMETERS:
        raise ValueError(f"model type {kind!r} with these parameters has {n:,} weights, at most {MAX_PARAMETERS:,}")
    if device == "meta":
        return shape_only
    return cls(cfg, **params)
