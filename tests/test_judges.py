"""The naturalness judges (training/judges.py) and the natural-voice model options, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.judges import (
    aperiodic_loud_share,
    diversity_per_digit,
    frechet_distance,
    mel_filterbank,
    spectral_flux,
    two_sample_accuracy,
)
from vaesynth.dsp.spectral import SpectralConfig
from vaesynth.model.models import ConditionalVAE

CFG = SpectralConfig()


def test_two_sample_chance_for_one_distribution_and_high_for_different_ones():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 30))
    same = two_sample_accuracy(x[:200], x[200:])
    assert 0.38 < same < 0.62
    shifted = two_sample_accuracy(x[:200], x[200:] + 1.0)
    assert shifted > 0.95


def test_two_sample_paired_twins_stay_in_one_fold():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200, 20))
    b = a + 0.01 * rng.standard_normal(a.shape)  # near-identical twins of a's rows
    # unpaired CV puts a twin on the other side of the split, labelled the other way: far below chance
    assert two_sample_accuracy(a, b) < 0.4
    assert 0.35 < two_sample_accuracy(a, b, paired=True) < 0.65


def test_frechet_distance():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3000, 4))
    b = rng.standard_normal((3000, 4))
    assert frechet_distance(a, b) < 0.05
    assert frechet_distance(a, b + np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(2.0, abs=0.15)


def test_aperiodic_share_tells_noise_from_a_vowel():
    sr = CFG.sample_rate
    t = np.arange(int(0.5 * sr)) / sr
    vowel = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 8)).astype(np.float32)
    noise = np.random.default_rng(3).standard_normal(len(t)).astype(np.float32)
    assert aperiodic_loud_share([vowel], CFG) < 0.1
    assert aperiodic_loud_share([noise], CFG) > 0.9


def test_flux_and_diversity():
    feats = np.full((2, 20, CFG.n_bins), 0.5, dtype=np.float32)
    lens = np.array([20, 20])
    assert spectral_flux(feats, lens, CFG) == 0.0
    feats[1, ::2] = 0.6  # alternating frames: 0.1 feature units = 10.5 dB change every frame
    assert spectral_flux(feats, lens, CFG) == pytest.approx(0.5 * 0.1 * (CFG.db_max - CFG.db_min), rel=1e-5)
    emb = np.array([[0.0], [1.0], [0.0], [3.0]])
    div = diversity_per_digit(emb, np.array([0, 0, 1, 1]))
    assert div[0] == 1.0 and div[1] == 3.0 and np.isnan(div[2])


def test_mel_filterbank_covers_every_band():
    fb = mel_filterbank(CFG)
    assert fb.shape == (CFG.n_bins, 40)
    np.testing.assert_allclose(fb.sum(0), 1.0)


def test_voicing_and_texture_options():
    torch.manual_seed(0)
    plain = ConditionalVAE(CFG, latent_dim=4, channels=16).eval()
    gated = ConditionalVAE(CFG, latent_dim=4, channels=16, voicing=True, texture=1.0).eval()
    # the default model's parameter shapes are unchanged (old bundles load as before)
    assert plain.out.out_channels == 2 * plain.n_ceps + 1
    assert gated.out.out_channels == 2 * gated.n_ceps + 2
    z, d = torch.randn(3, 4), torch.tensor([1, 2, 3])
    with torch.no_grad():
        a, b = gated.decode(z, d), gated.decode(z, d)
        assert a.voicing_logits.shape == (3, CFG.max_frames)
        torch.testing.assert_close(a.features, b.features)  # texture seeded by the latent: deterministic
        smooth = gated.decode(z, d, texture=False).features
        assert not torch.allclose(a.features, smooth)
        # teacher voicing 0 switches the comb off: only the noise envelope remains
        unvoiced = gated.decode(z, d, teacher_voicing=torch.zeros(3, CFG.max_frames), texture=False).features
        assert (unvoiced <= smooth + 1e-6).all()
        # hard_gate: outside training the gate is exactly the teacher-style 0/1 of the voicing logits
        gated.hard_gate = True
        hard = gated.decode(z, d, texture=False)
        binary = (hard.voicing_logits > 0).float()
        torch.testing.assert_close(hard.features, gated.decode(z, d, teacher_voicing=binary, texture=False).features)


def test_render_options_trim_and_fade(tmp_path):
    from training.bundling import untrained_bundle
    from vaesynth.engine.synth import Synth
    from vaesynth.model.bundle import load_bundle

    bundle = load_bundle(untrained_bundle("cvae", tmp_path / "cvae"))
    u = np.zeros(bundle.latent_dim, dtype=np.float32)
    plain = Synth(bundle).render_digit(3, u)
    assert len(plain.wave) == len(plain.features) * CFG.hop  # no render settings: the engine's defaults
    bundle.meta["render"] = {"fade_out_s": 0.0, "trim_end_s": 0.004}
    trimmed = Synth(bundle).render_digit(3, u)
    assert len(trimmed.wave) == len(plain.wave) - 32
    assert trimmed.segments[0][1] == pytest.approx(len(trimmed.wave) / CFG.sample_rate)
    s = Synth(bundle).render_string("12", vary=False, seed=0)
    (a0, e0), (a1, e1) = s.segments
    assert e0 < a1 and e1 == pytest.approx(len(s.wave) / CFG.sample_rate)


def test_source_filter_vocoder_renders_the_parts_at_their_levels():
    """training/vocoder.py (natural-voice research): a steady harmonic part comes back from the STFT at
    its envelope's level on every harmonic, a noise-only part at its envelope's level (less the
    Rayleigh log-mean, as the model's noise texture has), a gate of 0 removes the harmonics, and
    the same noise seed renders the same wave."""
    from training.judges import frame_voicing
    from training.vocoder import render_parts
    from vaesynth.dsp.spectral import magnitude

    n, f = 60, CFG.n_bins
    quiet = np.full((n, f), -30.0)  # far below anything audible
    level = np.log(10.0) * 70 / 20  # ln magnitude 70 dB above db_min (0 dB re. full scale)
    harm = dict(harm_ln=np.full((n, f), level), noise_ln=quiet, f0=np.full(n, 125.0), gate=np.ones(n))
    wave = render_parts(harm, n, CFG, np.random.default_rng(0))
    assert wave.shape == (n * CFG.hop,) and wave.dtype == np.float32
    mag = magnitude(wave, CFG)[8 : n - 8]  # steady frames
    bins = np.arange(4, 120, 4)  # 125 Hz harmonics fall on every 4th bin (31.25 Hz bins)
    got = 20 * np.log10(mag[:, bins]).mean()
    assert abs(got - 0.0) < 0.5  # the envelope's level, 0 dB
    assert (20 * np.log10(mag[:, bins + 2] + 1e-9) < got - 30).all()  # nothing between harmonics
    e, per = frame_voicing(wave, CFG)
    assert np.median(per) > 0.9  # periodic
    noise = dict(harm_ln=quiet, noise_ln=np.full((n, f), level - np.log(10.0)), f0=np.full(n, 125.0), gate=np.ones(n))
    w1 = render_parts(noise, n, CFG, np.random.default_rng(1))
    w2 = render_parts(noise, n, CFG, np.random.default_rng(1))
    np.testing.assert_array_equal(w1, w2)
    ln = np.log(magnitude(w1, CFG)[8 : n - 8, 2:-2])
    assert abs(ln.mean() - (-np.log(10.0) - 0.2886)) < 0.1  # -20 dB, Rayleigh log-mean below it
    unvoiced = dict(harm, gate=np.zeros(n))
    assert np.abs(render_parts(unvoiced, n, CFG, np.random.default_rng(0))).max() < 1e-3
    lower = render_parts(noise, n, CFG, np.random.default_rng(1), voiced_noise=0.5)
    np.testing.assert_allclose(lower, 0.5 * w1, rtol=1e-5, atol=1e-7)


def test_decode_parts_are_what_decode_mixes():
    """``ConditionalVAE.decode_parts`` gives the harmonic head's envelopes, f0 and gate; mixing them
    with the comb (no texture) gives ``decode``'s features."""
    import math

    from vaesynth.model.blocks import harmonic_comb

    m = ConditionalVAE(CFG, latent_dim=4, channels=16, voicing=True, hard_gate=True).eval()
    z, d = torch.randn(3, 4), torch.tensor([1, 2, 3])
    with torch.inference_mode():
        p = m.decode_parts(z, d)
        comb = harmonic_comb(p["f0"], m.bin_hz, CFG.sample_rate / CFG.n_fft) * p["gate"].unsqueeze(-1)
        mixed = (torch.logaddexp(p["harm_ln"] + torch.log(comb + 1e-6), p["noise_ln"]) / m.span).clamp(0, 1)
        out = m.decode(z, d)
    torch.testing.assert_close(mixed, out.features)
    torch.testing.assert_close(p["valid"], out.valid_logits)
    assert set(p["gate"].unique().tolist()) <= {0.0, 1.0}  # the hard gate, as a render uses it
    assert math.isclose(m.span, 105 / 20 * math.log(10), rel_tol=1e-6)
    with pytest.raises(ValueError, match="harmonic head"):
        ConditionalVAE(CFG, latent_dim=4, channels=16, head="magnitude").decode_parts(z, d)
