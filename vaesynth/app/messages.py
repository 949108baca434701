"""Plain data passed between the window and its worker threads: enums and frozen dataclasses.

No Qt and no torch here. Every message is immutable (``frozen=True``): a request is built once
on the GUI thread and never changed after it is handed to the engine; a changed copy is made
with :func:`dataclasses.replace`. Arrays inside a :class:`RenderResult` belong to it and are
never written to after the engine emits it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaesynth.engine.performance import NATURAL, Performance


class KnobMode(enum.Enum):
    """Where the knobs of a render come from."""

    GIVEN = "given"  # the request's ``knobs`` (a held or edited voice)
    FRESH = "fresh"  # a fresh natural variation at the request's ``temperature``
    PRESET = "preset"  # the speaker preset ``voice`` (that speaker's knobs for each digit)


class Origin(enum.Enum):
    """What asked for a render; decides how the window treats the result."""

    KEY = "key"  # keypad click or key press
    STRING = "string"  # "Say a number"
    KNOB = "knob"  # a turned knob or Reset
    RANDOMIZE = "randomize"
    PRESET = "preset"  # a voice preset was chosen
    MAP = "map"  # a drag on the voice map (live, like a knob turn)
    MAP_DOT = "map_dot"  # a click on a map dot: the recording, then this render (A/B)
    PAD = "pad"  # a drag on the morph pad (live, like a knob turn)
    SAVED = "saved"  # a saved voice was loaded
    PERFORMANCE = "performance"  # pitch, speed or sing changed (re-rendered like a knob turn)
    VOICE_IN = "voice_in"  # a take (microphone or WAV) became the knobs: its digit said in that voice


LIVE_ORIGINS = frozenset(
    {Origin.KNOB, Origin.PERFORMANCE, Origin.MAP, Origin.PAD}
)  # continuous edits: coalesced, cross-faded


@dataclass(frozen=True)
class RenderRequest:
    """One thing to say: a single ``digit`` or a digit string ``text`` (exactly one is set).

    ``knob_mode``: :attr:`KnobMode.GIVEN` uses ``knobs`` (for strings: for every digit);
    :attr:`KnobMode.FRESH` draws fresh knobs at ``temperature`` (a string varies per digit);
    :attr:`KnobMode.PRESET` speaks as speaker ``voice``. ``play``: play it once rendered.
    ``generation``: the model generation it was made for (results of an older one are dropped).
    ``seed``: for a string, the seed of its random choices (drawn by the app and recorded, so the
    render can be made again); unused for a single digit, whose knobs are recorded exactly.
    ``utterance``: for :attr:`Origin.MAP_DOT`, the index of the training utterance clicked.
    ``performance``: pitch, speed and sing note (:class:`vaesynth.engine.performance.Performance`), part of
    the recipe. ``gain``: linear level the sound plays at (a MIDI key's velocity); not part of the render.
    ``texture``: real texture from the model's bank (:mod:`vaesynth.model.texture`), else the pure decoder.
    """

    digit: str | None = None
    text: str | None = None
    knob_mode: KnobMode = KnobMode.GIVEN
    knobs: tuple[float, ...] | None = None
    voice: str | None = None
    temperature: float = 1.0
    play: bool = True
    origin: Origin = Origin.KEY
    generation: int = 0
    seed: int | None = None
    utterance: int | None = None
    performance: Performance = NATURAL
    gain: float = 1.0
    texture: bool = True

    def __post_init__(self) -> None:
        if (self.digit is None) == (self.text is None):
            raise ValueError("a render request needs exactly one of digit and text")
        if self.knob_mode is KnobMode.GIVEN and self.knobs is None:
            raise ValueError("KnobMode.GIVEN needs knobs")
        if self.knob_mode is KnobMode.PRESET and not self.voice:
            raise ValueError("KnobMode.PRESET needs a voice")
        if not 0.0 <= self.gain <= 1.0:
            raise ValueError(f"gain must be between 0 and 1, not {self.gain!r}")
        if self.knobs is not None and not isinstance(self.knobs, tuple):
            object.__setattr__(self, "knobs", tuple(float(v) for v in self.knobs))


@dataclass(frozen=True)
class RenderResult:
    """A finished render, ready to show and play. Arrays are numpy, no tensors."""

    request: RenderRequest
    wave: np.ndarray  # float32 (n_samples,) at sample_rate
    sample_rate: int
    image_db: np.ndarray  # float32 (n_frames, n_bins), dB
    duration_s: float
    digits: str
    segments: tuple[tuple[float, float], ...]
    knobs: tuple[float, ...]  # the knobs used, exactly (for a string: those of its first digit)
    elapsed_s: float
    recipe: Any = None  # the vaesynth.voices.keep.RenderRecipe that makes this sound again, sample for sample
    donors: tuple[int, ...] = ()  # texture bank utterances the (first) digit took its texture from
    ahead: bool = False  # rendered ahead, before its key was pressed (vaesynth.app.render_ahead)
    played: int | None = None  # the token it was handed to the output with by the engine's thread

    @property
    def label(self) -> str:
        """What was said as the user wrote it: the typed text for a string, else the digits."""
        text = self.request.text
        return " ".join(text.split()) if text else self.digits


@dataclass(frozen=True)
class ModelEntry:
    """A bundle found on disk (from its config only; weights not loaded)."""

    name: str
    display_name: str
    path: str
    latent_dim: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What the window needs to know about the loaded model."""

    name: str
    display_name: str
    path: str
    kind: str
    latent_dim: int
    speakers: tuple[str, ...]
    sample_rate: int
    db_min: float
    db_max: float
    nyquist_hz: float
    generation: int = 0
    credits: str = ""
    where: str = ""  # the folder as shown to the user (relative for shipped models)
    model_id: str = ""  # how recipes and saved voices name it (shipped name or folder)
    has_f0: bool = False  # pitch and note need an f0 head
    has_texture: bool = False  # the model ships a texture bank (vaesynth.model.texture)
    knob_labels: tuple[dict, ...] = ()  # per knob: {"label", "effects"} measured when the bundle was made
    voice_map_missing: str = ""  # why there is no voice map ("" when there is one)
    # knob math and the voice map (vaesynth.app.voice_knobs.VoiceKnobs): read-only numpy, safe to share
    voice: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TakeRequest:
    """A take to turn into a voice (:mod:`vaesynth.voices.voice_in`, in the engine thread).

    Exactly one of ``path`` (a sound file, any rate) and ``samples`` (float32 ``(n,)`` at ``rate``
    Hz, as recorded) is set. ``digit``: the digit spoken, or ``None`` to recognise it.
    ``generation``: the model generation it was made for. ``label``: what it is, for messages.
    """

    path: str | None = None
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)
    rate: int | None = None
    digit: int | None = None
    generation: int = 0
    label: str = "the take"

    def __post_init__(self) -> None:
        if (self.path is None) == (self.samples is None):
            raise ValueError("a take request needs exactly one of path and samples")
        if self.samples is not None and not self.rate:
            raise ValueError("samples need their rate in Hz")
        if self.digit is not None and not 0 <= self.digit <= 9:
            raise ValueError(f"a digit is 0..9, not {self.digit!r}")


@dataclass(frozen=True)
class TakeResult:
    """A take analysed: the digit (recognised when ``recognised``, with its ``margin``), the voice's
    ``knobs``, its median ``f0_hz``, formant ``scale`` and the ``performance`` that gives them back
    (:func:`vaesynth.voices.voice_norm.take_voice`), and the take as the model heard it: ``wave``
    float32 ``(n,)`` at ``sample_rate`` (trimmed, peak-normalised), ``image_db`` ``(n_frames, n_bins)`` dB."""

    request: TakeRequest
    digit: int
    recognised: bool
    margin: float | None
    knobs: tuple[float, ...]
    wave: np.ndarray
    sample_rate: int
    image_db: np.ndarray
    elapsed_s: float
    f0_hz: float | None = None  # the take's median f0
    scale: float = 1.0  # the take's formant scale against the model's voices
    performance: Performance = NATURAL  # pitch and formant that render the knobs at the take's pitch and size

    @property
    def duration_s(self) -> float:
        return len(self.wave) / self.sample_rate if self.sample_rate else 0.0
