"""Where models live: the shipped bundles, ``$VAESYNTH_MODELS``, listing them and resolving a name.

The one home of "model name or path -> bundle folder". A source checkout keeps the shipped models
in the top-level ``resources/models``; an installed wheel carries them as package data
(``vaesynth/resources/models``); ``$VAESYNTH_MODELS`` points at another folder of bundles.
"""

from __future__ import annotations

import os
from pathlib import Path

from .bundle import CONFIG_FILE, BundleError
from .models import MODEL_KINDS

MODELS_ENV = "VAESYNTH_MODELS"  # a folder of bundles that takes precedence over the shipped ones


def resources_dir() -> Path:
    """The shipped ``resources/`` folder.

    Installed from a wheel it is package data (``vaesynth/resources``); in a source checkout it
    is the top-level ``resources/`` next to the ``vaesynth`` package.
    """
    here = Path(__file__).resolve().parents[1]
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


def model_id(folder: str | Path) -> str:
    """How recipes and saved voices name a model: its shipped name, else its folder's absolute path."""
    path = Path(folder).resolve()
    for name, found in list_bundles().items():
        if found.resolve() == path:
            return name
    return str(path)
