"""How the voice performs: pitch (semitones), formants (vocal-tract size), speed, and "sing" (a held
note with a contour amount).

:class:`PerformancePanel` is a small box of controls (under the keypad, beside the knobs); it holds a
:class:`vaesynth.engine.performance.Performance` and emits :attr:`PerformancePanel.changed` when the user
changes it. Pitch, formants and sing need a decoder with an f0 head (the default model): for a model
without one they are disabled (with a tooltip that says why) and :meth:`PerformancePanel.performance`
leaves them out, so speed still works everywhere.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QGridLayout, QLabel, QLineEdit, QWidget

from vaesynth.engine.performance import (
    FORMANT_RANGE,
    NATURAL,
    PITCH_RANGE,
    SPEED_RANGE,
    Performance,
    midi_to_hz,
    parse_note,
)

NEEDS_F0 = "Pitch, formants and sing need the default model (a decoder with an f0 head); this model has none."
FORMANT_TIP = (
    "Formants (0.5..2×): the vocal tract's size. Above 1 a shorter tract (a woman's about 1.15-1.2×, a child's "
    "1.3-1.5×), below 1 a longer one; the pitch stays"
)
DEFAULT_NOTE = "A3"
DEFAULT_CONTOUR = 0.3


def note_name(hz: float) -> str:
    """The nearest equal-tempered note name of ``hz`` (``220.0`` -> ``"A3"``)."""
    midi = round(69 + 12 * math.log2(hz / 440.0))
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    return f"{names[midi % 12]}{midi // 12 - 1}"


class PerformancePanel(QWidget):
    """Pitch, formants, speed and sing. Signal :attr:`changed` (the new :class:`Performance`) after a user edit."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._has_f0 = True
        self._tips: dict[QWidget, str] = {}
        self.pitch = self._spin(
            PITCH_RANGE, 1.0, 1, " st", "Pitch shift in semitones (-12..+12): the voice moves, formants stay"
        )
        self.formant = self._spin(FORMANT_RANGE, 0.05, 2, "×", FORMANT_TIP)
        self.formant.setValue(1.0)
        self.speed = self._spin(SPEED_RANGE, 0.05, 2, "×", "Speed (0.5..2): how fast the digit is said; pitch stays")
        self.speed.setValue(1.0)
        self.sing = QCheckBox("Sin&g")
        self.sing.setToolTip("Hold the voice on a note (a name like A3 or C#4, a MIDI number like 57, or 220hz)")
        self.note = QLineEdit(DEFAULT_NOTE)
        self.note.setToolTip("The note to sing: A3, C#4, Eb2, a MIDI number (57) or Hz (220hz)")
        self.contour = self._spin(
            (0.0, 1.0), 0.1, 2, "", "Contour: how much of the natural intonation is kept around the note (0 = flat)"
        )
        self.contour.setValue(DEFAULT_CONTOUR)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.pitch_label, self.contour_label = QLabel("Pitch"), QLabel("Contour")  # (the contour's: not shown)
        self.formant_label = QLabel("Formants")
        self.formant_label.setToolTip(FORMANT_TIP)
        # two rows, so the box keeps its height at 1024x640: Pitch and Formants side by side; Speed, then
        # Sing with its note and contour amount (the contour's label is its tooltip: the row has no room)
        lay.addWidget(self.pitch_label, 0, 0)
        lay.addWidget(self.pitch, 0, 1)
        lay.addWidget(self.formant_label, 0, 2)
        lay.addWidget(self.formant, 0, 3, 1, 2)
        lay.addWidget(QLabel("Speed"), 1, 0)
        lay.addWidget(self.speed, 1, 1)
        lay.addWidget(self.sing, 1, 2)
        lay.addWidget(self.note, 1, 3)
        lay.addWidget(self.contour, 1, 4)
        lay.addWidget(self.error, 2, 0, 1, 5)
        lay.setColumnStretch(1, 2)
        lay.setColumnStretch(3, 1)
        lay.setColumnStretch(4, 1)
        self.pitch.valueChanged.connect(self._emit)
        self.formant.valueChanged.connect(self._emit)
        self.speed.valueChanged.connect(self._emit)
        self.contour.valueChanged.connect(self._emit)
        self.sing.toggled.connect(self._on_sing)
        self.note.editingFinished.connect(self._emit)
        self._on_sing(False, emit=False)

    def _spin(self, rng: tuple[float, float], step: float, decimals: int, suffix: str, tip: str) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(*rng)
        s.setSingleStep(step)
        s.setDecimals(decimals)
        s.setSuffix(suffix)
        s.setToolTip(tip)
        s.setKeyboardTracking(False)  # typing "1.5" is one change, not three
        return s

    def spins(self) -> tuple[QDoubleSpinBox, ...]:
        """The number boxes (digit keys pass through them to the keypad, as from Temperature)."""
        return (self.pitch, self.formant, self.speed, self.contour)

    # --- state -----------------------------------------------------------------------------

    @property
    def has_f0(self) -> bool:
        return self._has_f0

    def note_hz(self) -> float | None:
        """The sing note in Hz (``None`` when Sing is off, unavailable or the note does not read)."""
        if not (self._has_f0 and self.sing.isChecked()):
            return None
        try:
            hz = parse_note(self.note.text())
        except ValueError as e:
            self.error.setText(str(e))
            self.error.setVisible(True)
            return None
        self.error.setText("")
        self.error.setVisible(False)
        return hz

    def performance(self) -> Performance:
        """The performance every render uses now (pitch, formants and note only where the model has an f0 head)."""
        pitch = float(self.pitch.value()) if self._has_f0 else 0.0
        formant = float(self.formant.value()) if self._has_f0 else 1.0
        return Performance(pitch=pitch, speed=float(self.speed.value()), note_hz=self.note_hz(),
                           contour=float(self.contour.value()), formant=formant)  # fmt: skip

    def set_performance(self, p: Performance) -> None:
        """Show ``p`` (no signal): a saved voice or the settings."""
        for w in (self.pitch, self.formant, self.speed, self.contour, self.sing):
            w.blockSignals(True)
        self.pitch.setValue(p.pitch)
        self.formant.setValue(p.formant)
        self.speed.setValue(p.speed)
        self.contour.setValue(p.contour if p.note_hz is not None else self.contour.value())
        self.sing.setChecked(p.note_hz is not None)
        if p.note_hz is not None:
            exact = abs(midi_to_hz_of(p.note_hz) - p.note_hz) < 1e-6 * p.note_hz
            self.note.setText(note_name(p.note_hz) if exact else f"{p.note_hz:.6g}hz")
        for w in (self.pitch, self.formant, self.speed, self.contour, self.sing):
            w.blockSignals(False)
        self._on_sing(self.sing.isChecked(), emit=False)

    def set_has_f0(self, has_f0: bool) -> None:
        """Enable pitch, formants and sing for a model with an f0 head; disable them, saying why, otherwise."""
        self._has_f0 = has_f0
        tipped = (self.pitch_label, self.pitch, self.formant_label, self.formant, self.sing, self.note,
                  self.contour_label, self.contour)  # fmt: skip
        for w in tipped:
            if w not in self._tips:
                self._tips[w] = w.toolTip()
            w.setToolTip(self._tips[w] if has_f0 else NEEDS_F0)
        self.pitch_label.setEnabled(has_f0)
        self.pitch.setEnabled(has_f0)
        self.formant_label.setEnabled(has_f0)
        self.formant.setEnabled(has_f0)
        self.sing.setEnabled(has_f0)
        self._on_sing(self.sing.isChecked(), emit=False)

    def reset(self) -> None:
        self.set_performance(NATURAL)

    def state(self) -> dict:
        """The controls as plain values for the settings (the note as typed, even when Sing is off)."""
        return {"pitch": self.pitch.value(), "formant": self.formant.value(), "speed": self.speed.value(),
                "sing": self.sing.isChecked(),
                "note": self.note.text(), "contour": self.contour.value()}  # fmt: skip

    def restore(self, state: dict) -> None:
        """Show a :meth:`state` read back from the settings (no signal; bad values are skipped)."""
        spins = (("pitch", self.pitch), ("formant", self.formant), ("speed", self.speed), ("contour", self.contour))
        for key, spin in spins:
            v = state.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                spin.blockSignals(True)
                spin.setValue(float(v))  # clamped to the range
                spin.blockSignals(False)
        if isinstance(state.get("note"), str):
            self.note.setText(state["note"][:16])
        self.sing.blockSignals(True)
        self.sing.setChecked(state.get("sing") is True)
        self.sing.blockSignals(False)
        self._on_sing(self.sing.isChecked(), emit=False)

    # --- user actions ----------------------------------------------------------------------

    def _on_sing(self, on: bool, emit: bool = True) -> None:
        active = on and self._has_f0
        for w in (self.note, self.contour_label, self.contour):
            w.setEnabled(active)
        if emit:
            self._emit()

    def _emit(self, *_args: object) -> None:
        self.changed.emit(self.performance())


def midi_to_hz_of(hz: float) -> float:
    """``hz`` rounded to the nearest equal-tempered note, in Hz."""
    return midi_to_hz(round(69 + 12 * math.log2(hz / 440.0)))
