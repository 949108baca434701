"""Any voice in, measured: takes shifted in pitch and formants, espeak-ng's female and child voices, and
non-digits, through the analysis a ``--voice-from`` take gets (:func:`vaesynth.voices.voice_norm.take_voice`).

    python bench/bench_voice_in.py --data /path/to/fsdd/recordings            # everything (300 takes per shift)
    python bench/bench_voice_in.py --data ... --per-shift 50 --plain          # the analysis without normalisation
    python bench/bench_voice_in.py --only speed                               # just the timings

Sets (bench/voice_sets.py, written once into ``--sets`` and reused): the FSDD test split (index 0-4)
shifted by -4, 0, +4, +8 and +12 semitones in pitch and formants together (resample + phase-vocoder
time stretch, duration kept, 16 kHz), espeak-ng's female variants f1-f5 saying the ten digits, a
"child" (f2 and f4 at -p 80, shifted +3 semitones), and non-digits (below).

Per set: refused (% of the takes), digit right (% of the accepted), the rendered voice's median f0
against the take's (semitones; the digit rendered with the take's knobs and performance; f0 by the
analysis's own autocorrelation tracker on both, and, independently, by librosa's YIN), and the
formant scale estimate against the applied shift (median ratio, and the share within 5 %). Speed:
analysis per take (ms, p50/p95, model load excluded), and what ``--formant`` adds to a render
(interleaved renders of the same digits).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import voice_sets  # noqa: E402

from vaesynth.engine.performance import Performance  # noqa: E402
from vaesynth.engine.synth import Synth  # noqa: E402
from vaesynth.voices.voice_in import VoiceInError, load_full  # noqa: E402
from vaesynth.voices.voice_norm import f0_median, take_voice  # noqa: E402

SHIFTS = (-4.0, 0.0, 4.0, 8.0, 12.0)


def yin_f0(wave: np.ndarray, rate: int) -> float:
    """Median YIN f0 (Hz, librosa, 50-800 Hz) over the frames within 20 dB of the loudest: the evaluation's
    own measure, independent of the analysis's tracker (the same as tests/audio_utils.py)."""
    import librosa

    w = np.asarray(wave, dtype=np.float64)
    f0 = librosa.yin(w, fmin=50, fmax=800, sr=rate, frame_length=512, hop_length=64, trough_threshold=0.1)
    rms = librosa.feature.rms(y=w, frame_length=512, hop_length=64)[0][: len(f0)]
    return float(np.median(f0[rms > rms.max() * 0.1]))


def non_digits(folder: Path) -> list[Path]:
    """Sounds that are no digit: noises, tones, a chord, a sweep, and words that are not digits (espeak-ng)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sr = 16000
    t = np.arange(int(0.7 * sr)) / sr
    white = rng.standard_normal(len(t))
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(len(t), 1 / sr)
    pink = np.fft.irfft(spec / np.sqrt(np.maximum(f, 20)), len(t))
    brown = np.fft.irfft(spec / np.maximum(f, 20), len(t))
    sounds = {
        "white-noise": white, "pink-noise": pink, "brown-noise": brown,
        "tone-440": np.sin(2 * np.pi * 440 * t), "tone-150-in-noise": np.sin(2 * np.pi * 150 * t) + 0.1 * white,
        "chord": sum(np.sin(2 * np.pi * f0 * t) for f0 in (262, 330, 392)),
        "sweep": np.sin(2 * np.pi * (100 * t + 1500 * t**2)),
        "clicks": (np.arange(len(t)) % 160 == 0).astype(float),
    }  # fmt: skip
    out = []
    for name, x in sounds.items():
        p = folder / f"{name}.wav"
        if not p.is_file():
            sf.write(str(p), (0.5 * x / np.max(np.abs(x))).astype(np.float32), sr, subtype="FLOAT")
        out.append(p)
    import shutil

    if shutil.which("espeak-ng"):
        for word in ("hello", "yes", "music", "table", "water", "house"):
            for v in ("m1", "f3"):
                p = folder / f"word-{word}-{v}.wav"
                if not p.is_file():
                    wave, rate = voice_sets.espeak_take(word, v)
                    sf.write(str(p), wave, rate, subtype="FLOAT")
                out.append(p)
    return out


def applied_scale(name: str) -> float | None:
    if name.startswith("fsdd"):
        return 2.0 ** (float(name.split()[1]) / 12.0)
    return None


def run_set(synth: Synth, files: list[Path], normalise: bool, digits: bool = True) -> dict:
    cfg = synth.spectral
    rows = []
    for f in files:
        row: dict = {"file": f.name}
        try:
            take = load_full(f, cfg=cfg)
            t0 = time.perf_counter()
            v = take_voice(synth, take, normalise=normalise, strict=False)
            row["ms"] = 1e3 * (time.perf_counter() - t0)
            rec = v.recognition
            assert rec is not None
            row.update(accepted=bool(rec.confident), digit=v.digit, margin=float(rec.margin),
                       error=float(rec.errors[v.digit]), voicing=float(rec.voicing), scale=v.scale,
                       f0=v.f0_hz, pitch=v.performance.pitch, formant=v.performance.formant)  # fmt: skip
            if digits:
                row["right"] = v.digit == int(f.name[0])
                if rec.confident:
                    render = synth.render_digit(v.digit, v.knobs, v.performance)
                    out_f0 = f0_median(render.wave, cfg)  # the analysis's own tracker, as it set the pitch
                    row["f0_out"] = out_f0
                    row["f0_st"] = 12 * math.log2(out_f0 / v.f0_hz) if out_f0 and v.f0_hz else None
                    take_yin, out_yin = yin_f0(take.wave, cfg.sample_rate), yin_f0(render.wave, cfg.sample_rate)
                    row["f0_st_yin"] = 12 * math.log2(out_yin / take_yin)  # an independent measure
        except VoiceInError as e:
            row.update(accepted=False, load_error=str(e))
        rows.append(row)
    return {"rows": rows}


def summarise(name: str, result: dict) -> dict:
    rows = result["rows"]
    acc = [r for r in rows if r.get("accepted")]
    out = {"set": name, "n": len(rows), "refused_pct": 100 * (1 - len(acc) / max(1, len(rows)))}
    if rows and "right" in rows[0] or any("right" in r for r in rows):
        out["right_pct"] = 100 * np.mean([r["right"] for r in acc]) if acc else float("nan")
        out["right_all_pct"] = 100 * np.mean([r.get("right", False) for r in rows])
        signed = [r["f0_st"] for r in acc if r.get("f0_st") is not None]
        st = [abs(v) for v in signed]
        out["f0_st_median"] = float(np.median(signed)) if signed else float("nan")
        out["f0_st_median_abs"] = float(np.median(st)) if st else float("nan")
        yin = np.array([r["f0_st_yin"] for r in acc if r.get("f0_st_yin") is not None])
        if yin.size:
            out["f0_yin_median"] = float(np.median(yin))
            out["f0_yin_within_1st_pct"] = 100 * float(np.mean(abs(yin) <= 1))
        out["f0_within_1st_pct"] = 100 * float(np.mean(np.array(st) <= 1.0)) if st else float("nan")
        applied = applied_scale(name)
        scales = np.array([r["scale"] for r in rows if "scale" in r])
        if applied and scales.size:
            ratio = scales / applied
            out["scale_ratio_median"] = float(np.median(ratio))
            out["scale_within_5pct"] = 100 * float(np.mean(np.abs(ratio - 1) < 0.05))
        elif scales.size:
            out["scale_median"] = float(np.median(scales))
    ms = [r["ms"] for r in rows if "ms" in r]
    if ms:
        out["ms_p50"], out["ms_p95"] = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
    return out


def bench_analysis(synth: Synth, files: list[Path], normalise: bool = True) -> dict:
    """Analysis time per take (ms): :func:`take_voice` (recognise, scale search, encode, pitch), the
    file already loaded; each take twice, the first a warm-up."""
    ts = []
    for f in files:
        take = load_full(f, cfg=synth.spectral)
        for i in range(2):
            t0 = time.perf_counter()
            take_voice(synth, take, normalise=normalise, strict=False)
            if i:
                ts.append(time.perf_counter() - t0)
    ms = 1e3 * np.asarray(ts)
    p50, p95 = float(np.median(ms)), float(np.percentile(ms, 95))
    return {"analysis_ms_p50": p50, "analysis_ms_p95": p95, "analysis_n": len(ms)}


def bench_formant_cost(synth: Synth, n: int = 60) -> dict:
    """Render the same digits with formant 1.0 and 1.2, interleaved; the median extra time (ms)."""
    rng = np.random.default_rng(0)
    voices = [(d % 10, synth.knobs.fresh(d % 10, 1.0, rng)) for d in range(n)]
    plain, warped = [], []
    for _ in range(2):  # warm-up
        synth.render_digit(0, voices[0][1], Performance(formant=1.2))
    for d, u in voices:
        for perf, ts in ((Performance(), plain), (Performance(formant=1.2), warped)):
            t0 = time.perf_counter()
            synth.render_digit(d, u, perf)
            ts.append(time.perf_counter() - t0)
    diff = 1e3 * (np.array(warped) - np.array(plain))
    return {"render_ms_p50": 1e3 * float(np.median(plain)), "formant_render_ms_p50": 1e3 * float(np.median(warped)),
            "formant_extra_ms_median": float(np.median(diff)), "n": n}  # fmt: skip


def markdown(summary: list[dict], speed: dict | None) -> str:
    lines = ["| set | takes | refused | digit right (of accepted) "
             "| rendered f0 - take's (median, median abs, within 1 st) "
             "| formant scale estimate / applied (median, within 5 %) | analysis ms p50 / p95 |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for s in summary:
        if "right_pct" in s:
            scale = (f"{s['scale_ratio_median']:.3f}, {s['scale_within_5pct']:.0f} %" if "scale_ratio_median" in s
                     else f"estimate {s.get('scale_median', float('nan')):.2f}")  # fmt: skip
            f0 = f"{s['f0_st_median']:+.2f} st, {s['f0_st_median_abs']:.2f} st, {s['f0_within_1st_pct']:.0f} %"
            if "f0_yin_median" in s:
                f0 += f" (YIN: {s['f0_yin_median']:+.2f} st, {s['f0_yin_within_1st_pct']:.0f} %)"
            cells = [f"{s['right_pct']:.1f} %", f0, scale]
        else:
            cells = ["-", "-", "-"]
        ms = f"{s.get('ms_p50', float('nan')):.0f} / {s.get('ms_p95', float('nan')):.0f}"
        lines.append(f"| {s['set']} | {s['n']} | {s['refused_pct']:.1f} % | " + " | ".join(cells) + f" | {ms} |")
    if speed:
        lines.append("")
        lines.append(f"`--formant 1.2` adds {speed['formant_extra_ms_median']:.2f} ms to a render (median of "
                     f"{speed['n']} interleaved pairs; {speed['render_ms_p50']:.1f} ms without).")  # fmt: skip
        if "analysis_ms_p50" in speed:
            lines.append(f"Analysis of a take (+8 st FSDD takes, loaded): {speed['analysis_ms_p50']:.0f} ms p50, "
                         f"{speed['analysis_ms_p95']:.0f} ms p95.")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="FSDD recordings (default: $VAESYNTH_FSDD)")
    ap.add_argument("--sets", default="/tmp/vaesynth-voice-sets", help="where the evaluation takes are written")
    ap.add_argument("--per-shift", type=int, default=None, help="FSDD test takes per shift (default: all 300)")
    ap.add_argument("--shifts", default=",".join(f"{s:g}" for s in SHIFTS), help="semitones, comma-separated")
    ap.add_argument("--plain", action="store_true", help="without normalisation (the analysis as it was)")
    ap.add_argument("--starts", type=int, default=None, help="climbs of the scale search (voice_norm.STARTS)")
    ap.add_argument("--only", choices=["sets", "speed"], help="run only these parts")
    ap.add_argument("--model", default=None)
    ap.add_argument("--json", metavar="PATH", help="also write all rows as JSON")
    ap.add_argument("--table", metavar="JSON", help="only print the table of a --json file written before")
    ap.add_argument("--markdown", metavar="PATH", help="also write the table as markdown")
    args = ap.parse_args(argv)
    import os

    if args.table:
        saved = json.loads(Path(args.table).read_text())
        print(markdown([summarise(k, v) for k, v in saved["results"].items()], saved.get("speed")))
        return 0
    data = Path(args.data or os.environ.get("VAESYNTH_FSDD", ""))
    synth = Synth.from_path(args.model)
    if args.starts is not None:
        import vaesynth.voices.voice_norm

        vaesynth.voices.voice_norm.STARTS = args.starts
    summary, results, speed = [], {}, None
    if args.only != "speed":
        if not data.is_dir():
            ap.error("give the FSDD recordings with --data (or $VAESYNTH_FSDD)")
        shifts = tuple(float(s) for s in args.shifts.split(","))
        sets = voice_sets.build(data, Path(args.sets), shifts, args.per_shift)
        sets["non-digits"] = non_digits(Path(args.sets) / "non-digits")
        for name, files in sets.items():
            t0 = time.perf_counter()
            results[name] = run_set(synth, files, normalise=not args.plain, digits=name != "non-digits")
            summary.append(summarise(name, results[name]))
            print(json.dumps(summary[-1]), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.only != "sets":
        speed = bench_formant_cost(synth)
        if data.is_dir():
            takes = voice_sets.build(data, Path(args.sets), (8.0,), 30)["fsdd +8 st"]
            speed.update(bench_analysis(synth, takes, normalise=not args.plain))
        print(json.dumps(speed), flush=True)
    table = markdown(summary, speed)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "speed": speed, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
