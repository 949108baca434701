"""``vaesynth say``, ``vaesynth voices`` and ``vaesynth analyze``: speaking digit strings, with recipes and
saved voices, and what vaesynth hears in a take.

The parser and the other commands are in :mod:`vaesynth.cli.cli`; every failure here is a
:class:`vaesynth.cli.common.UsageError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
from dataclasses import replace
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
    """A :class:`~vaesynth.voices.keep.SavedVoice` (named after the file) encoded from the ``--voice-from`` take:
    its knobs at the model's scale, and the pitch and formant settings that give the take's pitch and
    size back (:func:`vaesynth.voices.voice_norm.take_voice`). ``--digit`` names the digit said (else it
    is recognised). A bad take (unreadable, silent, clipped, too long, not a digit) is a :class:`UsageError`.
    """
    from vaesynth.model.catalog import model_id
    from vaesynth.voices.keep import SavedVoice
    from vaesynth.voices.voice_in import RECOGNISING_KINDS, VoiceInError, load_full
    from vaesynth.voices.voice_norm import take_voice

    if synth.bundle.kind not in RECOGNISING_KINDS:
        raise UsageError(f"--voice-from needs a model that recognises digits (cvae), not {synth.bundle.kind!r}")
    try:
        voice = take_voice(synth, load_full(args.voice_from, cfg=synth.spectral), args.digit)
    except VoiceInError as e:
        raise UsageError(f"{args.voice_from}: {e}") from None
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(args.voice_from).stem)[:40] or "take"
    knobs = tuple(float(v) for v in voice.knobs)
    return SavedVoice(name, model_id(synth.bundle.path), knobs, args.temperature, voice.performance)


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
        if replace(performance, contour=1.0) == Performance():  # no performance option given (contour: only
            performance = saved.performance  # with a note): the voice's own performance
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
    if getattr(args, "digit", None) is not None and not voice_from:
        raise UsageError("--digit names the digit said in a --voice-from take; give it with --voice-from")
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


# --- analyze ----------------------------------------------------------------------------------------


def add_analyze_parser(sub) -> None:  # noqa: ANN001
    a = sub.add_parser("analyze", help="what vaesynth hears in recorded takes: digit, f0, formant scale, voice")
    a.add_argument("takes", nargs="+", metavar="TAKE.wav", help="recordings of one spoken digit each")
    a.add_argument("--json", action="store_true", help="print a JSON list of objects instead of one line per take")
    a.add_argument("--model", dest="sub_model", metavar="NAME|PATH", help="model name or bundle folder")


def analyze_take(synth, path: str) -> dict:  # noqa: ANN001
    """One take's analysis as plain values (see :func:`cmd_analyze`); :class:`VoiceInError` for a bad file."""
    import numpy as np

    from vaesynth.voices.voice_in import load_full
    from vaesynth.voices.voice_norm import take_voice

    v = take_voice(synth, load_full(path, cfg=synth.spectral), strict=False)
    rec = v.recognition
    presets = np.stack([synth.knobs.preset(k, v.digit) for k in range(len(synth.speakers))])
    nearest = synth.speakers[int(np.argmin(np.linalg.norm(presets - v.knobs, axis=1)))] if synth.speakers else None
    return {
        "file": path, "digit": v.digit, "accepted": bool(rec is not None and rec.confident),
        "confidence": None if rec is None else round(float(rec.margin), 4),
        "f0_hz": None if v.f0_hz is None else round(v.f0_hz, 1), "formant_scale": round(v.scale, 3),
        "pitch": v.performance.pitch, "formant": v.performance.formant, "nearest_voice": nearest,
    }  # fmt: skip


def cmd_analyze(args: argparse.Namespace) -> int:
    """One line (or JSON object) per take: the digit heard and its confidence (the recognition margin),
    whether it passes as a digit, the median f0, the formant scale, the nearest preset voice. A file
    that cannot be analysed (unreadable, silent, clipped, too long) gets one line with why, and the
    others are still analysed; the exit status is then 2 (0 when every take was analysed, whatever
    was heard in it)."""
    import json
    import sys

    from vaesynth.cli.common import EXIT_USAGE, load_synth, model_arg
    from vaesynth.voices.voice_in import VoiceInError

    synth = load_synth(model_arg(args))
    results, failed = [], 0
    for path in args.takes:
        try:
            r = analyze_take(synth, path)
        except VoiceInError as e:
            failed += 1
            r = {"file": path, "error": str(e)}
            if not args.json:
                print(f"vaesynth: error: {path}: {' '.join(str(e).split())}", file=sys.stderr)
        else:
            if not args.json:
                heard = f"digit {r['digit']}" if r["accepted"] else f"not a digit (best guess {r['digit']})"
                f0 = f"{r['f0_hz']:.0f} Hz" if r["f0_hz"] else "no f0"
                print(f"{path}: {heard}, confidence {r['confidence']:.3f}, f0 {f0}, formant scale "
                      f"{r['formant_scale']:.2f}, nearest voice {r['nearest_voice']}")  # fmt: skip
        results.append(r)
    if args.json:
        print(json.dumps(results, indent=1))
    return EXIT_USAGE if failed else EXIT_OK
