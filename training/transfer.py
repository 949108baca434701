"""Voice transfer, measured: does a voice taken from one recording survive on other digits?

For every FSDD test recording (index 0-4; 300 of them): load it as a take
(:func:`vaesynth.voices.voice_in.load_take`), recognise its digit (:func:`~vaesynth.voices.voice_in.recognise_digit`,
scored against the file name), encode its voice under its true digit
(:func:`~vaesynth.voices.voice_in.encode_voice`), render three *other* digits (drawn at random) with those
knobs through the real engine (:meth:`vaesynth.engine.synth.Synth.render_digit`: valid-head length, phase
reconstruction, fades), analyse the renders with the feature definition and ask a speaker probe
trained on the real *training* recordings (index 5-49; :func:`training.evaluate.train_classifier`)
who is speaking. The transfer rate is how often the probe names the source speaker (chance 1/6).

References measured the same way, on the same digits: the digit's typical voice (knobs 0, no
voice taken: what the probe says when nothing is transferred) and the source speaker's preset
(its mean training latent for each digit: the best the knob space offers that speaker).

    python -m training.transfer --data /path/to/fsdd/recordings --json transfer.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vaesynth.digits import N_DIGITS
from vaesynth.dsp.spectral import resample, wave_to_features
from vaesynth.engine.synth import Synth
from vaesynth.voices.voice_in import VoiceInError, analyse_digits, encode_voice, load_take

from .data import DataError, LoadReport, find_data, load_dataset, read_wav
from .evaluate import predict, train_classifier

N_OTHER = 3  # other digits rendered per source recording


def _probe_features(synth: Synth, digits: list[int], knobs: list[np.ndarray]) -> np.ndarray:
    """Render ``digits`` with ``knobs (D,)`` each and analyse them: float32 ``(N, max_frames, n_bins)``."""
    cfg = synth.spectral
    return np.stack(
        [wave_to_features(synth.render_digit(d, u).wave, cfg)[0] for d, u in zip(digits, knobs, strict=True)]
    )


def measure_transfer(
    folder: Path, model: str | None = None, seed: int = 0, limit: int | None = None, via_rate: int | None = None
) -> dict:
    """Run the measurement on the FSDD recordings in ``folder``; returns the results as a JSON-able dict.

    ``limit``: only the first ``limit`` test recordings (for quick checks; ``None``: all 300).
    ``via_rate``: pass every recording through this rate and back (Hz, soxr), the way a sound card
    at 48 kHz delivers a take; ``None``: the 8 kHz files as they are.
    """
    synth = Synth.from_path(model)
    cfg = synth.spectral
    train, test = load_dataset(folder, cfg).split()
    probe = train_classifier(train, "speaker")
    names = test.names[:limit] if limit else test.names
    rng = np.random.default_rng(seed)
    real_hits = predict(probe, test.features[: len(names)]) == test.speaker[: len(names)]
    rows = []
    start = time.perf_counter()
    for i, name in enumerate(names):
        digit, speaker = int(test.digit[i]), int(test.speaker[i])
        wave = read_wav(folder / name, cfg, LoadReport())
        if via_rate:
            wave = resample(resample(wave, cfg.sample_rate, via_rate), via_rate, cfg.sample_rate)
        take = load_take(wave, cfg.sample_rate, cfg)
        rec = analyse_digits(synth, take)
        knobs = encode_voice(synth, take, digit)
        others = [int(d) for d in rng.choice([d for d in range(N_DIGITS) if d != digit], N_OTHER, replace=False)]
        preset = [synth.knobs.preset(test.speakers[speaker], d) for d in others]  # by name: the model may know more
        zero = np.zeros(synth.latent_dim, dtype=np.float32)
        feats = _probe_features(synth, others * 3, [knobs] * N_OTHER + [zero] * N_OTHER + preset)
        said = predict(probe, feats)
        rows.append(
            {
                "name": name, "digit": digit, "speaker": test.speakers[speaker], "recognised": rec.digit,
                "margin": round(rec.margin, 4), "confident": bool(rec.confident), "others": others,
                "transfer": [test.speakers[k] for k in said[:N_OTHER]],
                "typical": [test.speakers[k] for k in said[N_OTHER : 2 * N_OTHER]],
                "preset": [test.speakers[k] for k in said[2 * N_OTHER :]],
            }
        )  # fmt: skip
        if (i + 1) % 50 == 0:
            print(f"[transfer] {i + 1}/{len(names)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    res = summarise(rows, test.speakers, float(real_hits.mean()), model or "default")
    res["via_rate"] = via_rate
    return res


def _rate(rows: list[dict], key: str) -> float:
    hits = [said == r["speaker"] for r in rows for said in r[key]]
    return float(np.mean(hits)) if hits else float("nan")


def summarise(rows: list[dict], speakers: list[str], probe_on_real: float, model: str) -> dict:
    """The figures from the per-recording ``rows`` of :func:`measure_transfer`."""
    recognised = np.array([r["recognised"] == r["digit"] for r in rows])
    confident = np.array([r["confident"] for r in rows])
    return {
        "model": model,
        "n_sources": len(rows),
        "renders_per_source": N_OTHER,
        "chance": 1 / len(speakers),
        "probe_on_real_test": probe_on_real,
        "transfer_rate": _rate(rows, "transfer"),
        "typical_voice_rate": _rate(rows, "typical"),
        "preset_rate": _rate(rows, "preset"),
        "transfer_rate_by_speaker": {s: _rate([r for r in rows if r["speaker"] == s], "transfer") for s in speakers},
        "recognition_accuracy": float(recognised.mean()),
        "recognition_accepted": float(confident.mean()),
        "recognition_accuracy_accepted": float(recognised[confident].mean()) if confident.any() else float("nan"),
        "rows": rows,
    }


def report(res: dict) -> str:
    """A few lines for people."""
    by = ", ".join(f"{s} {v:.0%}" for s, v in res["transfer_rate_by_speaker"].items())
    return "\n".join(
        [
            f"voice transfer ({res['model']}, {res['n_sources']} test recordings"
            + (f" via {res['via_rate']} Hz" if res.get("via_rate") else "")
            + f" "
            f"x {res['renders_per_source']} other digits):",
            f"  probe names the source speaker: {res['transfer_rate']:.1%} (chance {res['chance']:.1%}; "
            f"typical voice {res['typical_voice_rate']:.1%}; speaker preset {res['preset_rate']:.1%}; "
            f"probe on the real test recordings {res['probe_on_real_test']:.1%})",
            f"  by speaker: {by}",
            f"digit recognition: {res['recognition_accuracy']:.1%} of the takes; "
            f"{res['recognition_accepted']:.1%} accepted as a digit, "
            f"{res['recognition_accuracy_accepted']:.1%} right among those",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.transfer", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FSDD recordings folder (default: $VAESYNTH_FSDD or the user cache)")
    p.add_argument("--model", help="model name or bundle folder (default: the default model)")
    p.add_argument("--json", metavar="OUT.json", help="write the results (figures and per-recording rows) here")
    p.add_argument("--seed", type=int, default=0, help="random seed for the other digits (default 0)")
    p.add_argument("--via-rate", type=int, default=None, metavar="HZ", help="resample each take to HZ and back first")
    p.add_argument("--limit", type=int, default=None, help="only the first N test recordings (quick check)")
    args = p.parse_args(argv)
    try:
        res = measure_transfer(find_data(args.data), args.model, args.seed, args.limit, args.via_rate)
    except (DataError, VoiceInError) as e:
        print(f"transfer: error: {e}", file=sys.stderr)
        return 2
    print(report(res))
    if args.json:
        from vaesynth.sound.safeio import atomic_write

        atomic_write(args.json, (json.dumps(res, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
