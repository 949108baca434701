"""Where the FSDD recordings are: the one lookup, for the runtime and for training.

Looked up in an explicit folder (``--data``), else ``$VAESYNTH_FSDD``, else the user cache
(``$XDG_CACHE_HOME/vaesynth/fsdd/recordings``, default ``~/.cache/...``, where
``vaesynth-train download`` puts them). A folder counts when it holds FSDD-named WAVs
(``{digit}_{speaker}_{index}.wav``), itself or in a ``recordings/`` subfolder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_VAR = "VAESYNTH_FSDD"
NAME_RE = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")  # digit, speaker, take index


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/vaesynth`` (default ``~/.cache/vaesynth``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vaesynth"


def default_data_dir() -> Path:
    """Where a downloaded FSDD lives: ``<cache>/fsdd/recordings``."""
    return cache_root() / "fsdd" / "recordings"


def recordings_in(path: str | os.PathLike) -> Path | None:
    """``path`` itself if it holds FSDD-named wavs, or its ``recordings/`` subfolder; else ``None``."""
    path = Path(path).expanduser()
    for cand in (path, path / "recordings"):
        if cand.is_dir() and any(NAME_RE.match(p.name) for p in cand.glob("*.wav")):
            return cand
    return None


def find_recordings(path: str | os.PathLike | None = None) -> Path | None:
    """The recordings folder by the lookup order above, or ``None`` when there is none."""
    if path is not None:
        return recordings_in(path)
    env = os.environ.get(ENV_VAR, "")
    if env:
        return recordings_in(env)
    return recordings_in(default_data_dir())


def where_looked() -> str:
    """Where :func:`find_recordings` looks, in words (for a status bar or an error message)."""
    env = os.environ.get(ENV_VAR, "")
    return f"${ENV_VAR} ({env})" if env else f"{default_data_dir()} (or set ${ENV_VAR})"


def find_recording(name: str) -> Path | None:
    """The recording called ``name`` (an FSDD file name; anything else is refused), or ``None``."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        return None
    folder = find_recordings()
    path = folder / name if folder is not None else None
    return path if path is not None and path.is_file() else None
