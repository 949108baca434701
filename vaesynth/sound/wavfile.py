"""Writing WAV files: the one home of it (CLI ``say``/``sample``, the app's export, evaluation).

:func:`write_wav` writes 16-bit PCM and never leaves a half-written file:

- a regular file (new or existing) is written to a temporary file in the same folder and renamed
  over the target (atomic); an existing file keeps its permission bits (and owner, where we may);
- a symbolic link is followed: its target is replaced as above, the link stays a link;
- a FIFO, character device or socket (``/dev/null``, ``/dev/stdout``, a pipe) is written to, never
  replaced; ``"-"`` is standard output (``vaesynth say 12 -o - | aplay``);
- on any error (disk full, permission) the temporary file is removed and the old file is kept;
  the caller gets an :class:`OSError`.

Temporary names are short (``.vs-XXXXXXXX.tmp``), so any legal file name (up to 255 bytes) works.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import sys
from pathlib import Path

import numpy as np

STDOUT = "-"
TMP_PREFIX = ".vs-"
TMP_SUFFIX = ".tmp"


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


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
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return None
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
        fd = os.open(target, os.O_WRONLY)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return target
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "it is a folder", str(target))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(f"{target} is not a regular file")
    tmp = target.parent / f"{TMP_PREFIX}{secrets.token_hex(4)}{TMP_SUFFIX}"
    # O_EXCL with mode 0o666: a fresh, private name; the umask decides a new file's permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_all(fd, data)
            if st is not None:  # replacing a file: keep its permissions (and owner where allowed)
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def remove_stale_temporaries(folder: str | os.PathLike, pattern: str = f"{TMP_PREFIX}*{TMP_SUFFIX}") -> int:
    """Remove temporary files (``pattern``) left in ``folder`` by a killed write; returns how many."""
    n = 0
    for p in Path(folder).glob(pattern):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
