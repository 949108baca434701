"""Which model is loaded: lists bundles, chooses the first, loads through the engine, keeps the
model picker and the list of bundles opened from disk in step. No widgets of its own.

Each load starts a new generation in the :class:`~vaesynth.app.scheduler.RenderScheduler`, so
renders of a replaced model are dropped; a failed load leaves the model in use in place.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from .engine import Engine
from .messages import ModelEntry, ModelInfo
from .pickers import ModelPicker, initial_model, with_opened
from .scheduler import RenderScheduler
from .settings import AppSettings

MAX_OPENED = 8


class ModelLoader(QObject):
    """Signals: :attr:`loading` (path, display name) before a load starts, :attr:`loaded`
    (:class:`ModelInfo`) when a model is in use, :attr:`failed` (message in words, whether a
    model is still in use), :attr:`listed` (the entries found)."""

    listed = Signal(list)
    loading = Signal(str, str)
    loaded = Signal(object)
    failed = Signal(str, bool)

    def __init__(
        self,
        engine: Engine,
        scheduler: RenderScheduler,
        picker: ModelPicker,
        settings: AppSettings | None,
        requested: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``settings``: where the model in use and opened bundles persist (``None``: nowhere);
        ``requested``: a bundle name or folder to load first instead of the remembered one."""
        super().__init__(parent)
        self._engine, self._scheduler, self._picker = engine, scheduler, picker
        self._settings = settings
        self._requested = requested
        self._tried: set[str] = set()  # bundles that failed to load while no model was in use
        self._root: str | None = None
        self._after_list: list[str | None] = []  # per list asked for: None (the first: choose a model) or what to load
        self.info: ModelInfo | None = None
        self.loading_path: str | None = None
        engine.models_listed.connect(self._on_listed)
        engine.model_loaded.connect(self._on_loaded)
        engine.model_failed.connect(self._on_failed)
        picker.model_chosen.connect(self.load)

    @property
    def ready(self) -> bool:
        """A model is loaded and no other is on its way."""
        return self.info is not None and self.loading_path is None

    def list_models(self, root: str | None) -> None:
        """List the bundles under ``root`` (default: the shipped ones), then load the first model."""
        self._root = root
        self._after_list.append(None)
        self._engine.list_models(root)

    def relist(self, then: str | Path | None = None) -> None:
        """List the bundles again (a personal model was made, renamed or deleted) and keep the model in
        use; ``then``: a bundle folder to load once the list is in."""
        self._after_list.append(str(then) if then else "")
        self._engine.list_models(self._root)

    def load(self, path: str | Path) -> None:
        """Load the bundle at ``path`` off the GUI thread."""
        path = str(path)
        self.loading.emit(path, self._picker.display_name(path))
        self.loading_path = path
        self._engine.load_model(path, self._scheduler.new_generation())

    def _on_listed(self, entries: list[ModelEntry]) -> None:
        s = self._settings
        self._picker.set_entries(with_opened([e for e in entries if e.path], s.opened_models() if s else []))
        self.listed.emit(self._picker.entries)
        then = self._after_list.pop(0) if self._after_list else None
        if then is not None:  # a list asked for again: the model in use stays unless told otherwise
            if then:
                self.load(then)
            return
        target = initial_model(self._picker.entries, self._requested, s.model_path if s else None)
        if target:
            self.load(target)
            return
        problems = [e.error for e in entries if e.error]
        self.failed.emit(problems[0] if problems else "No models found. Use Open bundle… to load one.", False)

    def _on_loaded(self, info: ModelInfo) -> None:
        if info.generation != self._scheduler.generation:
            return
        self.info = info
        self.loading_path = None
        # Everything alive now (Qt, pyqtgraph, torch, the model) lives as long as the app: keep it
        # out of the cyclic GC, whose full passes over ~200k objects would stall the GUI for 50+ ms.
        gc.freeze()
        if (
            self._picker.add_entry(ModelEntry(info.name, info.display_name, info.path, info.latent_dim))
            and self._settings
        ):
            opened = [p for p in self._settings.opened_models() if p != info.path]
            self._settings.set_opened_models(opened[-(MAX_OPENED - 1) :] + [info.path])
        self._picker.select(info.path)
        if self._settings:
            self._settings.model_path = info.path
        self.loaded.emit(info)

    def _on_failed(self, path: str, message: str, generation: int, current: ModelInfo | None) -> None:
        if generation != self._scheduler.generation:
            return  # a newer load is on its way
        self.loading_path = None
        if current is None:
            self._tried.add(path)
            fallback = next((e.path for e in self._picker.entries if not e.error and e.path not in self._tried), None)
            if fallback is not None:  # e.g. a remembered bundle that is broken now: start with a good one
                self.failed.emit(f"Could not load the model at {path}: {message} Opening {fallback} instead.", True)
                self.load(fallback)
                return
            self.failed.emit(f"Could not load the model at {path}: {message}", False)
            return
        self._scheduler.adopt_generation(current.generation)  # the engine still holds it: keep using it
        if self.info is None or self.info.generation != current.generation:
            self._on_loaded(current)
        self._picker.select(current.path)
        self.failed.emit(f"Could not load {path}: {message} Still using {current.display_name}.", True)
