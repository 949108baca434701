"""The desktop app (vaesynth.app), headless with pytest-qt.

Models are small random-weight bundles made in a temp folder (``training.bundling.untrained_bundle``),
so these tests do not depend on the shipped, trained ones. Every window gets its own INI settings
file in a temp folder, so nothing leaks into the user's settings or between tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from vaesynth.app.main_window import MainWindow  # noqa: E402
from vaesynth.app.messages import Origin  # noqa: E402
from vaesynth.app.pickers import OPEN_BUNDLE  # noqa: E402
from vaesynth.app.settings import file_settings  # noqa: E402
from vaesynth.app.theme import apply_theme  # noqa: E402

LATENT = {"cvae": 12, "cnn": 32, "mlp": 16}
WAIT_MS = 30_000  # generous: the first model load imports torch in the worker thread


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.bundling import untrained_bundle

    root = tmp_path_factory.mktemp("models")
    for kind in LATENT:
        untrained_bundle(kind, root / kind)
    return root


@pytest.fixture(scope="module")
def corrupt_bundle(models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corrupt") / "broken"
    shutil.copytree(models_root / "cvae", folder)
    weights = folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])  # truncated download
    return folder


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, qapp, models_root: Path, settings_file: Path):  # noqa: ANN001 - pytest-qt fixtures
    """Factory: a shown MainWindow on the temp models, waited until its model is ready."""
    apply_theme(qapp)
    windows: list[MainWindow] = []

    def make(wait_ready: bool = True, **kwargs) -> MainWindow:  # noqa: ANN003
        kwargs.setdefault("models_root", models_root)
        w = MainWindow(file_settings(kwargs.pop("settings_path", settings_file)), **kwargs)
        qtbot.addWidget(w)
        windows.append(w)
        if wait_ready:
            with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS):
                w.show()
        else:
            w.show()
        return w

    yield make
    for w in windows:
        w.shutdown()


def press(qtbot, w: MainWindow, digit: str, how: str = "click"):  # noqa: ANN001
    """Press ``digit`` and wait for its render to be shown; returns the RenderResult."""
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        if how == "click":
            qtbot.mouseClick(w.keypad.buttons[digit], Qt.MouseButton.LeftButton)
        elif how == "key":
            QTest.keyClick(w, Qt.Key(Qt.Key.Key_0.value + int(digit)))
        else:  # numpad
            QTest.keyClick(w, Qt.Key(Qt.Key.Key_0.value + int(digit)), Qt.KeyboardModifier.KeypadModifier)
    return blocker.args[0]


def test_import_is_light() -> None:
    """Importing the app package must not pull in torch (start-up time)."""
    code = "import sys, vaesynth.app; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    code = "import sys, vaesynth.app.main_window; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_keypad_click_renders_and_plays(pulse, qtbot, make_window) -> None:  # noqa: ANN001
    from audio_utils import active_duration, rms_db

    w = make_window()
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    assert w.audio_available, w.audio_label.text()
    rec = pulse.start_recording()
    try:
        with qtbot.waitSignal(w.playback_started, timeout=WAIT_MS):
            result = press(qtbot, w, "3")
        assert result.digits == "3"
        assert result.wave.dtype == np.float32 and result.wave.size > 0
        qtbot.wait(int(1000 * result.duration_s) + 300)
    finally:
        recorded = rec.stop()
    assert rms_db(recorded) > -60.0, "nothing reached the null sink"
    assert active_duration(recorded, 48000, threshold_db=-50.0) > 0.5 * result.duration_s
    assert w.keypad.spoken() == w.keypad.display.text() == "3"


def test_playhead_follows_playback(pulse, qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    heads: list[float] = []
    move = w.spectrogram.set_playhead
    w.spectrogram.set_playhead = lambda t: (heads.append(t) if t is not None else None, move(t))
    w.say_box.text_edit.setText("1234 5678")  # a string: long enough (> 0.5 s) to watch, whatever the weights
    with qtbot.waitSignal(w.playback_started, timeout=WAIT_MS):
        with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
            w.play_text()
    duration = blocker.args[0].duration_s
    assert duration > 0.5
    qtbot.wait(int(1000 * duration) + 400)
    # several distinct positions, moving forward, within the sound; then the playhead goes away
    assert len(set(heads)) >= 5 and heads == sorted(heads), heads
    assert 0.0 <= heads[0] and heads[-1] <= duration
    assert w.spectrogram.playhead() is None


def test_keyboard_number_row_and_numpad(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.activateWindow()
    assert press(qtbot, w, "4", how="key").digits == "4"
    assert press(qtbot, w, "8", how="numpad").digits == "8"
    # digits typed into the text field are text, not key presses
    w.say_box.text_edit.clear()
    w.say_box.text_edit.setFocus()
    with qtbot.assertNotEmitted(w.render_shown, wait=300):
        QTest.keyClicks(w.say_box.text_edit, "555")
    assert w.say_box.text() == "555"


def test_fresh_variation_and_hold_voice(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.hold_voice.setChecked(False)
    a, b = press(qtbot, w, "2").knobs, press(qtbot, w, "2").knobs
    assert a != b, "each press should be a fresh variation"
    assert w.knob_panel.values() == list(b)  # knobs show exactly the voice used
    w.hold_voice.setChecked(True)
    c, d = press(qtbot, w, "2").knobs, press(qtbot, w, "5").knobs
    assert list(c) == list(d) == w.knob_panel.values()


def test_key_presses_are_rendered_ahead_and_stay_fresh(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.hold_voice.setChecked(False)
    press(qtbot, w, "3")  # aims the engine at the keypad's voice; it renders ahead while idle
    qtbot.waitUntil(lambda: len(w.engine.ahead) == 10, timeout=WAIT_MS)
    results = [press(qtbot, w, d) for d in "390"]
    assert all(r.ahead for r in results)
    assert "rendered ahead" in w.statusBar().currentMessage()
    again = press(qtbot, w, "3")  # (ahead again if the engine had time to render a new 3, else now)
    assert len({r.knobs for r in [*results, again]}) == 4, "every press is a new voice"
    # what was played is what the recipe makes again, and what the knobs show
    from vaesynth.engine.synth import Synth

    first = results[0]
    assert np.array_equal(first.recipe.render(Synth.from_path(w.model_info.path)).wave, first.wave)
    assert w.knob_panel.values() == list(again.knobs)
    # a held voice is rendered ahead too; a knob change makes the next press render anew
    w.hold_voice.setChecked(True)
    press(qtbot, w, "1")
    qtbot.waitUntil(lambda: len(w.engine.ahead) == 10, timeout=WAIT_MS)
    assert press(qtbot, w, "8").ahead
    w.knob_panel.knobs[0].dial.setValue(w.knob_panel.knobs[0].dial.value() + 3)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    after = press(qtbot, w, "8")
    assert list(after.knobs) == w.knob_panel.values()  # never a sound rendered ahead for the old knobs
    # the engine keeps the model warm while the user plays, then does nothing at all
    assert w.engine.warming
    qtbot.waitUntil(lambda: not w.engine.warming, timeout=WAIT_MS)


def test_knob_change_changes_spectrogram(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    press(qtbot, w, "6")
    before = np.array(w.spectrogram.image.image, copy=True)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.knob_panel.knobs[0].dial.setValue(250)  # as a user turning the dial
    result = blocker.args[0]
    assert result.request.origin is Origin.KNOB
    assert result.knobs[0] == pytest.approx(2.5)
    assert w.hold_voice.isChecked(), "a turned knob holds the voice"
    after = w.spectrogram.image.image
    assert not (after.shape == before.shape and np.allclose(after, before)), "the spectrogram did not change"


def test_rapid_knob_changes_are_coalesced(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    press(qtbot, w, "1")
    shown: list = []
    w.render_shown.connect(shown.append)
    for v in range(-300, 301, 10):  # 61 changes in one go
        w.knob_panel.knobs[1].dial.setValue(v)
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    assert 1 <= len(shown) < 61
    assert shown[-1].knobs[1] == pytest.approx(3.0), "the last change always wins"


def test_randomize_reset_and_voice_preset(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.randomize.click()
    assert any(abs(v) > 0.01 for v in w.knob_panel.values())
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.reset.click()
    assert w.knob_panel.values() == [0.0] * LATENT["cvae"]
    speakers = [w.knob_panel.voice.itemText(i) for i in range(1, w.knob_panel.voice.count())]
    assert tuple(speakers) == w.model_info.speakers and speakers
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.knob_panel.voice.setCurrentIndex(1)
        w.knob_panel.voice.activated.emit(1)
    assert blocker.args[0].request.voice == speakers[0]
    assert w.knob_panel.values() == list(blocker.args[0].knobs)


def test_model_switch_rebuilds_knobs(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    assert w.model_info.kind == "cvae" and w.knob_panel.latent_dim == LATENT["cvae"]
    assert w.model_picker.findText(OPEN_BUNDLE) == w.model_picker.count() - 1
    for kind in ("cnn", "mlp", "cvae"):
        path = next(e.path for e in w.model_picker.entries if e.name == kind)
        index = w.model_picker.findData(path)
        with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS) as blocker:
            w.model_picker.setCurrentIndex(index)
            w.model_picker.activated.emit(index)
        assert blocker.args[0].kind == kind
        assert w.knob_panel.latent_dim == LATENT[kind] == len(w.knob_panel.knobs)
        result = press(qtbot, w, "9")
        assert len(result.knobs) == LATENT[kind]


def test_export_writes_valid_wav(qtbot, make_window, tmp_path: Path) -> None:  # noqa: ANN001
    import soundfile as sf

    w = make_window()
    assert w.export_wav(tmp_path / "none.wav") is None  # nothing rendered yet
    result = press(qtbot, w, "0")
    path = w.export_wav(tmp_path / "zero")
    assert path == tmp_path / "zero.wav" and path.is_file()
    info = sf.info(str(path))
    assert info.format == "WAV" and info.subtype == "PCM_16" and info.channels == 1
    assert info.samplerate == result.sample_rate == w.model_info.sample_rate
    data, _ = sf.read(str(path), dtype="float32")
    assert len(data) == len(result.wave)
    assert np.max(np.abs(data - result.wave)) < 2e-4


def test_digit_string_and_invalid_input(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.say_box.text_edit.setText("12a4")
    with qtbot.waitSignal(w.render_error, timeout=WAIT_MS):
        qtbot.mouseClick(w.say_box.play_button, Qt.MouseButton.LeftButton)
    assert w.say_box.error.isVisible() and w.say_box.error.text()
    w.say_box.text_edit.setText("")
    with qtbot.waitSignal(w.render_error, timeout=WAIT_MS):
        w.play_text()
    assert w.say_box.error.isVisible()
    w.say_box.text_edit.setText("(555) 010-2025")
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        QTest.keyClick(w.say_box.text_edit, Qt.Key.Key_Return)
    result = blocker.args[0]
    assert result.digits == "5550102025"
    assert len(result.segments) == 10
    assert not w.say_box.error.isVisible()
    assert w.keypad.spoken() == "(555) 010-2025", "the number as typed"


def test_no_device_mode(no_audio_env, qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    assert not w.audio_available
    assert not w.device_picker.isEnabled()
    assert "no audio output device" in w.audio_label.text().lower()  # says why, in words
    result = press(qtbot, w, "7")  # everything else keeps working
    assert result.digits == "7"
    w.replay()
    qtbot.wait(100)
    assert w.isVisible()


def test_corrupt_bundle_is_reported(qtbot, make_window, corrupt_bundle: Path) -> None:  # noqa: ANN001
    w = make_window()
    with qtbot.waitSignal(w.model_error, timeout=WAIT_MS) as blocker:
        w.load_model(corrupt_bundle)
    message = blocker.args[0]
    assert "corrupt" in message.lower() and str(corrupt_bundle) in message
    assert "Still using" in w.statusBar().currentMessage()
    assert w.model_info.kind == "cvae" and w.knob_panel.latent_dim == LATENT["cvae"]
    assert press(qtbot, w, "1").digits == "1"  # the previous model keeps working


def test_a_remembered_hostile_bundle_falls_back_to_a_good_model(  # noqa: ANN001
    qtbot, make_window, models_root: Path, settings_file: Path, tmp_path: Path
) -> None:
    """A hostile bundle opened once (channels: 1,000,000) must not keep the app from starting."""
    hostile = tmp_path / "hostile"
    shutil.copytree(models_root / "cvae", hostile)
    config = json.loads((hostile / "config.json").read_text())
    config["model"]["params"]["channels"] = 1_000_000
    (hostile / "config.json").write_text(json.dumps(config))
    s = file_settings(settings_file)
    s.setValue("model/path", str(hostile))
    s.setValue("model/opened", json.dumps([str(hostile)]))
    s.sync()
    w = make_window(wait_ready=False)
    qtbot.waitUntil(lambda: w.model_info is not None, timeout=WAIT_MS)
    assert w.model_info.path != str(hostile) and w.model_info.kind == "cvae"
    assert press(qtbot, w, "4").digits == "4"


def test_corrupt_default_model_opens_anyway(qtbot, make_window, corrupt_bundle: Path, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "root").mkdir()
    shutil.copytree(corrupt_bundle, tmp_path / "root" / "cvae")
    (tmp_path / "root" / "cnn").mkdir()
    (tmp_path / "root" / "cnn" / "config.json").write_text("{ not json")
    w = make_window(wait_ready=False, models_root=tmp_path / "root")
    qtbot.waitUntil(lambda: "corrupt" in w.statusBar().currentMessage().lower(), timeout=WAIT_MS)
    assert w.model_info is None
    assert not w.keypad.buttons["5"].isEnabled()
    assert "corrupt" in w.knob_panel.placeholder.text().lower()
    w.press_digit("5")  # does nothing harmful
    assert "unreadable" in w.model_picker.itemText(w.model_picker.findData(str(tmp_path / "root" / "cnn")))


def test_settings_persist(qtbot, make_window, models_root: Path, settings_file: Path) -> None:  # noqa: ANN001
    w = make_window()
    w.auto_play.setChecked(False)
    index = w.model_picker.findData(str(models_root / "mlp"))
    with qtbot.waitSignal(w.model_ready, timeout=WAIT_MS):
        w.model_picker.activated.emit(index)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.knobs[3].dial.setValue(-120)
    w.knob_panel.temperature.setValue(0.5)
    w.resize(761, 563)
    w.close()
    stored = file_settings(settings_file)
    assert json.loads(stored.value("knobs/mlp"))[3] == pytest.approx(-1.2)

    w2 = make_window()
    assert w2.model_info.kind == "mlp"
    assert w2.knob_panel.values()[3] == pytest.approx(-1.2)
    assert w2.knob_panel.temperature.value() == pytest.approx(0.5)
    assert w2.hold_voice.isChecked() and not w2.auto_play.isChecked()
    geometry = file_settings(settings_file).value("window/geometry")
    assert geometry is not None and w2.restoreGeometry(geometry)  # (offscreen clamps sizes to its screen)


def test_screenshot_mode(models_root: Path, tmp_path: Path) -> None:
    """``run_app(screenshot=...)`` renders a digit, saves a PNG and exits 0 (in a fresh process)."""
    out = tmp_path / "shot.png"
    code = (
        "import sys; from vaesynth.app import run_app; "
        f"sys.exit(run_app(model={str(models_root / 'cnn')!r}, screenshot={str(out)!r}))"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_survives_many_qt_calls(qtbot, make_window) -> None:  # noqa: ANN001
    """PySide6 6.12.0 on Python 3.11 loses a reference to None per void call and to True per emit;
    without vaesynth.app.qtcompat's guard this aborts the process ("deallocating None")."""
    w = make_window()
    for _ in range(200_000):  # more than None and True have references in this process
        w.knob_panel.placeholder.setText("")  # a void call
        w.models_listed.emit([])  # an emit (nothing is connected to it)
    assert sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0
