"""Latent knobs: one dial per latent dimension, plus voice presets, temperature, Randomize, Reset.

Knob values are in the synth's *knob space*: standard units, about -3..3, where 0 is the
digit's typical voice (see :mod:`vaesynth.synth`). The panel only holds and shows values;
what they sound like is the engine's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QRadialGradient
from PySide6.QtWidgets import (
    QComboBox,
    QDial,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .theme import ACCENT, MUTED

KNOB_RANGE = 3.0  # standard units either side of 0
STEPS_PER_UNIT = 100  # dial resolution: 0.01 units
MAX_COLUMNS = 16
CUSTOM_VOICE = "Custom"


class ArcDial(QDial):
    """A QDial drawn as a synth knob: a track arc, a value arc from the centre (0) and a pointer.

    Uses QDial's own geometry (non-wrapping: 240 degrees at the minimum to -60 at the maximum), so
    the drawing matches where the mouse grabs it.
    """

    START_DEG = 240.0
    SPAN_DEG = 300.0

    def _angle(self, value: float) -> float:
        lo, hi = self.minimum(), self.maximum()
        f = (value - lo) / (hi - lo) if hi > lo else 0.5
        return self.START_DEG - self.SPAN_DEG * f

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height()) - 8.0
        r = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        enabled = self.isEnabled()
        track = QPen(QColor("#3a3c44"), 4.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        p.setPen(track)
        p.drawArc(r, int(self.START_DEG * 16), int(-self.SPAN_DEG * 16))
        zero = self._angle(0.0) if self.minimum() < 0 < self.maximum() else self.START_DEG
        now = self._angle(self.value())
        if abs(now - zero) > 0.5:
            p.setPen(QPen(QColor(ACCENT if enabled else MUTED), 4.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawArc(r, int(zero * 16), int((now - zero) * 16))
        body = r.adjusted(side * 0.18, side * 0.18, -side * 0.18, -side * 0.18)
        g = QRadialGradient(body.center() - QPointF(body.width() * 0.15, body.height() * 0.2), body.width() * 0.7)
        g.setColorAt(0.0, QColor("#51545e"))
        g.setColorAt(1.0, QColor("#2a2c33"))
        p.setPen(QPen(QColor("#17181c"), 1.0))
        p.setBrush(g)
        p.drawEllipse(body)
        a = math.radians(now)
        c = body.center()
        rad = body.width() / 2
        tip = QPointF(c.x() + math.cos(a) * rad * 0.85, c.y() - math.sin(a) * rad * 0.85)
        mid = QPointF(c.x() + math.cos(a) * rad * 0.35, c.y() - math.sin(a) * rad * 0.35)
        p.setPen(QPen(QColor("#f2f2f5" if enabled else MUTED), 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(mid, tip)
        if self.hasFocus():
            p.setPen(QPen(QColor(ACCENT), 1.0, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(r.adjusted(-3, -3, 3, 3))
        p.end()


class _ValueLabel(QLabel):
    double_clicked = Signal()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.double_clicked.emit()


class Knob(QWidget):
    """A labelled dial with its value shown underneath."""

    changed = Signal(int, float)  # index, value (user edits only)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.name = QLabel(f"z{index + 1}")
        self.name.setObjectName("knobName")
        self.name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.dial = ArcDial()
        self.dial.setRange(-int(KNOB_RANGE * STEPS_PER_UNIT), int(KNOB_RANGE * STEPS_PER_UNIT))
        self.dial.setSingleStep(5)
        self.dial.setPageStep(50)
        self.dial.setNotchTarget(50)  # a notch every half unit
        self.dial.setNotchesVisible(True)
        self.dial.setWrapping(False)
        self.dial.setFixedSize(52, 52)
        self.dial.setToolTip(
            f"Latent dimension {index + 1}, in standard units (0 = the digit's typical voice).\n"
            "Drag, scroll or use the arrow keys; double-click the value to reset it."
        )
        self.value_label = _ValueLabel()
        self.value_label.setObjectName("knobValue")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.value_label.setToolTip("Double-click to reset this knob to 0")
        self.value_label.double_clicked.connect(lambda: self._user_set(0))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(0)
        lay.addWidget(self.name)
        lay.addWidget(self.dial, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        self._show(0)
        self.dial.valueChanged.connect(self._on_dial)

    def value(self) -> float:
        return self.dial.value() / STEPS_PER_UNIT

    def set_value(self, value: float) -> None:
        """Set the value without emitting :attr:`changed` (values beyond the range are clamped)."""
        steps = round(max(-KNOB_RANGE, min(KNOB_RANGE, float(value))) * STEPS_PER_UNIT)
        self.dial.blockSignals(True)
        self.dial.setValue(steps)
        self.dial.blockSignals(False)
        self._show(steps)

    def _user_set(self, steps: int) -> None:
        self.dial.setValue(steps)  # emits through _on_dial

    def _on_dial(self, steps: int) -> None:
        self._show(steps)
        self.changed.emit(self.index, steps / STEPS_PER_UNIT)

    def _show(self, steps: int) -> None:
        self.value_label.setText(f"{steps / STEPS_PER_UNIT:+.2f}")


class KnobPanel(QWidget):
    """The latent knob panel. Rebuild it with :meth:`set_latent_dim` when the model changes.

    Signals carry plain Python values: :attr:`knobs_changed` the full knob vector after a
    user edit (including Reset), :attr:`randomize_requested` when Randomize is pressed,
    :attr:`voice_chosen` a speaker name (``None`` for "Custom").
    """

    knobs_changed = Signal(list)
    randomize_requested = Signal()
    voice_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.voice = QComboBox()
        self.voice.setToolTip("Voice presets: the speakers the model learned. Choosing one sets the knobs.")
        self.voice.setMinimumWidth(130)
        self.voice.addItem(CUSTOM_VOICE)
        self.voice.activated.connect(self._on_voice)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.5)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip(
            "How far fresh variations and Randomize stray from the typical voice\n"
            "(0 = always the typical voice, 1 = as varied as the training speakers)."
        )
        self.randomize = QPushButton("Randomize")
        self.randomize.setToolTip("Draw a new random voice at the current temperature and hold it")
        self.randomize.clicked.connect(self.randomize_requested.emit)
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Set every knob to 0: the digit's typical voice")
        self.reset.clicked.connect(self._on_reset)
        head = QHBoxLayout()
        head.addWidget(QLabel("Voice"))
        head.addWidget(self.voice)
        head.addSpacing(12)
        head.addWidget(QLabel("Temperature"))
        head.addWidget(self.temperature)
        head.addStretch(1)
        self.info = QLabel("")
        self.info.setObjectName("muted")
        head.addWidget(self.info)
        head.addSpacing(12)
        head.addWidget(self.randomize)
        head.addWidget(self.reset)

        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(4)
        self._grid.setVerticalSpacing(2)
        self._scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._grid_host)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.placeholder = QLabel("Loading model…")
        self.placeholder.setObjectName("muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._grid.addWidget(self.placeholder, 0, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(scroll, 1)
        self.knobs: list[Knob] = []

    # --- state -----------------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return len(self.knobs)

    def values(self) -> list[float]:
        return [k.value() for k in self.knobs]

    def set_values(self, values: Sequence[float]) -> None:
        """Show ``values`` (no signal). Extra values are ignored, missing ones become 0."""
        for i, k in enumerate(self.knobs):
            k.set_value(float(values[i]) if i < len(values) else 0.0)

    def set_latent_dim(self, n: int) -> None:
        """Rebuild the dials for a model with ``n`` latent dimensions (all at 0)."""
        if n == len(self.knobs):
            self.set_values([])
            return
        for k in self.knobs:
            self._grid.removeWidget(k)
            k.deleteLater()
        self.knobs = []
        self.placeholder.setVisible(n == 0)
        cols = min(max(n, 1), MAX_COLUMNS)
        for i in range(n):
            k = Knob(i, self._grid_host)
            k.changed.connect(self._on_knob)
            self._grid.addWidget(k, 1 + i // cols, i % cols)
            self.knobs.append(k)
        self.info.setText(f"{n} latent dimensions" if n else "")
        rows = min(2, -(-n // cols)) if n else 1
        self._scroll.setMinimumHeight(rows * self.knobs[0].sizeHint().height() + 4 if n else 40)

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)

    def set_speakers(self, speakers: Sequence[str]) -> None:
        self.voice.clear()
        self.voice.addItem(CUSTOM_VOICE)
        for s in speakers:
            self.voice.addItem(s)

    def current_voice(self) -> str | None:
        return None if self.voice.currentIndex() <= 0 else self.voice.currentText()

    def set_voice(self, speaker: str | None) -> None:
        """Select ``speaker`` in the preset list without emitting (``None``: Custom)."""
        i = 0 if speaker is None else max(0, self.voice.findText(speaker))
        self.voice.blockSignals(True)
        self.voice.setCurrentIndex(i)
        self.voice.blockSignals(False)

    # --- user actions ----------------------------------------------------------------------

    def _on_knob(self, _index: int, _value: float) -> None:
        self.set_voice(None)  # an edited voice is no longer the preset
        self.knobs_changed.emit(self.values())

    def _on_reset(self) -> None:
        self.set_values([])
        self.set_voice(None)
        self.knobs_changed.emit(self.values())

    def _on_voice(self, index: int) -> None:
        self.voice_chosen.emit(None if index <= 0 else self.voice.itemText(index))
