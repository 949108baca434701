"""The synth engine: lengths, pacing, levels, reproducibility (knob math: test_voice.py; parsing: test_digits.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from training.bundling import untrained_bundle
from vaesynth.engine import synth as synth_mod
from vaesynth.engine.synth import MIN_FRAMES, Render, Synth
from vaesynth.model.bundle import BundleError, load_bundle
from vaesynth.model.models import DecoderOutput


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


# --- single digits ---------------------------------------------------------------------------


def test_render_digit_shapes_and_level(synth40: Synth) -> None:
    s = synth40
    u = s.knobs.fresh(rng=0)
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
        lo, hi = (0.156, 0.244) if i in group_joins else (0.016, 0.064)
        assert lo <= g <= hi, (i, g)
    for start, end in r.segments:  # each digit of a string is spoken STRING_TEMPO times faster
        assert end - start == pytest.approx(round(40 / synth_mod.STRING_TEMPO) * hop / sr)
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
    u = synth.knobs.fresh(rng=3)
    steady = synth.render_string("555", knobs=u, vary=False, seed=0)
    assert all(np.allclose(k, u) for k in steady.latents)
    varied = synth.render_string("555", knobs=u, vary=True, seed=0)
    spread = np.stack(varied.latents) - u
    assert np.all(np.abs(spread).max(axis=1) > 0) and np.abs(spread).mean() < 1.0
    voiced = synth.render_string("12", vary=False, voice="carol", seed=0)
    np.testing.assert_allclose(voiced.latents[0], synth.knobs.preset("carol", 1), atol=1e-6)
    np.testing.assert_allclose(voiced.latents[1], synth.knobs.preset("carol", 2), atol=1e-6)
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


def test_from_path_rejects_a_folder_that_is_no_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        Synth.from_path(tmp_path)


def test_synth_settings_are_checked(synth: Synth) -> None:
    with pytest.raises(ValueError, match="unknown Griffin-Lim init"):
        Synth(synth.bundle, gl_init="magic")
    with pytest.raises(ValueError):
        Synth(synth.bundle, gl_iters=-1)
    assert synth_mod.DEFAULT_GL_INIT in ("random", "zeros", "pghi")


def _shipped() -> list[str]:
    from vaesynth.model.catalog import list_bundles

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




def test_a_phone_number_is_paced_like_espeak_ng_reads_it() -> None:
    """Pacing: '+1 (415) 555-0123' once took 5.9 s where espeak-ng takes 3.8 s with the same grouping."""
    if not _shipped():
        pytest.skip("no shipped models")
    s = Synth.from_path()
    durations = [s.render_string("+1 (415) 555-0123", seed=i).duration for i in range(6)]
    assert 3.0 < float(np.mean(durations)) < 4.8
    alone = s.render_digit(7, s.knobs.fresh(7, rng=0)).duration
    in_string = s.render_string("77", knobs=s.knobs.fresh(7, rng=0), vary=False).segments[0]
    assert in_string[1] - in_string[0] < alone  # digits in a string are quicker than a key press


def test_warm_changes_nothing_heard(synth40: Synth) -> None:
    knobs = np.linspace(-1.0, 1.0, synth40.latent_dim).astype(np.float32)
    before = synth40.render_digit(4, knobs).wave
    synth40.warm()
    assert np.array_equal(synth40.render_digit(4, knobs).wave, before)
