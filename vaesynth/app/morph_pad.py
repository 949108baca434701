"""The morph pad: four voices in the corners of a square, a puck that blends them.

:class:`MorphPad` is the square (drag the puck with the mouse or move it with the arrow keys);
:class:`MorphPadPanel` adds a voice picker per corner (speaker presets, saved voices, points
picked on the voice map, the knobs as they are). The panel emits :attr:`MorphPadPanel.moved`
with the puck's position in ``[0, 1]^2`` (x to the right, y upwards); the window turns that into
knobs with :meth:`vaesynth.app.voice_knobs.VoiceKnobs.blend` and renders live. Widgets only.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QLinearGradient, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QSizePolicy, QWidget

from .theme import ACCENT
from .voice_knobs import CornerVoice, bilinear_weights

CORNER_NAMES = ("top left", "top right", "bottom left", "bottom right")
CORNER_COLOURS = ("#4e9eff", "#ff9f40", "#54d38a", "#ff6b6b")
MAX_CHOICES = 40
KEY_STEP = 0.05


class MorphPad(QWidget):
    """The square with the puck. :attr:`moved` (x, y) on every user move; ``labels``: the four
    corner names drawn inside it."""

    moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._xy = (0.5, 0.5)
        self.labels = ["", "", "", ""]
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # arrow keys once clicked; never a Tab trap
        self.setToolTip("Drag the puck to blend the four corner voices (arrow keys move it too)")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(240, 240)

    def puck(self) -> tuple[float, float]:
        return self._xy

    def set_puck(self, x: float, y: float) -> None:
        """Move the puck without emitting."""
        self._xy = (min(1.0, max(0.0, float(x))), min(1.0, max(0.0, float(y))))
        self.update()

    def square(self) -> QRectF:
        side = min(self.width(), self.height()) - 12.0
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def widget_pos(self, x: float, y: float) -> QPoint:
        """The pixel at pad position ``(x, y)``."""
        r = self.square()
        return QPointF(r.left() + x * r.width(), r.bottom() - y * r.height()).toPoint()

    def _user_move(self, pos: QPointF) -> None:
        r = self.square()
        self.set_puck((pos.x() - r.left()) / r.width(), (r.bottom() - pos.y()) / r.height())
        self.moved.emit(*self._xy)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self._user_move(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._user_move(event.position())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        dx, dy = {
            Qt.Key.Key_Left: (-KEY_STEP, 0), Qt.Key.Key_Right: (KEY_STEP, 0),
            Qt.Key.Key_Up: (0, KEY_STEP), Qt.Key.Key_Down: (0, -KEY_STEP),
        }.get(event.key(), (None, None))  # fmt: skip
        if dx is None:
            super().keyPressEvent(event)
            return
        self.set_puck(self._xy[0] + dx, self._xy[1] + dy)
        self.moved.emit(*self._xy)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.square()
        for top, (left_c, right_c) in ((True, CORNER_COLOURS[:2]), (False, CORNER_COLOURS[2:])):
            g = QLinearGradient(r.topLeft(), r.topRight())
            g.setColorAt(0, QColor(left_c).darker(200))
            g.setColorAt(1, QColor(right_c).darker(200))
            half = QRectF(r.left(), r.top() if top else r.center().y(), r.width(), r.height() / 2)
            p.fillRect(half, g)
        p.setPen(QPen(QColor("#3a3c44"), 1.0))
        for k in range(1, 4):
            x, y = r.left() + k * r.width() / 4, r.top() + k * r.height() / 4
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        p.setPen(QPen(QColor("#5a5d68"), 1.0))
        p.drawRect(r)
        flags = (
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
        )
        inner = r.adjusted(6, 4, -6, -4)
        weights = bilinear_weights(*self._xy)
        for label, colour, flag, w in zip(self.labels, CORNER_COLOURS, flags, weights, strict=True):
            p.setPen(QColor(colour))
            p.drawText(inner, int(flag), f"{label}  {100 * w:.0f}%" if flag & Qt.AlignmentFlag.AlignLeft else
                       f"{100 * w:.0f}%  {label}")  # fmt: skip
        c = self.widget_pos(*self._xy)
        p.setPen(QPen(QColor("#17181c"), 2.0))
        p.setBrush(QColor(ACCENT))
        p.drawEllipse(QPointF(c), 9.0, 9.0)
        if self.hasFocus():
            p.setPen(QPen(QColor(ACCENT), 1.0, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(r.adjusted(-3, -3, 3, 3))
        p.end()


class MorphPadPanel(QWidget):
    """The pad with a voice picker per corner. Signals: :attr:`moved` (x, y) when the puck is
    moved, :attr:`corners_changed` when a corner's voice is chosen."""

    moved = Signal(float, float)
    corners_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pad = MorphPad()
        self.pad.moved.connect(self.moved)
        self.pickers = [QComboBox() for _ in range(4)]
        self._choices: list[CornerVoice] = []
        for name, box in zip(CORNER_NAMES, self.pickers, strict=True):
            box.setToolTip(f"The voice in the {name} corner")
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
            box.activated.connect(lambda _i: self._on_pick())
        self.hint = QLabel("Choose four voices, then drag the puck: the knobs show the blend")
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.pickers[0], 0, 0)
        lay.addWidget(self.pickers[1], 0, 1)
        lay.addWidget(self.pad, 1, 0, 1, 2)
        lay.addWidget(self.pickers[2], 2, 0)
        lay.addWidget(self.pickers[3], 2, 1)
        lay.addWidget(self.hint, 3, 0, 1, 2)
        lay.setRowStretch(1, 1)

    @property
    def choices(self) -> list[CornerVoice]:
        return list(self._choices)

    def corners(self) -> list[CornerVoice]:
        """The four corner voices (top-left, top-right, bottom-left, bottom-right); empty if unset."""
        if not self._choices:
            return []
        return [self._choices[max(0, b.currentIndex())] for b in self.pickers]

    def set_choices(self, choices: Sequence[CornerVoice]) -> None:
        """Offer ``choices`` in every corner, keeping each corner's voice where it is still offered
        (else the first four choices in turn)."""
        before = [b.currentText() for b in self.pickers]
        self._choices = list(choices)[:MAX_CHOICES]
        labels = [c.label for c in self._choices]
        for k, box in enumerate(self.pickers):
            box.blockSignals(True)
            box.clear()
            box.addItems(labels)
            if labels:
                box.setCurrentIndex(labels.index(before[k]) if before[k] in labels else k % len(labels))
            box.blockSignals(False)
        self._sync_labels()

    def add_choice(self, choice: CornerVoice) -> None:
        """Offer one more voice (a point picked on the map), newest last; an older one of the same
        label is replaced."""
        self.set_choices([c for c in self._choices if c.label != choice.label] + [choice])

    def set_corner(self, k: int, label: str) -> None:
        """Put the offered voice ``label`` in corner ``k`` (0-3), as a user would."""
        i = self.pickers[k].findText(label)
        if i < 0:
            raise ValueError(f"{label!r} is not offered")
        self.pickers[k].setCurrentIndex(i)
        self._on_pick()

    def _on_pick(self) -> None:
        self._sync_labels()
        self.corners_changed.emit()

    def _sync_labels(self) -> None:
        self.pad.labels = [b.currentText() for b in self.pickers]
        self.pad.update()
