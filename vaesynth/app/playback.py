"""Playback without widgets: what plays, the playhead, and knob auto-play pacing.

:class:`PlaybackController` sends renders to the :class:`~vaesynth.app.audio_bridge.AudioBridge`,
follows the playing sound's position for the playhead, and paces knob auto-play with a
:class:`KnobPacer` (a pure, clock-driven rule that is unit-tested on its own).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from .audio_bridge import AudioBridge
from .messages import LIVE_ORIGINS, Origin, RenderResult

PLAYHEAD_MS = 30
KNOB_PLAY_EVERY_S = 0.1  # while a knob moves, a new sound starts at least this often
KNOB_CROSSFADE_S = 0.025  # and fades in over the one playing (where the output can)
NO_START_GRACE_S = 0.25  # how long the playhead waits for a sound to report a position
PACED_ORIGINS = frozenset({Origin.KNOB, Origin.PERFORMANCE})  # at most one new sound per KNOB_PLAY_EVERY_S

T = TypeVar("T")


class KnobPacer(Generic[T]):
    """Paces knob auto-play: the newest render plays at once if the last knob play started at
    least ``every_s`` ago, else as soon as that much time has passed (a newer render arriving
    in between replaces the waiting one without pushing the time back). So while a knob keeps
    moving, a new sound starts every ``every_s`` (renders permitting), and the last value
    always plays.
    """

    def __init__(self, every_s: float = KNOB_PLAY_EVERY_S) -> None:
        self.every_s = float(every_s)
        self._waiting: T | None = None
        self._last = float("-inf")

    @property
    def waiting(self) -> T | None:
        return self._waiting

    def offer(self, item: T, now: float) -> float:
        """Keep ``item`` as the one to play next; returns the seconds until it is due (0: now)."""
        self._waiting = item
        return max(0.0, self._last + self.every_s - now)

    def due(self, now: float) -> bool:
        """Whether a knob sound may start at ``now`` (the last one started ``every_s`` ago or more)."""
        return now >= self._last + self.every_s

    def mark(self, now: float) -> None:
        """A knob sound started at ``now`` (not through :meth:`take`)."""
        self._waiting, self._last = None, now

    def take(self, now: float) -> T | None:
        """The waiting item (``None`` if none), marked as played at ``now``."""
        item, self._waiting = self._waiting, None
        if item is not None:
            self._last = now
        return item

    def cancel(self) -> None:
        self._waiting = None


class PlaybackController(QObject):
    """Plays renders through ``audio`` and reports what is heard.

    Signals: :attr:`started` (token) once the output took a sound, :attr:`failed` (status in
    words) when it could not, :attr:`playhead_moved` (the result playing, seconds into it or
    ``None`` when it ended or stopped).

    The engine's thread hands a finished render to the output itself through
    :meth:`play_from_worker` when it is to be heard at once (no wait for the GUI thread, which may be
    drawing); the window then adopts it (:meth:`adopt`). Everything else runs on the GUI thread.
    """

    started = Signal(int)
    failed = Signal(str)
    playhead_moved = Signal(object, object)  # RenderResult, float | None

    def __init__(
        self,
        audio: AudioBridge,
        parent: QObject | None = None,
        knob_every_s: float = KNOB_PLAY_EVERY_S,
        knob_crossfade_s: float = KNOB_CROSSFADE_S,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(parent)
        self._audio = audio
        self._clock = clock
        self._busy = busy  # a render is in flight: the playhead waits (painting holds the GIL the render needs)
        self._token = 0
        self._tokens = itertools.count(1)  # shared with the engine's thread (next() is atomic)
        self._lock = threading.Lock()  # guards the pacer's clock between the two threads
        self._early: dict[int, tuple[bool, str]] = {}  # played reports that beat their adopt()
        self._started_at = 0.0
        self._playing: RenderResult | None = None
        self.knob_crossfade_s = knob_crossfade_s
        self.pacer: KnobPacer[RenderResult] = KnobPacer(knob_every_s)
        audio.played.connect(self._on_played)
        self._playhead = QTimer(self)
        self._playhead.setInterval(PLAYHEAD_MS)
        self._playhead.timeout.connect(self._tick)
        self._knob_timer = QTimer(self)
        self._knob_timer.setSingleShot(True)
        self._knob_timer.timeout.connect(self._play_waiting_knob)

    @property
    def playing(self) -> RenderResult | None:
        """The result sent to the output last (it may have ended)."""
        return self._playing

    def play(self, result: RenderResult, crossfade_s: float = 0.0) -> int:
        """Play ``result`` now (cutting or cross-fading into what plays). Returns its token."""
        self.cancel_knob()
        return self._send(result, crossfade_s)

    def play_from_worker(self, result: RenderResult) -> int | None:
        """Called on the engine's thread as soon as ``result`` is rendered: hand it to the output
        now if it is to be heard at once (as :meth:`play_for` would), and return its token; ``None``
        when it is not (not to be played, an A/B, or a knob sound the pacer holds back): the GUI
        thread then decides with :meth:`play_for`. Touches no widget and no timer."""
        req = result.request
        if not req.play or req.origin is Origin.MAP_DOT:
            return None
        with self._lock:
            if req.origin in PACED_ORIGINS:
                now = self._clock()
                if not self.pacer.due(now):
                    return None
                self.pacer.mark(now)
            else:
                self.pacer.cancel()  # a key supersedes a knob sound still waiting (as play() does)
            token = next(self._tokens)
        self._hand_over(result, token, self.knob_crossfade_s if req.origin in LIVE_ORIGINS else 0.0, now=True)
        return token

    def adopt(self, result: RenderResult) -> None:
        """``result`` was played from the engine's thread (:attr:`RenderResult.played`): it is
        what plays now, for the playhead, Stop and the knob pacer."""
        self._knob_timer.stop()
        with self._lock:
            self.pacer.cancel()
        token = int(result.played)
        if token > self._token:
            self._token, self._playing = token, result
            for old in [t for t in self._early if t < token]:
                del self._early[old]
            if token in self._early:
                self._on_played(token, *self._early.pop(token))

    def play_for(self, result: RenderResult, ab: Callable[[RenderResult], object]) -> None:
        """Play ``result`` as its origin wants: knob and performance edits paced, other live edits
        at once (both cross-faded), a map dot's as an A/B through ``ab``, anything else now (or
        :meth:`adopt` it if the engine's thread played it already)."""
        origin = result.request.origin
        if result.played is not None:
            self.adopt(result)
        elif origin in PACED_ORIGINS:
            self.play_knob(result)
        elif origin in LIVE_ORIGINS:
            self.play_live(result)
        elif origin is Origin.MAP_DOT:
            ab(result)
        else:
            self.play(result)

    def play_knob(self, result: RenderResult) -> None:
        """Play a knob render, paced by :attr:`pacer` and cross-faded into the sound playing."""
        with self._lock:
            delay = self.pacer.offer(result, self._clock())
        if delay <= 0.0:
            self._play_waiting_knob()
        elif not self._knob_timer.isActive():
            self._knob_timer.start(max(1, round(1000 * delay)))

    def play_live(self, result: RenderResult) -> int:
        """Play a render of a continuous drag (voice map, morph pad) at once, cross-faded into the
        sound playing: the newest position is heard as soon as it is rendered."""
        return self.play(result, self.knob_crossfade_s)

    def stop(self) -> None:
        """Stop the sound and the playhead; a knob render still waiting is dropped."""
        self.cancel_knob()
        self._audio.stop()
        self._token = next(self._tokens)  # a play still on its way no longer moves the playhead
        self._end_playhead()

    def cancel_knob(self) -> None:
        with self._lock:
            self.pacer.cancel()
        self._knob_timer.stop()

    def shutdown(self) -> None:
        self.cancel_knob()
        self._playhead.stop()

    def _play_waiting_knob(self) -> None:
        with self._lock:  # taken and numbered at once: a sound the engine's thread starts is newer or drops it
            result = self.pacer.take(self._clock())
            if result is None:
                return
            token = next(self._tokens)
        self._send(result, self.knob_crossfade_s, token)

    def _send(self, result: RenderResult, crossfade_s: float, token: int | None = None) -> int:
        """Make ``result`` the sound playing, under ``token`` (default: the next one), and hand it over."""
        self._token = next(self._tokens) if token is None else token
        self._playing = result
        self._hand_over(result, self._token, crossfade_s)
        return self._token

    def _hand_over(self, result: RenderResult, token: int, crossfade_s: float, now: bool = False) -> None:
        gain = result.request.gain  # a MIDI key's velocity
        wave = result.wave if gain == 1.0 else (result.wave * np.float32(gain)).astype(np.float32)
        (self._audio.play_now if now else self._audio.play)(wave, result.sample_rate, token, crossfade_s)

    def _on_played(self, token: int, started: bool, status: str) -> None:
        if token > self._token and len(self._early) < 64:  # played from the engine's thread, not adopted yet
            self._early[token] = (started, status)
        if token != self._token:
            return
        if not started:
            self.failed.emit(status)
            return
        self._started_at = self._clock()
        self._playhead.start()
        self.started.emit(token)

    def _tick(self) -> None:
        if self._busy():
            return
        result = self._playing
        pos = self._audio.position()
        duration = result.duration_s if result is not None else 0.0
        if result is None or pos is None or pos > duration + 0.05:
            if pos is not None or self._clock() - self._started_at > NO_START_GRACE_S:
                self._end_playhead()
            return
        self.playhead_moved.emit(result, min(pos, duration))

    def _end_playhead(self) -> None:
        self._playhead.stop()
        self.playhead_moved.emit(self._playing, None)
