"""Deprecated import path, kept so that code outside ``training/`` keeps working until it moves.

"Export" here never meant TorchScript/ONNX: use :mod:`training.bundling` (writing bundles,
``untrained_bundle``, ``refresh_latent_stats``) and :mod:`training.latent_stats`
(``fit_latent_stats``, ``encode_posteriors``). Nothing inside ``training/`` imports this module.
"""

from .bundling import DISPLAY_NAMES, refresh_latent_stats, untrained_bundle
from .bundling import write_bundle as export_bundle
from .latent_stats import encode_posteriors, fit_latent_stats

__all__ = [
    "DISPLAY_NAMES",
    "encode_posteriors",
    "export_bundle",
    "fit_latent_stats",
    "refresh_latent_stats",
    "untrained_bundle",
]
