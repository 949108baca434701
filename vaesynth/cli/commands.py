"""``vaesynth say`` and ``vaesynth voices``: speaking digit strings, with recipes and saved voices.

The parser and the other commands are in :mod:`vaesynth.cli.cli`; every failure here is a
:class:`vaesynth.cli.common.UsageError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
from pathlib import Path

from .common import (
    EXIT_OK,
    RATE_RANGE,
    UsageError,
    check_writable_file,
    load_synth,
    model_arg,
    performance_from_args,
    play_blocking,
    write_output,
)


def _saved_voice(args: argparse.Namespace):  # noqa: ANN202
    """The saved voice that ``--voice-file FILE`` or ``--voice NAME`` (a name, never a path) asks for, or ``None``.

    Read once, before the model loads (a saved voice brings its model). A ``--voice`` name that is
    no saved voice is left to the model (one of its speakers, checked once it is loaded).
    """
    from vaesynth.voices.keep import KeepError, is_voice_name, list_voices, load_voice, voice_path

    try:
        if args.voice_file:
            return load_voice(Path(args.voice_file))
        name = args.voice
        if name not in ("random", "", None) and is_voice_name(name):
            if name in list_voices() or os.path.lexists(voice_path(name)):  # a bad entry says what is wrong
                return load_voice(name)
    except KeepError as e:
        raise UsageError(str(e)) from None
    return None


def _voice_from_take(args: argparse.Namespace, synth):  # noqa: ANN001, ANN202
    """A :class:`~vaesynth.voices.keep.SavedVoice` (named after the file) encoded from the ``--voice-from`` take.

    A bad take (unreadable, silent, clipped, too long, not a digit) is a :class:`UsageError`.
    """
    from vaesynth.model.catalog import model_id
    from vaesynth.voices.keep import SavedVoice
    from vaesynth.voices.voice_in import RECOGNISING_KINDS, VoiceInError, encode_voice, load_take

    if synth.bundle.kind not in RECOGNISING_KINDS:
        raise UsageError(f"--voice-from needs a model that recognises digits (cvae), not {synth.bundle.kind!r}")
    try:
        knobs = encode_voice(synth, load_take(args.voice_from, cfg=synth.spectral))
    except VoiceInError as e:
        raise UsageError(f"{args.voice_from}: {e}") from None
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(args.voice_from).stem)[:40] or "take"
    return SavedVoice(name, model_id(synth.bundle.path), tuple(float(v) for v in knobs), args.temperature)


def _recipe_from_args(args: argparse.Namespace, synth, saved) -> object:  # noqa: ANN001
    """The :class:`~vaesynth.voices.keep.RenderRecipe` for this ``say`` (a random seed is drawn and kept)."""
    import numpy as np

    from vaesynth.engine.performance import Performance
    from vaesynth.model.catalog import model_id
    from vaesynth.voices.keep import RenderRecipe, weights_fingerprint

    performance = performance_from_args(args)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    knobs, voice, temperature = None, None, args.temperature
    if saved is not None:
        knobs = tuple(float(v) for v in synth.knobs.check(np.asarray(saved.knobs)))
        temperature = saved.temperature
        if performance == Performance():
            performance = saved.performance
    elif args.voice not in ("random", "", None):
        voice = args.voice
        synth.knobs.speaker_index(voice)  # a ValueError names the known voices
    return RenderRecipe(
        args.digits, model_id(synth.bundle.path), weights_fingerprint(synth.bundle.path), seed, knobs, voice,
        vary=not args.steady, temperature=temperature, performance=performance, texture=args.texture,
    )  # fmt: skip


def _check_options(args: argparse.Namespace) -> None:
    """Options that would be ignored silently are a :class:`UsageError` instead."""
    if args.recipe:
        options = (
            ("--pitch", args.pitch, 0.0), ("--seed", args.seed, None), ("--temperature", args.temperature, 1.0),
            ("--speed", args.speed, 1.0), ("--note", args.note, None), ("--steady", args.steady, False),
        )  # fmt: skip
        given = [o for o, v, default in options if v != default]
        if given:
            raise UsageError(f"a recipe fixes how the sound is made; {', '.join(given)} cannot change it")
    if args.contour != 0.0 and args.note is None:
        raise UsageError("--contour shapes a --note; give --note too")
    if args.rate is not None and args.output is None:
        raise UsageError("--rate sets the rate of the -o file; playing uses the model's rate")
    if args.save_voice is not None and not args.save_voice.strip():
        raise UsageError("--save-voice needs a name")


def _output_path(text: str | None) -> Path | None:
    """The ``-o`` path (``-`` is standard output; ``./-`` a file named ``-``); a folder-like name is refused."""
    if text is None:
        return None
    if text == "":
        raise UsageError("-o/--output needs a file name (or - for standard output)")
    if text.endswith(("/", os.sep)):
        raise UsageError(f"-o {text[:80]}: a file name is needed, not a folder")
    out = Path(text)
    return Path.cwd() / "-" if text != "-" and str(out) == "-" else out


def _voice_to_save(args: argparse.Namespace):  # noqa: ANN202
    """The ``--save-voice`` target, checked before anything is rendered or written (name, folder)."""
    from vaesynth.voices.keep import KeepError, voice_path

    if args.save_voice is None:
        return None
    try:
        path = voice_path(args.save_voice)
    except KeepError as e:
        raise UsageError(f"cannot save the voice: {e}") from None
    check_writable_file(path, creating_folder=True)
    return path


def cmd_say(args: argparse.Namespace) -> int:
    from vaesynth.digits import parse_digits
    from vaesynth.voices.keep import KeepError, SavedVoice, read_recipe, save_voice, weights_fingerprint

    _check_options(args)
    recipe = saved = None
    if args.recipe:
        try:
            recipe = read_recipe(args.recipe)
        except KeepError as e:
            raise UsageError(str(e)) from None
        if args.digits:
            raise UsageError("give either digits or --recipe, not both")
    elif args.digits is None:
        raise UsageError("no digits given (or use --recipe)")
    try:
        parse_digits(recipe.text if recipe else args.digits)  # before anything heavy: bounded work on bad input
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.rate is not None and not RATE_RANGE[0] <= args.rate <= RATE_RANGE[1]:
        raise UsageError(f"--rate must be between {RATE_RANGE[0]} and {RATE_RANGE[1]} Hz, not {args.rate}")
    out = _output_path(args.output)
    if out is not None:
        check_writable_file(out)
    voice_target = _voice_to_save(args)
    play = args.play or out is None
    voice_from = getattr(args, "voice_from", None)
    if voice_from and (args.recipe or args.voice_file or args.voice not in ("random", "", None)):
        raise UsageError("give --voice-from alone, without --voice, --voice-file or --recipe")
    performance_from_args(args)  # bad values fail before the model loads
    if recipe is None and not voice_from:
        saved = _saved_voice(args)  # read once; a saved voice brings its model
    model = recipe.model if recipe else (model_arg(args) or (saved.model if saved else None))
    synth = load_synth(model)
    try:
        if recipe is not None:
            if recipe.weights != weights_fingerprint(synth.bundle.path):
                raise UsageError(f"the recipe was made with other weights of {recipe.model!r}; it cannot be redone")
        else:
            if saved is not None and not args.voice_file and args.voice in synth.speakers:
                raise UsageError(
                    f"{args.voice!r} is both a speaker of the model and a saved voice; rename the saved one "
                    f"(vaesynth voices --rename {args.voice} NEW)"
                )
            if voice_from:
                saved = _voice_from_take(args, synth)
            recipe = _recipe_from_args(args, synth, saved)
        if args.save_voice is not None and args.save_voice in synth.speakers:
            raise UsageError(f"cannot save the voice: {args.save_voice!r} is a speaker of the model; choose another")
        render = recipe.render(synth)
    except ValueError as e:
        raise UsageError(str(e)) from None
    wave, rate = render.wave, render.sample_rate
    if len(wave) == 0:
        raise UsageError("the model rendered no sound (0 samples); nothing was written")
    voice = None
    if voice_target is not None:
        # a voice from a take keeps the take's knobs; otherwise the first digit's knobs as spoken
        knobs = saved.knobs if voice_from else tuple(float(v) for v in render.latents[0])
        try:
            voice = SavedVoice(args.save_voice, recipe.model, knobs, recipe.temperature, recipe.performance)
            SavedVoice.from_dict(voice.to_dict())
        except KeepError as e:
            raise UsageError(f"cannot save the voice: {e}") from None
    if out is not None and args.rate is not None and args.rate != rate:
        from vaesynth.dsp.spectral import resample

        wave, rate = resample(wave, render.sample_rate, args.rate), args.rate
    # one order: the voice first, then the WAV; a WAV that cannot be written puts the old voice back
    with _restorable(voice_target if voice is not None else None):
        if voice is not None:
            try:
                saved_at = save_voice(voice)
            except (KeepError, OSError) as e:
                raise UsageError(f"cannot save the voice: {e}") from None
        if out is not None:
            write_output(out, wave, rate, recipe)
    if out is not None and str(out) != "-":  # standard output carries the WAV itself
        print(f"wrote {out} ({len(wave) / rate:.2f} s at {rate} Hz: {render.digits})")
    if voice is not None:
        print(f"saved voice {args.save_voice!r} in {saved_at}")
    if play:
        return play_blocking(render.wave, render.sample_rate)
    return EXIT_OK


@contextlib.contextmanager
def _restorable(path: Path | None):  # noqa: ANN202
    """Put the small file ``path`` (a voice) back as it was, or remove it, when the block raises a UsageError."""
    from vaesynth.sound.safeio import atomic_write, read_bounded, write_target
    from vaesynth.voices.keep import MAX_FILE_BYTES

    old = target = None
    if path is not None:
        try:
            target, st, _ = write_target(path)
            old = read_bounded(target, MAX_FILE_BYTES, "voice") if st is not None else None
        except OSError:
            target = None
    try:
        yield
    except UsageError:
        if target is not None:
            with contextlib.suppress(OSError):
                if old is None:
                    target.unlink()
                else:
                    atomic_write(target, old)
        raise


def cmd_voices(args: argparse.Namespace) -> int:
    from vaesynth.voices.keep import KeepError, delete_voice, list_voices, load_voice, rename_voice, voices_dir

    try:
        if args.delete:
            delete_voice(args.delete)
            print(f"deleted voice {args.delete!r}")
        elif args.rename:
            old, new = args.rename
            print(f"renamed to {rename_voice(old, new, reserved=_speakers_of(load_voice(old).model))}")
        else:
            names = list_voices()
            if not names:
                print(f"no saved voices in {voices_dir()} (vaesynth say 123 --save-voice NAME keeps one)")
            for name in names:  # a bad entry is shown as such; the others are still listed
                try:
                    v = load_voice(name)
                    print(f"{name}  (model {v.model}, {len(v.knobs)} knobs, temperature {v.temperature:g})")
                except KeepError as e:
                    print(f"{name}  (unreadable: {' '.join(str(e).split())[:160]})")
    except (KeepError, OSError) as e:
        raise UsageError(str(e)) from None
    return EXIT_OK


def _speakers_of(model: str) -> tuple[str, ...]:
    """The speakers of ``model`` (names a saved voice must not take), or none when it cannot be read."""
    from vaesynth.model.bundle import BundleError, read_config
    from vaesynth.model.catalog import resolve_model

    try:
        return tuple(read_config(resolve_model(model))["speakers"])
    except (BundleError, OSError):
        return ()
