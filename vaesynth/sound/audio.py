"""Audio output: every sound on a fresh sounddevice stream, click-free changes, idle costs nothing.

:class:`AudioOutput` owns the PortAudio side of the app. It never raises from its public
methods for audio reasons: when PortAudio is missing, there is no output device, a device
cannot be opened or disappears mid-play, it says so in :attr:`AudioOutput.status` (plain
words for a status bar), sets :attr:`AudioOutput.available` to ``False`` and carries on
silently. The next :meth:`AudioOutput.play` tries again, so a device that comes back works.

Sound path (measurements and reasoning: ``docs/latency.md``): ``play(wave, rate)`` resamples the
model-rate waveform with soxr and starts it on a **new** PortAudio stream (a running stream's
full buffer would delay it by :data:`LATENCY_S`), while the sound that was playing fades out on
its own stream (:data:`FADE_S`, or ``crossfade_s`` as a cross-fade). Streams stop and close
themselves after their sound (:mod:`vaesynth.sound.audio_stream`), so an idle app adds no wake-ups at
the sound server; :meth:`AudioOutput.prepare` opens the next stream while a sound is rendered.
A device that cannot hold a second stream gets the new sound mixed into the running one.

``sounddevice`` is imported lazily (PortAudio loads at import time), so importing this module
is cheap and safe everywhere.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref
from typing import Any

import numpy as np

from ..dsp.spectral import resample
from .audio_stream import Stream, Voice, default_output, output_devices, pick_format, reap_later

FADE_S = 0.006  # fade-out of a sound that is cut by a new one or by stop()
FADE_IN_S = 0.002  # every sound starts with at least this short fade-in
LATENCY_S = 0.05  # PortAudio suggested output latency (the stream's buffer); see docs/latency.md
DEFAULT_LATENCY_S = LATENCY_S  # the old name, kept for callers
STANDBY_S = 3.0  # a stream opened by prepare() and not used by a play() is closed after this (the app prepares
# one after every sound, so while someone plays a stream stands ready; 3 s after the last sound none is open)

NO_PORTAUDIO = "Audio playback is off: the PortAudio library is missing (install libportaudio2)"
NO_DEVICE = "No audio output device found — playback is off"


_live: weakref.WeakSet[AudioOutput] = weakref.WeakSet()
_atexit_registered = False


def close_all() -> None:
    """Close every open stream of every :class:`AudioOutput` (the outputs stay usable). Call it
    before anything terminates PortAudio: ``Pa_Terminate`` with streams still running can hang."""
    for out in list(_live):
        try:
            out.close()
        except Exception:  # noqa: BLE001
            pass


def _close_all_at_exit() -> None:
    """Close every stream while Python is still whole: PortAudio's own exit handler (Pa_Terminate)
    would otherwise close them during interpreter shutdown, when their callbacks can no longer
    enter Python, and the process can hang on exit."""
    close_all()


def _message(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class AudioOutput:
    """Non-blocking playback on one output device; see the module docstring.

    ``device``: a PortAudio device index, or ``None`` for the system default output.
    ``latency``: PortAudio's suggested output latency in seconds (each stream's buffer).
    Attributes: :attr:`available` (sound can be played right now, as far as we know),
    :attr:`status` (plain words), :attr:`sample_rate` (stream rate in Hz, or ``None``).
    Read-only properties: :attr:`latency_s`, :attr:`open_streams`, :attr:`underruns`,
    :attr:`is_playing`.
    """

    def __init__(self, device: int | None = None, latency: float = LATENCY_S) -> None:
        self.available = False
        self.status = "Audio is starting"
        self.sample_rate: int | None = None
        self.channels = 1
        self.device: int | None = device
        self._latency = float(latency)
        self._latency_seen: float | None = None  # PortAudio's latency of the last stream opened
        self._started: tuple[float, Stream] | None = None  # (when play() was called, its fresh stream)
        self._sd: Any = None
        self._dev: int | None = None  # the resolved PortAudio index of the device in use
        self._dev_name = ""
        # _lock serialises our callers' threads (play, stop, close, device changes) and guards
        # _streams and _current. It is never taken by a stream callback: those only read their
        # own voices, so a callback never waits for us, and closing a stream (which waits for its
        # callback thread) under _lock cannot deadlock.
        self._lock = threading.RLock()
        self._streams: list[Stream] = []  # replaced, never mutated, so readers need no lock
        self._now: tuple[Voice, Stream] | None = None  # the current sound and its stream
        self._underruns_closed = 0  # underruns of streams already closed
        self._standby: Stream | None = None  # opened by prepare(), not started yet
        try:
            import sounddevice as sd

            self._sd = sd
            global _atexit_registered
            if not _atexit_registered:  # after sounddevice's own handler, so that ours runs first
                atexit.register(_close_all_at_exit)
                _atexit_registered = True
            _live.add(self)
        except OSError:  # the PortAudio shared library is missing
            self.status = NO_PORTAUDIO
            return
        except Exception as e:  # noqa: BLE001 - any import-time failure means "no audio", never a crash
            self.status = f"Audio playback is off: {_message(e)}"
            return
        self._probe(device)

    # --- devices ---------------------------------------------------------------------------

    def devices(self) -> list[dict]:
        """Output devices: ``[{"index", "name", "default_samplerate", "default": bool}]`` (empty without PortAudio)."""
        return output_devices(self._sd)

    def _default_output(self) -> int | None:
        return default_output(self._sd)

    def rescan(self) -> None:
        """Make PortAudio enumerate devices again (e.g. after one was plugged in or went away).

        PortAudio is re-initialised process-wide, which invalidates every open stream: this
        object closes its own first, and does nothing if PortAudio is missing. Do not call it
        while another part of the process holds a PortAudio stream. The device is checked
        again on the next :meth:`play`.
        """
        sd = self._sd
        if sd is None:
            return
        with self._lock:
            self._close_streams()
            try:
                sd._terminate()
                sd._initialize()
            except Exception:  # noqa: BLE001
                pass
            self.available = False

    def set_device(self, index: int | None) -> None:
        """Switch to device ``index`` (``None``: the system default). Reports failure in :attr:`status`."""
        if self._sd is None:
            return
        with self._lock:
            self.device = index
            self._probe(index)

    def _probe(self, index: int | None) -> bool:
        """Check that ``index`` can play (open a stream and close it again); set ``available`` and ``status``."""
        sd = self._sd
        with self._lock:
            self._close_streams()
            self.available = False
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
                rate, channels = pick_format(self._sd, dev, info)
                self._dev, self._dev_name = int(dev), str(info.get("name", dev))
                self.sample_rate = int(rate)
                self.channels = channels
                # open (not start) one stream to find out now whether the device works, and close it:
                # an open stream, even a stopped one, costs wake-ups at the sound server
                silent = Voice(np.zeros((0, channels), np.float32), done=True)
                probe = self._new_stream(silent, self._dev, rate, channels)
                self._latency_seen = probe.latency
                probe.close()
                self.available = True
                self.status = f"Playing on {self._dev_name} at {int(rate)} Hz"
                return True
            except Exception as e:  # noqa: BLE001 - sd.PortAudioError and anything a driver throws
                self.status = f"Audio device unavailable: {_message(e)} — playback is off"
                return False

    # --- stream lifecycle ------------------------------------------------------------------

    def _close_streams(self) -> None:
        """Abort and close every stream now (call with ``_lock`` held)."""
        streams, self._streams = self._streams, []
        self._now = None
        if self._standby is not None:
            streams.append(self._standby)
            self._standby = None
        for s in streams:
            s.close()
            self._underruns_closed += s.underruns

    def _new_stream(self, voice: Voice | None, device: int, rate: int, channels: int) -> Stream:
        return Stream(self._sd, voice, device, rate, channels, self._latency, self._stream_finished)

    @property
    def streams(self) -> tuple[Stream, ...]:
        """The open streams, oldest first (for diagnostics; read-only)."""
        return tuple(self._streams)

    def _stream_finished(self, s: Stream) -> None:
        """From PortAudio's thread (never blocks): have the stream closed; report a lost device."""
        if not s.ending:
            self._mark_broken("Audio device stopped during playback — it may have been unplugged")
        reap_later(s, self._reaped)

    def _reaped(self, s: Stream) -> None:
        """The reaper thread: close a stream that has finished."""
        with self._lock:
            if s in self._streams:
                self._streams = [x for x in self._streams if x is not s]
                self._underruns_closed += s.underruns
            s.close()

    # --- playback --------------------------------------------------------------------------

    def play(self, wave: np.ndarray, sample_rate: int, crossfade_s: float = 0.0) -> bool:
        """Start playing ``wave`` (float ``(n,)`` at ``sample_rate`` Hz) now; returns at once.

        ``crossfade_s == 0``: the playing sound (if any) is cut with a :data:`FADE_S` fade while
        the new one starts with a :data:`FADE_IN_S` fade-in. ``crossfade_s > 0`` and a sound is
        playing: the new sound starts at once with an equal-power fade-in over ``crossfade_s``
        while the old one fades out (equal-power) so that it is gone ``crossfade_s`` after this
        call as heard (its stream's already-queued latency included; at least :data:`FADE_S`).
        With nothing playing, ``crossfade_s`` makes no difference.

        Returns ``True`` if the sound was handed to the device, ``False`` (and :attr:`status`
        says why) if playback is off. Bad input (not 1-D, non-finite samples, a non-positive
        rate, a negative cross-fade) raises :class:`ValueError`.
        """
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1:
            raise ValueError(f"play needs a mono waveform (n,), got shape {wave.shape}")
        if not np.isfinite(wave).all():
            raise ValueError("play needs finite samples")
        if int(sample_rate) <= 0:
            raise ValueError(f"invalid sample rate {sample_rate}")
        crossfade_s = float(crossfade_s)
        if not math.isfinite(crossfade_s) or crossfade_s < 0:
            raise ValueError(f"invalid crossfade {crossfade_s}")
        if self._sd is None:
            return False
        with self._lock:
            if not self.available and not self._probe(self.device):
                return False
            rate = int(self.sample_rate or sample_rate)
            channels = self.channels
            playing = [v for s in self._streams for v in s.voices if not v.done and v.fade_request is None]
            crossfade = crossfade_s > 0 and bool(playing)
            data = np.clip(resample(wave, int(sample_rate), rate), -1.0, 1.0)
            k = min(len(data), max(1, round((crossfade_s if crossfade else FADE_IN_S) * rate)))
            if k:  # never start with a step, whatever the input
                t = np.arange(1, k + 1, dtype=np.float32) / k
                data[:k] *= np.sin(0.5 * np.pi * t) if crossfade else t**2
            data = np.repeat(data[:, None], channels, axis=1) if channels > 1 else data[:, None]
            voice = Voice(np.ascontiguousarray(data, dtype=np.float32))
            # the old sounds fade out on their own streams, starting with their next block
            for s in self._streams:
                fade = FADE_S
                if crossfade:
                    fade = max(FADE_S, crossfade_s - s.latency)
                for v in s.voices:
                    v.fade_out(round(fade * rate), equal_power=crossfade)
            stream = None
            try:
                stream, self._standby = self._standby, None
                if stream is not None:
                    stream.voices = (voice,)  # before it starts: the callback's first block has the sound
                else:
                    stream = self._new_stream(voice, self._dev if self._dev is not None else -1, rate, channels)
                self._latency_seen = stream.latency
                self._streams = [*self._streams, stream]
                self._now = (voice, stream)
                self._started = (time.monotonic(), stream)
                stream.stream.start()
                return True
            except Exception as e:  # noqa: BLE001
                if stream is not None:
                    self._streams = [x for x in self._streams if x is not stream]
                    self._now = None
                    stream.close()
                if self._mix_into_running(voice):
                    return True
                self._mark_broken(f"Audio device failed: {_message(e)} — playback is off")
                return False

    def prepare(self) -> None:
        """A sound is coming: open its stream now (without starting it), so that the next
        :meth:`play` only has to start it. Call it at the event (key press, knob move), before
        rendering, from the thread that calls :meth:`play`; opening (2-6 ms on a busy machine) then
        overlaps the render. Harmless when no sound follows: an unused stream is closed after
        :data:`STANDBY_S`. Never raises; does nothing when playback is off.
        """
        if self._sd is None or not self.available:
            return
        with self._lock:
            if self._standby is not None or not self.available or self._dev is None or not self.sample_rate:
                return
            try:
                s = self._new_stream(None, self._dev, self.sample_rate, self.channels)
            except Exception:  # noqa: BLE001 - play() will try again and report
                return
            self._standby = s
        timer = threading.Timer(STANDBY_S, self._expire_standby, args=(s,))
        timer.daemon = True
        timer.start()

    def _expire_standby(self, s: Stream) -> None:
        with self._lock:
            if self._standby is not s:
                return  # used by a play(), or closed already
            self._standby = None
        s.close()

    def _mix_into_running(self, voice: Voice) -> bool:
        """Fallback when no second stream can be opened: add ``voice`` to the newest running stream."""
        for s in reversed(self._streams):
            if s.finished or s.ending or not s.stream.active:
                continue
            s.voices = (*[v for v in s.voices if not v.done], voice)
            if s.ending or s.finished:  # it stopped itself in between: not usable
                continue
            self._now = (voice, s)
            return True
        return False

    def stop(self) -> None:
        """Fade out whatever is playing (:data:`FADE_S`); its stream then closes by itself."""
        with self._lock:
            rate = self.sample_rate or 48000
            self._now = None
            for s in self._streams:
                for v in s.voices:
                    v.fade_out(round(FADE_S * rate))

    @property
    def start_latency_s(self) -> float | None:
        """Seconds from the last :meth:`play` call to its first sample at the device, as PortAudio
        timed it (the call, opening or starting the stream, and the stream's first block to the
        device; a fresh stream's first block goes out at once). ``None`` until known."""
        started = self._started
        if started is None or started[1].first_sample_at is None:
            return None
        return max(0.0, started[1].first_sample_at - started[0])

    @property
    def latency_s(self) -> float:
        """Output latency in seconds: PortAudio's figure for the newest open stream, else for the
        last stream opened (the construction-time probe at least), else the requested setting.

        It is how far ahead of the device a stream's callback runs: the delay of a fade or stop.
        A new sound starts on a fresh stream and is heard sooner (see ``docs/latency.md``).
        """
        streams = self._streams
        if streams:
            return streams[-1].latency
        return self._latency_seen if self._latency_seen is not None else self._latency

    @property
    def open_streams(self) -> int:
        """How many PortAudio streams are open now, a :meth:`prepare` d one included (0 while idle)."""
        return len(self._streams) + (self._standby is not None)

    @property
    def underruns(self) -> int:
        """Output underflows reported by PortAudio to our callbacks since this object was made."""
        return self._underruns_closed + sum(s.underruns for s in self._streams)

    @property
    def is_playing(self) -> bool:
        """Whether a sound is still being played (including the device's output latency)."""
        return self.position() is not None

    def position(self) -> float | None:
        """Seconds into the current sound as heard (output latency subtracted), or ``None`` if idle."""
        now, rate = self._now, self.sample_rate
        if now is None or not rate:
            return None
        cur, s = now
        if s.finished or s.closed:
            return None
        t = cur.pos / rate - s.latency
        if t > len(cur.data) / rate:
            return None
        return max(0.0, t)

    def close(self) -> None:
        """Stop and release the device (the object stays usable: a later play opens a stream again)."""
        with self._lock:
            self._close_streams()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _mark_broken(self, message: str) -> None:
        self.available = False
        self.status = message
