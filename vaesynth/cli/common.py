"""What the ``vaesynth`` commands share: exit statuses, the one-line usage error, loading a model,
checking and writing output files, playing a sound to the end.

Both :mod:`vaesynth.cli.cli` (the parser and most commands) and :mod:`vaesynth.cli.commands` (``say``,
``voices``) import it; it imports neither.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran but could not do everything (e.g. no audio device for --play)
EXIT_USAGE = 2  # bad input: nothing was done
RATE_RANGE = (8000, 192000)


class UsageError(Exception):
    """Bad command-line input; the message is printed as one line and the exit status is 2."""


def performance_from_args(args: argparse.Namespace):
    """The :class:`~vaesynth.engine.performance.Performance` the arguments ask for; bad values are a UsageError."""
    from vaesynth.engine.performance import Performance, parse_note

    try:
        note = parse_note(args.note) if args.note is not None else None
        formant = getattr(args, "formant", 1.0)
        return Performance(pitch=args.pitch, speed=args.speed, note_hz=note, contour=args.contour, formant=formant)
    except ValueError as e:
        raise UsageError(str(e)) from None


def model_arg(args: argparse.Namespace) -> str | None:
    return getattr(args, "sub_model", None) or args.model


def load_synth(model: str | None):
    """A :class:`~vaesynth.engine.synth.Synth` for ``model``; a missing or broken bundle is a :class:`UsageError`."""
    from vaesynth.engine.synth import Synth
    from vaesynth.model.bundle import BundleError

    try:
        return Synth.from_path(model)
    except BundleError as e:
        raise UsageError(str(e)) from None


def check_writable_file(path: Path, creating_folder: bool = False) -> None:
    """Fail early, with one line, when ``path`` cannot be written (``-`` is standard output).

    ``creating_folder``: the file's folder may be created (the nearest existing folder above it
    must be writable). A link to anything but a regular file is refused (:mod:`vaesynth.sound.safeio`).
    """
    if str(path) == "-":
        return
    from vaesynth.sound.safeio import write_target

    name = shown(path)
    try:
        target, st, stream = write_target(path, streams=True)
        if stream:  # a device, FIFO or socket named directly: written to, never replaced
            if not os.access(target, os.W_OK):
                raise UsageError(f"cannot write {name}: permission denied")
            return
        parent = target.parent if str(target.parent) else Path(".")
        while creating_folder and not os.path.lexists(parent) and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise UsageError(f"cannot write {name}: folder {shown(parent)} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write {name}: folder {shown(parent)} is not writable")
        if st is not None and not os.access(target, os.W_OK):
            raise UsageError(f"cannot write {name}: the file is read-only")
        if len(target.name.encode(errors="surrogateescape")) > 255 - 20:  # room for the temporary's name
            os.stat(parent / target.name)  # ENAMETOOLONG beyond the file system's limit
    except IsADirectoryError:
        raise UsageError(f"cannot write {name}: it is a folder") from None
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"cannot write {name}: {e.strerror or e}") from None


def shown(value: object, limit: int = 80) -> str:
    """``value`` as text short enough for one line (long values are cut in the middle)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit // 2 - 2] + "..." + text[-(limit // 2 - 1) :]


def write_output(path: Path, wave, sample_rate: int, recipe=None) -> None:  # noqa: ANN001
    """Write a WAV (with its recipe, :mod:`vaesynth.voices.keep`); any failure (disk full, ...) is a ``UsageError``."""
    from vaesynth.sound.wavfile import write_wav
    from vaesynth.voices.keep import write_wav_with_recipe

    try:
        if recipe is None:
            write_wav(path, wave, sample_rate)
        else:
            write_wav_with_recipe(path, wave, sample_rate, recipe)
    except OSError as e:
        raise UsageError(f"cannot write {shown(path)}: {e.strerror or e}") from None


def play_blocking(wave, sample_rate: int) -> int:
    from vaesynth.sound.audio import AudioOutput

    audio = AudioOutput()
    try:
        if not audio.play(wave, sample_rate):
            print(f"vaesynth: {audio.status}", file=sys.stderr)
            return EXIT_FAILED
        deadline = time.monotonic() + len(wave) / sample_rate + 2.0
        while audio.is_playing and time.monotonic() < deadline:
            time.sleep(0.02)
        if not audio.available:
            print(f"vaesynth: {audio.status}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        audio.close()
