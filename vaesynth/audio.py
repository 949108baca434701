"""Audio output: one persistent sounddevice stream, click-free note changes, and no crashes.

:class:`AudioOutput` owns the PortAudio side of the app. It never raises from its public
methods for audio reasons: when PortAudio is missing, there is no output device, a device
cannot be opened or disappears mid-play, it says so in :attr:`AudioOutput.status` (plain
words for a status bar), sets :attr:`AudioOutput.available` to ``False`` and carries on
silently. The next :meth:`AudioOutput.play` tries again, so a device that comes back works.

Sound path: ``play(wave, rate)`` resamples the model-rate waveform (8 kHz) to the stream
rate (48 kHz when the device takes it, else its default rate) with soxr, and hands it to the
stream's callback, which mixes the new sound in while the previous one fades out over
:data:`FADE_S` (so cutting a note never clicks). The stream stays open between notes; it
pauses itself after :data:`IDLE_PAUSE_S` of silence and restarts on the next note.

``sounddevice`` is imported lazily (PortAudio loads at import time), so importing this module
is cheap and safe everywhere.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

FADE_S = 0.006  # fade-out of a sound that is cut by a new one or by stop()
FADE_IN_S = 0.002  # every sound starts with this short fade-in
IDLE_PAUSE_S = 10.0  # pause the stream after this long without sound
PREFERRED_RATES = (48000, 44100)
DEFAULT_LATENCY_S = 0.05  # PortAudio suggested output latency

NO_PORTAUDIO = "Audio playback is off: the PortAudio library is missing (install libportaudio2)"
NO_DEVICE = "No audio output device found — playback is off"


@dataclass
class _Sound:
    """A sound in the stream's format: float32 ``(n_frames, channels)`` and a read position."""

    data: np.ndarray
    pos: int = 0
    fade_left: int = -1  # >= 0: fading out, this many frames of fade remain
    fade_len: int = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data) or self.fade_left == 0


def _message(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample float32 ``(n,)`` from ``rate_in`` to ``rate_out`` Hz (soxr, high quality)."""
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if rate_in == rate_out or wave.size == 0:
        return wave.copy()
    try:
        import soxr

        return np.asarray(soxr.resample(wave, rate_in, rate_out, quality="HQ"), dtype=np.float32)
    except ImportError:  # pragma: no cover - soxr is a dependency; keep a proper fallback anyway
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate_in), int(rate_out))
        return resample_poly(wave, rate_out // g, rate_in // g).astype(np.float32)


class AudioOutput:
    """Non-blocking playback on one output device; see the module docstring.

    ``device``: a PortAudio device index, or ``None`` for the system default output.
    Attributes: :attr:`available` (sound can be played right now, as far as we know),
    :attr:`status` (plain words), :attr:`sample_rate` (stream rate in Hz, or ``None``).
    """

    def __init__(self, device: int | None = None, latency: float = DEFAULT_LATENCY_S) -> None:
        self.available = False
        self.status = "Audio is starting"
        self.sample_rate: int | None = None
        self.channels = 1
        self.device: int | None = device
        self._latency = latency
        self._sd: Any = None
        self._stream: Any = None
        # _lock guards the sound state shared with the PortAudio callback; it is only ever held
        # for a few array operations and never while calling into PortAudio (abort/close wait
        # for the callback, which would then wait for the lock: a deadlock).
        # _stream_lock serialises opening and closing the stream between our callers' threads.
        self._lock = threading.Lock()
        self._stream_lock = threading.RLock()
        self._current: _Sound | None = None
        self._fading: list[_Sound] = []
        self._played_at = 0.0  # monotonic time of the last play()
        self._closing = False
        self._broken = False
        self._idle_paused = False
        try:
            import sounddevice as sd

            self._sd = sd
        except OSError:  # the PortAudio shared library is missing
            self.status = NO_PORTAUDIO
            return
        except Exception as e:  # noqa: BLE001 - any import-time failure means "no audio", never a crash
            self.status = f"Audio playback is off: {_message(e)}"
            return
        self._open(device)

    # --- devices ---------------------------------------------------------------------------

    def devices(self) -> list[dict]:
        """Output devices: ``[{"index", "name", "default_samplerate", "default": bool}]`` (empty without PortAudio)."""
        sd = self._sd
        if sd is None:
            return []
        try:
            found = sd.query_devices()
            default = self._default_output()
        except Exception:  # noqa: BLE001
            return []
        out = []
        for i, dev in enumerate(found):
            if dev.get("max_output_channels", 0) > 0:
                out.append(
                    {
                        "index": i,
                        "name": str(dev.get("name", f"device {i}")),
                        "default_samplerate": float(dev.get("default_samplerate", 0.0)),
                        "default": i == default,
                    }
                )
        return out

    def _default_output(self) -> int | None:
        try:
            idx = self._sd.default.device[1]
        except Exception:  # noqa: BLE001
            return None
        if idx is None or int(idx) < 0:
            try:
                idx = self._sd.query_devices(kind="output")["index"]
            except Exception:  # noqa: BLE001
                return None
        return int(idx)

    def rescan(self) -> None:
        """Make PortAudio enumerate devices again (e.g. after one was plugged in or went away).

        PortAudio is re-initialised process-wide, which invalidates every open stream: this
        object closes its own first, and does nothing if PortAudio is missing. Do not call it
        while another part of the process holds a PortAudio stream. A stream is reopened on
        the next :meth:`play`.
        """
        sd = self._sd
        if sd is None:
            return
        with self._stream_lock:
            self._close_stream()
            try:
                sd._terminate()
                sd._initialize()
            except Exception:  # noqa: BLE001
                pass

    def set_device(self, index: int | None) -> None:
        """Switch to device ``index`` (``None``: the system default). Reports failure in :attr:`status`."""
        if self._sd is None:
            return
        with self._stream_lock:
            self.device = index
            self._open(index)

    def _open(self, index: int | None) -> bool:
        """Open and start a stream on ``index``; on failure set ``available`` False and say why."""
        sd = self._sd
        with self._stream_lock:
            self._close_stream()
            self.available = False
            self._broken = False
            self._idle_paused = False
            try:
                dev = index if index is not None else self._default_output()
                if dev is None:
                    self.status = NO_DEVICE
                    return False
                try:
                    if not 0 <= int(dev) < len(sd.query_devices()):
                        raise ValueError(dev)
                    info = sd.query_devices(dev)
                except (ValueError, IndexError, TypeError, sd.PortAudioError):
                    self.status = f"Audio device {dev} not found — playback is off"
                    return False
                if info.get("max_output_channels", 0) < 1:
                    self.status = f"{info.get('name', dev)} cannot play sound — playback is off"
                    return False
                rate, channels = self._pick_format(dev, info)
                stream = sd.OutputStream(
                    samplerate=rate,
                    device=dev,
                    channels=channels,
                    dtype="float32",
                    latency=self._latency,
                    callback=self._callback,
                    finished_callback=self._finished,
                )
                self._stream = stream
                self.sample_rate = int(rate)
                self.channels = channels
                self.available = True
                self.status = f"Playing on {info.get('name', dev)} at {int(rate)} Hz"
                return True
            except Exception as e:  # noqa: BLE001 - sd.PortAudioError and anything a driver throws
                self._stream = None
                self.status = f"Audio device unavailable: {_message(e)} — playback is off"
                return False

    def _pick_format(self, dev: int, info: dict) -> tuple[int, int]:
        sd = self._sd
        candidates = [*PREFERRED_RATES, int(info.get("default_samplerate") or 48000)]
        for ch in (1, 2):
            for rate in candidates:
                try:
                    sd.check_output_settings(device=dev, samplerate=rate, channels=ch, dtype="float32")
                    return rate, ch
                except Exception:  # noqa: BLE001
                    continue
        return int(info.get("default_samplerate") or 48000), 1

    def _close_stream(self) -> None:
        """Abort and close the stream (call with ``_stream_lock`` held, never ``_lock``)."""
        with self._lock:
            stream, self._stream = self._stream, None
            self._current, self._fading = None, []
        if stream is not None:
            self._closing = True
            try:
                stream.abort()
            except Exception:  # noqa: BLE001
                pass
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass
            self._closing = False

    # --- playback --------------------------------------------------------------------------

    def play(self, wave: np.ndarray, sample_rate: int) -> bool:
        """Start playing ``wave`` (float ``(n,)`` at ``sample_rate`` Hz) now; returns at once.

        Cuts the current sound with a short fade. Returns ``True`` if the sound was handed to
        the device, ``False`` (and :attr:`status` says why) if playback is off. Bad input
        (not 1-D, non-finite samples, a non-positive rate) raises :class:`ValueError`.
        """
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1:
            raise ValueError(f"play needs a mono waveform (n,), got shape {wave.shape}")
        if not np.isfinite(wave).all():
            raise ValueError("play needs finite samples")
        if int(sample_rate) <= 0:
            raise ValueError(f"invalid sample rate {sample_rate}")
        if self._sd is None:
            return False
        with self._stream_lock:
            if (self._stream is None or self._broken) and not self._open(self.device):
                return False
        rate = self.sample_rate or int(sample_rate)
        data = np.clip(resample(wave, int(sample_rate), rate), -1.0, 1.0)
        k = min(len(data), round(FADE_IN_S * rate))
        if k:  # never start with a step, whatever the input
            data[:k] *= (np.arange(1, k + 1, dtype=np.float32) / k) ** 2
        data = np.repeat(data[:, None], self.channels, axis=1) if self.channels > 1 else data[:, None]
        with self._stream_lock:
            with self._lock:
                self._fade_out_current()
                self._current = _Sound(np.ascontiguousarray(data, dtype=np.float32))
                self._played_at = time.monotonic()
                stream = self._stream
            try:
                if stream is not None and not stream.active:
                    if not stream.stopped:
                        stream.stop()  # it finished by itself (idle pause): reset before starting again
                    self._idle_paused = False
                    stream.start()
            except Exception as e:  # noqa: BLE001
                self._mark_broken(f"Audio device failed: {_message(e)} — playback is off")
                return False
        return self.available

    def stop(self) -> None:
        """Fade out whatever is playing (6 ms); the stream stays open."""
        with self._lock:
            self._fade_out_current()

    def _fade_out_current(self) -> None:
        cur = self._current
        self._current = None
        if cur is not None and not cur.done and self.sample_rate:
            cur.fade_len = cur.fade_left = max(1, round(FADE_S * self.sample_rate))
            self._fading = [f for f in self._fading if not f.done][-3:] + [cur]

    @property
    def is_playing(self) -> bool:
        """Whether a sound is still being played (including the device's output latency)."""
        pos = self.position()
        return pos is not None

    def position(self) -> float | None:
        """Seconds into the current sound as heard (output latency subtracted), or ``None`` if idle."""
        with self._lock:
            cur, rate, stream = self._current, self.sample_rate, self._stream
            pos = cur.pos if cur is not None else 0
        if cur is None or not rate or stream is None:
            return None
        try:
            latency = float(stream.latency)
        except Exception:  # noqa: BLE001
            latency = 0.0
        t = pos / rate - latency
        if t > len(cur.data) / rate:
            return None
        return max(0.0, t)

    def close(self) -> None:
        """Stop and release the device (the object stays usable: a later play reopens it)."""
        with self._stream_lock:
            self._close_stream()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    # --- stream callbacks (PortAudio's thread) ----------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        try:
            outdata.fill(0.0)
            with self._lock:
                cur = self._current
                if cur is not None:
                    n = min(frames, len(cur.data) - cur.pos)
                    if n > 0:
                        outdata[:n] += cur.data[cur.pos : cur.pos + n]
                    # keep counting past the end so position() covers the output latency
                    cur.pos += frames
                for f in self._fading:
                    n = min(frames, len(f.data) - f.pos, f.fade_left)
                    if n > 0:
                        k = f.fade_len - f.fade_left
                        ramp = 1.0 - (np.arange(k, k + n, dtype=np.float32) + 1.0) / f.fade_len
                        outdata[:n] += f.data[f.pos : f.pos + n] * ramp[:, None]
                    f.pos += max(n, 0)
                    f.fade_left = 0 if n <= 0 else f.fade_left - n
                self._fading = [f for f in self._fading if not f.done]
                idle = (cur is None or cur.pos >= len(cur.data) + frames * 4) and not self._fading
                if idle and time.monotonic() - self._played_at > IDLE_PAUSE_S:
                    self._current = None
                    self._idle_paused = True
                    raise self._sd.CallbackStop
        except Exception as e:  # noqa: BLE001
            if self._sd is not None and isinstance(e, self._sd.CallbackStop):
                raise
            outdata.fill(0.0)  # never let an exception abort the stream from here

    def _finished(self) -> None:
        """PortAudio says the stream stopped: by us (idle pause, close) or because the device went away."""
        if self._closing or self._idle_paused:
            return
        if self._stream is not None:
            self._mark_broken("Audio device stopped during playback — it may have been unplugged")

    def _mark_broken(self, message: str) -> None:
        self._broken = True
        self.available = False
        self.status = message
        with self._lock:
            self._current, self._fading = None, []
