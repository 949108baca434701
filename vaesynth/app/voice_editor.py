"""The voice controls as one unit: the knob panel (knobs, preset, temperature, Randomize, Reset),
Hold voice and Auto-play knobs. :class:`VoiceEditor` keeps them consistent with each other and
turns each edit into a :class:`~vaesynth.app.voice_mode.VoiceControls` for the window to render.

Hold voice means "keep this voice": a turned knob, Reset, Randomize and choosing a preset tick it;
unticking it while a preset is chosen returns the preset list to Custom (fresh voices again).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QAbstractButton

from .knobs import KnobPanel
from .messages import LIVE_ORIGINS, Origin
from .voice_mode import VoiceControls


class VoiceEditor(QObject):
    """Emits :attr:`edited` (the voice to render the current digit with, the origin of the edit,
    whether to play it) after a knob turn, Reset, Randomize or a preset choice."""

    edited = Signal(object, object, bool)  # VoiceControls, Origin, play

    def __init__(
        self, panel: KnobPanel, hold: QAbstractButton, auto_play: QAbstractButton, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel, self.hold, self.auto_play = panel, hold, auto_play
        panel.knobs_changed.connect(self._on_knobs)
        panel.randomize_requested.connect(self.randomize)
        panel.voice_chosen.connect(self._on_preset)
        hold.toggled.connect(self._on_hold)

    def controls(self) -> VoiceControls:
        """The voice controls as they are now (preset, Hold voice, knobs, temperature)."""
        p = self.panel
        return VoiceControls(p.current_voice(), self.hold.isChecked(), p.values(), p.temperature.value())

    def randomize(self) -> None:
        """A new random voice at the current temperature, held for the next presses."""
        self.hold.setChecked(True)
        self.panel.set_voice(None)
        self._emit(VoiceControls(None, False, (), self.panel.temperature.value()), Origin.RANDOMIZE)

    def apply(self, knobs: Sequence[float], origin: Origin, temperature: float | None = None) -> None:
        """Set the knobs (and the temperature) from elsewhere - the voice map, the morph pad, a
        saved voice - as a held, custom voice, and ask for it to be rendered (played with Auto-play)."""
        self.panel.set_values(knobs, soon=origin in LIVE_ORIGINS)
        self.panel.set_voice(None)
        if temperature is not None:
            self.panel.temperature.setValue(temperature)
        self.hold.setChecked(True)
        self._emit(VoiceControls(None, True, list(knobs), self.panel.temperature.value()), origin)

    def _on_knobs(self, values: list[float]) -> None:
        self.hold.setChecked(True)  # an edited voice is meant to be kept
        self._emit(VoiceControls(None, True, values, 1.0), Origin.KNOB)

    def _on_preset(self, speaker: str | None) -> None:
        if speaker is not None:
            self.hold.setChecked(True)  # a preset is a held voice: that speaker, press after press
            self._emit(VoiceControls(speaker, True, (), 1.0), Origin.PRESET)

    def _on_hold(self, on: bool) -> None:
        if not on:
            self.panel.set_voice(None)  # letting go of the voice lets go of the preset too

    def _emit(self, controls: VoiceControls, origin: Origin) -> None:
        self.edited.emit(controls, origin, self.auto_play.isChecked())
