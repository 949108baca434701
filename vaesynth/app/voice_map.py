"""The voice map: every training utterance as a dot on the model's PCA plane of voices.

Dots are coloured by speaker (or by digit); hovering one says whose voice, which digit and which
recording it is. A click on a dot emits :attr:`VoiceMapView.dot_clicked` (the window plays the
recording and the model's rendering of that latent, A/B, and moves the knobs there); a left-drag
anywhere, between dots too, emits :attr:`VoiceMapView.point_dragged` with map coordinates (the
window renders the current digit there, live). The current voice is a marker that follows the
knobs. The map itself (:class:`vaesynth.voices.voice.VoiceMap`) comes with the model; a model without
one shows why instead. Widgets only: no knob math, no rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from .theme import PLOT_BACKGROUND

PALETTE = (
    "#4e9eff", "#ff9f40", "#54d38a", "#ff6b6b", "#b98cff", "#c8a27a",
    "#ff7ab6", "#b8b8b8", "#d9d957", "#4fd6e0",
)  # fmt: skip
DOT_PX = 6
PICK_PX = 8  # a click this close to a dot (in pixels) picks it
BY_SPEAKER, BY_DIGIT = "Speaker", "Digit"


class _MapViewBox(pg.ViewBox):
    """A left drag reports map coordinates; the wheel and the right button still zoom, the middle
    button pans. (Clicks are taken from the scene, which sees them even over a dot.)"""

    dragged = Signal(float, float)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802 (pyqtgraph override)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.dragged.emit(p.x(), p.y())
        else:
            super().mouseDragEvent(ev, axis)


class VoiceMapView(QWidget):
    """The map widget. Signals: :attr:`dot_clicked` (utterance index), :attr:`point_dragged` (x, y)."""

    dot_clicked = Signal(int)
    point_dragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._map: Any = None
        self._speakers: list[str] = []
        self.colour_by = QComboBox()
        self.colour_by.addItems([BY_SPEAKER, BY_DIGIT])
        self.colour_by.setToolTip("Colour the dots by speaker or by digit")
        self.colour_by.currentTextChanged.connect(lambda _t: self._recolour())
        self.legend = QLabel("")
        self.legend.setObjectName("muted")
        self.legend.setWordWrap(True)
        self.readout = QLabel("Click a dot to hear it, drag to explore")
        self.readout.setObjectName("muted")

        self.vb = _MapViewBox()
        self.vb.setAspectLocked(True)
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setBackground(PLOT_BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # mouse-only: digit keys stay with the keypad
        self.dots = pg.ScatterPlotItem(size=DOT_PX, pen=None)
        self.picked = pg.ScatterPlotItem(size=DOT_PX + 8, pen=pg.mkPen("#ffffff", width=1.5), brush=None)
        self.marker = pg.ScatterPlotItem(
            size=18, symbol="star", pen=pg.mkPen("#17181c", width=1.2), brush=pg.mkBrush("#ffe14d")
        )
        for item in (self.dots, self.picked, self.marker):
            item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks and drags go to the view box
            self.plot.addItem(item)
        self.marker.setZValue(10)
        for item in (self.dots, self.plot.getPlotItem().getAxis("left"), self.plot.getPlotItem().getAxis("bottom")):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # a moving marker repaints from pixmaps
        self.plot.scene().sigMouseClicked.connect(self._on_scene_click)
        self.vb.dragged.connect(self.point_dragged)
        self.plot.scene().sigMouseMoved.connect(self._on_hover)

        self.empty = QLabel("Loading model…")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        head = QHBoxLayout()
        head.addWidget(QLabel("Colour by"))
        head.addWidget(self.colour_by)
        head.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.legend)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.readout)

    # --- content --------------------------------------------------------------------------------

    @property
    def has_map(self) -> bool:
        return self._map is not None

    def empty_text(self) -> str:
        """What the map says instead of dots ("" when it shows dots)."""
        return "" if self.has_map else self.empty.text()

    def set_map(self, voice_map: Any, speakers: Sequence[str], missing: str = "") -> None:
        """Show ``voice_map`` (a :class:`vaesynth.voices.voice.VoiceMap`), or ``missing`` (why there is none)."""
        self._map, self._speakers = voice_map, list(speakers)
        self.picked.setData([], [])
        self.marker.setData([], [])
        if voice_map is None:
            self.dots.setData([], [])
            self.empty.setText(missing or "This model has no voice map.")
            self.stack.setCurrentWidget(self.empty)
            self.legend.setText("")
            return
        pts = voice_map.points
        self.dots.setData(pts[:, 0], pts[:, 1])
        ex = list(voice_map.explained) + [0.0, 0.0]
        self.plot.setLabel("bottom", f"voice axis 1 ({100 * ex[0]:.0f}% of the variation)")
        self.plot.setLabel("left", f"voice axis 2 ({100 * ex[1]:.0f}%)")
        self.stack.setCurrentWidget(self.plot)
        self._recolour()
        self.vb.autoRange(padding=0.05)

    def show_problem(self, text: str) -> None:
        self.set_map(None, [], text)

    def set_marker(self, xy: Sequence[float] | None) -> None:
        """Put the current-voice marker at map point ``xy`` (``None`` hides it)."""
        if xy is None or self._map is None:
            self.marker.setData([], [])
        else:
            self.marker.setData([float(xy[0])], [float(xy[1])])

    def marker_position(self) -> tuple[float, float] | None:
        x, y = self.marker.getData()
        return (float(x[0]), float(y[0])) if len(x) else None

    def set_picked(self, index: int | None) -> None:
        """Ring the dot ``index`` (the one last clicked); ``None`` removes the ring."""
        if index is None or self._map is None:
            self.picked.setData([], [])
        else:
            p = self._map.points[index]
            self.picked.setData([p[0]], [p[1]])

    def describe(self, index: int) -> str:
        """Hover text of dot ``index``: speaker, digit, recording."""
        m = self._map
        spk = int(m.speakers[index])
        who = self._speakers[spk] if 0 <= spk < len(self._speakers) else f"speaker {spk}"
        file = m.files[index] if index < len(m.files) else ""
        return f"{who} · digit {int(m.digits[index])}" + (f" · {file}" if file else "")

    # --- geometry (also what tests and the benchmark use to aim the mouse) -----------------------

    def widget_pos(self, xy: Sequence[float]) -> QPoint:
        """The pixel in :attr:`plot`'s viewport at map point ``xy``."""
        scene = self.vb.mapViewToScene(QPointF(float(xy[0]), float(xy[1])))
        return self.plot.mapFromScene(scene)

    def dot_near(self, xy: Sequence[float], px: float = PICK_PX) -> int | None:
        """The dot within ``px`` pixels of map point ``xy`` (the nearest), else ``None``."""
        if self._map is None:
            return None
        i = self._map.nearest(xy)
        a, b = self.widget_pos(xy), self.widget_pos(self._map.points[i])
        return i if (a - b).manhattanLength() <= 1.5 * px and np.hypot(a.x() - b.x(), a.y() - b.y()) <= px else None

    # --- events ---------------------------------------------------------------------------------

    def _on_scene_click(self, ev: Any) -> None:
        if self._map is None or ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        if not self.vb.sceneBoundingRect().contains(ev.scenePos()):
            return  # on an axis
        p = self.vb.mapSceneToView(ev.scenePos())
        self._on_click(p.x(), p.y())

    def _on_click(self, x: float, y: float) -> None:
        i = self.dot_near((x, y))
        if i is None:
            self.point_dragged.emit(x, y)  # a click between dots: the voice at that point
        else:
            self.set_picked(i)
            self.dot_clicked.emit(i)

    def _on_hover(self, scene_pos: QPointF) -> None:
        if self._map is None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        i = self.dot_near((p.x(), p.y()))
        text = self.describe(i) if i is not None else f"voice at ({p.x():.2f}, {p.y():.2f}): drag to hear it"
        self.readout.setText(text)
        self.plot.setToolTip(text if i is not None else "")

    def _recolour(self) -> None:
        m = self._map
        if m is None:
            return
        by_digit = self.colour_by.currentText() == BY_DIGIT
        labels = m.digits if by_digit else m.speakers
        brushes = [pg.mkBrush(PALETTE[k % len(PALETTE)]) for k in range(max(int(labels.max()) + 1, 1))]
        self.dots.setBrush([brushes[int(k)] for k in labels])
        names = [str(k) for k in range(10)] if by_digit else self._speakers
        self.legend.setText(
            "  ".join(f"<span style='color:{PALETTE[k % len(PALETTE)]}'>●</span> {n}" for k, n in enumerate(names))
        )
