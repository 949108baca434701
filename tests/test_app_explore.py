"""Exploring in the window: the voice map, knobs that say what they do, the morph pad, saved voices
and reproducible exports. pytest-qt, offscreen, with real audio on the PulseAudio null sink for
the map click. The map needs an annotated bundle, so the models here are a copy of the shipped
conditional VAE (voice map, knob labels) and a random-weight MLP-VAE without either.
"""

# ruff: noqa: F811  (the fixtures imported from test_app are used by name as test parameters)
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from test_app import WAIT_MS, make_window, press, settings_file  # noqa: E402, F401

from vaesynth.app.messages import Origin  # noqa: E402
from vaesynth.app.voice_knobs import bilinear_weights  # noqa: E402
from vaesynth.model.bundle import load_bundle  # noqa: E402
from vaesynth.model.catalog import resources_dir  # noqa: E402
from vaesynth.voices.voice import KnobSpace, VoiceMap  # noqa: E402

SHIPPED = resources_dir() / "models"
FSDD = Path(__file__).resolve().parents[2] / "shared" / "fsdd" / "recordings"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.bundling import untrained_bundle

    root = tmp_path_factory.mktemp("explore-models")
    shutil.copytree(SHIPPED / "cvae", root / "cvae")
    untrained_bundle("mlp", root / "mlp")  # no voice map, no knob labels
    return root


@pytest.fixture(scope="module")
def space(models_root: Path) -> tuple[KnobSpace, np.ndarray, object]:
    """The knob space, training posteriors and voice map of the annotated model, read independently."""
    b = load_bundle(models_root / "cvae")
    return KnobSpace.from_stats(b.stats, b.speakers), b.stats.post_mu.double().numpy(), VoiceMap.from_bundle(b)


@pytest.fixture(autouse=True)
def private_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "voices"
    monkeypatch.setenv("VAESYNTH_VOICES", str(folder))
    return folder


def mean_spectrum(result) -> np.ndarray:  # noqa: ANN001
    return np.asarray(result.image_db).mean(axis=0)


def drag(qtbot, widget, points: list[QPoint], step_ms: int = 60) -> None:  # noqa: ANN001
    """A left-button drag through ``points`` as the user makes it (press, moves, release)."""
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for p in points[1:]:
        QTest.mouseMove(widget, p)
        qtbot.wait(step_ms)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def line(a: QPoint, b: QPoint, n: int = 8) -> list[QPoint]:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    return [QPoint(round(a.x() + dx * k / n), round(a.y() + dy * k / n)) for k in range(n + 1)]


def isolated_dot(points: np.ndarray) -> int:
    """The training utterance whose dot lies farthest from any other (a click on it picks it alone)."""
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return int(np.argmax(d.min(1)))


def settle(qtbot, w) -> object:  # noqa: ANN001
    """Wait until the scheduler is idle; the last render shown."""
    qtbot.waitUntil(lambda: w.scheduler.idle, timeout=WAIT_MS)
    qtbot.wait(50)
    return w.last_result


# --- 1: the voice map ---------------------------------------------------------------------------


@pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD recordings not found next to the checkout")
def test_map_dot_click_plays_recording_then_model_and_sets_knobs(pulse, qtbot, make_window, space, monkeypatch):  # noqa: ANN001
    from audio_utils import active_span, rms_db

    monkeypatch.setenv("VAESYNTH_FSDD", str(FSDD))
    knob_space, post_mu, vmap = space
    w = make_window()
    qtbot.waitUntil(lambda: w.audio_known, timeout=WAIT_MS)
    assert w.audio_available, w.audio_label.text()
    view = w.view.voice_map
    w.view.explore.setCurrentWidget(view)
    assert view.has_map and view.empty_text() == ""
    i = isolated_dot(vmap.points)
    digit = int(vmap.digits[i])
    assert (FSDD / vmap.files[i]).is_file()
    pos = view.widget_pos(vmap.points[i])  # aim where that dot is drawn
    rec = pulse.start_recording()
    try:
        with qtbot.waitSignal(w.playback_started, timeout=WAIT_MS):
            with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
                qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        result = blocker.args[0]
        played = w.playback.playing
        qtbot.wait(int(1000 * played.duration_s) + 400)
    finally:
        recorded = rec.stop()
    picked = result.request.utterance
    assert picked == i and result.request.origin is Origin.MAP_DOT and result.digits == str(digit)
    # the knobs are the clicked utterance's latent, for the digit said (the dot's digit)
    expected = knob_space.to_knobs([digit], post_mu[picked][None])[0]
    np.testing.assert_allclose(w.knob_panel.values(), expected, atol=1e-4)
    np.testing.assert_allclose(result.knobs, expected, atol=1e-4)
    assert w.hold_voice.isChecked() and w.digit == str(digit)
    # A/B: the recording, a gap, then the model; both reached the sink
    assert played.duration_s > result.duration_s + 0.3
    assert rms_db(recorded) > -60.0, "nothing reached the null sink"
    span = active_span(recorded, 48000, threshold_db=-50.0)
    assert span is not None and span[1] - span[0] > result.duration_s + 0.3, span
    assert "recording" in w.statusBar().currentMessage()
    # the marker sits on the voice now playing
    np.testing.assert_allclose(view.marker_position(), vmap.to_map(post_mu[picked]), atol=1e-3)


def test_map_click_without_recordings_plays_the_model_and_says_why(qtbot, make_window, monkeypatch, tmp_path):  # noqa: ANN001
    monkeypatch.setenv("VAESYNTH_FSDD", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    w = make_window()
    view = w.view.voice_map
    w.view.explore.setCurrentWidget(view)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        view.dot_clicked.emit(5)  # as a click on dot 5 does
    assert blocker.args[0].request.utterance == 5
    qtbot.waitUntil(lambda: "not here" in w.statusBar().currentMessage(), timeout=WAIT_MS)
    assert w.playback.playing.duration_s == pytest.approx(blocker.args[0].duration_s)


def test_map_drag_renders_live_and_moves_knobs_and_marker(qtbot, make_window, space) -> None:  # noqa: ANN001
    knob_space, _, vmap = space
    w = make_window()
    w.press_digit("5", play=False)
    settle(qtbot, w)
    view = w.view.voice_map
    w.view.explore.setCurrentWidget(view)
    lo, hi = vmap.points.min(0), vmap.points.max(0)
    a, b = lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo)  # two far-apart voices
    shown: list = []
    w.render_shown.connect(shown.append)
    drag(qtbot, view.plot.viewport(), line(view.widget_pos(a), view.widget_pos(b)))
    last = settle(qtbot, w)
    live = [r for r in shown if r.request.origin is Origin.MAP]
    assert len(live) >= 3, "a drag renders while it moves"
    assert all(r.digits == "5" for r in live)
    first = live[0]
    assert last is live[-1]
    # the end of the drag is heard: the knobs are those of the point under the mouse
    end = view.vb.mapSceneToView(view.plot.mapToScene(view.widget_pos(b))).toTuple()
    expected = knob_space.to_knobs([5], vmap.to_latent(end)[None].astype(np.float64))[0]
    np.testing.assert_allclose(w.knob_panel.values(), expected, atol=1e-3)
    np.testing.assert_allclose(last.knobs, expected, atol=1e-3)
    assert np.abs(np.subtract(first.knobs, last.knobs)).max() > 0.5
    diff = np.abs(mean_spectrum(first) - mean_spectrum(last)).mean()
    assert diff > 1.0, f"the two ends of the drag sound alike ({diff:.2f} dB)"
    np.testing.assert_allclose(view.marker_position(), end, atol=1e-3)
    # a knob turn moves the marker too (redrawn within 50 ms while knobs keep moving)
    before = view.marker_position()
    w.knob_panel.knobs[0].dial.setValue(w.knob_panel.knobs[0].dial.value() + 150)
    qtbot.waitUntil(lambda: np.hypot(*np.subtract(view.marker_position(), before)) > 0.05, timeout=1000)
    settle(qtbot, w)
    expected = knob_space.to_latent(5, w.knob_panel.values()).astype(np.float64)
    np.testing.assert_allclose(view.marker_position(), vmap.to_map(expected), atol=1e-3)


def test_model_without_a_map_loads_and_says_why(qtbot, make_window, models_root) -> None:  # noqa: ANN001
    w = make_window(model=str(models_root / "mlp"))
    assert w.model_info.name == "mlp"
    view = w.view.voice_map
    assert not view.has_map and "without a voice map" in view.empty_text()
    result = press(qtbot, w, "4")  # the rest works
    assert result.digits == "4"
    assert w.view.morph.corners(), "the pad still offers the speakers"
    assert "not measured" in w.knob_panel.knobs[0].dial.toolTip()


# --- 2: knobs that say what they do --------------------------------------------------------------


def test_knobs_show_their_label_and_measured_effects(make_window, models_root) -> None:  # noqa: ANN001
    from vaesynth.app.knob_labels import effects_text

    labels = load_bundle(models_root / "cvae").knob_labels
    w = make_window()
    for k, entry in zip(w.knob_panel.knobs, labels, strict=True):
        words = entry["label"].split(": ", 1)[1]
        assert k.description() == words.replace("more like", "like").replace(", ", "\n")
        assert effects_text(entry) in k.dial.toolTip()
    z1 = labels[0]["effects"]
    assert f"{z1['f0_semitones']:+.1f} semitones" in w.knob_panel.knobs[0].dial.toolTip()
    unclear = [i for i, e in enumerate(labels) if e["label"].endswith("no clear effect")]
    assert unclear and "No clear effect" in w.knob_panel.knobs[unclear[0]].dial.toolTip()


def test_effects_text_reads_as_words() -> None:
    from vaesynth.app.knob_labels import effects_text, short_label

    entry = {"label": "z3: higher pitch", "effects": {"f0_semitones": 2.14, "duration_pct": -3.2, "loudness_db": 0.5}}
    assert effects_text(entry) == "Turning up (higher pitch): +2.1 semitones, -3% duration, +0.5 dB."
    flat = {"label": "z2: no clear effect", "effects": {"duration_pct": 0.3}}
    assert effects_text(flat).startswith("No clear effect") and "+0% duration" in effects_text(flat)
    speaker = {"label": "z4: more like theo", "effects": {"speaker": 0.61}}
    assert "more like theo (speaker probability +0.61)" in effects_text(speaker)
    assert short_label(speaker) == "like theo" and short_label(None) == ""


# --- 3: the morph pad -----------------------------------------------------------------------------


def test_morph_pad_drag_blends_four_voices_and_changes_the_sound(qtbot, make_window, space) -> None:  # noqa: ANN001
    knob_space, _, _ = space
    w = make_window()
    w.press_digit("8", play=False)
    settle(qtbot, w)
    panel = w.view.morph
    w.view.explore.setCurrentWidget(panel)
    corners = ["george", "jackson", "lucas", "theo"]
    for k, name in enumerate(corners):
        panel.set_corner(k, name)
    settle(qtbot, w)
    pad = panel.pad
    shown: list = []
    w.render_shown.connect(shown.append)
    drag(qtbot, pad, line(pad.widget_pos(0.0, 1.0), pad.widget_pos(1.0, 0.0)))  # top-left to bottom-right
    last = settle(qtbot, w)
    live = [r for r in shown if r.request.origin is Origin.PAD]
    assert len(live) >= 3 and last is live[-1]
    x, y = pad.puck()
    assert (x, y) == pytest.approx((1.0, 0.0), abs=0.02)
    # the knobs show the blend: bilinear in latent space = bilinear in knob space (affine per digit)
    presets = [knob_space.preset(s, 8).astype(np.float64) for s in corners]
    blend_knobs = sum(wk * p for wk, p in zip(bilinear_weights(x, y), presets, strict=True))
    np.testing.assert_allclose(w.knob_panel.values(), blend_knobs, atol=1e-3)
    np.testing.assert_allclose(last.knobs, blend_knobs, atol=1e-3)
    first = live[0]
    assert np.abs(np.subtract(first.knobs, last.knobs)).max() > 0.3
    diff = np.abs(mean_spectrum(first) - mean_spectrum(last)).mean()
    assert diff > 1.0, f"george and theo's corners sound alike ({diff:.2f} dB)"
    # the middle of the pad is the mean of the four
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        qtbot.mouseClick(pad, Qt.MouseButton.LeftButton, pos=pad.widget_pos(0.5, 0.5))
    settle(qtbot, w)
    np.testing.assert_allclose(w.knob_panel.values(), np.mean(presets, axis=0), atol=0.02)


def test_map_points_become_pad_corners(qtbot, make_window, space) -> None:  # noqa: ANN001
    knob_space, post_mu, vmap = space
    w = make_window()
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.view.voice_map.dot_clicked.emit(100)
    label = f"map: {vmap.files[100][:-4]}"
    panel = w.view.morph
    assert label in [c.label for c in panel.choices]
    for k in range(4):
        panel.set_corner(k, label)
    settle(qtbot, w)
    expected = knob_space.to_knobs([int(w.digit)], post_mu[100][None])[0]
    np.testing.assert_allclose(w.knob_panel.values(), expected, atol=1e-3)


# --- 4: voices you keep and reproducible exports --------------------------------------------------


def test_saved_voice_reloads_bit_identically(qtbot, make_window, private_voices) -> None:  # noqa: ANN001
    w = make_window()
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.randomize.click()
    digit_before = press(qtbot, w, "6")
    w.say_box.set_text("4 15")
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.play_text(seed=1234)
    string_before = blocker.args[0]
    knobs_before = w.knob_panel.values()
    voices = w.view.voices
    assert voices.save_as("My voice") and voices.names() == ["My voice"]
    assert (private_voices / "My voice.json").is_file()
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.randomize.click()
    assert w.knob_panel.values() != knobs_before
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        assert voices.load("My voice")
    np.testing.assert_array_equal(np.float32(w.knob_panel.values()), np.float32(knobs_before))
    assert w.hold_voice.isChecked()
    digit_after = press(qtbot, w, "6")
    np.testing.assert_array_equal(digit_after.wave, digit_before.wave)
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.play_text(seed=1234)
    np.testing.assert_array_equal(blocker.args[0].wave, string_before.wave)
    # rename and delete through the panel; a saved voice is offered as a pad corner
    assert "saved: My voice" in [c.label for c in w.view.morph.choices]
    assert voices.rename("My voice", "Deep") and voices.names() == ["Deep"]
    assert "saved: Deep" in [c.label for c in w.view.morph.choices]
    assert not voices.rename("Nope", "Other")
    assert "Could not rename" in w.statusBar().currentMessage()
    assert voices.delete("Deep") and voices.names() == []


def test_voices_of_other_models_are_not_offered(qtbot, make_window, models_root, private_voices) -> None:  # noqa: ANN001
    from vaesynth.voices.keep import SavedVoice, save_voice

    save_voice(SavedVoice("Other", "mlp", (0.0,) * 16), private_voices)
    w = make_window()
    assert w.view.voices.names() == []
    assert "1 saved voice of other models" in w.view.voices.note.text()


def exported_matches_recipe(w, tmp_path: Path, name: str) -> object:  # noqa: ANN001
    import soundfile as sf

    from vaesynth.engine.synth import Synth
    from vaesynth.sound.wavfile import write_wav
    from vaesynth.voices.keep import read_recipe

    path = w.export_wav(tmp_path / name)
    assert path is not None and path.is_file()
    recipe = read_recipe(path)
    again = recipe.render(Synth.from_path(recipe.model))
    redo = write_wav(tmp_path / f"again-{name}", again.wave, again.sample_rate)
    a, ra = sf.read(str(path), dtype="int16")
    b, rb = sf.read(str(redo), dtype="int16")
    assert ra == rb and a.size > 0
    np.testing.assert_array_equal(a, b)
    return recipe


def test_exported_wav_carries_a_recipe_that_makes_it_again(qtbot, make_window, tmp_path) -> None:  # noqa: ANN001
    w = make_window()
    press(qtbot, w, "2")  # a fresh voice: drawn by the engine, recorded exactly
    recipe = exported_matches_recipe(w, tmp_path, "two.wav")
    assert recipe.single and recipe.text == "2" and recipe.knobs == w.last_result.knobs
    w.say_box.set_text("555-0123")
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.play_text()  # the app draws the seed and records it
    assert blocker.args[0].request.seed is not None
    recipe = exported_matches_recipe(w, tmp_path, "number.wav")
    assert not recipe.single and recipe.seed == blocker.args[0].request.seed and recipe.vary
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.knob_panel.voice.setCurrentIndex(2)
        w.knob_panel.voice.activated.emit(2)  # a preset, as chosen in the list
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        w.play_text()
    recipe = exported_matches_recipe(w, tmp_path, "preset.wav")
    assert recipe.voice == w.knob_panel.voice.currentText()
    press(qtbot, w, "4")
    assert exported_matches_recipe(w, tmp_path, "key.wav").gl_iters is None  # a key press: the full phase
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
        w.knob_panel.knobs[0].dial.setValue(w.knob_panel.knobs[0].dial.value() + 40)  # a live edit
    assert blocker.args[0].request.origin is Origin.KNOB
    from vaesynth.engine.synth import LIVE_GL_ITERS

    assert exported_matches_recipe(w, tmp_path, "knob.wav").gl_iters == LIVE_GL_ITERS  # lighter, and says so


# --- 5: keyboard and layout -----------------------------------------------------------------------


def test_digit_keys_reach_the_keypad_from_map_pad_and_voices(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.activateWindow()
    for page, target in (
        (w.view.morph, w.view.morph.pad),
        (w.view.morph, w.view.morph.pickers[0]),
        (w.view.voices, w.view.voices.list),
        (w.view.voice_map, w.view.voice_map.colour_by),
    ):
        w.view.explore.setCurrentWidget(page)
        target.setFocus()
        qtbot.waitUntil(target.hasFocus)
        with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS) as blocker:
            QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_7)
        assert blocker.args[0].digits == "7", type(target).__name__
    # Alt+P, Alt+V, Alt+M switch the explore tabs
    for k, page in ((Qt.Key.Key_P, w.view.morph), (Qt.Key.Key_V, w.view.voices), (Qt.Key.Key_M, w.view.voice_map)):
        QTest.keyClick(QApplication.focusWidget() or w, k, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(lambda page=page: w.view.explore.currentWidget() is page, timeout=2000)
    # the arrow keys move the puck when the pad has the focus
    w.view.explore.setCurrentWidget(w.view.morph)
    w.view.morph.pad.setFocus()
    x0, _ = w.view.morph.pad.puck()
    with qtbot.waitSignal(w.render_shown, timeout=WAIT_MS):
        QTest.keyClick(w.view.morph.pad, Qt.Key.Key_Right)
    assert w.view.morph.pad.puck()[0] == pytest.approx(min(1.0, x0 + 0.05))


def test_explore_tab_and_splitter_persist(qtbot, make_window) -> None:  # noqa: ANN001
    w = make_window()
    w.view.explore.setCurrentWidget(w.view.morph)
    total = sum(w.view.top_splitter.sizes())
    w.view.top_splitter.setSizes([total - 300, 300])
    sizes = w.view.top_splitter.sizes()
    w.close()  # saves the settings
    again = make_window()
    assert again.view.explore.currentWidget() is again.view.morph
    again.resize(w.size())
    assert again.view.top_splitter.sizes() == sizes


@pytest.mark.parametrize("size", [(1024, 640), (1280, 800), (1920, 1080)])
def test_layout_reads_at_common_sizes(qtbot, make_window, size) -> None:  # noqa: ANN001
    w = make_window()
    w.resize(*size)
    qtbot.waitUntil(lambda: w.size().toTuple() == size, timeout=5000)
    QApplication.processEvents()
    view = w.view
    spec, plot, pad = view.spectrogram, view.voice_map.plot, view.morph.pad
    minimum = 150 if size[0] < 1280 else 250
    assert spec.width() >= minimum * 0.8 and spec.height() >= 100, spec.size()
    assert plot.width() >= minimum * 0.8 and plot.height() >= 100, plot.size()
    view.explore.setCurrentWidget(view.morph)
    QApplication.processEvents()
    assert min(pad.square().width(), pad.square().height()) >= 100, pad.size()
    # every knob with a clear effect fully visible without scrolling; the rest folded under More
    panel = w.knob_panel
    shown = [panel.knobs[i] for i in panel.order if i not in panel.folded]
    assert shown and all(k.visibleRegion().boundingRect().size() == k.size() for k in shown)
    assert panel.more.visibleRegion().boundingRect().size() == panel.more.size()
    assert not any(panel.knobs[i].isVisible() for i in panel.folded)
