"""Naturalness judges: independent judges of how natural generated voices are.

Every measure here compares *generated* utterances with the 300 real FSDD test recordings
(index 0-4), both analysed the same way from the waveform (:func:`vaesynth.dsp.spectral.wave_to_features`
after peak normalisation and silence trimming). Generated utterances go the whole way a user's
do: a keypad press draws knobs from the digit's exact aggregate posterior
(:meth:`vaesynth.voices.voice.KnobSpace.fresh` with the digit), :meth:`~vaesynth.engine.synth.Synth.render_digit`
decodes and reconstructs the phase, and the waveform is analysed again.

The measures (each a pure function below):

- :func:`two_sample_accuracy`: 5-fold cross-validated accuracy of a standardised, L2-regularised
  logistic regression telling generated from real utterances; features are the judge
  classifier's penultimate embedding plus a time-normalised log-mel spectrogram
  (:func:`two_sample_features`). 0.5 = indistinguishable, 1.0 = always told apart.
- :func:`frechet_distance` in the judge classifier's embedding, reported against the floor of
  real train vs real test (same n).
- :func:`spectral_flux`: mean frame-to-frame change of the dB spectrum (smoothness in time).
- :func:`aperiodic_loud_share`: share of loud frames (within 30 dB of the loudest) that are
  aperiodic (autocorrelation periodicity < 0.5): fricatives, bursts, breath.
- digit accuracy of an *independent* judge (:class:`IndependentJudge`: logistic regression on
  time-normalised MFCCs; a different model family from the CNN judge, never used as a training
  signal);
- :func:`diversity_per_digit` (mean pairwise distance within a digit / real's, per digit);
- near-copies (:func:`near_copy_share`): share of samples closer to a training recording
  than 95% of real test recordings are (real unseen speech: 5% by construction);
- periodicity of voiced frames (:func:`training.evaluate.mean_periodicity`) / real;
- the same two-sample test on reconstructions of the test recordings.

Entry point::

    python -m training.judges --bundle resources/models/cvae --data /path/to/recordings \
        --per-digit 30 --json out.json [--sanity] [--figure docs/results/fresh_vs_real.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaesynth.digits import N_DIGITS
from vaesynth.dsp.phase import griffin_lim, istft
from vaesynth.dsp.pitch import pitch_track
from vaesynth.dsp.spectral import SpectralConfig, features_to_mag, normalize_peak, trim_silence, wave_to_features

from .data import Dataset, LoadReport, find_data, load_dataset, read_wav
from .evaluate import (
    Classifier,
    embed,
    mean_periodicity,
    nearest_distances,
    render_knobs,
    train_classifier,
)

JUDGE_SEED = 13  # the judge CNN is trained with its own seed: not evaluate.py's classifier (seed 0)
N_MELS = 40
MEL_FRAMES = 32
LOUD_DB = 30.0
APERIODIC_BELOW = 0.5
#: frames dropped from each utterance's end before the combined two-sample test's log-mel part: the
#: last frames of a render are Griffin-Lim's decaying edge, and 4 ms there decided more than texture
TAIL_FRAMES = 3

# --- feature helpers ------------------------------------------------------------------------------


def mel_filterbank(cfg: SpectralConfig, n_mels: int = N_MELS, fmin: float = 50.0) -> np.ndarray:
    """Triangular mel filterbank ``(n_bins, n_mels)`` (HTK mel scale), float64."""
    fmax = cfg.sample_rate / 2

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.arange(cfg.n_bins) * cfg.sample_rate / cfg.n_fft
    fb = np.zeros((cfg.n_bins, n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (bins - lo) / max(c - lo, 1e-9)
        down = (hi - bins) / max(hi - c, 1e-9)
        fb[:, m] = np.clip(np.minimum(up, down), 0.0, None)
    # every band gets at least its nearest bin (narrow low bands)
    for m in range(n_mels):
        if fb[:, m].sum() == 0:
            fb[int(np.argmin(np.abs(bins - edges[m + 1]))), m] = 1.0
    return fb / fb.sum(0, keepdims=True)


def time_normalise(x: np.ndarray, n_out: int) -> np.ndarray:
    """Resample ``x (T, C)`` along time to ``(n_out, C)`` by linear interpolation."""
    t_in = np.linspace(0.0, 1.0, len(x))
    t_out = np.linspace(0.0, 1.0, n_out)
    return np.stack([np.interp(t_out, t_in, x[:, c]) for c in range(x.shape[1])], axis=1)


def log_mel(feats: np.ndarray, lens: np.ndarray, cfg: SpectralConfig, n_frames: int = MEL_FRAMES) -> np.ndarray:
    """Time-normalised log-mel ``(N, n_frames * N_MELS)`` in dB of features ``(N, T, F)``."""
    fb = mel_filterbank(cfg)
    out = []
    for f, n in zip(feats, lens, strict=True):
        power = features_to_mag(f[: max(int(n), 2)], cfg).astype(np.float64) ** 2
        lm = 10.0 * np.log10(power @ fb + 1e-10)
        out.append(time_normalise(lm, n_frames).reshape(-1))
    return np.stack(out)


def mfcc_features(feats: np.ndarray, lens: np.ndarray, cfg: SpectralConfig, n_mfcc: int = 20) -> np.ndarray:
    """Time-normalised MFCCs (20 x 16 frames) plus their per-utterance mean and std: ``(N, 360)``."""
    lm = log_mel(feats, lens, cfg, n_frames=16).reshape(len(feats), 16, N_MELS)
    k = np.arange(n_mfcc)[:, None]
    m = np.arange(N_MELS)[None, :]
    dct = np.cos(np.pi * k * (m + 0.5) / N_MELS)  # (n_mfcc, N_MELS)
    c = lm @ dct.T  # (N, 16, n_mfcc)
    return np.concatenate([c.reshape(len(feats), -1), c.mean(1), c.std(1)], axis=1)


# --- judges -----------------------------------------------------------------------------------------


@torch.inference_mode()
def penultimate(clf: Classifier, feats: np.ndarray, batch: int = 256) -> np.ndarray:
    """The judge classifier's penultimate embedding ``(N, 2 * ch)``: max- and mean-pooled conv features."""
    clf.eval()
    out = []
    for i in range(0, len(feats), batch):
        h = clf.net(torch.from_numpy(np.asarray(feats[i : i + batch], dtype=np.float32)).transpose(1, 2))
        out.append(torch.cat([h.amax(-1), h.mean(-1)], dim=1).numpy())
    return np.concatenate(out).astype(np.float64)


class IndependentJudge:
    """Digit judge of a different family from the CNN judge: an RBF support-vector machine on
    standardised, time-normalised MFCCs (:func:`mfcc_features`). Trained on the train split only;
    no generator is ever trained against it. Real test recordings: 99.0% (a logistic regression
    on the same features scored 97.7%, too close to the 98% target to be a useful judge)."""

    def __init__(self, train: Dataset, cfg: SpectralConfig, C: float = 10.0) -> None:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        self.cfg = cfg
        x = mfcc_features(train.features, train.n_valid, cfg)
        self.model = make_pipeline(StandardScaler(), SVC(C=C))
        self.model.fit(x, train.digit)

    def predict(self, feats: np.ndarray, lens: np.ndarray) -> np.ndarray:
        return self.model.predict(mfcc_features(feats, lens, self.cfg))


# --- measures (pure functions) ----------------------------------------------------------------------


def two_sample_features(
    emb: np.ndarray, feats: np.ndarray, lens: np.ndarray, cfg: SpectralConfig, tail: int = TAIL_FRAMES
) -> np.ndarray:
    """Two-sample test features: judge embedding ``(N, E)`` next to the time-normalised log-mel of
    each utterance without its last ``tail`` frames (robust to the render's last few milliseconds)."""
    return np.concatenate([emb, log_mel(feats, np.maximum(np.asarray(lens) - tail, 2), cfg)], axis=1)


def loudness_envelope(feats: np.ndarray, lens: np.ndarray, cfg: SpectralConfig, n_frames: int = MEL_FRAMES):
    """Loudness over normalised time ``(N, n_frames)``: each frame's energy in dB, time-normalised."""
    out = []
    for f, n in zip(feats, lens, strict=True):
        power = (features_to_mag(f[: max(int(n), 2)], cfg).astype(np.float64) ** 2).sum(1)
        out.append(time_normalise(10.0 * np.log10(power + 1e-10)[:, None], n_frames)[:, 0])
    return np.stack(out)


def two_sample_accuracy(
    a: np.ndarray, b: np.ndarray, paired: bool = False, folds: int = 5, C: float = 0.01, seed: int = 0
) -> float:
    """Mean 5-fold CV accuracy of a standardised logistic regression telling rows of ``a`` from ``b``.

    Balanced classes are assumed (``len(a) == len(b)`` gives chance = 0.5). Standardisation is
    fitted inside each fold. ``C`` (inverse L2 strength, per standardised feature) is fixed so
    that the same number means the same thing for every model. ``paired=True``: row ``i`` of
    ``b`` is made from row ``i`` of ``a`` (a resynthesis or reconstruction of the same
    recording); the twins are then kept in the same fold, otherwise a test row's twin in the
    training folds, labelled the other way, pushes accuracy *below* 0.5 (measured: 0.23 for
    Griffin-Lim resyntheses).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([a, b]).astype(np.float64)
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    if paired:
        if len(a) != len(b):
            raise ValueError("paired two-sample test needs equally many rows")
        groups = np.concatenate([np.arange(len(a)), np.arange(len(b))])
    else:
        groups = np.arange(len(x))
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv, groups=groups).mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to rows of ``a`` and ``b`` (as in FID)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = np.real(linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def spectral_flux(feats: np.ndarray, lens: np.ndarray, cfg: SpectralConfig) -> float:
    """Mean over utterances of the RMS (over bins) frame-to-frame change of the dB spectrum."""
    span = cfg.db_max - cfg.db_min
    vals = []
    for f, n in zip(feats, lens, strict=True):
        d = np.diff(f[: int(n)], axis=0) * span
        if len(d):
            vals.append(np.sqrt((d**2).mean(1)).mean())
    return float(np.mean(vals))


def frame_voicing(wave: np.ndarray, cfg: SpectralConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (energy dB re. the loudest frame, periodicity) of a trimmed, peak-normalised wave."""
    w = trim_silence(normalize_peak(wave, cfg), cfg)
    _, per = pitch_track(w, cfg)
    pad = cfg.n_fft // 2
    x = np.pad(np.asarray(w, dtype=np.float64), (pad, pad + cfg.hop))
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft)[:: cfg.hop][: len(per)]
    e = 10 * np.log10((frames**2).mean(1) + 1e-12)
    return e - e.max(), per


def aperiodic_loud_share(waves: list[np.ndarray], cfg: SpectralConfig) -> float:
    """Pooled share of loud frames (within 30 dB of each utterance's loudest) with periodicity < 0.5."""
    loud = aper = 0
    for w in waves:
        e, per = frame_voicing(w, cfg)
        m = e > -LOUD_DB
        loud += int(m.sum())
        aper += int((m & (per < APERIODIC_BELOW)).sum())
    return aper / max(loud, 1)


def diversity_per_digit(emb: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Mean pairwise Euclidean distance within each digit, ``(10,)`` (NaN where < 2 samples)."""
    out = np.full(N_DIGITS, np.nan)
    for d in range(N_DIGITS):
        e = emb[digits == d]
        if len(e) > 1:
            dist = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
            out[d] = dist[np.triu_indices(len(e), 1)].mean()
    return out


def near_copy_share(emb: np.ndarray, train_emb: np.ndarray, real_nn: np.ndarray) -> float:
    """Share of rows of ``emb`` closer to a training utterance than 95% of real test utterances are."""
    return float((nearest_distances(emb, train_emb) < np.percentile(real_nn, 5)).mean())


def analyse(waves: list[np.ndarray], cfg: SpectralConfig) -> tuple[np.ndarray, np.ndarray]:
    feats, lens = zip(*(wave_to_features(w, cfg) for w in waves), strict=True)
    return np.stack(feats), np.array(lens)


# --- the reference (real data) ------------------------------------------------------------------------


@dataclass
class Side:
    """One set of utterances, analysed once: waves, features, judge embedding, two-sample features."""

    waves: list[np.ndarray]
    feats: np.ndarray
    lens: np.ndarray
    digits: np.ndarray
    emb: np.ndarray
    ts: np.ndarray
    util_emb: np.ndarray  # evaluate.embed (per-bin mean/std): diversity and near-copies
    lm: np.ndarray | None = None  # time-normalised log-mel of the whole utterance
    loud: np.ndarray | None = None  # loudness over normalised time


class Judges:
    """The real reference and the trained judges (built once; the judge CNN is cached on disk)."""

    def __init__(self, folder: Path, cfg: SpectralConfig | None = None, seed: int = 0) -> None:
        t0 = time.perf_counter()
        self.cfg = cfg = cfg or SpectralConfig()
        self.seed = seed
        ds = load_dataset(folder, cfg)
        self.train, self.test = ds.split()
        self.clf = train_classifier(self.train, "digit", seed=JUDGE_SEED)
        self.independent = IndependentJudge(self.train, cfg)
        report = LoadReport()
        waves = [read_wav(folder / n, cfg, report) for n in self.test.names]
        self.real = self.side([trim_silence(normalize_peak(w, cfg), cfg) for w in waves], self.test.digit)
        self.train_util = embed(self.train.features, self.train.n_valid)
        self.real_nn = nearest_distances(self.real.util_emb, self.train_util)
        self.train_lm = log_mel(self.train.features, self.train.n_valid, cfg)
        self.real_nn_lm = nearest_distances(self.real.lm, self.train_lm)
        # FID floor: a real train subset of the same size and digit balance vs real test
        rng = np.random.default_rng(seed)
        per = np.bincount(self.test.digit, minlength=N_DIGITS)
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(self.train.digit == d), per[d], replace=False) for d in range(N_DIGITS)]
        )
        self.train_sub_emb = penultimate(self.clf, self.train.features[idx])
        self.fid_floor = frechet_distance(self.train_sub_emb, self.real.emb)
        self.real_stats = {
            "flux": spectral_flux(self.real.feats, self.real.lens, cfg),
            "aperiodic": aperiodic_loud_share(self.real.waves, cfg),
            "periodicity": mean_periodicity(self.real.waves, cfg),
            "diversity": diversity_per_digit(self.real.util_emb, self.real.digits),
            "acc_judge": float((self.clf_predict(self.real.feats) == self.real.digits).mean()),
            "acc_independent": float(
                (self.independent.predict(self.real.feats, self.real.lens) == self.real.digits).mean()
            ),
            "fid_floor": self.fid_floor,
            "near_copies": near_copy_share(self.real.util_emb, self.train_util, self.real_nn),
        }  # fmt: skip
        self.seconds = time.perf_counter() - t0

    @torch.inference_mode()
    def clf_predict(self, feats: np.ndarray) -> np.ndarray:
        return self.clf(torch.from_numpy(np.asarray(feats, dtype=np.float32))).argmax(-1).numpy()

    def side(self, waves: list[np.ndarray], digits: np.ndarray) -> Side:
        feats, lens = analyse(waves, self.cfg)
        emb = penultimate(self.clf, feats)
        return Side(
            waves, feats, lens, np.asarray(digits), emb, two_sample_features(emb, feats, lens, self.cfg),
            embed(feats, lens), log_mel(feats, lens, self.cfg), loudness_envelope(feats, lens, self.cfg),
        )  # fmt: skip

    def compare(self, gen: Side, paired: bool = False) -> dict:
        """Every measure of generated ``gen`` against the real test recordings (``paired``: row
        ``i`` of ``gen`` is made from test recording ``i``, see :func:`two_sample_accuracy`)."""
        r = self.real_stats
        div = diversity_per_digit(gen.util_emb, gen.digits) / r["diversity"]
        acc_ind = float((self.independent.predict(gen.feats, gen.lens) == gen.digits).mean())
        real, seed = self.real, self.seed
        return {
            "two_sample": two_sample_accuracy(gen.ts, real.ts, paired, seed=seed),
            "two_sample_embedding_only": two_sample_accuracy(gen.emb, real.emb, paired, seed=seed),
            "two_sample_logmel_only": two_sample_accuracy(gen.lm, real.lm, paired, seed=seed),
            "two_sample_loudness_only": two_sample_accuracy(gen.loud, real.loud, paired, seed=seed),
            "two_sample_untrimmed": two_sample_accuracy(
                np.concatenate([gen.emb, gen.lm], 1), np.concatenate([real.emb, real.lm], 1), paired, seed=seed
            ),
            "fid": frechet_distance(gen.emb, self.real.emb),
            "fid_ratio": frechet_distance(gen.emb, self.real.emb) / self.fid_floor,
            "flux_ratio": spectral_flux(gen.feats, gen.lens, self.cfg) / r["flux"],
            "aperiodic_ratio": aperiodic_loud_share(gen.waves, self.cfg) / r["aperiodic"],
            "acc_independent": acc_ind,
            "acc_independent_minus_real": acc_ind - r["acc_independent"],
            "acc_judge": float((self.clf_predict(gen.feats) == gen.digits).mean()),
            "diversity": float(np.nanmean(div)),
            "diversity_min_digit": float(np.nanmin(div)),
            "near_copies": near_copy_share(gen.util_emb, self.train_util, self.real_nn),
            "near_copies_logmel": near_copy_share(gen.lm, self.train_lm, self.real_nn_lm),
            "periodicity_ratio": mean_periodicity(gen.waves, self.cfg) / r["periodicity"],
        }


# --- generated sides --------------------------------------------------------------------------------


def fresh_voices(bundle, per_digit: int = 30, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_digit`` fresh voices per digit drawn exactly as a keypad press draws them, rendered."""
    from vaesynth.engine.synth import Synth

    synth = Synth(bundle, torch_threads=None)
    knobs, digits = fresh_knobs(synth, per_digit, seed)
    return render_knobs(synth, knobs, digits), digits


def fresh_knobs(synth, per_digit: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The knob vectors ``(N, D)`` and digits ``(N,)`` of :func:`fresh_voices` (what a keypad press
    draws), for experiments that render them another way."""
    rng = np.random.default_rng(seed)
    digits = np.repeat(np.arange(N_DIGITS), per_digit)
    return np.stack([synth.knobs.fresh(int(d), 1.0, rng) for d in digits]), digits


class _WithLatents:
    """A model whose ``decode`` uses the given time-varying latents ``w`` (``(1, S, dim)``, set per
    render) instead of drawing them from the prior: reconstructions use the posterior mean."""

    def __init__(self, model) -> None:
        self.model, self.w = model, None

    def __getattr__(self, name):
        return getattr(self.model, name)

    def decode(self, z, digit, **kw):
        return self.model.decode(z, digit, w=self.w, **kw)


@torch.inference_mode()
def reconstructions(bundle, test: Dataset) -> list[np.ndarray]:
    """Test recordings encoded (posterior mean, also of the time-varying latents of a model with
    them), decoded and rendered by the engine."""
    from dataclasses import replace

    from vaesynth.engine.synth import Synth

    model = bundle.model.eval()
    x, d = torch.from_numpy(test.features.astype(np.float32)), torch.from_numpy(test.digit)
    if getattr(model, "tvl_dim", 0) == 0:
        synth = Synth(bundle, torch_threads=None)
        mu, _ = model.encode(x, d)
        return render_knobs(synth, synth.knobs.to_knobs(test.digit, mu.numpy()), test.digit)
    mu, _, w_mu, _ = model.encode_all(x, d)
    proxy = _WithLatents(model)
    synth = Synth(replace(bundle, model=proxy), torch_threads=None)
    waves = []
    for u, digit, w in zip(synth.knobs.to_knobs(test.digit, mu.numpy()), test.digit, w_mu, strict=True):
        proxy.w = w[None]
        waves.append(synth.render_digit(int(digit), u).wave)
    return waves


def resynth_gl(test: Dataset, cfg: SpectralConfig) -> list[np.ndarray]:
    """Real test features through the engine's phase reconstruction (Griffin-Lim, PGHI start)."""
    from vaesynth.engine.synth import DEFAULT_GL_INIT, DEFAULT_GL_ITERS, DEFAULT_GL_MOMENTUM

    return [
        griffin_lim(features_to_mag(f[:n], cfg), cfg, DEFAULT_GL_ITERS, DEFAULT_GL_MOMENTUM, DEFAULT_GL_INIT)
        for f, n in zip(test.features, test.n_valid, strict=True)
    ]


def resynth_random_phase(test: Dataset, cfg: SpectralConfig, seed: int = 0) -> list[np.ndarray]:
    """Real test magnitudes with uniformly random phase, one inverse STFT (a known-bad reference)."""
    rng = np.random.default_rng(seed)
    out = []
    for f, n in zip(test.features, test.n_valid, strict=True):
        mag = features_to_mag(f[:n], cfg)
        out.append(istft(mag * np.exp(2j * np.pi * rng.random(mag.shape)), cfg))
    return out


# --- report -----------------------------------------------------------------------------------------

ROWS = [
    ("two_sample", "two-sample accuracy, fresh vs real test, last 3 frames not judged (target <= 0.70)", "{:.3f}"),
    ("two_sample_untrimmed", "  same, whole utterance", "{:.3f}"),
    ("two_sample_embedding_only", "  judge embedding only (target <= 0.55)", "{:.3f}"),
    ("two_sample_logmel_only", "  time-normalised log-mel only", "{:.3f}"),
    ("two_sample_loudness_only", "  loudness over time only", "{:.3f}"),
    ("fid_ratio", "FID / real train-vs-test floor (target <= 1.1)", "{:.2f}"),
    ("flux_ratio", "spectral flux / real (target 0.9-1.1)", "{:.3f}"),
    ("aperiodic_ratio", "aperiodic loud-frame share / real (target 0.9-1.1)", "{:.3f}"),
    ("acc_independent", "independent judge digit accuracy (target >= 0.98, within 1 pt of real)", "{:.3f}"),
    ("acc_judge", "CNN judge digit accuracy", "{:.3f}"),
    ("diversity", "diversity within digit / real (target >= 0.9)", "{:.3f}"),
    ("diversity_min_digit", "  lowest digit (target >= 0.8)", "{:.3f}"),
    ("near_copies", "near-copies, per-bin statistics (real unseen: 0.05)", "{:.3f}"),
    ("near_copies_logmel", "near-copies, time-normalised log-mel (real unseen: 0.05)", "{:.3f}"),
    ("periodicity_ratio", "periodicity of voiced frames / real (target >= 0.9)", "{:.3f}"),
    ("recon_two_sample", "two-sample accuracy, reconstructions vs real (target <= 0.65)", "{:.3f}"),
]


def table(results: dict[str, dict]) -> str:
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label, fmt in ROWS:
        cells = [fmt.format(results[n][key]) if key in results[n] else "-" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def judge_bundle(judges: Judges, bundle, per_digit: int = 30, seed: int = 0, recon: bool = True) -> dict:
    """All measures of one bundle: fresh voices (``per_digit`` per digit) and test reconstructions."""
    t0 = time.perf_counter()
    waves, digits = fresh_voices(bundle, per_digit, seed)
    gen = judges.side(waves, digits)
    res = judges.compare(gen)
    if recon:
        rec = judges.side(reconstructions(bundle, judges.test), judges.test.digit)
        res["recon_two_sample"] = two_sample_accuracy(rec.ts, judges.real.ts, paired=True, seed=seed)
    res["n"] = len(digits)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["_gen"] = gen
    return res


def plot_fresh_vs_real(judges: Judges, gens: dict[str, Side], out: Path, per_row: int = 2) -> None:
    """Spectrogram grid: for each digit, ``per_row`` real test recordings and fresh voices of each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = judges.cfg
    sides = {"real": judges.real, **gens}
    rows = [(name, k) for name in sides for k in range(per_row)]
    fig, axes = plt.subplots(len(rows), N_DIGITS, figsize=(18, 1.5 * len(rows)), squeeze=False)
    for r, (name, k) in enumerate(rows):
        s = sides[name]
        for d in range(N_DIGITS):
            ax = axes[r, d]
            i = int(np.flatnonzero(s.digits == d)[k * 7 % max(1, (s.digits == d).sum())])
            f, n = s.feats[i], s.lens[i]
            ax.imshow(f[:n].T, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1,
                      extent=[0, n * cfg.frame_seconds, 0, cfg.sample_rate / 2000])  # fmt: skip
            ax.set_xticks([])
            if d == 0:
                ax.set_ylabel(f"{name}\nkHz", fontsize=8)
            else:
                ax.set_yticks([])
            if r == 0:
                ax.set_title(str(d))
    fig.suptitle("Fresh voices (keypad draws, rendered and re-analysed) vs real test recordings")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from vaesynth.model.bundle import load_bundle

    p = argparse.ArgumentParser(prog="python -m training.judges", description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", action="append", default=[], help="bundle folder (repeatable); name=folder allowed")
    p.add_argument("--data", default=None, help="FSDD recordings folder")
    p.add_argument("--per-digit", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sanity", action="store_true", help="also judge real test resyntheses (Griffin-Lim, random phase)")
    p.add_argument("--no-recon", action="store_true", help="skip the reconstruction two-sample test")
    p.add_argument("--json", default=None, help="write raw figures here")
    p.add_argument("--figure", default=None, help="write the fresh-vs-real spectrogram grid here")
    args = p.parse_args(argv)
    torch.set_flush_denormal(True)
    judges = Judges(find_data(args.data), seed=args.seed)
    rs = judges.real_stats
    print(
        f"judges ready in {judges.seconds:.0f}s: CNN judge {rs['acc_judge']:.3f} and independent judge "
        f"{rs['acc_independent']:.3f} on real test; FID floor {rs['fid_floor']:.2f}",
        file=sys.stderr,
    )
    results: dict[str, dict] = {}
    if args.sanity:
        for name, waves in [
            ("real-GL", resynth_gl(judges.test, judges.cfg)),
            ("real-randphase", resynth_random_phase(judges.test, judges.cfg)),
        ]:
            side = judges.side(waves, judges.test.digit)
            results[name] = {**judges.compare(side, paired=True), "_gen": side}
            print(f"{name}: two-sample {results[name]['two_sample']:.3f}", file=sys.stderr)
    for spec in args.bundle:
        name, _, folder = spec.rpartition("=")
        name = name or Path(folder).name
        results[name] = judge_bundle(judges, load_bundle(folder), args.per_digit, args.seed, not args.no_recon)
        shown = {k: round(v, 3) for k, v in results[name].items() if isinstance(v, float)}
        print(f"{name}: {shown}", file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        clean = {n: {k: v for k, v in r.items() if not k.startswith("_")} for n, r in results.items()}
        real = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rs.items()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        from vaesynth.sound.safeio import atomic_write

        summary = {"real": real, "results": clean, "per_digit": args.per_digit, "seed": args.seed}
        atomic_write(args.json, (json.dumps(summary, indent=2) + "\n").encode())
    if args.figure:
        gens = {n: r["_gen"] for n, r in results.items() if not n.startswith("real-")}
        plot_fresh_vs_real(judges, gens, Path(args.figure))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
