"""The "Learn my voice" page of the Mic tab (widgets only).

:class:`LearnVoicePanel` has three parts, one shown at a time, so that it fits the Mic tab at
1024x640 too: the set-up (a name for the model, takes per digit, **Start**, and the personal models
with **Rename…** and **Delete…**), the takes (the prompt "Say “7” (take 2 of 2)", the ten digits with a
tick per take that is in, the last take's spectrogram, **Record**, **Redo**, **Back**), and, below the
takes, **Learn** with a progress bar and **Cancel**. A message line under all of them says what
happened, in one sentence. Everything is reachable by keyboard (Tab, the underlined letters, Escape
to cancel or close: on this page it is not the window's Stop). No recording, no files, no process here:
:class:`~vaesynth.app.learn_voice_control.LearnVoiceController` does that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vaesynth.digits import N_DIGITS

from .spectrogram import COLORMAP
from .theme import ACCENT, MUTED, PLOT_BACKGROUND, TEXT, restyle

SETUP_HELP = (
    "Say each digit when asked; every take is checked. Then the default model learns your voice in the "
    "background (a few minutes) and the new model is added to the model list."
)
NO_PERSONAL = "No personal models yet."
PROGRESS_STEPS = 1000  # the progress bar's resolution


def box(lay: QBoxLayout, *items: object, margins: int | None = None) -> QBoxLayout:
    """``lay`` filled with ``items`` in order: a widget or layout, ``(widget or layout, stretch)``, or
    ``None`` for a stretch; ``margins``: its contents margins (``None``: the style's)."""
    for item in items:
        what, stretch = item if isinstance(item, tuple) else (item, 0)
        if what is None:
            lay.addStretch(1)
        elif isinstance(what, QLayout):
            lay.addLayout(what, stretch)
        else:
            lay.addWidget(what, stretch)  # type: ignore[arg-type]
    if margins is not None:
        lay.setContentsMargins(margins, margins, margins, margins)
    return lay


class TakeThumbnail(pg.GraphicsLayoutWidget):
    """The last take's spectrogram, small: ``(n_frames, n_bins)`` dB over its duration, with a title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(PLOT_BACKGROUND)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.plot: pg.PlotItem = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideAxis("bottom")
        self.plot.hideAxis("left")
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setColorMap(pg.colormap.get(COLORMAP))
        self.plot.addItem(self.image)
        self.title = pg.TextItem("no take yet", color=MUTED, anchor=(0.5, 0.5))
        self.plot.addItem(self.title, ignoreBounds=True)
        self.setMinimumHeight(60)
        self.levels, self.nyquist, self.duration = (-70.0, 35.0), 4000.0, 0.0
        self.clear_take()

    def set_scale(self, db_min: float, db_max: float, nyquist_hz: float) -> None:
        """The model's dB range (colour) and Nyquist frequency (Hz)."""
        self.levels, self.nyquist = (float(db_min), float(db_max)), float(nyquist_hz)

    def show_take(self, image_db: np.ndarray, duration_s: float, title: str) -> None:
        self.duration = max(float(duration_s), 1e-3)
        self.image.setImage(np.asarray(image_db), autoLevels=False, levels=self.levels)
        self.image.setRect(QRectF(0.0, 0.0, self.duration, self.nyquist))
        self.image.setVisible(True)
        self.title.setText(title)
        self.title.setColor(ACCENT)
        self.title.setAnchor((0.5, 0.0))
        self._place()

    def clear_take(self, text: str = "no take yet") -> None:
        self.duration = 0.0
        self.image.setVisible(False)
        self.title.setText(text)
        self.title.setColor(MUTED)
        self.title.setAnchor((0.5, 0.5))
        self._place()

    def has_take(self) -> bool:
        return self.duration > 0.0

    def _place(self) -> None:
        end = max(self.duration, 0.5)
        self.plot.setXRange(0.0, end, padding=0.01)
        self.plot.setYRange(0.0, self.nyquist, padding=0)
        self.title.setPos(end / 2, self.nyquist if self.duration else self.nyquist / 2)


class DigitStrip(QWidget):
    """The ten digits in a row, each with a tick per take that is in; the digit asked for is framed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = [QLabel() for _ in range(N_DIGITS)]
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        for label in self.labels:
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumWidth(22)
            lay.addWidget(label, 1)
        self.counts, self.per_digit, self.current = [0] * N_DIGITS, 1, None
        self.show_counts([0] * N_DIGITS, 1, None)

    def show_counts(self, counts: Sequence[int], per_digit: int, current: int | None) -> None:
        """``counts[d]`` takes of digit ``d`` are in, of ``per_digit``; ``current``: the digit asked for."""
        self.counts, self.per_digit, self.current = list(counts), per_digit, current
        for d, (label, n) in enumerate(zip(self.labels, counts, strict=True)):
            ticks = "✓" * n + "·" * (per_digit - n)
            colour = TEXT if n >= per_digit else (ACCENT if d == current else MUTED)
            border = f"1px solid {ACCENT}" if d == current else "1px solid transparent"
            label.setText(f"<b>{d}</b><br><span style='font-size:11px'>{ticks}</span>")
            label.setStyleSheet(f"color: {colour}; border: {border}; border-radius: 4px;")
            label.setToolTip(f"“{d}”: {n} of {per_digit} takes in")


class LearnVoicePanel(QWidget):
    """Signals: :attr:`start_requested` (name, takes per digit), :attr:`record_requested`,
    :attr:`redo_requested`, :attr:`back_requested`, :attr:`learn_requested`, :attr:`cancel_requested`,
    :attr:`close_requested` (back to the Mic page), :attr:`rename_requested` (bundle folder, new name),
    :attr:`delete_requested` (bundle folder). The name check happens in the controller."""

    start_requested = Signal(str, int)
    record_requested = Signal()
    redo_requested = Signal()
    back_requested = Signal()
    learn_requested = Signal()
    cancel_requested = Signal()
    close_requested = Signal()
    rename_requested = Signal(str, str)
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Learn my voice")
        title.setStyleSheet(f"color: {ACCENT}; font-weight: bold;")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Back to the Mic page (Escape)")

        # --- set-up: name, takes per digit, personal models
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. My voice")
        self.name.setMaxLength(40)
        self.name.setToolTip("The new model's name in the model list (1-40 letters, digits, spaces or . ' + - _)")
        name_label = QLabel("&Name")
        name_label.setBuddy(self.name)
        self.per_digit = QSpinBox()
        self.per_digit.setRange(1, 3)
        self.per_digit.setValue(2)
        self.per_digit.setToolTip("How many takes of each digit to record (more takes: a closer likeness)")
        takes_label = QLabel("&Takes")
        takes_label.setBuddy(self.per_digit)
        self.start = QPushButton("&Start")
        self.start.setToolTip("Check the name, then ask for each digit in turn")
        self.personal = QListWidget()
        self.personal.setToolTip("Models learned from your voice (in your data folder)")
        self.personal.setMinimumHeight(48)
        self.rename = QPushButton("&Rename…")
        self.delete = QPushButton("&Delete…")
        help_label = QLabel(SETUP_HELP)
        help_label.setWordWrap(True)
        help_label.setObjectName("muted")
        self.setup = QWidget()
        row = box(QHBoxLayout(), name_label, (self.name, 1), takes_label, self.per_digit, self.start)
        models = box(QHBoxLayout(), (self.personal, 1), box(QVBoxLayout(), self.rename, self.delete, None))
        box(QVBoxLayout(self.setup), row, help_label, QLabel("Personal models"), (models, 1), margins=0)

        # --- the takes
        self.prompt = QLabel("")
        self.prompt.setStyleSheet(f"color: {ACCENT}; font-size: 18px; font-weight: bold;")
        self.strip = DigitStrip()
        self.thumbnail = TakeThumbnail()
        self.thumbnail.setToolTip("The last take as it was heard")
        self.record = QPushButton("● &Record")
        self.record.setToolTip("Record two seconds from the microphone: say the digit shown")
        self.redo = QPushButton("R&edo")
        self.redo.setToolTip("Record the last take again")
        self.back = QPushButton("&Back")
        self.back.setToolTip("Go back one take (record it again with Record)")
        self.takes = QWidget()
        buttons = box(QHBoxLayout(), self.record, self.redo, self.back, None)
        box(QVBoxLayout(self.takes), self.prompt, self.strip, (self.thumbnail, 1), buttons, margins=0)

        # --- learning
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setFormat("%p%")
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("muted")
        self.learn = QPushButton("&Learn")
        self.learn.setToolTip("Adapt the default model to your takes (in the background); the new model is then used")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop: recording, or learning (no model is made) (Escape)")
        self.learning = QWidget()
        row = box(QHBoxLayout(), (self.progress, 1), self.learn, self.cancel)
        box(QVBoxLayout(self.learning), row, self.progress_text, margins=0)

        self.message = QLabel("")
        self.message.setWordWrap(True)
        head = box(QHBoxLayout(), title, None, self.close_button)
        box(QVBoxLayout(self), head, (self.setup, 1), (self.takes, 1), self.learning, self.message).setSpacing(4)

        self.start.clicked.connect(self._on_start)
        self.name.returnPressed.connect(self._on_start)
        self.record.clicked.connect(self.record_requested)
        self.redo.clicked.connect(self.redo_requested)
        self.back.clicked.connect(self.back_requested)
        self.learn.clicked.connect(self.learn_requested)
        self.cancel.clicked.connect(self.cancel_requested)
        self.close_button.clicked.connect(self.close_requested)
        self.rename.clicked.connect(self._ask_rename)
        self.delete.clicked.connect(self._ask_delete)
        self.personal.currentRowChanged.connect(lambda _r: self._update_manage())
        self._manage_enabled = True
        self.show_setup()

    # --- the three parts -----------------------------------------------------------------------

    def show_setup(self, ask_name: bool = True) -> None:
        """The set-up part: a name, takes per digit, the personal models. ``ask_name``: the focus goes to
        the name field; else (a model was just made) to Close, so that the digit keys speak again."""
        self.setup.setVisible(True)
        self.takes.setVisible(False)
        self.learning.setVisible(False)
        self.start.setDefault(ask_name)
        (self.name if ask_name else self.close_button).setFocus()

    def show_takes(self, per_digit: int) -> None:
        """The takes part (and Learn / Cancel under it), for ``per_digit`` takes of each digit."""
        self.setup.setVisible(False)
        self.takes.setVisible(True)
        self.learning.setVisible(True)
        self.thumbnail.clear_take()
        self.strip.show_counts([0] * N_DIGITS, per_digit, 0)
        self.set_progress(None)
        self.record.setFocus()

    def in_setup(self) -> bool:
        return not self.setup.isHidden()

    def set_prompt(self, digit: int | None, take: int, per_digit: int, learning: str = "") -> None:
        """Ask for ``digit`` (take ``take`` of ``per_digit``); ``None``: every take is in; ``learning``: the
        name of the model being learned (the prompt says so instead)."""
        if learning:
            self.prompt.setText(f"Learning “{learning}”…")
        elif digit is None:
            self.prompt.setText("All takes are in: press Learn")
        else:
            self.prompt.setText(f"Say “{digit}”  (take {take} of {per_digit})")

    def set_buttons(self, *, record: bool, redo: bool, back: bool, learn: bool, cancel: bool) -> None:
        """Which of the takes' and learning's buttons can be pressed now; the focus goes to the one to press next."""
        for button, on in ((self.record, record), (self.redo, redo), (self.back, back), (self.learn, learn)):
            button.setEnabled(on)
        self.cancel.setEnabled(cancel)
        self.learn.setDefault(learn)
        self.record.setDefault(record and not learn)
        focus = self.learn if learn else self.record if record else self.cancel if cancel else None
        if focus is not None and self.isVisible() and not (self.redo.hasFocus() and redo):
            focus.setFocus()

    def set_progress(self, fraction: float | None, text: str = "") -> None:
        """The learning's progress (0..1; ``None``: not learning) and what it is doing."""
        self.progress.setValue(0 if fraction is None else round(min(1.0, max(0.0, fraction)) * PROGRESS_STEPS))
        self.progress.setEnabled(fraction is not None)
        self.progress.setTextVisible(fraction is not None)
        self.progress_text.setText(text)
        self.progress_text.setVisible(bool(text))

    def progress_fraction(self) -> float:
        return self.progress.value() / PROGRESS_STEPS

    # --- messages and the personal models ------------------------------------------------------

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        restyle(self.message, "error" if error else "")

    def message_text(self) -> str:
        return self.message.text()

    def set_personal(self, models: Sequence[tuple[str, str]]) -> None:
        """The personal models: ``(display name, bundle folder)`` each."""
        chosen = self.chosen_personal()
        self.personal.clear()
        for name, path in models:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.personal.addItem(item)
        if not models:
            item = QListWidgetItem(NO_PERSONAL)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.personal.addItem(item)
        paths = [p for _n, p in models]
        self.personal.setCurrentRow(paths.index(chosen) if chosen in paths else 0 if models else -1)
        self._update_manage()

    def personal_names(self) -> list[str]:
        items = (self.personal.item(i) for i in range(self.personal.count()))
        return [it.text() for it in items if it.data(Qt.ItemDataRole.UserRole)]

    def chosen_personal(self) -> str | None:
        """The folder of the personal model chosen in the list (``None``: none)."""
        item = self.personal.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def choose_personal(self, name: str) -> None:
        found = self.personal.findItems(name, Qt.MatchFlag.MatchExactly)
        if found:
            self.personal.setCurrentItem(found[0])

    def set_manage_enabled(self, enabled: bool) -> None:
        """Rename and Delete are off while a model is being learned or switched."""
        self._manage_enabled = enabled
        self._update_manage()

    def _update_manage(self) -> None:
        chosen = self.chosen_personal() is not None
        self.rename.setEnabled(chosen and self._manage_enabled)
        self.delete.setEnabled(chosen and self._manage_enabled)
        self.start.setEnabled(self._manage_enabled)

    def _ask_rename(self) -> None:
        path, item = self.chosen_personal(), self.personal.currentItem()
        if path is None or item is None:
            return
        normal = QLineEdit.EchoMode.Normal
        new, ok = QInputDialog.getText(self, "Rename a personal model", "New name:", normal, item.text())
        if ok and new.strip() and new.strip() != item.text():
            self.rename_requested.emit(path, new.strip())

    def _ask_delete(self) -> None:
        path, item = self.chosen_personal(), self.personal.currentItem()
        if path is None or item is None:
            return
        answer = QMessageBox.question(
            self, "Delete a personal model", f"Delete the model “{item.text()}”? This cannot be undone."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_requested.emit(path)

    def _on_start(self) -> None:
        if self.start.isEnabled() and self.in_setup():
            self.start_requested.emit(self.name.text().strip(), self.per_digit.value())

    # Escape, while the focus is on this page, cancels (or closes the page) rather than being the window's
    # Stop: the page takes it before the window's shortcut would

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._is_escape(event):  # type: ignore[arg-type]
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if not self._is_escape(event):
            super().keyPressEvent(event)
        elif self.in_setup():
            self.close_requested.emit()
        elif self.cancel.isEnabled():
            self.cancel_requested.emit()

    @staticmethod
    def _is_escape(event: QKeyEvent) -> bool:
        return event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier
