"""How a digit is performed: pitch shift, a held note ("sing"), formants (vocal-tract size), and speed.

A :class:`Performance` travels with a render request. It acts on the decoder's own controls,
never on the finished sound:

- **pitch** (semitones, -12..+12) scales the f0 track that the source-filter decoder feeds its
  harmonic comb; the spectral envelopes (formants, noise) are decoded unchanged, so the voice
  moves up or down without the chipmunk effect of resampling;
- **note** (Hz, from a MIDI number or a name like ``"A3"``) holds the voice on that note;
  ``contour`` (0..1) keeps that share of the natural intonation around it, in log-frequency:
  ``f0' = note * (f0 / median(f0)) ** contour``;
- **formant** (a ratio, 0.5..2; 1 = as decoded) scales the frequency axis of the harmonic and
  noise envelopes (the vocal tract's resonances) while the comb stays at the played f0: a shorter,
  smaller vocal tract (a woman's about x1.15-1.2, a child's about x1.3-1.5 against a man's) without
  touching the pitch; ``pitch=7, formant=1.15`` moves a man's voice toward a woman's, where pitch
  alone sounds like a man singing high;
- **speed** (0.5..2) resamples the decoded log-magnitude frames in time before phase
  reconstruction: the harmonics stay where they are, so duration changes and pitch does not.

Pitch, note and formant need a decoder with an f0 head (the default conditional VAE's source-filter
head); speed works with every model. Pure numpy; no torch at import time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

PITCH_RANGE = (-12.0, 12.0)  # semitones
SPEED_RANGE = (0.5, 2.0)
FORMANT_RANGE = (0.5, 2.0)  # ratio; one octave each way, like PITCH_RANGE (a +12 semitone take needs x2)
NOTE_RANGE_HZ = (40.0, 1000.0)
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")


def midi_to_hz(note: float) -> float:
    """Equal-tempered frequency of MIDI note ``note`` (69 = A4 = 440 Hz); never an overflow error."""
    x = (float(note) - 69.0) / 12.0
    if not math.isfinite(x):
        return math.nan
    return 440.0 * 2.0 ** min(max(x, -1100.0), 1000.0)  # beyond 2**1023 a float overflows


def parse_note(text: str | float | int) -> float:
    """A note as Hz from a name (``"A3"``, ``"C#4"``, ``"Eb2"``), a MIDI number (``57``, ``"57"``) or Hz (``"220hz"``).

    Raises :class:`ValueError` with one readable sentence; the result lies in :data:`NOTE_RANGE_HZ`.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a note")
    if isinstance(text, int | float):
        hz = midi_to_hz(text)
    else:
        s = str(text).strip()
        m = _NOTE_RE.match(s)
        if m:
            letter, accidental, octave = m.groups()
            semis = NOTE_NAMES[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
            hz = midi_to_hz(12 * (int(octave) + 1) + semis)
        elif s.lower().endswith("hz"):
            try:
                hz = float(s[:-2])
            except ValueError:
                raise ValueError(f"{s!r} is not a note (try A3, C#4, 57 or 220hz)") from None
        else:
            try:
                hz = midi_to_hz(float(s))
            except ValueError:
                raise ValueError(f"{s[:20]!r} is not a note (try A3, C#4, 57 or 220hz)") from None
    lo, hi = NOTE_RANGE_HZ
    if not math.isfinite(hz) or not lo <= hz <= hi:
        raise ValueError(f"the note must lie between {lo:g} and {hi:g} Hz, not {hz:.4g} Hz")
    return hz


@dataclass(frozen=True)
class Performance:
    """Pitch shift (semitones), a held note (Hz or ``None``) with its contour amount, speed, and the
    formant ratio (envelope frequency scale; 1.0 leaves the decoded envelopes untouched)."""

    pitch: float = 0.0
    speed: float = 1.0
    note_hz: float | None = None
    contour: float = 1.0
    formant: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            (self.pitch, PITCH_RANGE, "pitch (semitones)"),
            (self.speed, SPEED_RANGE, "speed"),
            (self.contour, (0.0, 1.0), "contour"),
            (self.formant, FORMANT_RANGE, "formant (ratio)"),
        ]
        if self.note_hz is not None:
            checks.append((self.note_hz, NOTE_RANGE_HZ, "note (Hz)"))
        for value, (lo, hi), what in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
                raise ValueError(f"{what} must be between {lo:g} and {hi:g}, not {value!r}")

    @property
    def moves_pitch(self) -> bool:
        """Whether the f0 track is changed (needs an f0 head)."""
        return self.pitch != 0.0 or self.note_hz is not None

    @property
    def moves_formants(self) -> bool:
        """Whether the envelopes are warped (needs the source-filter head)."""
        return self.formant != 1.0

    @property
    def needs_f0_head(self) -> bool:
        """Whether this performance needs a decoder with an f0 head (pitch, note or formants)."""
        return self.moves_pitch or self.moves_formants

    def map_f0(self, f0_hz: np.ndarray, voiced: np.ndarray | None = None) -> np.ndarray:
        """The f0 track ``(n_frames,)`` (Hz) to feed the comb instead of the decoded one.

        With a note, the natural contour (median taken over ``voiced`` frames, all if ``None``) is
        kept to the ``contour`` share around the note; then the pitch shift applies on top.
        """
        f0 = np.asarray(f0_hz, dtype=np.float64)
        if self.note_hz is not None:
            sel = f0[voiced] if voiced is not None and np.any(voiced) else f0
            centre = float(np.median(sel)) if sel.size else float(self.note_hz)
            f0 = self.note_hz * (np.maximum(f0, 1.0) / max(centre, 1.0)) ** self.contour
        return (f0 * 2.0 ** (self.pitch / 12.0)).astype(np.float32)

    def stretch(self, features: np.ndarray, tempo: float = 1.0) -> np.ndarray:
        """Frames ``(n_frames, n_bins)`` resampled in time (linear) to ``round(n_frames / (speed * tempo))``.

        ``tempo``: an extra factor from the engine (the pacing of digit strings).
        """
        factor = self.speed * tempo
        if factor == 1.0 or len(features) < 2:
            return features
        n = len(features)
        m = max(2, round(n / factor))
        pos = np.linspace(0.0, n - 1, m)
        i = np.minimum(pos.astype(np.int64), n - 2)
        w = (pos - i)[:, None].astype(np.float32)
        return ((1 - w) * features[i] + w * features[i + 1]).astype(np.float32)


NATURAL = Performance()
