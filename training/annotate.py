"""Annotating a bundle for exploration: the voice map and what each knob does, measured once.

Both are computed when a bundle is made (``vaesynth-train fit`` calls :func:`annotate_bundle`; the
``annotate`` command redoes it for an existing bundle) and stored in its ``config.json``, so the
app shows them without any training-time work:

- ``voice_map``: the PCA plane through the mean of the training utterances' posterior means
  (:class:`vaesynth.voices.voice.VoiceMap`), with each utterance's speaker and file name;
- ``knob_labels``: for every latent dimension, the measured change when that knob goes from -2 to
  +2 (every other knob at 0, all ten digits, rendered through the real engine): f0 in semitones,
  duration in percent, loudness in dB, spectral centroid in percent, and the speaker that a
  linear probe on the latents hears more of. The largest change, in units of what a listener
  notices (:data:`NOTICEABLE`), names the knob ("higher pitch", "slower", ...), and the next
  noticeable one follows it ("faster, brighter"), so knobs that share a first word still read
  apart; a knob whose every change is below one unit says "no clear effect". Each knob also gets
  one effect size, ``change_db``: the mean absolute change of the log spectrum (time-normalised
  to :data:`CHANGE_FRAMES` frames, so a slower voice is compared with itself) in dB per unit of
  the knob. The app lists the knobs in that order, strongest first
  (:func:`vaesynth.app.knob_labels.display_order`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaesynth.digits import N_DIGITS
from vaesynth.dsp.spectral import features_to_db, features_to_mag
from vaesynth.engine.synth import Synth
from vaesynth.model.bundle import Bundle, BundleError, load_bundle, save_bundle
from vaesynth.model.catalog import resolve_model
from vaesynth.voices.voice import VoiceMap

from .data import Dataset, find_data, load_dataset

SWEEP = 2.0  # knob values compared: -SWEEP and +SWEEP (standard units)
CHANGE_FRAMES = 32  # frames each log spectrum is resampled to before comparing (the judges' utterance view)
# How much of each change a listener clearly notices (the label's unit): a semitone, 10% of the
# duration, 2 dB, 10% of the spectral centroid, and a probe's speaker probability moving by 0.35.
NOTICEABLE = {"f0_semitones": 1.0, "duration_pct": 10.0, "loudness_db": 2.0, "centroid_pct": 10.0, "speaker": 0.35}
WORDS = {
    "f0_semitones": ("higher pitch", "lower pitch"),
    "duration_pct": ("slower", "faster"),
    "loudness_db": ("louder", "softer"),
    "centroid_pct": ("brighter", "darker"),
}


def voice_map(bundle: Bundle, train: Dataset) -> VoiceMap:
    """The PCA map of the bundle's stored training posteriors; ``train`` must be the split they came from."""
    stats = bundle.stats
    if not stats.has_posteriors:
        raise BundleError(f"{bundle.name} stores no training posteriors; re-fit its statistics first")
    mu = stats.post_mu.double().numpy()
    digits = stats.post_digit.numpy()
    if len(mu) != len(train) or not np.array_equal(digits, train.digit):
        raise BundleError(f"{bundle.name}: its stored posteriors do not line up with the training split")
    origin = mu.mean(0)
    _, s, vt = np.linalg.svd(mu - origin, full_matrices=False)
    axes = vt[:2]
    explained = (s[:2] ** 2) / max(float((s**2).sum()), 1e-12)
    points = (mu - origin) @ axes.T
    return VoiceMap(origin, axes, points, digits, train.speaker, list(train.names), explained)


def _normalised_db(db: np.ndarray) -> np.ndarray:
    """A log spectrum ``(n, bins)`` resampled in time to :data:`CHANGE_FRAMES` frames (linear)."""
    n = len(db)
    t = np.linspace(0.0, n - 1.0, CHANGE_FRAMES)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (t - lo)[:, None]
    return (1 - w) * db[lo] + w * db[hi]


def _measure(synth: Synth, knobs: np.ndarray) -> dict[str, np.ndarray]:
    """f0 (Hz, median over the utterance), duration (s), loudness (dB) and centroid (Hz) per digit,
    and ``spectrum``: each digit's time-normalised log spectrum ``(digits, CHANGE_FRAMES, bins)`` in dB."""
    import torch

    cfg = synth.spectral
    model = synth.bundle.model
    digits = list(range(N_DIGITS))
    z = torch.from_numpy(synth.knobs.to_latents(digits, np.repeat(knobs[None], N_DIGITS, 0)))
    with torch.inference_mode():
        out = model.decode(z, torch.tensor(digits))
    feats = out.features.float().numpy()
    lengths = [synth.valid_length(v) for v in out.valid_logits.float().numpy()]
    f0 = out.f0_hz.float().numpy() if out.f0_hz is not None else None
    res = {k: np.zeros(N_DIGITS) for k in ("f0", "duration", "loudness", "centroid")}
    hz = np.arange(cfg.n_bins) * cfg.sample_rate / cfg.n_fft
    res["spectrum"] = np.zeros((N_DIGITS, CHANGE_FRAMES, cfg.n_bins))
    for i, n in enumerate(lengths):
        res["spectrum"][i] = _normalised_db(features_to_db(feats[i, :n], cfg).astype(np.float64))
        mag = features_to_mag(feats[i, :n], cfg)
        power = mag.astype(np.float64) ** 2
        res["duration"][i] = n * cfg.frame_seconds
        res["loudness"][i] = 10 * np.log10(power.sum(1).mean() + 1e-12)
        res["centroid"][i] = float((power * hz).sum() / max(power.sum(), 1e-12))
        res["f0"][i] = float(np.median(f0[i, :n])) if f0 is not None else np.nan
    return res


def _label(effects: dict[str, float], speaker_word: str | None) -> str:
    """The words for a knob's measured ``effects``: the largest noticeable change, then the next one."""
    score = {k: abs(v) / NOTICEABLE[k] for k, v in effects.items() if k in NOTICEABLE}
    ranked = [k for k in sorted(score, key=score.get, reverse=True) if score[k] >= 1.0]
    words = []
    for k in ranked:
        word = speaker_word if k == "speaker" else WORDS[k][0 if effects[k] > 0 else 1]
        if word:
            words.append(word)
    return ", ".join(words[:2]) or "no clear effect"


def knob_effects(synth: Synth, probe=None) -> list[dict]:  # noqa: ANN001 - a fitted sklearn classifier
    """Per latent dimension: ``{"label": str, "effects": {...}}`` (see the module doc)."""
    labels = []
    d = synth.latent_dim
    for i in range(d):
        lo, hi = np.zeros(d), np.zeros(d)
        lo[i], hi[i] = -SWEEP, SWEEP
        a, b = _measure(synth, lo), _measure(synth, hi)
        effects = {
            "duration_pct": float(100 * np.mean(b["duration"] / a["duration"] - 1)),
            "loudness_db": float(np.mean(b["loudness"] - a["loudness"])),
            "centroid_pct": float(100 * np.mean(b["centroid"] / a["centroid"] - 1)),
            "change_db": float(np.abs(b["spectrum"] - a["spectrum"]).mean() / (2 * SWEEP)),
        }
        if np.isfinite(a["f0"]).all():
            effects["f0_semitones"] = float(np.mean(12 * np.log2(b["f0"] / a["f0"])))
        speaker_word = None
        if probe is not None:
            za = synth.knobs.to_latents(list(range(N_DIGITS)), np.repeat(lo[None], N_DIGITS, 0))
            zb = synth.knobs.to_latents(list(range(N_DIGITS)), np.repeat(hi[None], N_DIGITS, 0))
            shift = probe.predict_proba(zb).mean(0) - probe.predict_proba(za).mean(0)
            k = int(np.argmax(shift))
            effects["speaker"] = float(shift[k])
            speaker_word = f"more like {synth.speakers[k]}"
        label = _label(effects, speaker_word)
        labels.append({"label": f"z{i + 1}: {label}", "effects": {k: round(v, 3) for k, v in effects.items()}})
    return labels


def annotate_bundle(folder: str | Path, data: str | Path | None = None, train: Dataset | None = None) -> Path:
    """Compute and store the voice map and the knob labels of the bundle in ``folder``; returns it.

    Weights and statistics are unchanged. ``train``: the training split (loaded from ``data``
    through the usual discovery if not given).
    """
    from sklearn.linear_model import LogisticRegression

    bundle = load_bundle(folder)
    if train is None:
        train, _ = load_dataset(find_data(data), bundle.spectral).split()
    if list(train.speakers) != list(bundle.speakers):
        raise BundleError(f"the data's speakers {train.speakers} differ from the bundle's {bundle.speakers}")
    bundle.voice_map = voice_map(bundle, train).plane
    probe = None  # which speaker a knob moves towards; needs at least two speakers in the data
    if len(np.unique(train.speaker)) > 1:
        probe = LogisticRegression(max_iter=2000).fit(bundle.stats.post_mu.double().numpy(), train.speaker)
    bundle.knob_labels = knob_effects(Synth(bundle, torch_threads=None), probe)
    return save_bundle(bundle, folder)


def annotate_cli(models: list[str], data: str | None) -> None:
    """``vaesynth-train annotate``: annotate shipped bundles by name or bundle folders."""
    for m in models:
        folder = annotate_bundle(resolve_model(m), data)
        labels = load_bundle(folder).knob_labels or []
        print(f"annotated {folder}: voice map and knob labels ({'; '.join(x['label'] for x in labels)})")
