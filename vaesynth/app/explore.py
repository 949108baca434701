"""Exploring voices: wires the voice map, the morph pad and the saved voices to the knobs.

:class:`ExploreController` turns a map drag, a dot click, a puck move or a loaded voice into
knobs (through :class:`~vaesynth.app.voice_knobs.VoiceKnobs`, the app's one door to the knob
space) and hands them to the :class:`~vaesynth.app.voice_editor.VoiceEditor`, which renders the
current digit through the window's scheduler: the same coalesced, low-latency path as a knob
turn. It keeps the map's marker on the current voice, and plays the A/B of a clicked dot: the
real recording (:mod:`vaesynth.app.recordings`), then the model's rendering of its latent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer

from vaesynth.sound.recordings import find_recording, where_looked

from .knobs import LIVE_REDRAW_MS
from .messages import ModelInfo, Origin, RenderRequest, RenderResult
from .morph_pad import MorphPadPanel
from .playback import PlaybackController
from .recordings import a_then_b, load_recording
from .voice_editor import VoiceEditor
from .voice_knobs import CornerKind, CornerVoice, VoiceKnobs
from .voice_map import VoiceMapView
from .voice_mode import VoiceControls
from .voices_panel import VoicesPanel

if TYPE_CHECKING:
    from vaesynth.voices.keep import SavedVoice


class ExploreController(QObject):
    """``digit()``: the digit being said; ``submit``: the window's scheduler; ``status``: the status bar."""

    def __init__(
        self,
        voice_map: VoiceMapView,
        pad: MorphPadPanel,
        voices: VoicesPanel,
        editor: VoiceEditor,
        playback: PlaybackController,
        digit: Callable[[], str],
        set_digit: Callable[[str], None],
        submit: Callable[[RenderRequest], object],
        status: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.map, self.pad, self.voices, self.editor, self.playback = voice_map, pad, voices, editor, playback
        self._digit, self._set_digit, self._submit, self._status = digit, set_digit, submit, status
        self.info: ModelInfo | None = None
        self._marker_at: tuple[float, float] | None = None
        self._marker_timer = QTimer(self)
        self._marker_timer.setSingleShot(True)
        self._marker_timer.setInterval(LIVE_REDRAW_MS)  # a moving marker is redrawn at most this often
        self._marker_timer.timeout.connect(lambda: self.map.set_marker(self._marker_at))
        voice_map.point_dragged.connect(self.drag_to)
        voice_map.dot_clicked.connect(self.pick_dot)
        pad.moved.connect(self.blend_at)
        pad.corners_changed.connect(lambda: self.blend_at(*pad.pad.puck()))
        voices.loaded.connect(self.use_saved)
        voices.changed.connect(self._offer_choices)
        voices.message.connect(status)
        voices.set_source(self.current_voice)

    @property
    def knobs(self) -> VoiceKnobs | None:
        return self.info.voice if self.info is not None else None

    def set_model(self, info: ModelInfo) -> None:
        self.info = info
        self._offer_choices()
        self.show_voice(self.editor.panel.values(), self._digit())

    # --- the voice map -------------------------------------------------------------------------

    def drag_to(self, x: float, y: float) -> None:
        """The voice at map point ``(x, y)`` for the current digit: knobs set, rendered live."""
        vk = self.knobs
        if vk is None or vk.voice_map is None:
            return
        knobs = vk.knobs_at((x, y), self._digit())
        self.editor.apply(knobs, Origin.MAP)
        self.show_voice(knobs, self._digit(), soon=True)

    def pick_dot(self, index: int) -> None:
        """A click on training utterance ``index``: its digit becomes the current digit, the knobs
        jump to its latent, and the recording plays, then the model's rendering (A/B)."""
        vk = self.knobs
        if vk is None or vk.voice_map is None:
            return
        digit = str(int(vk.voice_map.digits[index]))
        latent = vk.utterance_latent(index)
        knobs = vk.knobs_for_latent(digit, latent)
        self._set_digit(digit)
        self.editor.panel.set_values(knobs)
        self.editor.panel.set_voice(None)
        self.editor.hold.setChecked(True)
        self.show_voice(knobs, digit)
        files = vk.voice_map.files
        if index < len(files):
            self.pad.add_choice(CornerVoice(CornerKind.LATENT, f"map: {files[index][:-4]}", values=tuple(latent)))
        perf = self.editor.performance.performance()
        controls = VoiceControls(None, True, knobs, self.editor.panel.temperature.value(), perf)
        req = controls.request(digit=digit, origin=Origin.MAP_DOT, play=True)
        self._submit(dataclasses.replace(req, utterance=index))

    def play_ab(self, result: RenderResult) -> None:
        """Play a clicked dot's recording, then ``result`` (its rendering); the rendering alone when
        the recording is not on this computer (the status bar says why)."""
        vk, index = self.knobs, result.request.utterance
        files = vk.voice_map.files if vk is not None and vk.voice_map is not None else []
        name = files[index] if index is not None and index < len(files) else ""
        path = find_recording(name) if name else None
        what = self.map.describe(index) if index is not None and self.map.has_map else name
        if path is None:
            self._status(f"{what}: the recording is not here (looked in {where_looked()}); playing the model only.")
            self.playback.play(result)
            return
        try:
            rec = load_recording(path, result.sample_rate)
        except (OSError, RuntimeError, ValueError) as e:
            self._status(f"Could not read {path}: {e}; playing the model only.")
            self.playback.play(result)
            return
        ab = a_then_b(rec, result.wave, result.sample_rate)
        ab.flags.writeable = False
        self.playback.play(dataclasses.replace(result, wave=ab, duration_s=len(ab) / result.sample_rate))
        self._status(f"A: {what} (the recording), then B: the model from its latent.")

    def show_voice(self, knobs: Sequence[float], digit: str, soon: bool = False) -> None:
        """Move the map's marker to the voice ``knobs`` (for ``digit``); ``soon``: within
        :data:`LIVE_REDRAW_MS` (while a drag keeps moving it), else now."""
        vk = self.knobs
        if vk is None or not digit:
            return
        self._marker_at = vk.map_position(digit[0], knobs)
        if not soon:
            self._marker_timer.stop()
            self.map.set_marker(self._marker_at)
        elif not self._marker_timer.isActive():
            self._marker_timer.start()

    # --- the morph pad -------------------------------------------------------------------------

    def blend_at(self, x: float, y: float) -> None:
        """The four corner voices blended at puck ``(x, y)`` for the current digit, rendered live."""
        vk, corners = self.knobs, self.pad.corners()
        if vk is None or len(corners) != 4:
            return
        try:
            knobs = vk.blend(corners, (x, y), self._digit())
        except ValueError as e:
            self._status(f"Cannot blend: {e}")
            return
        self.editor.apply(knobs, Origin.PAD)
        self.show_voice(knobs, self._digit(), soon=True)

    def _offer_choices(self) -> None:
        info = self.info
        if info is None:
            return
        choices = [CornerVoice(CornerKind.SPEAKER, s, speaker=s) for s in info.speakers]
        choices += [CornerVoice(CornerKind.KNOBS, f"saved: {v.name}", values=v.knobs) for v in self.voices.voices()]
        picked = [c for c in self.pad.choices if c.kind is CornerKind.LATENT and len(c.values or ()) == info.latent_dim]
        self.pad.set_choices(choices + picked)

    # --- saved voices --------------------------------------------------------------------------

    def current_voice(self, name: str) -> object:
        """The voice on the knobs now, as a :class:`vaesynth.voices.keep.SavedVoice` named ``name``."""
        from vaesynth.voices.keep import SavedVoice

        if self.info is None:
            raise ValueError("no model is loaded")
        knobs = tuple(float(v) for v in np.asarray(self.editor.panel.values(), dtype=np.float32))
        temperature, perf = float(self.editor.panel.temperature.value()), self.editor.performance.performance()
        return SavedVoice(name, self.info.model_id, knobs, temperature, perf)

    def use_saved(self, voice: object) -> None:
        """Apply a loaded :class:`vaesynth.voices.keep.SavedVoice`: its knobs, temperature and performance, held."""
        if self.info is None or len(voice.knobs) != self.info.latent_dim:  # type: ignore[attr-defined]
            self._status("That voice belongs to another model.")
            return
        v: SavedVoice = voice  # type: ignore[assignment]
        self.editor.apply(v.knobs, Origin.SAVED, temperature=v.temperature, performance=v.performance)
