"""Writing WAV files: the one home of it (CLI ``say``/``sample``, the app's export, evaluation).

:func:`write_wav` writes 16-bit PCM and never leaves a half-written file:

- a regular file (new or existing) is written to a temporary file in the same folder and renamed
  over the target (atomic); an existing file keeps its permission bits (and owner, where we may);
- a symbolic link to a regular file is followed: its target is replaced as above, the link stays a
  link; a link to anything else (a device, a FIFO, a folder) is refused, never written through;
- a FIFO, character device or socket named directly (``/dev/null``, a pipe) is written to, never
  replaced; ``"-"`` is standard output (``vaesynth say 12 -o - | aplay``);
- on any error (disk full, permission) the temporary file is removed and the old file is kept;
  the caller gets an :class:`OSError`.

The rules are :func:`vaesynth.safeio.atomic_write`'s, shared by every writer of vaesynth.
Temporary names are short (``.vs-XXXXXXXX.tmp``), so any legal file name (up to 255 bytes) works.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np

from .safeio import TMP_PREFIX, TMP_SUFFIX, atomic_write, remove_stale_temporaries

STDOUT = "-"
__all__ = ["STDOUT", "TMP_PREFIX", "TMP_SUFFIX", "remove_stale_temporaries", "wav_bytes", "write_wav"]


def wav_bytes(wave: np.ndarray, sample_rate: int, comment: str | None = None) -> bytes:
    """``wave`` float ``(n,)`` (clipped to [-1, 1]) as a complete 16-bit PCM mono WAV file in memory.

    ``comment``: text stored in the WAV's comment (RIFF INFO ``ICMT``), e.g. the sound's recipe.
    """
    import soundfile as sf

    data = np.clip(np.asarray(wave, dtype=np.float32).reshape(-1), -1.0, 1.0)
    buf = io.BytesIO()
    if comment is None:
        sf.write(buf, data, int(sample_rate), subtype="PCM_16", format="WAV")
        return buf.getvalue()
    with sf.SoundFile(buf, "w", int(sample_rate), 1, "PCM_16", format="WAV") as f:
        f.comment = comment
        f.software = "vaesynth"
        f.write(data)
    return buf.getvalue()


def write_wav(path: str | os.PathLike, wave: np.ndarray, sample_rate: int, comment: str | None = None) -> Path | None:
    """Write ``wave`` (float ``(n,)`` at ``sample_rate`` Hz) as 16-bit PCM WAV to ``path`` (see module doc).

    ``comment``: text kept in the WAV (its recipe, see :mod:`vaesynth.voices.keep`).
    Returns the file written (the link's target for a symlink), or ``None`` for standard output.
    Raises :class:`OSError` (nothing half-written left behind) or :class:`ValueError` for an empty path.
    """
    if str(path) == "":
        raise ValueError("no output file given")
    data = wav_bytes(wave, sample_rate, comment)
    if str(path) == STDOUT:
        out = getattr(sys.stdout, "buffer", None)
        if out is None:
            raise OSError(9, "standard output is closed")
        out.write(data)
        out.flush()
        return None
    return atomic_write(path, data, streams=True)
