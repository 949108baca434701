"""Sound output off the GUI thread: :class:`AudioBridge` owns the :class:`vaesynth.sound.audio.AudioOutput`.

Opening a PortAudio stream can take tens of milliseconds, so play/stop/device changes run in
the bridge's own ``QThread`` rather than on the GUI thread. :meth:`AudioBridge.position` and
:meth:`AudioBridge.latency_s` are read directly (the output guards them with a lock).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from .engine import message


class AudioBridge(QObject):
    """Plays, stops and switches devices in its own thread; reports state as signals."""

    state_changed = Signal(bool, str, list)  # available, status in plain words, devices
    played = Signal(int, bool, str)  # token, started, status

    _do_start = Signal()
    _do_play = Signal(object, int, int, float)
    _do_stop = Signal()
    _do_device = Signal(object)
    _do_prepare = Signal()
    _do_close = Signal()

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self._factory = factory
        self._output: Any = None
        self._newest = 0  # the newest play's token (plays come from this thread and the engine's)
        self._order = threading.Lock()
        self._thread = QThread()
        self._thread.setObjectName("vaesynth-audio")
        self.moveToThread(self._thread)
        self._do_start.connect(self._start)
        self._do_play.connect(self._play)
        self._do_stop.connect(self._stop)
        self._do_device.connect(self._set_device)
        self._do_prepare.connect(self._prepare)
        self._do_close.connect(self._close)

    # --- GUI thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._do_start.emit()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Close the output (its streams, in the audio thread) and end the thread."""
        self._do_close.emit()
        self._thread.quit()
        self._thread.wait(timeout_ms)

    def play(self, wave: np.ndarray, sample_rate: int, token: int, crossfade_s: float = 0.0) -> None:
        """Play ``wave`` (float32 ``(n,)`` at ``sample_rate`` Hz); ``crossfade_s`` > 0 fades from
        the sound playing into it where the output supports that (else it cuts with a short fade)."""
        self._do_play.emit(wave, sample_rate, token, float(crossfade_s))

    def play_now(self, wave: np.ndarray, sample_rate: int, token: int, crossfade_s: float = 0.0) -> None:
        """:meth:`play` on the calling thread (the engine's: no hop through another event loop).
        The output is thread-safe; reports still arrive as :attr:`played`."""
        self._play(wave, sample_rate, token, crossfade_s)

    def stop(self) -> None:
        self._do_stop.emit()

    def prepare(self) -> None:
        """A sound is coming (a key, knob, pad or MIDI event): the output opens its stream now, while
        the engine renders, so that :meth:`play` only has to start it (``AudioOutput.prepare``)."""
        self._do_prepare.emit()

    def set_device(self, index: int | None) -> None:
        self._do_device.emit(index)

    @property
    def device(self) -> int | None:
        """The PortAudio index of the device in use (``None``: system default or unknown)."""
        dev = getattr(self._output, "device", None)
        return dev if isinstance(dev, int) else None

    def position(self) -> float | None:
        """Seconds into the sound playing, as heard; ``None`` when idle."""
        out = self._output
        if out is None:
            return None
        try:
            return out.position()
        except Exception:  # noqa: BLE001
            return None

    def latency_s(self) -> float | None:
        """How long the last sound took from the hand-over to the device, as the output timed it
        (``AudioOutput.start_latency_s``), else its stream latency (``latency_s``), if it says."""
        try:
            value = getattr(self._output, "start_latency_s", None)
            if value is None:
                value = getattr(self._output, "latency_s", None)
            return float(value) if value is not None else None
        except Exception:  # noqa: BLE001 - an output without a stream may raise
            return None

    # --- audio thread ----------------------------------------------------------------------

    def _report(self) -> None:
        out = self._output
        if out is None:
            return
        try:
            devices = list(out.devices()) if out.available else []
        except Exception:  # noqa: BLE001
            devices = []
        status = str(out.status)
        if out.available:
            dev = getattr(out, "device", None)
            name = next((d.get("name") for d in devices if d.get("index") == dev), None)
            if name is None:
                name = next((d.get("name") for d in devices if d.get("default")), None)
            rate = getattr(out, "sample_rate", None)
            if name:
                status = f"Sound output: {name}" + (f" ({rate} Hz)" if rate else "")
        self.state_changed.emit(bool(out.available), status, devices)

    @Slot()
    def _start(self) -> None:
        try:
            if self._factory is not None:
                self._output = self._factory()
            else:
                from vaesynth.sound.audio import AudioOutput

                self._output = AudioOutput()
        except Exception as e:  # noqa: BLE001 - e.g. the audio module itself cannot load
            self._output = None
            self.state_changed.emit(False, f"No audio output: {message(e)}", [])
            return
        self._report()

    @Slot(object, int, int, float)
    def _play(self, wave: np.ndarray, sample_rate: int, token: int, crossfade_s: float) -> None:
        with self._order:  # a queued play overtaken by a newer one from the engine's thread is dropped
            if token < self._newest:
                return
            self._newest = token
        out = self._output
        if out is None:
            self.played.emit(token, False, "no audio output")
            return
        was = bool(out.available)
        try:
            ok = bool(out.play(wave, sample_rate, crossfade_s=crossfade_s)) and bool(out.available)
        except Exception as e:  # noqa: BLE001
            self.played.emit(token, False, message(e))
            return
        if bool(out.available) != was:
            self._report()  # the device came back or went away
        self.played.emit(token, ok, str(out.status))
        if ok:
            self._do_prepare.emit()  # on the audio thread: a stream stands ready for the next sound

    @Slot()
    def _prepare(self) -> None:
        prepare = getattr(self._output, "prepare", None)
        if prepare is not None:
            try:
                prepare()
            except Exception:  # noqa: BLE001 - play() opens the stream itself and reports
                pass

    @Slot()
    def _stop(self) -> None:
        if self._output is not None:
            try:
                self._output.stop()
            except Exception:  # noqa: BLE001
                pass

    @Slot()
    def _close(self) -> None:
        close = getattr(self._output, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                pass

    @Slot(object)
    def _set_device(self, index: int | None) -> None:
        if self._output is None:
            return
        try:
            self._output.set_device(index)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        self._report()
