"""Any voice in: the take's vocal-tract scale and pitch, measured, normalised away, and given back.

The default model was trained on six adult men. A take from a higher, shorter vocal tract (a woman,
a child) has every formant higher by a common factor, the **formant scale** ``a`` (a woman's about
1.15-1.2 against a man's, a child's 1.3-1.5). :func:`take_voice`:

1. **Estimate the scale** (:class:`ScaleSearch`): analysis by synthesis over a grid of warp factors
   (powers of :data:`STEP`, 0.68-2.28). For a factor ``a`` the take is warped down by ``a``
   (:func:`scaled_features`), encoded and decoded under a digit condition, and the mean squared
   feature error over the take's frames says how well the model explains it (the decoder's smooth
   output, without its noise texture). The model reconstructs best the voices it was trained on; the
   factor that needs is sharpest under the take's own digit, which is not known yet. All factors
   under all ten digits would cost 320 reconstructions, so the search is staged: a coarse pass (every
   :data:`COARSE_EVERY`-th factor, x1.22 apart, under :data:`COARSE_DIGITS`); from its :data:`STARTS`
   best points, the ten digits there and a climb in single grid steps under the two best of them
   while the error falls (re-ranking the digits where it stops, :data:`CLIMBS` times at most); the
   end with the lowest error wins. About 50 reconstructions per take (with the digit named: the
   coarse pass and one climb under that digit, about 12).
2. **Warp, recognise, encode** at that scale: the features of the take as if its vocal tract were
   ``a`` times longer (:func:`scaled_features`: the take at :data:`~vaesynth.voices.voice_in.WIDE_RATE`
   resampled to ``a x`` the model rate and analysed as if at the model rate, which divides every
   frequency by ``a`` and stretches time by ``a``; the frames are then resampled back to the take's
   duration). The digit and the knobs come from those features.
3. **Give the take's pitch and size back**: the knobs' voice is rendered with ``formant = a`` and
   ``pitch`` = the semitones from the f0 of the knobs' own render to the take's median f0 (both
   measured by :func:`f0_median`), so it comes out at the take's pitch and size.

A take within :data:`SNAP` grid step of the model's scale is analysed at scale 1 (its features as
before). Recognition then uses the ten digits' errors at the scale found, judged by
:data:`NORM_MIN_MARGIN` and :data:`NORM_MAX_ERROR` (with the voicing and movement checks). The rest
of the analysis (loading, the checks, the refusals) is :mod:`vaesynth.voices.voice_in`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..digits import N_DIGITS, as_digit
from ..dsp import spectral
from ..dsp.pitch import pitch_track
from ..engine.performance import FORMANT_RANGE, PITCH_RANGE, Performance
from .voice_in import (
    BAND_EDGE_HZ,
    WIDE_RATE,
    LoadedTake,
    Recognition,
    analyse_digits,
    encode_latent,
    movement,
    recognise_digit,
    refuse,
    take_features,
    voicing,
)

if TYPE_CHECKING:
    from ..engine.synth import Synth

STEP = 1.04  # the scale grid: powers of STEP (4 % apart) ...
GRID_K = (-10, 21)  # ... from STEP ** -10 = 0.68 to STEP ** 21 = 2.28 (1.0 is a grid point)
COARSE_EVERY = 5  # the coarse pass: every 5th grid point (x 1.22 apart), aligned on 1.0 ...
COARSE_DIGITS = (1, 6)  # ... reconstructed under these digit conditions
MAX_STEPS = 6  # a climb goes at most this many grid steps
CLIMBS = 3  # climbs at most (the two best digits are checked after each)
STARTS = 2  # climbs start from this many of the coarse pass's best points
SNAP = 1  # a scale within this many grid steps of 1.0 counts as 1.0 (the model's own speakers)
MIN_PERIODICITY = 0.6  # frames at least this periodic count for the f0 median
# Refusal limits of the normalised analysis (errors of the smooth decoder output, no noise texture):
# calibrated on shifted FSDD takes and non-digits, docs/voice_in.md
NORM_MIN_MARGIN = 0.01
NORM_MAX_ERROR = 0.0155


@dataclass(frozen=True)
class TakeVoice:
    """What a take becomes: ``digit`` (recognised when ``recognised``, with ``recognition``), the voice's
    ``knobs`` (standard units, at the model's scale), the take's formant ``scale`` and median ``f0_hz``
    (``None`` when no frame is periodic enough), and the ``performance`` (pitch and formant) that
    renders the knobs at the take's pitch and size."""

    digit: int
    recognised: bool
    knobs: np.ndarray
    scale: float
    f0_hz: float | None
    performance: Performance
    recognition: Recognition | None = None

    @property
    def margin(self) -> float | None:
        return None if self.recognition is None else float(self.recognition.margin)


def _stretch(feat: np.ndarray, n: int, m: int) -> np.ndarray:
    """The first ``n`` frames of ``feat`` resampled (linear) to ``m`` frames."""
    if m == n or n < 2:
        return feat[:n][:m] if m <= n else np.concatenate([feat[:n]] * m)[:m]
    pos = np.linspace(0.0, n - 1, m)
    i = np.minimum(pos.astype(np.int64), n - 2)
    w = (pos - i)[:, None].astype(np.float32)
    return (1 - w) * feat[i] + w * feat[i + 1]


def scaled_features(take: LoadedTake, scale: float, cfg: spectral.SpectralConfig) -> tuple[np.ndarray, int]:
    """The encoder's features ``(max_frames, n_bins)`` of ``take`` with every frequency divided by ``scale``
    (a vocal tract ``scale`` times as long), the duration kept; and the number of frames of sound.

    ``scale == 1`` is :func:`~vaesynth.voices.voice_in.take_features` of the model-rate take, exactly.
    """
    if scale == 1.0:
        return take_features(take.wave, cfg), max(1, spectral.wave_to_features(take.wave, cfg)[1])
    x = spectral.resample(take.wide, WIDE_RATE, int(round(cfg.sample_rate * scale)))
    edge = min(BAND_EDGE_HZ or cfg.sample_rate / 2, 0.95 * take.band_hz / scale)
    # analysed in a window ``scale`` times as long (the take lasts that much longer at the lower rate),
    # then resampled back in time: a long take is cut where it would be at scale 1, not sooner
    wide_cfg = dataclasses.replace(cfg, max_frames=int(np.ceil(cfg.max_frames * max(scale, 1.0))))
    feat = take_features(x, wide_cfg, edge)
    n = max(1, spectral.wave_to_features(x, wide_cfg)[1])
    m = min(cfg.max_frames, max(1, round(n / scale)))
    out = np.zeros((cfg.max_frames, cfg.n_bins), dtype=np.float32)
    out[:m] = _stretch(feat, n, m)
    return out, m


class ScaleSearch:
    """Analysis by synthesis of one take over the scale grid (see the module doc), evaluated lazily
    and in batches: :meth:`errors` reconstructs the ``(grid index, digit)`` pairs not seen yet in one
    encode + decode (smooth output, no noise texture: it only adds noise to the comparison)."""

    def __init__(self, synth: Synth, take: LoadedTake) -> None:
        self.synth, self.take = synth, take
        self._feats: dict[int, tuple[np.ndarray, int]] = {}
        self._err: dict[tuple[int, int], float] = {}
        self._mu: dict[tuple[int, int], np.ndarray] = {}

    @staticmethod
    def scale(k: int) -> float:
        return 1.0 if k == 0 else STEP**k

    def features(self, k: int) -> tuple[np.ndarray, int]:
        if k not in self._feats:
            self._feats[k] = scaled_features(self.take, self.scale(k), self.synth.spectral)
        return self._feats[k]

    def errors(self, ks: list[int], digits: tuple[int, ...] | range) -> np.ndarray:
        """Mean squared feature error ``(len(ks), len(digits))`` over each warped take's frames of sound."""
        import torch

        todo = [(k, d) for k in ks for d in digits if (k, d) not in self._err]
        if todo:
            x = torch.from_numpy(np.stack([self.features(k)[0] for k, _ in todo]))
            dig = torch.tensor([d for _, d in todo], dtype=torch.long)
            model = self.synth.bundle.model
            with torch.inference_mode():
                mu, _ = model.encode(x, dig)
                recon = model.decode(mu, dig, texture=False).features.float()
            sq = ((recon - x) ** 2).mean(dim=2).numpy()
            for i, (k, d) in enumerate(todo):
                self._err[(k, d)] = float(sq[i, : self.features(k)[1]].mean())
                self._mu[(k, d)] = mu[i].float().numpy()
        return np.array([[self._err[(k, d)] for d in digits] for k in ks])

    def latent(self, k: int, digit: int) -> np.ndarray:
        self.errors([k], (digit,))
        return self._mu[(k, digit)]

    def run_named(self, digit: int) -> int:
        """The best grid index for a take of a known ``digit``: the coarse pass and one climb under it."""
        lo, hi = GRID_K
        coarse = [k for k in range(lo, hi + 1) if k % COARSE_EVERY == 0]
        k = coarse[int(np.argmin(self.errors(coarse, (digit,))[:, 0]))]
        k = self._climb(k, (digit,))
        return 0 if abs(k) <= SNAP else k

    def run(self) -> tuple[int, tuple[int, int]]:
        """The best grid index and the two best digits there: a coarse pass (every
        :data:`COARSE_EVERY`-th point under :data:`COARSE_DIGITS`); from each of its :data:`STARTS` best
        points, all ten digits there and a climb in single grid steps, under the two best of them, while
        the error falls, all ten again where it stops, and another climb if the two best changed (at most
        :data:`CLIMBS`); the end point with the lowest error wins."""
        lo, hi = GRID_K
        coarse = [k for k in range(lo, hi + 1) if k % COARSE_EVERY == 0]
        order = np.argsort(self.errors(coarse, COARSE_DIGITS).min(axis=1))
        ends = []
        for start in order[:STARTS]:
            k = coarse[int(start)]
            top = self._top2(k)
            for _ in range(CLIMBS):
                k = self._climb(k, top)
                new = self._top2(k)
                if set(new) == set(top):
                    break
                top = new
            ends.append((float(self.errors([k], top).min()), k, top))
        _, k, top = min(ends)
        return (0 if abs(k) <= SNAP else k), top

    def _top2(self, k: int) -> tuple[int, int]:
        order = np.argsort(self.errors([k], range(N_DIGITS))[0])
        return int(order[0]), int(order[1])

    def _climb(self, k: int, top: tuple[int, ...]) -> int:
        lo, hi = GRID_K
        best = float(self.errors([k], top).min())
        for step in (1, -1):
            moved = 0
            while moved < MAX_STEPS and lo <= k + step <= hi:
                e = float(self.errors([k + step], top).min())
                if e >= best:
                    break
                k, best, moved = k + step, e, moved + 1
            if moved:
                break
        return k

    def recognition(self, k: int, wave: np.ndarray) -> Recognition:
        """A :class:`~vaesynth.voices.voice_in.Recognition` at grid index ``k`` under all ten digit conditions."""
        errors = self.errors([k], range(N_DIGITS))[0]
        latents = np.stack([self.latent(k, d) for d in range(N_DIGITS)])
        order = np.argsort(errors)
        best, second = float(errors[order[0]]), float(errors[order[1]])
        margin = (second - best) / max(best, 1e-12)
        cfg = self.synth.spectral
        return Recognition(int(order[0]), margin, errors, latents, voicing(wave, cfg),
                           NORM_MIN_MARGIN, NORM_MAX_ERROR, movement(wave, cfg))  # fmt: skip


def estimate_scale(synth: Synth, take: LoadedTake) -> float:
    """The take's formant scale against the model's voices (:class:`ScaleSearch`)."""
    return ScaleSearch.scale(ScaleSearch(synth, take).run()[0])


def f0_median(wave: np.ndarray, cfg: spectral.SpectralConfig) -> float | None:
    """Median f0 (Hz) of the periodic frames of ``wave`` (model rate), ``None`` when none is periodic enough."""
    f0, per = pitch_track(wave, cfg, fmin=60.0, fmax=500.0)
    voiced = per >= MIN_PERIODICITY
    return float(np.median(f0[voiced])) if np.any(voiced) else None


def rendered_f0(synth: Synth, digit: int, knobs: np.ndarray, formant: float = 1.0) -> float | None:
    """Median f0 (Hz) of ``knobs`` rendered on ``digit`` (pitch 0, ``formant``), measured like the take's
    (:func:`f0_median`; a light phase reconstruction, :data:`~vaesynth.engine.synth.LIVE_GL_ITERS` iterations),
    so that the tracker's own leanings cancel in the pitch setting."""
    from ..engine.synth import LIVE_GL_ITERS

    render = synth.render_digit(digit, knobs, Performance(formant=formant), gl_iters=LIVE_GL_ITERS)
    return f0_median(render.wave, synth.spectral)


def take_voice(
    synth: Synth, take: LoadedTake, digit: int | str | None = None, normalise: bool = True, strict: bool = True
) -> TakeVoice:
    """The voice in ``take`` (from :func:`vaesynth.voices.voice_in.load_full`): digit, knobs, scale, f0, performance.

    ``digit``: the digit spoken, or ``None`` to recognise it (:class:`~vaesynth.voices.voice_in.VoiceInError`
    when the take is not recognisably a digit). ``normalise=False``, or a model without an f0 head:
    no scale search, the analysis of :mod:`vaesynth.voices.voice_in` as it was (scale 1, natural performance).
    ``strict=False``: a take that is not recognisably a digit is not refused (``recognition.confident``
    says whether it would have been; for calibration).
    """
    cfg = synth.spectral
    f0 = f0_median(take.wave, cfg)
    rec = None
    if not (normalise and synth.has_f0):
        scale = 1.0
        if digit is None:
            rec = recognise_digit(synth, take.wave) if strict else analyse_digits(synth, take.wave)
            d = rec.digit
        else:
            d = as_digit(digit)
        z = encode_latent(synth, take.wave, d)
    else:
        search = ScaleSearch(synth, take)
        if digit is None:
            k, _ = search.run()
            rec = search.recognition(k, take.wave)
            if strict and not rec.confident:
                raise refuse(rec)
            d = rec.digit
        else:
            d = as_digit(digit)
            k = search.run_named(d)  # the digit's own reconstruction places the scale best
        scale = search.scale(k)
        z = search.latent(k, d)
    knobs = synth.knobs.to_knobs([d], z[None])[0].astype(np.float32)
    perf = Performance()
    if synth.has_f0 and normalise:
        formant = round(float(np.clip(scale, *FORMANT_RANGE)), 3)
        own = rendered_f0(synth, d, knobs, formant) if f0 else None
        pitch = 12.0 * math.log2(f0 / own) if f0 and own else 0.0
        perf = Performance(pitch=round(float(np.clip(pitch, *PITCH_RANGE)), 2), formant=formant)
    return TakeVoice(d, digit is None, knobs, scale, f0, perf, rec)
