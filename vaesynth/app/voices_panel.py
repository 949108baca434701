"""Voices you keep: save the current voice under a name, load, rename, delete (:mod:`vaesynth.voices.keep`).

A saved voice holds the model, the knobs (exactly, as the engine renders them: float32), the
temperature and the performance. The list shows the voices of the model in use (others are
counted, not offered: their knobs mean nothing to this model). The window supplies the voice to
save (:meth:`VoicesPanel.set_source`) and applies a loaded one (:attr:`VoicesPanel.loaded`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class VoicesPanel(QWidget):
    """Signals: :attr:`loaded` (a :class:`vaesynth.voices.keep.SavedVoice`), :attr:`changed` (the list
    changed), :attr:`message` (what happened, in words, for the status bar)."""

    loaded = Signal(object)
    changed = Signal()
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source: Callable[[str], object] | None = None
        self._model_id = ""
        self._latent_dim = 0
        self.list = QListWidget()
        self.list.setToolTip("Your saved voices for this model (double-click to load)")
        self.list.itemDoubleClicked.connect(lambda item: self.load(item.text()))
        self.note = QLabel("")
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Keep the current voice (knobs, temperature, pitch, speed, sing) under a name")
        self.load_button = QPushButton("Load")
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete")
        self.save_button.clicked.connect(self._ask_save)
        self.load_button.clicked.connect(lambda: self._with_selected(self.load))
        self.rename_button.clicked.connect(lambda: self._with_selected(self._ask_rename))
        self.delete_button.clicked.connect(lambda: self._with_selected(self._ask_delete))
        buttons = QHBoxLayout()
        for b in (self.save_button, self.load_button, self.rename_button, self.delete_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(buttons)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.note)

    def set_source(self, source: Callable[[str], object]) -> None:
        """``source(name)`` returns the current voice as a :class:`~vaesynth.voices.keep.SavedVoice`."""
        self._source = source

    def set_model(self, model_id: str, latent_dim: int) -> None:
        """List the voices saved for ``model_id`` (with ``latent_dim`` knobs)."""
        self._model_id, self._latent_dim = model_id, latent_dim
        self.refresh()

    def names(self) -> list[str]:
        """The voices listed (those of the model in use)."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def voices(self) -> list[object]:
        """The :class:`~vaesynth.voices.keep.SavedVoice` objects listed."""
        from vaesynth.voices.keep import KeepError, load_voice

        out = []
        for name in self.names():
            try:
                out.append(load_voice(name))
            except (KeepError, OSError):
                continue
        return out

    def refresh(self) -> None:
        from vaesynth.voices.keep import KeepError, list_voices, load_voice, voices_dir

        mine, others = [], 0
        for name in list_voices():
            try:
                v = load_voice(name)
            except (KeepError, OSError):
                others += 1
                continue
            if v.model == self._model_id and len(v.knobs) == self._latent_dim:
                mine.append(name)
            else:
                others += 1
        current = self.list.currentItem().text() if self.list.currentItem() else ""
        self.list.clear()
        self.list.addItems(mine)
        if current in mine:
            self.list.setCurrentRow(mine.index(current))
        where = str(voices_dir()).replace(str(Path.home()), "~", 1)
        self.note.setText(
            (f"{others} saved voice{'s' if others != 1 else ''} of other models not shown. " if others else "")
            + (f"Kept in {where}" if mine or others else f"No saved voices yet (they go to {where})")
        )

    # --- the actions (the buttons ask, then call these) ---------------------------------------

    def save_as(self, name: str) -> bool:
        """Save the current voice as ``name`` (replacing one of that name). Returns success."""
        from vaesynth.voices.keep import KeepError, save_voice

        if self._source is None:
            return False
        try:
            save_voice(self._source(name))  # type: ignore[arg-type]
        except (KeepError, OSError, ValueError) as e:
            self.message.emit(f"Could not save the voice: {e}")
            return False
        self._done(f"Saved voice “{name}”.", name)
        return True

    def load(self, name: str) -> bool:
        from vaesynth.voices.keep import KeepError, load_voice

        try:
            voice = load_voice(name)
        except (KeepError, OSError) as e:
            self.message.emit(f"Could not load the voice: {e}")
            return False
        self.loaded.emit(voice)
        self.message.emit(f"Voice “{name}” loaded: knobs, temperature, pitch and speed set, held.")
        return True

    def rename(self, old: str, new: str) -> bool:
        from vaesynth.voices.keep import KeepError, rename_voice

        try:
            rename_voice(old, new)
        except (KeepError, OSError) as e:
            self.message.emit(f"Could not rename the voice: {e}")
            return False
        self._done(f"Renamed “{old}” to “{new}”.", new)
        return True

    def delete(self, name: str) -> bool:
        from vaesynth.voices.keep import KeepError, delete_voice

        try:
            delete_voice(name)
        except (KeepError, OSError) as e:
            self.message.emit(f"Could not delete the voice: {e}")
            return False
        self._done(f"Deleted voice “{name}”.", None)
        return True

    def _done(self, text: str, select: str | None) -> None:
        self.refresh()
        if select in self.names():
            self.list.setCurrentRow(self.names().index(select))
        self.changed.emit()
        self.message.emit(text)

    def _with_selected(self, action: Callable[[str], object]) -> None:
        item = self.list.currentItem()
        if item is None:
            self.message.emit("Choose a saved voice in the list first.")
            return
        action(item.text())

    def _ask_save(self) -> None:
        name, ok = QInputDialog.getText(self, "Save voice", "Name for this voice:")
        if ok and name.strip():
            self.save_as(name.strip())

    def _ask_rename(self, old: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename voice", f"New name for “{old}”:", text=old)
        if ok and new.strip() and new.strip() != old:
            self.rename(old, new.strip())

    def _ask_delete(self, name: str) -> None:
        answer = QMessageBox.question(self, "Delete voice", f"Delete the saved voice “{name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)
