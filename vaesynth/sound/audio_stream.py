"""The parts of sound output that PortAudio's threads run: one output stream per sound and its voices.

:class:`Stream` wraps one PortAudio output stream whose callback mixes its :class:`Voice` s (usually
exactly one) and stops once its sound and a short tail are over; finished streams are closed by
a reaper thread (:func:`reap_later`), never on PortAudio's own thread. :class:`vaesynth.sound.audio.AudioOutput`
owns them; nothing here knows of models or Qt.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

TAIL_S = 0.02  # silence a stream writes after its sound beyond its latency, before it stops
PREFERRED_RATES = (48000, 44100)


def output_devices(sd: Any) -> list[dict]:
    """Output devices: ``[{"index", "name", "default_samplerate", "default": bool}]`` (empty without PortAudio)."""
    if sd is None:
        return []
    try:
        found = sd.query_devices()
        default = default_output(sd)
    except Exception:  # noqa: BLE001
        return []
    return [
        {
            "index": i,
            "name": str(dev.get("name", f"device {i}")),
            "default_samplerate": float(dev.get("default_samplerate", 0.0)),
            "default": i == default,
        }
        for i, dev in enumerate(found)
        if dev.get("max_output_channels", 0) > 0
    ]


def default_output(sd: Any) -> int | None:
    """PortAudio's default output device index, or ``None``."""
    try:
        idx = sd.default.device[1]
    except Exception:  # noqa: BLE001
        return None
    if idx is None or int(idx) < 0:
        try:
            idx = sd.query_devices(kind="output")["index"]
        except Exception:  # noqa: BLE001
            return None
    return int(idx)


def pick_format(sd: Any, dev: int, info: dict) -> tuple[int, int]:
    """``(rate, channels)`` for device ``dev``: 48 or 44.1 kHz where it takes them, mono if it can."""
    candidates = [*PREFERRED_RATES, int(info.get("default_samplerate") or 48000)]
    for ch in (1, 2):
        for rate in candidates:
            try:
                sd.check_output_settings(device=dev, samplerate=rate, channels=ch, dtype="float32")
                return rate, ch
            except Exception:  # noqa: BLE001
                continue
    return int(info.get("default_samplerate") or 48000), 1


_reap_queue: queue.SimpleQueue[tuple[Stream, Callable[[Stream], None]]] = queue.SimpleQueue()
_reaper: threading.Thread | None = None
_reaper_lock = threading.Lock()


def _reap_forever() -> None:
    """Close streams that have finished; blocked on the queue otherwise (so it costs no wake-ups)."""
    while True:
        s, on_reaped = _reap_queue.get()
        try:
            on_reaped(s)
        except Exception:  # noqa: BLE001 - never let the reaper die
            pass


def reap_later(s: Stream, on_reaped: Callable[[Stream], None]) -> None:
    """Ask the reaper thread to call ``on_reaped(s)`` (callable from PortAudio's threads: never blocks)."""
    global _reaper
    if _reaper is None or not _reaper.is_alive():
        with _reaper_lock:
            if _reaper is None or not _reaper.is_alive():
                _reaper = threading.Thread(target=_reap_forever, name="vaesynth-audio-reaper", daemon=True)
                _reaper.start()
    _reap_queue.put((s, on_reaped))


@dataclass(eq=False)
class Voice:
    """One sound in the stream's format: float32 ``(n_frames, channels)`` and its play state.

    ``fade_request`` is written by the controlling thread (one assignment: lock-free) and read
    by the stream callback: ``(frames, equal_power)`` asks for a fade-out starting with the next
    block. Everything else is written by the callback only.
    """

    data: np.ndarray
    pos: int = 0  # frames handed to the stream so far (keeps counting through the fade)
    fade_request: tuple[int, bool] | None = None
    fade_len: int = 0  # > 0: fading out over this many frames
    fade_pos: int = 0
    equal_power: bool = False
    done: bool = False

    def fade_out(self, frames: int, equal_power: bool = False) -> None:
        if not self.done and self.fade_request is None:
            self.fade_request = (max(1, int(frames)), equal_power)

    def mix_into(self, out: np.ndarray, frames: int) -> bool:
        """Add the next ``frames`` of this voice to ``out``; return whether it is still sounding."""
        if self.done:
            return False
        req = self.fade_request
        if req is not None and self.fade_len == 0:
            self.fade_len, self.equal_power = req
        n = min(frames, len(self.data) - self.pos)
        if self.fade_len:
            n = min(n, self.fade_len - self.fade_pos)
        if n > 0:
            chunk = self.data[self.pos : self.pos + n]
            if self.fade_len:
                k = np.arange(self.fade_pos + 1, self.fade_pos + n + 1, dtype=np.float32) / self.fade_len
                gain = np.cos(0.5 * np.pi * k) if self.equal_power else 1.0 - k
                out[:n] += chunk * gain[:, None]
                self.fade_pos += n
            else:
                out[:n] += chunk
        self.pos += frames
        if self.pos >= len(self.data) or (self.fade_len and self.fade_pos >= self.fade_len):
            self.done = True
        return not self.done


class Stream:
    """One PortAudio output stream and the voices its callback mixes (usually exactly one)."""

    def __init__(
        self,
        sd: Any,
        voice: Voice | None,
        device: int,
        rate: int,
        channels: int,
        latency: float,
        on_finished: Callable[[Stream], None],
    ) -> None:
        """``sd``: the sounddevice module; ``latency``: PortAudio's suggested latency (s);
        ``on_finished(stream)`` runs on PortAudio's thread when the stream has stopped."""
        self.sd = sd
        self.on_finished = on_finished
        # replaced (never mutated) by the controlling thread; empty only before a standby stream starts
        self.voices: tuple[Voice, ...] = (voice,) if voice is not None else ()
        self.ending = False  # we stopped it (its sound is over, or close/abort): not a device failure
        self.finished = False
        self.closed = False
        self.underruns = 0  # written by this stream's callback only
        self.silent_frames = 0  # silence written since the last voice ended (callback only)
        self.first_sample_at: float | None = None  # time.monotonic() its first sound reaches the device
        self.stream = sd.OutputStream(
            samplerate=rate,
            device=device,
            channels=channels,
            dtype="float32",
            latency=latency,
            callback=self.callback,
            finished_callback=self.finished_callback,
            # fill the whole buffer from the callback before the device starts: no underrun at
            # start (the weak moment of a new stream on a busy machine), and the sound is first
            prime_output_buffers_using_stream_callback=True,
        )
        self.latency = float(self.stream.latency)
        # PortAudio's ALSA host drops what is still queued when the stream completes, so the
        # stream writes this much silence after its sound before it stops: a sound is never cut
        self.tail_frames = round((self.latency + TAIL_S) * rate)

    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: mix the voices into ``outdata`` ``(frames, channels)``; stop after the tail."""
        sd = self.sd
        try:
            if self.first_sample_at is None and self.voices:  # when this block's sample 0 reaches the DAC
                ahead = float(time_info.outputBufferDacTime - time_info.currentTime)
                self.first_sample_at = time.monotonic() + (ahead if 0.0 <= ahead < 1.0 else self.latency)
            if status is not None and status.output_underflow:
                self.underruns += 1
            outdata.fill(0.0)
            voices = self.voices
            sounding = False
            for v in voices:
                sounding = v.mix_into(outdata, frames) or sounding
            if sounding:
                self.silent_frames = 0
            elif self.voices is voices:
                self.silent_frames += frames
            if self.silent_frames >= self.tail_frames and self.voices is voices:
                self.ending = True
                raise sd.CallbackStop  # plays out what is queued, then calls finished_callback
        except Exception as e:  # noqa: BLE001
            if sd is not None and isinstance(e, (sd.CallbackStop, sd.CallbackAbort)):
                raise  # ours (CallbackStop), or a deliberate abort: the stream ends, finished_callback follows
            outdata.fill(0.0)  # never let any other exception abort the stream from here

    def finished_callback(self) -> None:
        """PortAudio's thread: the stream stopped, because its sound ended, we closed it, or the device went away."""
        self.finished = True
        self.on_finished(self)

    def close(self) -> None:
        self.ending = True
        if self.closed:
            return
        self.closed = True
        for op in (self.stream.abort, self.stream.close):
            try:
                op()
            except Exception:  # noqa: BLE001
                pass
