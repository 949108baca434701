"""Export of a render as a WAV file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QWidget

from .messages import RenderResult


def default_name(result: RenderResult) -> str:
    """A file name for ``result``: ``vaesynth-<digits>.wav`` (long strings shortened)."""
    digits = result.digits if len(result.digits) <= 24 else result.digits[:23] + "…"
    return f"vaesynth-{digits}.wav"


def ask_wav_path(parent: QWidget, result: RenderResult) -> str:
    """Ask where to save ``result`` (a save dialog); "" if cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, "Export WAV", default_name(result), "WAV audio (*.wav)")
    return path


def export_wav(result: RenderResult, path: str | Path) -> Path:
    """Write ``result`` to ``path`` (``.wav`` added if missing) as 16-bit PCM WAV at the model's
    rate; returns the path written. Raises ``OSError`` / ``RuntimeError`` when it cannot."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        path = path.with_suffix(".wav")
    _write_wav(path, result.wave, result.sample_rate)
    return path


def _write_wav(path: Path, wave: np.ndarray, sample_rate: int) -> None:
    """The app's one WAV writer, until ``vaesynth.wavfile.write_wav`` (atomic) replaces it."""
    import soundfile as sf

    sf.write(str(path), wave, sample_rate, subtype="PCM_16")
