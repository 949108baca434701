"""The "Voice in" tab: your own voice from a microphone take or a WAV file (widgets only).

:class:`VoiceInPanel` holds the input device list, a level meter, "Record 2 s", "Open WAV…" (and
a WAV dropped anywhere on the tab), the digit said ("auto" recognises it), a message line, the take's
estimated pitch and size, and
:class:`TakeComparison`: the take's spectrogram and the model's re-synthesis of it side by side
on one frequency axis and colour scale, in the order the A/B button plays them (the main
spectrogram shows the re-synthesis too, but moves on with the next key press; this pair stays).
Side by side rather than one over the other: at 1024x640 the tab has about 70 px for it, and two
rows there were too thin to read. **Learn my voice…** turns the tab's page (under the input device
and meter, which both pages use) to :class:`~vaesynth.app.learn_voice_panel.LearnVoicePanel`. No
recording, no analysis here: :class:`~vaesynth.app.voice_in_control.VoiceInController` does that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from vaesynth.engine.performance import Performance

from .learn_voice_panel import LearnVoicePanel
from .pickers import device_choices
from .spectrogram import COLORMAP
from .theme import ACCENT, MUTED, PLOT_BACKGROUND, restyle

AUTO = "auto"
METER_FLOOR_DB = -60.0  # the level meter's empty end (dBFS); full at 0 dBFS
SOUND_FILES = "Sound files (*.wav *.flac *.ogg);;All files (*)"
NEEDS_CVAE = (
    "Recognising the digit needs the default model (a digit-conditional VAE); this model has no digit "
    "condition. Choose the digit you say, then record or open a file."
)
RECORD_TIP = "Record two seconds from the microphone; say one digit"
OPEN_TIP = "Use a recording of one spoken digit (WAV, FLAC or OGG, any rate); or drop one here"
ESTIMATE_TIP = (
    "What was understood of the take: its median pitch, and its size (the formant scale against the model's "
    "voices: about 1.15-1.2× for a woman's voice, 1.3-1.5× for a child's). The knobs hold the voice at the "
    "model's scale; Pitch and Formants give the take's pitch and size back."
)
HELP = "Press Record and say one digit (or open / drop a WAV): the knobs take its voice and the digit is said in it."


def file_of(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The local file a drag carries (the first one), or ``None``."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    return files[0] if files else None


class TakeComparison(pg.GraphicsLayoutWidget):
    """The take and the model's re-synthesis side by side on one frequency axis and colour scale,
    in the order "▶ Take, then model" plays them (a gap between): one row, so each keeps the full
    height even in a short window."""

    GAP_S = 0.1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(PLOT_BACKGROUND)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAcceptDrops(False)  # a dropped file goes to the panel
        self.viewport().setAcceptDrops(False)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.nyquist, self.levels = 4000.0, (-70.0, 35.0)
        self.durations = [0.0, 0.0]
        self.plot: pg.PlotItem = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideAxis("bottom")  # one time scale for both; the titles give each length
        self.plot.getAxis("left").setWidth(30)
        self.plot.getAxis("left").setToolTip("Frequency (kHz)")
        self.images = [pg.ImageItem(axisOrder="col-major") for _ in range(2)]
        self.titles = [pg.TextItem(t, color=ACCENT, anchor=(0.5, 0.0)) for t in ("Take", "Model")]
        cmap = pg.colormap.get(COLORMAP)
        for image, title in zip(self.images, self.titles, strict=True):
            image.setColorMap(cmap)
            self.plot.addItem(image)
            self.plot.addItem(title, ignoreBounds=True)
            title.setVisible(False)
        self.hint = pg.TextItem("no take yet", color=MUTED, anchor=(0.5, 0.5))
        self.plot.addItem(self.hint, ignoreBounds=True)
        self.setMinimumHeight(72)
        self.set_scale(-70.0, 35.0, 4000.0)

    def set_scale(self, db_min: float, db_max: float, nyquist_hz: float) -> None:
        """The model's dB range (colour) and Nyquist frequency (Hz, the top of the axis)."""
        self.levels, self.nyquist = (float(db_min), float(db_max)), float(nyquist_hz)
        self.plot.setYRange(0.0, self.nyquist, padding=0)
        ticks = [(k * 1000.0, f"{k}k" if k else "0") for k in range(int(self.nyquist // 1000) + 1)]
        self.plot.getAxis("left").setTicks([ticks, []])
        self._place()

    def show_row(self, row: int, image_db: np.ndarray | None, duration_s: float = 0.0) -> None:
        """Part 0 (the take) or 1 (the model): ``image_db`` ``(n_frames, n_bins)`` dB over
        ``duration_s`` seconds; ``None`` clears it."""
        if image_db is None:
            self.images[row].clear()
            self.durations[row] = 0.0
        else:
            self.durations[row] = max(float(duration_s), 1e-3)
            self.images[row].setImage(np.asarray(image_db), autoLevels=False, levels=self.levels)
        self._place()

    def _place(self) -> None:
        take, model = self.durations
        start = take + self.GAP_S if take else 0.0
        for i, (x0, d) in enumerate(((0.0, take), (start, model))):
            if d:
                self.images[i].setRect(QRectF(x0, 0.0, d, self.nyquist))
                self.titles[i].setText(f"{('Take', 'Model')[i]} {d:.2f} s")
                self.titles[i].setPos(x0 + d / 2, self.nyquist)
            self.titles[i].setVisible(bool(d))
        end = max(start + model if model else take, 0.5)
        self.hint.setPos(end / 2, self.nyquist / 2)
        self.hint.setVisible(not take)
        self.plot.setXRange(0.0, end, padding=0.01)

    def has_row(self, row: int) -> bool:
        return self.durations[row] > 0.0


class VoiceInPanel(QWidget):
    """Signals: :attr:`record_requested`, :attr:`file_chosen` (a path, from Open WAV… or a drop),
    :attr:`compare_requested` (play the take, then the model)."""

    record_requested = Signal()
    file_chosen = Signal(str)
    compare_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.devices = QComboBox()
        self.devices.setToolTip("The microphone to record from")
        self.devices.setMinimumWidth(120)
        self.meter = QProgressBar()
        self.meter.setRange(int(METER_FLOOR_DB), 0)
        self.meter.setValue(int(METER_FLOOR_DB))
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(10)
        self.meter.setMinimumWidth(60)
        self.meter.setToolTip("Input level while recording (-60 to 0 dBFS); a digit should reach past the middle")
        self.record = QPushButton("● &Record 2 s")
        self.record.setToolTip(RECORD_TIP)
        self.open = QPushButton("&Open WAV…")
        self.open.setToolTip(OPEN_TIP)
        self.digit = QComboBox()
        self.digit.addItems([AUTO, *map(str, range(10))])
        self.digit.setToolTip("The digit you say: auto recognises it (default model only)")
        self.compare = QPushButton("▶ Take, then model")
        self.compare.setToolTip("Play the take, then the model's re-synthesis of it")
        self.compare.setEnabled(False)
        self.message = QLabel(HELP)
        self.message.setWordWrap(True)
        self.message.setObjectName("muted")
        self.estimate = QLabel("")
        self.estimate.setToolTip(ESTIMATE_TIP)
        self.estimate.setVisible(False)
        self.comparison = TakeComparison()
        self.comparison.setToolTip("Your take (left) and the model's re-synthesis of it in your voice (right)")
        self.learn_button = QPushButton("&Learn my voice…")
        self.learn_button.setToolTip("Record each digit a few times and make a model that speaks in your voice")
        self.learn = LearnVoicePanel()

        top = QHBoxLayout()
        top.addWidget(QLabel("Input"))
        top.addWidget(self.devices, 2)
        top.addWidget(self.meter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.record)
        buttons.addWidget(self.open)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Digit"))
        buttons.addWidget(self.digit)
        bottom = QHBoxLayout()
        bottom.addWidget(self.learn_button)
        bottom.addStretch(1)
        bottom.addWidget(self.compare)
        self.take_page = QWidget()
        page = QVBoxLayout(self.take_page)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(4)
        page.addLayout(buttons)
        page.addWidget(self.message)
        page.addWidget(self.estimate)
        page.addWidget(self.comparison, 1)
        page.addLayout(bottom)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.take_page)
        self.pages.addWidget(self.learn)
        lay = QVBoxLayout(self)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.pages, 1)
        self.learn.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)  # (see show_learn)
        self.learn_button.clicked.connect(lambda: self.show_learn(True))
        self.learn.close_requested.connect(lambda: self.show_learn(False))
        self.record.clicked.connect(self.record_requested)
        self.open.clicked.connect(self._ask_file)
        self.compare.clicked.connect(self.compare_requested)
        self.digit.currentIndexChanged.connect(lambda _i: self._update())
        self._can_record = self._can_recognise = self._ready = False
        self._busy = False
        self.set_devices([])

    # --- state ---------------------------------------------------------------------------------

    def set_devices(self, devices: Sequence[dict], unavailable: str = "") -> None:
        """List the input ``devices`` (``vaesynth.sound.audio_in.input_devices()``); none: say ``unavailable``
        (why), keep "Open WAV…" working."""
        chosen = self.device()
        self.devices.clear()
        self._can_record = bool(devices)
        if not devices:
            self.devices.addItem("(no input device)", None)
            self.devices.setToolTip(unavailable)
        else:
            for c in device_choices(devices, "input"):
                self.devices.addItem(c.label, c.index)
                self.devices.setItemData(self.devices.count() - 1, c.tooltip, Qt.ItemDataRole.ToolTipRole)
            self.devices.setCurrentIndex(max(0, self.devices.findData(chosen)))
            self.devices.setToolTip("The microphone to record from")
        self.devices.setEnabled(self._can_record)
        if unavailable:
            self.show_message(unavailable, error=True)
        self._update()

    def has_input(self) -> bool:
        """Whether there is an input device to record from."""
        return self._can_record

    def show_learn(self, on: bool) -> None:
        """Turn to the "Learn my voice" page (``on``) or back to the take page. Only the page shown
        counts towards the tab's minimum size (the hidden one's size policy is Ignored), so the
        window keeps fitting 1024x640 while the take page is up."""
        shown, hidden = (self.learn, self.take_page) if on else (self.take_page, self.learn)
        hidden.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        shown.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.pages.setCurrentWidget(shown)
        self.pages.updateGeometry()
        if not on:
            self.learn_button.setFocus()
        elif self.learn.in_setup():
            self.learn.name.setFocus()

    def device(self) -> int | None:
        """The chosen PortAudio input index (``None``: the system default)."""
        data = self.devices.currentData()
        return int(data) if data is not None else None

    def chosen_digit(self) -> int | None:
        """The digit chosen (``None``: auto, recognise it)."""
        text = self.digit.currentText()
        return None if text == AUTO else int(text)

    def set_model(self, ready: bool, can_recognise: bool) -> None:
        """A model is (``ready``) loaded; ``can_recognise``: it tells digits apart ("auto" works)."""
        self._ready, self._can_recognise = ready, can_recognise
        item = self.digit.model().item(0)  # "auto"
        if item is not None:
            item.setEnabled(can_recognise)
            item.setToolTip("" if can_recognise else NEEDS_CVAE)
        self.digit.setToolTip("The digit you say: auto recognises it" if can_recognise else NEEDS_CVAE)
        if ready and not can_recognise and self.chosen_digit() is None:
            self.show_message(NEEDS_CVAE)
        self._update()

    def set_busy(self, busy: bool, text: str = "") -> None:
        """While a take is recorded or analysed: buttons off, ``text`` shown."""
        self._busy = busy
        self.record.setText("● Recording…" if busy and text.startswith("Recording") else "● &Record 2 s")
        if text:
            self.show_message(text)
        if not busy:
            self.set_level(None)
        self._update()

    def _update(self) -> None:
        needs_digit = not self._can_recognise and self.chosen_digit() is None
        usable = self._ready and not self._busy and not needs_digit
        self.record.setEnabled(usable and self._can_record)
        self.open.setEnabled(usable)
        self.digit.setEnabled(not self._busy)
        self.learn_button.setEnabled(not self._busy)
        why = NEEDS_CVAE if needs_digit and self._ready else ""
        self.record.setToolTip(why or (RECORD_TIP if self._can_record else self.devices.toolTip()))
        self.open.setToolTip(why or OPEN_TIP)

    # --- showing -------------------------------------------------------------------------------

    def set_level(self, db: float | None) -> None:
        """The meter at ``db`` dBFS (``None``: empty)."""
        value = METER_FLOOR_DB if db is None else min(0.0, max(METER_FLOOR_DB, float(db)))
        self.meter.setValue(int(round(value)))

    def level(self) -> float:
        return float(self.meter.value())

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        restyle(self.message, "error" if error else "")

    def message_text(self) -> str:
        return self.message.text()

    def show_take(self, image_db: np.ndarray, duration_s: float) -> None:
        """A new take: its spectrogram on the top row; the model's row empties until its render comes."""
        self.comparison.show_row(0, image_db, duration_s)
        self.comparison.show_row(1, None)
        self.compare.setEnabled(False)

    def show_estimate(self, f0_hz: float | None, scale: float, performance: Performance) -> None:
        """The take's pitch (``f0_hz``, ``None``: none found) and size (formant ``scale``), and the Pitch and
        Formants settings that give them back."""
        pitch = f"{f0_hz:.0f} Hz" if f0_hz else "no clear pitch"
        self.estimate.setText(
            f"Pitch <b>{pitch}</b> · size <b>×{scale:.2f}</b> &nbsp;→&nbsp; Pitch {performance.pitch:+.1f} st, "
            f"Formants ×{performance.formant:.2f}"
        )
        self.estimate.setVisible(True)

    def estimate_text(self) -> str:
        return self.estimate.text()

    def show_resynthesis(self, image_db: np.ndarray, duration_s: float) -> None:
        self.comparison.show_row(1, image_db, duration_s)
        self.compare.setEnabled(self.comparison.has_row(0))

    # --- files ---------------------------------------------------------------------------------

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a take", "", SOUND_FILES)
        if path:
            self.file_chosen.emit(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if file_of(event) is not None and self.pages.currentWidget() is self.take_page:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        path = file_of(event)
        if path is None:
            return
        event.acceptProposedAction()
        if self.open.isEnabled():
            self.file_chosen.emit(path)
        elif self._busy:
            self.show_message("Still working on the last take: drop the file again in a moment.", error=True)
        else:
            self.show_message(self.open.toolTip() if self._ready else "Wait for the model to load.", error=True)
