"""The main window: wires the keypad, string entry, knobs, spectrogram, pickers and MIDI to the
workers (the engine through a coalescing scheduler; sound through the playback controller and the
audio bridge). View state only; see docs/app.md "How it is built"."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow

from .audio_bridge import AudioBridge
from .engine import Engine
from .explore import ExploreController
from .export import ask_and_save, save_render
from .messages import LIVE_ORIGINS, ModelInfo, Origin, RenderRequest, RenderResult
from .midi_panel import MidiActions, MidiController
from .model_loader import ModelLoader
from .panels import CentralView, MainToolBar, said_message
from .playback import PlaybackController
from .qtcompat import install_refcount_guard
from .scheduler import RenderScheduler
from .settings import AppSettings
from .voice_editor import VoiceEditor
from .voice_in_control import VoiceInController
from .voice_mode import VoiceControls
from .window_state import restore_view, save_view

LIVE_SHOW_EVERY_S = 0.1  # while a live edit keeps coming, draw a superseded render at most this often


class MainWindow(QMainWindow):
    """The vaesynth window. ``settings``: where state persists (an INI-file QSettings in tests);
    ``model``: a bundle name (``"cnn"``) or folder to load instead of the remembered one;
    ``models_root``: where shipped bundles are listed from (default ``resources/models``);
    ``audio_factory``: builds the audio output (default :class:`vaesynth.sound.audio.AudioOutput`);
    ``restore``: whether to restore geometry/knobs/choices from ``settings``;
    ``midi_api``: the MIDI system (``None``: ALSA where there is a sequencer, else JACK)."""

    model_ready = Signal(object)  # ModelInfo
    model_error = Signal(str)
    models_listed = Signal(list)  # list[ModelEntry]
    render_shown = Signal(object)  # RenderResult
    render_error = Signal(str)
    playback_started = Signal(int)  # token
    audio_state = Signal(bool, str)

    def __init__(
        self,
        settings: QSettings,
        model: str | None = None,
        models_root: str | Path | None = None,
        audio_factory: Callable[[], Any] | None = None,
        restore: bool = True,
        midi_api: str | None = None,
    ) -> None:
        install_refcount_guard()  # first: some PySide6 builds crash the process without it
        super().__init__()
        self.settings = AppSettings(settings)
        self._restore = restore
        self.last_result: RenderResult | None = None
        self.digit = self.settings.digit if restore else "5"  # the digit knob changes re-render
        self.audio_available = False
        self.audio_known = False  # the audio thread has reported its state at least once
        self._closing = False
        self._shown_at = float("-inf")  # when a render was last drawn

        self.setWindowTitle("vaesynth: spoken digits from a VAE")
        self._build_ui()
        self.audio = AudioBridge(audio_factory)
        self.playback = PlaybackController(self.audio, self, busy=lambda: not self.scheduler.idle)
        self.engine = Engine(self.playback.play_from_worker)  # sound leaves from the engine's thread
        self.scheduler = RenderScheduler(self.engine.render)
        self.voice = VoiceEditor(
            self.knob_panel, self.hold_voice, self.auto_play, self.performance, self, self.view.keys.real_texture
        )
        self.explore = ExploreController(
            self.view.voice_map, self.view.morph, self.view.voices, self.voice, self.playback,
            lambda: self.digit, lambda d: setattr(self, "digit", d), self.submit, self.status, self,
        )  # fmt: skip
        self.models = ModelLoader(
            self.engine, self.scheduler, self.model_picker, self.settings if restore else None, model, self
        )
        actions = MidiActions(self.press_digit, self.voice.turn_knob, self.stop_playback, lambda: self.digit,
                              lambda: bool(self.model_info and self.model_info.has_f0))  # fmt: skip
        self.midi = MidiController(self.view.midi, actions, midi_api, self.settings.midi_port if restore else "", self)
        self.voice_in = VoiceInController(self.view.voice_in, self.engine, self.models, self.voice, self.playback,
                                          lambda d: setattr(self, "digit", d), self.status, self)  # fmt: skip
        self._connect()
        if restore:
            restore_view(self)
        else:
            self.resize(1280, 800)
            self.say_box.set_text("2025")
        # Fill in after the window is up: threads start now, results arrive as signals.
        self.engine.start()
        self.audio.start()
        self.midi.start()
        self.models.list_models(str(models_root) if models_root is not None else None)
        self.status("Loading models…")

    # --- building and wiring -------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.toolbar = MainToolBar(self)
        self.addToolBar(self.toolbar)
        self.model_picker, self.device_picker = self.toolbar.model_picker, self.toolbar.device_picker
        self.view = v = CentralView()
        self.setCentralWidget(v)
        self.keypad, self.hold_voice, self.auto_play = v.keys.keypad, v.keys.hold_voice, v.keys.auto_play
        self.say_box = v.say_box
        self.knob_panel, self.spectrogram, self.performance = v.knob_panel, v.spectrogram, v.performance
        self.audio_label = QLabel("Sound output: starting…")
        self.audio_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.audio_label)
        self._set_ready(False)

    def _connect(self) -> None:
        self.models.listed.connect(self.models_listed)
        self.models.loading.connect(self._on_model_loading)
        self.models.loaded.connect(self._on_model_loaded)
        self.models.failed.connect(self._on_model_failed)
        self.engine.rendered.connect(self._on_rendered)
        self.engine.render_failed.connect(self._on_render_failed)
        self.audio.state_changed.connect(self._on_audio_state)
        self.playback.started.connect(self.playback_started)
        self.playback.failed.connect(self._on_play_failed)
        self.playback.playhead_moved.connect(self.view.follow_playhead)
        self.device_picker.bind(self.audio, self.settings if self._restore else None)
        self.toolbar.replay_action.triggered.connect(self.replay)
        self.toolbar.stop_action.triggered.connect(self.stop_playback)
        self.toolbar.export_action.triggered.connect(lambda: ask_and_save(self, self.last_result, self.status))
        self.keypad.digit_pressed.connect(self.press_digit)
        self.say_box.play_requested.connect(lambda _text: self.play_text())
        self.voice.edited.connect(self._on_voice_edited)
        self.keypad.add_key_shortcuts(self)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """A plain-words message in the status bar."""
        self.statusBar().showMessage(text, timeout_ms)

    def _set_ready(self, ready: bool) -> None:
        self.keypad.set_keys_enabled(ready)
        self.say_box.play_button.setEnabled(ready)

    # --- models -------------------------------------------------------------------------------

    @property
    def model_info(self) -> ModelInfo | None:
        """The model in use (``None`` before the first one is loaded)."""
        return self.models.info

    def load_model(self, path: str | Path) -> None:
        """Load the bundle at ``path`` (off the GUI thread); the knob panel rebuilds when it is ready."""
        self.models.load(path)

    def _on_model_loading(self, _path: str, name: str) -> None:
        info = self.models.info
        if info is not None and self.knob_panel.latent_dim == info.latent_dim:
            self.settings.set_knobs(info.name, self.knob_panel.values())
        self.playback.cancel_knob()
        self._set_ready(False)
        self.status(f"Loading {name}…")

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.view.show_model(info, self.settings.knobs(info.name) if self._restore else [])
        self.performance.set_has_f0(info.has_f0)
        self.view.keys.set_has_texture(info.has_texture)
        self.explore.set_model(info)
        self._set_ready(True)
        self.status(f"{info.display_name} ready: press 0-9 or type a number.")
        self.model_ready.emit(info)

    def _on_model_failed(self, text: str, still_in_use: bool) -> None:
        if still_in_use:
            self._set_ready(True)
        else:
            self.view.show_model_problem(text)
        self.status(text)
        self.model_error.emit(text)

    # --- rendering ----------------------------------------------------------------------------

    def _can_render(self) -> bool:
        if not self.models.ready:
            self.status("The model is still loading…" if self.models.loading_path else "No model is loaded.")
        return self.models.ready

    def submit(self, request: RenderRequest) -> RenderRequest | None:
        """Hand ``request`` to the scheduler (if a model is ready); returns it as stamped."""
        return self.scheduler.submit(request) if self._can_render() else None

    def press_digit(self, digit: str, gain: float = 1.0, note_hz: float | None = None, play: bool = True) -> None:
        """Speak ``digit`` in the current voice mode (fresh variation, held knobs or preset) and
        performance; ``gain``: the level it plays at; ``note_hz``: sing it on this note (a MIDI key)."""
        if self._can_render():
            self.digit = digit
            self.audio.prepare()  # the stream opens while the engine renders (or finds the sound ready)
            req = self.voice.controls(note_hz).request(digit=digit, play=play)
            self.scheduler.submit(dataclasses.replace(req, gain=gain))

    def play_text(self, seed: int | None = None) -> None:
        """Speak the digit string in the text field. Its random choices follow ``seed`` (drawn here
        when not given), which the render's recipe records."""
        if self._can_render():
            req = self.voice.controls().request(text=self.say_box.text(), origin=Origin.STRING)
            seed = secrets.randbelow(2**31) if seed is None else seed
            self.scheduler.submit(dataclasses.replace(req, seed=seed))

    def _on_voice_edited(self, controls: VoiceControls, origin: Origin, play: bool) -> None:
        if self.model_info is not None:  # re-render the current digit in the edited voice
            self.scheduler.submit(controls.request(digit=self.digit, origin=origin, play=play))
            if play:  # (after the submit: the render is the longer wait, let it start first)
                self.audio.prepare()

    def _on_rendered(self, result: RenderResult) -> None:
        req = result.request
        superseded = self.scheduler.finish()
        if not self.scheduler.is_current(req):
            return
        self.last_result = result
        live = req.origin in LIVE_ORIGINS
        now = time.monotonic()
        # a moving drag/knob is drawn at most every 0.1 s (the sound follows every render)
        show = not (live and superseded) or now - self._shown_at >= LIVE_SHOW_EVERY_S
        if show:
            self.status(said_message(result, self.audio.latency_s()))
        if req.play:  # sound before drawing: the drawing takes milliseconds a listener would hear
            self.playback.play_for(result, self.explore.play_ab)  # (an A/B may put its own status)
        self.toolbar.export_action.setEnabled(True)
        if not superseded or not live:
            self.knob_panel.set_values(result.knobs)  # the voice used, unless it is moving again
        if req.origin is not Origin.MAP:  # (the map moves its own marker); painted after the sound left
            self.explore.show_voice(result.knobs, result.digits, soon=live)
        if show:
            self._shown_at = now
            self.view.show_result(result)
        if self.scheduler.idle:  # settled: render the keypad's next sounds ahead, in the voice now set
            self.engine.render_ahead(self.scheduler.stamp(self.voice.controls().request(digit=self.digit)))
        self.render_shown.emit(result)

    def _on_render_failed(self, req: RenderRequest, message: str) -> None:
        self.scheduler.finish()
        if not self.scheduler.is_current(req):
            return
        if req.text is not None:
            self.say_box.show_error(message)
        self.status(f"Could not render: {message}")
        self.render_error.emit(message)

    def replay(self) -> None:
        """Play the last render again."""
        if self.last_result is not None:
            self.playback.play(self.last_result)

    def stop_playback(self) -> None:
        self.playback.stop()

    def _on_play_failed(self, status: str) -> None:
        self.audio_label.setText(status)
        self.status(f"No sound: {status}", 5000)

    def _on_audio_state(self, available: bool, status: str, _devices: list) -> None:
        self.audio_known, self.audio_available = True, available
        self.audio_label.setText(status)
        self.audio_label.setToolTip(status)
        if not available:
            self.status(f"{status}. Everything else works; sound is off.", 8000)
        self.audio_state.emit(available, status)

    def export_wav(self, path: str | Path) -> Path | None:
        """Write the last render to ``path`` as 16-bit PCM WAV at the model's rate. Returns the path."""
        return save_render(self.last_result, path, self.status)

    def save_settings(self) -> None:
        if self._restore:
            save_view(self)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save settings and stop the worker threads (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self.save_settings()
        self.playback.shutdown()
        self.midi.close()
        self.voice_in.close()
        self.scheduler.close()
        self.audio.shutdown()
        self.engine.stop()
