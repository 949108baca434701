"""The instrument in the window: pitch, speed and sing beside the knobs, and a MIDI keyboard.

pytest-qt, offscreen. The pitch measurements need a decoder with an f0 head, so the models are a
copy of the shipped conditional VAE and a random-weight MLP-VAE (a baseline without one). MIDI runs
through a private JACK server (dummy driver) with a virtual output port standing in for a keyboard,
as in tests/test_midi.py (the small fixture is copied here); sound goes to a fake output that
records what it is asked to play, so no PortAudio client ever meets the test's JACK server.
"""

# ruff: noqa: F811  (the fixtures imported from test_app are used by name as test parameters)
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from jack_utils import Keyboard
from jack_utils import jack_server as jack_server_running

pytest.importorskip("pytestqt")

from test_app import WAIT_MS, make_window, press, settings_file  # noqa: E402, F401

from vaesynth.app.messages import Origin  # noqa: E402
from vaesynth.app.performance_panel import NEEDS_F0  # noqa: E402
from vaesynth.engine.performance import Performance, midi_to_hz, parse_note  # noqa: E402
from vaesynth.midi import midi_ports  # noqa: E402
from vaesynth.midi.midi import velocity_to_gain  # noqa: E402
from vaesynth.midi.midi_ports import PortState  # noqa: E402
from vaesynth.model.catalog import resources_dir  # noqa: E402

SHIPPED = resources_dir() / "models"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.bundling import untrained_bundle

    if not (SHIPPED / "cvae").is_dir():
        pytest.skip("needs the shipped default model (resources/models/cvae)")
    root = tmp_path_factory.mktemp("instrument-models")
    shutil.copytree(SHIPPED / "cvae", root / "cvae")
    untrained_bundle("mlp", root / "mlp")  # a baseline: no f0 head
    return root


@pytest.fixture(autouse=True)
def private_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "voices"
    monkeypatch.setenv("VAESYNTH_VOICES", str(folder))
    return folder


class FakeOutput:
    """An AudioOutput stand-in: records each play's peak level and each stop."""

    def __init__(self) -> None:
        self.available, self.status, self.device, self.sample_rate = True, "Fake output", None, 8000
        self.peaks: list[float] = []
        self.stops = 0

    def devices(self) -> list[dict]:
        return [{"index": 0, "name": "Fake", "default_samplerate": 8000.0, "default": True}]

    def play(self, wave, sample_rate, crossfade_s: float = 0.0) -> bool:  # noqa: ANN001
        self.peaks.append(float(np.max(np.abs(wave))))
        return True

    def stop(self) -> None:
        self.stops += 1

    def set_device(self, index) -> None:  # noqa: ANN001
        self.device = index

    def position(self) -> None:
        return None


def measured_f0(wave: np.ndarray, rate: int = 8000) -> float:
    """Median YIN f0 (Hz) over frames within 20 dB of the loudest (as tests/test_performance.py)."""
    import librosa

    w = np.asarray(wave, dtype=np.float64)
    f0 = librosa.yin(w, fmin=50, fmax=800, sr=rate, frame_length=512, hop_length=64, trough_threshold=0.1)
    rms = librosa.feature.rms(y=w, frame_length=512, hop_length=64)[0][: len(f0)]
    return float(np.median(f0[rms > rms.max() * 0.1]))


def next_render(qtbot, w, action, want=lambda r: True):  # noqa: ANN001
    """Do ``action()`` and return the render it causes: the last one shown once the scheduler is idle
    that satisfies ``want`` (a MIDI note arrives a moment after it is sent)."""
    shown: list = []
    w.render_shown.connect(shown.append)
    try:
        action()
        qtbot.waitUntil(lambda: any(want(r) for r in shown) and w.scheduler.idle, timeout=WAIT_MS)
    finally:
        w.render_shown.disconnect(shown.append)
    return [r for r in shown if want(r)][-1]


# --- pitch, speed, sing -------------------------------------------------------------------------


def test_pitch_and_speed_change_the_render(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window(model="cvae", audio_factory=FakeOutput)
    perf = w.performance
    assert perf.pitch.isEnabled() and perf.sing.isEnabled() and perf.speed.isEnabled()
    next_render(qtbot, w, w.knob_panel.reset.click)  # the digit's typical voice, held
    ratios = []
    for digit in "135":
        perf.set_performance(Performance())  # natural, no signal
        base = press(qtbot, w, digit)
        assert base.request.performance.pitch == 0 and base.recipe.performance.pitch == 0
        up = next_render(qtbot, w, lambda: perf.pitch.setValue(12.0))  # as the user sets it
        assert up.digits == digit and up.request.origin is Origin.PERFORMANCE
        assert up.recipe.performance.pitch == 12.0 and up.knobs == base.knobs
        assert len(up.wave) == len(base.wave)  # pitch does not change the timing
        ratios.append(measured_f0(up.wave) / measured_f0(base.wave))
    assert np.median(ratios) == pytest.approx(2.0, rel=0.05), ratios

    perf.pitch.setValue(0.0)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    base = press(qtbot, w, "7")
    slow = next_render(qtbot, w, lambda: perf.speed.setValue(0.5))
    assert slow.recipe.performance.speed == 0.5 and slow.digits == "7"
    assert slow.duration_s == pytest.approx(2 * base.duration_s, rel=0.05)
    again = press(qtbot, w, "7")  # a key press carries the performance too
    assert again.request.performance.speed == 0.5 and again.duration_s > 1.5 * base.duration_s
    s = next_render(qtbot, w, w.play_text)  # and so does a string
    assert s.recipe.performance.speed == 0.5


def test_sing_holds_the_note(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window(model="cvae", audio_factory=FakeOutput)
    perf = w.performance
    next_render(qtbot, w, w.knob_panel.reset.click)
    press(qtbot, w, "4")
    perf.note.setText("A3")
    perf.contour.setValue(0.0)
    sung = next_render(qtbot, w, lambda: perf.sing.setChecked(True))
    assert sung.recipe.performance.note_hz == pytest.approx(220.0)
    assert measured_f0(sung.wave) == pytest.approx(220.0, rel=0.05)
    perf.note.setText("Z9")  # not a note: said under the row, rendered without a note
    r = next_render(qtbot, w, perf.note.editingFinished.emit)
    assert r.recipe.performance.note_hz is None and "not a note" in perf.error.text()


def test_a_baseline_model_disables_pitch_and_sing_but_not_speed(qtbot, make_window, models_root: Path) -> None:  # noqa: ANN001
    w = make_window(model="mlp", audio_factory=FakeOutput)
    perf = w.performance
    assert w.model_info.has_f0 is False
    assert not perf.pitch.isEnabled() and not perf.sing.isEnabled() and not perf.note.isEnabled()
    assert not perf.formant.isEnabled() and perf.formant.toolTip() == NEEDS_F0
    assert perf.pitch.toolTip() == NEEDS_F0 and "default model" in perf.sing.toolTip()
    assert perf.speed.isEnabled()
    base = press(qtbot, w, "2")
    slow = next_render(qtbot, w, lambda: perf.speed.setValue(0.5))
    assert slow.recipe.performance.speed == 0.5 and slow.duration_s > 1.8 * base.duration_s
    perf.set_performance(Performance(pitch=7.0, speed=0.5, formant=1.2))  # e.g. from a saved voice
    r = press(qtbot, w, "2")
    assert r.recipe.performance.pitch == 0.0, "a model without an f0 head never gets a pitch request"
    assert r.recipe.performance.formant == 1.0
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS):
        w.load_model(models_root / "cvae")
    assert perf.pitch.isEnabled() and perf.sing.isEnabled() and perf.pitch.toolTip() != NEEDS_F0
    again = press(qtbot, w, "2").recipe.performance  # the shown pitch and formants apply again
    assert again.pitch == 7.0 and again.formant == 1.2


def test_a_saved_voice_restores_pitch_and_tempo(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window(model="cvae", audio_factory=FakeOutput)
    perf, voices = w.performance, w.view.voices
    press(qtbot, w, "6")
    perf.pitch.setValue(-5.0)
    perf.formant.setValue(1.15)
    perf.speed.setValue(1.5)
    perf.note.setText("C#4")
    perf.contour.setValue(0.4)
    next_render(qtbot, w, lambda: perf.sing.setChecked(True))
    assert voices.save_as("singer")
    kept = perf.performance()
    perf.reset()
    assert perf.pitch.value() == 0 and perf.formant.value() == 1.0 and not perf.sing.isChecked()
    r = next_render(qtbot, w, lambda: voices.load("singer"))
    assert perf.pitch.value() == -5.0 and perf.speed.value() == 1.5 and perf.sing.isChecked()
    assert perf.formant.value() == 1.15 and kept.formant == 1.15
    assert perf.note.text() == "C#4" and perf.contour.value() == 0.4
    assert r.request.origin is Origin.SAVED and r.recipe.performance == kept
    assert kept.note_hz == pytest.approx(parse_note("C#4"))


def test_performance_persists_in_settings(qtbot, make_window, settings_file: Path) -> None:  # noqa: ANN001
    w = make_window(model="cvae", audio_factory=FakeOutput)
    w.performance.pitch.setValue(3.0)
    w.performance.formant.setValue(0.9)
    w.performance.speed.setValue(0.75)
    w.performance.note.setText("E3")
    w.performance.sing.setChecked(True)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    w.shutdown()
    w2 = make_window(model="cvae", audio_factory=FakeOutput)
    p = w2.performance
    assert (p.pitch.value(), p.speed.value(), p.sing.isChecked(), p.note.text()) == (3.0, 0.75, True, "E3")
    assert p.formant.value() == 0.9
    r = press(qtbot, w2, "1")
    assert r.recipe.performance.formant == 0.9
    assert r.recipe.performance.pitch == 3.0 and r.recipe.performance.note_hz == pytest.approx(parse_note("E3"))


# --- MIDI: a virtual keyboard on a private JACK server ------------------------------------------

WAIT_S = 10.0


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private JACK server (dummy driver) for this module; its name (``tests/jack_utils.py``)."""
    with jack_server_running(f"vaesynth_apptest_{os.getpid()}", tmp_path_factory.mktemp("jack")) as name:
        yield name


@pytest.fixture
def jack(jack_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    return jack_server


def port_names(w) -> list[str]:  # noqa: ANN001
    box = w.view.midi.ports
    return [box.itemText(i) for i in range(box.count())]


def choose_port(w, name: str) -> None:  # noqa: ANN001
    """Pick ``name`` in the MIDI tab's list as the user does."""
    box = w.view.midi.ports
    i = next(i for i, n in enumerate(port_names(w)) if midi_ports.match_port(name, [n]))
    box.setCurrentIndex(i)
    box.activated.emit(i)


def wait_live(qtbot, w, kb: Keyboard, value: int = 127) -> None:  # noqa: ANN001
    """CC 1 at ``value`` until knob 0 follows: the new JACK connection is live (a cycle or more after open)."""
    target = 3.0 if value == 127 else -3.0
    deadline = time.monotonic() + WAIT_S
    while abs(w.knob_panel.values()[0] - target) > 1e-6:
        assert time.monotonic() < deadline, "CC 1 never reached knob 0"
        kb.send(0xB0, 1, value)
        qtbot.wait(50)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)


def test_a_midi_keyboard_plays_digits_and_turns_knobs(qtbot, make_window, jack: str) -> None:  # noqa: ANN001
    kb = Keyboard()
    out = FakeOutput()
    try:
        w = make_window(model="cvae", audio_factory=lambda: out, midi_api="jack")
        qtbot.waitUntil(lambda: w.audio_known and kb.name in port_names(w), timeout=WAIT_MS)
        choose_port(w, kb.name)
        assert w.midi.status.state is PortState.OPEN and "Listening" in w.view.midi.state.text()
        wait_live(qtbot, w, kb)  # CC 1 -> knob 0 at +3, as a dial turn: held, re-rendered
        assert w.hold_voice.isChecked() and w.knob_panel.values()[0] == 3.0
        knobs = tuple(w.knob_panel.values())

        r = next_render(qtbot, w, lambda: kb.note_on(64, 64), lambda r: r.request.gain < 1)  # E4: 2, velocity 64
        assert r.digits == "2" and r.request.origin is Origin.KEY and r.knobs == pytest.approx(knobs, abs=1e-6)
        assert r.request.gain == pytest.approx(velocity_to_gain(64))
        qtbot.waitUntil(lambda: len(out.peaks) >= 1 and w.playback.playing is r, timeout=WAIT_MS)
        qtbot.wait(100)
        assert out.peaks[-1] == pytest.approx(velocity_to_gain(64) * float(np.max(np.abs(r.wave))), rel=1e-4)
        stops = out.stops
        kb.note_off(62)  # not the sounding key: nothing happens
        kb.note_off(64)  # the sounding key: the sound stops
        qtbot.waitUntil(lambda: out.stops > stops, timeout=WAIT_MS)
        assert w.digit == "2"

        again = next_render(qtbot, w, lambda: kb.note_on(61), lambda r: r.request.origin is Origin.KEY)  # C#4
        assert again.digits == "2" and again.request.performance.note_hz is None

        w.view.midi.sing.setChecked(True)
        next_render(qtbot, w, lambda: w.performance.contour.setValue(0.0))  # re-renders the voice (digit 2)
        sung = next_render(qtbot, w, lambda: kb.note_on(62, 127), lambda r: r.request.origin is Origin.KEY)  # D4: 1
        assert sung.digits == "1" and sung.recipe.performance.note_hz == pytest.approx(midi_to_hz(62))
        assert measured_f0(sung.wave) == pytest.approx(midi_to_hz(62), rel=0.05)
        w.shutdown()
        assert w.settings.midi_port == kb.name and w.settings.midi_sing
    finally:
        kb.unplug()


def test_a_midi_port_that_vanishes_waits_and_reopens(qtbot, make_window, jack: str) -> None:  # noqa: ANN001
    kb = Keyboard("goingkeys", "out")
    w = make_window(model="cvae", audio_factory=FakeOutput, midi_api="jack")
    try:
        qtbot.waitUntil(lambda: kb.name in port_names(w), timeout=WAIT_MS)
        choose_port(w, kb.name)
        wait_live(qtbot, w, kb)
        kb.unplug()
        qtbot.waitUntil(lambda: w.midi.status.state is PortState.WAITING, timeout=WAIT_MS)
        assert "waiting" in w.view.midi.state.text()
        assert w.view.midi.ports.currentText() == kb.name  # still the choice, while it is away
        kb = Keyboard("goingkeys", "out")
        qtbot.waitUntil(lambda: w.midi.status.state is PortState.OPEN, timeout=WAIT_MS)
        assert "again" in w.view.midi.state.text()
        wait_live(qtbot, w, kb, value=0)  # messages flow again: CC 1 -> knob 0 at -3
        r = next_render(qtbot, w, lambda: kb.note_on(72), lambda r: r.request.origin is Origin.KEY)  # C5: digit 7
        assert r.digits == "7"
    finally:
        kb.unplug()


def test_a_remembered_port_opens_when_it_appears(qtbot, make_window, settings_file: Path, jack: str) -> None:  # noqa: ANN001
    from vaesynth.app.settings import AppSettings, file_settings

    s = AppSettings(file_settings(settings_file))
    s.midi_port = "laterkeys:keys"
    s.sync()
    w = make_window(model="cvae", audio_factory=FakeOutput, midi_api="jack")
    assert w.midi.status.state is PortState.WAITING and "waiting" in w.view.midi.state.text()
    kb = Keyboard("laterkeys", "keys")
    try:
        qtbot.waitUntil(lambda: w.midi.status.state is PortState.OPEN, timeout=WAIT_MS)
        wait_live(qtbot, w, kb)
    finally:
        kb.unplug()


def test_without_midi_the_panel_says_so_and_the_keypad_works(qtbot, make_window, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(midi_ports, "ALSA_SEQ_DEVICE", "/nonexistent/snd/seq")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"vaesynth_no_such_server_{os.getpid()}")
    w = make_window(model="cvae", audio_factory=FakeOutput)
    panel = w.view.midi
    assert w.midi.status is None and w.midi.unavailable.startswith("No MIDI on this system")
    assert panel.state.text().startswith("No MIDI on this system") and "keypad" in panel.state.text()
    assert not panel.ports.isEnabled() and panel.retry.isVisibleTo(panel)
    r = press(qtbot, w, "8")
    assert r.digits == "8" and len(r.wave) > 0
    panel.retry.click()  # still nothing: same sentence, no crash
    assert w.midi.status is None and panel.state.text().startswith("No MIDI")


@pytest.mark.parametrize("size", [(1024, 640), (1280, 800)])
def test_performance_box_and_keypad_fit(qtbot, make_window, size) -> None:  # noqa: ANN001
    w = make_window(model="cvae", audio_factory=FakeOutput)
    w.resize(*size)
    qtbot.waitUntil(lambda: (w.width(), w.height()) == size)
    qtbot.wait(50)
    central = w.centralWidget()

    def inside(widget) -> bool:  # noqa: ANN001
        top_left = widget.mapTo(central, widget.rect().topLeft())
        bottom_right = widget.mapTo(central, widget.rect().bottomRight())
        return central.rect().contains(top_left) and central.rect().contains(bottom_right)

    p = w.performance
    for widget in (p.pitch, p.speed, p.sing, p.note, p.contour, *w.keypad.buttons.values()):
        assert widget.isVisible() and inside(widget), (size, widget)
    assert min(b.height() for b in w.keypad.buttons.values()) >= 40
    keys = sorted(w.keypad.buttons.values(), key=lambda b: b.mapTo(central, b.rect().topLeft()).y())
    assert (
        keys[-1].mapTo(central, keys[-1].rect().bottomLeft()).y()
        < w.hold_voice.mapTo(central, w.hold_voice.rect().topLeft()).y()
    )
