"""The voice controls as one unit: the knob panel (knobs, preset, temperature, Randomize, Reset),
Hold voice, Auto-play knobs and the performance row (pitch, speed, sing). :class:`VoiceEditor` keeps
them consistent with each other and turns each edit into a
:class:`~vaesynth.app.voice_mode.VoiceControls` for the window to render.

Hold voice means "keep this voice": a turned knob, Reset, Randomize and choosing a preset tick it;
unticking it while a preset is chosen returns the preset list to Custom (fresh voices again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QAbstractButton

from vaesynth.engine.performance import Performance

from .knobs import KnobPanel
from .messages import LIVE_ORIGINS, Origin
from .performance_panel import PerformancePanel
from .voice_mode import VoiceControls


class VoiceEditor(QObject):
    """Emits :attr:`edited` (the voice to render the current digit with, the origin of the edit,
    whether to play it) after a knob turn, Reset, Randomize, a preset choice or a performance change
    (which re-renders the voice on the knobs, or the preset, without ticking Hold voice)."""

    edited = Signal(object, object, bool)  # VoiceControls, Origin, play

    def __init__(
        self,
        panel: KnobPanel,
        hold: QAbstractButton,
        auto_play: QAbstractButton,
        performance: PerformancePanel,
        parent: QObject | None = None,
        texture: QAbstractButton | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.hold, self.auto_play, self.performance = panel, hold, auto_play, performance
        self.texture = texture  # "Real texture": on, renders take texture from the model's bank
        performance.changed.connect(self._on_performance)
        if texture is not None:
            texture.toggled.connect(lambda _on: self._on_performance(None))
        panel.knobs_changed.connect(self._on_knobs)
        panel.randomize_requested.connect(self.randomize)
        panel.voice_chosen.connect(self._on_preset)
        hold.toggled.connect(self._on_hold)

    def controls(self, note_hz: float | None = None) -> VoiceControls:
        """The voice controls as they are now (preset, Hold voice, knobs, temperature, performance);
        ``note_hz``: sing on this note instead (a MIDI key's pitch), with the panel's contour."""
        p, perf = self.panel, self.performance.performance()
        if note_hz is not None:
            perf = dataclasses.replace(perf, note_hz=note_hz, contour=self.performance.contour.value())
        return VoiceControls(
            p.current_voice(), self.hold.isChecked(), p.values(), p.temperature.value(), perf, self._texture_on()
        )

    def _texture_on(self) -> bool:
        return self.texture is None or self.texture.isChecked()

    def randomize(self) -> None:
        """A new random voice at the current temperature, held for the next presses."""
        self.hold.setChecked(True)
        self.panel.set_voice(None)
        self._emit(VoiceControls(None, False, (), self.panel.temperature.value()), Origin.RANDOMIZE)

    def apply(
        self,
        knobs: Sequence[float],
        origin: Origin,
        temperature: float | None = None,
        performance: Performance | None = None,
        play: bool | None = None,
    ) -> None:
        """Set the knobs (and the temperature, the performance) from elsewhere - the voice map, the
        morph pad, a saved voice, a take - as a held, custom voice, and ask for it to be rendered
        (played with Auto-play, or as ``play`` says)."""
        self.panel.set_values(knobs, soon=origin in LIVE_ORIGINS)
        self.panel.set_voice(None)
        if temperature is not None:
            self.panel.temperature.setValue(temperature)
        if performance is not None:
            self.performance.set_performance(performance)
        self.hold.setChecked(True)
        self._emit(VoiceControls(None, True, list(knobs), self.panel.temperature.value()), origin, play)

    def turn_knob(self, index: int, value: float) -> None:
        """Set knob ``index`` to ``value`` as a dial turn would (a MIDI controller's knob); others ignored."""
        values = self.panel.values()
        if 0 <= index < len(values):
            values[index] = float(value)
            self.panel.set_values(values, soon=True)
            self.panel.set_voice(None)
            self._on_knobs(values)

    def _on_knobs(self, values: list[float]) -> None:
        self.hold.setChecked(True)  # an edited voice is meant to be kept
        self._emit(VoiceControls(None, True, values, 1.0), Origin.KNOB)

    def _on_preset(self, speaker: str | None) -> None:
        if speaker is not None:
            self.hold.setChecked(True)  # a preset is a held voice: that speaker, press after press
            self._emit(VoiceControls(speaker, True, (), 1.0), Origin.PRESET)

    def _on_performance(self, _performance: Performance | None) -> None:
        p = self.panel  # the voice heard last, in the new performance (the knobs show it exactly)
        self._emit(VoiceControls(p.current_voice(), True, p.values(), p.temperature.value()), Origin.PERFORMANCE)

    def _on_hold(self, on: bool) -> None:
        if not on:
            self.panel.set_voice(None)  # letting go of the voice lets go of the preset too

    def _emit(self, controls: VoiceControls, origin: Origin, play: bool | None = None) -> None:
        controls = dataclasses.replace(controls, performance=self.performance.performance(), texture=self._texture_on())
        self.edited.emit(controls, origin, self.auto_play.isChecked() if play is None else play)
