"""The synth engine: input parsing, lengths, pacing, reproducibility, knob space and voices."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from training.export import untrained_bundle
from vaesynth import synth as synth_mod
from vaesynth.bundle import BundleError, load_bundle
from vaesynth.models import DecoderOutput
from vaesynth.synth import MIN_FRAMES, Render, Synth, parse_digit_groups, parse_digits, resolve_model


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("models"))
    for kind in ("cvae", "mlp", "cnn"):
        untrained_bundle(kind, root / kind, speakers=("alice", "bob", "carol"))
    return root


@pytest.fixture(scope="module")
def synth(models_dir: Path) -> Synth:
    return Synth(load_bundle(models_dir / "cvae"))


def with_valid_length(s: Synth, n_valid: int) -> Synth:
    """A Synth whose decoder says every utterance lasts ``n_valid`` frames."""
    model = s.bundle.model
    real_decode = model.decode

    def decode(z, digit):
        out = real_decode(z, digit)
        valid = torch.full_like(out.valid_logits, -3.0)
        valid[:, :n_valid] = 3.0
        return DecoderOutput(out.features, valid, out.f0_hz)

    model.decode = decode  # instance attribute: only this bundle's model
    return s


@pytest.fixture(scope="module")
def synth40(models_dir: Path) -> Synth:
    return with_valid_length(Synth(load_bundle(models_dir / "cvae")), 40)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [("0", "0"), ("4155550123", "4155550123"), ("+1 (415) 555-0123", "14155550123"), (" 12 34 ", "1234")],
)
def test_parse_digits_accepts_phone_numbers(text: str, digits: str) -> None:
    assert parse_digits(text) == digits


def test_parse_digit_groups() -> None:
    assert parse_digit_groups("(415) 555-0123") == ["415", "555", "0123"]
    assert parse_digit_groups("12") == ["12"]


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "no digits"), ("  - ", "no digits"), ("12a", "'a' at position 3"), ("1.5e3", "'e'"), ("٣", "only digits")],
)
def test_parse_digits_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_digits(text)


def test_parse_digits_bounds_the_work() -> None:
    assert parse_digits("1" * 64) == "1" * 64
    with pytest.raises(ValueError, match="too many digits: 65"):
        parse_digits("1" * 65)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="100000 given"):
        parse_digits("7" * 100_000)
    assert time.perf_counter() - t0 < 0.5
    with pytest.raises(ValueError, match="must be text"):
        parse_digits(12)  # type: ignore[arg-type]


# --- single digits ---------------------------------------------------------------------------


def test_render_digit_shapes_and_level(synth40: Synth) -> None:
    s = synth40
    u = s.random_knobs(rng=0)
    r = s.render_digit(3, u)
    hop = s.spectral.hop
    assert isinstance(r, Render)
    assert r.sample_rate == s.sample_rate == 8000
    assert r.features.shape == (40, s.spectral.n_bins)
    assert r.features.min() >= 0.0 and r.features.max() <= 1.0
    assert r.wave.dtype == np.float32 and r.wave.shape == (40 * hop,)
    assert r.segments == [(0.0, 40 * hop / 8000)]
    assert r.digits == "3"
    assert len(r.latents) == 1 and np.allclose(r.latents[0], u)
    assert abs(float(np.abs(r.wave).max()) - s.spectral.peak) < 1e-4
    assert abs(r.wave[0]) < 0.05 and abs(r.wave[-1]) < 0.05  # faded ends: no click
    assert r.duration == pytest.approx(0.32)
    np.testing.assert_array_equal(s.render_digit("3", u).wave, r.wave)  # str digits too; deterministic


def test_length_comes_from_the_valid_logits(models_dir: Path) -> None:
    vl = Synth.valid_length
    assert vl(np.array([1.0] * 30 + [-1.0] * 82)) == 30  # ends at the first valid < 0
    assert vl(np.array([1.0] * 12 + [-1.0] + [1.0] * 99)) == 12
    assert vl(np.array([-1.0] * 112)) == MIN_FRAMES  # keeps a few frames
    assert vl(np.array([-1.0] * 3 + [1.0] * 109)) == 112  # a dip within the first frames is not an end
    assert vl(np.array([1.0] * 112)) == 112
    assert vl(np.array([1.0] * 5)) == 5
    for n in (MIN_FRAMES, 25, 112):
        s = with_valid_length(Synth(load_bundle(models_dir / "cvae")), n)
        r = s.render_digit(1, np.zeros(s.latent_dim))
        assert len(r.features) == n and len(r.wave) == n * s.spectral.hop


def test_knob_space_maps_to_the_digit_gaussian(synth: Synth) -> None:
    st = synth.bundle.stats
    z0 = synth.knobs_to_latent(4, np.zeros(synth.latent_dim))
    np.testing.assert_allclose(z0, st.digit_mean[4].numpy(), atol=1e-5)
    u = np.arange(synth.latent_dim, dtype=np.float32) / 10
    want = st.digit_mean[4].numpy() + st.digit_chol[4].numpy() @ u
    np.testing.assert_allclose(synth.knobs_to_latent(4, u), want, atol=1e-5)


def test_random_knobs(synth: Synth) -> None:
    a = synth.random_knobs(rng=7)
    assert a.shape == (synth.latent_dim,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, synth.random_knobs(rng=7))
    assert not np.array_equal(a, synth.random_knobs(rng=8))
    assert not synth.random_knobs(temperature=0.0, rng=1).any()
    big = np.stack([synth.random_knobs(temperature=2.0, rng=i) for i in range(200)])
    assert 1.7 < big.std() < 2.3
    with pytest.raises(ValueError):
        synth.random_knobs(temperature=float("nan"))


def test_voice_knobs_reach_the_speaker_mean(synth: Synth) -> None:
    st = synth.bundle.stats
    assert synth.speakers == ["alice", "bob", "carol"]
    for speaker in ("bob", 2, "0"):
        s_idx = synth.speaker_index(speaker)
        u = synth.voice_knobs(speaker, 6)
        assert u.shape == (synth.latent_dim,)
        np.testing.assert_allclose(synth.knobs_to_latent(6, u), st.speaker_digit_mean[s_idx, 6].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="unknown voice 'dave'"):
        synth.voice_knobs("dave", 1)
    with pytest.raises(ValueError):
        synth.voice_knobs(9, 1)


@pytest.mark.parametrize(
    ("digit", "knobs"), [(10, None), (-1, None), ("12", None), (1.5, None), (1, "short"), (1, "nan")]
)
def test_render_digit_rejects_bad_input(synth: Synth, digit, knobs) -> None:
    u = np.zeros(synth.latent_dim)
    if knobs == "short":
        u = u[:-1]
    elif knobs == "nan":
        u[0] = np.nan
    with pytest.raises(ValueError):
        synth.render_digit(digit, u)


@pytest.mark.parametrize("kind", ["cvae", "mlp", "cnn"])
def test_every_model_kind_renders(models_dir: Path, kind: str) -> None:
    s = Synth.from_path(models_dir / kind)
    assert s.bundle.kind == kind
    r = s.render_string("12", seed=0)
    assert r.digits == "12" and np.isfinite(r.wave).all() and len(r.segments) == 2


# --- strings ---------------------------------------------------------------------------------


def test_string_pacing_and_alignment(synth40: Synth) -> None:
    s = synth40
    r = s.render_string("415-555 0123", seed=1)
    hop, sr = s.spectral.hop, s.sample_rate
    assert r.digits == "4155550123" and len(r.segments) == 10 and len(r.latents) == 10
    assert len(r.wave) == len(r.features) * hop
    gaps = [b[0] - a[1] for a, b in zip(r.segments, r.segments[1:], strict=False)]
    group_joins = {2, 5}  # after "415" and after "555"
    for i, g in enumerate(gaps):
        lo, hi = (0.216, 0.304) if i in group_joins else (0.076, 0.148)
        assert lo <= g <= hi, (i, g)
    for start, end in r.segments:
        assert end - start == pytest.approx(40 * hop / sr)
        a, b = round(start * sr), round(end * sr)
        assert abs(r.wave[a]) < 0.05 and abs(r.wave[b - 1]) < 0.05  # faded joins
        assert np.abs(r.wave[a:b]).max() == pytest.approx(s.spectral.peak, abs=1e-4)
    for prev, nxt in zip(r.segments, r.segments[1:], strict=False):
        a, b = round(prev[1] * sr), round(nxt[0] * sr)
        assert not r.wave[a:b].any()  # true silence between digits
        assert not r.features[a // hop : b // hop].any()
    assert r.duration == pytest.approx(r.segments[-1][1])


def test_string_reproducible_with_seed(synth: Synth) -> None:
    a = synth.render_string("90210", seed=42)
    b = synth.render_string("90210", seed=42)
    np.testing.assert_array_equal(a.wave, b.wave)
    assert a.segments == b.segments
    c = synth.render_string("90210", seed=43)
    assert len(c.wave) != len(a.wave) or not np.array_equal(c.wave, a.wave)


def test_vary_and_steady_voices(synth: Synth) -> None:
    u = synth.random_knobs(rng=3)
    steady = synth.render_string("555", knobs=u, vary=False, seed=0)
    assert all(np.allclose(k, u) for k in steady.latents)
    varied = synth.render_string("555", knobs=u, vary=True, seed=0)
    spread = np.stack(varied.latents) - u
    assert np.all(np.abs(spread).max(axis=1) > 0) and np.abs(spread).mean() < 1.0
    voiced = synth.render_string("12", vary=False, voice="carol", seed=0)
    np.testing.assert_allclose(voiced.latents[0], synth.voice_knobs("carol", 1), atol=1e-6)
    np.testing.assert_allclose(voiced.latents[1], synth.voice_knobs("carol", 2), atol=1e-6)
    with pytest.raises(ValueError, match="unknown voice"):
        synth.render_string("12", voice="nobody")
    with pytest.raises(ValueError, match="no digits"):
        synth.render_string("")
    with pytest.raises(ValueError, match="too many digits"):
        synth.render_string("1" * 65)


def test_longest_string_is_bounded(synth: Synth) -> None:
    t0 = time.perf_counter()
    r = synth.render_string("0123456789" * 6 + "0123", seed=0)
    assert len(r.digits) == 64
    assert time.perf_counter() - t0 < 5.0


# --- loading ---------------------------------------------------------------------------------


def test_resolve_model(models_dir: Path, tmp_path: Path) -> None:
    assert resolve_model("mlp", models_dir) == models_dir / "mlp"
    assert resolve_model(None, models_dir) == models_dir / "cvae"  # the default comes first
    assert resolve_model(str(models_dir / "cnn"), models_dir) == models_dir / "cnn"
    with pytest.raises(BundleError, match="'nope' not found"):
        resolve_model("nope", models_dir)
    with pytest.raises(BundleError, match="no models found"):
        resolve_model(None, tmp_path)
    with pytest.raises(BundleError):
        Synth.from_path(tmp_path)  # a folder that is not a bundle


def test_synth_settings_are_checked(synth: Synth) -> None:
    with pytest.raises(ValueError, match="unknown Griffin-Lim init"):
        Synth(synth.bundle, gl_init="magic")
    with pytest.raises(ValueError):
        Synth(synth.bundle, gl_iters=-1)
    assert synth_mod.DEFAULT_GL_INIT in ("random", "zeros", "pghi")


def _shipped() -> list[str]:
    from vaesynth.bundle import list_bundles

    return list(list_bundles())


@pytest.mark.parametrize("name", _shipped() or [pytest.param("none", marks=pytest.mark.skip("no shipped models yet"))])
def test_shipped_models_speak_every_digit(name: str) -> None:
    s = Synth.from_path(name)
    r = s.render_string("0123456789", seed=0, vary=False)
    assert r.digits == "0123456789" and np.isfinite(r.wave).all()
    for start, end in r.segments:
        assert MIN_FRAMES * s.spectral.frame_seconds <= end - start <= s.spectral.max_frames * s.spectral.frame_seconds
    if s.speakers:
        v = s.render_string("7", voice=s.speakers[0], vary=False)
        assert len(v.wave) > 0


def test_random_knobs_for_a_digit_sample_the_aggregate_posterior(synth: Synth) -> None:
    """With a digit, a fresh voice is drawn from the mixture of that digit's training posteriors."""
    stats = synth.bundle.stats
    assert stats.has_posteriors
    post_mu = stats.post_mu.numpy()
    post_var = stats.post_var.numpy()
    rows = np.flatnonzero(stats.post_digit.numpy() == 3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = synth.knobs_to_latent(3, synth.random_knobs(1.0, rng, digit=3))
        # within a few posterior standard deviations of one of digit 3's training utterances
        dist = np.abs(z - post_mu[rows]) / np.sqrt(post_var[rows])
        assert dist.max(axis=1).min() < 6
    assert np.all(synth.random_knobs(0.0, rng, digit=3) == 0)  # temperature 0: the typical voice
    u1 = synth.random_knobs(1.0, np.random.default_rng(5), digit="7")
    u2 = synth.random_knobs(1.0, np.random.default_rng(5), digit=7)
    np.testing.assert_array_equal(u1, u2)  # seeded, digit as text or int


def test_random_knobs_fall_back_to_the_gaussian_without_posteriors(models_dir: Path) -> None:
    b = load_bundle(models_dir / "cvae")
    b.stats.post_mu = b.stats.post_var = b.stats.post_digit = None
    s = Synth(b)
    u = np.stack([s.random_knobs(1.0, np.random.default_rng(i), digit=3) for i in range(400)])
    assert abs(u.std() - 1.0) < 0.1 and abs(u.mean()) < 0.1
