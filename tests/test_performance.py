"""Pitch, held notes and speed (vaesynth.engine.performance), measured on what the engine renders.

f0 is measured from the waveform with YIN (librosa) over its loud frames; the spectral envelope is the
long-term log spectrum smoothed across frequency. The measurements run on the shipped default model
(a source-filter decoder); without shipped models those tests skip with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.bundling import untrained_bundle
from vaesynth.dsp import spectral as sp
from vaesynth.engine.performance import Performance, midi_to_hz, parse_note
from vaesynth.engine.synth import Synth
from vaesynth.model.catalog import list_bundles

SHIPPED = "cvae" in list_bundles()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="needs the shipped default model (resources/models/cvae)")


def measured_f0(wave: np.ndarray, rate: int = 8000) -> float:
    """Median YIN f0 (Hz) over frames within 20 dB of the loudest."""
    import librosa

    w = np.asarray(wave, dtype=np.float64)
    f0 = librosa.yin(w, fmin=50, fmax=800, sr=rate, frame_length=512, hop_length=64, trough_threshold=0.1)
    rms = librosa.feature.rms(y=w, frame_length=512, hop_length=64)[0][: len(f0)]
    return float(np.median(f0[rms > rms.max() * 0.1]))


def envelope_db(wave: np.ndarray, cfg: sp.SpectralConfig) -> np.ndarray:
    """Long-term log spectrum of the loud frames (dB), smoothed over 9 bins (~280 Hz), mean removed."""
    db = 20 * np.log10(sp.magnitude(wave, cfg) + 1e-6)
    spec = db[db.max(1) > db.max() - 30].mean(0)
    smooth = np.convolve(spec, np.ones(9) / 9, mode="same")[8:110]  # 250-3400 Hz
    return smooth - smooth.mean()


@pytest.fixture(scope="module")
def synth() -> Synth:
    return Synth.from_path("cvae")


@pytest.fixture(scope="module")
def voices(synth: Synth) -> list[tuple[int, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(d, synth.knobs.fresh(d, 1.0, rng)) for d in range(10)]


def test_notes_and_ranges() -> None:
    assert parse_note("A4") == pytest.approx(440.0)
    assert parse_note("A3") == pytest.approx(220.0)
    assert parse_note("C#4") == pytest.approx(277.18, abs=0.01)
    assert parse_note("Eb2") == pytest.approx(77.78, abs=0.01)
    assert parse_note(57) == pytest.approx(220.0) == parse_note("57") == parse_note("220hz")
    assert midi_to_hz(60) == pytest.approx(261.63, abs=0.01)
    for bad in ("H2", "A", "", "C9", 5, "-3hz", True):
        with pytest.raises(ValueError):
            parse_note(bad)
    bad = ({"pitch": 13}, {"speed": 0.4}, {"speed": 2.5}, {"contour": 1.5}, {"note_hz": 5.0}, {"formant": 0.4},
           {"formant": 2.1}, {"formant": True})  # fmt: skip
    for kwargs in bad:
        with pytest.raises(ValueError):
            Performance(**kwargs)


def test_stretch_changes_the_frame_count_not_the_content() -> None:
    f = np.tile(np.linspace(0, 1, 20, dtype=np.float32)[:, None], (1, 3))
    slow = Performance(speed=0.5).stretch(f)
    assert len(slow) == 40 and slow[0, 0] == 0 and slow[-1, 0] == pytest.approx(1.0)
    assert len(Performance(speed=2.0).stretch(f)) == 10
    assert Performance().stretch(f) is f


def test_baseline_models_refuse_pitch_but_take_speed(tmp_path: Path) -> None:
    s = Synth.from_path(untrained_bundle("mlp", tmp_path / "mlp"))
    assert not s.has_f0
    with pytest.raises(ValueError, match="need the default model"):
        s.render_digit(3, np.zeros(s.latent_dim), Performance(pitch=3))
    with pytest.raises(ValueError, match="need the default model"):
        s.render_string("12", performance=Performance(note_hz=220.0))
    with pytest.raises(ValueError, match="need the default model"):
        s.render_digit(3, np.zeros(s.latent_dim), Performance(formant=1.2))
    a = s.render_digit(3, np.zeros(s.latent_dim))
    b = s.render_digit(3, np.zeros(s.latent_dim), Performance(speed=0.5))
    assert len(b.wave) == pytest.approx(2 * len(a.wave), rel=0.05)


@needs_shipped
def test_an_octave_up_doubles_f0_and_keeps_the_envelope(synth: Synth, voices) -> None:
    ratios, env_err = [], []
    for d, u in voices:
        a = synth.render_digit(d, u)
        b = synth.render_digit(d, u, Performance(pitch=12))
        ratios.append(measured_f0(b.wave) / measured_f0(a.wave))
        env_err.append(np.mean(np.abs(envelope_db(a.wave, synth.spectral) - envelope_db(b.wave, synth.spectral))))
        assert len(b.wave) == len(a.wave)  # pitch does not change the timing
    assert np.median(ratios) == pytest.approx(2.0, rel=0.03), ratios
    assert np.median(env_err) < 2.0 and max(env_err) < 4.0, env_err  # dB: formants stay put


@needs_shipped
def test_half_speed_doubles_the_duration_and_keeps_f0(synth: Synth, voices) -> None:
    ratios = []
    for d, u in voices:
        a = synth.render_digit(d, u)
        c = synth.render_digit(d, u, Performance(speed=0.5))
        assert c.duration == pytest.approx(2 * a.duration, rel=0.03)
        ratios.append(measured_f0(c.wave) / measured_f0(a.wave))
    assert np.median(ratios) == pytest.approx(1.0, rel=0.03), ratios


@needs_shipped
def test_a_held_note_sings_at_that_pitch(synth: Synth, voices) -> None:
    a3 = Performance(note_hz=parse_note("A3"), contour=0.0)
    f0 = [measured_f0(synth.render_digit(d, u, a3).wave) for d, u in voices]
    assert np.median(f0) == pytest.approx(220.0, rel=0.03), f0
    s = synth.render_string("42", performance=Performance(note_hz=parse_note("C4"), contour=0.5), seed=0)
    assert np.isfinite(s.wave).all() and s.digits == "42"


def envelope_scale(a: np.ndarray, b: np.ndarray, cfg: sp.SpectralConfig) -> float:
    """The frequency scale ``r`` that best maps the spectral envelope of ``a`` onto ``b``'s: where
    ``b``'s envelope peaks (formants) lie relative to ``a``'s. The envelope: each loud frame's log
    spectrum smoothed by its first 18 cepstral coefficients (under 2.25 ms: free of the harmonics
    up to 440 Hz), averaged; ``r`` on a 0.5 % grid maximises the correlation of ``env_a(f / r)``
    with ``env_b(f)`` over 150-3400 Hz."""

    def env(w: np.ndarray) -> np.ndarray:
        ln = np.log(sp.magnitude(w, cfg) + 1e-5)
        ln = ln[ln.max(1) > ln.max() - 30 / 8.69]  # frames within 30 dB of the loudest
        c = np.fft.irfft(ln, axis=1)
        c[:, 18:-17] = 0
        return np.fft.rfft(c, axis=1).real.mean(0)

    ea, eb = env(a), env(b)
    k = np.arange(len(ea))
    grid = np.exp(np.arange(np.log(0.5), np.log(2.0), 0.005))
    scores = [np.corrcoef(np.interp(k / r, k, ea)[5:110], eb[5:110])[0, 1] for r in grid]
    return float(grid[int(np.argmax(scores))])


@needs_shipped
def test_formants_move_the_envelope_peaks_by_the_ratio_and_keep_f0(synth: Synth, voices) -> None:
    for d, u in voices[:4]:
        a = synth.render_digit(d, u)
        np.testing.assert_array_equal(a.wave, synth.render_digit(d, u, Performance(formant=1.0)).wave)
        for ratio in (0.8, 1.2, 1.4):
            b = synth.render_digit(d, u, Performance(formant=ratio))
            assert len(b.wave) == len(a.wave)  # the timing stays
            assert envelope_scale(a.wave, b.wave, synth.spectral) == pytest.approx(ratio, rel=0.04), (d, ratio)
            assert measured_f0(b.wave) == pytest.approx(measured_f0(a.wave), rel=0.05), (d, ratio)  # < 1 semitone
    # with a pitch shift: both move, each by its own amount
    d, u = voices[5]
    a, b = synth.render_digit(d, u), synth.render_digit(d, u, Performance(pitch=7.0, formant=1.15))
    assert measured_f0(b.wave) / measured_f0(a.wave) == pytest.approx(2 ** (7 / 12), rel=0.04)
    assert envelope_scale(a.wave, b.wave, synth.spectral) == pytest.approx(1.15, rel=0.04)
