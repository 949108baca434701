"""Export of a render as a WAV file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    rate, atomically, with its render recipe inside (:func:`vaesynth.voices.keep.write_wav_with_recipe`:
    ``vaesynth say --recipe`` or ``read_recipe`` + ``RenderRecipe.render`` make the same samples
    again); returns the file written. Raises ``OSError`` when it cannot (nothing half-written is left)."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        path = path.with_suffix(".wav")
    if result.recipe is None:
        from vaesynth.sound.wavfile import write_wav

        return write_wav(path, result.wave, result.sample_rate) or path
    from vaesynth.voices.keep import write_wav_with_recipe

    return write_wav_with_recipe(path, result.wave, result.sample_rate, result.recipe) or path


def save_render(result: RenderResult | None, path: str | Path, status: Callable[[str], None]) -> Path | None:
    """:func:`export_wav` that reports in words through ``status`` instead of raising; the path or ``None``."""
    if result is None:
        status("Nothing to export yet: press a key first.")
        return None
    try:
        written = export_wav(result, path)
    except Exception as e:  # noqa: BLE001 - disk full, no permission, no libsndfile
        status(f"Could not export {path}: {e}")
        return None
    status(f"Saved {written} ({result.duration_s:.2f} s).")
    return written


def ask_and_save(parent: QWidget, result: RenderResult | None, status: Callable[[str], None]) -> Path | None:
    """Ask where to save ``result`` (nothing happens without one, or when cancelled), then :func:`save_render`."""
    if result is None or not (path := ask_wav_path(parent, result)):
        return None
    return save_render(result, path, status)
