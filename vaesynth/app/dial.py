"""One latent knob (:class:`Knob`: a drawn dial, its name and its exact value) and the grid that
lays knobs out in as many columns as fit (:class:`KnobGrid`), so no size clips or scatters them.

A knob holds its value exactly, as a float: a fresh voice may lie beyond the dial's +-3 units,
and the knob then shows (and Hold voice keeps) that value, with the dial at its end and its arc
in another colour. Turning the dial sets the value in 0.01 steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QRadialGradient, QResizeEvent
from PySide6.QtWidgets import QDial, QGridLayout, QLabel, QLayout, QSizePolicy, QVBoxLayout, QWidget

from .theme import ACCENT, MUTED

KNOB_RANGE = 3.0  # standard units either side of 0 the dial covers
STEPS_PER_UNIT = 100  # dial resolution: 0.01 units
DIAL_PX = 36
CELL_W, CELL_H = 52, 84  # one knob: name, dial, value, what it does (two lines; all of it in the tooltip)
EFFECT_H = 20
H_GAP, V_GAP = 4, 4
BEYOND = "#ff7ab6"  # value arc colour of a knob past the end of its dial


class ArcDial(QDial):
    """A QDial drawn as a synth knob: a track arc, a value arc from the centre (0) and a pointer.

    Uses QDial's own geometry (non-wrapping: 240 degrees at the minimum to -60 at the maximum), so
    the drawing matches where the mouse grabs it. Delete or Backspace asks for a reset to 0.
    """

    reset_requested = Signal()

    START_DEG = 240.0
    SPAN_DEG = 300.0
    beyond = False  # the value is past the end of the dial (the arc is drawn in another colour)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.reset_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

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
            colour = BEYOND if self.beyond else ACCENT
            p.setPen(QPen(QColor(colour if enabled else MUTED), 4.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
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

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self.double_clicked.emit()


class Knob(QWidget):
    """A labelled dial with its exact value shown underneath.

    :attr:`changed` (index, value) fires on user edits only: turning the dial, Delete/Backspace
    on it, double-clicking the value (both reset it to 0).
    """

    changed = Signal(int, float)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self._value = 0.0
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
        self.dial.setFixedSize(DIAL_PX, DIAL_PX)
        self.dial.setToolTip(
            f"Latent dimension {index + 1}, in standard units (0 = the digit's typical voice).\n"
            "Drag, scroll or use the arrow keys; Delete or a double-click on the value resets it."
        )
        self.dial.reset_requested.connect(lambda: self._user_set(0))
        self.value_label = _ValueLabel()
        self.value_label.setObjectName("knobValue")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.value_label.double_clicked.connect(lambda: self._user_set(0))
        self.effect = QLabel("")
        self.effect.setObjectName("knobEffect")
        self.effect.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.effect.setFixedSize(CELL_W, EFFECT_H)
        self._effect_text = ""
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.name)
        lay.addWidget(self.dial, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        lay.addWidget(self.effect)
        self.setFixedSize(CELL_W, CELL_H)
        self._show()
        self.dial.valueChanged.connect(self._on_dial)

    def set_description(self, label: str, tooltip: str, strong: bool = False) -> None:
        """Say what the knob does: ``label`` under the dial (a line per effect, each elided to fit),
        ``tooltip`` on the dial; ``strong``: one of the strongest knobs (its label in full colour)."""
        self._effect_text = label
        name = "knobEffectStrong" if strong else "knobEffect"
        if self.effect.objectName() != name:
            self.effect.setObjectName(name)
            self.effect.style().unpolish(self.effect)
            self.effect.style().polish(self.effect)
        self.effect.ensurePolished()  # the style sheet's small font, before measuring
        fm = self.effect.fontMetrics()
        lines = label.split("\n")[:2]
        self.effect.setText("\n".join(fm.elidedText(x, Qt.TextElideMode.ElideRight, CELL_W) for x in lines))
        self.effect.setToolTip(label.replace("\n", ", "))
        self.dial.setToolTip(tooltip)
        self.name.setToolTip(tooltip)

    def description(self) -> str:
        """The short label shown under the dial (not elided)."""
        return self._effect_text

    def value(self) -> float:
        """The exact value (not rounded to the dial's steps, not limited to its range)."""
        return self._value

    def set_value(self, value: float, show: bool = True) -> None:
        """Hold ``value`` exactly, without emitting :attr:`changed`; show it now, or (``show=False``)
        at the next :meth:`refresh`."""
        self._value = float(value)
        if show:
            self.refresh()

    def refresh(self) -> None:
        """Show the value held (dial position, number, colour)."""
        self.dial.blockSignals(True)
        self.dial.setValue(round(max(-KNOB_RANGE, min(KNOB_RANGE, self._value)) * STEPS_PER_UNIT))
        self.dial.blockSignals(False)
        self._show()

    def _user_set(self, steps: int) -> None:
        if self.dial.value() == steps:
            self._on_dial(steps)  # the dial does not move, but the value may (from beyond the range)
        else:
            self.dial.setValue(steps)  # emits through _on_dial

    def _on_dial(self, steps: int) -> None:
        self._value = steps / STEPS_PER_UNIT
        self._show()
        self.changed.emit(self.index, self._value)

    def _show(self) -> None:
        beyond = abs(self._value) > KNOB_RANGE + 0.005
        self.value_label.setText(f"{self._value:+.2f}")
        self.value_label.setToolTip(
            ("Beyond the dial's range: this is the voice as played. " if beyond else "")
            + "Double-click to reset this knob to 0"
        )
        if beyond != self.dial.beyond:
            self.dial.beyond = beyond
            self.dial.update()


class KnobGrid(QWidget):
    """Knobs in rows of as many columns as the width allows (only vertical scrolling is ever
    needed). :attr:`rows_changed` fires with the number of rows after a re-flow."""

    rows_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(H_GAP)
        self._grid.setVerticalSpacing(V_GAP)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._grid.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # the width is ours to follow
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._knobs: list[QWidget] = []
        self._cols = 0
        self.rows = 0

    @staticmethod
    def columns_for(width: int) -> int:
        return max(1, (width + H_GAP) // (CELL_W + H_GAP))

    @staticmethod
    def height_for(rows: int) -> int:
        return rows * CELL_H + max(0, rows - 1) * V_GAP

    def widgets(self) -> list[QWidget]:
        """The widgets laid out, in order (row by row)."""
        return list(self._knobs)

    def set_widgets(self, widgets: Sequence[QWidget]) -> None:
        for w in self._knobs:
            self._grid.removeWidget(w)
        self._knobs = list(widgets)
        self._cols = 0
        self._reflow()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._reflow()

    def _reflow(self) -> None:
        cols = self.columns_for(self.width())
        if cols == self._cols:
            return
        self._cols = cols
        for w in self._knobs:
            self._grid.removeWidget(w)
        for i, w in enumerate(self._knobs):
            self._grid.addWidget(w, i // cols, i % cols)
        rows = -(-len(self._knobs) // cols)
        self.setMinimumHeight(self.height_for(rows))
        if rows != self.rows:
            self.rows = rows
            self.rows_changed.emit(rows)
