"""Phase reconstruction (vaesynth.dsp.phase) and the STFT pair: the fast paths agree with the textbook ones."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import log_spectral_distance
from vaesynth.dsp import phase as ph
from vaesynth.dsp import spectral as sp

CFG = sp.SpectralConfig()


def reference_griffin_lim(mag: np.ndarray, cfg: sp.SpectralConfig, n_iter: int, momentum: float, angles: np.ndarray):
    """Textbook fast Griffin-Lim: istft of the current estimate, stft again, momentum, keep the phase."""
    n_samples = (mag.shape[-2] - 1) * cfg.hop
    prev = np.zeros_like(angles)
    for _ in range(n_iter):
        wave = ph.istft(mag * angles, cfg, n_samples)
        rebuilt = np.stack([sp.stft(w, cfg) for w in wave.reshape(-1, n_samples)]).reshape(mag.shape)
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return ph.istft(mag * angles, cfg, n_samples)


def vowel(seconds: float = 0.5, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A synthetic vowel at 8 kHz: harmonics of a gliding f0 under a formant-like envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * CFG.sample_rate)) / CFG.sample_rate
    f = f0 * (1 + 0.1 * t / seconds)
    phase = 2 * np.pi * np.cumsum(f) / CFG.sample_rate
    x = np.zeros_like(t)
    for h in range(1, int(3800 / (f0 * 1.1))):
        amp = np.exp(-(((h * f0 - 700) / 400) ** 2)) + 0.5 * np.exp(-(((h * f0 - 1200) / 500) ** 2)) + 0.02
        x += amp * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    x *= np.hanning(len(x)) ** 0.3
    return (0.9 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(params=ph.FFT_BACKENDS)
def fft_backend(request) -> str:
    """Every FFT backend, chosen explicitly (no global state decides it)."""
    return request.param


@pytest.mark.parametrize("shape", [(60, 129), (2, 37, 129), (3, 129)])
@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_fast_griffin_lim_matches_the_textbook_loop(fft_backend, shape, momentum) -> None:
    rng = np.random.default_rng(0)
    mag = np.abs(rng.standard_normal(shape)).astype(np.float32)
    angles = ph.initial_phase(mag, CFG, "random", seed=3)
    want = reference_griffin_lim(mag, CFG, 12, momentum, angles)
    got = ph.griffin_lim(mag, CFG, 12, momentum, "random", seed=3, fft=fft_backend)
    assert got.shape == want.shape == shape[:-2] + ((shape[-2] - 1) * CFG.hop,)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())


def test_istft_inverts_stft(fft_backend) -> None:
    x = vowel()
    y = ph.istft(sp.stft(x, CFG), CFG, len(x), fft=fft_backend)
    np.testing.assert_allclose(y, x, atol=1e-4)
    batch = ph.istft(np.stack([sp.stft(x, CFG)] * 2), CFG, len(x), fft=fft_backend)
    assert batch.shape == (2, len(x))
    np.testing.assert_allclose(batch[1], x, atol=1e-4)


def test_griffin_lim_output_length_and_inits() -> None:
    mag = sp.magnitude(vowel(), CFG)
    n = len(mag)
    assert ph.griffin_lim(mag, CFG, 4).shape == ((n - 1) * CFG.hop,)
    assert ph.griffin_lim(mag, CFG, 4, n_samples=n * CFG.hop).shape == (n * CFG.hop,)
    for init in ph.GL_INITS:
        w = ph.griffin_lim(mag, CFG, 2, init=init)
        assert np.isfinite(w).all()
    a = ph.griffin_lim(mag, CFG, 8, seed=5)
    np.testing.assert_array_equal(a, ph.griffin_lim(mag, CFG, 8, seed=5))  # reproducible
    with pytest.raises(ValueError, match="unknown Griffin-Lim init"):
        ph.griffin_lim(mag, CFG, 2, init="nope")


def test_quality_improves_with_iterations_and_pghi_beats_random_start() -> None:
    x = vowel(seed=1)
    mag = sp.magnitude(x, CFG)

    def lsd(init: str, n_iter: int) -> float:
        w = ph.griffin_lim(mag, CFG, n_iter, init=init)
        return log_spectral_distance(mag, sp.magnitude(w, CFG))

    assert lsd("pghi", 0) < lsd("random", 0) - 1.0  # the phase-gradient start is already much closer
    assert lsd("random", 32) < lsd("random", 8) < lsd("random", 0)
    assert lsd("pghi", 32) < 3.0


def test_pghi_phase_of_a_steady_sinusoid_advances_at_its_frequency() -> None:
    f = 1000.0 + 0.3 * CFG.sample_rate / CFG.n_fft  # between bins
    t = np.arange(4000) / CFG.sample_rate
    mag = sp.magnitude(np.sin(2 * np.pi * f * t).astype(np.float32), CFG)
    k = int(round(f * CFG.n_fft / CFG.sample_rate))
    phase = ph.pghi_phase(mag, CFG)
    step = np.diff(phase[10:-10, k])
    expected = 2 * np.pi * f * CFG.hop / CFG.sample_rate
    err = np.angle(np.exp(1j * (step - expected)))
    assert np.max(np.abs(err)) < 0.15


def test_fft_backends_agree_and_unknown_ones_are_refused() -> None:
    mag = sp.magnitude(vowel(), CFG)
    a = ph.griffin_lim(mag, CFG, 8, fft="numpy")
    b = ph.griffin_lim(mag, CFG, 8, fft="torch")
    np.testing.assert_allclose(a, b, atol=1e-4)
    with pytest.raises(ValueError, match="unknown FFT backend"):
        ph.griffin_lim(mag, CFG, 2, fft="fftw")


def test_stft_of_a_batch_matches_one_by_one() -> None:
    x = np.stack([vowel(seed=0), vowel(seed=1)])
    batch = sp.stft(x, CFG)
    np.testing.assert_allclose(batch[1], sp.stft(x[1], CFG), atol=1e-5)
    assert batch.shape == (2, sp.n_frames_for(x.shape[1], CFG), CFG.n_bins)
    assert sp.frame(x[0], CFG, centered=False).shape[-1] == CFG.n_fft
