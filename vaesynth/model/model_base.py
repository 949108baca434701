"""The shared plumbing of the VAE models (:mod:`vaesynth.model.models` has the models and the interface):
the decoder's output, the description of a constructor parameter, and the base class."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..dsp.spectral import SpectralConfig


@dataclass
class DecoderOutput:
    features: torch.Tensor  # (B, T, F) in [0, 1]
    valid_logits: torch.Tensor  # (B, T)
    f0_hz: torch.Tensor | None = None  # (B, T), harmonic head only
    voicing_logits: torch.Tensor | None = None  # (B, T), harmonic head with ``voicing=True`` only


@dataclass(frozen=True)
class Param:
    """What one model constructor parameter may be: an int (or, with ``kind="float"``, a number) in
    ``lo..hi``, one of ``choices``, or with ``kind="bool"`` true or false."""

    lo: float = 1
    hi: float = 1
    choices: tuple[str, ...] = ()
    kind: str = "int"

    def check(self, name: str, value: object) -> object:
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"parameter {name} must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"parameter {name} must be true or false, not {str(value)[:20]!r}")
            return value
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float) or not self.lo <= value <= self.hi:
                raise ValueError(f"parameter {name} must be a number in {self.lo:g}..{self.hi:g}, not {value!s:.20}")
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            shown = repr(value) if len(repr(value)) < 30 else repr(value)[:27] + "..."
            raise ValueError(f"parameter {name} must be a whole number in {self.lo}..{self.hi}, not {shown}")
        return value


LATENT = Param(1, 256)


class VAE(nn.Module):
    """Shared VAE plumbing: reparameterisation and the forward pass.

    ``PARAMS``: each constructor parameter (besides ``cfg``) and what it may be; bundles are
    untrusted input, so :func:`check_params` validates them before anything is allocated.
    """

    kind: str = "base"
    conditional: bool = False
    PARAMS: dict[str, Param] = {"latent_dim": LATENT}

    def __init__(self, cfg: SpectralConfig, latent_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim = latent_dim
        self.n_frames = cfg.max_frames
        self.n_bins = cfg.n_bins

    def encode(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, digit: torch.Tensor) -> DecoderOutput:
        raise NotImplementedError

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A posterior sample ``z = mu + eps * exp(logvar / 2)``, ``eps ~ N(0, I)`` (shapes ``(B, D)``)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor, digit: torch.Tensor) -> tuple[DecoderOutput, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, digit)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z, digit), mu, logvar
