"""App paper cuts: keyboard focus, layout at 1024x640 and 1920x1080, keyboard reach, toolbar
icons, knobs that show exactly what was played, presets and Hold voice, one output entry per
route, status-bar latency and paced, cross-faded knob auto-play. pytest-qt, offscreen, on the
random-weight bundles of ``test_app.py``.
"""

# ruff: noqa: F811  (the fixtures imported from test_app are used by name as test parameters)
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDial,
    QLineEdit,
    QWidget,
)
from test_app import WAIT_MS, make_window, models_root, press, settings_file  # noqa: E402, F401

from vaesynth.app.dial import KNOB_RANGE  # noqa: E402
from vaesynth.app.knobs import VISIBLE_ROWS  # noqa: E402
from vaesynth.app.messages import KnobMode, Origin  # noqa: E402
from vaesynth.app.pickers import SYSTEM_DEFAULT  # noqa: E402
from vaesynth.app.playback import KNOB_CROSSFADE_S, KNOB_PLAY_EVERY_S  # noqa: E402
from vaesynth.app.theme import tool_icon  # noqa: E402


def key(w: QWidget, k: Qt.Key, mod: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press as the user makes it: delivered to the widget that has the keyboard focus."""
    QTest.keyClick(QApplication.focusWidget() or w, k, mod)


def digit_key(w: QWidget, d: str) -> None:
    key(w, Qt.Key(Qt.Key.Key_0.value + int(d)))


def speaks(qtbot, w, d: str):  # noqa: ANN001, ANN201
    """Press digit key ``d`` where the focus is; the render shown (fails if nothing speaks)."""
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        digit_key(w, d)
    assert blocker.args[0].digits == d
    return blocker.args[0]


# --- 1: digit keys reach the keypad unless the field is being edited -----------------------


def test_digits_reach_the_keypad_after_enter_esc_or_a_keypad_click(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.activateWindow()
    field = w.say_box.text_edit
    w.say_box.set_text("")
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    with qtbot.assertNotEmitted(w.render_shown, wait=200):
        QTest.keyClicks(field, "555")  # editing: digits are text
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        key(w, Qt.Key.Key_Return)
    assert blocker.args[0].request.origin is Origin.STRING and not field.hasFocus()
    speaks(qtbot, w, "7")
    assert w.say_box.text() == "555", "the number must not change silently"

    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    key(w, Qt.Key.Key_Escape)
    assert not field.hasFocus()
    speaks(qtbot, w, "2")

    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        qtbot.mouseClick(w.keypad.buttons["4"], Qt.MouseButton.LeftButton)
    assert not field.hasFocus()
    speaks(qtbot, w, "9")
    assert w.say_box.text() == "555"


def test_digits_are_not_swallowed_by_temperature(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.activateWindow()
    t = w.knob_panel.temperature
    t.setValue(0.5)
    t.setFocus()
    qtbot.waitUntil(t.hasFocus)
    speaks(qtbot, w, "3")
    speaks(qtbot, w, "8")
    assert t.value() == pytest.approx(0.5)
    key(w, Qt.Key.Key_Up)  # the arrow keys still change it
    assert t.value() == pytest.approx(0.6)


# --- 4: keyboard reach ----------------------------------------------------------------------


def tab_stops(w: QWidget) -> list[QWidget]:
    """The widgets Tab visits, in order: real Tab presses from the model picker round to it again."""
    w.activateWindow()
    w.model_picker.setFocus()
    QApplication.processEvents()
    stops: list[QWidget] = []
    for _ in range(200):
        focus = QApplication.focusWidget()
        if focus is None or focus in stops:
            break
        stops.append(focus)
        QTest.keyClick(focus, Qt.Key.Key_Tab)
        QApplication.processEvents()
    return stops


def test_every_tab_stop_is_a_control_and_toggles_are_reachable(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    stops = tab_stops(w)
    controls = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QDial)
    dead = [f"{type(s).__name__} in {type(s.parent()).__name__}" for s in stops if not isinstance(s, controls)]
    assert not dead, f"Tab stops that show no focus and do nothing: {dead}"
    assert len(stops) > 10 and stops[0] is w.model_picker
    assert w.hold_voice in stops and w.auto_play in stops
    assert sum(isinstance(s, QDial) for s in stops) == w.knob_panel.latent_dim
    # mnemonics: Alt+H and Alt+A toggle the two boxes
    hold, auto = w.hold_voice.isChecked(), w.auto_play.isChecked()
    key(w, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: w.hold_voice.isChecked() != hold, timeout=1000)  # (an animated click)
    key(w, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: w.auto_play.isChecked() != auto, timeout=1000)
    key(w, Qt.Key.Key_Space)  # Alt+A left the focus on Auto-play knobs; Space toggles it back
    assert w.auto_play.hasFocus() and w.auto_play.isChecked() == auto


def test_delete_resets_the_focused_knob(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    press(qtbot, w, "5")
    dial = w.knob_panel.knobs[2].dial
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        dial.setValue(180)
    dial.setFocus()
    qtbot.waitUntil(dial.hasFocus)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        key(w, Qt.Key.Key_Delete)
    assert blocker.args[0].knobs[2] == 0.0 and w.knob_panel.values()[2] == 0.0
    assert blocker.args[0].request.origin is Origin.KNOB


# --- 6: the knobs show and hold exactly what was played -------------------------------------


def test_knobs_show_and_hold_exactly_the_voice_played(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    w.hold_voice.setChecked(False)
    w.knob_panel.temperature.setValue(2.5)  # fresh voices often beyond the dials' +-3
    for _ in range(30):
        played = press(qtbot, w, "6")
        if max(abs(v) for v in played.knobs) > KNOB_RANGE:
            break
    else:
        pytest.fail("no fresh voice beyond the dial range in 30 presses at temperature 2.5")
    assert w.knob_panel.values() == list(played.knobs), "the knobs must show exactly the voice heard"
    beyond = next(k for k in w.knob_panel.knobs if abs(k.value()) > KNOB_RANGE)
    assert beyond.value_label.text() == f"{beyond.value():+.2f}"  # not clamped to +-3.00
    assert abs(beyond.dial.value()) == beyond.dial.maximum()  # the dial sits at its end
    w.hold_voice.setChecked(True)
    again = press(qtbot, w, "6")
    assert again.request.knob_mode is KnobMode.GIVEN
    assert again.knobs == played.knobs, "Hold voice must keep exactly the voice played"
    assert np.array_equal(again.wave, played.wave), "the same voice sounds the same"


# --- 7: presets and Hold voice --------------------------------------------------------------


def test_a_preset_is_held_and_letting_go_returns_to_fresh_voices(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    w.hold_voice.setChecked(False)
    panel = w.knob_panel
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        panel.voice.setCurrentIndex(2)
        panel.voice.activated.emit(2)
    speaker = panel.current_voice()
    assert speaker and w.hold_voice.isChecked(), "choosing a preset holds that voice"
    r = press(qtbot, w, "3")
    assert r.request.knob_mode is KnobMode.PRESET and r.request.voice == speaker
    w.hold_voice.setChecked(False)  # let go of the voice ...
    assert panel.current_voice() is None, "... and of the preset: Hold voice always means what it says"
    a, b = press(qtbot, w, "3"), press(qtbot, w, "3")
    assert a.request.knob_mode is b.request.knob_mode is KnobMode.FRESH
    assert a.knobs != b.knobs


# --- 2, 3: layout from 1024x640 to 1920x1080 ------------------------------------------------


def fully_visible(child: QWidget, area: QWidget) -> bool:
    top_left = child.mapTo(area, child.rect().topLeft())
    return area.rect().contains(top_left) and area.rect().contains(top_left + child.rect().bottomRight())


def test_all_knobs_fit_at_1024x640_even_with_32_dims(qtbot, make_window, models_root) -> None:  # noqa: ANN001, F811
    w = make_window(model=str(models_root / "cnn"))
    w.resize(1024, 640)
    qtbot.waitUntil(lambda: w.width() == 1024 and w.height() == 640)
    qtbot.wait(50)
    panel = w.knob_panel
    assert panel.latent_dim == 32
    viewport = panel.grid.parentWidget()  # the scroll area's viewport
    assert panel.grid.rows <= VISIBLE_ROWS
    hidden = [k.index for k in panel.knobs if not fully_visible(k, viewport)]
    assert not hidden, f"knobs cut off or out of view at 1024x640: {hidden}"
    for k in panel.knobs:
        assert k.value_label.height() >= k.value_label.sizeHint().height(), "value half visible"
    assert w.model_picker.width() >= w.model_picker.sizeHint().width() - 1  # the model name is whole


@pytest.mark.parametrize("size", [(1024, 640), (1920, 1080)])
def test_keypad_keeps_its_proportions(qtbot, make_window, size) -> None:  # noqa: ANN001
    w = make_window()
    w.resize(*size)
    qtbot.waitUntil(lambda: (w.width(), w.height()) == size)
    qtbot.wait(50)
    keys = list(w.keypad.buttons.values())
    shapes = {(b.width(), b.height()) for b in keys}
    assert len(shapes) == 1, "all keys the same size"
    kw, kh = shapes.pop()
    assert 0.7 <= kh / kw <= 0.9, (kw, kh)
    assert 48 <= kw <= 104
    knobs = w.knob_panel.knobs
    row = [k for k in knobs if k.y() == knobs[0].y()]
    gaps = {b.x() - a.geometry().right() for a, b in zip(row, row[1:], strict=False)}
    assert max(gaps) <= 8, f"knobs spread apart: gaps {gaps}"


# --- 5: toolbar icons show on the dark toolbar ----------------------------------------------


def test_toolbar_icons_are_light_on_the_dark_toolbar(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    toolbar_lightness = w.toolbar.palette().window().color().lightness()
    for action in (w.toolbar.replay_action, w.toolbar.stop_action, w.toolbar.export_action):
        img = action.icon().pixmap(24, 24).toImage()
        ink = [img.pixelColor(x, y) for x in range(img.width()) for y in range(img.height())]
        ink = [c for c in ink if c.alpha() > 128]
        assert len(ink) > 20, action.text()
        assert np.mean([c.lightness() for c in ink]) - toolbar_lightness > 120, action.text()
    assert not tool_icon("play").isNull()


# --- 8: one output entry per route ----------------------------------------------------------


def test_output_list_has_one_entry_per_route(pulse, qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    names = [w.device_picker.itemText(i) for i in range(w.device_picker.count())]
    assert names[0] == SYSTEM_DEFAULT
    lowered = [n.lower() for n in names]
    assert "pulse" not in lowered and "default" not in lowered, names


# --- status bar latency; knob auto-play paced and cross-faded -------------------------------


class FakeOutput:
    """An AudioOutput stand-in: records plays; has the newer ``crossfade_s`` and ``latency_s``."""

    def __init__(self) -> None:
        self.available, self.status, self.device, self.sample_rate = True, "Fake output", None, 8000
        self.latency_s = 0.042
        self.plays: list[tuple[float, float]] = []  # (time, crossfade_s)

    def devices(self) -> list[dict]:
        return [{"index": 3, "name": "Fake", "default_samplerate": 8000.0, "default": True}]

    def play(self, wave, sample_rate, crossfade_s: float = 0.0) -> bool:  # noqa: ANN001
        self.plays.append((time.monotonic(), crossfade_s))
        return True

    def stop(self) -> None:
        pass

    def set_device(self, index) -> None:  # noqa: ANN001
        self.device = index

    def position(self) -> None:
        return None


def test_status_reports_render_time_and_output_latency(qtbot, make_window) -> None:  # noqa: ANN001
    out = FakeOutput()
    w = make_window(audio_factory=lambda: out)
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    r = press(qtbot, w, "1")
    message = w.statusBar().currentMessage()
    assert f"rendered in {1000 * r.elapsed_s:.0f} ms" in message and "+ 42 ms to the device" in message
    qtbot.waitUntil(lambda: len(out.plays) == 1, timeout=WAIT_MS)
    assert out.plays[0][1] == 0.0, "a key press starts its sound without a cross-fade"
    out.start_latency_s = 0.003  # an output that timed its last sound says that instead
    r = press(qtbot, w, "2")
    assert "+ 3 ms to the device" in w.statusBar().currentMessage()


def test_audio_output_times_a_sound_to_the_device(pulse) -> None:  # noqa: ANN001
    import numpy as np

    from vaesynth.sound.audio import AudioOutput

    out = AudioOutput()
    assert out.start_latency_s is None  # nothing played yet
    assert out.play(np.zeros(800, np.float32) + 0.1, 8000)
    deadline = time.monotonic() + 5
    while out.start_latency_s is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # timed per sound, from the call to the first block's time at the device (how fast is bench/'s job)
    first = out.start_latency_s
    assert first is not None and 0.0 <= first < 1.0
    assert out.play(np.zeros(800, np.float32) + 0.1, 8000)
    deadline = time.monotonic() + 5
    while out.start_latency_s in (None, first) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert out.start_latency_s is not None and out.start_latency_s != first
    out.close()


def test_knob_sweep_plays_often_and_cross_fades(qtbot, make_window) -> None:  # noqa: ANN001
    out = FakeOutput()
    w = make_window(audio_factory=lambda: out)
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    w.auto_play.setChecked(True)
    press(qtbot, w, "4")
    qtbot.waitUntil(lambda: len(out.plays) == 1, timeout=WAIT_MS)
    shown: list = []  # (time shown, result)
    w.render_shown.connect(lambda r: shown.append((time.monotonic(), r)))
    dial = w.knob_panel.knobs[0].dial
    t0 = time.monotonic()
    sweep_s, v = 1.5, -300
    while time.monotonic() - t0 < sweep_s:  # a knob moving continuously
        v = v + 7 if v < 300 else -300
        dial.setValue(v)
        qtbot.wait(15)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    qtbot.wait(int(1000 * KNOB_PLAY_EVERY_S) + 100)
    knob_plays = [p for p in out.plays[1:] if p[0] <= t0 + sweep_s]
    assert len(out.plays) > 1 and all(cf == KNOB_CROSSFADE_S > 0 for _t, cf in out.plays[1:])
    # renders shown early enough to have been played within the sweep
    renders = [r for t, r in shown if r.request.origin is Origin.KNOB and t <= t0 + sweep_s - KNOB_PLAY_EVERY_S]
    # at least one new sound per KNOB_PLAY_EVERY_S while renders keep coming (fewer if renders are slower)
    expected = min(len(renders), (sweep_s - KNOB_PLAY_EVERY_S) / KNOB_PLAY_EVERY_S)
    assert expected >= 2, "too few renders to judge"
    assert len(knob_plays) >= 0.7 * expected, (len(knob_plays), len(renders))
    assert len(knob_plays) <= sweep_s / KNOB_PLAY_EVERY_S + 2, "never more often than the interval"
