"""The ``vaesynth`` command line: the GUI by default, plus ``say``, ``sample``, ``analyze``, ``models``, ``midi``
and ``bench``.

Bad input (not digits, too many digits, a missing model, an unwritable path, ...) gives one
readable line on stderr and exit status 2, before any heavy work; wav files are written to a
temporary file next to the target and renamed, so nothing half-written is ever left behind.

This module imports only the standard library at load time (``vaesynth --help`` is instant);
torch, the models and PortAudio load inside the commands that need them.
"""

from __future__ import annotations

import argparse
import math
import os
import runpy
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    load_synth,
    model_arg,
    performance_from_args,
    shown,
    write_output,
)

MAX_PER_DIGIT = 1000  # sample --per-digit bound (10 x 1000 files at most)


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr (then exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        line = shown(" ".join(message.split()), 300)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {line} (see '{self.prog} --help')\n")


def _temperature(text: str) -> float:
    from vaesynth.voices.voice import check_temperature

    try:
        return check_temperature(float(text))
    except ValueError as e:
        message = f"{text!r}: {e}" if "temperature" in str(e) else f"{text!r} is not a number"
        raise argparse.ArgumentTypeError(message) from None


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"seed must be between 0 and 2**63 - 1, not {text}")
    return v


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def _performance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pitch", type=_number, default=0.0, metavar="SEMITONES", help="pitch shift, -12..+12")
    p.add_argument("--speed", type=_number, default=1.0, help="speed 0.5..2 (duration changes, pitch does not)")
    p.add_argument("--note", metavar="NOTE", help="sing on a note: A3, C#4, a MIDI number (57) or Hz (220hz)")
    p.add_argument("--contour", type=_number, default=0.0, help="with --note: share of natural intonation kept, 0..1")
    p.add_argument("--formant", type=_number, default=1.0, metavar="RATIO", help="formant (vocal-tract) ratio, 0.5..2")
    p.add_argument(
        "--no-texture", dest="texture", action="store_false",
        help="the pure decoder: no real texture from the model's texture bank",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vaesynth",
        description="A speech synthesizer for spoken digits built on variational autoencoders. "
        "Without a command, the desktop app starts.",
    )
    p.add_argument("--model", help="model name in resources/models (e.g. cvae) or a bundle folder")
    p.add_argument("--screenshot", metavar="PATH", help="(app) save a screenshot of the window to PATH and quit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    say = sub.add_parser("say", help="speak a digit string (write a wav and/or play it)")
    say.add_argument(
        "digits", nargs="?", help="digits to speak; spaces, dashes, parentheses and + are allowed (phone numbers)"
    )
    say.add_argument("-o", "--output", metavar="OUT.wav", help="write the sound to this wav file (- for stdout)")
    say.add_argument("--play", action="store_true", help="play it (the default when no -o is given)")
    say.add_argument("--model", dest="sub_model", metavar="NAME|PATH", help="model name or bundle folder")
    say.add_argument("--voice", default="random", help="a speaker of the model, a saved voice, or 'random' (default)")
    say.add_argument("--voice-file", metavar="FILE.json", help="speak in a voice saved to this file")
    say.add_argument("--voice-from", metavar="FILE.wav", help="speak in the voice of a recorded digit (a WAV take)")
    say.add_argument("--digit", type=int, choices=range(10), metavar="D", help="with --voice-from: the digit said")
    say.add_argument("--save-voice", metavar="NAME", help="keep the voice used (the first digit's knobs) as NAME")
    say.add_argument("--recipe", metavar="WAV|JSON", help="render again exactly what a vaesynth WAV (or recipe) holds")
    say.add_argument("--seed", type=_seed, default=None, help="random seed (same seed, same sound)")
    say.add_argument("--temperature", type=_temperature, default=1.0, help="spread of random voices (default 1.0)")
    say.add_argument("--rate", type=int, default=None, metavar="HZ", help="wav sample rate (default: model rate)")
    say.add_argument("--steady", action="store_true", help="one steady voice instead of per-digit variation")
    _performance_args(say)

    sample = sub.add_parser("sample", help="write prior samples DIR/{digit}_{k}.wav for every digit")
    sample.add_argument(
        "--per-digit", type=int, required=True, metavar="N", help=f"samples per digit (1..{MAX_PER_DIGIT})"
    )
    sample.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    sample.add_argument("--model", dest="sub_model", metavar="NAME|PATH", help="model name or bundle folder")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    sample.add_argument("--temperature", type=_temperature, default=1.0, help="prior temperature (default 1.0)")
    _performance_args(sample)

    voices = sub.add_parser("voices", help="list, rename or delete saved voices")
    voices.add_argument("--delete", metavar="NAME", help="delete a saved voice")
    voices.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename a saved voice")

    models = sub.add_parser("models", help="list the available models and their headline metrics")
    models.add_argument("--dir", metavar="DIR", help="look in DIR instead of resources/models")

    midi = sub.add_parser("midi", help="play digits from a MIDI keyboard (headless; --list shows the ports)")
    midi.add_argument("--port", metavar="NAME", help="MIDI input port (a unique part of its name is enough)")
    midi.add_argument("--list", action="store_true", help="list the MIDI input ports and exit")
    midi.add_argument("--api", choices=["alsa", "jack"], help="MIDI system (default: ALSA if present, else JACK)")
    midi.add_argument("--model", dest="sub_model", metavar="NAME|PATH", help="model name or bundle folder")
    midi.add_argument("--sing", action="store_true", help="sing each digit on its key's pitch (needs an f0 head)")
    midi.add_argument(
        "--contour", type=_number, default=0.3, help="with --sing: natural intonation kept, 0..1 (default 0.3)"
    )  # fmt: skip
    midi.add_argument("--one-shot", action="store_true", help="ignore key releases: every digit is spoken in full")

    from vaesynth.cli.commands import add_analyze_parser

    add_analyze_parser(sub)
    sub.add_parser(
        "bench", help="run the speed benchmark (bench/bench_synth.py; --help for its options)", add_help=False
    )
    return p


VALUE_OPTIONS = ("--pitch", "--speed", "--contour", "--temperature", "--seed", "--note", "--rate", "--per-digit")


def _glue_values(argv: list[str]) -> list[str]:
    """``--pitch -inf`` as ``--pitch=-inf``: argparse takes a value that starts with '-' for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] != "--":
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 partly failed, 2 bad input)."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(_glue_values(list(sys.argv[1:] if argv is None else argv)))
        if args.command == "bench":
            args.bench_args = extra  # everything after "bench" goes to the benchmark script
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    from vaesynth.cli.commands import cmd_analyze, cmd_say, cmd_voices

    commands = {
        "say": cmd_say, "sample": cmd_sample, "voices": cmd_voices, "models": cmd_models, "midi": cmd_midi,
        "analyze": cmd_analyze, "bench": cmd_bench, None: cmd_app,
    }  # fmt: skip
    try:
        return commands[args.command](args)
    except UsageError as e:
        _error(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> None:
    line = shown(" ".join(str(message).split()), 300)
    print(f"vaesynth: error: {line}", file=sys.stderr)


def cmd_sample(args: argparse.Namespace) -> int:
    n = args.per_digit
    if not 1 <= n <= MAX_PER_DIGIT:
        raise UsageError(f"--per-digit must be between 1 and {MAX_PER_DIGIT}, not {n}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"cannot write samples to {out}: it is a file")
    performance = performance_from_args(args)
    synth = load_synth(model_arg(args))
    if performance.needs_f0_head and not synth.has_f0:
        raise UsageError(f"pitch, note and formants need the default model (f0 head); {synth.bundle.kind!r} has none")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create folder {out}: {e.strerror or e}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write samples to {out}: the folder is not writable")
    import numpy as np

    from vaesynth.digits import N_DIGITS

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    from vaesynth.model.catalog import model_id
    from vaesynth.voices.keep import RenderRecipe, weights_fingerprint

    ident, weights = model_id(synth.bundle.path), weights_fingerprint(synth.bundle.path)
    for d in range(N_DIGITS):
        for k in range(n):
            knobs = synth.knobs.fresh(d, args.temperature, rng)
            recipe = RenderRecipe(
                str(d), ident, weights, knobs=tuple(knobs), single=True, performance=performance, texture=args.texture
            )
            render = recipe.render(synth)
            write_output(out / f"{d}_{k}.wav", render.wave, render.sample_rate, recipe)
    print(f"wrote {N_DIGITS * n} samples to {out} in {time.perf_counter() - t0:.1f} s ({synth.bundle.display_name})")
    return EXIT_OK


def _format_metrics(metrics: object, limit: int = 6) -> str:
    if not isinstance(metrics, dict) or not metrics:
        return "-"
    parts = []
    for k, v in list(metrics.items())[:limit]:
        if isinstance(v, float):
            parts.append(f"{k}={v:.3g}")
        elif isinstance(v, int | str):
            parts.append(f"{k}={v}")
    return ", ".join(parts) or "-"


def cmd_models(args: argparse.Namespace) -> int:
    from vaesynth.model.bundle import BundleError, read_config
    from vaesynth.model.catalog import default_models_dir, list_bundles

    root = Path(args.dir) if args.dir else default_models_dir()
    if args.dir and not root.is_dir():
        raise UsageError(f"models folder {root} does not exist")
    bundles = list_bundles(root)
    if not bundles:
        print(f"no models found in {root}", file=sys.stderr)
        return EXIT_OK
    rows = [("NAME", "DISPLAY NAME", "KIND", "LATENT", "METRICS")]
    for name, path in bundles.items():
        try:
            c = read_config(path)
            kind = c.get("model", {}).get("type", "?") if isinstance(c.get("model"), dict) else "?"
            rows.append(
                (
                    name,
                    str(c.get("display_name", name)),
                    str(kind),
                    str(c["latent_dim"]),
                    _format_metrics(c.get("metrics")),
                )
            )
        except BundleError as e:
            rows.append((name, "(unreadable)", "-", "-", str(e)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return EXIT_OK


def cmd_midi(args: argparse.Namespace) -> int:
    from vaesynth.midi.midi_ports import MidiInput, MidiUnavailable, PortNotFound

    if not 0.0 <= args.contour <= 1.0:
        raise UsageError(f"--contour must be between 0 and 1, not {args.contour:g}")
    try:
        midi_input = MidiInput(args.api)
    except MidiUnavailable as e:
        raise UsageError(str(e)) from None
    audio = None
    try:
        if args.list:
            ports = midi_input.ports()
            for name in ports:
                print(name)
            if not ports:
                print(f"no MIDI input ports on {midi_input.api.label}", file=sys.stderr)
            return EXIT_OK
        if not args.port:
            ports = ", ".join(repr(p) for p in midi_input.ports()[:8]) or "none"
            raise UsageError(f"choose a MIDI input with --port NAME (inputs on {midi_input.api.label}: {ports})")
        try:
            midi_input.open(args.port)  # before loading the model: a wrong name fails at once
        except PortNotFound as e:
            raise UsageError(str(e)) from None
        synth = load_synth(model_arg(args))
        if args.sing and not synth.has_f0:
            raise UsageError(f"--sing needs a model with an f0 head (the default); {synth.bundle.kind!r} has none")
        from vaesynth.sound.audio import AudioOutput

        audio = AudioOutput()
        if not audio.available:
            _error(audio.status)
            return EXIT_FAILED
        while midi_input.get(0) is not None:  # keys pressed while the model was loading are not played late
            pass
        from vaesynth.midi.midi_player import MidiPlayer

        player = MidiPlayer(synth, audio, sing=args.sing, contour=args.contour, one_shot=args.one_shot)
        mode = f"singing (contour {args.contour:g})" if args.sing else "speaking"
        print(f"{midi_input.status.message}: {mode} with {synth.bundle.display_name}; Ctrl+C to stop", flush=True)
        player.run(midi_input, on_status=lambda line: print(line, flush=True))
        return EXIT_OK
    finally:
        midi_input.close()
        if audio is not None:
            audio.close()


def cmd_bench(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parents[2] / "bench" / "bench_synth.py"
    if not script.is_file():
        raise UsageError(
            f"the benchmark script is not installed here ({script} is missing; run it from a source checkout)"
        )
    bench_args = list(args.bench_args)
    if args.model and "--model" not in bench_args:
        bench_args += ["--model", args.model]
    if "--model" in bench_args:  # a missing or broken bundle is one line, before the benchmark starts
        i = bench_args.index("--model")
        if i + 1 >= len(bench_args):
            raise UsageError("--model needs a model name or a bundle folder")
        from vaesynth.model.bundle import BundleError, read_config
        from vaesynth.model.catalog import resolve_model

        try:
            bench_args[i + 1] = str(resolve_model(bench_args[i + 1]))
            read_config(bench_args[i + 1])
        except BundleError as e:
            raise UsageError(str(e)) from None
    argv = sys.argv
    sys.argv = [str(script), *bench_args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_FAILED
    finally:
        sys.argv = argv
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    try:
        from vaesynth.app import run_app
    except ImportError as e:
        _error(f"the desktop app is not available ({e}); try 'vaesynth say 123' or 'vaesynth --help'")
        return EXIT_FAILED
    return int(run_app(args.model, args.screenshot) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
