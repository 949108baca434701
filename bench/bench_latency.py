"""End-to-end latency benchmark: event -> first sample at the sound device, measured at the sink.

    export XDG_RUNTIME_DIR=/tmp/xdg-audio && mkdir -p $XDG_RUNTIME_DIR && chmod 700 $XDG_RUNTIME_DIR
    python bench/bench_latency.py                  # everything (about 5 minutes)
    python bench/bench_latency.py --n 20 --only direct,espeak
    python bench/bench_latency.py --only underruns --sweep-latencies 0.01,0.02,0.03,0.05
    python bench/bench_latency.py --markdown out.md --json out.json

How it measures. The sound server is the test suite's private PulseAudio with its null sink
(``tests/audio_utils.PulseServer.ensure()``; set ``XDG_RUNTIME_DIR`` to a private folder first so
no other server is touched). ``parec`` records the sink's monitor with a 2 ms fragment, and every
chunk's arrival time (``time.monotonic``) is kept; the earliest ``arrival - samples / rate`` over
the recording maps a recorded sample to the clock the events were stamped with (a chunk can
arrive late, never early). Each sound is found in the recording by normalised cross-correlation
with what was rendered (resampled to 48 kHz), searched from 10 ms before its event, so "first
sample" is the position of the render's sample 0. The same for ``espeak-ng "seven" | paplay``
(correlated with espeak-ng's own output for "seven"; also "first sample above -50 dBFS").
The recorder makes the null sink render in ~2 ms blocks, which is also the resolution.

Paths:
- ``direct``: what the app's worker does, in one thread: ``Synth.render_digit`` (shipped model,
  fresh random knobs per press) then ``AudioOutput.play``. "after idle": every stream closed
  before the press (the state after a pause), also with ``AudioOutput.prepare()`` called at the
  event in a second thread (the stream opens during the render, as the app's audio thread would
  do it); "while playing": pressed 150 ms into the previous
  sound (which is cut); "knob sweep": a knob moves every 100 ms, each re-render cross-faded in
  (``crossfade_s=0.03``), event = the knob change.
- ``app``: the real ``vaesynth.app.main_window.MainWindow`` in-process (Qt offscreen), driven by
  its public methods through one small adapter (:class:`AppDriver`): ``press_digit`` after idle
  and while playing, a single knob change (a dial step) after a rest, a click on the morph pad
  (corners: the first four speakers; the puck jumps there) after a rest, and note-ons from a virtual
  MIDI keyboard (a private JACK server, bench/common.py; skipped without ``jackd``) after idle and
  while playing.
- ``espeak``: ``espeak-ng "seven" | paplay`` started with ``subprocess.Popen`` (event = just
  before the spawn), the same recorder.
- ``wakeups``: the pulseaudio process's context switches (all threads, voluntary + involuntary,
  ``/proc/<pid>/task/*/status``) per second over 5 s, with no recorder running: idle without
  us, with an ``AudioOutput`` that has played and is idle, during continuous playback, and the
  previous design's states for comparison (a stream open but stopped; a silent running stream at
  50 ms, which the old code kept for 10 s after every sound).
- ``underruns``: a knob sweep (a re-render every 100 ms for 6 s, cross-faded) per PortAudio
  latency setting, without and with a busy-loop process on the other core; underruns are the
  callbacks' ``status.output_underflow`` flags (``AudioOutput.underruns``).

The machine is shared (2 cores): the load average is printed with every table; rerun when high.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

RATE = 48000
ESPEAK_TEXT = "seven"

from common import WHITE_KEYS, JackKeyboard  # noqa: E402  (bench/common.py)

# ------------------------------------------------------------------------------------------------
# Recording with a clock
# ------------------------------------------------------------------------------------------------


class TimedRecorder:
    """``parec`` on the sink's monitor (float32 mono, 2 ms fragments), each chunk's arrival time kept.

    The reading runs in a child process (this script with ``--record-child``), not in a thread of
    the process being measured: a reader thread waking 500 times a second would take the GIL from
    the app's render as often and slow down exactly what is measured. ``time.monotonic`` is the
    same clock in both processes."""

    def __init__(self, source: str, rate: int = RATE) -> None:
        self.rate = rate
        self._dir = Path(tempfile.mkdtemp(prefix="vaesynth-rec-"))
        self._child = subprocess.Popen(
            [sys.executable, __file__, "--record-child", source, str(rate), str(self._dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        end = time.monotonic() + 5.0
        while not (self._dir / "ready").exists():
            if time.monotonic() > end or self._child.poll() is not None:
                self._child.kill()
                raise RuntimeError(f"parec delivered nothing from {source}")
            time.sleep(0.01)
        time.sleep(0.2)
        self.offset = 0.0

    def stop(self, tail_s: float = 0.3) -> np.ndarray:
        time.sleep(tail_s)
        self._child.terminate()
        self._child.wait(timeout=10)
        x = np.fromfile(self._dir / "data.f32", dtype="<f4").astype(np.float32)
        marks = np.load(self._dir / "marks.npy")
        shutil.rmtree(self._dir, ignore_errors=True)
        self.offset = float(np.min(marks[:, 0] - marks[:, 1] / self.rate))  # sample n was at offset + n / rate
        return x

    def index_at(self, t: float) -> int:
        return int(round((t - self.offset) * self.rate))


def locate(x: np.ndarray, template: np.ndarray, start: int, search_s: float = 0.4) -> tuple[int, float]:
    """Index in ``x`` of ``template``'s sample 0 (normalised cross-correlation, from ``start``), and the score."""
    from scipy.signal import correlate

    a = max(0, start)
    b = min(len(x), start + round(search_s * RATE) + len(template))
    seg = x[a:b].astype(np.float64)
    tm = template.astype(np.float64)
    if len(seg) < len(tm):
        return -1, 0.0
    c = correlate(seg, tm, mode="valid", method="fft")
    et = float(np.sqrt(np.sum(tm**2)))
    es = np.sqrt(np.maximum(np.convolve(seg**2, np.ones(len(tm)), "valid"), 0.0))
    r = c / np.maximum(es, 0.3 * et) / max(et, 1e-12)
    k = int(np.argmax(r))
    return a + k, float(r[k])


class Events:
    """Events stamped on ``time.monotonic`` with the sound each should produce (48 kHz)."""

    def __init__(
        self, template_s: float = 0.12, fade_in_s: float = 0.0, skip_s: float = 0.0, search_s: float = 0.4
    ) -> None:
        self.items: list[tuple[float, np.ndarray, dict]] = []
        self.search_s = search_s  # how late a sound may be found after its event
        self.template_s = template_s
        self.fade_in_s = fade_in_s  # the sound is faded in like this when played (a cross-fade)
        # correlate from this far into the sound: past the part that overlaps the sound it replaced
        self.skip_s = skip_s

    def add(self, t: float, wave48: np.ndarray, **extra: float) -> None:
        self.items.append((t, wave48, extra))

    def latencies_ms(self, x: np.ndarray, rec: TimedRecorder) -> tuple[list[float], int]:
        out, bad = [], 0
        n = round(self.template_s * RATE)
        skip = round(self.skip_s * RATE)
        for t, w, _ in self.items:
            w = w[: skip + n].copy()
            k = min(len(w), round(self.fade_in_s * RATE))
            if k:
                w[:k] *= np.sin(0.5 * np.pi * np.arange(1, k + 1) / k)
            k, score = locate(x, w[skip:], rec.index_at(t) - round(0.01 * RATE) + skip, self.search_s)
            k -= skip
            if os.environ.get("BENCH_DEBUG"):
                print(f"    event at {t:.3f}: score {score:.2f}, {1e3 * (rec.offset + k / RATE - t):.1f} ms")
            if k < 0 or score < 0.6:
                bad += 1
                continue
            out.append(1e3 * (rec.offset + k / RATE - t))
        return out, bad


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(a), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}


def load() -> str:
    return "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


# ------------------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------------------


def wait_closed(out, limit_s: float = 3.0) -> None:  # noqa: ANN001
    end = time.monotonic() + limit_s
    while out.open_streams and time.monotonic() < end:
        time.sleep(0.01)


def bench_direct(pulse, synth, n: int, rng: np.random.Generator) -> dict:  # noqa: ANN001
    """Synth.render_digit + AudioOutput.play in one thread (what the app's worker does)."""
    from concurrent.futures import ThreadPoolExecutor

    from vaesynth.dsp.spectral import resample
    from vaesynth.sound.audio import AudioOutput

    out = AudioOutput()
    audio_thread = ThreadPoolExecutor(max_workers=1)
    sr = synth.sample_rate
    res: dict = {}
    render_ms: list[float] = []

    def press(d: int, events: Events, audio_only: Events, prepare: bool = False) -> None:
        t0 = time.monotonic()
        if prepare:  # the audio thread opens the stream while this one renders, as the app's would
            audio_thread.submit(out.prepare)
        r = synth.render_digit(d, synth.knobs.fresh(d, rng=rng))
        t1 = time.monotonic()
        out.play(r.wave, sr)
        render_ms.append(1e3 * (t1 - t0))
        w = resample(r.wave, sr, RATE)
        events.add(t0, w)
        audio_only.add(t1, w)

    for d in range(3):  # warm-up
        synth.render_digit(d, synth.knobs.fresh(d, rng=rng))

    for prepare, key_row, audio_row in (
        (False, "key press after idle (direct)", "play() call after idle -> first sample (audio only)"),
        (True, "key press after idle, prepare() at the event (direct)",
         "play() call after idle, prepared -> first sample (audio only)"),
    ):  # fmt: skip
        rec = TimedRecorder(pulse.monitor_name)
        idle, idle_audio = Events(), Events()
        for i in range(n):
            wait_closed(out)
            time.sleep(0.05 + 0.05 * rng.random())
            press(i % 10, idle, idle_audio, prepare=prepare)
            time.sleep(0.9)
        x = rec.stop()
        res[key_row] = (idle, x, rec)
        res[audio_row] = (idle_audio, x, rec)

    rec = TimedRecorder(pulse.monitor_name)
    busy, busy_audio = Events(skip_s=0.05), Events(skip_s=0.05)
    for i in range(n):
        r = synth.render_digit(9 - i % 10, synth.knobs.fresh(9 - i % 10, rng=rng))
        out.play(r.wave, sr)
        time.sleep(0.15 + 0.02 * rng.random())
        press(i % 10, busy, busy_audio)
        time.sleep(0.75)
    x = rec.stop()
    res["key press while playing (direct)"] = (busy, x, rec)
    res["play() call while playing -> first sample (audio only)"] = (busy_audio, x, rec)

    rec = TimedRecorder(pulse.monitor_name)
    # successive renders of a sweep sound alike: search only until the next event (100 ms later)
    sweep = Events(template_s=0.06, fade_in_s=0.03, skip_s=0.035, search_s=0.095)
    knobs = synth.knobs.fresh(5, rng=rng)
    for i in range(n):
        knobs = knobs.copy()
        knobs[i % len(knobs)] += 0.25 if (i // len(knobs)) % 2 == 0 else -0.25
        t0 = time.monotonic()
        r = synth.render_digit(5, knobs)
        out.play(r.wave, sr, crossfade_s=0.03)
        sweep.add(t0, resample(r.wave, sr, RATE))
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    x = rec.stop()
    res["knob sweep, new sound every 100 ms, cross-faded (direct)"] = (sweep, x, rec)
    wait_closed(out)
    out.close()
    audio_thread.shutdown()
    return {"paths": res, "render_ms": render_ms, "underruns": out.underruns, "latency_s": out.latency_s}


class AppDriver:
    """The one place that knows how to drive ``MainWindow`` (its public API may change; adapt only here)."""

    def __init__(self, model: str, keyboard: JackKeyboard | None = None) -> None:
        from PySide6.QtWidgets import QApplication

        from vaesynth.app.main_window import MainWindow
        from vaesynth.app.settings import file_settings

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.tmp = Path(tempfile.mkdtemp(prefix="vaesynth-bench-latency-"))
        midi = "jack" if keyboard is not None else None
        self.w = MainWindow(file_settings(self.tmp / "settings.ini"), model=model, restore=False, midi_api=midi)
        self.keyboard = keyboard
        self.ready = False
        self.results: list[tuple[float, object]] = []  # (monotonic time shown, RenderResult)
        self.w.model_ready.connect(lambda _i: setattr(self, "ready", True))
        self.w.render_shown.connect(lambda r: self.results.append((time.monotonic(), r)))
        self.w.show()
        self.pump_until(lambda: self.ready and self.w.audio_known, 120.0)
        if keyboard is not None:  # listen to the virtual keyboard; its first notes open the connection
            from vaesynth.midi.midi_ports import match_port

            ports = self.w.view.midi.ports
            names = lambda: [ports.itemText(i) for i in range(ports.count())]  # noqa: E731
            self.pump_until(lambda: match_port(keyboard.port_name, names()) is not None, 30)
            self.w.midi.choose(keyboard.port_name)
            shown = len(self.results)
            for _ in range(100):
                keyboard.note_on(WHITE_KEYS[0])
                self.pump(0.2)
                if len(self.results) > shown:
                    break
            keyboard.note_off(WHITE_KEYS[0])
            self.pump(1.0)

    def pump(self, seconds: float) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(max(1, round(seconds * 1000)), loop.quit)
        loop.exec()

    def pump_until(self, cond: Callable[[], bool], timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("the app did not get there in time")
            self.pump(0.02)

    def press(self, digit: int) -> None:
        self.w.press_digit(str(digit))

    def note(self, digit: int) -> None:
        """A note-on on the virtual keyboard's white key for ``digit``; its note-off follows 0.75 s
        later, near the sound's end."""
        key = WHITE_KEYS[digit]
        self.keyboard.note_on(key)
        from PySide6.QtCore import QTimer

        QTimer.singleShot(750, lambda: self.keyboard.note_off(key))

    def turn_knob(self, index: int, steps: int) -> None:
        """One user move of knob ``index`` by ``steps`` dial steps (what dragging it emits)."""
        dial = self.w.knob_panel.knobs[index].dial
        dial.setValue(dial.value() + steps)

    def show_pad(self) -> None:
        """The morph pad's tab, its corners the model's first four speakers."""
        morph = self.w.view.morph
        self.w.view.explore.setCurrentWidget(morph)
        for k, name in enumerate(self.w.model_info.speakers[:4]):
            morph.set_corner(k, name)
        self.pump(0.5)

    def click_pad(self, x: float, y: float) -> None:
        """A mouse press (and release) on the morph pad at ``(x, y)`` in 0..1: the puck jumps there."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        pad = self.w.view.morph.pad
        pos = pad.widget_pos(x, y)
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)

    def close(self) -> None:
        self.w.close()
        self.pump(0.3)
        shutil.rmtree(self.tmp, ignore_errors=True)


def bench_app(pulse, model: str, n: int, rng: np.random.Generator, midi: bool = True) -> dict:  # noqa: ANN001
    import sounddevice  # noqa: F401  (PortAudio before the JACK server: bench/common.py)

    from vaesynth.dsp.spectral import resample

    keyboard = JackKeyboard() if midi and shutil.which("jackd") else None
    drv = AppDriver(model, keyboard)
    res: dict = {}
    render_ms: list[float] = []

    def wave_after(t0: float):  # noqa: ANN202
        for ts, r in drv.results:
            if ts >= t0:
                render_ms.append(1e3 * (ts - t0))
                return resample(r.wave, r.sample_rate, RATE)
        return None

    def run(name: str, action: Callable[[int], None], before: Callable[[int], None], skip_s: float = 0.0) -> None:
        rec = TimedRecorder(pulse.monitor_name)
        ev = Events(skip_s=skip_s)
        pending = []
        for i in range(n):
            before(i)
            t0 = time.monotonic()
            action(i)
            drv.pump(0.8)
            pending.append(t0)
        x = rec.stop()
        for t0 in pending:
            w = wave_after(t0)
            if w is not None:
                ev.add(t0, w)
        res[name] = (ev, x, rec)

    for d in range(3):  # warm-up
        drv.press(d)
        drv.pump(0.8)

    def settle_idle(_i: int) -> None:
        # a digit lasts < 0.9 s and its stream closes ~0.1 s after it (vaesynth.sound.audio): idle after 1.1 s
        drv.pump(1.1 + 0.05 * rng.random())

    run("key press after idle (app)", lambda i: drv.press(i % 10), settle_idle)

    def start_other(i: int) -> None:
        drv.press(9 - i % 10)
        drv.pump(0.15 + 0.02 * rng.random())

    run("key press while playing (app)", lambda i: drv.press(i % 10), start_other, skip_s=0.05)

    def rest(_i: int) -> None:
        drv.pump(0.4)  # the app plays a knob change at once if it has not played one for 0.35 s

    run("knob change after a rest (app)", lambda i: drv.turn_knob(i % 4, 20 if (i // 4) % 2 == 0 else -20), rest)
    drv.show_pad()
    spots = rng.uniform(0.1, 0.9, size=(n, 2))
    run("morph pad click after a rest (app)", lambda i: drv.click_pad(*spots[i]), rest)
    if keyboard is not None:
        run("MIDI note-on after idle (app, JACK keyboard)", lambda i: drv.note(i % 10), settle_idle)
        run("MIDI note-on while playing (app, JACK keyboard)", lambda i: drv.note(i % 10), start_other, skip_s=0.05)
    drv.close()
    if keyboard is not None:
        keyboard.close()
    return {"paths": res, "render_ms": render_ms}


def bench_espeak(pulse, n: int, rng: np.random.Generator) -> dict:  # noqa: ANN001
    import soundfile as sf

    from vaesynth.dsp.spectral import resample

    if shutil.which("espeak-ng") is None or shutil.which("paplay") is None:
        return {"skipped": "espeak-ng or paplay not installed (apt-get install espeak-ng pulseaudio-utils)"}
    ref_path = Path(tempfile.mkdtemp(prefix="vaesynth-espeak-")) / "ref.wav"
    subprocess.run(["espeak-ng", "-w", str(ref_path), ESPEAK_TEXT], check=True, capture_output=True)
    ref, sr = sf.read(str(ref_path), dtype="float32")
    ref48 = resample(ref if ref.ndim == 1 else ref.mean(axis=1), sr, RATE)
    cmd = f'espeak-ng --stdout "{ESPEAK_TEXT}" | paplay'
    rec = TimedRecorder(pulse.monitor_name)
    ev = Events()
    for _ in range(n):
        time.sleep(0.1 + 0.05 * rng.random())
        t0 = time.monotonic()
        p = subprocess.Popen(
            cmd, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        p.wait(timeout=10)
        ev.add(t0, ref48)
        time.sleep(0.2)
    x = rec.stop()
    # also: first sample above silence (-50 dBFS) after the event
    above: list[float] = []
    for t0, _, _ in ev.items:
        i0 = max(0, rec.index_at(t0))
        hit = np.flatnonzero(np.abs(x[i0 : i0 + RATE]) > 10 ** (-50 / 20))
        if hit.size:
            above.append(1e3 * (rec.offset + (i0 + hit[0]) / RATE - t0))
    shutil.rmtree(ref_path.parent, ignore_errors=True)
    return {
        "paths": {f'espeak-ng "{ESPEAK_TEXT}" | paplay: process start -> its sample 0': (ev, x, rec)},
        "above_silence": above,
    }


# ------------------------------------------------------------------------------------------------
# Wake-ups and underruns
# ------------------------------------------------------------------------------------------------


def pulse_pid() -> int:
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    return int(Path(run, "pulse", "pid").read_text().split()[0])


def ctx_switches(pid: int) -> int:
    total = 0
    for st in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(st) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def wakeups_per_s(seconds: float = 5.0) -> float:
    pid = pulse_pid()
    a = ctx_switches(pid)
    time.sleep(seconds)
    return (ctx_switches(pid) - a) / seconds


def bench_wakeups(synth, seconds: float) -> dict:  # noqa: ANN001
    import sounddevice as sd

    from vaesynth.sound.audio import AudioOutput

    rows: dict[str, float] = {}
    rows["idle, no client"] = wakeups_per_s(seconds)
    out = AudioOutput()
    r = synth.render_digit(7, synth.knobs.fresh(7, rng=0))
    out.play(r.wave, synth.sample_rate)
    time.sleep(1.0)
    wait_closed(out)
    rows["AudioOutput idle, 1 s after a sound"] = wakeups_per_s(seconds)
    from vaesynth.sound.audio import STANDBY_S

    out.play(r.wave, synth.sample_rate)
    out.prepare()  # what the app's audio bridge does after every sound: the next stream stands ready
    time.sleep(1.0)
    rows["the app's way, 1-2 s after a sound (the next stream prepared)"] = wakeups_per_s(1.0)
    time.sleep(max(0.0, STANDBY_S + 0.5 - 2.0))
    rows[f"the app's way, {STANDBY_S + 0.5:g} s after a sound (idle again)"] = wakeups_per_s(seconds)
    long = np.tile(r.wave, int(np.ceil((seconds + 1.0) * synth.sample_rate / len(r.wave))))
    out.play(long, synth.sample_rate)
    time.sleep(0.3)
    rows[f"AudioOutput playing (latency {out.latency_s * 1e3:.0f} ms)"] = wakeups_per_s(seconds)
    out.close()

    def silent(outdata, frames, time_info, status) -> None:  # noqa: ANN001
        outdata.fill(0)

    s = sd.OutputStream(samplerate=RATE, channels=1, dtype="float32", latency=0.05, callback=silent)
    rows["old design: stream open, stopped (50 ms)"] = wakeups_per_s(seconds)
    s.start()
    time.sleep(0.2)
    rows["old design: stream running silent (50 ms), 10 s after each sound"] = wakeups_per_s(seconds)
    s.abort()
    s.close()
    return rows


def bench_underruns(synth, latencies: list[float], seconds: float) -> list[dict]:  # noqa: ANN001
    from vaesynth.sound.audio import AudioOutput

    rows = []
    for busy in (False, True):
        hog = None
        if busy:
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for lat in latencies:
                out = AudioOutput(latency=lat)
                knobs = synth.knobs.fresh(3, rng=1)
                pid = pulse_pid()
                c0, t_start = ctx_switches(pid), time.monotonic()
                i = 0
                plays = 0
                while time.monotonic() - t_start < seconds:
                    t0 = time.monotonic()
                    knobs = knobs.copy()
                    knobs[i % len(knobs)] += 0.2 if (i // len(knobs)) % 2 == 0 else -0.2
                    r = synth.render_digit(3, knobs)
                    plays += bool(out.play(r.wave, synth.sample_rate, crossfade_s=0.03))
                    i += 1
                    time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
                wake = (ctx_switches(pid) - c0) / (time.monotonic() - t_start)
                wait_closed(out)
                rows.append(
                    {
                        "latency_setting_s": lat,
                        "reported_latency_s": out.latency_s,
                        "busy_loop": busy,
                        "sounds": plays,
                        "underruns": out.underruns,
                        "server_wakeups_per_s": wake,
                        "load": load(),
                    }
                )
                out.close()
                print(f"  latency {lat * 1e3:.0f} ms, busy loop {busy}: {rows[-1]['underruns']} underruns", flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    return rows


def bench_streams(pulse, latencies: list[float], n: int, wake_s: float, rng: np.random.Generator) -> list[dict]:  # noqa: ANN001
    """Plain sounddevice streams per latency setting (no vaesynth code): how late a sound is heard when
    a stream is started for it, and when it is handed to a stream that is already running; and the
    sound server's wake-ups with such a stream open but stopped, and running (silent, no recorder)."""
    import sounddevice as sd

    class Player:
        def __init__(self, lat: float) -> None:
            self.wave: np.ndarray | None = None
            self.pos = 0
            self.stream = sd.OutputStream(
                samplerate=RATE, channels=1, dtype="float32", latency=lat, callback=self.callback
            )

        def callback(self, outdata, frames, time_info, status) -> None:  # noqa: ANN001
            outdata.fill(0)
            w = self.wave
            if w is not None:
                k = max(0, min(frames, len(w) - self.pos))
                outdata[:k, 0] = w[self.pos : self.pos + k]
                self.pos += frames

        def play(self, w: np.ndarray) -> None:
            self.pos = 0
            self.wave = w  # one assignment: the callback sees the old sound or the new one

    def burst() -> np.ndarray:
        return (rng.standard_normal(round(0.2 * RATE)) * 0.2).astype(np.float32)

    rows = []
    for lat in latencies:
        rec = TimedRecorder(pulse.monitor_name)
        fresh, running = Events(), Events()
        for _ in range(n):
            w = burst()
            t0 = time.monotonic()
            p = Player(lat)
            p.play(w)
            p.stream.start()
            fresh.add(t0, w)
            time.sleep(0.3 + 0.05 * rng.random())
            w = burst()
            t0 = time.monotonic()
            p.play(w)
            running.add(t0, w)
            time.sleep(0.3)
            p.stream.abort()
            p.stream.close()
            time.sleep(0.05)
        x = rec.stop()
        row = {"latency_setting_s": lat, "reported_latency_s": float(p.stream.latency), "load": load()}
        for name, ev in (("fresh", fresh), ("running", running)):
            lat_ms, bad = ev.latencies_ms(x, rec)
            row[name] = {**stats(lat_ms), "not_located": bad}
        p = Player(lat)
        row["wakeups_open_stopped"] = wakeups_per_s(wake_s)
        p.stream.start()
        time.sleep(0.2)
        row["wakeups_running"] = wakeups_per_s(wake_s)
        p.stream.abort()
        p.stream.close()
        rows.append(row)
        print(f"  latency {lat * 1e3:.0f} ms: {row}", flush=True)
    return rows


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def record_child(source: str, rate: int, folder: Path) -> int:
    """The recorder's child process: ``parec`` -> ``data.f32``; ``marks.npy``: (arrival time, samples so far)."""
    import signal

    def finish(*_args: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, finish)
    proc = subprocess.Popen(
        ["parec", "--raw", "--format=float32le", "--channels=1", f"--rate={rate}", "--latency-msec=2",
         "--client-name=vaesynth-bench", "--stream-name=latency-recorder", "-d", source],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    marks: list[tuple[float, int]] = []
    n = 0
    try:
        with open(folder / "data.f32", "wb") as out:
            while True:
                chunk = os.read(fd, 1 << 16)
                t = time.monotonic()
                if not chunk:
                    break
                out.write(chunk)
                n += len(chunk)
                marks.append((t, n // 4))
                if len(marks) == 1:
                    (folder / "ready").touch()
    finally:
        proc.terminate()
        np.save(folder / "marks.npy", np.array(marks, dtype=np.float64).reshape(-1, 2))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--record-child"]:
        return record_child(argv[1], int(argv[2]), Path(argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="events per path (default 40)")
    ap.add_argument("--model", default="cvae")
    ap.add_argument("--only", default="direct,app,espeak,wakeups,underruns", help="comma-separated; also: streams")
    ap.add_argument("--sweep-latencies", default="0.01,0.02,0.03,0.05")
    ap.add_argument("--sweep-seconds", type=float, default=6.0)
    ap.add_argument("--wake-seconds", type=float, default=5.0)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    only = set(args.only.split(","))

    run_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    if not run_dir or not run_dir.startswith(tempfile.gettempdir()):
        print("set XDG_RUNTIME_DIR to a private folder first (e.g. /tmp/xdg-audio): this starts its own PulseAudio")
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from audio_utils import PulseServer

    pulse = PulseServer.ensure()
    import sounddevice as sd

    if sd.default.device[1] < 0:
        sd._terminate()
        sd._initialize()
    from vaesynth.engine.synth import Synth

    synth = Synth.from_path(args.model)
    rng = np.random.default_rng(args.seed)
    load_before = load()
    results: dict = {"paths": {}, "load_before": load_before}
    lines: list[str] = []
    render_note = ""

    def collect(part: dict) -> None:
        for name, (ev, x, rec) in part["paths"].items():
            lat, bad = ev.latencies_ms(x, rec)
            results["paths"][name] = {**stats(lat), "not_located": bad, "load": load()}
            print(f"  {name}: {results['paths'][name]}", flush=True)

    if "direct" in only:
        print("direct: Synth + AudioOutput …", flush=True)
        part = bench_direct(pulse, synth, args.n, rng)
        collect(part)
        rs = stats(part["render_ms"])
        render_note += f"direct render (event -> play call) p50 {rs['p50']:.1f} / p95 {rs['p95']:.1f} ms. "
        results["direct_render_ms"] = rs
    if "app" in only:
        print("app: MainWindow in-process …", flush=True)
        try:
            part = bench_app(pulse, args.model, args.n, rng)
            collect(part)
            rs = stats(part["render_ms"])
            render_note += f"app event -> render shown p50 {rs['p50']:.1f} / p95 {rs['p95']:.1f} ms. "
            results["app_render_ms"] = rs
        except Exception as e:  # noqa: BLE001 - the app is refactored elsewhere; report and go on
            results["app_error"] = f"{type(e).__name__}: {e}"
            print(f"  app path skipped: {results['app_error']}", flush=True)
    if "espeak" in only:
        print("espeak-ng | paplay …", flush=True)
        part = bench_espeak(pulse, args.n, rng)
        if "skipped" in part:
            results["espeak_skipped"] = part["skipped"]
            print("  " + part["skipped"])
        else:
            collect(part)
            results["paths"][f'espeak-ng "{ESPEAK_TEXT}" | paplay: process start -> first sample above -50 dBFS'] = {
                **stats(part["above_silence"]),
                "not_located": args.n - len(part["above_silence"]),
                "load": load(),
            }
    if "wakeups" in only:
        print("wake-ups …", flush=True)
        results["wakeups"] = bench_wakeups(synth, args.wake_seconds)
    if "underruns" in only:
        print("underruns …", flush=True)
        lats = [float(v) for v in args.sweep_latencies.split(",")]
        results["underruns"] = bench_underruns(synth, lats, args.sweep_seconds)
    if "streams" in only:
        print("plain streams per latency setting …", flush=True)
        lats = [float(v) for v in args.sweep_latencies.split(",")]
        results["streams"] = bench_streams(pulse, lats, max(5, args.n // 2), args.wake_seconds, rng)
    results["load_after"] = load()

    cpu = platform.processor() or platform.machine()
    lines.append(
        f"Machine: {cpu}, {os.cpu_count()} cores (shared), load average {load_before} before, "
        f"{results['load_after']} after; model {args.model}; PulseAudio null sink, recorded at its monitor."
    )
    if render_note:
        lines.append("")
        lines.append(render_note.strip())
    if results["paths"]:
        lines += ["", "| path: event -> first sample at the sink | n | p50 (ms) | p95 (ms) | max (ms) | load (1 min) |"]
        lines.append("|---|---:|---:|---:|---:|---:|")
        for name, s in results["paths"].items():
            if s.get("n"):
                miss = f" ({s['not_located']} not located)" if s.get("not_located") else ""
                shown = name.replace("|", chr(92) + "|")  # a pipe inside a markdown cell
                lines.append(
                    f"| {shown}{miss} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['max']:.1f} | "
                    f"{s['load'].split('/')[0]} |"
                )
            else:
                lines.append(f"| {name.replace('|', chr(92) + '|')} | 0 | - | - | - | {s['load'].split('/')[0]} |")
    if "app_error" in results:
        lines.append(f"\nApp path skipped: {results['app_error']}")
    if "wakeups" in results:
        lines += ["", "| sound server state | wake-ups per second |", "|---|---:|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in results["wakeups"].items()]
    if "underruns" in results:
        lines += [
            "",
            "| PortAudio latency setting | reported | other core busy | sounds | underruns | server wake-ups/s "
            "| load |",
            "|---:|---:|---|---:|---:|---:|---|",
        ]
        for r in results["underruns"]:
            lines.append(
                f"| {r['latency_setting_s'] * 1e3:.0f} ms | {r['reported_latency_s'] * 1e3:.1f} ms | "
                f"{'yes' if r['busy_loop'] else 'no'} | {r['sounds']} | {r['underruns']} | "
                f"{r['server_wakeups_per_s']:.0f} | {r['load']} |"
            )
    if "streams" in results:
        lines += [
            "",
            "| plain stream, latency setting | sound started with the stream: p50 / p95 (ms) | sound handed to the "
            "running stream: p50 / p95 (ms) | n | server wake-ups/s: open, stopped | running | load |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in results["streams"]:
            f, g = r["fresh"], r["running"]
            nan = float("nan")
            lines.append(
                f"| {r['latency_setting_s'] * 1e3:.0f} ms | {f.get('p50', nan):.1f} / {f.get('p95', nan):.1f} | "
                f"{g.get('p50', nan):.1f} / {g.get('p95', nan):.1f} | {f.get('n', 0)} | "
                f"{r['wakeups_open_stopped']:.0f} | {r['wakeups_running']:.0f} | {r['load']} |"
            )
    text = "\n".join(lines)
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
