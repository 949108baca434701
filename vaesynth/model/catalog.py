"""Where models live: the shipped bundles, ``$VAESYNTH_MODELS``, personal models; listing and resolving a name.

The one home of "model name or path -> bundle folder". A source checkout keeps the shipped models
in the top-level ``resources/models``; an installed wheel carries them as package data
(``vaesynth/resources/models``); ``$VAESYNTH_MODELS`` points at another folder of bundles.
Personal models (``vaesynth-train adapt``, "Learn my voice") live in the user's data folder,
:func:`user_models_dir`, and are listed after the shipped ones; they can be renamed and deleted
(:func:`rename_personal`, :func:`delete_personal`), the shipped ones cannot.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .bundle import update_config
from .files import (  # noqa: F401  (the places are imported from here too)
    CONFIG_FILE,
    MODELS_ENV,
    STAGING_PREFIX,
    USER_MODELS_ENV,
    BundleError,
    bundles_in,
    default_models_dir,
    is_personal,
    resources_dir,
    user_models_dir,
)
from .models import MODEL_KINDS

#: a personal model's name: whole names only (fullmatch), no path, no newline, at most 40 characters
PERSONAL_NAME_RE = re.compile(r"[A-Za-z0-9][\w .'+-]{0,39}")


def list_bundles(root: str | Path | None = None, personal: bool = True) -> dict[str, Path]:
    """Bundle folders under ``root`` (default: :func:`default_models_dir`), by name, shipped kinds
    first; then (``personal``) the personal models of :func:`user_models_dir`, by name, except one
    whose name a model of ``root`` has already."""
    root = Path(root) if root is not None else default_models_dir()
    found = bundles_in(root)
    order = list(MODEL_KINDS)
    ordered = dict(sorted(found.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])))
    if personal:
        mine = user_models_dir()
        if mine.resolve() != root.resolve():
            for name, path in bundles_in(mine).items():
                ordered.setdefault(name, path)
    return ordered


def check_personal_name(name: object, root: str | Path | None = None) -> str:
    """``name`` if it can name a new personal model, else :class:`BundleError` saying why (one sentence)."""
    if not isinstance(name, str) or PERSONAL_NAME_RE.fullmatch(name) is None:
        raise BundleError(
            f"{str(name)[:60]!r} cannot name a model: use 1-40 letters, digits, spaces or . ' + - _ (starting "
            "with a letter or digit)"
        )
    shipped = bundles_in(Path(root) if root is not None else default_models_dir())
    if name in shipped or name in MODEL_KINDS:
        raise BundleError(f"{name!r} is the name of a shipped model: choose another")
    return name


def personal_folder(name: str) -> Path:
    """The folder of personal model ``name`` (which may not exist yet); ``name`` is checked."""
    return user_models_dir() / check_personal_name(name)


def _existing_personal(name: str) -> Path:
    folder = user_models_dir() / str(name)
    if PERSONAL_NAME_RE.fullmatch(str(name)) is None or not (folder / CONFIG_FILE).is_file() or folder.is_symlink():
        raise BundleError(f"there is no personal model named {str(name)[:60]!r}")
    return folder


def rename_personal(name: str, new_name: str) -> Path:
    """Rename personal model ``name`` to ``new_name`` (its folder and the name it shows). Returns the new folder."""
    old = _existing_personal(name)
    new = personal_folder(new_name)
    if new.exists() or new.is_symlink():
        raise BundleError(f"a personal model named {new_name!r} exists already")
    os.rename(old, new)  # same folder: atomic; the old name is gone at once
    update_config(new, name=new_name, display_name=new_name)
    return new


def delete_personal(name: str) -> None:
    """Delete personal model ``name`` (never a shipped one). Renamed aside first, so a half-deleted
    folder is never listed."""
    folder = _existing_personal(name)
    trash = folder.with_name(f"{STAGING_PREFIX}deleted-{folder.name}-{os.getpid()}")
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


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
