"""Latent knobs: one dial per latent dimension, plus voice presets, temperature, Randomize, Reset.

The dials are shown in order of effect, strongest first, and the ones with no clear effect fold
under a **More** toggle (:func:`vaesynth.app.knob_labels.display_order`, from the bundle's
measured ``knob_labels``). That is only where a dial sits: :attr:`KnobPanel.knobs` and every
knob vector stay in latent order (knob ``i`` is latent dimension ``i``).

Knob values are in the synth's *knob space*: standard units, about -3..3, where 0 is the
digit's typical voice (see :mod:`vaesynth.engine.synth`). The panel only holds and shows values;
what they sound like is the engine's business.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .dial import Knob, KnobGrid
from .knob_labels import STRONG, display_order, effect_size, short_label, tooltip

CUSTOM_VOICE = "Custom"
LIVE_REDRAW_MS = 50  # while knobs follow a drag, they are redrawn at most this often
VISIBLE_ROWS = 3  # knob rows shown without scrolling (more scroll vertically)


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
        self.more = QToolButton()  # folds the knobs with no clear effect (in the header: no height taken)
        self.more.setObjectName("moreKnobs")
        self.more.setCheckable(True)
        self.more.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more.setAutoRaise(True)
        self.more.setVisible(False)
        self.more.toggled.connect(self._on_more)
        head.addWidget(self.info)
        head.addWidget(self.more)
        head.addSpacing(12)
        head.addWidget(self.randomize)
        head.addWidget(self.reset)

        self.grid = KnobGrid()  # the knobs with a clear effect, strongest first
        self.grid.rows_changed.connect(self._fit_rows)
        self.more_grid = KnobGrid()  # the knobs with no clear effect, under the More toggle
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(0, 0, 0, 0)
        body_lay.setSpacing(2)
        body_lay.addWidget(self.grid)
        body_lay.addWidget(self.more_grid)
        body_lay.addStretch(1)
        self.more_grid.setVisible(False)
        self._scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the dials take focus, not the area
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.placeholder = QLabel("Loading model…")
        self.placeholder.setObjectName("muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.placeholder)
        lay.addWidget(scroll, 1)
        scroll.setVisible(False)
        self.knobs: list[Knob] = []
        self.order: list[int] = []  # latent indices in the order shown: the main grid's, then More's
        self.folded: list[int] = []  # latent indices under More
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(LIVE_REDRAW_MS)
        self._redraw.timeout.connect(self._refresh)

    # --- state -----------------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return len(self.knobs)

    def values(self) -> list[float]:
        return [k.value() for k in self.knobs]

    def set_values(self, values: Sequence[float], soon: bool = False) -> None:
        """Hold and show ``values`` (no signal). Extra values are ignored, missing ones become 0.

        ``soon``: :meth:`values` returns them at once, but the dials are redrawn at most every
        :data:`LIVE_REDRAW_MS` (for a continuous drag: redrawing a dozen dials at every mouse move
        would take the time the next render needs)."""
        for i, k in enumerate(self.knobs):
            k.set_value(float(values[i]) if i < len(values) else 0.0, show=not soon)
        if not soon:
            self._redraw.stop()
        elif not self._redraw.isActive():
            self._redraw.start()

    def _refresh(self) -> None:
        for k in self.knobs:
            k.refresh()

    def set_latent_dim(self, n: int) -> None:
        """Rebuild the dials for a model with ``n`` latent dimensions (all at 0)."""
        if n == len(self.knobs):
            self.set_values([])
            return
        for k in self.knobs:
            k.deleteLater()
        self.knobs = [Knob(i, self.grid) for i in range(n)]
        for k in self.knobs:
            k.changed.connect(self._on_knob)
        self._arrange(list(range(n)), [])
        self.placeholder.setVisible(n == 0)
        self._scroll.setVisible(n > 0)
        self.info.setText(f"{n} knobs" if n else "")

    def set_labels(self, entries: Sequence[dict]) -> None:
        """Say what each knob does (the bundle's measured ``knob_labels``; none: not measured) and
        show the knobs in order of effect, the ones with no clear effect under More."""
        main, more = display_order(tuple(entries), len(self.knobs))
        ranked = bool(self.knobs) and all(effect_size(e) is not None for e in entries[: len(self.knobs)])
        for rank, i in enumerate(main + more):
            entry = entries[i] if i < len(entries) else None
            strong = ranked and rank < STRONG and i in main
            self.knobs[i].set_description(short_label(entry), tooltip(i, entry, rank if ranked else None), strong)
        self._arrange(main, more)

    def _arrange(self, main: list[int], more: list[int]) -> None:
        """Lay the knobs out: ``main`` in the grid, ``more`` under the (folded) More toggle."""
        self.order, self.folded = main + more, list(more)
        self.grid.set_widgets([self.knobs[i] for i in main])
        self.more_grid.set_widgets([self.knobs[i] for i in more])
        self.more.setVisible(bool(more))
        self.more.setText(f"More ({len(more)})")
        self.more.setToolTip(
            f"{len(more)} more knobs, with no clear effect: every change they make is below what a listener notices"
        )
        self.more.setChecked(False)
        self._on_more(False)
        self._fit_rows()
        for a, b in zip(self.order, self.order[1:], strict=False):  # Tab follows the order shown
            QWidget.setTabOrder(self.knobs[a].dial, self.knobs[b].dial)

    def _on_more(self, shown: bool) -> None:
        self.more.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.more_grid.setVisible(shown and bool(self.folded))

    def more_shown(self) -> bool:
        """Whether the knobs with no clear effect are unfolded."""
        return self.more.isChecked()

    def _fit_rows(self, rows: int | None = None) -> None:
        """Show up to :data:`VISIBLE_ROWS` rows of the main grid without scrolling."""
        rows = self.grid.rows if rows is None else rows
        self._scroll.setMinimumHeight(KnobGrid.height_for(min(rows, VISIBLE_ROWS)))

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
