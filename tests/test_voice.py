"""The knob space (vaesynth.voices.voice): knob <-> latent, fresh voices, presets, statistics fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.bundling import untrained_bundle
from vaesynth.engine.synth import Synth
from vaesynth.model.bundle import load_bundle
from vaesynth.voices.voice import KnobSpace, check_temperature, fit_latent_stats, make_rng


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("models"))
    untrained_bundle("cvae", root / "cvae", speakers=("alice", "bob", "carol"))
    return root


@pytest.fixture(scope="module")
def synth(models_dir: Path) -> Synth:
    return Synth(load_bundle(models_dir / "cvae"))


def test_knob_space_maps_to_the_digit_gaussian(synth: Synth) -> None:
    st = synth.bundle.stats
    z0 = synth.knobs.to_latent(4, np.zeros(synth.latent_dim))
    np.testing.assert_allclose(z0, st.digit_mean[4].numpy(), atol=1e-5)
    u = np.arange(synth.latent_dim, dtype=np.float32) / 10
    want = st.digit_mean[4].numpy() + st.digit_chol[4].numpy() @ u
    np.testing.assert_allclose(synth.knobs.to_latent(4, u), want, atol=1e-5)


def test_fresh_voices(synth: Synth) -> None:
    a = synth.knobs.fresh(rng=7)
    assert a.shape == (synth.latent_dim,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, synth.knobs.fresh(rng=7))
    assert not np.array_equal(a, synth.knobs.fresh(rng=8))
    assert not synth.knobs.fresh(temperature=0.0, rng=1).any()
    big = np.stack([synth.knobs.fresh(temperature=2.0, rng=i) for i in range(200)])
    assert 1.7 < big.std() < 2.3
    with pytest.raises(ValueError):
        synth.knobs.fresh(temperature=float("nan"))


def test_presets_reach_the_speaker_mean(synth: Synth) -> None:
    st = synth.bundle.stats
    assert synth.speakers == ["alice", "bob", "carol"]
    for speaker in ("bob", 2, "0"):
        s_idx = synth.knobs.speaker_index(speaker)
        u = synth.knobs.preset(speaker, 6)
        assert u.shape == (synth.latent_dim,)
        np.testing.assert_allclose(synth.knobs.to_latent(6, u), st.speaker_digit_mean[s_idx, 6].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="unknown voice 'dave'"):
        synth.knobs.preset("dave", 1)
    with pytest.raises(ValueError):
        synth.knobs.preset(9, 1)


def test_fresh_voices_for_a_digit_sample_the_aggregate_posterior(synth: Synth) -> None:
    """With a digit, a fresh voice is drawn from the mixture of that digit's training posteriors."""
    stats = synth.bundle.stats
    assert stats.has_posteriors
    post_mu = stats.post_mu.numpy()
    post_var = stats.post_var.numpy()
    rows = np.flatnonzero(stats.post_digit.numpy() == 3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = synth.knobs.to_latent(3, synth.knobs.fresh(3, 1.0, rng))
        # within a few posterior standard deviations of one of digit 3's training utterances
        dist = np.abs(z - post_mu[rows]) / np.sqrt(post_var[rows])
        assert dist.max(axis=1).min() < 6
    assert np.all(synth.knobs.fresh(3, 0.0, rng) == 0)  # temperature 0: the typical voice
    u1 = synth.knobs.fresh("7", 1.0, np.random.default_rng(5))
    u2 = synth.knobs.fresh(7, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(u1, u2)  # seeded, digit as text or int


def test_fresh_voices_fall_back_to_the_gaussian_without_posteriors(models_dir: Path) -> None:
    b = load_bundle(models_dir / "cvae")
    b.stats.post_mu = b.stats.post_var = b.stats.post_digit = None
    s = Synth(b)
    u = np.stack([s.knobs.fresh(3, 1.0, np.random.default_rng(i)) for i in range(400)])
    assert abs(u.std() - 1.0) < 0.1 and abs(u.mean()) < 0.1


def test_to_knobs_inverts_to_latents(synth: Synth) -> None:
    ks = synth.knobs
    rng = np.random.default_rng(1)
    digits = np.array([0, 3, 9, 3])
    u = rng.standard_normal((4, ks.latent_dim))
    z = ks.to_latents(digits, u)
    assert z.shape == (4, ks.latent_dim) and z.dtype == np.float32
    np.testing.assert_allclose(ks.to_knobs(digits, z), u, atol=1e-4)


@pytest.mark.parametrize("bad", [[1.0], "abc", [np.inf] * 12, None])
def test_check_rejects_bad_knobs(synth: Synth, bad) -> None:
    with pytest.raises(ValueError):
        synth.knobs.check(bad)


def test_temperature_and_seed_are_checked() -> None:
    assert check_temperature(0) == 0.0 and check_temperature(2.5) == 2.5
    for bad in (-0.1, float("nan"), float("inf"), 1e300, 1e9, "hot"):
        with pytest.raises(ValueError):
            check_temperature(bad)
    assert isinstance(make_rng(3), np.random.Generator)
    for bad in (-3, 1.5, True, "7"):
        with pytest.raises(ValueError, match="seed"):
            make_rng(bad)


def test_fit_latent_stats_recovers_digit_gaussians() -> None:
    rng = np.random.default_rng(0)
    n, d = 2000, 3
    digits = np.arange(n) % 10
    centres = rng.standard_normal((10, d)) * 3
    mu = centres[digits] + rng.standard_normal((n, d)) * 0.5
    stats = fit_latent_stats(mu, digits, np.arange(n) % 2, 2, var=np.full((n, d), 0.25))
    np.testing.assert_allclose(stats.digit_mean.numpy(), centres, atol=0.1)
    cov = stats.digit_chol[4].numpy() @ stats.digit_chol[4].numpy().T
    np.testing.assert_allclose(np.diag(cov), 0.5, atol=0.1)  # cov(mu) 0.25 + mean var 0.25
    ks = KnobSpace.from_stats(stats, ["a", "b"])
    assert ks.has_posteriors and ks.speakers == ["a", "b"]


# --- the voice map -------------------------------------------------------------------------------


def _map_entry(rng: np.random.Generator, n: int, d: int) -> tuple[dict, np.ndarray, np.ndarray]:
    mu = rng.standard_normal((n, d))
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    entry = {"origin": mu.mean(0).tolist(), "axes": q.T.tolist(), "speaker": [i % 3 for i in range(n)]}
    return entry, mu, np.arange(n) % 10


def test_voice_map_places_latents_and_maps_back() -> None:
    from vaesynth.voices.voice import VoiceMap

    rng = np.random.default_rng(0)
    entry, mu, digits = _map_entry(rng, 50, 6)
    vm = VoiceMap.from_config(entry, mu, digits)
    assert vm.points.shape == (50, 2)
    np.testing.assert_allclose(vm.points[7], vm.to_map(mu[7]))
    xy = np.array([0.3, -1.2])
    np.testing.assert_allclose(vm.to_map(vm.to_latent(xy)), xy, atol=1e-5)  # the plane maps back onto itself
    assert vm.nearest(vm.points[13] + 1e-6) == 13


@pytest.mark.parametrize(
    "breakage",
    [
        lambda e: e.update(origin=[1.0]),
        lambda e: e.update(axes=[[1.0] * 6, [1.0] * 6]),  # not orthonormal
        lambda e: e.update(speaker=[0]),
        lambda e: e.update(origin=[float("nan")] * 6),
        lambda e: e.pop("axes"),
        lambda e: e.update(file=[1, 2]),
    ],
)
def test_voice_map_entries_are_checked(breakage) -> None:
    from vaesynth.voices.voice import VoiceMap

    entry, mu, digits = _map_entry(np.random.default_rng(1), 50, 6)
    breakage(entry)
    with pytest.raises(ValueError):
        VoiceMap.from_config(entry, mu, digits)
    with pytest.raises(ValueError, match="no training posteriors"):
        VoiceMap.from_config(_map_entry(np.random.default_rng(1), 50, 6)[0], None, None)


def test_knob_labels_are_checked() -> None:
    from vaesynth.model.annotations import parse_knob_labels

    good = [{"label": "z1: higher pitch", "effects": {"f0_semitones": 2.0}}, {"label": "z2: no clear effect"}]
    assert parse_knob_labels(good, 2)[0]["effects"]["f0_semitones"] == 2.0
    for bad in (good[:1], "x", [{"label": 3}, good[1]], [{"label": "a", "effects": {"f0_semitones": "up"}}, good[1]]):
        with pytest.raises(ValueError):
            parse_knob_labels(bad, 2)
