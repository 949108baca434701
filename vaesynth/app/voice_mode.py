"""Which voice a key press speaks with: a widget-free decision from the window's voice controls.

Three modes, decided by two controls (the preset list and the Hold voice box):

- a preset is chosen: :attr:`KnobMode.PRESET`, that speaker for every digit (choosing a preset
  ticks Hold voice, and unticking Hold voice returns the preset list to "Custom");
- Hold voice is on: :attr:`KnobMode.GIVEN`, the knobs exactly as they are;
- otherwise: :attr:`KnobMode.FRESH`, a fresh natural variation at the temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vaesynth.engine.performance import NATURAL, Performance

from .messages import KnobMode, Origin, RenderRequest


@dataclass(frozen=True)
class VoiceControls:
    """A snapshot of the voice controls: ``preset`` (speaker or ``None`` for Custom), ``hold``,
    the ``knobs`` shown, the ``temperature``, the ``performance`` (pitch, speed, sing), and whether the
    sound takes real ``texture`` from the model's bank."""

    preset: str | None
    hold: bool
    knobs: Sequence[float]
    temperature: float
    performance: Performance = NATURAL
    texture: bool = True

    @property
    def mode(self) -> KnobMode:
        if self.preset:
            return KnobMode.PRESET
        return KnobMode.GIVEN if self.hold else KnobMode.FRESH

    def request(
        self,
        *,
        digit: str | None = None,
        text: str | None = None,
        origin: Origin = Origin.KEY,
        play: bool = True,
    ) -> RenderRequest:
        """A request to say ``digit`` or ``text`` in this voice mode."""
        mode = self.mode
        return RenderRequest(
            digit=digit,
            text=text,
            knob_mode=mode,
            knobs=tuple(float(v) for v in self.knobs) if mode is KnobMode.GIVEN else None,
            voice=self.preset if mode is KnobMode.PRESET else None,
            temperature=float(self.temperature),
            play=play,
            origin=origin,
            performance=self.performance,
            texture=self.texture,
        )
