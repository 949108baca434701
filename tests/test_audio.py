"""Audio output: through the PulseAudio null sink (what played == what was rendered), and without devices."""

from __future__ import annotations

import builtins
import time
from pathlib import Path

import numpy as np
import pytest
from audio_utils import active_span, dominant_frequency, make_tone, rms_db

from vaesynth.audio import NO_DEVICE, NO_PORTAUDIO, AudioOutput, resample
from vaesynth.spectral import magnitude

REC_RATE = 48000


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    """An untrained cvae whose valid head says "keep going": every render is a full 0.9 s."""
    import torch

    from training.bundling import untrained_bundle
    from vaesynth.bundle import load_bundle
    from vaesynth.synth import Synth

    bundle = load_bundle(untrained_bundle("cvae", Path(tmp_path_factory.mktemp("models")) / "cvae"))
    with torch.no_grad():
        bundle.model.valid_head.weight.zero_()
        bundle.model.valid_head.bias.fill_(10.0)
    return Synth(bundle)


def _wait_until_done(out: AudioOutput, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while out.is_playing and time.monotonic() < deadline:
        time.sleep(0.02)


def _band_spectrum_db(x: np.ndarray, rate: int, n_fft: int = 1024, fmax: float = 3800.0) -> np.ndarray:
    """Mean power spectrum (dB) of ``x`` below ``fmax`` on a common 100 Hz grid."""
    x = np.asarray(x, dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 4]
    p = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(n_fft, 1 / rate)
    grid = np.arange(100.0, fmax, 50.0)
    band = np.array([p[(f >= g - 25) & (f < g + 25)].mean() for g in grid])
    return 10 * np.log10(band / band.max() + 1e-12)


def test_what_played_is_what_was_rendered(pulse, synth) -> None:
    render = synth.render_digit(5, synth.knobs.fresh(rng=0))
    sr = render.sample_rate
    out = AudioOutput()
    assert out.available, out.status
    assert out.sample_rate in (48000, 44100)
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(render.wave, sr)
    assert out.is_playing
    time.sleep(0.1)
    pos = out.position()
    assert pos is not None and 0.0 <= pos < render.duration
    _wait_until_done(out, render.duration + 2.0)
    recorded = rec.stop(tail_s=0.2)
    out.close()
    assert not out.is_playing and out.position() is None

    expected = resample(render.wave, sr, REC_RATE)
    span = active_span(recorded, REC_RATE, threshold_db=-40)
    want = active_span(expected, REC_RATE, threshold_db=-40)
    assert span is not None and want is not None
    # duration: the same active span, within a few ms of the fades
    assert abs((span[1] - span[0]) - (want[1] - want[0])) < 0.02
    played = recorded[round(span[0] * REC_RATE) : round(span[1] * REC_RATE)]
    ref = expected[round(want[0] * REC_RATE) : round(want[1] * REC_RATE)]
    # energy: unity gain through the null sink
    assert abs(rms_db(played) - rms_db(ref)) < 1.0
    # spectrum: the same long-term spectral shape in the model's band (dB, mean abs difference)
    diff = np.abs(_band_spectrum_db(played, REC_RATE) - _band_spectrum_db(ref, REC_RATE))
    assert np.mean(np.clip(diff, 0, 40)) < 2.0
    # and the waveform itself: at the best alignment, the same samples
    start = round(span[0] * REC_RATE)
    window = recorded[max(0, start - 2000) : start + len(expected) + 2000]
    c = np.correlate(window, expected, mode="valid")
    lag = int(np.argmax(c))
    assert np.corrcoef(window[lag : lag + len(expected)], expected)[0, 1] > 0.98
    # the decoded spectrogram of what played matches the render's (model rate)
    back = resample(played, REC_RATE, sr)
    m1, m2 = magnitude(back, synth.spectral), magnitude(render.wave, synth.spectral)
    assert abs(np.log10(m1.sum() / m2.sum())) < 0.1


def test_new_note_cuts_the_previous_without_a_click(pulse) -> None:
    out = AudioOutput()
    assert out.available, out.status
    rate = 8000
    a = make_tone(440.0, 1.0, rate=rate, amplitude=0.5)
    b = make_tone(660.0, 0.5, rate=rate, amplitude=0.5)
    rec = pulse.start_recording(rate=REC_RATE)
    out.play(a, rate)
    time.sleep(0.3)
    out.play(b, rate)
    _wait_until_done(out, 3.0)
    x = rec.stop(tail_s=0.2)
    out.close()
    span = active_span(x, REC_RATE)
    assert span is not None
    # a 0.5-amplitude sine at <= 660 Hz moves < 0.05 per sample at 48 kHz; a hard cut jumps up to 1.0
    assert np.max(np.abs(np.diff(x))) < 0.08
    # the first tone was cut: total activity is well under 1.0 + 0.5 s, and the end is the second tone
    assert span[1] - span[0] < 1.2
    tail = x[round((span[1] - 0.3) * REC_RATE) : round((span[1] - 0.05) * REC_RATE)]
    assert abs(dominant_frequency(tail, REC_RATE) - 660.0) < 5.0


def test_stop_fades_out_quickly(pulse) -> None:
    out = AudioOutput()
    rec = pulse.start_recording(rate=REC_RATE)
    out.play(make_tone(300.0, 2.0, rate=8000, amplitude=0.5), 8000)
    time.sleep(0.3)
    out.stop()
    assert not out.is_playing
    x = rec.stop(tail_s=0.3)
    out.close()
    span = active_span(x, REC_RATE)
    assert span is not None and span[1] - span[0] < 0.6
    assert np.max(np.abs(np.diff(x))) < 0.08


def test_devices_and_bad_device(pulse) -> None:
    out = AudioOutput()
    devs = out.devices()
    assert devs and all({"index", "name", "default_samplerate"} <= set(d) for d in devs)
    out.set_device(99999)
    assert not out.available and "not found" in out.status
    assert out.play(np.zeros(800, np.float32), 8000) is False
    out.set_device(None)
    assert out.available, out.status
    assert out.play(np.zeros(800, np.float32), 8000)
    out.close()
    assert not AudioOutput(device=99999).available


def test_device_lost_mid_play_is_reported_and_recovers(pulse) -> None:
    out = AudioOutput()
    assert out.play(make_tone(300.0, 1.0, rate=8000), 8000)
    time.sleep(0.1)
    out._stream.abort()  # what a vanished device looks like from here: the stream ends under us
    deadline = time.monotonic() + 2
    while out.available and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not out.available and "stopped" in out.status
    assert out.position() is None
    assert out.play(make_tone(300.0, 0.2, rate=8000), 8000)  # reopens the stream
    assert out.available
    out.close()


def test_idle_stream_pauses_and_restarts(pulse, monkeypatch) -> None:
    import vaesynth.audio

    monkeypatch.setattr(vaesynth.audio, "IDLE_PAUSE_S", 0.2)
    out = AudioOutput()
    assert out.play(make_tone(300.0, 0.1, rate=8000), 8000)
    deadline = time.monotonic() + 3
    while out._stream.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not out._stream.active  # paused itself
    assert out.available, out.status  # which is not a failure
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(make_tone(500.0, 0.3, rate=8000), 8000)
    _wait_until_done(out, 2.0)
    x = rec.stop(tail_s=0.2)
    out.close()
    assert out.available
    assert abs(dominant_frequency(x, REC_RATE) - 500.0) < 5.0


def test_callback_errors_never_escape(pulse) -> None:
    out = AudioOutput()
    buf = np.ones((256, 1), np.float32)
    out._current = "not a sound"  # type: ignore[assignment]
    out._callback(buf, 256, None, None)
    assert not buf.any()
    out.close()


def test_no_output_device(no_audio_env) -> None:
    out = AudioOutput()
    assert not out.available
    assert out.status == NO_DEVICE
    assert out.devices() == []
    assert out.play(np.zeros(800, np.float32), 8000) is False
    out.stop()
    assert out.position() is None and not out.is_playing
    out.set_device(None)
    assert not out.available


def test_portaudio_missing(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    out = AudioOutput()
    assert not out.available and out.status == NO_PORTAUDIO
    assert out.devices() == []
    assert out.play(np.zeros(100, np.float32), 8000) is False
    out.stop()
    out.set_device(3)
    out.rescan()
    assert out.position() is None


def test_bad_waveforms_raise_value_error() -> None:
    out = AudioOutput()
    with pytest.raises(ValueError):
        out.play(np.zeros((10, 2), np.float32), 8000)
    with pytest.raises(ValueError):
        out.play(np.array([np.nan], np.float32), 8000)
    with pytest.raises(ValueError):
        out.play(np.zeros(10, np.float32), 0)
    out.close()


def test_resample_keeps_pitch_and_length() -> None:
    tone = make_tone(1000.0, 0.5, rate=8000)
    up = resample(tone, 8000, 48000)
    assert up.dtype == np.float32 and abs(len(up) - 6 * len(tone)) <= 6
    assert abs(dominant_frequency(up, 48000) - 1000.0) < 2.0
    assert abs(rms_db(up) - rms_db(tone)) < 0.2
