"""Speed and phase-reconstruction benchmark for the synth engine.

    python bench/bench_synth.py                 # everything, quick memory run (2,000 renders)
    python bench/bench_synth.py --memory 10000  # the full memory run
    python bench/bench_synth.py --only phase    # just the phase-reconstruction comparison
    vaesynth bench [same arguments]

What is measured (wall-clock, ``time.perf_counter``, one process, torch single-threaded as
:class:`vaesynth.engine.synth.Synth` sets it, after warm-up):

- ``phase``: every phase-reconstruction choice on the same magnitudes: held-out FSDD
  recordings (official test split, analysed exactly like training data) and decoded model
  outputs. Quality = :func:`training.metrics.log_spectral_distance` between the target
  magnitude and the magnitude of the reconstructed waveform (dB, lower is better).
- ``engine``: one digit (new random knobs every time: decode + phase + fades), a re-render
  after a knob change (a slider sweep on one knob, same digit), a 10-digit string, and the
  naive pipeline (same decode, then ``librosa.griffinlim`` with 32 plain iterations) in the
  same run.
- ``memory``: resident set size while rendering N digits with fresh random knobs.

The machine is shared: the load average is printed before and after; rerun when it is high.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.metrics import log_spectral_distance  # noqa: E402
from vaesynth.dsp import phase as ph  # noqa: E402
from vaesynth.dsp import spectral as sp  # noqa: E402
from vaesynth.engine.synth import Synth  # noqa: E402
from vaesynth.model.bundle import load_bundle  # noqa: E402
from vaesynth.model.catalog import list_bundles  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def stats_ms(ts: list[float]) -> dict:
    a = np.asarray(ts) * 1e3
    return {
        "n": len(a),
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


def timed(fn, n: int, warmup: int = 3) -> tuple[list[float], list]:
    for _ in range(warmup):
        fn(0)
    ts, outs = [], []
    for i in range(n):
        t0 = time.perf_counter()
        out = fn(i)
        ts.append(time.perf_counter() - t0)
        outs.append(out)
    return ts, outs


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_avg": os.getloadavg(),
    }


def get_synth(model: str | None) -> tuple[Synth, str]:
    if model:
        path = Path(model) if Path(model).is_dir() else list_bundles()[model]
        return Synth(load_bundle(path)), f"{path}"
    bundles = list_bundles()
    if "cvae" in bundles:
        return Synth(load_bundle(bundles["cvae"])), f"{bundles['cvae']} (trained)"
    import torch

    from training.bundling import untrained_bundle

    tmp = Path(tempfile.mkdtemp(prefix="vaesynth-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    bundle = load_bundle(untrained_bundle("cvae", tmp / "cvae"))
    with torch.no_grad():  # every utterance the maximum length: the worst-case cost
        bundle.model.valid_head.weight.zero_()
        bundle.model.valid_head.bias.fill_(10.0)
    return (
        Synth(bundle),
        "untrained cvae, default architecture, every utterance forced to the maximum 112 frames (worst case)",
    )


# --- phase reconstruction ------------------------------------------------------------------------


def torch_griffin_lim(mag: np.ndarray, cfg: sp.SpectralConfig, n_iter: int = 32, momentum: float = 0.99):
    """The same fast Griffin-Lim written with torch.stft / torch.istft (for comparison only)."""
    import torch

    m = torch.from_numpy(np.ascontiguousarray(mag.T))  # (F, T)
    win = torch.from_numpy(sp.hann(cfg.n_fft))
    g = torch.Generator().manual_seed(0)
    angles = torch.exp(2j * torch.pi * torch.rand(m.shape, generator=g)).to(torch.complex64)
    n = (mag.shape[0] - 1) * cfg.hop
    kw = {"n_fft": cfg.n_fft, "hop_length": cfg.hop, "window": win, "center": True}
    prev = torch.zeros_like(angles)
    alpha = momentum / (1 + momentum)
    for _ in range(n_iter):
        wave = torch.istft(m * angles, length=n, **kw)
        rebuilt = torch.stft(wave, return_complex=True, pad_mode="constant", **kw)[:, : m.shape[1]]
        angles = rebuilt - alpha * prev
        prev = rebuilt
        angles = angles / angles.abs().clamp_min(1e-16)
    return torch.istft(m * angles, length=n, **kw).numpy()


def phase_methods(cfg: sp.SpectralConfig) -> dict:
    import librosa

    def lib(momentum: float):
        def f(mag):
            return librosa.griffinlim(
                mag.T, n_iter=32, hop_length=cfg.hop, n_fft=cfg.n_fft, window="hann", center=True,
                pad_mode="constant", momentum=momentum, init="random", random_state=0,
                length=(len(mag) - 1) * cfg.hop,
            )  # fmt: skip

        return f

    def ours(n_iter: int, init: str, momentum: float = 0.99):
        return lambda mag: ph.griffin_lim(mag, cfg, n_iter, momentum, init, fft="torch")

    return {
        "librosa.griffinlim, 32 it, plain (naive)": lib(0.0),
        "librosa.griffinlim, 32 it, momentum 0.99": lib(0.99),
        "torch.stft/istft loop, 32 it, momentum 0.99": lambda mag: torch_griffin_lim(mag, cfg),
        "ours, plain GL, 32 it, random init": ours(32, "random", 0.0),
        "ours, fast GL, 16 it, random init": ours(16, "random"),
        "ours, fast GL, 32 it, random init": ours(32, "random"),
        "ours, fast GL, 32 it, zero phase init": ours(32, "zeros"),
        "ours, PGHI-style phase only (0 it)": ours(0, "pghi"),
        "ours, fast GL, 16 it, PGHI init": ours(16, "pghi"),
        "ours, fast GL, 24 it, PGHI init": ours(24, "pghi"),
        "ours, fast GL, 32 it, PGHI init": ours(32, "pghi"),
        "ours, fast GL, 48 it, PGHI init": ours(48, "pghi"),
        "ours, fast GL, 64 it, PGHI init": ours(64, "pghi"),
        "ours, fast GL, 64 it, random init": ours(64, "random"),
    }


def real_magnitudes(cfg: sp.SpectralConfig, n: int, data: str | None) -> list[np.ndarray]:
    """Feature-domain magnitudes of ``n`` held-out FSDD recordings (test split), or [] without data."""
    try:
        import soundfile as sf

        from training.data import NAME_RE, TEST_INDICES, find_data

        shared = ROOT.parent / "shared" / "fsdd" / "recordings"  # where this project keeps a shared copy of FSDD
        if data is None and shared.is_dir():
            data = str(shared)
        folder = find_data(data)
    except Exception as e:  # noqa: BLE001
        print(f"  (no FSDD recordings: {e}; phase comparison on decoded outputs only)")
        return []
    files = sorted(p for p in folder.glob("*.wav") if (m := NAME_RE.match(p.name)) and int(m[3]) in TEST_INDICES)
    rng = np.random.default_rng(0)
    out = []
    for i in rng.choice(len(files), min(n, len(files)), replace=False):
        wave, sr = sf.read(files[i], dtype="float32")
        if sr != cfg.sample_rate:
            continue
        feat, n_valid = sp.wave_to_features(wave, cfg)
        out.append(sp.features_to_mag(feat[:n_valid], cfg))
    return out


def decoded_magnitudes(synth: Synth, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    digits = [i % 10 for i in range(n)]
    feats = synth.decode(digits, [synth.knobs.fresh(rng=rng) for _ in digits])
    return [sp.features_to_mag(f, synth.spectral) for f in feats]


def bench_phase(synth: Synth, n: int, data: str | None = None) -> dict:
    cfg = synth.spectral
    sets = {
        "FSDD test recordings": real_magnitudes(cfg, n, data),
        "decoded (random knobs)": decoded_magnitudes(synth, n),
    }
    sets = {k: v for k, v in sets.items() if v}
    results = {}
    for name, fn in phase_methods(cfg).items():
        row = {}
        for set_name, mags in sets.items():
            for m in mags[:2]:
                fn(m)  # warm-up
            ts, q = [], []
            for m in mags:
                t0 = time.perf_counter()
                w = fn(m)
                ts.append(time.perf_counter() - t0)
                q.append(log_spectral_distance(m, sp.magnitude(w, cfg)))
            row[set_name] = {"lsd_db": float(np.mean(q)), **stats_ms(ts)}
        results[name] = row
        cells = "  ".join(f"{r['lsd_db']:5.2f} dB {r['p50']:6.2f} ms" for r in row.values())
        print(f"  {name:46s} {cells}", flush=True)
    frames = {k: float(np.mean([len(m) for m in v])) for k, v in sets.items()}
    return {"sets": {k: {"n": len(v), "mean_frames": frames[k]} for k, v in sets.items()}, "methods": results}


# --- engine ------------------------------------------------------------------------------------


def bench_engine(synth: Synth, n: int) -> dict:
    import librosa
    import torch

    cfg = synth.spectral
    rng = np.random.default_rng(2)
    d = synth.latent_dim
    res = {}

    knobs = [synth.knobs.fresh(rng=rng) for _ in range(n)]
    ts, renders = timed(lambda i: synth.render_digit(i % 10, knobs[i]), n)
    res["digit"] = {**stats_ms(ts), "mean_frames": float(np.mean([len(r.features) for r in renders]))}

    # a slider drag: knob 0 moves in small steps from -2 to 2 (and back), same digit, other knobs fixed
    base = synth.knobs.fresh(rng=rng)
    path = np.concatenate([np.linspace(-2, 2, n // 2), np.linspace(2, -2, n - n // 2)])

    def sweep(i):
        u = base.copy()
        u[0] = path[i]
        return synth.render_digit(7, u)

    ts, _ = timed(sweep, n)
    res["rerender_knob_change"] = stats_ms(ts)
    if synth.has_texture:
        ts, _ = timed(lambda i: synth.render_digit(i % 10, knobs[i], texture=False), n)
        res["digit_no_texture"] = stats_ms(ts)
        held = synth.render_digit(7, base).donors[0]
        ts, _ = timed(lambda i: synth.render_digit(7, np.where(np.arange(d) == 0, path[i], base), donors=held), n)
        res["rerender_knob_change_held"] = stats_ms(ts)

    m = max(10, n // 10)
    ts, strings = timed(lambda i: synth.render_string("0123456789", seed=i), m, warmup=2)
    res["string10"] = {**stats_ms(ts), "mean_seconds_of_audio": float(np.mean([s.duration for s in strings]))}

    z = torch.zeros(1, d)
    dig = torch.tensor([3])
    with torch.inference_mode():
        ts, _ = timed(lambda i: synth.bundle.model.decode(z, dig), n)
    res["decode_only"] = stats_ms(ts)

    def naive_digit(i):
        feat = synth.decode([i % 10], [knobs[i]])[0]
        mag = sp.features_to_mag(feat, cfg)
        return librosa.griffinlim(
            mag.T, n_iter=32, hop_length=cfg.hop, n_fft=cfg.n_fft, momentum=0.0, random_state=0,
            pad_mode="constant", length=(len(mag) - 1) * cfg.hop,
        )  # fmt: skip

    ts, _ = timed(naive_digit, max(20, n // 4))
    res["naive_digit_librosa32_plain"] = stats_ms(ts)

    def naive_string(i):
        return [naive_digit((i * 10 + k) % n) for k in range(10)]

    ts, _ = timed(naive_string, max(5, m // 3), warmup=1)
    res["naive_string10_librosa32_plain"] = stats_ms(ts)
    for k, v in res.items():
        print(f"  {k:32s} p50 {v['p50']:7.2f} ms  p95 {v['p95']:7.2f} ms  max {v['max']:7.2f} ms", flush=True)
    return res


def bench_memory(synth: Synth, n: int) -> dict:
    rng = np.random.default_rng(3)
    samples = []
    step = max(1, n // 20)
    gc.collect()
    start = rss_mb()
    t0 = time.perf_counter()
    for i in range(n):
        synth.render_digit(int(rng.integers(10)), synth.knobs.fresh(rng=rng))
        if i % step == 0 or i == n - 1:
            samples.append((i + 1, rss_mb()))
    elapsed = time.perf_counter() - t0
    gc.collect()
    end = rss_mb()
    # growth after the first 10% (allocator warm-up), as MB per 1,000 renders
    xs = np.array([s[0] for s in samples if s[0] >= n // 10], dtype=float)
    ys = np.array([s[1] for s in samples if s[0] >= n // 10])
    slope = float(np.polyfit(xs, ys, 1)[0] * 1000) if len(xs) > 2 else 0.0
    out = {
        "renders": n,
        "seconds": elapsed,
        "rss_start_mb": start,
        "rss_end_mb": end,
        "rss_samples": samples,
        "slope_mb_per_1000": slope,
        "extrapolated_growth_10000_mb": slope * 10,
    }
    print(
        f"  {n} renders in {elapsed:.1f} s: RSS {start:.1f} -> {end:.1f} MB; trend after warm-up "
        f"{slope:+.3f} MB per 1,000 renders (x10 = {slope * 10:+.2f} MB per 10,000)",
        flush=True,
    )
    return out


def markdown(results: dict) -> str:
    """The results as markdown tables (for docs/engine.md)."""
    out = []
    m = results["machine"]
    out.append(
        f"Model: {results['model']}. Machine: {m['cpu']}, {m['cores']} cores (shared; load average "
        f"{m['load_avg'][0]:.1f} before, {results['load_avg_after'][0]:.1f} after), Python {m['python']}, "
        f"torch {m['torch']} ({m['torch_threads']} thread), numpy {m['numpy']}."
    )
    if "engine" in results:
        e = results["engine"]
        names = {
            "digit": "one digit, new random knobs (decode + phase + fades)",
            "rerender_knob_change": "re-render after a knob change (slider sweep, same digit)",
            "digit_no_texture": "one digit, texture stage off (the pure decoder)",
            "rerender_knob_change_held": "re-render after a knob change, texture donors held (as the app does)",
            "string10": 'a 10-digit string ("0123456789")',
            "decode_only": "decoder forward pass alone (one digit)",
            "naive_digit_librosa32_plain": "naive: decode + librosa.griffinlim 32 plain it (one digit)",
            "naive_string10_librosa32_plain": "naive: 10 digits that way, concatenated",
        }
        out += ["", "| what | n | p50 (ms) | p95 (ms) | max (ms) |", "|---|---:|---:|---:|---:|"]
        for k, label in names.items():
            if k in e:
                r = e[k]
                out.append(f"| {label} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} |")
    if "phase" in results:
        ph = results["phase"]
        sets = list(ph["sets"])
        head = " | ".join(f"{k}: LSD (dB) | {k}: p50 (ms)" for k in sets)
        out += ["", f"| method | {head} |", "|---|" + "---:|" * (2 * len(sets))]
        for name, row in ph["methods"].items():
            cells = " | ".join(f"{row[k]['lsd_db']:.2f} | {row[k]['p50']:.2f}" for k in sets if k in row)
            out.append(f"| {name} | {cells} |")
        out.append("")
        out.append(
            "Sets: "
            + "; ".join(
                f"{k}: {v['n']} utterances, {v['mean_frames']:.0f} frames on average" for k, v in ph["sets"].items()
            )
        )
    if "memory" in results:
        r = results["memory"]
        after_first = r["rss_samples"][0][1]
        out += [
            "",
            f"Memory: {r['renders']} renders in {r['seconds']:.0f} s; RSS {r['rss_start_mb']:.1f} MB before the "
            f"first render, {after_first:.1f} MB after it, {r['rss_end_mb']:.1f} MB at the end; trend after warm-up "
            f"{r['slope_mb_per_1000']:+.3f} MB per 1,000 renders.",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="bundle name or folder (default: resources/models/cvae, else an untrained cvae)")
    ap.add_argument("--only", choices=["phase", "engine", "memory"], action="append", help="run only these parts")
    ap.add_argument("-n", type=int, default=200, help="renders per engine timing (default 200)")
    ap.add_argument("--phase-n", type=int, default=60, help="utterances per set in the phase comparison")
    ap.add_argument("--memory", type=int, default=2000, metavar="N", help="renders in the memory run (default 2000)")
    ap.add_argument("--gl-iters", type=int, help="override the engine's Griffin-Lim iterations")
    ap.add_argument("--gl-init", choices=ph.GL_INITS, help="override the engine's initial phase")
    ap.add_argument("--data", metavar="PATH", help="FSDD recordings for the phase comparison (default: auto)")
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown")
    ap.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    args = ap.parse_args(argv)
    parts = args.only or ["phase", "engine", "memory"]

    synth, label = get_synth(args.model)
    if args.gl_iters is not None:
        synth.gl_iters = args.gl_iters
    if args.gl_init is not None:
        synth.gl_init = args.gl_init
    info = machine()
    print(f"model: {label}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, load avg {info['load_avg'][0]:.2f}; "
          f"torch {info['torch']} ({info['torch_threads']} thread), numpy {info['numpy']}")  # fmt: skip
    print(f"engine: Griffin-Lim {synth.gl_iters} it, init {synth.gl_init}, momentum {synth.gl_momentum}")
    results: dict = {"model": label, "machine": info, "engine_settings": {
        "gl_iters": synth.gl_iters, "gl_init": synth.gl_init, "gl_momentum": synth.gl_momentum}}  # fmt: skip
    if "phase" in parts:
        print("phase reconstruction (mean log-spectral distance, median time per utterance):")
        results["phase"] = bench_phase(synth, args.phase_n, args.data)
    if "engine" in parts:
        print("engine:")
        results["engine"] = bench_engine(synth, args.n)
    if "memory" in parts:
        print("memory:")
        results["memory"] = bench_memory(synth, args.memory)
    results["load_avg_after"] = os.getloadavg()
    print(f"load avg after: {results['load_avg_after'][0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
