"""MIDI latency benchmark: note-on sent -> first sample of its sound at the audio sink.

    python bench/bench_midi.py                    # 40 notes, warm (render cache) and cold (no cache)
    python bench/bench_midi.py --notes 100 --period 64 --json out.json

Set-up, all real and in user space: a private JACK server (dummy driver, ``--period`` frames at
48 kHz; JACK delivers MIDI once per period, like an audio interface's driver would) carries the
notes from a virtual keyboard port (python-rtmidi) to :class:`vaesynth.midi.midi_ports.MidiInput`; the
:class:`vaesynth.midi.midi_player.MidiPlayer` of ``vaesynth midi`` (default model, default
:class:`vaesynth.sound.audio.AudioOutput`) plays them in a thread; the sound goes PortAudio -> ALSA pulse
plugin -> PulseAudio null sink ``vaesynth_test`` (the test suite's harness, ``tests/audio_utils.py``)
and its monitor is recorded with ``parec`` here, every chunk time-stamped on arrival.

Clock: sample ``n`` of the recording is placed at ``min_k(arrival_k - end_k / rate) + n / rate``
(``end_k``: samples received up to chunk ``k``), i.e. when the best-delivered chunk reached us.
Capture delivery (10 ms fragments) is therefore counted in, so the figures are an upper bound on
note-on -> first sample at the sink by at most that fragment. A sound's first sample: the first one
above -70 dBFS (the null sink is digital silence otherwise). Each note also records when the
player received the command and when it handed the sound to the audio output, which splits the
total into MIDI transport, render (+ cache) and audio output (PortAudio + PulseAudio buffers).

``warm``: the render cache holds the note (a key played before with the same knobs);
``cold``: cache disabled, every note is decoded and phase-reconstructed. The machine is shared
(2 cores): the load average is printed; rerun when it is high.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from common import JackKeyboard  # noqa: E402  (bench/common.py)

RATE = 48000
THRESHOLD_DB = -70.0


class TimedRecorder:
    """``parec`` on a PulseAudio source (float32 mono, 48 kHz), every chunk time-stamped (perf_counter)."""

    def __init__(self, source: str) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self._proc = subprocess.Popen(
            [
                "parec",
                "--raw",
                "--format=float32le",
                "--channels=1",
                f"--rate={RATE}",
                "--latency-msec=10",
                "-d",
                source,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._first.wait(5):
            self._proc.kill()
            raise RuntimeError(f"parec delivered nothing from {source}")

    def _read(self) -> None:
        fd = self._proc.stdout.fileno()  # type: ignore[union-attr]
        while chunk := os.read(fd, 4096):
            self.chunks.append((time.perf_counter(), chunk))
            self._first.set()

    def stop(self) -> tuple[np.ndarray, float]:
        """Samples float32 ``(n,)`` and the perf_counter time of sample 0."""
        time.sleep(0.3)
        self._proc.terminate()
        self._proc.wait(timeout=5)
        self._thread.join(timeout=5)
        total, t0 = 0, float("inf")
        for arrival, chunk in self.chunks:
            total += len(chunk)
            t0 = min(t0, arrival - (total // 4) / RATE)
        data = b"".join(c for _, c in self.chunks)
        return np.frombuffer(data[: len(data) - len(data) % 4], dtype="<f4"), t0


def onsets(x: np.ndarray, min_gap_s: float = 0.15) -> list[int]:
    """Sample index of the first sample of every sound (above THRESHOLD_DB, after >= min_gap_s of silence)."""
    above = np.flatnonzero(np.abs(x) > 10 ** (THRESHOLD_DB / 20))
    if above.size == 0:
        return []
    starts = [int(above[0])]
    gaps = np.flatnonzero(np.diff(above) > min_gap_s * RATE)
    starts += [int(above[i + 1]) for i in gaps]
    return starts


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def run_round(synth, audio, midi_input, keyboard, pulse, n: int, cold: bool, spacing: float) -> dict:
    from vaesynth.midi.midi import DIGIT_NOTES
    from vaesynth.midi.midi_player import MidiPlayer

    player = MidiPlayer(synth, audio, sing=True, cache_size=0 if cold else 128)
    notes = [DIGIT_NOTES[i % 10] if i % 3 else 61 + 2 * (i % 2) for i in range(n)]
    if not cold:  # fill the cache: every note once, unmeasured
        for note in dict.fromkeys(notes):
            player.handle(player_command(note))
    audio.stop()
    time.sleep(0.5)
    stop = threading.Event()
    thread = threading.Thread(target=player.run, args=(midi_input, stop), daemon=True)
    thread.start()
    player.played.clear()
    recorder = TimedRecorder(pulse.monitor_name)
    sent = []
    for note in notes:
        sent.append(time.perf_counter())
        keyboard.send_message([0x90, note, 127])
        time.sleep(spacing)
        keyboard.send_message([0x80, note, 0])
        time.sleep(0.05)
    x, t0 = recorder.stop()
    stop.set()
    thread.join(timeout=5)
    found = onsets(x)
    played = list(player.played)
    if len(found) != n or len(played) != n:
        return {"error": f"expected {n} sounds, heard {len(found)}, played {len(played)}"}
    total = [t0 + o / RATE - s for o, s in zip(found, sent, strict=True)]
    transport = [p.received_s - s for p, s in zip(played, sent, strict=True)]
    render = [p.played_s - p.received_s for p in played]
    output = [t - a - b for t, a, b in zip(total, transport, render, strict=True)]
    out = {"notes": n, "cache": "warm" if not cold else "cold"}
    for key, values in [("total", total), ("midi", transport), ("render", render), ("output", output)]:
        out[key] = {"p50_ms": round(pct(values, 50), 1), "p95_ms": round(pct(values, 95), 1)}
    return out


def player_command(note: int):
    from vaesynth.midi.midi import translate

    return translate([0x90, note, 127])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, default=40, help="notes per round (default 40)")
    ap.add_argument("--period", type=int, default=64, help="JACK period in frames at 48 kHz (default 64)")
    ap.add_argument("--spacing", type=float, default=0.7, help="seconds between notes (default 0.7)")
    ap.add_argument("--model", default=None, help="model name or bundle folder (default: the default model)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if shutil.which("jackd") is None:
        print("bench_midi: jackd is not installed (apt install jackd2)", file=sys.stderr)
        return 2
    from audio_utils import PulseServer, PulseUnavailable

    try:
        pulse = PulseServer.ensure()
    except PulseUnavailable as e:
        print(f"bench_midi: no PulseAudio test sink: {e}", file=sys.stderr)
        return 2
    import sounddevice  # noqa: F401  (PortAudio initialised before our JACK server exists)

    from vaesynth.engine.synth import Synth
    from vaesynth.midi.midi_ports import MidiInput
    from vaesynth.sound.audio import AudioOutput

    keyboard = JackKeyboard(client="bench-keys", period=args.period)
    results: dict = {"load_before": os.getloadavg()[0], "jack_period_frames": args.period, "rounds": []}
    try:
        synth = Synth.from_path(args.model)
        audio = AudioOutput()
        if not audio.available:
            print(f"bench_midi: {audio.status}", file=sys.stderr)
            return 2
        results["audio"] = audio.status
        with MidiInput("jack") as midi_input:
            midi_input.open(keyboard.port_name)
            for cold in (False, True):
                r = run_round(synth, audio, midi_input, keyboard, pulse, args.notes, cold, args.spacing)
                results["rounds"].append(r)
                print(json.dumps(r), flush=True)
        audio.close()
    finally:
        keyboard.close()
        pulse.close()
    results["load_after"] = os.getloadavg()[0]
    print(f"load average {results['load_before']:.2f} -> {results['load_after']:.2f}; {results.get('audio', '')}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
