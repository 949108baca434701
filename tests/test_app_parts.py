"""The app's widget-free parts: render scheduling, knob auto-play pacing, voice-mode decision,
request messages, model and device lists. Fast; no model, no window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("PySide6")

from vaesynth.app.messages import KnobMode, ModelEntry, Origin, RenderRequest, RenderResult  # noqa: E402
from vaesynth.app.pickers import SYSTEM_DEFAULT, device_choices, initial_model, with_opened  # noqa: E402
from vaesynth.app.playback import KnobPacer  # noqa: E402
from vaesynth.app.scheduler import RenderScheduler  # noqa: E402
from vaesynth.app.voice_mode import VoiceControls  # noqa: E402


def req(digit: str = "1", **kw) -> RenderRequest:  # noqa: ANN003
    return RenderRequest(digit=digit, knob_mode=KnobMode.FRESH, **kw)


# --- RenderScheduler ------------------------------------------------------------------------


def test_scheduler_keeps_one_in_flight_and_only_the_newest_waiting() -> None:
    started: list[RenderRequest] = []
    s = RenderScheduler(started.append)
    assert s.idle
    s.submit(req("1"))
    assert [r.digit for r in started] == ["1"] and s.inflight.digit == "1" and s.pending is None
    for d in "2345":  # arrive while "1" renders: each replaces the one waiting
        s.submit(req(d))
    assert [r.digit for r in started] == ["1"], "nothing else may start while one is in flight"
    assert s.pending.digit == "5" and s.dropped == 3 and s.submitted == 5
    assert s.finish() is True  # "1" was superseded by a newer request
    assert [r.digit for r in started] == ["1", "5"] and s.inflight.digit == "5" and s.pending is None
    assert s.finish() is False
    assert s.idle and len(started) == 2


def test_scheduler_generations_and_close() -> None:
    started: list[RenderRequest] = []
    s = RenderScheduler(started.append)
    first = s.submit(req("1"))
    s.submit(req("2"))
    assert first.generation == 0
    assert s.new_generation() == 1
    assert s.pending is None, "a new model drops the waiting request"
    assert not s.is_current(first)
    s.finish()
    assert s.idle  # nothing was waiting any more
    newer = s.submit(req("3"))
    assert newer.generation == 1 and s.is_current(newer) and started[-1] is newer
    s.adopt_generation(0)  # the load failed: back to the model in use
    assert s.is_current(first) and not s.is_current(newer)
    s.close()
    s.submit(req("4"))
    s.finish()
    assert [r.digit for r in started] == ["1", "3"], "nothing starts after close"


# --- KnobPacer ------------------------------------------------------------------------------


def simulate_pacer(every_s: float, render_times: list[float]) -> list[tuple[float, int]]:
    """Drive a pacer as PlaybackController does: renders arrive at ``render_times``; a timer
    fires at the due time. Returns (time played, render number)."""
    pacer: KnobPacer[int] = KnobPacer(every_s)
    played: list[tuple[float, int]] = []
    due: float | None = None
    events = sorted((t, i) for i, t in enumerate(render_times))
    for t, i in events:
        if due is not None and due <= t:
            played.append((due, pacer.take(due)))
            due = None
        delay = pacer.offer(i, t)
        if delay <= 0:
            played.append((t, pacer.take(t)))
        elif due is None:
            due = t + delay
    if due is not None:
        played.append((due, pacer.take(due)))
    return played


def test_knob_pacer_plays_at_least_every_interval_and_always_the_last() -> None:
    times = [0.004 + 0.031 * k for k in range(40)]  # a render every 31 ms for 1.2 s
    played = simulate_pacer(0.1, times)
    starts = [t for t, _ in played]
    assert played[0] == (times[0], 0), "the first render plays at once"
    assert played[-1][1] == len(times) - 1, "the last value always plays"
    gaps = np.diff(starts)
    assert gaps.max() <= 0.1 + 1e-9, gaps
    assert gaps.min() >= 0.1 - 1e-9, "never more often than the interval"
    # each play is the newest render available at that moment
    for t, i in played:
        assert i == max(j for j, tj in enumerate(times) if tj <= t + 1e-12)


def test_knob_pacer_offer_and_take() -> None:
    p: KnobPacer[str] = KnobPacer(0.1)
    assert p.offer("a", 10.0) == 0.0 and p.take(10.0) == "a"
    assert p.offer("b", 10.03) == pytest.approx(0.07)
    assert p.offer("c", 10.05) == pytest.approx(0.05) and p.waiting == "c"
    p.cancel()
    assert p.take(10.2) is None
    assert p.offer("d", 10.12) == pytest.approx(0.0), "a cancelled play does not count as played"


# --- VoiceControls and messages -------------------------------------------------------------


def test_voice_mode_decision() -> None:
    knobs = [0.5, -3.7, 1.25]
    fresh = VoiceControls(None, False, knobs, 0.8).request(digit="4")
    assert fresh.knob_mode is KnobMode.FRESH and fresh.knobs is None and fresh.temperature == 0.8
    held = VoiceControls(None, True, knobs, 0.8).request(text="12 34", origin=Origin.STRING)
    assert held.knob_mode is KnobMode.GIVEN and held.knobs == (0.5, -3.7, 1.25) and held.text == "12 34"
    preset = VoiceControls("george", True, knobs, 0.8).request(digit="4", play=False)
    assert preset.knob_mode is KnobMode.PRESET and preset.voice == "george" and preset.knobs is None
    assert not preset.play and preset.origin is Origin.KEY


def test_render_request_is_immutable_and_validated() -> None:
    r = RenderRequest(digit="3", knobs=[1, 2.5])
    assert r.knobs == (1.0, 2.5) and isinstance(r.knobs, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.play = False  # type: ignore[misc]
    assert dataclasses.replace(r, generation=4).generation == 4 and r.generation == 0
    with pytest.raises(ValueError, match="exactly one"):
        RenderRequest(digit="1", text="12", knobs=[0.0])
    with pytest.raises(ValueError, match="exactly one"):
        RenderRequest(knobs=[0.0])
    with pytest.raises(ValueError, match="needs knobs"):
        RenderRequest(digit="1", knob_mode=KnobMode.GIVEN)
    with pytest.raises(ValueError, match="needs a voice"):
        RenderRequest(digit="1", knob_mode=KnobMode.PRESET)


def test_render_result_label_keeps_the_typed_format() -> None:
    wave = np.zeros(8, np.float32)
    text = RenderRequest(text="+1 (415)  555-0123", knob_mode=KnobMode.FRESH)
    r = RenderResult(text, wave, 8000, np.zeros((1, 1), np.float32), 0.001, "14155550123", (), (0.0,), 0.01)
    assert r.label == "+1 (415) 555-0123"
    digit = dataclasses.replace(r, request=req("7"), digits="7")
    assert digit.label == "7"


# --- model and device lists -----------------------------------------------------------------


def test_initial_model_choice(tmp_path) -> None:  # noqa: ANN001
    entries = [
        ModelEntry("broken", "Broken", "/m/broken", None, "corrupt"),
        ModelEntry("cvae", "CVAE", "/m/cvae", 12),
        ModelEntry("cnn", "CNN", "/m/cnn", 32),
    ]
    assert initial_model(entries, None, None) == "/m/cvae", "the first readable one"
    assert initial_model(entries, None, "/m/cnn") == "/m/cnn"
    assert initial_model(entries, None, "/m/broken") == "/m/cvae", "never an unreadable remembered one"
    assert initial_model(entries, None, "/gone") == "/m/cvae"
    assert initial_model(entries, "cnn", "/m/cvae") == "/m/cnn", "a requested name wins"
    assert initial_model(entries, "/elsewhere/x", None) == "/elsewhere/x"
    assert initial_model(entries[:1], None, None) is None
    (tmp_path / "mine").mkdir()
    opened = with_opened(entries, [str(tmp_path / "mine"), "/m/cnn", str(tmp_path / "gone")])
    assert [e.path for e in opened] == [e.path for e in entries] + [str(tmp_path / "mine")]


def test_device_choices_show_one_entry_per_route() -> None:
    devices = [
        {"index": 0, "name": "HDA Intel PCH: ALC257 Analog (hw:0,0)", "default_samplerate": 48000.0, "default": False},
        {"index": 4, "name": "pulse", "default_samplerate": 44100.0, "default": False},
        {"index": 5, "name": "default", "default_samplerate": 44100.0, "default": True},
    ]
    choices = device_choices(devices)
    assert [c.label for c in choices] == [SYSTEM_DEFAULT, "HDA Intel PCH: ALC257 Analog (hw:0,0)"]
    assert [c.index for c in choices] == [None, 0]
    assert "pulse" in choices[0].tooltip and "default" in choices[0].tooltip
    assert device_choices([])[0].label == SYSTEM_DEFAULT


# --- PlaybackController (Qt timers, a fake output bridge) -----------------------------------


def test_playback_controller_paces_knob_plays_with_crossfade(qtbot) -> None:  # noqa: ANN001
    import time

    from PySide6.QtCore import QObject, Signal

    from vaesynth.app.playback import PlaybackController

    class FakeBridge(QObject):
        played = Signal(int, bool, str)

        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[float, float, float]] = []  # (first sample, crossfade_s, when)

        def play(self, wave, sample_rate, token, crossfade_s=0.0) -> None:  # noqa: ANN001
            self.calls.append((float(wave[0]), crossfade_s, time.monotonic()))
            self.played.emit(token, True, "ok")

        def stop(self) -> None:
            self.calls.append((-1.0, 0.0, time.monotonic()))

        def position(self) -> None:
            return None

    def result(marker: float) -> RenderResult:
        wave = np.full(80, marker, np.float32)
        return RenderResult(req(), wave, 8000, np.zeros((1, 1), np.float32), 0.01, "1", (), (0.0,), 0.0)

    bridge = FakeBridge()
    pc = PlaybackController(bridge, knob_every_s=0.1, knob_crossfade_s=0.02)  # type: ignore[arg-type]
    started: list[int] = []
    pc.started.connect(started.append)
    pc.play_knob(result(1.0))
    assert bridge.calls[0][:2] == (1.0, 0.02), "the first knob render plays at once, cross-faded"
    pc.play_knob(result(2.0))
    pc.play_knob(result(3.0))
    assert len(bridge.calls) == 1, "paced: not yet"
    qtbot.waitUntil(lambda: len(bridge.calls) == 2, timeout=2000)
    assert bridge.calls[1][:2] == (3.0, 0.02), "the newest waiting render, not the one it replaced"
    assert 0.08 <= bridge.calls[1][2] - bridge.calls[0][2] <= 0.5
    pc.play(result(4.0))
    assert bridge.calls[2][:2] == (4.0, 0.0), "a key press cuts in without a cross-fade"
    pc.play_knob(result(5.0))  # within 100 ms of the last knob play: waits ...
    pc.stop()  # ... and Stop drops it
    qtbot.wait(250)
    assert [c[0] for c in bridge.calls] == [1.0, 3.0, 4.0, -1.0]
    assert started == [1, 2, 3] and pc.playing.wave[0] == 4.0


def test_playback_from_the_engine_thread_is_adopted_and_paced(qtbot) -> None:  # noqa: ANN001
    import threading

    from PySide6.QtCore import QObject, Signal

    from vaesynth.app.playback import PlaybackController

    class Bridge(QObject):
        played = Signal(int, bool, str)

        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, float, int, float]] = []  # (how, marker, token, crossfade)

        def play(self, wave, sample_rate, token, crossfade_s=0.0) -> None:  # noqa: ANN001
            self.calls.append(("queued", float(wave[0]), token, crossfade_s))
            self.played.emit(token, True, "ok")

        def play_now(self, wave, sample_rate, token, crossfade_s=0.0) -> None:  # noqa: ANN001
            self.calls.append((threading.current_thread().name, float(wave[0]), token, crossfade_s))
            self.played.emit(token, True, "ok")  # from that thread: reaches the GUI before adopt()

        def stop(self) -> None:
            pass

        def position(self) -> float:
            return 0.01

    def result(marker: float, origin: Origin, gain: float = 1.0) -> RenderResult:
        r = RenderRequest(digit="1", knobs=(0.0,), origin=origin, gain=gain)
        wave, image = np.full(80, marker, np.float32), np.zeros((1, 1), np.float32)
        return RenderResult(r, wave, 8000, image, 0.5, "1", (), (0.0,), 0.0)

    bridge = Bridge()
    pc = PlaybackController(bridge, knob_every_s=0.1, knob_crossfade_s=0.02)  # type: ignore[arg-type]
    started: list[int] = []
    pc.started.connect(started.append)
    tokens: list[int | None] = []

    def worker(*results: RenderResult) -> None:
        t = threading.Thread(target=lambda: tokens.extend(pc.play_from_worker(r) for r in results), name="engine")
        t.start()
        t.join()

    key = result(1.0, Origin.KEY, gain=0.5)
    worker(key)
    assert bridge.calls == [("engine", 0.5, 1, 0.0)], "a key's sound leaves from the engine's thread, at its gain"
    qtbot.wait(50)  # the played report arrives before the window adopts the result: it is kept
    pc.play_for(dataclasses.replace(key, played=tokens[0]), lambda _r: None)
    assert pc.playing is not None and pc.playing.wave[0] == 1.0 and started == [1]
    # knob renders: the first plays from the worker (cross-faded), the next within 0.1 s is left to the GUI
    k1, k2 = result(2.0, Origin.KNOB), result(3.0, Origin.KNOB)
    worker(k1, k2)
    assert tokens[1:] == [2, None] and bridge.calls[-1] == ("engine", 2.0, 2, 0.02)
    pc.play_for(dataclasses.replace(k1, played=2), lambda _r: None)
    pc.play_for(k2, lambda _r: None)  # paced by the GUI thread's timer
    qtbot.waitUntil(lambda: len(bridge.calls) == 3, timeout=2000)
    assert bridge.calls[-1][:2] == ("queued", 3.0) and bridge.calls[-1][2] > 2
    # a map dot's A/B and a render not to be played never leave from the worker
    ab = result(4.0, Origin.MAP_DOT)
    silent = dataclasses.replace(result(5.0, Origin.KEY), request=RenderRequest(digit="1", knobs=(0.0,), play=False))
    assert pc.play_from_worker(ab) is None and pc.play_from_worker(silent) is None and len(bridge.calls) == 3


def test_a_key_from_the_engine_thread_drops_a_knob_sound_still_waiting(qtbot) -> None:  # noqa: ANN001
    """Turn a knob, press a key within the pacing interval: the key is heard and stays heard (the
    waiting knob render used to start after it and take its place)."""
    import threading

    from PySide6.QtCore import QObject, Signal

    from vaesynth.app.playback import PlaybackController

    class Bridge(QObject):
        played = Signal(int, bool, str)

        def __init__(self) -> None:
            super().__init__()
            self.markers: list[float] = []

        def play(self, wave, sample_rate, token, crossfade_s=0.0) -> None:  # noqa: ANN001
            self.markers.append(float(wave[0]))
            self.played.emit(token, True, "ok")

        play_now = play

        def stop(self) -> None:
            pass

        def position(self) -> float:
            return 0.01

    def result(marker: float, origin: Origin) -> RenderResult:
        r = RenderRequest(digit="1", knobs=(0.0,), origin=origin)
        wave, image = np.full(80, marker, np.float32), np.zeros((1, 1), np.float32)
        return RenderResult(r, wave, 8000, image, 0.5, "1", (), (0.0,), 0.0)

    bridge = Bridge()
    pc = PlaybackController(bridge, knob_every_s=0.1, knob_crossfade_s=0.02)  # type: ignore[arg-type]
    pc.play_knob(result(1.0, Origin.KNOB))  # plays at once
    pc.play_knob(result(2.0, Origin.KNOB))  # waits for its turn, 0.1 s
    assert bridge.markers == [1.0] and pc.pacer.waiting is not None
    key = result(3.0, Origin.KEY)
    tokens: list[int | None] = []
    t = threading.Thread(target=lambda: tokens.append(pc.play_from_worker(key)), name="engine")
    t.start()
    t.join()
    qtbot.wait(250)  # the knob's turn comes before the window hears of the key's render
    pc.play_for(dataclasses.replace(key, played=tokens[0]), lambda _r: None)
    assert bridge.markers == [1.0, 3.0] and pc.playing is not None and pc.playing.wave[0] == 3.0


def test_audio_bridge_drops_a_queued_play_that_a_newer_one_overtook(qtbot) -> None:  # noqa: ANN001
    """The engine's thread plays at once (``play_now``) while the GUI's plays are queued to the audio
    thread: one queued before a newer sound but arriving after it must not cut that sound off."""
    import threading

    from vaesynth.app.audio_bridge import AudioBridge

    class Output:
        available, status, device, sample_rate = True, "fake", None, 8000

        def __init__(self) -> None:
            self.markers: list[float] = []
            self.held = threading.Event()
            self.hold = threading.Event()

        def devices(self) -> list[dict]:
            return []

        def play(self, wave, sample_rate, crossfade_s=0.0) -> bool:  # noqa: ANN001
            self.markers.append(float(wave[0]))
            return True

        def prepare(self) -> None:  # on the audio thread: held there until the test lets go
            if not self.hold.is_set():
                self.held.set()
                self.hold.wait(5.0)
                self.hold.set()

    out = Output()
    bridge = AudioBridge(lambda: out)
    reports: list[int] = []
    states: list[bool] = []
    bridge.played.connect(lambda token, ok, status: reports.append(token))
    bridge.state_changed.connect(lambda available, status, devices: states.append(available))
    bridge.start()
    try:
        qtbot.waitUntil(lambda: states == [True], timeout=5000)  # the output is made
        bridge.prepare()  # holds the audio thread, so the next queued play waits
        assert out.held.wait(5.0)
        bridge.play(np.full(8, 1.0, np.float32), 8000, token=4)  # queued behind the held prepare
        t = threading.Thread(target=lambda: bridge.play_now(np.full(8, 2.0, np.float32), 8000, token=5))
        t.start()
        t.join()
        out.hold.set()
        qtbot.waitUntil(lambda: 5 in reports, timeout=5000)
        qtbot.wait(200)
        assert out.markers == [2.0] and reports == [5]
        bridge.play(np.full(8, 3.0, np.float32), 8000, token=6)  # newer: plays
        qtbot.waitUntil(lambda: out.markers == [2.0, 3.0], timeout=5000)
    finally:
        bridge.shutdown()


# --- RenderAhead (no Qt) --------------------------------------------------------------------


def _result_for(req: RenderRequest, value: float) -> RenderResult:
    wave = np.full(8, value, dtype=np.float32)
    return RenderResult(req, wave, 8000, np.zeros((2, 3), np.float32), 0.001, req.digit or "", (), (value,), 0.01)


def test_render_ahead_fills_each_digit_once_for_the_target_voice() -> None:
    from vaesynth.app.render_ahead import RenderAhead

    ahead = RenderAhead()
    assert ahead.next_request() is None  # no voice aimed at yet
    key = RenderRequest(digit="7", knob_mode=KnobMode.FRESH, temperature=0.8, generation=3, gain=0.5)
    ahead.aim(key)
    order = []
    while (req := ahead.next_request()) is not None:
        assert (req.knob_mode, req.temperature, req.generation, req.play) == (KnobMode.FRESH, 0.8, 3, False)
        order.append(req.digit)
        assert ahead.store(_result_for(req, float(req.digit)))
    assert order == ["7", "8", "9", "0", "1", "2", "3", "4", "5", "6"]  # the pressed digit first
    assert len(ahead) == 10
    hit = ahead.take(dataclasses.replace(key, digit="4", gain=1.0))  # gain and play are not the voice
    assert hit is not None and hit.knobs == (4.0,)
    assert ahead.take(dataclasses.replace(key, digit="4")) is None  # each sound is used once
    assert (ahead.hits, ahead.misses) == (1, 1)
    assert ahead.next_request().digit == "4"  # and rendered again


def test_render_ahead_never_answers_for_another_voice() -> None:
    from vaesynth.app.render_ahead import RenderAhead

    ahead = RenderAhead()
    held = RenderRequest(digit="2", knobs=(0.1, 0.2), generation=1)
    ahead.aim(held)
    req = ahead.next_request()
    assert req.knob_mode is KnobMode.GIVEN and req.knobs == (0.1, 0.2)
    ahead.store(_result_for(req, 1.0))
    others = [
        dataclasses.replace(held, knobs=(0.1, 0.25)),  # a knob moved
        dataclasses.replace(held, generation=2),  # another model
        dataclasses.replace(held, knob_mode=KnobMode.PRESET, knobs=None, voice="george"),
        dataclasses.replace(held, temperature=1.5),
        dataclasses.replace(held, origin=Origin.KNOB),  # only key presses are answered ahead
    ]
    for other in others:
        assert ahead.take(other) is None, other
    assert ahead.take(held) is not None
    # aiming at a new voice drops what was rendered for the old one; a late result of it is refused
    ahead.store(_result_for(req, 1.0))
    ahead.aim(others[0])
    assert len(ahead) == 0 and not ahead.store(_result_for(req, 1.0))
    ahead.aim(RenderRequest(text="12", knobs=(0.0, 0.0)))  # strings are never rendered ahead
    assert ahead.target.digit == "2"
