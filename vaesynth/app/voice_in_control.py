"""Your own voice in the window: a microphone take or a WAV file -> the digit -> the knobs.

:class:`VoiceInController` (no widgets of its own) drives the
:class:`~vaesynth.app.voice_in_panel.VoiceInPanel`. A take is recorded in a short-lived thread
(:func:`vaesynth.sound.audio_in.record_raw`: the GUI stays responsive; the level of every block comes
from PortAudio's thread and reaches the meter through a queued signal, at most every
:data:`~.take_recorder.LEVEL_EVERY_S`), then analysed in the engine thread (:meth:`Engine.analyse_take`:
:func:`vaesynth.voices.voice_in.load_take`, ``recognise_digit`` unless the digit is chosen,
``encode_voice``). A good take sets the knobs through the voice editor (the path the voice map and
saved voices use: a held, custom voice), sets Pitch and Formants to the take's pitch and size
(:mod:`vaesynth.voices.voice_norm`: the knobs hold the voice at the model's scale) and says its digit in that
voice; the estimated pitch and size are shown beside the take, and the take and that
re-synthesis are shown one over the other. A bad take (silence, clipping, too long, not a digit,
an unreadable file, no or a failing input device) is one sentence in the panel and the status
bar, and changes nothing else. The tab's "Learn my voice" page has its own controller,
:class:`~vaesynth.app.learn_voice_control.LearnVoiceController` (:attr:`VoiceInController.learn`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from .engine import Engine
from .learn_voice_control import LearnVoiceController
from .messages import ModelInfo, Origin, RenderResult, TakeRequest, TakeResult
from .model_loader import ModelLoader
from .playback import PlaybackController
from .recordings import a_then_b
from .take_recorder import TAKE_S, TakeRecorder
from .voice_editor import VoiceEditor
from .voice_in_panel import VoiceInPanel

NO_DEVICE = "No audio input device found: connect a microphone and start vaesynth again, or open a WAV file."


def sentence(text: str) -> str:
    """``text`` ending in a full stop (one is added where there is none)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


class VoiceInController(QObject):
    """``set_digit(d)``: make ``d`` the window's current digit; ``status(text)``: the status bar.

    Signals: :attr:`take_done`
    (the :class:`TakeResult` applied) and :attr:`take_rejected` (the sentence shown) for listeners.
    """

    take_done = Signal(object)
    take_rejected = Signal(str)

    def __init__(
        self,
        panel: VoiceInPanel,
        engine: Engine,
        models: ModelLoader,
        editor: VoiceEditor,
        playback: PlaybackController,
        set_digit: Callable[[str], None],
        status: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.engine, self.editor, self.playback = panel, engine, editor, playback
        self._set_digit, self._status = set_digit, status
        self.info: ModelInfo | None = None
        self.last_take: TakeResult | None = None
        self.last_model: RenderResult | None = None
        self.pending: TakeRequest | None = None
        self.recording = False
        self._said = ""
        self._closed = False
        self.recorder = TakeRecorder("vaesynth-take", self)
        queued = Qt.ConnectionType.QueuedConnection
        self.recorder.level.connect(panel.set_level, queued)
        self.recorder.recorded.connect(self._on_recorded, queued)
        self.recorder.record_failed.connect(self._on_record_failed, queued)
        engine.take_analysed.connect(self._on_analysed)
        engine.take_failed.connect(self._on_failed)
        engine.rendered.connect(self._on_rendered)
        models.loading.connect(lambda _path, _name: panel.set_model(False, False))
        models.loaded.connect(self.set_model)
        models.failed.connect(lambda _text, in_use: panel.set_model(bool(in_use and self.info), self._recognises()))
        panel.record_requested.connect(self.record)
        panel.file_chosen.connect(self.open_file)
        panel.compare_requested.connect(self.compare)
        self.learn = LearnVoiceController(panel.learn, panel, engine, models, status, self)  # "Learn my voice"
        QTimer.singleShot(0, self.start)  # once the window is up

    # --- devices and model ---------------------------------------------------------------------

    def start(self) -> None:
        """List the input devices (none: the panel says so; files still work)."""
        if self._closed:
            return
        from vaesynth.sound.audio_in import input_devices

        devices = input_devices()
        self.panel.set_devices(devices, "" if devices else NO_DEVICE)

    def set_model(self, info: ModelInfo) -> None:
        self.info = info
        self.panel.comparison.set_scale(info.db_min, info.db_max, info.nyquist_hz)
        self.panel.set_model(True, self._recognises())

    def _recognises(self) -> bool:
        from vaesynth.voices.voice_in import RECOGNISING_KINDS

        return self.info is not None and self.info.kind in RECOGNISING_KINDS

    @property
    def busy(self) -> bool:
        return self.recording or self.pending is not None

    # --- a take --------------------------------------------------------------------------------

    def record(self) -> None:
        """Record :data:`TAKE_S` seconds from the chosen input in a thread of its own."""
        if self.busy or self.info is None or self.learn.busy:
            return
        self.recording = True
        self.panel.set_busy(True, f"Recording {TAKE_S:g} s: say one digit now…")
        self._status("Recording: say one digit…")
        device = self.panel.device()
        self.recorder.start(device)

    def _on_recorded(self, samples: object, rate: int) -> None:
        self.recording = False
        if self._closed or self.info is None:
            self.panel.set_busy(False)
            return
        self._analyse(TakeRequest(samples=samples, rate=int(rate), label="The take"))  # type: ignore[arg-type]

    def _on_record_failed(self, text: str) -> None:
        self.recording = False
        self.panel.set_busy(False)
        self._reject(text)

    def open_file(self, path: str) -> None:
        """Use the recording at ``path`` (WAV, FLAC or OGG, any rate) as the take."""
        if self.busy or self.info is None:
            return
        self._analyse(TakeRequest(path=str(path), label=Path(path).name))

    def _analyse(self, req: TakeRequest) -> None:
        assert self.info is not None
        req = dataclasses.replace(req, digit=self.panel.chosen_digit(), generation=self.info.generation)
        self.pending = req
        self.panel.set_busy(True, f"Listening to {req.label if req.path else 'the take'}…")
        self.engine.analyse_take(req)

    def _on_failed(self, req: TakeRequest, text: str) -> None:
        if req is not self.pending:
            return
        self.pending = None
        self.panel.set_busy(False)
        if self.info is None or req.generation != self.info.generation:
            text = "The model changed while the take was analysed: try again"
        self._reject(f"{req.label}: {text}" if req.path else text)

    def _reject(self, text: str) -> None:
        text = sentence(text)
        self.panel.show_message(text, error=True)
        self._status(f"Voice in: {text} The knobs are unchanged.")
        self.take_rejected.emit(text)

    def _on_analysed(self, result: TakeResult) -> None:
        req = result.request
        if req is not self.pending:
            return
        self.pending = None
        self.panel.set_busy(False)
        if self.info is None or req.generation != self.info.generation:
            self._reject("The model changed while the take was analysed: try again")
            return
        self.last_take, self.last_model = result, None
        self.panel.show_take(result.image_db, result.duration_s)
        self.panel.show_estimate(result.f0_hz, result.scale, result.performance)
        digit = str(result.digit)
        how = f"Heard “{digit}”" if result.recognised else f"Taken as “{digit}” (chosen)"
        self.panel.show_message(f"{how}: the knobs, Pitch and Formants now hold this voice.")
        self._said = (
            f"{how} (analysed in {1000 * result.elapsed_s:.0f} ms): the knobs, Pitch and Formants now hold this "
            f"voice; {digit} said in it."
        )
        self._set_digit(digit)
        # the take's pitch and size go to Performance (Sing off: it would replace the pitch); speed stays
        now = self.editor.performance.performance()
        take = result.performance
        performance = dataclasses.replace(now, pitch=take.pitch, formant=take.formant, note_hz=None)
        self.editor.apply(result.knobs, Origin.VOICE_IN, performance=performance, play=True)
        self._status(self._said)
        self.take_done.emit(result)

    def _on_rendered(self, result: RenderResult) -> None:
        req = result.request
        if req.origin is Origin.VOICE_IN and self.info is not None and req.generation == self.info.generation:
            self.last_model = result
            self.panel.show_resynthesis(result.image_db, result.duration_s)
            said = self._said  # after the window's "Said …" line (its slot runs after this one)
            QTimer.singleShot(0, lambda: self._status(said))

    def compare(self) -> None:
        """Play the take, a short gap, then the model's re-synthesis (A/B)."""
        take, model = self.last_take, self.last_model
        if take is None or model is None:
            return
        wave = take.wave
        if take.sample_rate != model.sample_rate:
            from vaesynth.dsp.spectral import resample

            wave = resample(wave, take.sample_rate, model.sample_rate)
        ab = a_then_b(wave, model.wave, model.sample_rate)
        ab.flags.writeable = False
        self.playback.play(dataclasses.replace(model, wave=ab, duration_s=len(ab) / model.sample_rate))
        self._status("A: your take, then B: the model in its voice.")

    def close(self) -> None:
        """Stop listening (a recording still running ends on its own and is dropped) and learning."""
        self._closed = True
        self.recorder.close()
        self.learn.close()
