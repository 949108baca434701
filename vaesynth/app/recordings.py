"""Where the real recordings behind the voice map are: the one lookup of FSDD at run time.

The runtime never imports ``training``; the app only needs to find one WAV by its FSDD name
(``3_jackson_12.wav``) to play it next to the model's rendering. Looked up in ``$VAESYNTH_FSDD``
(a ``recordings`` folder, or a folder holding one), else ``~/.cache/vaesynth/fsdd/recordings``
(where ``vaesynth-train`` downloads FSDD).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

FSDD_ENV = "VAESYNTH_FSDD"
NAME_RE = re.compile(r"^\d_[A-Za-z0-9]+_\d+\.wav$")


def recordings_dir() -> Path | None:
    """The FSDD ``recordings`` folder, or ``None`` when there is none."""
    candidates = []
    if env := os.environ.get(FSDD_ENV, ""):
        candidates += [Path(env).expanduser(), Path(env).expanduser() / "recordings"]
    candidates.append(Path.home() / ".cache" / "vaesynth" / "fsdd" / "recordings")
    return next((p for p in candidates if p.is_dir() and any(p.glob("*.wav"))), None)


def where_looked() -> str:
    """Where :func:`recordings_dir` looks, in words (for the status bar when nothing is found)."""
    env = os.environ.get(FSDD_ENV, "")
    home = "~/.cache/vaesynth/fsdd/recordings"
    return f"${FSDD_ENV} ({env}) and {home}" if env else f"{home} (or set ${FSDD_ENV})"


def find_recording(name: str) -> Path | None:
    """The recording ``name`` (an FSDD file name; anything else is refused), or ``None``."""
    if not NAME_RE.match(name or ""):
        return None
    folder = recordings_dir()
    path = folder / name if folder is not None else None
    return path if path is not None and path.is_file() else None


def load_recording(path: str | Path, sample_rate: int) -> np.ndarray:
    """A recording as float32 mono ``(n,)`` at ``sample_rate`` Hz, peak-normalised to 0.9.

    Raises ``OSError``/``RuntimeError`` from soundfile when it cannot be read.
    """
    import soundfile as sf

    wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if sr != sample_rate and len(wave) > 1:
        n = max(1, round(len(wave) * sample_rate / sr))
        wave = np.interp(np.linspace(0, len(wave) - 1, n), np.arange(len(wave)), wave).astype(np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    return (wave * (0.9 / peak) if peak > 0 else wave).astype(np.float32)


def a_then_b(a: np.ndarray, b: np.ndarray, sample_rate: int, gap_s: float = 0.3) -> np.ndarray:
    """``a``, ``gap_s`` of silence, then ``b`` (float32, one buffer): the A/B played after a map click."""
    gap = np.zeros(round(gap_s * sample_rate), dtype=np.float32)
    return np.concatenate([np.asarray(a, np.float32), gap, np.asarray(b, np.float32)])
