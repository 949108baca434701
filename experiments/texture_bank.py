"""Texture bank ablation: which bank settings make fresh voices and reconstructions most like real speech?

Builds texture banks of one bundle in memory (:func:`training.texture.build_bank`), renders the
judges' fresh voices (30 per digit, keypad draws) and test reconstructions through the engine with
each, and judges them against the real test recordings (:mod:`training.judges`). One row per variant.

    python experiments/texture_bank.py --bundle resources/models/cvae --variants off,default,linear \
        --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data import find_data  # noqa: E402
from training.judges import Judges, judge_bundle, table  # noqa: E402
from training.latent_stats import encode_posteriors  # noqa: E402
from training.texture import build_bank  # noqa: E402
from vaesynth.model.bundle import load_bundle  # noqa: E402
from vaesynth.model.texture import TextureSettings  # noqa: E402


def parse_variant(name: str) -> tuple[dict, dict] | None:
    """A variant's name -> (bank options, stage settings); ``"off"``: the stage off (None).

    Parts joined by ``-``: ``full`` (every training utterance) or ``cN`` (at most N per digit and
    speaker), ``b4`` / ``b8`` (bits per value), ``gX`` (gain), ``kN`` (donors), ``linear`` (no DTW),
    ``raw`` (donors keep their static per-bin offset), ``hpN`` (their moving average over N frames
    removed), ``nopitch`` (no pitch following), ``typX``
    (anchor exclusion radius), ``bandX`` (DTW band). Example: ``c28-b4-g1.4``.
    """
    if name == "off":
        return None
    bank, stage = {}, {}
    for part in name.split("-"):
        if part == "full":
            bank["per_cell"] = None
        elif part[0] == "c" and part[1:].isdigit():
            bank["per_cell"] = int(part[1:])
        elif part in ("b4", "b8"):
            bank["bits"] = int(part[1])
        elif part.startswith("hp"):
            bank["detrend"] = int(part[2:])
        elif part == "raw":
            bank["strip_static"] = False
        elif part == "linear":
            stage["align"] = "linear"
        elif part == "nopitch":
            stage["pitch"] = False
        elif part[0] == "g":
            stage["gain"] = float(part[1:])
        elif part[0] == "k":
            stage["k"] = int(part[1:])
        elif part.startswith("typ"):
            stage["typical"] = float(part[3:])
        elif part.startswith("band"):
            stage["band"] = float(part[4:])
        else:
            raise SystemExit(f"unknown variant part {part!r} in {name!r}")
    return bank, stage


def continuity(synth, steps: int = 40, span: float = 1.5, seed: int = 0) -> dict[str, float]:
    """How much the sound jumps while a knob turns: knob 0 swept over ``-span..span`` in ``steps``
    for a fresh voice of every digit; per step, the mean absolute change of the decoded features
    (dB, over the frames both renders have). Modes: the stage off (the decoder's own noise texture),
    the bank with the nearest donors at every step, and the bank with the first step's donors held."""
    span_db = synth.spectral.db_max - synth.spectral.db_min
    out = {}
    for mode in ("off", "nearest", "held"):
        jumps = []
        for d in range(10):
            base = synth.knobs.fresh(d, 1.0, np.random.default_rng(seed + d))
            held, prev = None, None
            for x in np.linspace(-span, span, steps):
                u = base.copy()
                u[0] = x
                feats, used = synth.decode_voiced([d], [u], donors=[held] if held else None, texture=mode != "off")
                if mode == "held" and held is None:
                    held = used[0]
                f = feats[0]
                if prev is not None:
                    n = min(len(f), len(prev))
                    jumps.append(float(np.abs(f[:n] - prev[:n]).mean() * span_db))
                prev = f
        out[mode] = float(np.mean(jumps))
    return out


def pitch_check(synth, data: str | None, per_digit: int = 10, seed: int = 0) -> dict[str, dict[str, float]]:
    """Periodicity of voiced frames and the aperiodic share of loud frames (each / the real test
    recordings'), with the stage on and off, natural and with ``--pitch -12``, ``+12`` and ``--note A3``."""
    from training.data import LoadReport, load_dataset, read_wav
    from training.evaluate import mean_periodicity
    from training.judges import aperiodic_loud_share, fresh_knobs
    from vaesynth.engine.performance import Performance

    folder = find_data(data)
    _, test = load_dataset(folder, synth.spectral).split()
    real = [read_wav(folder / n, synth.spectral, LoadReport()) for n in test.names]
    ref_per, ref_aper = mean_periodicity(real, synth.spectral), aperiodic_loud_share(real, synth.spectral)
    knobs, digits = fresh_knobs(synth, per_digit, seed)
    out = {}
    for name, perf in [("natural", Performance()), ("pitch -12", Performance(pitch=-12.0)),
                       ("pitch +12", Performance(pitch=12.0)), ("note A3", Performance(note_hz=220.0))]:  # fmt: skip
        for on in (True, False):
            waves = [synth.render_digit(int(d), u, perf, texture=on).wave for d, u in zip(digits, knobs, strict=True)]
            out[f"{name}, stage {'on' if on else 'off'}"] = {
                "periodicity": mean_periodicity(waves, synth.spectral) / ref_per,
                "aperiodic": aperiodic_loud_share(waves, synth.spectral) / ref_aper,
            }
            print(name, on, out[f"{name}, stage {'on' if on else 'off'}"], file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default="resources/models/cvae")
    p.add_argument("--data", default=None)
    p.add_argument("--variants", default="off,default")
    p.add_argument("--per-digit", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-recon", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--continuity", action="store_true", help="only the knob-turn continuity of the bundle's own bank")
    p.add_argument("--pitch-check", action="store_true", help="only periodicity and aperiodic share under pitch moves")
    args = p.parse_args(argv)
    if args.pitch_check:
        from vaesynth.engine.synth import Synth

        torch.set_num_threads(1)
        print(json.dumps(pitch_check(Synth(load_bundle(args.bundle)), args.data), indent=1))
        return 0
    if args.continuity:
        from vaesynth.engine.synth import Synth

        print(json.dumps(continuity(Synth(load_bundle(args.bundle), torch_threads=None)), indent=1))
        return 0
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)  # on a shared 2-core machine, more threads only stall each other
    judges = Judges(find_data(args.data), seed=0)
    bundle = load_bundle(args.bundle)
    mu, var = encode_posteriors(bundle.model, judges.train)
    results: dict[str, dict] = {}
    banks: dict[tuple, object] = {}
    for name in args.variants.split(","):
        spec = parse_variant(name)
        t0 = time.perf_counter()
        if spec is None:
            b = replace(bundle, texture=None)
        else:
            opts, settings = spec
            key = tuple(sorted(opts.items()))
            if key not in banks:
                banks[key] = build_bank(bundle.model, judges.train, mu, var, **opts)
            b = replace(bundle, texture=banks[key], texture_settings=TextureSettings(**settings))
        res = judge_bundle(judges, b, args.per_digit, args.seed, not args.no_recon)
        res.pop("_gen")
        if spec is not None:
            res["bank_mb"] = banks[key].nbytes / 2**20
        res["variant_seconds"] = time.perf_counter() - t0
        results[name] = res
        shown = {k: round(v, 3) for k, v in res.items() if isinstance(v, float)}
        print(f"{name}: {shown}", file=sys.stderr, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
