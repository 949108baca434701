"""The test harness itself: real audio out through the PulseAudio null sink, and headless Qt through qtbot."""

from __future__ import annotations

import time

import numpy as np
import pytest
from audio_utils import active_duration, active_span, dominant_frequency, make_tone, rms_db

RATE = 48000


# ---- analysis helpers (no audio device needed) ----------------------------------------------------------------------


def test_analysis_helpers_on_a_synthetic_signal() -> None:
    tone = make_tone(440.0, 0.5, RATE)
    x = np.concatenate([np.zeros(RATE // 10, np.float32), tone, np.zeros(RATE // 5, np.float32)])
    assert dominant_frequency(x, RATE) == pytest.approx(440.0, abs=0.5)
    assert active_duration(x, RATE) == pytest.approx(0.5, abs=0.002)
    start, end = active_span(x, RATE)
    assert start == pytest.approx(0.1, abs=0.002) and end == pytest.approx(0.6, abs=0.002)
    assert rms_db(tone) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    assert active_duration(np.zeros(RATE, np.float32), RATE) == 0.0


# ---- audio: what sounddevice plays is what the monitor hears --------------------------------------------------------


def test_default_output_is_the_null_sink(pulse) -> None:
    import sounddevice as sd

    assert sd.default.device[1] >= 0, "PortAudio sees no default output device"
    assert pulse.sink_name == "vaesynth_test"
    assert pulse.monitor_name == "vaesynth_test.monitor"


def test_played_tone_is_recorded_back_with_right_duration_and_pitch(pulse) -> None:
    import sounddevice as sd

    tone = make_tone(440.0, 0.5, RATE, amplitude=0.5)
    rec = pulse.start_recording(rate=RATE)
    t0 = time.monotonic()
    sd.play(tone, RATE, blocking=False)
    sd.wait()
    play_wall_s = time.monotonic() - t0
    heard = rec.stop()

    assert heard.dtype == np.float32 and heard.ndim == 1
    assert rms_db(heard) > -60, "the monitor heard nothing"
    assert active_duration(heard, RATE, threshold_db=-30) == pytest.approx(0.5, abs=0.05)
    assert dominant_frequency(heard, RATE) == pytest.approx(440.0, abs=5.0)
    # norewinds=1 keeps playback near real time (without it: 1.5-3x slower).
    assert play_wall_s < 1.5, f"0.5 s of audio took {play_wall_s:.2f} s to play"


def test_no_audio_env_has_no_output_device(no_audio_env) -> None:
    import sounddevice as sd

    assert sd.default.device[1] < 0
    with pytest.raises(sd.PortAudioError):
        sd.play(np.zeros(4800, np.float32), RATE, blocking=True)


def test_audio_is_back_after_no_audio_env(pulse) -> None:
    import sounddevice as sd

    assert sd.default.device[1] >= 0


# ---- Qt: a widget clicked through qtbot ------------------------------------------------------------------------------


def test_qt_button_click_emits_signal(qtbot) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    button = QPushButton("Say 7")
    qtbot.addWidget(button)
    button.show()
    with qtbot.waitSignal(button.clicked, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
