"""The toolbar's two pickers: which model speaks (:class:`ModelPicker`) and where the sound goes
(:class:`DevicePicker`). Each is a ``QComboBox`` over a small, widget-free list model
(:func:`initial_model`, :func:`device_choices`) that is tested on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from .audio_bridge import AudioBridge
from .messages import ModelEntry
from .settings import AppSettings

OPEN_BUNDLE = "Open bundle…"
SYSTEM_DEFAULT = "System default"
# PortAudio (ALSA host API) names that are routes to the system's default output, not devices
DEFAULT_ALIASES = frozenset({"default", "sysdefault", "pulse", "pipewire", "jack"})


# --- models ---------------------------------------------------------------------------------


def initial_model(entries: Sequence[ModelEntry], requested: str | None, remembered: str | None) -> str | None:
    """The bundle to load first: the ``requested`` name or folder, else the ``remembered`` path
    if still listed and readable, else the first readable entry (``None``: nothing to load)."""
    if requested:
        return next((e.path for e in entries if requested in (e.name, e.path)), requested)
    usable = [e for e in entries if not e.error]
    if remembered and any(e.path == remembered for e in usable):
        return remembered
    return usable[0].path if usable else None


def with_opened(entries: Sequence[ModelEntry], opened: Sequence[str]) -> list[ModelEntry]:
    """``entries`` plus the bundle folders opened before (still on disk, not listed already)."""
    out = list(entries)
    for p in opened:
        if Path(p).is_dir() and all(e.path != p for e in out):
            out.append(ModelEntry(Path(p).name, Path(p).name, p))
    return out


def model_label(entry: ModelEntry) -> str:
    label = entry.display_name + (f"  ·  {entry.latent_dim}-D" if entry.latent_dim else "")
    return label + ("  (unreadable)" if entry.error else "")


class ModelPicker(QComboBox):
    """The model list, then **Open bundle…** (a folder dialog). Emits :attr:`model_chosen` (a
    bundle path) when the user picks a model other than the current one or opens a folder."""

    model_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(200)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setToolTip("The VAE that speaks. Open bundle… loads a model folder from disk.")
        self.addItem("Loading…")
        self._entries: list[ModelEntry] = []
        self._current: str | None = None
        self.activated.connect(self._on_activated)

    @property
    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    def set_entries(self, entries: Sequence[ModelEntry]) -> None:
        self._entries = [e for e in entries if e.path]
        self.blockSignals(True)
        self.clear()
        for e in self._entries:
            self.addItem(model_label(e), e.path)
            if e.error:
                self.setItemData(self.count() - 1, e.error, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem(OPEN_BUNDLE, None)
        self.blockSignals(False)
        self.select(self._current)

    def add_entry(self, entry: ModelEntry) -> bool:
        """Add ``entry`` unless its path is listed; returns whether it was added."""
        if any(e.path == entry.path for e in self._entries):
            return False
        self.set_entries([*self._entries, entry])
        return True

    def display_name(self, path: str) -> str:
        return next((e.display_name for e in self._entries if e.path == path), Path(path).name)

    def select(self, path: str | None) -> None:
        """Show ``path`` as the current model (no signal)."""
        self._current = path
        i = self.findData(path) if path is not None else -1
        if i >= 0:
            self.blockSignals(True)
            self.setCurrentIndex(i)
            self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        path = self.itemData(index)
        if path is None:
            self.select(self._current)  # back to the model in use until another one loads
            folder = QFileDialog.getExistingDirectory(self, "Open a model bundle folder")
            if folder:
                self.model_chosen.emit(folder)
        elif path != self._current:
            self.model_chosen.emit(str(path))


# --- sound output ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceChoice:
    """One line of the output list: ``index`` ``None`` is the system default."""

    label: str
    index: int | None
    tooltip: str


def device_choices(devices: Sequence[dict], kind: str = "output") -> list[DeviceChoice]:
    """The output (or input: ``kind``) list for PortAudio ``devices`` (``{"index", "name",
    "default_samplerate", "default"}``): "System default" first, then the real devices. Routes that
    only lead to the system default (``default``, ``pulse``, ``sysdefault``...) are one entry, not
    three: they are named in the default's tooltip instead."""
    aliases = [d for d in devices if str(d.get("name", "")).strip().lower() in DEFAULT_ALIASES]
    hidden = {id(d) for d in aliases}
    via = ", ".join(str(d.get("name")) for d in devices if id(d) in hidden)
    out = [DeviceChoice(SYSTEM_DEFAULT, None, f"The system's default {kind}" + (f" (via {via})" if via else ""))]
    for d in devices:
        if id(d) in hidden:
            continue
        rate = float(d.get("default_samplerate") or 0)
        out.append(
            DeviceChoice(
                str(d.get("name", d.get("index"))), d.get("index"), f"PortAudio device {d.get('index')}, {rate:.0f} Hz"
            )
        )
    return out


class DevicePicker(QComboBox):
    """The output list. Emits :attr:`device_chosen` (PortAudio index or ``None``, and the label)."""

    device_chosen = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(160)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setToolTip("Where the sound goes")
        self.addItem("Starting audio…")
        self.setEnabled(False)
        self.activated.connect(lambda i: self.device_chosen.emit(self.itemData(i), self.itemText(i)))

    def bind(self, audio: AudioBridge, settings: AppSettings | None) -> None:
        """Follow ``audio``'s devices, send choices to it, and remember the choice by name in
        ``settings`` (restored when the output first reports; ``None``: nothing is remembered)."""
        first = [True]

        def on_state(available: bool, _status: str, devices: list) -> None:
            self.set_devices(available, devices, audio.device)
            if available and first[0] and settings is not None:
                index = self.index_of_name(settings.device_name)
                if index is not None:
                    audio.set_device(index)
            first[0] = False

        def on_chosen(index: int | None, label: str) -> None:
            if settings is not None:
                settings.device_name = "" if index is None else label
            audio.set_device(index)

        audio.state_changed.connect(on_state)
        self.device_chosen.connect(on_chosen)

    def set_devices(self, available: bool, devices: Sequence[dict], current: int | None) -> None:
        """List ``devices`` (or say there is no output) and show ``current`` as chosen."""
        self.blockSignals(True)
        self.clear()
        if available:
            for c in device_choices(devices):
                self.addItem(c.label, c.index)
                self.setItemData(self.count() - 1, c.tooltip, Qt.ItemDataRole.ToolTipRole)
        else:
            self.addItem("No output device", None)
        self.setEnabled(available)
        i = self.findData(current) if current is not None else -1
        self.setCurrentIndex(max(0, i))
        self.blockSignals(False)

    def index_of_name(self, name: str) -> int | None:
        """The PortAudio index of the listed device called ``name`` (``None`` if not listed)."""
        i = self.findText(name) if name else -1
        return self.itemData(i) if i > 0 else None
