""" "Learn my voice": guided takes of every digit -> an adapted personal model (no widgets of its own).

:class:`LearnVoiceController` drives the :class:`~vaesynth.app.learn_voice_panel.LearnVoicePanel` of the
Mic tab. It asks for each digit in turn (:class:`~vaesynth.app.learn_session.LearnSession`), records a
take with the Mic tab's input device and level meter (in a short-lived thread, as the Mic tab does), and
has the engine thread check it exactly as a Mic take is checked (:meth:`Engine.analyse_take`: level,
clipping, length, and the recogniser must hear the digit asked for; a model that cannot recognise
digits checks the rest). A take that passes is written as a 16-bit WAV ``{digit}_{k}.wav``
(:func:`vaesynth.sound.wavfile.write_wav`: atomic, never through a link) into a fresh folder
``takes/<name>`` beside the personal models; one that fails is one sentence, and Redo records it again.

**Learn** adapts the default model to the takes in a child process
(:class:`~vaesynth.app.adapt_process.AdaptProcess`: progress bar, Cancel); on success the window lists
its models again and loads the new one. A cancelled or failed run makes no model (the child removes
its staging folder; a hidden one is never listed). Personal models are renamed and deleted by
:class:`~vaesynth.app.personal_models.PersonalModels`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from .adapt_process import AdaptProcess, sentence
from .engine import Engine
from .learn_session import TAKES_DIR, LearnSession, fresh_folder
from .learn_voice_panel import LearnVoicePanel
from .messages import ModelInfo, TakeRequest, TakeResult
from .model_loader import ModelLoader
from .personal_models import PersonalModels, same_folder
from .take_recorder import TAKE_S, TakeRecorder
from .voice_in_panel import VoiceInPanel


class LearnVoiceController(QObject):
    """Drives ``panel``; ``mic``: the Mic tab's panel (its input device and level meter); ``status``:
    the status bar. :attr:`steps`: a training-steps override for the child (tests; ``None``: its default).

    Signals for listeners: :attr:`take_kept` (digit, k, file), :attr:`take_refused` (the sentence),
    :attr:`take_checked` (kept or not, the sentence shown: after either of the two),
    :attr:`learned` (the new model's folder, once it is in use), :attr:`learn_failed` (the sentence),
    :attr:`learn_cancelled`. Internal: the :attr:`recorder`'s signals (from the
    recording thread, queued to the GUI thread).
    """

    take_kept = Signal(int, int, str)
    take_refused = Signal(str)
    take_checked = Signal(bool, str)
    learned = Signal(str)
    learn_failed = Signal(str)
    learn_cancelled = Signal()

    def __init__(
        self,
        panel: LearnVoicePanel,
        mic: VoiceInPanel,
        engine: Engine,
        models: ModelLoader,
        status: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.mic, self.engine, self.models, self._status = panel, mic, engine, models, status
        self.steps: int | None = None
        self.session: LearnSession | None = None
        self.pending: TakeRequest | None = None
        self.recording = False
        self.adapt = AdaptProcess(self)
        self.personal = PersonalModels(panel, models, lambda t, e: self._say(t, e), lambda: self.learning, self)
        self._samples: tuple[object, int] | None = None  # the take being checked, as recorded
        self._awaiting: str | None = None  # the new model's folder until it is loaded
        self._closed = False
        self.recorder = TakeRecorder("vaesynth-learn-take", self)
        queued = Qt.ConnectionType.QueuedConnection
        self.recorder.level.connect(mic.set_level, queued)
        self.recorder.recorded.connect(self._on_recorded, queued)
        self.recorder.record_failed.connect(self._on_record_failed, queued)
        engine.take_analysed.connect(self._on_analysed)
        engine.take_failed.connect(self._on_take_failed)
        models.loaded.connect(self._on_model_loaded)
        models.failed.connect(self._on_model_failed)
        self.adapt.progress.connect(self._on_progress)
        self.adapt.succeeded.connect(self._on_succeeded)
        self.adapt.failed.connect(self._on_learn_failed)
        self.adapt.cancelled.connect(self._on_learn_cancelled)
        panel.start_requested.connect(self.start)
        panel.record_requested.connect(self.record)
        panel.redo_requested.connect(self.redo)
        panel.back_requested.connect(self.back)
        panel.learn_requested.connect(self.learn)
        panel.cancel_requested.connect(self.cancel)

    # --- state ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A take is being recorded or checked."""
        return self.recording or self.pending is not None

    @property
    def learning(self) -> bool:
        return self.adapt.running

    def _say(self, text: str, error: bool = False, status: bool = True) -> None:
        text = sentence(text)
        self.panel.show_message(text, error)
        if status:
            self._status(f"Learn my voice: {text}")

    def _update(self) -> None:
        s = self.session
        if s is None:
            self.panel.set_manage_enabled(not self.learning and not self.personal.busy)
            return
        current = s.current()
        learning = s.name if self.learning else ""
        self.panel.set_prompt(*(current or (None, 0)), s.per_digit, learning)
        self.panel.strip.show_counts(s.counts(), s.per_digit, current[0] if current else None)
        idle = not self.busy and not self.learning
        can = idle and self.models.ready and self.mic.has_input()
        self.panel.set_buttons(
            record=can and current is not None,
            redo=can and s.last is not None,
            back=idle and s.position > 0,
            learn=idle and s.complete,
            cancel=not self.busy,
        )
        self.panel.record.setToolTip(
            "Record two seconds from the microphone: say the digit shown"
            if self.mic.has_input()
            else "No audio input device found: connect a microphone and start vaesynth again"
        )

    # --- the takes -----------------------------------------------------------------------------

    def start(self, name: str, per_digit: int) -> None:
        """Check ``name`` (a new personal model's), make a fresh takes folder, ask for "0"."""
        if self.session is not None or self.learning:
            return
        from vaesynth.model.bundle import BundleError
        from vaesynth.model.catalog import check_personal_name, user_models_dir

        try:
            name = check_personal_name(name)
            if (user_models_dir() / name).exists():
                raise BundleError(f"a personal model named {name!r} exists already: choose another name or delete it")
            folder = fresh_folder(user_models_dir().parent / TAKES_DIR / name)
        except BundleError as e:
            self._say(str(e), error=True)
            return
        except OSError as e:
            self._say(f"Could not make a folder for the takes: {e.strerror or e}", error=True)
            return
        self.session = LearnSession(name, max(1, min(3, int(per_digit))), folder)
        self.panel.show_takes(self.session.per_digit)
        self._say(f"Press Record, then say the digit shown ({TAKE_S:g} s each). Takes go to {folder}.", status=False)
        self._status(f"Learn my voice: recording {len(self.session.prompts)} takes for “{name}”.")
        self._update()

    def record(self) -> None:
        """Record the take asked for now (:data:`TAKE_S` seconds, in a thread of its own)."""
        s = self.session
        if s is None or s.current() is None or self.busy or self.learning or not self.models.ready:
            return
        self.recording = True
        digit, k = s.current()  # type: ignore[misc]
        self._say(f"Recording: say “{digit}” now…", status=False)
        self._status(f"Recording take {k} of “{digit}”…")
        self._update()
        device = self.mic.device()
        self.recorder.start(device)

    def redo(self) -> None:
        """Record the newest take again (the one just kept, or the one refused)."""
        s = self.session
        if s is None or s.last is None or self.busy or self.learning:
            return
        s.position = s.last
        self.record()

    def back(self) -> None:
        s = self.session
        if s is not None and not self.busy and not self.learning:
            s.back()
            self._say("Record this take again, or go on with Back.", status=False)
            self._update()

    def _on_record_failed(self, text: str) -> None:
        self.recording = False
        self.mic.set_level(None)
        self._refuse(text)

    def _on_recorded(self, samples: object, rate: int) -> None:
        self.recording = False
        self.mic.set_level(None)
        self.use_take(samples, int(rate))

    def use_take(self, samples: object, rate: int) -> None:
        """Check ``samples`` (float32 ``(n,)`` at ``rate`` Hz, as recorded) as the take asked for now."""
        s, info = self.session, self.models.info
        if self._closed or s is None or s.current() is None or info is None or self.pending is not None:
            self._update()
            return
        from vaesynth.voices.voice_in import RECOGNISING_KINDS

        digit, k = s.current()  # type: ignore[misc]
        recognise = info.kind in RECOGNISING_KINDS  # else only level, clipping and length are checked
        self._samples = (samples, rate)
        self.pending = TakeRequest(
            samples=samples,  # type: ignore[arg-type]
            rate=rate,
            digit=None if recognise else digit,
            generation=info.generation,
            label=f"Take {k} of “{digit}”",
        )
        self._say(f"Listening to take {k} of “{digit}”…", status=False)
        self._update()
        self.engine.analyse_take(self.pending)

    def _on_take_failed(self, req: TakeRequest, text: str) -> None:
        if req is not self.pending:
            return
        self.pending = None
        self._refuse(f"{req.label}: {text}")

    def _refuse(self, text: str) -> None:
        s = self.session
        if s is not None:
            s.last = s.position
        text = sentence(text)
        redo = " Press Redo to record it again." if "Redo" not in text else ""
        self._say(text + redo, error=True)
        self._update()
        self.take_refused.emit(text)
        self.take_checked.emit(False, self.panel.message_text())

    def _on_analysed(self, result: TakeResult) -> None:
        req = result.request
        if req is not self.pending:
            return
        self.pending = None
        s, info, recorded = self.session, self.models.info, self._samples
        if s is None or s.current() is None or recorded is None:
            self._update()
            return
        digit, k = s.current()  # type: ignore[misc]
        if info is None or info.generation != req.generation:
            self._refuse("The model changed while the take was checked: press Redo")
            return
        if result.digit != digit:
            self.panel.thumbnail.show_take(result.image_db, result.duration_s, f"heard “{result.digit}” ✗")
            self._refuse(f"Heard “{result.digit}”, not “{digit}”: press Redo and say “{digit}” clearly")
            return
        from vaesynth.sound.wavfile import write_wav

        try:
            path = write_wav(s.file_for(digit, k), np.asarray(recorded[0], np.float32), recorded[1])
        except (OSError, ValueError) as e:
            self._refuse(f"Could not keep the take: {getattr(e, 'strerror', None) or e}")
            return
        s.keep(Path(path or s.file_for(digit, k)))
        self.panel.thumbnail.show_take(result.image_db, result.duration_s, f"“{digit}” take {k} ✓")
        nxt = s.current()
        then = "every take is in: press Learn" if nxt is None else f"next, say “{nxt[0]}”"
        self._say(f"Heard “{digit}” ({result.duration_s:.2f} s): kept; {then}")
        self._update()
        self.take_kept.emit(digit, k, str(path))
        self.take_checked.emit(True, self.panel.message_text())

    # --- learning ------------------------------------------------------------------------------

    def learn(self) -> None:
        """Adapt the default model to the takes in a child process (progress, Cancel)."""
        s = self.session
        if s is None or not s.complete or self.busy or self.learning:
            return
        self.adapt.start(s.folder, s.name, self.steps)
        self.panel.set_progress(0.0, "Starting…")
        self._say(f"Learning “{s.name}”: this runs in the background; Cancel stops it.")
        self._update()

    def cancel(self) -> None:
        """Cancel the learning (no model is made) or, when not learning, the takes (and their folder)."""
        if self.learning:
            self.panel.set_progress(self.panel.progress_fraction(), "Stopping…")
            self.adapt.cancel()
            return
        s = self.session
        if s is None or self.busy:
            return
        self.session = None
        shutil.rmtree(s.folder, ignore_errors=True)
        self.panel.show_setup()
        self._say("Cancelled: no takes were kept.")
        self._update()

    def _on_progress(self, fraction: float, text: str) -> None:
        self.panel.set_progress(fraction, text)

    def _on_learn_cancelled(self, made: str) -> None:
        self.panel.set_progress(None)
        if made:  # the child finished just as Cancel was pressed: Cancel still means no model
            from vaesynth.model.bundle import BundleError
            from vaesynth.model.catalog import delete_personal

            try:
                delete_personal(Path(made).name)
            except (BundleError, OSError) as e:
                self._say(f"Cancelled too late: the model was made and could not be removed ({e})", error=True)
                self.models.relist()
                self._update()
                return
        self._say("Cancelled: no model was made.")
        self.learn_cancelled.emit()
        self.models.relist()  # (nothing new to list; a child killed late leaves only a hidden staging folder)
        self._update()

    def _on_learn_failed(self, text: str) -> None:
        self.panel.set_progress(None)
        self._say(f"Learning failed: {text}", error=True)
        self.learn_failed.emit(text)
        self._update()

    def _on_succeeded(self, folder: str) -> None:
        s = self.session
        name = s.name if s else Path(folder).name
        self.session = None
        self.panel.set_progress(None)
        self.panel.show_setup(ask_name=False)
        self._awaiting = folder
        self._say(f"Learned “{name}”: loading it…")
        self.models.relist(then=folder)
        self._update()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.panel.thumbnail.set_scale(info.db_min, info.db_max, info.nyquist_hz)
        if self._awaiting is not None and same_folder(info.path, self._awaiting):
            self._awaiting = None
            self.panel.choose_personal(info.display_name)
            note = " ".join(f"Note: {w}" for w in self.adapt.warnings)
            done = f"Learned “{info.display_name}”: it is now the model in use (press 0-9 to hear it)."
            self._say(f"{done} {note}".strip())
            self.learned.emit(info.path)
        self._update()

    def _on_model_failed(self, text: str, _in_use: bool) -> None:
        if self._awaiting is not None:
            self._awaiting = None
            self._say(f"The new model could not be loaded: {text}", error=True)
        self._update()

    def close(self) -> None:
        """The window closes: a learning child is stopped (and its staging folder removed by it)."""
        self._closed = True
        self.recorder.close()
        self.adapt.stop_now()
