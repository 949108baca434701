"""A bundle's files and where bundles live: names, folders, the weights file, a personal model's base.

The ground floor of :mod:`vaesynth.model` (it imports nothing of the package): :mod:`.bundle` reads and
writes bundles with it, :mod:`.catalog` lists and resolves them.

Places: the shipped bundles (a source checkout's top-level ``resources/models``, an installed wheel's
package data ``vaesynth/resources/models``), ``$VAESYNTH_MODELS`` in their stead, and the personal models
of :func:`user_models_dir`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..sound.safeio import open_regular

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
MODELS_ENV = "VAESYNTH_MODELS"  # a folder of bundles that takes precedence over the shipped ones
USER_MODELS_ENV = "VAESYNTH_USER_MODELS"  # where personal models live (default: the XDG data folder)
STAGING_PREFIX = "."  # folders being written (hidden; never listed, removed by the next write)
MAX_WEIGHTS_BYTES = 256 << 20  # weights.safetensors
MODEL_DTYPE_NAMES = ("float16", "bfloat16", "float32")  # what a bundle's model weights may be stored as
FINGERPRINT_RE = re.compile(r"[0-9a-f]{16}")


class BundleError(Exception):
    """A model bundle is missing, unreadable or inconsistent."""


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


def user_models_dir() -> Path:
    """Where personal models live: ``$VAESYNTH_USER_MODELS``, else ``$XDG_DATA_HOME/vaesynth/models``
    (``~/.local/share/vaesynth/models``)."""
    env = os.environ.get(USER_MODELS_ENV, "")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME", "") or str(Path.home() / ".local" / "share")
    return Path(base) / "vaesynth" / "models"


def bundles_in(root: Path) -> dict[str, Path]:
    """The bundle folders directly under ``root`` by name (staging folders left out), sorted."""
    try:
        return {
            p.parent.name: p.parent
            for p in sorted(root.glob(f"*/{CONFIG_FILE}"))
            if not p.parent.name.startswith(STAGING_PREFIX)
        }
    except OSError:  # an unreadable folder lists nothing
        return {}


def is_personal(folder: str | Path) -> bool:
    """Whether ``folder`` is a personal model (it lies in :func:`user_models_dir`)."""
    return Path(folder).resolve().parent == user_models_dir().resolve()


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of ``folder``'s weights file, its size and the tensors' types checked."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_dtypes = tuple(getattr(torch, n) for n in MODEL_DTYPE_NAMES)
    wpath = folder / WEIGHTS_FILE
    try:
        os.close(open_regular(wpath))  # a FIFO or device is refused before safetensors maps it
        size = wpath.stat().st_size
    except FileNotFoundError:
        raise BundleError(f"{folder} is not a complete bundle: {WEIGHTS_FILE} is missing") from None
    except OSError as e:
        raise BundleError(f"{wpath} is unusable: {e.strerror or e}") from None
    if size > MAX_WEIGHTS_BYTES:
        raise BundleError(f"{wpath} is too large ({size >> 20} MB, at most {MAX_WEIGHTS_BYTES >> 20})")
    try:
        tensors = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise BundleError(f"{wpath} is corrupt: {' '.join(str(e).split())[:200]}") from None
    for k, v in tensors.items():
        want = model_dtypes if k.startswith("model.") else (torch.float32,)
        want = (torch.int64,) if k == "stats.post_digit" else want
        if v.dtype not in want:
            raise BundleError(f"{wpath}: tensor {k[:60]} has type {v.dtype}, expected {want[0]}")
    return tensors


def weights_fingerprint(folder: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a bundle's weights file (which model made a sound;
    which base a personal model was made from)."""
    h = hashlib.sha256()
    with os.fdopen(open_regular(Path(folder) / WEIGHTS_FILE), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def locate_base(folder: Path, base: object) -> Path:
    """The folder of a personal model's base (its ``config.json`` → ``base``): a shipped (or
    ``$VAESYNTH_MODELS``) model by name, or a folder; the very one the model was made from (its
    weights' fingerprint) and no personal model. :class:`BundleError` (one sentence) otherwise."""
    where = folder / CONFIG_FILE
    if (
        not isinstance(base, dict)
        or set(base) != {"model", "weights"}
        or not isinstance(base["model"], str)
        or not 0 < len(base["model"]) <= 4096
        or not isinstance(base["weights"], str)
        or FINGERPRINT_RE.fullmatch(base["weights"]) is None
    ):
        raise BundleError(f"{where}: 'base' must name a model and its weights' fingerprint")
    name = base["model"]
    found = bundles_in(default_models_dir()).get(name)
    path = found if found is not None else Path(name).expanduser()
    if not (path / CONFIG_FILE).is_file():
        raise BundleError(f"{folder.name} was made from the model {name[:60]!r}, which is not installed")
    if path.resolve() == folder.resolve() or is_personal(path):
        raise BundleError(f"{where}: a personal model's base must be a shipped model")
    try:
        fingerprint = weights_fingerprint(path)
    except OSError as e:
        raise BundleError(f"{path / WEIGHTS_FILE} is unusable: {e.strerror or e}") from None
    if fingerprint != base["weights"]:
        raise BundleError(
            f"{folder.name} was made from another version of the model {name[:60]!r}: learn the voice again"
        )
    return path
