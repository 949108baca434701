"""Annotating bundles (training/annotate.py): the voice map and measured knob labels.

The labels of the shipped default model are checked against a real sweep through the engine: a knob
labelled "higher pitch" must raise the f0 measured from the waveform, one labelled "slower" must
lengthen what is rendered.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from training.annotate import SWEEP, annotate_bundle, knob_effects, voice_map
from training.bundling import untrained_bundle
from vaesynth.engine.synth import Synth
from vaesynth.model.bundle import load_bundle
from vaesynth.model.catalog import list_bundles
from vaesynth.voices.voice import VoiceMap


class Split(SimpleNamespace):
    """The parts of a training Dataset that annotation reads."""

    def __len__(self) -> int:
        return len(self.digit)


def fake_train_split(bundle) -> SimpleNamespace:
    """The 'training split' that untrained_bundle's random posteriors stand for."""
    digits = bundle.stats.post_digit.numpy()
    speakers = (np.arange(len(digits)) // 10) % len(bundle.speakers)
    names = [f"{d}_{s}_{i}.wav" for i, (d, s) in enumerate(zip(digits, speakers, strict=True))]
    return SimpleNamespace(digit=digits, speaker=speakers, names=names, speakers=list(bundle.speakers))


def test_annotate_stores_a_map_and_labels_that_load_back(tmp_path: Path) -> None:
    folder = untrained_bundle("cvae", tmp_path / "cvae", speakers=("ann", "bob", "cy"))
    bundle = load_bundle(folder)
    assert bundle.voice_map is None and "without a voice map" in bundle.voice_map_missing
    train = Split(**vars(fake_train_split(bundle)))
    annotate_bundle(folder, train=train)
    b = load_bundle(folder)
    vm = VoiceMap.from_bundle(b)
    assert b.voice_map is not None and vm is not None and vm.points.shape == (len(train), 2)
    assert vm.files[3] == train.names[3] and list(vm.speakers[:12]) == list(train.speaker[:12])
    axes = b.voice_map.axes
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-4)
    assert len(b.knob_labels) == b.latent_dim
    assert all(x["label"].startswith(f"z{i + 1}: ") for i, x in enumerate(b.knob_labels))
    assert {"duration_pct", "loudness_db", "centroid_pct", "f0_semitones"} <= set(b.knob_labels[0]["effects"])


def test_the_map_is_the_plane_of_largest_spread(tmp_path: Path) -> None:
    b = load_bundle(untrained_bundle("mlp", tmp_path / "mlp"))
    vm = voice_map(b, Split(**vars(fake_train_split(b))))
    mu = b.stats.post_mu.double().numpy()
    spread = np.var(vm.points, axis=0).sum()
    rng = np.random.default_rng(0)
    for _ in range(20):  # no random plane shows more of the spread than the PCA plane
        q, _ = np.linalg.qr(rng.standard_normal((mu.shape[1], 2)))
        assert np.var((mu - mu.mean(0)) @ q, axis=0).sum() <= spread + 1e-9
    assert vm.explained[0] >= vm.explained[1] > 0


def test_a_misaligned_split_is_refused(tmp_path: Path) -> None:
    from vaesynth.model.bundle import BundleError

    b = load_bundle(untrained_bundle("mlp", tmp_path / "mlp"))
    split = Split(**vars(fake_train_split(b)))
    split.digit = np.roll(split.digit, 1)
    with pytest.raises(BundleError, match="do not line up"):
        voice_map(b, split)


def test_labels_name_the_largest_noticeable_change(tmp_path: Path) -> None:
    s = Synth.from_path(untrained_bundle("cvae", tmp_path / "c"))
    labels = knob_effects(s)
    words = {"higher pitch", "lower pitch", "slower", "faster", "louder", "softer", "brighter", "darker"}
    for x in labels:
        named = x["label"].split(": ", 1)[1].split(", ")
        assert named == ["no clear effect"] or (1 <= len(named) <= 2 and set(named) <= words), named
        assert x["effects"]["change_db"] >= 0


# --- the shipped default model: labels against a real sweep --------------------------------------


def _f0(wave: np.ndarray) -> float:
    import librosa

    w = np.asarray(wave, dtype=np.float64)
    f0 = librosa.yin(w, fmin=50, fmax=800, sr=8000, frame_length=512, hop_length=64, trough_threshold=0.1)
    rms = librosa.feature.rms(y=w, frame_length=512, hop_length=64)[0][: len(f0)]
    return float(np.median(f0[rms > rms.max() * 0.1]))


@pytest.mark.skipif("cvae" not in list_bundles(), reason="needs the shipped default model")
def test_shipped_knob_labels_match_a_real_sweep() -> None:
    s = Synth.from_path("cvae")
    labels = s.bundle.knob_labels
    assert labels is not None, "the shipped default model should be annotated (vaesynth-train annotate)"
    checked = 0
    for i, x in enumerate(labels):
        word = x["label"].split(": ", 1)[1].split(", ")[0]  # the first, largest effect
        if word not in ("higher pitch", "lower pitch", "slower", "faster"):
            continue
        lo, hi = np.zeros(s.latent_dim), np.zeros(s.latent_dim)
        lo[i], hi[i] = -SWEEP, SWEEP
        a = [s.render_digit(d, lo) for d in range(10)]
        b = [s.render_digit(d, hi) for d in range(10)]
        if "pitch" in word:
            change = np.median([12 * np.log2(_f0(y.wave) / _f0(x.wave)) for x, y in zip(a, b, strict=True)])
            assert (change > 0) == (word == "higher pitch"), (x["label"], change)
        else:
            change = np.mean([y.duration / x.duration - 1 for x, y in zip(a, b, strict=True)])
            assert (change > 0) == (word == "slower"), (x["label"], change)
        checked += 1
    assert checked >= 2
