"""Responsiveness benchmark for the desktop app (vaesynth.app).

    python bench/bench_app.py                     # start-up (5 launches) + stress (2 rounds)
    python bench/bench_app.py --only startup --launches 10
    python bench/bench_app.py --only stress --presses 500 --knob-moves 500 --rounds 3
    python bench/bench_app.py --json out.json     # also write the figures as JSON

What is measured:

- ``startup``: ``python main.py`` launched as a child process, exactly the user's path
  (``vaesynth.cli.cli.main`` -> ``run_app``). The clock starts in this process just before the child
  is spawned (interpreter start-up counts) and stops at the window's first paint ("visible"),
  then at the moment its model is loaded and the knobs are built ("ready"). The child redirects
  QSettings to a temporary folder so the user's settings are neither read nor written. The
  display is a private Xvfb server started once beforehand when Xvfb is installed (a real X11
  platform plugin), else Qt's offscreen platform.
- ``stress``: in one process, a shown window on the default model, real audio output (the test
  suite's PulseAudio null sink when PulseAudio is there, else no-device mode). Rounds of N rapid
  key presses (number row, every 10th on the numpad, one every 5 ms through the window's real
  shortcuts), then M knob moves (sweeping each dial across its range in 0.4-unit steps, one move
  every 5 ms), with a Randomize and a digit string every 100 actions. A 10 ms ``PreciseTimer``
  records how late it fires during all of that (the GUI event loop's lateness: a late timer is
  a blocked loop). RSS (``/proc/self/statm``) is taken after a warm-up round and after each
  measured round (the warm-up is one unmeasured round), each time once the app is idle and after
  ``gc.collect()``; then again after glibc's ``malloc_trim(0)``, which hands free heap pages back to
  the OS, so that allocator fragmentation (several threads allocate numpy buffers) is not
  mistaken for a leak.

- ``drag``: a shown window on the default model (annotated: it has a voice map), real audio
  output. A left-button drag with real mouse events (``QTest.mousePress``/``mouseMove``/
  ``mouseRelease``, one move every 16 ms, a 60 Hz mouse) along a closed path, first across the
  voice map (through the cloud of dots), then across the morph pad (four speakers in the
  corners). Every move changes the knobs and submits a render at once (the scheduler keeps one in
  flight and only the newest waiting). The audio output is wrapped so that the moment each sound
  is handed to PortAudio is recorded (on the audio thread, when ``AudioOutput.play`` returns).
  For each move event: the time from just before the event is delivered to the first sound
  handed to the output that renders this position or a later one (a position replaced before it
  was rendered is heard through the newer one). Also from the event to the render shown. The
  sound starts on a fresh stream, 1-2 ms from the hand-over to the sink (``bench/bench_latency.py``).

- ``midi``: a shown window on the default model listening to a virtual MIDI keyboard (a private JACK
  server, dummy driver, started here; ``jackd`` must be installed). N note-ons on the white keys
  C4..E5, one every 150 ms, Hold voice on (a note comes 150 ms after the last: the keypad's sounds
  are usually rendered ahead, see vaesynth/app/render_ahead.py). For each: note-on sent -> the
  render shown on the GUI thread, and -> its sound handed to the output (when ``play`` returns).
  The output is a stand-in that only records; ``bench/bench_latency.py --only app`` measures
  note-on -> first sample at the PulseAudio sink with the real output.

The machine is shared (2 cores): the load average is printed before and after; rerun when high.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROBE_MS = 10
ACTION_MS = 5


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def trimmed_rss_mb() -> float:
    """RSS after ``malloc_trim(0)``: free heap pages go back to the OS, so what is left is live memory."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss_mb()


from common import WHITE_KEYS, JackKeyboard, loadavg, spin  # noqa: E402  (bench/common.py)

# ------------------------------------------------------------------------------------------------
# start-up
# ------------------------------------------------------------------------------------------------


def child_startup() -> int:
    """Runs in the launched child: the normal CLI launch, plus an event filter that reports times."""
    t0 = float(os.environ["VAESYNTH_BENCH_T0"])
    from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    tmp = tempfile.mkdtemp(prefix="vaesynth-bench-settings-")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, tmp)
    app = QApplication(sys.argv[:1])

    class FirstPaint(QObject):
        seen = False

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
            if not self.seen and event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
                self.seen = True
                print(f"visible {time.time() - t0:.4f}", flush=True)

                def ready(_info: object) -> None:
                    print(f"ready {time.time() - t0:.4f}", flush=True)
                    QTimer.singleShot(0, app.quit)

                obj.model_ready.connect(ready)
                obj.model_error.connect(lambda m: (print(f"error {m}", flush=True), app.quit()))
            return False

    watcher = FirstPaint()
    app.installEventFilter(watcher)
    from vaesynth.cli import main

    status = main(sys.argv[2:])
    shutil.rmtree(tmp, ignore_errors=True)
    return status


def start_xvfb() -> tuple[subprocess.Popen | None, str | None]:
    if shutil.which("Xvfb") is None:
        return None, None
    display = f":{90 + os.getpid() % 500}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            time.sleep(0.2)
            return proc, display
        time.sleep(0.05)
    proc.kill()
    return None, None


def bench_startup(launches: int, model: str | None) -> dict:
    xvfb, display = start_xvfb()
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
        env.pop("QT_QPA_PLATFORM", None)
        platform = f"xcb on Xvfb {display}"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
        platform = "offscreen"
    visible, ready = [], []
    try:
        for _ in range(launches):
            args = [sys.executable, str(Path(__file__).resolve()), "--child-startup"]
            if model:
                args += ["--model", model]
            env["VAESYNTH_BENCH_T0"] = repr(time.time())
            out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
            times = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
            if "visible" not in times or "ready" not in times:
                raise RuntimeError(f"launch failed (exit {out.returncode}): {out.stdout} {out.stderr[-2000:]}")
            visible.append(float(times["visible"]))
            ready.append(float(times["ready"]))
    finally:
        if xvfb is not None:
            xvfb.kill()
            xvfb.wait()
    return {
        "platform": platform,
        "launches": launches,
        "visible_s": {"median": float(np.median(visible)), "max": max(visible), "all": visible},
        "ready_s": {"median": float(np.median(ready)), "max": max(ready), "all": ready},
    }


# ------------------------------------------------------------------------------------------------
# stress
# ------------------------------------------------------------------------------------------------


def bench_stress(presses: int, knob_moves: int, rounds: int, model: str | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "tests"))
    audio_note = "no-device mode"
    try:
        from audio_utils import PulseServer

        pulse = PulseServer.ensure()
        audio_note = f"PulseAudio null sink {pulse.sink_name}"
    except Exception as e:  # noqa: BLE001
        pulse = None
        audio_note = f"no-device mode ({e})"

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="vaesynth-bench-"))
    models_root = None
    from vaesynth.model.catalog import list_bundles

    if not list_bundles():
        from training.bundling import untrained_bundle

        for kind in ("cvae", "cnn", "mlp"):
            untrained_bundle(kind, tmp / "models" / kind)
        models_root = tmp / "models"
    w = MainWindow(file_settings(tmp / "settings.ini"), model=model, models_root=models_root, restore=False)
    info: dict = {}
    w.model_ready.connect(lambda i: info.update(model=i))
    w.show()

    def spin_until(cond, timeout_s: float = 60.0) -> None:  # noqa: ANN001
        spin(app, cond, timeout_s)

    def idle() -> bool:
        return w.scheduler.idle

    def settle(seconds: float) -> None:
        spin_until(idle)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)

    spin_until(lambda: "model" in info and w.audio_known)
    mi = info["model"]
    counts = {"shown": 0, "errors": 0, "played": 0}
    w.render_shown.connect(lambda _r: counts.__setitem__("shown", counts["shown"] + 1))
    w.render_error.connect(lambda _m: counts.__setitem__("errors", counts["errors"] + 1))
    w.playback_started.connect(lambda _t: counts.__setitem__("played", counts["played"] + 1))

    def actions(n_press: int, n_knob: int) -> list:
        acts = []
        for i in range(n_press):
            key = Qt.Key(Qt.Key.Key_0.value + (i * 7) % 10)
            mod = Qt.KeyboardModifier.KeypadModifier if i % 10 == 9 else Qt.KeyboardModifier.NoModifier
            acts.append(lambda key=key, mod=mod: QTest.keyClick(w, key, mod))
        dials = [k.dial for k in w.knob_panel.knobs]
        sweep = list(range(-300, 301, 40)) + list(range(300, -301, -40))
        for i in range(n_knob):
            dial = dials[(i // len(sweep)) % len(dials)]
            v = sweep[i % len(sweep)]
            acts.append(lambda dial=dial, v=v: dial.setValue(v))
        for j in range(0, len(acts), 100):  # a Randomize and a phone number every 100 actions
            acts.insert(j + 50, w.knob_panel.randomize.click)
            acts.insert(j + 99, lambda: (w.say_box.set_text("(555) 010-2025"), w.play_text()))
        return acts

    lateness: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            lateness.append(max(0.0, now - last[0] - PROBE_MS / 1000))
        last[0] = now

    probe.timeout.connect(tick)

    def run_round(acts: list, measure: bool) -> float:
        queue = list(acts)
        driver = QTimer()
        driver.setTimerType(Qt.TimerType.PreciseTimer)
        driver.setInterval(ACTION_MS)
        driver.timeout.connect(lambda: queue.pop(0)() if queue else driver.stop())
        t0 = time.perf_counter()
        if measure:
            last[0] = 0.0
            probe.start()
        driver.start()
        spin_until(lambda: not queue and idle(), timeout_s=600)
        elapsed = time.perf_counter() - t0
        probe.stop()
        return elapsed

    warm = actions(presses, knob_moves)  # a full round, so that caches and arenas are grown before measuring
    run_round(warm, measure=False)
    settle(1.5)
    gc.collect()
    rss = [rss_mb()]
    trimmed = [trimmed_rss_mb()]
    elapsed = []
    n_actions = 0
    for _ in range(rounds):
        acts = actions(presses, knob_moves)
        n_actions += len(acts)
        elapsed.append(run_round(acts, measure=True))
        settle(1.5)
        gc.collect()
        rss.append(rss_mb())
        trimmed.append(trimmed_rss_mb())
    w.shutdown()
    w.close()
    if pulse is not None and pulse.started_server:
        pulse.close()
    shutil.rmtree(tmp, ignore_errors=True)
    lat = np.asarray(lateness) * 1e3
    return {
        "model": f"{mi.display_name} ({mi.latent_dim}-D, {mi.path})",
        "audio": audio_note,
        "rounds": rounds,
        "actions_per_round": n_actions // rounds,
        "presses_per_round": presses,
        "knob_moves_per_round": knob_moves,
        "round_seconds": elapsed,
        "renders_shown": counts["shown"],
        "render_errors": counts["errors"],
        "plays_started": counts["played"],
        "loop_lateness_ms": {
            "n": int(lat.size),
            "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)),
            "p99": float(np.percentile(lat, 99)),
            "max": float(lat.max()),
        },
        "rss_mb": {"after_warmup": rss[0], "after_each_round": rss[1:], "growth_last_round": rss[-1] - rss[-2]},
        "rss_trimmed_mb": {
            "after_warmup": trimmed[0],
            "after_each_round": trimmed[1:],
            "growth_last_round": trimmed[-1] - trimmed[-2],
        },
    }


class TimedOutput:
    """Wraps an audio output; records ``(perf_counter, wave)`` whenever ``play`` has handed a sound
    over."""

    def __init__(self, out) -> None:  # noqa: ANN001
        self._out = out
        self.plays: list[tuple[float, object]] = []

    def play(self, wave, sample_rate, crossfade_s=0.0):  # noqa: ANN001, ANN201
        ok = self._out.play(wave, sample_rate, crossfade_s=crossfade_s)
        self.plays.append((time.perf_counter(), wave))
        return ok

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._out, name)


def bench_drag(moves: int, model: str | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from audio_utils import PulseServer

        pulse = PulseServer.ensure()
        audio_note = f"PulseAudio null sink {pulse.sink_name}"
    except Exception as e:  # noqa: BLE001
        pulse, audio_note = None, f"no-device mode ({e})"
    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.messages import Origin
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme
    from vaesynth.sound.audio import AudioOutput

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="vaesynth-bench-drag-"))
    outputs: list[TimedOutput] = []
    factory = lambda: outputs.append(TimedOutput(AudioOutput())) or outputs[-1]  # noqa: E731
    w = MainWindow(file_settings(tmp / "settings.ini"), model=model, restore=False, audio_factory=factory)
    w.resize(1280, 800)
    w.show()

    def spin_app(cond, timeout_s: float = 60.0) -> None:  # noqa: ANN001
        spin(app, cond, timeout_s)

    spin_app(lambda: w.model_info is not None and w.audio_known)
    if not w.view.voice_map.has_map:
        raise SystemExit(f"the model has no voice map: {w.view.voice_map.empty_text()}")
    shown: list[tuple[float, object]] = []
    w.render_shown.connect(lambda r: shown.append((time.perf_counter(), r)))
    view, pad = w.view.voice_map, w.view.morph.pad

    def map_path(n: int) -> tuple[object, list[QPoint]]:
        pts = view.widget_pos  # map point -> pixel
        lo, hi = np.percentile(w.model_info.voice.voice_map.points, [10, 90], axis=0)
        c, r = (lo + hi) / 2, (hi - lo) / 2
        t = np.linspace(0, 2 * np.pi, n)
        return view.plot.viewport(), [pts((c[0] + r[0] * np.cos(a), c[1] + r[1] * np.sin(2 * a))) for a in t]

    def pad_path(n: int) -> tuple[object, list[QPoint]]:
        t = np.linspace(0, 2 * np.pi, n)
        return pad, [pad.widget_pos(0.5 + 0.45 * np.cos(a), 0.5 + 0.45 * np.sin(3 * a)) for a in t]

    def run(widget, points: list[QPoint], origin) -> dict:  # noqa: ANN001
        w.press_digit("5", play=False)
        spin_app(lambda: w.scheduler.idle)
        events: list[tuple[float, tuple]] = []  # (time the event was sent, knobs it set)
        sent = [0.0]
        queue = list(points[1:])

        def edited(controls, edit_origin, _play) -> None:  # noqa: ANN001 - the drag's edit, as the window sees it
            if edit_origin is origin:
                events.append((sent[0], tuple(float(v) for v in controls.knobs)))

        w.voice.edited.connect(edited)
        sent[0] = time.perf_counter()  # a press on the pad moves the puck at once
        QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])

        def move() -> None:
            if not queue:
                driver.stop()
                return
            sent[0] = time.perf_counter()
            QTest.mouseMove(widget, queue.pop(0))

        driver = QTimer()
        driver.setTimerType(Qt.TimerType.PreciseTimer)
        driver.setInterval(16)
        driver.timeout.connect(move)
        n_shown, n_plays = len(shown), len(outputs[0].plays)
        driver.start()
        spin_app(lambda: not queue, timeout_s=600)
        QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
        spin_app(lambda: w.scheduler.idle, timeout_s=60)
        t_end = time.monotonic() + 0.5
        spin_app(lambda: time.monotonic() > t_end)
        w.voice.edited.disconnect(edited)
        mine = [(t, r) for t, r in shown[n_shown:] if r.request.origin is origin]
        order = {e[1]: k for k, e in enumerate(events)}  # knobs -> index of the event that set them
        rendered = [(t, order.get(r.request.knobs, -1), r) for t, r in mine]
        by_wave = {id(r.wave): k for _, k, r in rendered}
        played = [(t, by_wave[id(wv)]) for t, wv in outputs[0].plays[n_plays:] if id(wv) in by_wave]
        to_sound, to_shown = [], []
        for k, (te, _) in enumerate(events):
            s = [t - te for t, j in played if j >= k and t >= te]
            v = [t - te for t, j, _ in rendered if j >= k and t >= te]
            if s:
                to_sound.append(min(s))
            if v:
                to_shown.append(min(v))
        ms = lambda xs: {  # noqa: E731
            "n": len(xs), "p50": float(np.percentile(xs, 50) * 1e3), "p95": float(np.percentile(xs, 95) * 1e3),
            "max": float(np.max(xs) * 1e3),
        }  # fmt: skip
        return {
            "events": len(events), "renders": len(rendered), "sounds": len(played),
            "render_ms_median": float(np.median([r.elapsed_s for _, _, r in rendered]) * 1e3),
            "event_to_sound_ms": ms(to_sound), "event_to_shown_ms": ms(to_shown),
        }  # fmt: skip

    w.view.explore.setCurrentWidget(view)
    spin_app(lambda: True)
    out = {"map": run(*map_path(moves), Origin.MAP)}
    w.view.explore.setCurrentWidget(w.view.morph)
    for k, name in enumerate(w.model_info.speakers[:4]):
        w.view.morph.set_corner(k, name)
    spin_app(lambda: w.scheduler.idle)
    out["pad"] = run(*pad_path(moves), Origin.PAD)
    latency = w.audio.latency_s()
    out["output_latency_ms"] = None if latency is None else latency * 1e3
    out["audio"] = audio_note
    out["model"] = w.model_info.display_name
    w.shutdown()
    w.close()
    if pulse is not None and pulse.started_server:
        pulse.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return out


class NullOutput:
    """An output that plays nothing and records when each sound was handed over."""

    available, status, device, sample_rate, latency_s = True, "null output (bench)", None, 8000, None

    def __init__(self) -> None:
        self.plays: list[tuple[float, object]] = []

    def devices(self) -> list[dict]:
        return [{"index": 0, "name": "null", "default_samplerate": 8000.0, "default": True}]

    def play(self, wave, sample_rate, crossfade_s: float = 0.0) -> bool:  # noqa: ANN001
        self.plays.append((time.perf_counter(), wave))
        return True

    def stop(self) -> None:
        pass

    def set_device(self, index) -> None:  # noqa: ANN001
        pass

    def position(self) -> None:
        return None


def bench_midi_notes(notes: int, model: str | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import sounddevice  # noqa: F401  (PortAudio before the JACK server: see bench/common.py)
    from PySide6.QtWidgets import QApplication

    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.settings import file_settings
    from vaesynth.app.theme import apply_theme
    from vaesynth.midi.midi_ports import PortState, match_port

    keyboard = JackKeyboard()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="vaesynth-bench-midi-"))
    output = NullOutput()
    w = MainWindow(file_settings(tmp / "s.ini"), model=model, restore=False, audio_factory=lambda: output,
                   midi_api="jack")  # fmt: skip
    w.resize(1280, 800)
    w.show()

    def spin_app(cond, timeout_s: float = 60.0) -> None:  # noqa: ANN001
        spin(app, cond, timeout_s, slice_ms=5, nap_s=0.001)

    spin_app(lambda: w.model_info is not None and w.audio_known)
    spin_app(
        lambda: any(
            match_port(keyboard.port_name, [w.view.midi.ports.itemText(i)]) for i in range(w.view.midi.ports.count())
        )
    )
    w.midi.choose(keyboard.port_name)
    assert w.midi.status is not None and w.midi.status.state is PortState.OPEN
    w.hold_voice.setChecked(True)
    shown: list[tuple[float, object]] = []
    w.render_shown.connect(lambda r: shown.append((time.perf_counter(), r)))
    for _ in range(100):  # the new JACK connection is live a cycle or more after open
        keyboard.note_on(60)
        try:
            spin_app(lambda: bool(shown), 0.2)
            break
        except TimeoutError:
            continue
    spin_app(lambda: w.scheduler.idle)
    white = WHITE_KEYS
    to_shown, to_sound, render = [], [], []
    for k in range(notes):
        n_shown, n_plays = len(shown), len(output.plays)
        t0 = time.perf_counter()
        keyboard.note_on(white[k % 10])
        spin_app(lambda n_shown=n_shown, n_plays=n_plays: len(shown) > n_shown and len(output.plays) > n_plays, 10)
        t_shown, r = shown[n_shown]
        t_play = next(t for t, wave in output.plays[n_plays:] if len(wave) == len(r.wave))  # (scaled by velocity)
        to_shown.append(t_shown - t0)
        to_sound.append(t_play - t0)
        render.append(r.elapsed_s)
        keyboard.note_off(white[k % 10])
        end = time.monotonic() + 0.15
        spin_app(lambda end=end: time.monotonic() > end)
    w.shutdown()
    w.close()
    keyboard.close()
    shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda xs: {"p50": float(np.percentile(xs, 50) * 1e3), "p95": float(np.percentile(xs, 95) * 1e3)}  # noqa: E731
    return {"notes": notes, "model": model or "cvae", "note_to_shown_ms": ms(to_shown),
            "note_to_output_ms": ms(to_sound), "render_ms": ms(render)}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("startup", "stress", "drag", "midi"))
    p.add_argument("--notes", type=int, default=40, help="MIDI note-ons (the midi bench)")
    p.add_argument("--drag-moves", type=int, default=300, help="mouse moves per drag (map, then pad)")
    p.add_argument("--launches", type=int, default=5)
    p.add_argument("--presses", type=int, default=500)
    p.add_argument("--knob-moves", type=int, default=500)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--model", help="bundle name or folder (default: the default shipped model)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--child-startup", action="store_true", help=argparse.SUPPRESS)
    args, _ = p.parse_known_args()
    if args.child_startup:
        return child_startup()
    out: dict = {"loadavg_before": loadavg()}
    print(f"load average before: {out['loadavg_before']}")
    if args.only in (None, "startup"):
        r = out["startup"] = bench_startup(args.launches, args.model)
        print(
            f"start-up ({r['platform']}, {r['launches']} launches): window visible median "
            f"{r['visible_s']['median']:.2f} s (max {r['visible_s']['max']:.2f} s); model ready median "
            f"{r['ready_s']['median']:.2f} s (max {r['ready_s']['max']:.2f} s)"
        )
    if args.only in (None, "stress"):
        r = out["stress"] = bench_stress(args.presses, args.knob_moves, args.rounds, args.model)
        lat, mem, trim = r["loop_lateness_ms"], r["rss_mb"], r["rss_trimmed_mb"]
        print(f"stress: {r['model']}; audio: {r['audio']}")
        print(
            f"  {r['rounds']} rounds x {r['actions_per_round']} actions ({r['presses_per_round']} key presses, "
            f"{r['knob_moves_per_round']} knob moves, Randomize and strings), "
            f"{', '.join(f'{s:.1f}' for s in r['round_seconds'])} s; {r['renders_shown']} renders shown, "
            f"{r['plays_started']} plays, {r['render_errors']} errors"
        )
        print(
            f"  event-loop lateness ({lat['n']} ticks of a {PROBE_MS} ms timer): p50 {lat['p50']:.1f} ms, "
            f"p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms"
        )
        print(
            f"  RSS: {mem['after_warmup']:.0f} MB after warm-up, "
            f"{', '.join(f'{m:.0f}' for m in mem['after_each_round'])} MB after each round "
            f"(last round {mem['growth_last_round']:+.1f} MB)"
        )
        print(
            f"  RSS after malloc_trim: {trim['after_warmup']:.0f} MB after warm-up, "
            f"{', '.join(f'{m:.0f}' for m in trim['after_each_round'])} MB after each round "
            f"(last round {trim['growth_last_round']:+.1f} MB)"
        )
    if args.only == "midi":  # only when asked: it starts a JACK server
        r = out["midi"] = bench_midi_notes(args.notes, args.model)
        a, b, c = r["note_to_output_ms"], r["note_to_shown_ms"], r["render_ms"]
        print(
            f"midi: {r['notes']} note-ons from a virtual JACK keyboard ({r['model']}): note-on -> sound handed to "
            f"the output p50 {a['p50']:.1f} / p95 {a['p95']:.1f} ms; -> render shown p50 {b['p50']:.1f} / "
            f"p95 {b['p95']:.1f} ms; render p50 {c['p50']:.1f} / p95 {c['p95']:.1f} ms "
            "(a fresh stream: 1-2 ms more to the sink, bench/bench_latency.py)"
        )
    if args.only in (None, "drag"):
        r = out["drag"] = bench_drag(args.drag_moves, args.model)
        lat = r["output_latency_ms"]
        buffer = "not reported by this output" if lat is None else f"{lat:.0f} ms"
        print(
            f"drag: {r['model']}; audio: {r['audio']}; each sound starts on a fresh stream (1-2 ms to the sink, "
            f"bench/bench_latency.py), while its stream buffer is {buffer}"
        )
        for where in ("map", "pad"):
            d = r[where]
            s, v = d["event_to_sound_ms"], d["event_to_shown_ms"]
            print(
                f"  {where}: {d['events']} moves, {d['renders']} renders (median {d['render_ms_median']:.0f} ms), "
                f"{d['sounds']} sounds; event -> sound handed to the output p50 {s['p50']:.1f} / "
                f"p95 {s['p95']:.1f} / max {s['max']:.1f} ms; event -> render shown p50 {v['p50']:.1f} / "
                f"p95 {v['p95']:.1f} ms"
            )
    out["loadavg_after"] = loadavg()
    print(f"load average after: {out['loadavg_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
