"""The knob space: the one home of knob math.

A model's latent ``z`` (``latent_dim`` values) is reached through *knobs* ``u``, a vector of the
same length in standard units (about -3..3). For digit ``d``::

    z = digit_mean[d] + digit_chol[d] @ u

i.e. ``u`` is a whitened coordinate in the digit's aggregate posterior: the Gaussian
moment-matched to the encoder posteriors ``N(mu_i, var_i)`` of that digit's training utterances
(mean of ``mu_i``; covariance ``cov(mu_i) + mean(var_i)``, see :func:`fit_latent_stats`).
``u = 0`` is the digit's typical voice. The unconditional baselines answer a digit request this
way too, and it keeps the conditional model on the part of latent space it was trained on.

A *fresh voice* (what a keypad press plays) is a draw from the digit's **exact** aggregate
posterior, the mixture of the stored training posteriors: pick one training utterance of the
digit, sample around its posterior, express it in knobs. A *preset* is a training speaker's mean
latent for the digit. Everything here is numpy; the statistics come from a bundle
(:class:`vaesynth.model.bundle.LatentStats`) and are fitted by :func:`fit_latent_stats` when a bundle
is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..digits import N_DIGITS, as_digit
from ..model.annotations import MapPlane

if TYPE_CHECKING:  # torch-free at import time
    from ..model.bundle import Bundle, LatentStats


MAX_TEMPERATURE = 3.0  # the knobs span +-3 standard units; hotter draws leave all the decoder was trained on


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is), a seed >= 0, or ``None`` (fresh entropy).

    Raises :class:`ValueError` (one readable sentence) for a negative or non-integer seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0):
        raise ValueError(f"seed must be a whole number >= 0, not {rng!r}")
    return np.random.default_rng(rng)


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float; :class:`ValueError` unless a finite number in 0..:data:`MAX_TEMPERATURE`."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number, not {temperature!r}") from None
    if not np.isfinite(t) or not 0 <= t <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE:g}, not {temperature}")
    return t




class KnobSpace:
    """Knob <-> latent for one model, fresh voices and named voices (presets).

    ``digit_mean`` ``(10, D)``, ``digit_chol`` ``(10, D, D)`` (lower-triangular),
    ``speaker_digit_mean`` ``(S, 10, D)``; ``speakers``: S names. Optional training posteriors
    ``post_mu``, ``post_var`` ``(N, D)`` and ``post_digit`` ``(N,)`` make fresh voices exact
    draws from the aggregate posterior; without them a fresh voice is ``u ~ N(0, T^2 I)``.
    """

    def __init__(
        self,
        digit_mean: np.ndarray,
        digit_chol: np.ndarray,
        speaker_digit_mean: np.ndarray,
        speakers: Sequence[str],
        post_mu: np.ndarray | None = None,
        post_var: np.ndarray | None = None,
        post_digit: np.ndarray | None = None,
    ) -> None:
        self._mean = np.asarray(digit_mean, dtype=np.float64)
        self._chol = np.asarray(digit_chol, dtype=np.float64)
        self._speaker_mean = np.asarray(speaker_digit_mean, dtype=np.float64)
        self._speakers = [str(s) for s in speakers]
        d = self._mean.shape[-1]
        if self._mean.shape != (N_DIGITS, d) or self._chol.shape != (N_DIGITS, d, d):
            raise ValueError("digit statistics have the wrong shape")
        if self._speaker_mean.shape != (len(self._speakers), N_DIGITS, d):
            raise ValueError("speaker statistics do not match the speaker list")
        self._post_mu = self._post_sd = None
        self._post_rows: list[np.ndarray] = []
        if post_mu is not None and post_var is not None and post_digit is not None:
            self._post_mu = np.asarray(post_mu, dtype=np.float64)
            self._post_sd = np.sqrt(np.asarray(post_var, dtype=np.float64))
            digits = np.asarray(post_digit)
            self._post_rows = [np.flatnonzero(digits == k) for k in range(N_DIGITS)]

    @classmethod
    def from_stats(cls, stats: LatentStats, speakers: Sequence[str]) -> KnobSpace:
        """From a bundle's (already validated) :class:`~vaesynth.model.bundle.LatentStats`."""
        n = lambda t: None if t is None else t.double().numpy()  # noqa: E731
        return cls(
            n(stats.digit_mean),
            n(stats.digit_chol),
            n(stats.speaker_digit_mean),
            speakers,
            n(stats.post_mu),
            n(stats.post_var),
            None if stats.post_digit is None else stats.post_digit.numpy(),
        )

    # --- what the space is ----------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return int(self._mean.shape[1])

    @property
    def speakers(self) -> list[str]:
        """Names of the presets (the training speakers)."""
        return list(self._speakers)

    @property
    def has_posteriors(self) -> bool:
        """Whether fresh voices are exact aggregate-posterior draws (else ``N(0, T^2 I)``)."""
        return self._post_mu is not None

    def check(self, knobs: object) -> np.ndarray:
        """Knobs as float64 ``(latent_dim,)``; :class:`ValueError` on a wrong count or non-finite values."""
        try:
            u = np.asarray(knobs, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError("knob values must be numbers") from None
        if u.shape != (self.latent_dim,):
            raise ValueError(f"{u.size} knob values given, the model has {self.latent_dim} latent dimensions")
        if not np.isfinite(u).all():
            raise ValueError("knob values must be finite numbers")
        return u

    # --- knob <-> latent ------------------------------------------------------------------------

    def to_latent(self, digit: int | str, knobs: object) -> np.ndarray:
        """``z = digit_mean[d] + digit_chol[d] @ u``, float32 ``(latent_dim,)``."""
        d = as_digit(digit)
        return (self._mean[d] + self._chol[d] @ self.check(knobs)).astype(np.float32)

    def to_latents(self, digits: Sequence[int] | np.ndarray, knobs: np.ndarray) -> np.ndarray:
        """Batch form of :meth:`to_latent`: ``digits (N,)``, ``knobs (N, D)`` -> float32 ``(N, D)``."""
        return np.stack([self.to_latent(d, u) for d, u in zip(digits, knobs, strict=True)]).reshape(
            len(digits), self.latent_dim
        )

    def to_knobs(self, digits: Sequence[int] | np.ndarray, latents: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_latents`: solve ``digit_chol[d] u = z - digit_mean[d]``; float64 ``(N, D)``."""
        d = np.asarray([as_digit(int(k)) for k in digits], dtype=np.int64)
        z = np.asarray(latents, dtype=np.float64).reshape(len(d), self.latent_dim)
        return np.linalg.solve(self._chol[d], (z - self._mean[d])[..., None])[..., 0]

    # --- voices -----------------------------------------------------------------------------------

    def fresh(
        self, digit: int | str | None = None, temperature: float = 1.0, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """A fresh voice as knobs, float32 ``(latent_dim,)``.

        With ``digit`` and stored posteriors: a draw from that digit's exact aggregate posterior
        (one training utterance of the digit picked at random, ``z ~ N(mu_i, var_i)``), scaled by
        ``temperature`` about the digit mean, in knob coordinates. This lands on voices the decoder
        has really seen, not in the gaps between speakers that a single Gaussian also covers.
        Otherwise ``u ~ N(0, temperature^2 I)``, the moment-matched per-digit Gaussian.
        """
        t = check_temperature(temperature)
        gen = make_rng(rng)
        if digit is None or self._post_mu is None:
            return (gen.standard_normal(self.latent_dim) * t).astype(np.float32)
        d = as_digit(digit)
        rows = self._post_rows[d]
        if rows.size == 0:
            return (gen.standard_normal(self.latent_dim) * t).astype(np.float32)
        i = rows[gen.integers(rows.size)]
        z = self._post_mu[i] + self._post_sd[i] * gen.standard_normal(self.latent_dim)
        return (self.to_knobs([d], z[None])[0] * t).astype(np.float32)

    def speaker_index(self, speaker: str | int) -> int:
        """Index of a preset given by name, index, or index as text; :class:`ValueError` if unknown."""
        names = self._speakers
        if isinstance(speaker, str):
            if speaker in names:
                return names.index(speaker)
            if speaker.isdigit() and int(speaker) < len(names):
                return int(speaker)
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ValueError(f"unknown voice {speaker!r} (voices: {shown or 'none'})")
        if isinstance(speaker, int | np.integer) and not isinstance(speaker, bool) and 0 <= int(speaker) < len(names):
            return int(speaker)
        raise ValueError(f"voice index {speaker!r} out of range (0..{len(names) - 1})")

    def preset(self, speaker: str | int, digit: int | str) -> np.ndarray:
        """Knobs (float32 ``(latent_dim,)``) of a speaker's mean latent for ``digit``."""
        s, d = self.speaker_index(speaker), as_digit(digit)
        return self.to_knobs([d], self._speaker_mean[s, d][None])[0].astype(np.float32)


def fit_latent_stats(
    mu: np.ndarray,
    digits: np.ndarray,
    speakers: np.ndarray,
    n_speakers: int,
    var: np.ndarray | None = None,
    keep_posteriors: bool = True,
) -> LatentStats:
    """Aggregate-posterior statistics from the encoder's posteriors (done when a bundle is made).

    ``mu``: ``(N, D)`` posterior means of the training utterances; ``var``: ``(N, D)`` their
    posterior variances (optional); ``digits``, ``speakers``: ``(N,)`` integer labels. Each digit
    gets the moment-matched Gaussian of its aggregate posterior (the mixture of the utterances'
    posteriors): mean of ``mu``, covariance ``cov(mu) + mean(diag(var))``, lightly shrunk towards
    the diagonal so that it stays well conditioned, stored as a Cholesky factor. With
    ``keep_posteriors`` the posteriors themselves are kept too: their mixture is the exact
    aggregate posterior that :meth:`KnobSpace.fresh` samples from.
    """
    import torch

    from ..model.bundle import LatentStats

    mu = np.asarray(mu, dtype=np.float64)
    var = np.zeros_like(mu) if var is None else np.asarray(var, dtype=np.float64)
    digits, speakers = np.asarray(digits), np.asarray(speakers)
    d = mu.shape[1]
    digit_mean = np.zeros((N_DIGITS, d))
    digit_chol = np.zeros((N_DIGITS, d, d))
    for k in range(N_DIGITS):
        m = mu[digits == k]
        if len(m) < 2:
            digit_mean[k] = m.mean(0) if len(m) else 0.0
            digit_chol[k] = np.eye(d)
            continue
        digit_mean[k] = m.mean(0)
        cov = np.cov(m, rowvar=False) + np.diag(var[digits == k].mean(0))
        cov = 0.9 * cov + 0.1 * np.diag(np.diag(cov)) + 1e-4 * np.eye(d)
        digit_chol[k] = np.linalg.cholesky(cov)
    speaker_mean = np.zeros((n_speakers, d))
    speaker_digit_mean = np.zeros((n_speakers, N_DIGITS, d))
    for s in range(n_speakers):
        sel = speakers == s
        speaker_mean[s] = mu[sel].mean(0) if sel.any() else mu.mean(0)
        for k in range(N_DIGITS):
            both = sel & (digits == k)
            speaker_digit_mean[s, k] = mu[both].mean(0) if both.any() else digit_mean[k]
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    stats = LatentStats(t(digit_mean), t(digit_chol), t(speaker_mean), t(speaker_digit_mean))
    if keep_posteriors:
        stats.post_mu, stats.post_var = t(mu), t(np.maximum(var, 1e-8))
        stats.post_digit = torch.tensor(digits, dtype=torch.int64)
    return stats


class VoiceMap:
    """A 2-D map of the voice space: a PCA plane through the mean of the training latents.

    ``origin`` ``(D,)`` is the mean of the training utterances' posterior means; ``axes``
    ``(2, D)`` are orthonormal, the two principal directions of those means (the plane that shows
    the most of how voices differ). A point ``xy`` on the map is the latent ``origin + xy @ axes``,
    so dragging anywhere on the map - between dots too - names a latent, which is then turned
    into the current digit's knobs (:meth:`KnobSpace.to_knobs`). A latent is shown at its
    orthogonal projection. ``points`` ``(N, 2)``: the training utterances, with ``digits``,
    ``speakers`` (indices) and ``files`` (names) for colouring and hover text.
    The plane is computed when the bundle is made (``training/annotate.py``) and stored in its
    ``config.json`` as ``voice_map`` (:class:`vaesynth.model.annotations.MapPlane`); the points are the
    stored posteriors projected onto it.
    """

    def __init__(
        self,
        origin: np.ndarray,
        axes: np.ndarray,
        points: np.ndarray,
        digits: np.ndarray,
        speakers: np.ndarray,
        files: Sequence[str],
        explained: Sequence[float] = (),
    ) -> None:
        self.origin = np.asarray(origin, dtype=np.float64)
        self.axes = np.asarray(axes, dtype=np.float64)
        self.points = np.asarray(points, dtype=np.float64)
        self.digits = np.asarray(digits, dtype=np.int64)
        self.speakers = np.asarray(speakers, dtype=np.int64)
        self.files = list(files)
        self.explained = [float(x) for x in explained]

    @classmethod
    def from_plane(cls, plane: MapPlane, post_mu: np.ndarray, post_digit: np.ndarray) -> VoiceMap:
        """The map of a bundle's stored plane, with its stored posteriors ``(N, D)`` (and digits) as the points."""
        points = (np.asarray(post_mu, dtype=np.float64) - plane.origin) @ plane.axes.T
        digits = np.asarray(post_digit)
        return cls(plane.origin, plane.axes, points, digits, plane.speakers, plane.files, plane.explained)

    @classmethod
    def from_config(cls, entry: object, post_mu: np.ndarray | None, post_digit: np.ndarray | None) -> VoiceMap:
        """Parse a bundle's ``voice_map`` entry (untrusted, :meth:`MapPlane.from_config`) against its stored posteriors.

        Raises :class:`ValueError` with one readable sentence when the entry is malformed or the
        bundle has no stored posteriors to place on the map.
        """
        if post_mu is None or post_digit is None:
            raise ValueError("the bundle stores no training posteriors to place on a map")
        n, d = np.asarray(post_mu).shape
        return cls.from_plane(MapPlane.from_config(entry, n, d), post_mu, post_digit)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> VoiceMap | None:
        """The map of a loaded bundle (``None`` when it has none: ``bundle.voice_map_missing`` says why)."""
        stats = bundle.stats
        if bundle.voice_map is None or not stats.has_posteriors:
            return None
        return cls.from_plane(bundle.voice_map, stats.post_mu.double().numpy(), stats.post_digit.numpy())

    @property
    def plane(self) -> MapPlane:
        """What a bundle stores of this map (``Bundle.voice_map``)."""
        return MapPlane(self.origin, self.axes, self.speakers, self.files, self.explained)

    def to_map(self, latent: np.ndarray) -> np.ndarray:
        """The map position ``(2,)`` of a latent ``(D,)`` (orthogonal projection onto the plane)."""
        return (np.asarray(latent, dtype=np.float64) - self.origin) @ self.axes.T

    def to_latent(self, xy: Sequence[float]) -> np.ndarray:
        """The latent ``(D,)`` (float32) at map position ``xy``."""
        return (self.origin + np.asarray(xy, dtype=np.float64) @ self.axes).astype(np.float32)

    def nearest(self, xy: Sequence[float]) -> int:
        """Index of the training utterance whose dot is nearest to ``xy``."""
        return int(np.argmin(((self.points - np.asarray(xy, dtype=np.float64)) ** 2).sum(1)))

