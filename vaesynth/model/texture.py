"""The texture stage: real spectro-temporal detail from a bank of training recordings.

A decoder trained on squared error gives a smooth, controllable log-magnitude; what it averages
away is the fine texture of real speech (ragged harmonics, bursts, frame-to-frame jitter). The
bank holds that texture as it really was: for each training utterance its *residual*, its real
features minus the decoder's smooth reconstruction of it, over its valid frames. Rendering adds a
residual to the smooth output::

    decoder (smooth) -> texture (a real residual, retrieved and aligned) -> phase -> audio

The steps (pure functions of arrays; shapes in each docstring):

- :meth:`TextureBank.select`: the donors, the nearest training utterances of the same digit in
  knob space (the digit's whitened latent coordinates), never the utterance a fresh draw started
  from (the *anchor*: any utterance whose posterior holds the latent as a typical draw).
- :func:`align_path`: which donor frame each output frame takes, by dynamic time warping of the
  donor's smooth features onto the output's (or a linear stretch).
- :func:`follow_pitch`: the residual's fine (harmonic) part is warped along frequency by the
  ratio of the played f0 to the donor's, so that its ripple follows the comb that is played; its
  envelope part stays in place.
- :func:`blend`: ``k > 1`` donors mixed with variance-preserving weights (texture keeps its depth,
  unlike an average of log-magnitudes).

The bank's residuals have each donor's static per-bin offset (its spectral fingerprint) removed
at export; the digit's population mean residual (the decoder's systematic bias, no one's voice)
is added back instead. Everything is deterministic given the inputs.

The bank itself, on disk and in memory: :mod:`vaesynth.model.texture_bank` (written at export by
:mod:`training.texture`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .texture_bank import BankError, TextureBank

ALIGNS = ("dtw", "linear")
FOLLOW_FULL, FOLLOW_NONE = 4.0, 12.0  # semitones between donor and played f0: fine part whole, and gone
ENV_BINS = 9  # width (bins) of the moving average that splits a residual into envelope and fine parts


@dataclass(frozen=True)
class TextureSettings:
    """How the stage renders (stored in the bundle's config ``texture`` entry, checked on load).

    ``k``: donors per digit; ``align``: ``"dtw"`` or ``"linear"``; ``pitch``: follow the played
    f0; ``gain``: scale of the residual; ``band``: DTW band (fraction of the longer length);
    ``typical``: a bank utterance whose posterior gives the latent a squared Mahalanobis distance
    below ``D + typical * sqrt(2 D)`` counts as the anchor and is never a donor.
    """

    k: int = 1
    align: str = "dtw"
    pitch: bool = True
    gain: float = 1.0
    band: float = 0.25
    typical: float = 200.0

    def to_dict(self) -> dict:
        return {"k": self.k, "align": self.align, "pitch": self.pitch, "gain": self.gain, "band": self.band,
                "typical": self.typical}  # fmt: skip

    @classmethod
    def from_dict(cls, d: object) -> TextureSettings:
        if not isinstance(d, dict) or not set(d) <= {"k", "align", "pitch", "gain", "band", "typical", "file"}:
            raise BankError("the texture settings must be a mapping of k, align, pitch, gain, band, typical")
        s = cls(**{k: v for k, v in d.items() if k != "file"})
        num = (int, float)
        ok = (
            isinstance(s.k, int) and not isinstance(s.k, bool) and 1 <= s.k <= 8
            and s.align in ALIGNS and isinstance(s.pitch, bool)
            and all(isinstance(v, num) and not isinstance(v, bool) for v in (s.gain, s.band, s.typical))
            and 0.0 <= s.gain <= 2.0 and 0.0 < s.band <= 1.0 and 0.0 <= s.typical <= 10000.0
        )  # fmt: skip
        if not ok:
            raise BankError("texture settings out of range (k 1-8, align dtw|linear, gain 0-2, band 0-1, typical)")
        return s


# --- alignment, pitch and blending (pure functions) ---------------------------------------------------


def linear_path(n_out: int, n_src: int) -> np.ndarray:
    """Source frame ``(n_out,)`` int for each output frame: a linear stretch."""
    if n_out <= 1 or n_src <= 1:
        return np.zeros(n_out, dtype=np.int64)
    return np.rint(np.arange(n_out) * (n_src - 1) / (n_out - 1)).astype(np.int64)


def align_path(out: np.ndarray, src: np.ndarray, band: float = 0.25) -> np.ndarray:
    """DTW of ``src (m, F)`` onto ``out (n, F)``: for each output frame the source frame ``(n,)`` int.

    Cost: Euclidean distance between frames; steps (1, 0), (0, 1), (1, 1); a Sakoe-Chiba band of
    ``band`` times the longer length around the diagonal of the two lengths. Where several source
    frames map to one output frame, the middle one is taken; the path starts and ends at both ends.
    """
    n, m = len(out), len(src)
    if n <= 1 or m <= 1:
        return linear_path(n, m)
    cost = np.sqrt(np.maximum((out**2).sum(1)[:, None] + (src**2).sum(1)[None, :] - 2.0 * out @ src.T, 0.0))
    w = max(2, int(math.ceil(band * max(n, m))))
    centre = np.arange(n) * (m - 1) / (n - 1)
    first = np.clip(np.floor(centre - w), 0, m - 1).astype(np.int64)
    last = np.clip(np.ceil(centre + w), 0, m - 1).astype(np.int64)
    acc = np.full((n, m), np.inf)
    a, b = first[0], last[0]
    acc[0, : b + 1] = np.cumsum(cost[0, : b + 1])
    for i in range(1, n):
        a, b = first[i], last[i]
        prev = acc[i - 1, a : b + 1]
        diag = acc[i - 1, a - 1 : b] if a > 0 else np.concatenate(([np.inf], acc[i - 1, a:b]))
        row = cost[i, a : b + 1]
        best = np.minimum(prev, diag) + row  # arriving from (i-1, j) or (i-1, j-1)
        c = np.cumsum(row)  # then any run of horizontal steps (i, j-1) -> (i, j) within the band
        acc[i, a : b + 1] = np.minimum.accumulate(best - c) + c
    a = acc.tolist()  # the walk back reads single cells: plain floats are far cheaper than numpy scalars
    i, j = n - 1, m - 1
    lo, hi = [0] * n, [0] * n
    lo[i] = hi[i] = j
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
            hi[i] = j
        else:
            d, up, left = a[i - 1][j - 1], a[i - 1][j], a[i][j - 1]
            if d <= up and d <= left:  # ties as np.argmin broke them: diagonal, then up, then left
                i, j = i - 1, j - 1
                hi[i] = j
            elif up <= left:
                i -= 1
                hi[i] = j
            else:
                j -= 1
        lo[i] = j
    return (np.asarray(lo, dtype=np.int64) + np.asarray(hi, dtype=np.int64)) // 2


def split_envelope(res: np.ndarray, width: int = ENV_BINS) -> tuple[np.ndarray, np.ndarray]:
    """``res (T, F)`` -> (envelope, fine): a moving average over ``width`` bins and the rest."""
    pad = width // 2
    x = np.pad(res, ((0, 0), (pad, pad)), mode="edge")
    c = np.cumsum(np.pad(x, ((0, 0), (1, 0))), axis=1)
    env = (c[:, width:] - c[:, :-width]) / width
    return env.astype(np.float32), (res - env).astype(np.float32)


def warp_bins(x: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Each row of ``x (T, F)`` stretched along frequency by ``ratio (T,)``: ``y[t, k] = x[t, k / ratio[t]]``
    (linear interpolation; bins beyond the source's top take its last bin)."""
    n_bins = x.shape[1]
    src = np.arange(n_bins)[None, :] / np.asarray(ratio, np.float64)[:, None]
    src = np.clip(src, 0.0, n_bins - 1.0)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_bins - 1)
    w = (src - i0).astype(np.float32)
    rows = np.arange(len(x))[:, None]
    return (x[rows, i0] * (1.0 - w) + x[rows, i1] * w).astype(np.float32)


def follow_pitch(res: np.ndarray, f0_src: np.ndarray, f0_out: np.ndarray) -> np.ndarray:
    """Move the residual's fine (harmonic) part from the donor's f0 ``f0_src (T,)`` to the played
    ``f0_out (T,)`` (Hz); its envelope part stays. Ratios are limited to one octave either way.

    When the two voices lie more than :data:`FOLLOW_FULL` semitones apart (the median over the
    utterance), the fine part fades, to nothing at :data:`FOLLOW_NONE`:
    squeezed or stretched that far, the donor's ripple no longer looks like any voice's (an octave
    down, its harmonics would fall under two bins apart and break the played comb's periodicity)."""
    ratio = np.clip(np.asarray(f0_out, np.float64) / np.maximum(f0_src, 1.0), 0.5, 2.0)
    apart = abs(12.0 * float(np.median(np.log2(ratio))))  # the utterance's shift, not a frame's
    keep = float(np.clip((FOLLOW_NONE - apart) / (FOLLOW_NONE - FOLLOW_FULL), 0.0, 1.0))
    env, fine = split_envelope(res)
    return env + warp_bins(fine, ratio) * np.float32(keep)


def blend(residuals: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """Variance-preserving mix of aligned residuals ``(T, F)``: ``sum w_i r_i / sqrt(sum w_i^2)``."""
    if len(residuals) == 1:
        return residuals[0]
    w = np.ones(len(residuals)) if weights is None else np.asarray(weights, np.float64)
    w = w / math.sqrt(float((w**2).sum()))
    return sum(float(wi) * r for wi, r in zip(w, residuals, strict=True)).astype(np.float32)


def textured(
    smooth: np.ndarray,
    f0_out: np.ndarray | None,
    donor_smooth: list[np.ndarray],
    donors: list[int],
    bank: TextureBank,
    digit: int,
    settings: TextureSettings,
) -> np.ndarray:
    """The smooth features ``(n, F)`` in [0, 1] with the donors' residuals added, aligned and
    pitch-followed: ``clip(smooth + gain * (mean[digit] + blend(residuals)), 0, 1)``.

    ``donor_smooth``: each donor's smooth features (the same decoder on its latent, trimmed to its
    residual's length), for the alignment. ``f0_out (n,)``: the f0 played (None: no pitch following).
    """
    n = len(smooth)
    parts = []
    for i, ds in zip(donors, donor_smooth, strict=True):
        res = bank.residual(i)
        path = align_path(smooth, ds, settings.band) if settings.align == "dtw" else linear_path(n, len(res))
        path = np.minimum(path, len(res) - 1)
        r = res[path]
        if settings.pitch and f0_out is not None:
            r = follow_pitch(r, bank.f0_track(i)[path], f0_out[:n])
        parts.append(r)
    add = bank.mean[int(digit)][None, :] + blend(parts)
    return np.clip(smooth + settings.gain * add, 0.0, 1.0).astype(np.float32)


DONOR_CACHE = 256  # donors whose smooth output a DonorCache keeps (about 30 KB each)


class DonorCache:
    """Each bank utterance's smooth output (``model`` on its latent, trimmed to its residual), for the
    alignment: decoded alone, so it is the same numbers whatever else is rendered, and kept (the
    :data:`DONOR_CACHE` most recently used), so that a held donor, a knob turning, costs no decode."""

    def __init__(self, model, bank: TextureBank) -> None:  # noqa: ANN001
        self.model, self.bank = model, bank
        self._kept: dict[int, np.ndarray] = {}

    def smooth(self, j: int) -> np.ndarray:
        """``(n_j, F)`` smooth features of bank utterance ``j``."""
        kept = self._kept.pop(j, None)
        if kept is None:
            import torch

            bank = self.bank
            with torch.inference_mode():
                zd, dd = torch.from_numpy(bank.latents[j : j + 1]), torch.from_numpy(bank.digits[j : j + 1])
                kept = self.model.decode(zd, dd, texture=False).features[0, : bank.length(j)].float().numpy()
            while len(self._kept) >= DONOR_CACHE:
                self._kept.pop(next(iter(self._kept)))
        self._kept[j] = kept  # most recently used last
        return kept


def choose(bank: TextureBank, settings: TextureSettings, digits, knobs, z, donors=None) -> list[list[int]]:  # noqa: ANN001
    """Each digit's donors: ``donors[i]`` (bank indices) where given, checked against the bank and
    the digit; else :meth:`TextureBank.select` for latent ``z[i]`` with knob coordinates ``knobs[i]``."""
    chosen = []
    for i, (dg, u) in enumerate(zip(digits, knobs, strict=True)):
        given = donors[i] if donors is not None and i < len(donors) else None
        if given:
            given = [int(j) for j in given]
            if not all(0 <= j < len(bank) and bank.digits[j] == dg for j in given):
                raise ValueError(f"the texture donors {given} do not fit this model's bank for digit {dg}")
        chosen.append(given or bank.select(dg, z[i], u, settings.k, settings.typical))
    return chosen


def apply(bank: TextureBank, settings: TextureSettings, digits, feats, f0, chosen, donor_smooth):  # noqa: ANN001
    """The stage on a batch, as :class:`vaesynth.engine.synth.Synth` runs it: ``feats`` the trimmed smooth
    features ``[(n_i, F)]``, ``f0 (B, T)`` Hz or None, ``chosen`` from :func:`choose`, ``donor_smooth``
    the decoder's smooth output ``[(n_j, F)]`` for the donors in that order (:class:`DonorCache`).
    Returns the textured features."""
    out, pos = [], 0
    for i, c in enumerate(chosen):
        smooth_d = [donor_smooth[pos + k][: bank.length(j)] for k, j in enumerate(c)]
        pos += len(c)
        out.append(textured(feats[i], None if f0 is None else f0[i], smooth_d, c, bank, digits[i], settings))
    return out
