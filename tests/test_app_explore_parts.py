"""The widget-free parts behind the voice map, the morph pad and the A/B (no window, no Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaesynth.app.knob_labels import tooltip
from vaesynth.app.messages import KnobMode, Origin, RenderRequest
from vaesynth.app.recordings import a_then_b, load_recording
from vaesynth.app.voice_knobs import CornerKind, CornerVoice, VoiceKnobs, bilinear_weights
from vaesynth.sound.recordings import find_recording
from vaesynth.sound.recordings import find_recordings as recordings_dir
from vaesynth.voices.voice import KnobSpace, VoiceMap

D = 4


@pytest.fixture
def knobs() -> VoiceKnobs:
    rng = np.random.default_rng(3)
    mean = rng.standard_normal((10, D))
    chol = np.stack([np.tril(rng.standard_normal((D, D))) * 0.3 + np.eye(D) for _ in range(10)])
    speaker_mean = rng.standard_normal((4, 10, D))
    post_mu = rng.standard_normal((40, D))
    space = KnobSpace(mean, chol, speaker_mean, ["a", "b", "c", "d"], post_mu, np.ones((40, D)), np.arange(40) % 10)
    q, _ = np.linalg.qr(rng.standard_normal((D, 2)))
    origin = post_mu.mean(0)
    vmap = VoiceMap(origin, q.T, (post_mu - origin) @ q, np.arange(40) % 10, np.arange(40) % 4, [""] * 40)
    return VoiceKnobs(space, vmap, post_mu)


@pytest.mark.parametrize("xy", [(0, 0), (1, 1), (0.3, 0.8), (0.5, 0.5), (-1, 2)])
def test_bilinear_weights_are_a_partition_of_one(xy: tuple[float, float]) -> None:
    w = bilinear_weights(*xy)
    assert sum(w) == pytest.approx(1.0) and min(w) >= 0.0
    assert bilinear_weights(0, 1) == (1, 0, 0, 0) and bilinear_weights(1, 0) == (0, 0, 0, 1)


def test_pad_blend_in_latent_space_equals_the_blend_of_knobs(knobs: VoiceKnobs) -> None:
    corners = [
        CornerVoice(CornerKind.SPEAKER, "a", speaker="a"),
        CornerVoice(CornerKind.SPEAKER, "c", speaker="c"),
        CornerVoice(CornerKind.KNOBS, "saved", values=(0.5, -1.0, 2.0, 0.0)),
        CornerVoice(CornerKind.LATENT, "map", values=tuple(knobs.utterance_latent(7))),
    ]
    xy = (0.3, 0.8)
    digit = "6"
    per_corner = [np.asarray(knobs.knobs_for_latent(digit, knobs.corner_latent(c, digit))) for c in corners]
    expected = sum(w * k for w, k in zip(bilinear_weights(*xy), per_corner, strict=True))
    np.testing.assert_allclose(knobs.blend(corners, xy, digit), expected, atol=1e-5)
    # a corner is the voice itself
    np.testing.assert_allclose(knobs.blend(corners, (0, 1), digit), knobs.space.preset("a", 6), atol=1e-5)
    np.testing.assert_allclose(knobs.blend(corners, (0, 0), digit), corners[2].values, atol=1e-5)
    with pytest.raises(ValueError, match="four corners"):
        knobs.blend(corners[:3], xy, digit)
    with pytest.raises(ValueError, match="latent dimensions"):
        knobs.corner_latent(CornerVoice(CornerKind.KNOBS, "other model", values=(0.0,) * 7), digit)


def test_map_points_and_knobs_round_trip(knobs: VoiceKnobs) -> None:
    u = knobs.knobs_at((0.4, -0.2), "3")
    assert knobs.map_position("3", u) == pytest.approx((0.4, -0.2), abs=1e-5)  # a map point lies on the plane
    u7 = knobs.knobs_for_latent("2", knobs.utterance_latent(7))
    np.testing.assert_allclose(knobs.latent("2", u7), knobs.utterance_latent(7), atol=1e-5)
    assert knobs.map_position("2", u7) == pytest.approx(tuple(knobs.voice_map.points[7]), abs=1e-5)
    with pytest.raises(ValueError):
        knobs.utterance_latent(40)
    bare = VoiceKnobs(knobs.space)
    assert bare.map_position("1", u) is None
    with pytest.raises(ValueError, match="no voice map"):
        bare.knobs_at((0, 0), "1")


def test_requests_carry_seed_and_utterance() -> None:
    req = RenderRequest(text="123", knob_mode=KnobMode.FRESH, seed=7, origin=Origin.STRING)
    assert req.seed == 7
    with pytest.raises(AttributeError):
        req.seed = 8  # type: ignore[misc]
    dot = RenderRequest(digit="3", knobs=(0.0,) * D, origin=Origin.MAP_DOT, utterance=12)
    assert dot.utterance == 12 and dot.knob_mode is KnobMode.GIVEN
    with pytest.raises(ValueError):
        CornerVoice(CornerKind.SPEAKER, "nobody")


def test_recordings_are_found_by_fsdd_name_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile as sf

    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    sf.write(folder / "3_jackson_12.wav", 0.1 * np.sin(np.arange(4000) / 5.0), 8000, subtype="PCM_16")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VAESYNTH_FSDD", str(tmp_path / "fsdd"))  # the parent of recordings/ works too
    assert recordings_dir() == folder
    assert find_recording("3_jackson_12.wav") == folder / "3_jackson_12.wav"
    assert find_recording("../secret.wav") is None and find_recording("4_jackson_1.wav") is None
    wave = load_recording(folder / "3_jackson_12.wav", 16000)
    assert wave.dtype == np.float32 and len(wave) == 8000 and np.abs(wave).max() == pytest.approx(0.9, abs=1e-3)
    ab = a_then_b(np.ones(10, np.float32), np.full(5, 2.0, np.float32), 100, gap_s=0.1)
    assert ab.tolist() == [1.0] * 10 + [0.0] * 10 + [2.0] * 5
    monkeypatch.setenv("VAESYNTH_FSDD", str(tmp_path / "nowhere"))
    assert recordings_dir() is None and find_recording("3_jackson_12.wav") is None


def test_tooltip_names_the_dimension_and_its_effects() -> None:
    text = tooltip(2, {"label": "z3: slower", "effects": {"duration_pct": 14.96}})
    assert text.startswith("Latent dimension 3") and "+15% duration" in text and "from -2 to +2" in text
