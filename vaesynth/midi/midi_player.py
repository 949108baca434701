"""The headless MIDI player: :mod:`vaesynth.midi.midi` commands -> the synth -> the audio output.

No Qt; the synth and the audio output are passed in (anything with the same methods works, e.g. in
tests). ``vaesynth midi`` (:mod:`vaesynth.cli.cli`) runs it on a port.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

SING_CONTOUR = 0.3  # --sing: share of the natural intonation kept around the key's pitch


@dataclass(frozen=True)
class PlayedNote:
    """What :class:`MidiPlayer` did with one key press (kept for tests and the latency benchmark).

    ``hz``: the sung pitch in Hz (``None``: natural intonation); ``gain``: linear level 0..1;
    ``received_s`` / ``played_s``: ``time.perf_counter()`` when the command reached the player and
    when the sound was handed to the audio output; ``cached``: the render came from the cache.
    """

    digit: int
    note: int
    hz: float | None
    gain: float
    received_s: float
    played_s: float
    cached: bool


def sing_hz(hz: float) -> float:
    """``hz`` moved by whole octaves into the range of a held note (``performance.NOTE_RANGE_HZ``)."""
    from vaesynth.engine.performance import NOTE_RANGE_HZ

    lo, hi = NOTE_RANGE_HZ
    while hz < lo:
        hz *= 2.0
    while hz > hi:
        hz /= 2.0
    return hz


class MidiPlayer:
    """The headless MIDI player: :mod:`vaesynth.midi.midi` commands -> ``synth.render_digit`` -> ``audio.play``.

    Monophonic, the newest key wins. ``NoteOn`` says its digit, ``Retrigger`` the digit spoken last
    (0 before any), both scaled by the velocity gain and, with ``sing``, held on the key's pitch
    (:func:`sing_hz`) keeping ``contour`` of the natural intonation. ``NoteOff`` of the sounding key
    ends it with the audio output's release fade (``vaesynth.sound.audio.FADE_S``, 6 ms) unless
    ``one_shot``; ``AllNotesOff`` silences at once. ``KnobMove`` sets one knob (standard units) of
    the voice every later note uses (all knobs start at 0, each digit's typical voice; moves of
    knobs the model does not have are ignored). Renders are cached (``cache_size`` entries): the
    engine is deterministic, so a repeated key with unchanged knobs plays without rendering
    (they are kept resampled to the audio output's rate, so a cached note is only scaled and handed over).

    ``synth``: a :class:`~vaesynth.engine.synth.Synth`; ``audio``: an :class:`~vaesynth.sound.audio.AudioOutput`
    (anything with the same ``render_digit`` / ``play`` / ``stop`` works, e.g. in tests).
    """

    def __init__(
        self,
        synth,
        audio,
        sing: bool = False,
        contour: float = SING_CONTOUR,
        one_shot: bool = False,
        cache_size: int = 128,
    ) -> None:
        import numpy as np

        from vaesynth.engine.performance import Performance

        Performance(contour=contour)  # ValueError now, not at the first note
        self.synth = synth
        self.audio = audio
        self.sing = bool(sing)
        self.contour = float(contour)
        self.one_shot = bool(one_shot)
        self.knobs = np.zeros(synth.latent_dim, dtype=np.float32)
        self.last_digit = 0
        self.sounding: int | None = None  # the key whose sound is playing (for NoteOff)
        self.played: deque[PlayedNote] = deque(maxlen=1000)
        self._cache: OrderedDict[tuple, tuple] = OrderedDict()
        self._cache_size = int(cache_size)

    def handle(self, command, received_s: float | None = None) -> None:
        """Act on one command from :mod:`vaesynth.midi.midi`; ``received_s``: its arrival (``time.perf_counter()``)."""
        from vaesynth.midi import midi

        t = time.perf_counter() if received_s is None else received_s
        if isinstance(command, midi.Retrigger):
            command = command.with_digit(self.last_digit)
        if isinstance(command, midi.NoteOn):
            self._play(command, t)
        elif isinstance(command, midi.NoteOff):
            if not self.one_shot and command.note == self.sounding:
                self.audio.stop()
                self.sounding = None
        elif isinstance(command, midi.AllNotesOff):
            self.audio.stop()
            self.sounding = None
        elif isinstance(command, midi.KnobMove):
            if 0 <= command.index < len(self.knobs):
                knobs = self.knobs.copy()
                knobs[command.index] = command.value
                self.knobs = knobs

    def handle_batch(self, commands: Sequence, received_s: float | None = None) -> None:
        """Act on commands that arrived together, in order, skipping key presses a later one in the batch replaces."""
        from vaesynth.midi import midi

        presses = (midi.NoteOn, midi.Retrigger)
        last = max((i for i, c in enumerate(commands) if isinstance(c, presses)), default=-1)
        for i, c in enumerate(commands):
            if isinstance(c, presses) and i != last:
                if isinstance(c, midi.NoteOn):
                    self.last_digit = c.digit  # a skipped press still chooses the digit a re-trigger says
                continue
            self.handle(c, received_s)

    def _play(self, command, received_s: float) -> None:
        from vaesynth.engine.performance import NATURAL, Performance

        hz = sing_hz(command.hz) if self.sing else None
        out_rate = getattr(self.audio, "sample_rate", None)  # cache at the stream rate: no resampling per note
        key = (command.digit, self.knobs.tobytes(), hz, out_rate)
        hit = self._cache.get(key)
        cached = hit is not None
        if hit is None:
            perf = Performance(note_hz=hz, contour=self.contour) if hz is not None else NATURAL
            render = self.synth.render_digit(command.digit, self.knobs, perf)
            hit = (render.wave, render.sample_rate)
            if isinstance(out_rate, int) and out_rate != render.sample_rate:
                from vaesynth.dsp.spectral import resample

                hit = (resample(render.wave, render.sample_rate, out_rate), out_rate)
            if self._cache_size > 0:
                self._cache[key] = hit
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        wave, rate = hit
        self.audio.play(wave * command.gain, rate)
        self.played.append(
            PlayedNote(command.digit, command.note, hz, command.gain, received_s, time.perf_counter(), cached)
        )
        self.last_digit = command.digit
        self.sounding = command.note

    def run(self, midi_input, stop: threading.Event | None = None, on_status=None) -> None:
        """Listen until ``stop`` is set (or Ctrl+C): play commands, poll the port, report changes via ``on_status``.

        ``midi_input``: a :class:`vaesynth.midi.midi_ports.MidiInput` without ``on_command``; ``on_status``
        gets one line whenever the port state or the audio output's state changes.
        """
        from vaesynth.midi.midi_ports import POLL_INTERVAL_S

        next_poll = time.monotonic() + POLL_INTERVAL_S
        audio_ok = True
        while stop is None or not stop.is_set():
            command = midi_input.get(timeout=0.05)
            if command is not None:
                t = time.perf_counter()
                batch = [command]
                while (more := midi_input.get(0)) is not None:
                    batch.append(more)
                self.handle_batch(batch, t)
                if bool(getattr(self.audio, "available", True)) != audio_ok:
                    audio_ok = not audio_ok
                    if on_status is not None:
                        on_status(getattr(self.audio, "status", ""))
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_INTERVAL_S
                status = midi_input.poll()
                if status is not None and on_status is not None:
                    on_status(status.message)
