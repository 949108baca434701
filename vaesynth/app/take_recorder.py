"""One microphone take, recorded in a short-lived thread of its own (no widgets).

Shared by the Mic tab (:mod:`.voice_in_control`) and Learn my voice (:mod:`.learn_voice_control`):
:meth:`TakeRecorder.start` records :data:`TAKE_S` seconds from an input device with
:func:`vaesynth.sound.audio_in.record_raw`; the signals are emitted from that thread and PortAudio's,
so connect them queued. The meter gets the loudest block level at most every :data:`LEVEL_EVERY_S`.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal

from .engine import message

TAKE_S = 2.0  # seconds recorded per take
LEVEL_EVERY_S = 0.03  # the meter is sent the loudest block level at most this often


class TakeRecorder(QObject):
    """Signals: :attr:`level` (dBFS), :attr:`recorded` (samples float32 ``(n,)``, rate Hz),
    :attr:`record_failed` (one sentence). After :meth:`close` nothing more is emitted."""

    level = Signal(float)
    recorded = Signal(object, int)
    record_failed = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name  # the thread's name
        self._closed = False
        self._level_at, self._peak = 0.0, -120.0

    def start(self, device: int | None) -> None:
        """Record one take from ``device`` (``None``: the system default) in a new thread."""
        threading.Thread(target=self._record, args=(device,), name=self._name, daemon=True).start()

    def close(self) -> None:
        """Emit nothing more (a recording still running ends on its own and is dropped)."""
        self._closed = True

    def _record(self, device: int | None) -> None:  # the recording thread
        from vaesynth.sound.audio_in import AudioInError, record_raw

        try:
            samples, rate = record_raw(TAKE_S, device, on_level=self._on_level)
        except AudioInError as e:
            self._emit(self.record_failed, message(e))
        except Exception as e:  # noqa: BLE001 - any device failure is a sentence, never a crash
            self._emit(self.record_failed, f"Recording failed: {message(e)}")
        else:
            self._emit(self.recorded, samples, rate)

    def _on_level(self, db: float) -> None:  # PortAudio's thread: keep it quick, no widgets
        self._peak = max(self._peak, db)
        now = time.monotonic()
        if now - self._level_at >= LEVEL_EVERY_S:
            self._level_at, peak, self._peak = now, self._peak, -120.0
            self._emit(self.level, peak)

    def _emit(self, signal: Signal, *args: object) -> None:
        if not self._closed:
            try:
                signal.emit(*args)  # type: ignore[attr-defined]
            except RuntimeError:  # the window went away while recording
                pass
