"""The window's boxes and toolbar, built here so that the main window only wires them together.

:class:`KeypadBox` (keypad, Hold voice, Auto-play knobs), :class:`SayNumberBox` (digit-string
entry), :class:`ModelDetailsBox`, :class:`MainToolBar` (model and output pickers, Play again,
Stop, Export WAV…). Widgets only: no rendering, no audio.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .keypad import Keypad
from .knobs import KnobPanel
from .messages import ModelInfo, Origin, RenderResult
from .midi_panel import MidiPanel
from .morph_pad import MorphPadPanel
from .performance_panel import PerformancePanel
from .pickers import DevicePicker, ModelPicker
from .spectrogram import SpectrogramView
from .theme import tool_icon
from .voice_in_panel import VoiceInPanel
from .voice_map import VoiceMapView
from .voices_panel import VoicesPanel

SHOW_MODEL_BOX_FROM_PX = 640  # the central view's height from which the model's details are shown


class KeypadBox(QGroupBox):
    """The keypad with the voice toggles under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Keypad", parent)
        self.keypad = Keypad()
        self.hold_voice = QCheckBox("&Hold voice")
        self.hold_voice.setToolTip(
            "Off: every press is a fresh natural variation.\nOn: keep the voice set by the knobs or the preset."
        )
        self.auto_play = QCheckBox("&Auto-play knobs")
        self.auto_play.setToolTip("Play the digit again whenever a knob, preset or Randomize changes the voice")
        self.auto_play.setChecked(True)
        self.real_texture = QCheckBox("Real te&xture")
        self.real_texture.setToolTip(
            "On: the fine texture of real speech, taken from the model's bank of training recordings.\n"
            "Off: the decoder alone (smoother). Models without a bank always sound like Off."
        )
        self.real_texture.setChecked(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.keypad)
        opts = QHBoxLayout()
        opts.addWidget(self.hold_voice)
        opts.addWidget(self.auto_play)
        lay.addLayout(opts)
        lay.addWidget(self.real_texture)

    def set_has_texture(self, has: bool) -> None:
        """Enable "Real texture" only for a model with a texture bank (it stays ticked: the user's choice)."""
        self.real_texture.setEnabled(has)
        tip = self.real_texture.toolTip().split("\n\n")[0]
        self.real_texture.setToolTip(tip if has else tip + "\n\nThis model has no texture bank.")


class SayNumberBox(QGroupBox):
    """A digit-string field with Play and an error line. Emits :attr:`play_requested` (the text)."""

    play_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Say a number", parent)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("e.g. 2025")
        self.text_edit.setToolTip("Digits to speak; spaces, dashes, dots, brackets and a leading + are allowed")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.returnPressed.connect(self._request)
        self.text_edit.installEventFilter(self)
        self.text_edit.textEdited.connect(lambda _t: self.show_error(""))
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Speak the digits (Enter)")
        self.play_button.clicked.connect(self._request)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.play_button)
        lay.addLayout(row)
        lay.addWidget(self.error)

    def text(self) -> str:
        return self.text_edit.text()

    def set_text(self, text: str) -> None:
        self.text_edit.setText(text)

    def show_error(self, message: str) -> None:
        """Show ``message`` in red under the field ("" hides it)."""
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def release_focus(self) -> None:
        """Leave the field (after Enter, Esc or a keypad click), so digit keys reach the keypad again."""
        if self.text_edit.hasFocus():
            self.text_edit.clearFocus()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if (
            obj is self.text_edit and event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape  # type: ignore[attr-defined]
        ):
            self.release_focus()  # and Esc still stops playback
        return False

    def _request(self) -> None:
        self.release_focus()
        self.play_requested.emit(self.text_edit.text())


class ModelDetailsBox(QGroupBox):
    """What the loaded model is, or why there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.details = QLabel("")
        self.details.setObjectName("muted")
        self.details.setWordWrap(True)
        QVBoxLayout(self).addWidget(self.details)

    def show_model(self, info: ModelInfo) -> None:
        self.details.setText(
            f"<b>{info.display_name}</b><br>{info.latent_dim} latent dimensions · {len(info.speakers)} voices"
            f" · {info.sample_rate / 1000:g} kHz<br><span style='font-size:10px'>{info.where or info.path}</span>"
        )
        self.details.setToolTip(info.path + (f"\n{info.credits}" if info.credits else ""))

    def show_problem(self, text: str) -> None:
        self.details.setText(f"<span style='color:#ff6b6b'>{text}</span>")


class MainToolBar(QToolBar):
    """Model and output pickers on the left; Play again, Stop and Export WAV… on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent)
        self.setObjectName("main-toolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_picker = ModelPicker()
        self.device_picker = DevicePicker()
        self.addWidget(QLabel(" Model "))
        self.addWidget(self.model_picker)
        self.addSeparator()
        self.addWidget(QLabel(" Output "))
        self.addWidget(self.device_picker)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.replay_action = self._action("play", "Play again", "Ctrl+R", "Play the last render again")
        self.stop_action = self._action("stop", "Stop", "Esc", "Stop playback")
        self.export_action = self._action("save", "Export WAV…", "Ctrl+S", "Save the last render as a WAV file")
        self.export_action.setEnabled(False)

    def _action(self, icon: str, text: str, key: str, tip: str) -> QAction:
        action = QAction(tool_icon(icon), text, self)
        action.setShortcut(QKeySequence(key))
        action.setToolTip(f"{tip} ({key})")
        self.addAction(action)
        return action


class CentralView(QWidget):
    """The window's body: keypad, string entry and model details on the left; on the right the
    spectrogram beside the explore tabs (voice map, morph pad, saved voices), over the knob panel
    (splitters between them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shown: RenderResult | None = None  # the render drawn
        self.keys = KeypadBox()
        self.say_box = SayNumberBox()
        self.model_box = ModelDetailsBox()
        self.performance = PerformancePanel()
        perf_box = QGroupBox("Performance")
        QVBoxLayout(perf_box).addWidget(self.performance)
        left = QWidget()
        left_l = QVBoxLayout(left)
        left_l.setContentsMargins(0, 0, 0, 0)
        left_l.addWidget(self.keys)
        left_l.addWidget(self.say_box)
        left_l.addWidget(self.model_box)
        left_l.addStretch(1)
        left_l.addWidget(perf_box)  # at the bottom: level with the knobs
        left.setMinimumWidth(260)
        left.setMaximumWidth(340)

        self.spectrogram = SpectrogramView()
        self.spec_box = QGroupBox("Spectrogram")
        spl = QVBoxLayout(self.spec_box)
        spl.setContentsMargins(4, 8, 4, 4)
        spl.addWidget(self.spectrogram)
        self.voice_map = VoiceMapView()
        self.morph = MorphPadPanel()
        self.voices = VoicesPanel()
        self.midi = MidiPanel()
        self.voice_in = VoiceInPanel()
        self.explore = QTabWidget()
        self.explore.addTab(self.voice_map, "Voice &map")
        self.explore.addTab(self.morph, "Morph &pad")
        self.explore.addTab(self.voices, "&Voices")
        self.explore.addTab(self.midi, "M&IDI")
        self.explore.addTab(self.voice_in, "Mi&c")  # "Voice in": a longer name makes the tabs scroll at 1024 px
        self.explore.setTabToolTip(4, "Voice in: your own voice, from a microphone take or a WAV file")
        # Alt+M / Alt+P / Alt+V / Alt+I / Alt+C switch tabs; the bar itself is no Tab stop (the controls on it are)
        self.explore.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.addWidget(self.spec_box)
        self.top_splitter.addWidget(self.explore)
        self.top_splitter.setStretchFactor(0, 5)
        self.top_splitter.setStretchFactor(1, 4)
        self.top_splitter.setChildrenCollapsible(False)
        self.knob_panel = KnobPanel()
        knob_box = QGroupBox("Latent knobs")
        QVBoxLayout(knob_box).addWidget(self.knob_panel)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.top_splitter)
        self.splitter.addWidget(knob_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(left)
        lay.addWidget(self.splitter, 1)
        # digit keys belong to the keypad unless the number field is being edited
        self.keys.keypad.digit_pressed.connect(lambda _d: self.say_box.release_focus())
        self.keys.keypad.pass_digits_through(self.knob_panel.temperature)
        vin = self.voice_in
        for box in (*self.morph.pickers, self.voice_map.colour_by, self.midi.ports, vin.devices, vin.digit,
                    vin.learn.per_digit, vin.learn.personal, *self.performance.spins()):  # fmt: skip
            self.keys.keypad.pass_digits_through(box)

    def show_model(self, info: ModelInfo, saved_knobs: list[float]) -> None:
        """A model is ready: knobs for its latent size (at ``saved_knobs`` if they fit), its voices,
        the spectrogram's scale, its details."""
        self.knob_panel.set_latent_dim(info.latent_dim)
        self.knob_panel.set_values(saved_knobs if len(saved_knobs) == info.latent_dim else [])
        self.knob_panel.set_speakers(info.speakers)
        self.knob_panel.set_labels(info.knob_labels)
        self.voice_map.set_map(info.voice.voice_map if info.voice else None, info.speakers, info.voice_map_missing)
        self.voices.set_model(info.model_id, info.latent_dim)
        self.spectrogram.set_scale(info.db_min, info.db_max, info.nyquist_hz)
        self.model_box.show_model(info)

    def show_model_problem(self, text: str) -> None:
        """No model can be used: say why where the knobs would be and in the details."""
        self.knob_panel.set_latent_dim(0)
        self.knob_panel.set_placeholder(text)
        self.voice_map.show_problem(text)
        self.model_box.show_problem(text)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        # short windows (e.g. 1024x640): the model's details give way to the keypad (the toolbar names the model)
        self.model_box.setVisible(event.size().height() >= SHOW_MODEL_BOX_FROM_PX)
        super().resizeEvent(event)

    def show_result(self, result: RenderResult) -> None:
        """Show a finished render: spectrogram and waveform, its title, the keypad's display."""
        self.keys.keypad.show_spoken(result.label)
        if result.request.origin is Origin.STRING:
            self.say_box.show_error("")
        self.spectrogram.show_render(
            result.image_db, result.duration_s, result.wave, result.sample_rate, list(result.segments), result.digits
        )
        self.spectrogram.set_playhead(None)
        self.shown = result
        self.spec_box.setTitle(f"Spectrogram: “{shorten(result.label)}”  ·  {result.duration_s:.2f} s")

    def follow_playhead(self, result: RenderResult | None, position: float | None) -> None:
        """The playhead at ``position`` s into ``result`` if that is the render drawn (``None``: off)."""
        if position is None or result is self.shown:
            self.spectrogram.set_playhead(position)


def shorten(text: str, n: int = 20) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "…"


def said_message(result: RenderResult, latency_s: float | None) -> str:
    """The status line after a render: what was said, how long the render took, and the output
    latency on top of it when the sound plays (what a user waits in all)."""
    wait = "rendered ahead" if result.ahead else f"rendered in {1000 * result.elapsed_s:.0f} ms"
    if result.request.play and latency_s is not None:
        wait += f" + {1000 * latency_s:.0f} ms to the device"
    return f"Said {shorten(result.label)}: {wait} ({result.duration_s:.2f} s of audio)."
