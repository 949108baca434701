"""Untrusted files in and out: the one bounded reader and the one atomic writer.

Every file that a user (or anyone who can write to their folders) can hand to vaesynth goes
through here: voices, recipes (``.json`` and the recipe inside a WAV), settings, bundle configs,
takes and training recordings.

**Reading** (:func:`read_bounded`, :func:`open_regular`): anything that is not a regular file
(a FIFO, a device such as ``/dev/zero``, a socket, a folder, or a link to one) is refused
*before* it is opened; the file is opened with ``O_NONBLOCK`` (a FIFO swapped in meanwhile
cannot hang the open) and checked again on the open descriptor; at most ``limit`` bytes are read,
whatever ``st_size`` says, and each file is read once.

**Sound files** (:func:`read_audio`): the header (rate, channels, frames) is checked against
limits before anything is decoded, and at most the allowed number of frames is decoded.

**Writing** (:func:`atomic_write`, :func:`write_target`): a temporary file in the target's
folder, renamed over the target; a symbolic link stays a link and its target is replaced, but
only when that target is a regular file (or does not exist yet). A link to a device, FIFO,
socket or folder is never written through. A FIFO or device named directly (``-o /dev/null``)
is written to, never replaced, and only where the caller allows streams (sound exports).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np

TMP_PREFIX = ".vs-"
TMP_SUFFIX = ".tmp"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotAFileError(OSError):
    """A path that is (or links to) something other than a regular file; ``str(e)`` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message

    def __str__(self) -> str:
        return self.strerror


class TooLargeError(OSError):
    """A file larger than the limit for its kind; ``str(e)`` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message

    def __str__(self) -> str:
        return self.strerror


class AudioLimitError(ValueError):
    """A sound file whose header is outside the limits (rate, channels, length); one sentence."""


def kind_of(mode: int) -> str:
    """What a file mode is, in words ("a FIFO", "a device", ...)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _short(path: object) -> str:
    text = str(path)
    return text if len(text) <= 80 else text[:38] + "..." + text[-38:]


def open_regular(path: str | os.PathLike) -> int:
    """Open ``path`` for reading if it is (or links to) a regular file: a raw descriptor.

    Raises :class:`FileNotFoundError`, :class:`NotAFileError` (refused before opening), or another
    :class:`OSError` (no permission, ...).
    """
    st = os.stat(path)  # follows links: a link to a regular file is fine
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(f"{_short(path)} is {kind_of(st.st_mode)}, not a file")
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between the check and the open
            raise NotAFileError(f"{_short(path)} is {kind_of(st.st_mode)}, not a file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (see module doc).

    Raises :class:`TooLargeError` when the file holds more than ``limit`` bytes, and the errors of
    :func:`open_regular`.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb", buffering=0) as f:
        chunks, n = [], 0
        while n <= limit:
            chunk = f.read(min(1 << 20, limit + 1 - n))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
    if n > limit:
        raise TooLargeError(f"{_short(path)} is too large for a {what} (more than {limit:,} bytes)")
    return b"".join(chunks)


def read_audio(
    source: str | os.PathLike | bytes,
    *,
    max_seconds: float,
    rate_range: tuple[int, int] = (4000, 192000),
    max_channels: int = 8,
    max_bytes: int = 64 << 20,
    max_samples: int = 8_000_000,
) -> tuple[np.ndarray, int]:
    """Decode a sound file (a path or its bytes) as float32 ``(n_frames, channels)`` and its rate in Hz.

    The header is checked first: the rate must lie in ``rate_range``, the channels at most
    ``max_channels``, and the length at most ``max_seconds`` (by the header's frame count); only
    that many frames are ever decoded, and at most ``max_samples`` samples (frames x channels) in
    all. A path must be a regular file of at most ``max_bytes``.
    Raises :class:`AudioLimitError` (outside the limits), or ``OSError``/``RuntimeError`` from
    soundfile for an unreadable file (and the errors of :func:`read_bounded`).
    """
    import soundfile as sf

    blob = source if isinstance(source, bytes) else read_bounded(source, max_bytes, "sound file")
    with sf.SoundFile(io.BytesIO(blob)) as f:
        rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        if not rate_range[0] <= rate <= rate_range[1]:
            raise AudioLimitError(f"its sample rate ({rate} Hz) is outside {rate_range[0]}..{rate_range[1]} Hz")
        if not 1 <= channels <= max_channels:
            raise AudioLimitError(f"it has {channels} channels, at most {max_channels}")
        allowed = min(int(max_seconds * rate), max_samples // channels)
        if frames > allowed:
            most = f"{allowed / rate:.1f} s at {rate} Hz with {channels} channel(s)"
            raise AudioLimitError(f"it is too long ({frames / rate:.1f} s, at most {most})")
        wave = f.read(frames=min(frames, allowed), dtype="float32", always_2d=True)
    return wave, rate


def write_target(path: str | os.PathLike, *, streams: bool = False) -> tuple[Path, os.stat_result | None, bool]:
    """Where a write of ``path`` goes: ``(file to replace or create, its stat or None, is_stream)``.

    A link to a regular file (or to nothing yet) gives its target; a link to anything else is a
    :class:`NotAFileError`. A FIFO, device or socket named directly is a stream (written to, never
    replaced) when ``streams`` is true, else a :class:`NotAFileError`. A folder is an
    :class:`IsADirectoryError`.
    """
    target = Path(path)
    try:
        lst = os.lstat(target)
    except FileNotFoundError:
        return target, None, False
    if stat.S_ISLNK(lst.st_mode):
        try:
            st = os.stat(target)
        except FileNotFoundError:  # a dangling link: its target is created, the link stays
            return Path(os.path.realpath(target)), None, False
        if not stat.S_ISREG(st.st_mode):
            raise NotAFileError(f"{_short(path)} is a link to {kind_of(st.st_mode)}; it is not written through")
        return Path(os.path.realpath(target)), st, False
    if stat.S_ISDIR(lst.st_mode):
        raise IsADirectoryError(21, "it is a folder", str(path))
    if stat.S_ISREG(lst.st_mode):
        return target, lst, False
    if streams and (stat.S_ISFIFO(lst.st_mode) or stat.S_ISCHR(lst.st_mode) or stat.S_ISSOCK(lst.st_mode)):
        return target, lst, True
    raise NotAFileError(f"{_short(path)} is {kind_of(lst.st_mode)}, not a file; it is not replaced")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def temporary_path(folder: Path) -> Path:
    """A fresh temporary name in ``folder`` (short: any legal target name works)."""
    return folder / f"{TMP_PREFIX}{secrets.token_hex(4)}{TMP_SUFFIX}"


def atomic_write(
    path: str | os.PathLike,
    data: bytes | Callable[[Path], None],
    *,
    streams: bool = False,
    mode: int | None = None,
) -> Path:
    """Write ``data`` (bytes, or a function that writes a given temporary path) to ``path`` atomically.

    See :func:`write_target` for what is refused. An existing file keeps its permission bits (and
    owner where allowed); a new one gets ``mode`` (default: 0o666 less the umask). On any error the
    temporary file is removed and the old file is kept. Returns the file written.
    """
    target, st, stream = write_target(path, streams=streams)
    if stream:
        if not isinstance(data, bytes):
            raise NotAFileError(f"{_short(path)} is {kind_of(st.st_mode)}, not a file")  # type: ignore[union-attr]
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return target
    tmp = temporary_path(target.parent)
    try:
        if isinstance(data, bytes):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            data(tmp)
        if not os.path.isfile(tmp) or os.path.islink(tmp):
            raise OSError(f"{_short(path)}: the temporary file was not written")
        if st is not None:  # replacing a file: keep its permissions (and owner where allowed)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        elif mode is not None:
            os.chmod(tmp, mode)
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
            if p.is_file() and not p.is_symlink():
                p.unlink()
                n += 1
    return n
