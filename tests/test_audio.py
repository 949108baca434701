"""Audio output: through the PulseAudio null sink (what played == what was rendered), and without devices."""

from __future__ import annotations

import builtins
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from audio_utils import active_span, dominant_frequency, make_tone, rms_db

from vaesynth.dsp.spectral import magnitude, resample
from vaesynth.sound.audio import NO_DEVICE, NO_PORTAUDIO, AudioOutput

REC_RATE = 48000


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    """An untrained cvae whose valid head says "keep going": every render is a full 0.9 s."""
    import torch

    from training.bundling import untrained_bundle
    from vaesynth.engine.synth import Synth
    from vaesynth.model.bundle import load_bundle

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

    class Vanished:  # what a vanished device looks like from here: the stream ends by itself, not by us
        def mix_into(self, out, frames):  # noqa: ANN001
            import sounddevice as sd

            raise sd.CallbackAbort

    out.streams[-1].voices = (Vanished(),)
    deadline = time.monotonic() + 2
    while out.available and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not out.available and "stopped" in out.status
    assert out.position() is None
    assert out.play(make_tone(300.0, 0.2, rate=8000), 8000)  # opens a stream again
    assert out.available
    out.close()


def _sink_inputs() -> list[str]:
    """The sound server's playback streams (a recorder is a source output, not listed here)."""
    res = subprocess.run(["pactl", "list", "short", "sink-inputs"], capture_output=True, text=True, timeout=10)
    return [line for line in res.stdout.splitlines() if line.strip()]


def _wait_closed(out: AudioOutput, limit_s: float = 3.0) -> None:
    deadline = time.monotonic() + limit_s
    while out.open_streams and time.monotonic() < deadline:
        time.sleep(0.02)


def test_idle_closes_the_stream_and_the_next_sound_plays(pulse) -> None:
    before = len(_sink_inputs())
    out = AudioOutput()
    assert out.open_streams == 0 and len(_sink_inputs()) == before  # nothing held open after the device check
    assert out.play(make_tone(300.0, 0.1, rate=8000), 8000)
    assert out.open_streams == 1
    _wait_closed(out)
    assert out.open_streams == 0  # closed itself once the sound was over
    assert len(_sink_inputs()) == before  # and the sound server knows it: nothing of ours is left there
    assert out.available, out.status  # which is not a failure
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(make_tone(500.0, 0.3, rate=8000), 8000)
    _wait_until_done(out, 2.0)
    x = rec.stop(tail_s=0.2)
    _wait_closed(out)
    assert out.open_streams == 0 and out.available
    assert abs(dominant_frequency(x, REC_RATE) - 500.0) < 5.0
    out.stop()  # nothing playing: harmless
    out.close()


def test_stop_closes_the_stream(pulse) -> None:
    out = AudioOutput()
    assert out.play(make_tone(300.0, 5.0, rate=8000), 8000)
    time.sleep(0.1)
    out.stop()
    _wait_closed(out)
    assert out.open_streams == 0 and not out.is_playing
    out.close()


def test_prepare_opens_the_stream_ahead_and_play_uses_it(pulse, monkeypatch) -> None:
    import vaesynth.sound.audio

    monkeypatch.setattr(vaesynth.sound.audio, "STANDBY_S", 0.3)
    out = AudioOutput()
    out.prepare()
    assert out.open_streams == 1  # opened, not started
    out.prepare()  # a second call while one waits: still one
    assert out.open_streams == 1
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(make_tone(500.0, 0.3, rate=8000), 8000)
    assert out.open_streams == 1  # the prepared stream plays it: no second one
    _wait_until_done(out, 2.0)
    x = rec.stop(tail_s=0.2)
    _wait_closed(out)
    assert out.open_streams == 0
    assert abs(dominant_frequency(x, REC_RATE) - 500.0) < 5.0
    out.prepare()  # and when no sound follows, it is closed again soon
    assert out.open_streams == 1
    _wait_closed(out)
    assert out.open_streams == 0 and out.available
    out.close()


def test_callback_errors_never_escape(pulse) -> None:
    out = AudioOutput()
    assert out.play(make_tone(300.0, 1.0, rate=8000), 8000)
    stream = out.streams[-1]
    stream.voices = ("not a sound",)  # type: ignore[assignment]
    buf = np.ones((256, 1), np.float32)
    stream.callback(buf, 256, None, None)
    assert not buf.any()
    out.close()


def test_latency_is_reported(pulse) -> None:
    small = AudioOutput(latency=0.01)
    large = AudioOutput(latency=0.2)
    for out in (small, large):
        assert out.available, out.status
        assert 0.0 < out.latency_s < 1.0  # known (from the device check) before anything plays
    assert small.latency_s < large.latency_s
    assert small.latency_s == pytest.approx(0.01, abs=0.01)
    assert small.play(make_tone(300.0, 0.3, rate=8000), 8000)
    assert small.latency_s == pytest.approx(0.01, abs=0.01)  # now the open stream's own figure
    small.close()
    large.close()
    assert small.underruns >= 0


def _tone_level(x: np.ndarray, freq: float, start: int, n: int) -> float:
    """Amplitude of the ``freq`` component of ``x[start:start + n]`` (a single-bin DFT, Hann window)."""
    seg = x[start : start + n].astype(np.float64)
    if len(seg) < n:
        return 0.0
    t = np.arange(n) / REC_RATE
    w = np.hanning(n)
    return float(2 * np.abs(np.sum(seg * w * np.exp(-2j * np.pi * freq * t))) / np.sum(w))


def _onset(x: np.ndarray, freq: float, level: float, after: int = 0, win: int = 960) -> int:
    """First sample index (in 5 ms steps from ``after``) where ``freq`` is present at ``level`` or more."""
    for i in range(after, len(x) - win, win // 4):
        if _tone_level(x, freq, i, win) >= level:
            return i
    raise AssertionError(f"{freq} Hz never reached {level}")


def test_crossfade_switches_without_a_click_and_the_new_sound_is_heard(pulse) -> None:
    out = AudioOutput()
    rate = 8000
    a = make_tone(440.0, 1.5, rate=rate, amplitude=0.4)
    b = make_tone(660.0, 0.8, rate=rate, amplitude=0.4)
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(a, rate)
    time.sleep(0.4)
    assert out.play(b, rate, crossfade_s=0.08)
    _wait_until_done(out, 3.0)
    x = rec.stop(tail_s=0.2)
    out.close()
    # no click: two overlapping 0.4-amplitude sines move < 0.07 per sample; a cut would jump up to 0.4
    assert np.max(np.abs(np.diff(x))) < 0.08
    # the new sound is heard, and it faded in: at the switch it is there but not yet at full level
    on = _onset(x, 660.0, 0.04, after=round(0.2 * REC_RATE))  # well after the first one started
    full = _onset(x, 660.0, 0.36, after=on)
    assert 0.03 * REC_RATE < full - on < 0.15 * REC_RATE
    # the old one faded out over the cross-fade (not cut, not left playing)
    assert _tone_level(x, 440.0, on, 960) > 0.2  # still there when the new one starts
    assert _tone_level(x, 440.0, on + round(0.12 * REC_RATE), 960) < 0.01  # gone soon after
    tail = x[full : full + round(0.5 * REC_RATE)]
    assert abs(dominant_frequency(tail, REC_RATE) - 660.0) < 5.0


def test_crossfade_sweep_every_100_ms_never_clicks(pulse) -> None:
    out = AudioOutput()
    rate = 8000
    freqs = [300.0 + 40.0 * i for i in range(10)]
    rec = pulse.start_recording(rate=REC_RATE)
    for f in freqs:  # like a knob being turned: a new render every 100 ms, each cross-faded in
        assert out.play(make_tone(f, 0.6, rate=rate, amplitude=0.4), rate, crossfade_s=0.03)
        time.sleep(0.1)
    _wait_until_done(out, 3.0)
    x = rec.stop(tail_s=0.2)
    _wait_closed(out)
    assert out.open_streams == 0
    out.close()
    assert np.max(np.abs(np.diff(x))) < 0.08
    span = active_span(x, REC_RATE)
    assert span is not None
    tail = x[round((span[1] - 0.4) * REC_RATE) : round((span[1] - 0.05) * REC_RATE)]
    assert abs(dominant_frequency(tail, REC_RATE) - freqs[-1]) < 5.0


def test_crossfade_with_nothing_playing_starts_at_once(pulse) -> None:
    out = AudioOutput()
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(make_tone(500.0, 0.4, rate=8000, amplitude=0.4), 8000, crossfade_s=0.3)
    _wait_until_done(out, 2.0)
    x = rec.stop(tail_s=0.2)
    out.close()
    on = _onset(x, 500.0, 0.04)
    assert _onset(x, 500.0, 0.36, after=on) - on < 0.02 * REC_RATE  # no 0.3 s fade-in: nothing to fade from


def test_falls_back_to_mixing_when_a_second_stream_cannot_open(pulse, monkeypatch) -> None:
    import vaesynth.sound.audio

    real = vaesynth.sound.audio.Stream

    outputs: list[AudioOutput] = []

    class OneAtATime(real):  # an exclusive device: a second stream fails to open
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            if outputs and outputs[0].open_streams:
                raise RuntimeError("Device unavailable [PaErrorCode -9985]")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(vaesynth.sound.audio, "Stream", OneAtATime)
    out = AudioOutput()
    outputs.append(out)
    rec = pulse.start_recording(rate=REC_RATE)
    assert out.play(make_tone(440.0, 1.0, rate=8000, amplitude=0.4), 8000)
    time.sleep(0.3)
    assert out.play(make_tone(660.0, 0.5, rate=8000, amplitude=0.4), 8000)
    assert out.open_streams == 1 and out.available
    _wait_until_done(out, 3.0)
    x = rec.stop(tail_s=0.2)
    out.close()
    assert np.max(np.abs(np.diff(x))) < 0.08
    span = active_span(x, REC_RATE)
    assert span is not None and span[1] - span[0] < 1.2  # the first was cut
    tail = x[round((span[1] - 0.3) * REC_RATE) : round((span[1] - 0.05) * REC_RATE)]
    assert abs(dominant_frequency(tail, REC_RATE) - 660.0) < 5.0


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
    with pytest.raises(ValueError):
        out.play(np.zeros(10, np.float32), 8000, crossfade_s=-0.1)
    with pytest.raises(ValueError):
        out.play(np.zeros(10, np.float32), 8000, crossfade_s=float("nan"))
    out.close()


def test_resample_keeps_pitch_and_length() -> None:
    tone = make_tone(1000.0, 0.5, rate=8000)
    up = resample(tone, 8000, 48000)
    assert up.dtype == np.float32 and abs(len(up) - 6 * len(tone)) <= 6
    assert abs(dominant_frequency(up, 48000) - 1000.0) < 2.0
    assert abs(rms_db(up) - rms_db(tone)) < 0.2
