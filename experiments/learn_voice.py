"""Learn my voice, measured: does a model adapted from 20 takes speak in the held-out speaker's voice?

Leave one speaker out: ``--base`` is the default recipe trained without ``--speaker`` (``vaesynth-train
fit --data`` on a copy of FSDD without that speaker's files). From that speaker's *training* split
(index 5-49) two takes per digit are drawn (seeded), optionally moved in pitch and formants together
(``--shift`` semitones, ``bench/voice_sets.shift``: a voice outside the six men's range), and written
to a folder as a person's takes would be. Each ``--methods`` entry adapts the base to them
(:func:`training.adapt.adapt`, in process, timed end to end from the folder), then 30 fresh voices per
digit are drawn as a keypad press draws them and rendered through the engine.

Judged by (none used in adaptation): a speaker classifier trained on the real training recordings of
all six speakers (:func:`training.evaluate.train_classifier`): the share of renders it assigns to the
held-out speaker; the digit judge and the two-sample test of :mod:`training.judges` against the real
test recordings. References, measured the same way: the base's own fresh voices, and today's voice-in
from one take (each render takes the voice of one of the 20 takes, picked at random:
:func:`vaesynth.voices.voice_norm.take_voice`, its knobs, pitch and formant scale). With ``--shift``:
the median f0 of the renders against the takes' (semitones) and their formant scale, both estimated
by the base model's scale search (:func:`vaesynth.voices.voice_norm.estimate_scale`) on 8 kHz sound.

    python experiments/learn_voice.py --base /tmp/no_theo --speaker theo --data ~/fsdd/recordings \
        --methods knobs,film,head,decoder --json learn_voice_theo.json
"""

from __future__ import annotations

import json
import pickle
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parents[1] / "bench"))

from common import plain_parser  # noqa: E402
from voice_sets import shift  # noqa: E402

from training.adapt import AdaptSettings, adapt  # noqa: E402
from training.data import LoadReport, read_wav  # noqa: E402
from training.evaluate import predict, train_classifier  # noqa: E402
from training.judges import Judges, fresh_voices, two_sample_accuracy  # noqa: E402
from vaesynth.digits import N_DIGITS  # noqa: E402
from vaesynth.dsp.spectral import normalize_peak, resample, trim_silence, wave_to_features  # noqa: E402
from vaesynth.engine.synth import Synth  # noqa: E402
from vaesynth.model.bundle import load_bundle  # noqa: E402
from vaesynth.voices.voice_in import VoiceInError, load_full  # noqa: E402
from vaesynth.voices.voice_norm import estimate_scale, f0_median, take_voice  # noqa: E402

TAKES_PER_DIGIT = 2


def pick_takes(data: Path, speaker: str, per_digit: int, seed: int) -> list[Path]:
    """``per_digit`` training-split recordings (index 5-49) of ``speaker`` per digit, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(N_DIGITS):
        idx = rng.choice(np.arange(5, 50), per_digit, replace=False)
        out += [data / f"{d}_{speaker}_{i}.wav" for i in sorted(idx)]
    return out


def write_takes(files: list[Path], folder: Path, semitones: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in files:
        x, sr = sf.read(str(p), dtype="float32")
        if semitones:
            x, sr = shift(x, sr, semitones), 16000
        sf.write(str(folder / p.name), x, sr, subtype="PCM_16")


def speaker_share(probe, waves: list[np.ndarray], cfg, target: int) -> float:  # noqa: ANN001
    feats = np.stack([wave_to_features(w, cfg)[0] for w in waves])
    return float((predict(probe, feats) == target).mean())


def voice_in_renders(synth: Synth, takes: Path, per_digit: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Today's voice-in from one take: every render takes the voice (knobs, pitch, formants) of one take."""
    voices = []
    for p in sorted(takes.glob("*.wav")):
        try:
            voices.append(take_voice(synth, load_full(p, cfg=synth.spectral), int(p.name[0])))
        except VoiceInError:
            continue
    rng = np.random.default_rng(seed)
    digits = np.repeat(np.arange(N_DIGITS), per_digit)
    waves = []
    for d in digits:
        v = voices[rng.integers(len(voices))]
        waves.append(synth.render_digit(int(d), v.knobs, v.performance).wave)
    return waves, digits


def pitch_and_scale(base: Synth, waves: list[np.ndarray], rate: int, n: int = 40, seed: int = 0) -> dict:
    """Median f0 (Hz) and median formant scale (the base's scale search) of ``n`` of ``waves`` at 8 kHz."""
    rng = np.random.default_rng(seed)
    cfg = base.spectral
    pick = rng.choice(len(waves), min(n, len(waves)), replace=False)
    f0s, scales = [], []
    for i in pick:
        w = resample(waves[i], rate, cfg.sample_rate) if rate != cfg.sample_rate else waves[i]
        try:
            take = load_full(w, cfg.sample_rate, cfg)
        except VoiceInError:
            continue
        f = f0_median(take.wave, cfg)
        if f:
            f0s.append(f)
        scales.append(estimate_scale(base, take))
    return {"f0_hz": float(np.median(f0s)), "scale": float(np.median(scales)), "n": len(scales)}


def speaker_side(judges: Judges, data: Path, speaker: str, exclude: list[Path], per_digit: int, seed: int):  # noqa: ANN201
    """The held-out speaker's real training-split recordings that the adaptation did not see (the test
    split is the judges' real side), ``per_digit`` per digit (drawn with ``seed``), analysed like the
    judges' real side: what "sounds like them" means."""
    rng = np.random.default_rng(seed + 1)
    cfg, report, waves, digits = judges.cfg, LoadReport(), [], []
    seen = {p.name for p in exclude}
    for d in range(N_DIGITS):
        names = [f"{d}_{speaker}_{i}.wav" for i in range(5, 50) if f"{d}_{speaker}_{i}.wav" not in seen]
        for n in rng.choice(names, min(per_digit, len(names)), replace=False):
            waves.append(trim_silence(normalize_peak(read_wav(data / n, cfg, report), cfg), cfg))
            digits.append(d)
    return judges.side(waves, np.array(digits))


def judge(judges: Judges, probe, waves, digits, target: int, real_s=None) -> dict:  # noqa: ANN001
    side = judges.side(waves, digits)
    res = judges.compare(side)
    vs_speaker = two_sample_accuracy(side.ts, real_s.ts, seed=judges.seed) if real_s is not None else None
    return {
        "speaker": speaker_share(probe, waves, judges.cfg, target),
        "acc_judge": res["acc_judge"],
        "two_sample_vs_speaker": vs_speaker,
        "two_sample": res["two_sample"],
        "two_sample_embedding_only": res["two_sample_embedding_only"],
        "fid_ratio": res["fid_ratio"],
    }


def main(argv: list[str] | None = None) -> int:
    p = plain_parser(__doc__)
    p.add_argument("--base", required=True, help="the default model trained without --speaker (a bundle folder)")
    p.add_argument("--speaker", required=True, help="the held-out FSDD speaker")
    p.add_argument("--data", required=True, help="the FSDD recordings folder")
    p.add_argument("--methods", default="knobs,film,head,decoder", help="comma-separated; name:key=value,... "
                   "overrides settings, e.g. decoder:prior=1,steps=600")  # fmt: skip
    p.add_argument("--shift", type=float, default=0.0, help="move the takes' pitch and formants (semitones)")
    p.add_argument("--per-digit", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-references", action="store_true", help="skip the base and voice-in rows")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--judges-cache", help="keep the built judges in this file (pickle) and reuse them")
    args = p.parse_args(argv)
    data = Path(args.data)
    t0 = time.perf_counter()
    cache = Path(args.judges_cache) if args.judges_cache else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as f:
            judges = pickle.load(f)  # noqa: S301 - our own cache file
    else:
        judges = Judges(data)
        if cache is not None:
            with cache.open("wb") as f:
                pickle.dump(judges, f)
    probe = train_classifier(judges.train, "speaker")
    target = judges.train.speakers.index(args.speaker)
    print(f"judges ready in {time.perf_counter() - t0:.0f} s; speaker probe on real test: "
          f"{float((predict(probe, judges.test.features) == judges.test.speaker).mean()):.3f}")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="learn-voice-"))
    takes = work / "takes"
    picked = pick_takes(data, args.speaker, TAKES_PER_DIGIT, args.seed)
    write_takes(picked, takes, args.shift)
    real_s = speaker_side(judges, data, args.speaker, picked, args.per_digit, args.seed)
    rate = 16000 if args.shift else 8000
    base = Synth.from_path(args.base, torch_threads=None)
    rows: dict[str, dict] = {}
    if args.shift:
        take_waves = [sf.read(str(f), dtype="float32")[0] for f in sorted(takes.glob("*.wav"))]
        rows["takes"] = pitch_and_scale(base, take_waves, rate, n=len(take_waves))
        print("takes", rows["takes"])
    if not args.no_references:
        # what a perfect model of this one speaker would score: their real recordings, judged as renders are
        rows["real (held-out speaker)"] = judge(judges, probe, real_s.waves, real_s.digits, target, None)
        # ... and against their own other recordings: alternate rows (each digit on both sides) against each other
        rows["real (held-out speaker)"]["two_sample_vs_speaker"] = two_sample_accuracy(
            real_s.ts[0::2], real_s.ts[1::2], seed=judges.seed
        )
        print("real", rows["real (held-out speaker)"])
        waves, digits = fresh_voices(base.bundle, args.per_digit, args.seed)
        rows["base"] = judge(judges, probe, waves, digits, target, real_s)
        if args.shift:
            rows["base"].update(pitch_and_scale(base, waves, 8000))
        print("base", rows["base"])
        waves, digits = voice_in_renders(base, takes, args.per_digit, args.seed)
        rows["voice-in (one take)"] = judge(judges, probe, waves, digits, target, real_s)
        if args.shift:
            rows["voice-in (one take)"].update(pitch_and_scale(base, waves, 8000))
        print("voice-in", rows["voice-in (one take)"])
    for spec in args.methods.split(";" if ";" in args.methods else ","):
        method, _, over = spec.partition(":")
        settings = AdaptSettings(method=method)
        for kv in filter(None, over.split("+")):
            k, v = kv.split("=")
            cur = getattr(settings, k)
            settings = replace(settings, **{k: type(cur)(v) if not isinstance(cur, bool) else v == "1"})
        t1 = time.perf_counter()
        folder, _ = adapt(takes, "heldout", args.base, settings, out=work / f"model-{len(rows)}", replace=True)
        seconds = time.perf_counter() - t1
        bundle = load_bundle(folder)
        waves, digits = fresh_voices(bundle, args.per_digit, args.seed)
        row = judge(judges, probe, waves, digits, target, real_s)
        row["adapt_seconds"] = round(seconds, 1)
        row["bundle_mb"] = round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20, 2)
        if args.shift:
            row.update(pitch_and_scale(base, waves, 8000))
        rows[spec] = row
        print(spec, row, flush=True)
    out = {"speaker": args.speaker, "base": args.base, "shift": args.shift, "seed": args.seed, "rows": rows}
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
