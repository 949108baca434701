"""The app's one door to the knob space (:class:`vaesynth.voices.voice.KnobSpace`) and the voice map.

:class:`VoiceKnobs` is made by the engine when a model loads and handed to the window inside
:class:`~vaesynth.app.messages.ModelInfo`. It holds only numpy arrays that nobody writes to
after that, so both threads may call it: the engine for the knobs of a render, the window for
where a voice lies on the map, what knobs a map point or a morph-pad position means, and the
knobs of a clicked training utterance. No torch, no Qt.

Morph pad: four corner voices (:class:`CornerVoice`) are blended **bilinearly in latent space**
for the digit being said: ``z = sum_i w_i z_i`` with the bilinear weights of the puck
(:func:`bilinear_weights`, they sum to 1). For one digit the knob -> latent map is affine
(``z = mean[d] + chol[d] @ u``), so this is the same as blending the corner knobs with the same
weights; it is computed in latent space because a map corner *is* a latent.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaesynth.voices.voice import VoiceMap

from .messages import KnobMode, RenderRequest

Knobs = tuple[float, ...]


class CornerKind(enum.Enum):
    SPEAKER = "speaker"  # a training speaker's preset: that speaker's mean latent for each digit
    KNOBS = "knobs"  # knob values (a saved voice, or the knobs as they were): the same knobs for every digit
    LATENT = "latent"  # one latent (a point picked on the voice map)


@dataclass(frozen=True)
class CornerVoice:
    """One corner of the morph pad: ``label`` for people, and what the voice is."""

    kind: CornerKind
    label: str
    speaker: str | None = None
    values: Knobs | None = None  # knobs (KNOBS) or a latent (LATENT)

    def __post_init__(self) -> None:
        if self.kind is CornerKind.SPEAKER and not self.speaker:
            raise ValueError("a speaker corner needs the speaker")
        if self.kind is not CornerKind.SPEAKER and self.values is None:
            raise ValueError("a knobs or latent corner needs its values")
        if self.values is not None and not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(float(v) for v in self.values))


def bilinear_weights(x: float, y: float) -> tuple[float, float, float, float]:
    """Weights of the corners (top-left, top-right, bottom-left, bottom-right) at puck ``(x, y)``
    in ``[0, 1]^2`` (x to the right, y upwards); they are >= 0 and sum to 1."""
    x, y = min(1.0, max(0.0, float(x))), min(1.0, max(0.0, float(y)))
    return ((1 - x) * y, x * y, (1 - x) * (1 - y), x * (1 - y))


class VoiceKnobs:
    """Knob math for the app, all through the synth's :class:`~vaesynth.voices.voice.KnobSpace`.

    ``space``: the model's knob space; ``voice_map``: its :class:`~vaesynth.voices.voice.VoiceMap` (or
    ``None``); ``post_mu``: the training posteriors ``(N, D)`` in the map's point order.
    """

    def __init__(self, space: Any, voice_map: Any = None, post_mu: np.ndarray | None = None) -> None:
        self.space = space
        self.voice_map = voice_map
        self._post_mu = None if post_mu is None else np.array(post_mu, dtype=np.float64)
        if self._post_mu is not None:
            self._post_mu.flags.writeable = False

    @classmethod
    def from_synth(cls, synth: Any) -> VoiceKnobs:
        b = synth.bundle
        post = b.stats.post_mu
        return cls(synth.knobs, VoiceMap.from_bundle(b), None if post is None else post.double().numpy())

    @property
    def latent_dim(self) -> int:
        return self.space.latent_dim

    # --- what a render request means ----------------------------------------------------------

    def given(self, req: RenderRequest) -> np.ndarray:
        """The request's own knobs, checked (count, finite values): the app's one knob check."""
        return self.space.check(req.knobs).astype(np.float32)

    def for_digit(self, req: RenderRequest, digit: str) -> np.ndarray:
        """The knob vector ``(latent_dim,)`` (float32) to say ``digit`` with, in ``req``'s mode."""
        if req.knob_mode is KnobMode.PRESET:
            return self.space.preset(req.voice, digit)
        if req.knob_mode is KnobMode.GIVEN:
            return self.given(req)
        return self.space.fresh(digit, req.temperature)

    # --- the voice map -------------------------------------------------------------------------

    def latent(self, digit: str | int, knobs: Sequence[float]) -> np.ndarray:
        """The latent ``(D,)`` that ``knobs`` mean for ``digit``."""
        return self.space.to_latent(digit, knobs)

    def knobs_for_latent(self, digit: str | int, latent: Sequence[float]) -> Knobs:
        """The knobs that say ``digit`` from ``latent``: ``KnobSpace.to_knobs([digit], [latent])``."""
        u = self.space.to_knobs([int(digit)], np.asarray(latent, dtype=np.float64)[None])[0]
        return tuple(float(v) for v in u)

    def map_position(self, digit: str | int, knobs: Sequence[float]) -> tuple[float, float] | None:
        """Where the voice ``knobs`` (for ``digit``) lies on the map; ``None`` without a map."""
        if self.voice_map is None or len(knobs) != self.latent_dim:
            return None
        x, y = self.voice_map.to_map(self.latent(digit, knobs))
        return float(x), float(y)

    def knobs_at(self, xy: Sequence[float], digit: str | int) -> Knobs:
        """The knobs for ``digit`` at map point ``xy`` (anywhere, between dots too)."""
        if self.voice_map is None:
            raise ValueError("this model has no voice map")
        return self.knobs_for_latent(digit, self.voice_map.to_latent(xy))

    def utterance_latent(self, index: int) -> np.ndarray:
        """The posterior mean ``(D,)`` of training utterance ``index`` (a map dot)."""
        if self._post_mu is None or not 0 <= index < len(self._post_mu):
            raise ValueError(f"no training utterance {index}")
        return self._post_mu[index].copy()

    # --- the morph pad -------------------------------------------------------------------------

    def corner_latent(self, corner: CornerVoice, digit: str | int) -> np.ndarray:
        """The latent ``(D,)`` of a morph-pad corner when saying ``digit``."""
        if corner.kind is CornerKind.SPEAKER:
            return self.latent(digit, self.space.preset(corner.speaker, digit))
        values = np.asarray(corner.values, dtype=np.float64)
        if values.shape != (self.latent_dim,):
            raise ValueError(f"{corner.label} belongs to a model with {values.size} latent dimensions")
        return self.latent(digit, values) if corner.kind is CornerKind.KNOBS else values

    def blend(self, corners: Sequence[CornerVoice], xy: Sequence[float], digit: str | int) -> Knobs:
        """The knobs for ``digit`` at puck ``xy``: the corners (top-left, top-right, bottom-left,
        bottom-right) blended bilinearly in latent space (see the module doc)."""
        if len(corners) != 4:
            raise ValueError("the morph pad needs four corners")
        w = bilinear_weights(*xy)
        z = sum(wi * self.corner_latent(c, digit).astype(np.float64) for wi, c in zip(w, corners, strict=True))
        return self.knobs_for_latent(digit, z)
