"""Personal models in the "Learn my voice" page: the list, Rename… and Delete… (no widgets of its own).

:class:`PersonalModels` fills the page's list from the models the window lists (those in the user's
data folder, :func:`vaesynth.model.catalog.is_personal`) and renames or deletes one through
:mod:`vaesynth.model.catalog` (a refusal, e.g. a shipped model's name, is one sentence and changes
nothing). The model in use is never deleted under the engine: the default model is loaded first, and
the folder goes once it is in use. A renamed model in use is loaded again from its new folder. Either
way the window's model list is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject

from .learn_voice_panel import LearnVoicePanel
from .messages import ModelEntry, ModelInfo
from .model_loader import ModelLoader


def same_folder(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


class PersonalModels(QObject):
    """``say(text, error)``: the page's message line and the status bar; ``blocked()``: whether a model
    is being learned (no renaming or deleting meanwhile)."""

    def __init__(
        self,
        panel: LearnVoicePanel,
        models: ModelLoader,
        say: Callable[[str, bool], None],
        blocked: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.models, self._say, self._blocked = panel, models, say, blocked
        self.entries: list[ModelEntry] = []  # every model listed (the default one is found here)
        self.deleting: str | None = None  # a folder to delete once another model is in use
        models.listed.connect(self._on_listed)
        models.loaded.connect(self._on_loaded)
        models.failed.connect(self._on_failed)
        panel.rename_requested.connect(self.rename)
        panel.delete_requested.connect(self.delete)

    @property
    def busy(self) -> bool:
        """Waiting for the default model before a delete."""
        return self.deleting is not None

    def _on_listed(self, entries: list[ModelEntry]) -> None:
        from vaesynth.model.catalog import is_personal

        self.entries = list(entries)
        self.panel.set_personal([(e.display_name, e.path) for e in entries if e.path and is_personal(e.path)])

    def _in_use(self, folder: str) -> bool:
        info = self.models.info
        return info is not None and same_folder(info.path, folder)

    def rename(self, folder: str, new_name: str) -> None:
        """Rename the personal model in ``folder`` to ``new_name``."""
        if self._blocked() or self.busy:
            return
        from vaesynth.model.bundle import BundleError
        from vaesynth.model.catalog import rename_personal

        in_use = self._in_use(folder)
        try:
            new = rename_personal(Path(folder).name, new_name)
        except BundleError as e:
            self._say(str(e), True)
            return
        except OSError as e:
            self._say(f"Could not rename the model: {e.strerror or e}", True)
            return
        self._say(f"Renamed “{Path(folder).name}” to “{new.name}”", False)
        self.models.relist(then=new if in_use else None)

    def delete(self, folder: str) -> None:
        """Delete the personal model in ``folder`` (the model in use: after the default model is loaded)."""
        if self._blocked() or self.busy:
            return
        if not self._in_use(folder):
            self._delete_now(folder)
            return
        from vaesynth.model.catalog import is_personal

        default = next((e.path for e in self.entries if e.path and not e.error and not is_personal(e.path)), None)
        if default is None:
            self._say("Nothing was deleted: there is no other model to switch to", True)
            return
        self.deleting = folder
        self.panel.set_manage_enabled(False)
        self._say(f"Switching to {Path(default).name} before deleting “{Path(folder).name}”…", False)
        self.models.load(default)

    def _on_loaded(self, info: ModelInfo) -> None:
        folder = self.deleting
        if folder is not None and not same_folder(info.path, folder):
            self.deleting = None
            self._delete_now(folder)

    def _on_failed(self, text: str, _in_use: bool) -> None:
        if self.deleting is not None:
            self.deleting = None
            self.panel.set_manage_enabled(not self._blocked())
            self._say(f"Nothing was deleted: {text}", True)

    def _delete_now(self, folder: str) -> None:
        from vaesynth.model.bundle import BundleError
        from vaesynth.model.catalog import delete_personal

        self.panel.set_manage_enabled(not self._blocked())
        try:
            delete_personal(Path(folder).name)
        except BundleError as e:
            self._say(str(e), True)
            return
        except OSError as e:
            self._say(f"Could not delete the model: {e.strerror or e}", True)
            return
        self._say(f"Deleted “{Path(folder).name}”", False)
        self.models.relist()
