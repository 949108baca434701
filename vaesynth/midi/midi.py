"""MIDI input: ports that come and go, and note/CC messages turned into plain commands.

No Qt, no torch: python-rtmidi owns the ports (ALSA sequencer or JACK), mido decodes the bytes,
and everything a consumer sees is a small immutable dataclass.

The keyboard mapping (why it is this way: docs/midi.md)
--------------------------------------------------------
- The ten **white keys from C4** (middle C, MIDI 60) say the digits: C4 D4 E4 F4 G4 A4 B4 C5 D5 E5
  -> 0 1 2 3 4 5 6 7 8 9 (:data:`DIGIT_NOTES`) -> :class:`NoteOn`.
- **Every other key** (the black keys, and white keys outside C4..E5) re-triggers the digit spoken
  last, at that key's pitch -> :class:`Retrigger`. The consumer resolves "the last digit" (it may
  have come from the on-screen keypad), so this module keeps no playing state.
- Every note carries its pitch (:attr:`NoteOn.hz`, equal temperament, A4 = 440 Hz) for "sing"
  mode, and its velocity as a gain (:func:`velocity_to_gain`: ``(v / 127) ** 2``, i.e.
  ``40 log10(v / 127)`` dB, the curve of the General MIDI / DLS specifications).
- Note-off (or note-on with velocity 0) -> :class:`NoteOff`; the player ends that note's sound
  with a short release fade.
- **CC 1..12** -> :class:`KnobMove` of knob 0..11, value 0..127 mapped to -3..+3 standard units
  with 64 exactly at 0 (:func:`cc_to_knob`); CC 120 / 123 (all sound / all notes off) ->
  :class:`AllNotesOff`. All channels are accepted (omni).

Ports (listing, opening, following them as they come and go) are :mod:`vaesynth.midi.midi_ports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------------------------------------------------
# The mapping
# --------------------------------------------------------------------------------------------------------------------

DIGIT_NOTES: tuple[int, ...] = (60, 62, 64, 65, 67, 69, 71, 72, 74, 76)
"""MIDI note numbers of the white keys C4 D4 E4 F4 G4 A4 B4 C5 D5 E5, which say 0..9."""
KNOB_CC_FIRST = 1  # CC 1..12 move knobs 0..11
N_KNOB_CCS = 12
KNOB_RANGE = 3.0  # CC 0..127 spans -3..+3 standard units
CC_CENTRE = 64  # the centre detent of most controllers' knobs: exactly knob value 0
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123

_DIGIT_OF_NOTE = {n: d for d, n in enumerate(DIGIT_NOTES)}


def note_to_hz(note: int) -> float:
    """Equal-tempered frequency in Hz of MIDI note ``note`` (69 = A4 = 440 Hz, 60 = C4 = 261.63 Hz)."""
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def note_to_digit(note: int) -> int | None:
    """The digit 0..9 a key says (white keys C4..E5), or ``None`` for a key that re-triggers the last digit."""
    return _DIGIT_OF_NOTE.get(int(note))


def velocity_to_gain(velocity: int) -> float:
    """Linear gain 0..1 for MIDI velocity 0..127: ``(v / 127) ** 2`` (-12 dB at 64, -24 dB at 32).

    The square law is the General MIDI / DLS velocity curve (``40 log10(v / 127)`` dB): players
    expect it, and it spreads the musically useful range (roughly 20..127) over about 32 dB,
    where a linear map would squeeze all of it into the top 16 dB.
    """
    v = min(max(int(velocity), 0), 127)
    return (v / 127.0) ** 2


def cc_to_knob(value: int) -> float:
    """Knob position in standard units for a controller value 0..127: 0 -> -3, 64 -> 0, 127 -> +3.

    Piecewise linear around 64 so that a knob's centre detent (64) is exactly the digit's typical
    voice (knob 0), which a plain ``value / 127 * 6 - 3`` would miss by 0.02.
    """
    v = min(max(int(value), 0), 127)
    if v <= CC_CENTRE:
        return KNOB_RANGE * (v - CC_CENTRE) / CC_CENTRE
    return KNOB_RANGE * (v - CC_CENTRE) / (127 - CC_CENTRE)


# --------------------------------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------------------------------


class _KeyPress:
    """What a struck key carries: its pitch (:attr:`hz`) and its level (:attr:`gain`) (a mixin of the commands)."""

    note: int
    velocity: int

    @property
    def hz(self) -> float:
        """The key's pitch in Hz (for sing mode)."""
        return note_to_hz(self.note)

    @property
    def gain(self) -> float:
        """Level 0..1 (linear amplitude) from the velocity, see :func:`velocity_to_gain`."""
        return velocity_to_gain(self.velocity)


@dataclass(frozen=True)
class NoteOn(_KeyPress):
    """Say ``digit`` (0..9); the key is MIDI ``note`` (its pitch: :attr:`hz`), struck with ``velocity`` 1..127."""

    digit: int
    note: int
    velocity: int
    channel: int = 0


@dataclass(frozen=True)
class Retrigger(_KeyPress):
    """Say the digit spoken last again, at key ``note`` (pitch :attr:`hz`), struck with ``velocity`` 1..127."""

    note: int
    velocity: int
    channel: int = 0

    def with_digit(self, digit: int) -> NoteOn:
        """This key press as a :class:`NoteOn` of ``digit`` (the consumer knows the last digit)."""
        return NoteOn(digit, self.note, self.velocity, self.channel)


@dataclass(frozen=True)
class NoteOff:
    """Key ``note`` was released: end its sound with a short release (if it is still the one sounding)."""

    note: int
    channel: int = 0


@dataclass(frozen=True)
class KnobMove:
    """Set knob ``index`` (0..11) to ``value`` in standard units (-3..+3); ``cc``: the controller number."""

    index: int
    value: float
    cc: int
    channel: int = 0


@dataclass(frozen=True)
class AllNotesOff:
    """CC 120 / 123 (panic): silence everything now."""

    channel: int = 0


Command = NoteOn | Retrigger | NoteOff | KnobMove | AllNotesOff


def translate(message: Sequence[int] | Any) -> Command | None:
    """The command for one MIDI message (raw bytes, or a ``mido.Message``), or ``None`` if it means nothing here.

    Malformed bytes give ``None`` (a MIDI cable can deliver anything); never raises for bad input.
    """
    import mido

    if not isinstance(message, mido.Message):
        try:
            message = mido.Message.from_bytes(list(message))
        except (ValueError, TypeError, IndexError):
            return None
    kind = message.type
    if kind == "note_on" and message.velocity > 0:
        digit = note_to_digit(message.note)
        if digit is None:
            return Retrigger(message.note, message.velocity, message.channel)
        return NoteOn(digit, message.note, message.velocity, message.channel)
    if kind in ("note_on", "note_off"):  # note-on with velocity 0 is a note-off (running status)
        return NoteOff(message.note, message.channel)
    if kind == "control_change":
        if KNOB_CC_FIRST <= message.control < KNOB_CC_FIRST + N_KNOB_CCS:
            index = message.control - KNOB_CC_FIRST
            return KnobMove(index, cc_to_knob(message.value), message.control, message.channel)
        if message.control in (CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF):
            return AllNotesOff(message.channel)
    return None
