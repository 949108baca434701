"""The main window: keypad, string entry, latent knobs, live spectrogram, model and output selectors.

View state only. Rendering and model loading go to :class:`~vaesynth.app.worker.Engine` (a worker
thread), sound to :class:`~vaesynth.app.worker.AudioBridge` (another one). Render requests are
coalesced: at most one is in flight and at most one waits; a newer request replaces the waiting
one, so a fast knob sweep or key mash never builds a backlog and the GUI never waits.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .keypad import Keypad
from .knobs import KnobPanel
from .qtcompat import install_refcount_guard
from .settings import AppSettings
from .spectrogram import SpectrogramView
from .worker import AudioBridge, Engine, ModelEntry, ModelInfo, RenderRequest, RenderResult

OPEN_BUNDLE = "Open bundle…"
DEFAULT_DEVICE = "System default"
PLAYHEAD_MS = 30
KNOB_PLAY_SETTLE_MS = 90  # while a knob moves, play once it rests this long ...
KNOB_PLAY_EVERY_S = 0.35  # ... or at most this often


class MainWindow(QMainWindow):
    """The vaesynth window.

    ``settings``: where state persists (pass an INI-file QSettings in tests);
    ``model``: a bundle name (``"cnn"``) or folder to load instead of the remembered one;
    ``models_root``: where shipped bundles are listed from (default ``resources/models``);
    ``audio_factory``: builds the audio output (default :class:`vaesynth.audio.AudioOutput`);
    ``restore``: whether to restore geometry/knobs/choices from ``settings``.
    """

    model_ready = Signal(object)  # ModelInfo
    model_error = Signal(str)
    models_listed = Signal(list)
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
    ) -> None:
        install_refcount_guard()  # first: some PySide6 builds crash the process without it
        super().__init__()
        self.settings = AppSettings(settings)
        self._restore = restore
        self._model_arg = model
        self._models_root = str(models_root) if models_root is not None else None
        self.model_info: ModelInfo | None = None
        self.last_result: RenderResult | None = None
        self.entries: list[ModelEntry] = []
        self._generation = 0
        self._seq = 0
        self._inflight: RenderRequest | None = None
        self._pending: RenderRequest | None = None
        self._loading_path: str | None = None
        self._digit = self.settings.digit if restore else "5"
        self._play_token = 0
        self._playing_token = -1
        self._play_started = 0.0
        self._last_knob_play = 0.0
        self._knob_result: RenderResult | None = None
        self._playing_result: RenderResult | None = None
        self._audio_available = False
        self.audio_known = False  # the audio thread has reported its state at least once
        self._devices: list[dict] = []
        self._closing = False

        self.setWindowTitle("vaesynth: spoken digits from a VAE")
        self._build_ui()
        self._build_shortcuts()
        if restore:
            self._restore_view()
        else:
            self.resize(1280, 800)
            self.text_edit.setText("2025")

        self.engine = Engine()
        self.engine.models_listed.connect(self._on_models_listed)
        self.engine.model_loaded.connect(self._on_model_loaded)
        self.engine.model_failed.connect(self._on_model_failed)
        self.engine.rendered.connect(self._on_rendered)
        self.engine.render_failed.connect(self._on_render_failed)
        self.audio = AudioBridge(audio_factory)
        self.audio.state_changed.connect(self._on_audio_state)
        self.audio.played.connect(self._on_played)

        self._playhead_timer = QTimer(self)
        self._playhead_timer.setInterval(PLAYHEAD_MS)
        self._playhead_timer.timeout.connect(self._tick_playhead)
        self._knob_play_timer = QTimer(self)
        self._knob_play_timer.setSingleShot(True)
        self._knob_play_timer.setInterval(KNOB_PLAY_SETTLE_MS)
        self._knob_play_timer.timeout.connect(self._play_knob_result)

        # Fill in after the window is up: threads start now, results arrive as signals.
        self.engine.start()
        self.audio.start()
        self.engine.list_models(self._models_root)
        self.status("Loading models…")

    # ------------------------------------------------------------------------------------------
    # UI
    # ------------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        # toolbar: model, output device, stop, export
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icon = self.style().standardIcon
        sp = QStyle.StandardPixmap
        self.addToolBar(tb)
        tb.addWidget(QLabel(" Model "))
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(260)
        self.model_combo.setToolTip("The VAE that speaks. Open bundle… loads a model folder from disk.")
        self.model_combo.addItem("Loading…")
        self.model_combo.activated.connect(self._on_model_chosen)
        tb.addWidget(self.model_combo)
        tb.addSeparator()
        tb.addWidget(QLabel(" Output "))
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(220)
        self.device_combo.setToolTip("Where the sound goes")
        self.device_combo.addItem("Starting audio…")
        self.device_combo.setEnabled(False)
        self.device_combo.activated.connect(self._on_device_chosen)
        tb.addWidget(self.device_combo)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        self.replay_action = QAction(icon(sp.SP_MediaPlay), "Play again", self)
        self.replay_action.setShortcut(QKeySequence("Ctrl+R"))
        self.replay_action.setToolTip("Play the last render again (Ctrl+R)")
        self.replay_action.triggered.connect(self.replay)
        tb.addAction(self.replay_action)
        self.stop_action = QAction(icon(sp.SP_MediaStop), "Stop", self)
        self.stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_action.setToolTip("Stop playback (Esc)")
        self.stop_action.triggered.connect(self.stop_playback)
        tb.addAction(self.stop_action)
        self.export_action = QAction(icon(sp.SP_DialogSaveButton), "Export WAV…", self)
        self.export_action.setShortcut(QKeySequence.StandardKey.Save)
        self.export_action.setToolTip("Save the last render as a WAV file (Ctrl+S)")
        self.export_action.triggered.connect(self._on_export)
        self.export_action.setEnabled(False)
        tb.addAction(self.export_action)

        # left column: keypad and string entry
        self.keypad = Keypad()
        self.keypad.digit_pressed.connect(self.press_digit)
        self.hold_voice = QCheckBox("Hold voice")
        self.hold_voice.setToolTip(
            "Off: every press is a fresh natural variation.\nOn: keep the voice set by the knobs."
        )
        self.auto_play = QCheckBox("Auto-play knobs")
        self.auto_play.setToolTip("Play the digit again whenever a knob, preset or Randomize changes the voice")
        for cb in (self.hold_voice, self.auto_play):
            cb.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.auto_play.setChecked(True)
        keys_box = QGroupBox("Keypad")
        kl = QVBoxLayout(keys_box)
        kl.addWidget(self.keypad, 1)
        opts = QHBoxLayout()
        opts.addWidget(self.hold_voice)
        opts.addWidget(self.auto_play)
        kl.addLayout(opts)

        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("e.g. 2025")
        self.text_edit.setToolTip("Digits to speak; spaces, dashes, dots, brackets and a leading + are allowed")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.returnPressed.connect(self.play_text)
        self.text_edit.textEdited.connect(lambda _t: self._show_text_error(""))
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Speak the digits (Enter)")
        self.play_button.clicked.connect(self.play_text)
        self.text_error = QLabel("")
        self.text_error.setObjectName("error")
        self.text_error.setWordWrap(True)
        self.text_error.setVisible(False)
        say_box = QGroupBox("Say a number")
        sl = QVBoxLayout(say_box)
        row = QHBoxLayout()
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.play_button)
        sl.addLayout(row)
        sl.addWidget(self.text_error)

        self.model_details = QLabel("")
        self.model_details.setObjectName("muted")
        self.model_details.setWordWrap(True)
        model_box = QGroupBox("Model")
        ml = QVBoxLayout(model_box)
        ml.addWidget(self.model_details)

        left = QWidget()
        left_l = QVBoxLayout(left)
        left_l.setContentsMargins(0, 0, 0, 0)
        left_l.addWidget(keys_box, 1)
        left_l.addWidget(say_box)
        left_l.addWidget(model_box)
        left.setMinimumWidth(260)
        left.setMaximumWidth(340)

        # right column: spectrogram over knobs
        self.spectrogram = SpectrogramView()
        self.spec_box = QGroupBox("Spectrogram")
        spl = QVBoxLayout(self.spec_box)
        spl.setContentsMargins(4, 8, 4, 4)
        spl.addWidget(self.spectrogram)
        self.knob_panel = KnobPanel()
        self.knob_panel.knobs_changed.connect(self._on_knobs_changed)
        self.knob_panel.randomize_requested.connect(self.randomize)
        self.knob_panel.voice_chosen.connect(self._on_voice_chosen)
        knob_box = QGroupBox("Latent knobs")
        knl = QVBoxLayout(knob_box)
        knl.addWidget(self.knob_panel)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.spec_box)
        self.splitter.addWidget(knob_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        central = QWidget()
        cl = QHBoxLayout(central)
        cl.setContentsMargins(8, 4, 8, 4)
        cl.addWidget(left)
        cl.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.audio_label = QLabel("Sound output: starting…")
        self.audio_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.audio_label)
        self.keypad.set_keys_enabled(False)
        self.play_button.setEnabled(False)

    def _build_shortcuts(self) -> None:
        self._shortcuts: list[QShortcut] = []
        for i in range(10):
            key = Qt.Key(Qt.Key.Key_0.value + i)
            for seq in (QKeySequence(key), QKeySequence(Qt.KeyboardModifier.KeypadModifier | key)):
                sc = QShortcut(seq, self)
                sc.setContext(Qt.ShortcutContext.WindowShortcut)
                sc.activated.connect(lambda d=str(i): self._on_digit_key(d))
                self._shortcuts.append(sc)

    def _restore_view(self) -> None:
        s = self.settings
        geo = s.geometry()
        if geo is None or not self.restoreGeometry(geo):
            self.resize(1280, 800)
        sp = s.splitter()
        if sp is not None:
            self.splitter.restoreState(sp)
        self.hold_voice.setChecked(s.hold_voice)
        self.auto_play.setChecked(s.auto_play)
        self.knob_panel.temperature.setValue(s.temperature)
        self.text_edit.setText(s.text)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """A plain-words message in the status bar."""
        self.statusBar().showMessage(text, timeout_ms)

    # ------------------------------------------------------------------------------------------
    # Models
    # ------------------------------------------------------------------------------------------

    def _on_models_listed(self, entries: list[ModelEntry]) -> None:
        self.entries = [e for e in entries if e.path]
        problems = [e.error for e in entries if e.error]
        if self._restore:
            for p in self.settings.opened_models():
                if Path(p).is_dir() and all(e.path != p for e in self.entries):
                    self.entries.append(ModelEntry(Path(p).name, Path(p).name, p))
        self._fill_model_combo()
        self.models_listed.emit(self.entries)
        target = self._initial_model()
        if target:
            self.load_model(target)
        else:
            msg = "No models found. Use Open bundle… to load one."
            if problems:
                msg = problems[0]
            self._set_model_problem(msg)
            self.model_error.emit(msg)

    def _initial_model(self) -> str | None:
        arg = self._model_arg
        if arg:
            for e in self.entries:
                if arg in (e.name, e.path):
                    return e.path
            return arg  # a folder; load_model reports it if it is not a bundle
        remembered = self.settings.model_path if self._restore else ""
        usable = [e for e in self.entries if not e.error]
        if remembered and any(e.path == remembered for e in usable):
            return remembered
        return usable[0].path if usable else None

    def _fill_model_combo(self) -> None:
        c = self.model_combo
        c.blockSignals(True)
        c.clear()
        for e in self.entries:
            label = e.display_name
            if e.latent_dim:
                label += f"  ·  {e.latent_dim}-D"
            if e.error:
                label += "  (unreadable)"
            c.addItem(label, e.path)
            if e.error:
                c.setItemData(c.count() - 1, e.error, Qt.ItemDataRole.ToolTipRole)
        c.insertSeparator(c.count())
        c.addItem(OPEN_BUNDLE, None)
        c.blockSignals(False)
        self._select_model_in_combo(self._loading_path or (self.model_info.path if self.model_info else None))

    def _select_model_in_combo(self, path: str | None) -> None:
        if path is None:
            return
        i = self.model_combo.findData(path)
        if i >= 0:
            self.model_combo.setCurrentIndex(i)

    def _on_model_chosen(self, index: int) -> None:
        path = self.model_combo.itemData(index)
        if path is None:
            folder = QFileDialog.getExistingDirectory(self, "Open a model bundle folder")
            # back to the model in use until the new one loads
            self._select_model_in_combo(self.model_info.path if self.model_info else None)
            if folder:
                self.load_model(folder)
            return
        if self.model_info is None or path != self.model_info.path:
            self.load_model(path)

    def load_model(self, path: str | Path) -> None:
        """Load the bundle at ``path`` (off the GUI thread); the knob panel rebuilds when it is ready."""
        path = str(path)
        if self.model_info is not None and self.knob_panel.latent_dim:
            self.settings.set_knobs(self.model_info.name, self.knob_panel.values())
        self._generation += 1
        self._pending = None
        self._loading_path = path
        self._knob_play_timer.stop()
        self.keypad.set_keys_enabled(False)
        self.play_button.setEnabled(False)
        name = next((e.display_name for e in self.entries if e.path == path), Path(path).name)
        self.status(f"Loading {name}…")
        self.engine.load_model(path, self._generation)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        if info.generation != self._generation:
            return
        self.model_info = info
        self._loading_path = None
        # Everything alive now (Qt, pyqtgraph, torch, the model) lives as long as the app: keep it
        # out of the cyclic GC, whose full passes over ~200k objects would stall the GUI for 50+ ms.
        gc.freeze()
        if all(e.path != info.path for e in self.entries):
            self.entries.append(ModelEntry(info.name, info.display_name, info.path, info.latent_dim))
            self._remember_opened(info.path)
            self._fill_model_combo()
        self._select_model_in_combo(info.path)
        self.knob_panel.set_latent_dim(info.latent_dim)
        saved = self.settings.knobs(info.name) if self._restore else []
        self.knob_panel.set_values(saved if len(saved) == info.latent_dim else [])
        self.knob_panel.set_speakers(info.speakers)
        self.spectrogram.set_scale(info.db_min, info.db_max, info.nyquist_hz)
        self.keypad.set_keys_enabled(True)
        self.play_button.setEnabled(True)
        self.model_details.setText(
            f"<b>{info.display_name}</b><br>{info.latent_dim} latent dimensions · {len(info.speakers)} voices"
            f" · {info.sample_rate / 1000:g} kHz<br><span style='font-size:10px'>{info.where or info.path}</span>"
        )
        self.model_details.setToolTip(info.path + (f"\n{info.credits}" if info.credits else ""))
        if self._restore:
            self.settings.model_path = info.path
        self.status(f"{info.display_name} ready: press 0-9 or type a number.")
        self.model_ready.emit(info)

    def _on_model_failed(self, path: str, message: str, generation: int, current: ModelInfo | None) -> None:
        if generation != self._generation:
            return  # a newer load is on its way
        self._loading_path = None
        if current is not None:
            # the engine still holds a model: keep using it
            self._generation = current.generation
            if self.model_info is None or self.model_info.generation != current.generation:
                self._on_model_loaded(current)
            self.keypad.set_keys_enabled(True)
            self.play_button.setEnabled(True)
            self._select_model_in_combo(current.path)
            text = f"Could not load {path}: {message} Still using {current.display_name}."
        else:
            text = f"Could not load the model at {path}: {message}"
            self._set_model_problem(text)
        self.status(text)
        self.model_error.emit(text)

    def _set_model_problem(self, text: str) -> None:
        self.knob_panel.set_latent_dim(0)
        self.knob_panel.set_placeholder(text)
        self.model_details.setText(f"<span style='color:#ff6b6b'>{text}</span>")
        self.status(text)

    def _remember_opened(self, path: str) -> None:
        if not self._restore:
            return
        opened = [p for p in self.settings.opened_models() if p != path][-7:] + [path]
        self.settings.set_opened_models(opened)

    # ------------------------------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------------------------------

    def _on_digit_key(self, digit: str) -> None:
        self.keypad.flash(digit)
        self.press_digit(digit)

    def press_digit(self, digit: str) -> None:
        """Speak ``digit`` with the current voice mode (fresh variation, held knobs or preset)."""
        if self.model_info is None or self._loading_path is not None:
            self.status("The model is still loading…" if self._loading_path else "No model is loaded.")
            return
        self._digit = digit
        self._submit(self._voice_request(digit=digit, origin="key"))

    def play_text(self) -> None:
        """Speak the digit string in the text field."""
        if self.model_info is None or self._loading_path is not None:
            return
        self._submit(self._voice_request(text=self.text_edit.text(), origin="string"))

    def _voice_request(self, **what) -> RenderRequest:
        """A request for ``what`` (digit or text, origin) in the current voice mode:
        the selected preset, the held knobs, or a fresh variation at the current temperature."""
        voice = self.knob_panel.current_voice()
        if voice:
            return RenderRequest(knob_mode="voice", voice=voice, **what)
        if self.hold_voice.isChecked():
            return RenderRequest(knob_mode="given", knobs=self.knob_panel.values(), **what)
        return RenderRequest(knob_mode="random", temperature=self.knob_panel.temperature.value(), **what)

    def randomize(self) -> None:
        """A new random voice at the current temperature, held for the next presses."""
        if self.model_info is None:
            return
        self.hold_voice.setChecked(True)
        self.knob_panel.set_voice(None)
        req = RenderRequest(
            digit=self._digit, knob_mode="random", temperature=self.knob_panel.temperature.value(), origin="randomize"
        )
        req.play = self.auto_play.isChecked()
        self._submit(req)

    def _on_knobs_changed(self, values: list[float]) -> None:
        if self.model_info is None:
            return
        self.hold_voice.setChecked(True)  # an edited voice is meant to be kept
        req = RenderRequest(digit=self._digit, knob_mode="given", knobs=list(values), origin="knob")
        req.play = self.auto_play.isChecked()
        self._submit(req)

    def _on_voice_chosen(self, speaker: str | None) -> None:
        if self.model_info is None or speaker is None:
            return
        req = RenderRequest(digit=self._digit, knob_mode="voice", voice=speaker, origin="voice")
        req.play = self.auto_play.isChecked()
        self._submit(req)

    def _submit(self, req: RenderRequest) -> None:
        self._seq += 1
        req.seq = self._seq
        req.generation = self._generation
        if self._inflight is not None:
            self._pending = req  # newest wins; the one it replaces was never started
            return
        self._inflight = req
        self.engine.render(req)

    def _next(self) -> None:
        self._inflight = None
        if self._pending is not None and not self._closing:
            req, self._pending = self._pending, None
            self._inflight = req
            self.engine.render(req)

    def _on_rendered(self, result: RenderResult) -> None:
        req = result.request
        stale = req.generation != self._generation
        superseded = self._pending is not None
        self._next()
        if stale:
            return
        self.last_result = result
        self.export_action.setEnabled(True)
        if not superseded or req.origin != "knob":
            # knobs show the voice used, unless the user is already turning them again
            self.knob_panel.set_values(result.knobs)
        self.keypad.show_spoken(result.digits)
        if req.origin == "string":
            self._show_text_error("")
        self.spectrogram.show_render(
            result.image_db, result.duration_s, result.wave, result.sample_rate, result.segments, result.digits
        )
        self.spectrogram.set_playhead(None)
        self.spec_box.setTitle(f"Spectrogram: “{_shorten(result.digits)}”  ·  {result.duration_s:.2f} s")
        self.status(
            f"Said {_shorten(result.digits)} in {1000 * result.elapsed_s:.0f} ms ({result.duration_s:.2f} s of audio)."
        )
        self.render_shown.emit(result)
        if not req.play:
            return
        if req.origin == "knob":
            self._knob_result = result
            if time.monotonic() - self._last_knob_play >= KNOB_PLAY_EVERY_S:
                self._play_knob_result()
            else:
                self._knob_play_timer.start()
        else:
            self._knob_play_timer.stop()
            self._play(result)

    def _on_render_failed(self, req: RenderRequest, message: str) -> None:
        self._next()
        if req.generation != self._generation:
            return
        if req.text is not None:
            self._show_text_error(message)
        self.status(f"Could not render: {message}")
        self.render_error.emit(message)

    def _show_text_error(self, message: str) -> None:
        self.text_error.setText(message)
        self.text_error.setVisible(bool(message))

    # ------------------------------------------------------------------------------------------
    # Playback
    # ------------------------------------------------------------------------------------------

    def _play_knob_result(self) -> None:
        if self._knob_result is not None:
            self._last_knob_play = time.monotonic()
            self._play(self._knob_result)
            self._knob_result = None

    def _play(self, result: RenderResult) -> None:
        self._play_token += 1
        self._playing_token = -1
        self._playing_result = result
        self.audio.play(result.wave, result.sample_rate, self._play_token)

    def replay(self) -> None:
        """Play the last render again."""
        if self.last_result is not None:
            self._play(self.last_result)

    def stop_playback(self) -> None:
        self.audio.stop()
        self._playing_token = -1
        self._playhead_timer.stop()
        self.spectrogram.set_playhead(None)

    def _on_played(self, token: int, started: bool, status: str) -> None:
        if token != self._play_token:
            return
        if not started:
            self.audio_label.setText(status)
            self.status(f"No sound: {status}", 5000)
            return
        self._playing_token = token
        self._play_started = time.monotonic()
        self._playhead_timer.start()
        self.playback_started.emit(token)

    def _tick_playhead(self) -> None:
        pos = self.audio.position()
        result = self._playing_result
        duration = result.duration_s if result is not None else 0.0
        if pos is None or pos > duration + 0.05:
            if time.monotonic() - self._play_started > 0.25 or pos is not None:
                self._playhead_timer.stop()
                self.spectrogram.set_playhead(None)
            return
        if result is self.last_result:
            self.spectrogram.set_playhead(min(pos, duration))

    # ------------------------------------------------------------------------------------------
    # Audio devices
    # ------------------------------------------------------------------------------------------

    def _on_audio_state(self, available: bool, status: str, devices: list) -> None:
        first = not self.audio_known
        self.audio_known = True
        self._audio_available = available
        self._devices = list(devices)
        self.audio_label.setText(status)
        self.audio_label.setToolTip(status)
        c = self.device_combo
        c.blockSignals(True)
        c.clear()
        if available:
            c.addItem(DEFAULT_DEVICE, None)
            for d in self._devices:
                c.addItem(str(d.get("name", d.get("index"))), d.get("index"))
                c.setItemData(
                    c.count() - 1,
                    f"PortAudio device {d.get('index')}, {float(d.get('default_samplerate') or 0):.0f} Hz",
                    Qt.ItemDataRole.ToolTipRole,
                )
            c.setEnabled(True)
        else:
            c.addItem("No output device", None)
            c.setEnabled(False)
        c.blockSignals(False)
        if available and first and self._restore and self.settings.device_name:
            i = c.findText(self.settings.device_name)
            if i > 0:
                c.setCurrentIndex(i)
                self.audio.set_device(c.itemData(i))
        elif available:
            self._select_current_device()
        if not available:
            self.status(f"{status}. Everything else works; sound is off.", 8000)
        self.audio_state.emit(available, status)

    def _select_current_device(self) -> None:
        out = self.audio.output
        idx = getattr(out, "device", None)
        if isinstance(idx, int):
            i = self.device_combo.findData(idx)
            if i >= 0:
                self.device_combo.setCurrentIndex(i)

    def _on_device_chosen(self, index: int) -> None:
        dev = self.device_combo.itemData(index)
        if self._restore:
            self.settings.device_name = "" if dev is None else self.device_combo.itemText(index)
        self.audio.set_device(dev)

    # ------------------------------------------------------------------------------------------
    # Export, close
    # ------------------------------------------------------------------------------------------

    def _on_export(self) -> None:
        if self.last_result is None:
            return
        default = f"vaesynth-{_shorten(self.last_result.digits, 24)}.wav"
        path, _ = QFileDialog.getSaveFileName(self, "Export WAV", default, "WAV audio (*.wav)")
        if path:
            self.export_wav(path)

    def export_wav(self, path: str | Path) -> Path | None:
        """Write the last render to ``path`` as 16-bit PCM WAV at the model's rate. Returns the path."""
        if self.last_result is None:
            self.status("Nothing to export yet: press a key first.")
            return None
        path = Path(path)
        if path.suffix.lower() != ".wav":
            path = path.with_suffix(".wav")
        try:
            import soundfile as sf

            sf.write(str(path), self.last_result.wave, self.last_result.sample_rate, subtype="PCM_16")
        except Exception as e:  # noqa: BLE001 - disk full, no permission, no libsndfile
            self.status(f"Could not export {path}: {e}")
            return None
        self.status(f"Saved {path} ({self.last_result.duration_s:.2f} s).")
        return path

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    def save_settings(self) -> None:
        if not self._restore:
            return
        s = self.settings
        s.set_geometry(self.saveGeometry())
        s.set_splitter(self.splitter.saveState())
        s.hold_voice = self.hold_voice.isChecked()
        s.auto_play = self.auto_play.isChecked()
        s.temperature = self.knob_panel.temperature.value()
        s.digit = self._digit
        s.text = self.text_edit.text()
        if self.model_info is not None and self.knob_panel.latent_dim == self.model_info.latent_dim:
            s.set_knobs(self.model_info.name, self.knob_panel.values())
        s.sync()

    def shutdown(self) -> None:
        """Save settings and stop the worker threads (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self.save_settings()
        self._playhead_timer.stop()
        self._knob_play_timer.stop()
        self._pending = None
        self.audio.shutdown()
        self.engine.stop()


def _shorten(digits: str, n: int = 20) -> str:
    return digits if len(digits) <= n else digits[: n - 1] + "…"
