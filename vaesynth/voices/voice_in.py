"""Your own voice in: a recorded take (WAV file or microphone samples) -> a digit and knobs.

Analysis path (no Qt; torch only through the model of a :class:`~vaesynth.engine.synth.Synth`):

1. :func:`load_take`: any rate -> the model rate (soxr), mono, checked for the ways a take goes
   wrong (too quiet, clipped, too long), then peak-normalised and silence-trimmed exactly like
   the training features (:func:`vaesynth.dsp.spectral.normalize_peak`, :func:`~vaesynth.dsp.spectral.trim_silence`),
   then cut to the first and last sample within 60 dB of the peak (:func:`trim_edges`: a live
   take keeps some silence the training files never had).
   The encoder sees :func:`take_features` (the training features with the band next to 4 kHz
   filled in, so resampled takes and 8 kHz files agree).
2. :func:`recognise_digit`: analysis by synthesis with the conditional model. The take's features
   are encoded under each of the 10 digit conditions, each posterior mean decoded under the same
   digit, and the digit whose reconstruction is closest (mean squared feature error over the
   112-frame window, padding included, so the length counts too) wins. The confidence margin is
   ``(second-best error - best error) / best error``; a take whose margin is below
   :data:`MIN_MARGIN`, whose best error is above :data:`MAX_ERROR` or that has no voiced frame
   (periodicity below :data:`MIN_VOICING`: noise) is "not a digit".
3. :func:`encode_voice`: posterior mean under the (recognised or given) digit ->
   :meth:`vaesynth.voices.voice.KnobSpace.to_knobs`: knobs ``(latent_dim,)`` in standard units; the same
   knobs spoken on another digit keep the voice (what ``vaesynth say --voice-from`` does).

Every bad take is one :class:`VoiceInError` with one readable sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..digits import N_DIGITS, as_digit
from ..dsp import spectral
from ..dsp.pitch import periodicity
from ..dsp.spectral import SpectralConfig

if TYPE_CHECKING:
    from ..engine.synth import Synth

QUIET_DBFS = -55.0  # loudest 32 ms frame (RMS, dB re full scale) below this: too quiet
FULL_SCALE = 0.999  # |sample| at or above this counts as clipped
MAX_CLIPPED_SHARE = 0.005  # more than 0.5 % of the samples at full scale: clipping
MAX_SECONDS = 2.0  # longer than this after trimming: not one digit
MIN_SECONDS = 0.1  # shorter than this after trimming: nothing to analyse
MAX_FILE_SECONDS = 30.0  # a take file longer than this (by its header) is refused before decoding
MAX_FILE_BYTES = 64 << 20
MIN_MARGIN = 0.01  # recognition margin below this: not a digit (calibrated on FSDD, docs/voice_in.md)
BAND_EDGE_HZ: float | None = 3800.0  # feature bins above this are replaced by the bin below (see take_features)
BAND_GAP = 0.1  # ... when they lie this far (feature units; 0.1 = 10.5 dB) below that bin on average
EDGE_DB = 60.0  # after frame trimming, samples quieter than this below the peak are cut from both ends
# the take's smoothed spectral envelope must move: mean over frequency of its standard deviation over the
# loud frames (feature units). Shifted FSDD test takes >= 0.026; stationary noises, a tone in noise and a
# click train 0.008-0.022 (docs/voice_in.md)
MIN_MOVEMENT = 0.024
MIN_VOICING = 0.45  # best frame periodicity below this: no voiced sound, not a digit (FSDD test takes: >= 0.59)
# best reconstruction error (mean squared over the utterance's frames, features in [0, 1]) above this:
# not a digit. Default model, FSDD test takes: 99th percentile 0.0144, largest 0.0152; a tone in noise
# 0.0162, white noise 0.023 (docs/voice_in.md)
MAX_ERROR = 0.0155
WIDE_RATE = 16000  # Hz: the take is also kept at this rate, with the band above the model's (LoadedTake.wide)
RECOGNISING_KINDS = frozenset({"cvae"})  # model kinds with a digit condition: they can recognise the digit


class VoiceInError(ValueError):
    """A take that cannot become a voice; ``str(e)`` is one sentence for the user."""


@dataclass(frozen=True)
class Recognition:
    """What :func:`recognise_digit` found.

    ``digit``: the best digit; ``margin``: ``(e2 - e1) / e1`` of the two lowest errors (0 = a tie);
    ``errors``: float64 ``(10,)`` mean squared feature error per digit condition;
    ``latents``: float32 ``(10, latent_dim)`` posterior means per digit condition;
    ``voicing``: the take's highest frame periodicity (0..1, :func:`vaesynth.dsp.pitch.periodicity`):
    every digit has a vowel, noise has none. ``movement``: how much the take's spectral envelope
    changes (:func:`movement`; a digit's moves, a steady noise's or tone's does not).
    ``min_margin``, ``max_error``: the limits it is judged
    by (the normalised analysis of :mod:`vaesynth.voices.voice_norm` has its own; digits it did not
    reconstruct have NaN errors and latents).
    """

    digit: int
    margin: float
    errors: np.ndarray
    latents: np.ndarray
    voicing: float = 1.0
    min_margin: float = MIN_MARGIN
    max_error: float = MAX_ERROR
    movement: float = 1.0

    @property
    def confident(self) -> bool:
        """Whether the take is accepted as a spoken digit (margin, error, voicing and movement within limits)."""
        error_ok = float(self.errors[self.digit]) <= self.max_error
        sound_ok = self.voicing >= MIN_VOICING and self.movement >= MIN_MOVEMENT
        return self.margin >= self.min_margin and error_ok and sound_ok


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    """A sound file as float32 ``(n_samples, channels)`` and its rate in Hz; VoiceInError if unreadable."""
    import soundfile as sf

    from ..sound.safeio import AudioLimitError, read_audio

    try:  # the header is checked before anything is decoded (rate, channels, length)
        wave, rate = read_audio(path, max_seconds=MAX_FILE_SECONDS, max_bytes=MAX_FILE_BYTES)
    except FileNotFoundError:
        raise VoiceInError(f"no such sound file: {path}") from None
    except AudioLimitError as e:
        raise VoiceInError(f"{path.name} cannot be a take: {e}") from None
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else "not a readable sound file (WAV, FLAC or OGG)"
        raise VoiceInError(f"{path.name}: {why}") from None
    return wave, int(rate)


def _check_clipping(wave: np.ndarray) -> None:
    """Raise :class:`VoiceInError` when more than :data:`MAX_CLIPPED_SHARE` of ``wave`` sits at full scale."""
    clipped = float(np.mean(np.abs(wave) >= FULL_SCALE))
    if clipped > MAX_CLIPPED_SHARE:
        raise VoiceInError(
            f"the take is clipped ({clipped:.1%} of the samples at full scale): "
            "turn the input level down and record again"
        )


def check_level(wave: np.ndarray, cfg: SpectralConfig | None = None) -> None:
    """Raise :class:`VoiceInError` for a take that is too quiet or clipped.

    ``wave``: float32 ``(n_samples,)`` at the model rate, as recorded (before any normalisation).
    """
    cfg = cfg or SpectralConfig()
    if wave.size == 0 or not np.isfinite(wave).all():
        raise VoiceInError("the take is empty or holds invalid samples")
    _check_clipping(wave)
    if wave.size >= cfg.n_fft:
        frames = spectral.frame(wave, cfg, centered=False)
        loudest = float(np.max(np.mean(frames.astype(np.float64) ** 2, axis=1)))
    else:
        loudest = float(np.mean(wave.astype(np.float64) ** 2))
    level = 10 * np.log10(loudest + 1e-20)
    if level < QUIET_DBFS:
        raise VoiceInError(
            f"the take is too quiet (loudest part {level:.0f} dBFS, needs {QUIET_DBFS:.0f}): "
            "speak closer or turn the input up"
        )


def edge_span(wave: np.ndarray, cfg: SpectralConfig) -> tuple[int, int]:
    """``(start, end)``: from the first to the last sample within :data:`EDGE_DB` of ``cfg.peak`` (all if none)."""
    loud = np.flatnonzero(np.abs(wave) > cfg.peak * 10 ** (-EDGE_DB / 20))
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, len(wave))


def trim_edges(wave: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """Cut the samples before the first and after the last one within :data:`EDGE_DB` of ``cfg.peak``.

    FSDD files (the training data) start and end on the utterance itself, while a live take keeps
    up to one analysis frame (``n_fft`` samples) of silence after frame-level trimming; that shifts
    all features by a few frames, which the model notices. ``wave``: float32 ``(n_samples,)``,
    peak-normalised. FSDD recordings lose at most a few quiet samples.
    """
    start, end = edge_span(wave, cfg)
    return wave[start:end]


@dataclass(frozen=True)
class LoadedTake:
    """A take as :func:`load_full` reads it: ``wave`` float32 ``(n,)`` at the model rate (what
    :func:`load_take` returns), ``wide`` the same span of sound at :data:`WIDE_RATE` Hz (peak-normalised:
    a higher voice's formants above the model's band, for :mod:`vaesynth.voices.voice_norm`), and ``band_hz``,
    the highest frequency the source carries (half its rate, at most ``WIDE_RATE / 2``)."""

    wave: np.ndarray
    wide: np.ndarray
    band_hz: float


def load_take(
    source: str | os.PathLike | np.ndarray, rate: int | None = None, cfg: SpectralConfig | None = None
) -> np.ndarray:
    """A take ready for analysis: :attr:`LoadedTake.wave` of :func:`load_full`."""
    return load_full(source, rate, cfg).wave


def load_full(
    source: str | os.PathLike | np.ndarray, rate: int | None = None, cfg: SpectralConfig | None = None
) -> LoadedTake:
    """A take ready for analysis: float32 ``(n_samples,)`` at ``cfg.sample_rate`` Hz, peak ``cfg.peak``, trimmed.

    ``source``: a sound file path, or samples ``(n_samples,)`` / ``(n_samples, channels)`` in
    [-1, 1] at ``rate`` Hz (required for samples; a file brings its own rate). Channels are mixed
    to mono, the rate converted with soxr, the level checked (:func:`check_level`), then the
    take is peak-normalised and silence-trimmed like the training features. Raises
    :class:`VoiceInError` (one sentence) for an unreadable file, silence, clipping, a take longer
    than :data:`MAX_SECONDS` or shorter than :data:`MIN_SECONDS` after trimming.
    """
    from ..dsp.spectral import resample

    cfg = cfg or SpectralConfig()
    if isinstance(source, str | os.PathLike):
        wave, rate = _read_file(Path(source))
    else:
        if rate is None:
            raise ValueError("samples need their rate in Hz")
        wave = np.asarray(source, dtype=np.float32)
        wave = wave[:, None] if wave.ndim == 1 else wave
        if wave.ndim != 2:
            raise VoiceInError("a take must be mono (n_samples,) or (n_samples, channels) samples")
    if int(rate) <= 0:
        raise VoiceInError(f"a take's sample rate must be positive, not {rate}")
    mono = wave.mean(axis=1).astype(np.float32)
    if mono.size == 0 or not np.isfinite(mono).all():
        raise VoiceInError("the take is empty or holds invalid samples")
    _check_clipping(wave)  # on the original samples: resampling smears the flat tops
    model_rate = resample(mono, int(rate), cfg.sample_rate)
    check_level(np.clip(model_rate, -0.99, 0.99), cfg)
    full = spectral.normalize_peak(model_rate, cfg)
    a, b = spectral.sound_span(full, cfg)
    a2, b2 = edge_span(full[a:b], cfg)
    start, end = a + a2, a + b2
    take = full[start:end]
    seconds = len(take) / cfg.sample_rate
    if seconds > MAX_SECONDS:
        raise VoiceInError(
            f"the take is too long ({seconds:.1f} s of sound after trimming silence, at most {MAX_SECONDS:g} s): "
            "say one digit"
        )
    if seconds < MIN_SECONDS:
        raise VoiceInError(f"the take is too short ({seconds * 1000:.0f} ms of sound): say one digit")
    k = WIDE_RATE / cfg.sample_rate
    wide = spectral.normalize_peak(resample(mono, int(rate), WIDE_RATE)[round(start * k) : round(end * k)], cfg)
    return LoadedTake(take, wide, min(int(rate), WIDE_RATE) / 2)


def take_features(take: np.ndarray, cfg: SpectralConfig, edge_hz: float | None = BAND_EDGE_HZ) -> np.ndarray:
    """The features the encoder sees: float32 ``(max_frames, n_bins)`` in [0, 1].

    The training definition (:func:`vaesynth.dsp.spectral.wave_to_features`), except that when the
    bins above :data:`BAND_EDGE_HZ` lie :data:`BAND_GAP` below the last bin under it (an emptied
    band), they are replaced by that bin in the valid frames. Any
    resampler (a sound card at 48 kHz, a 44.1 kHz file) empties the band next to the model's
    Nyquist frequency, which FSDD files fill with their noise floor, and the encoder weighs those
    few bins heavily: an 8 -> 48 -> 8 kHz round trip of a test recording moved its latent by more
    than the distance between two speakers; with the band edge filled it moves by a tenth of that.
    Takes at 8 kHz with the band intact are left as they are (docs/voice_in.md). ``edge_hz``: where
    the band may end (lower for a take warped down in frequency, :mod:`vaesynth.voices.voice_norm`).
    """
    feat, n_valid = spectral.wave_to_features(take, cfg)
    k0 = int(np.ceil(edge_hz * cfg.n_fft / cfg.sample_rate)) if edge_hz else cfg.n_bins
    if 0 < k0 < cfg.n_bins and n_valid > 0:
        edge = feat[:n_valid, k0 - 1 : k0]
        if float(feat[:n_valid, k0:].mean()) < float(edge.mean()) - BAND_GAP:  # the band was emptied
            feat[:n_valid, k0:] = edge
    return feat


def analyse_digits(synth: Synth, take: np.ndarray) -> Recognition:
    """Encode and reconstruct ``take`` (from :func:`load_take`) under all 10 digit conditions.

    No confidence check: see :func:`recognise_digit`. One batched encode + decode (10 rows).
    """
    cfg = synth.spectral
    n_valid = max(1, spectral.wave_to_features(take, cfg)[1])
    return analyse_features(synth, take_features(take, cfg), n_valid, take)


def analyse_features(synth: Synth, features: np.ndarray, n_valid: int, take: np.ndarray) -> Recognition:
    """:func:`analyse_digits` of ready features ``(max_frames, n_bins)`` with ``n_valid`` frames of
    sound (``take``: the model-rate samples, for the voicing)."""
    import torch

    cfg = synth.spectral
    x = torch.from_numpy(np.ascontiguousarray(features, np.float32))[None].expand(N_DIGITS, -1, -1).contiguous()
    digits = torch.arange(N_DIGITS, dtype=torch.long)
    model = synth.bundle.model
    with torch.inference_mode():
        mu, _ = model.encode(x, digits)
        recon = model.decode(mu, digits).features.float()
    # over the utterance's own frames: past its end a decoder with noise texture adds noise that
    # has nothing to do with the digit
    errors = ((recon - x)[:, :n_valid] ** 2).mean(dim=(1, 2)).double().numpy()
    order = np.argsort(errors)
    best, second = float(errors[order[0]]), float(errors[order[1]])
    margin = (second - best) / max(best, 1e-12)
    latents = mu.float().numpy()
    return Recognition(int(order[0]), margin, errors, latents, voicing(take, cfg), movement=movement(take, cfg))


def movement(take: np.ndarray, cfg: SpectralConfig, lifter: int = 12) -> float:
    """How much the take's spectral envelope moves: each frame's features smoothed by its first
    ``lifter`` cepstral coefficients (the envelope, without the harmonics and the noise's fine
    structure), then the standard deviation over the frames within 0.3 feature units (31 dB) of the
    loudest, averaged over frequency."""
    feat, n = spectral.wave_to_features(take, cfg)
    if n < 2:
        return 0.0
    c = np.fft.irfft(feat[:n].astype(np.float64), axis=1)
    c[:, lifter : c.shape[1] - lifter + 1] = 0.0
    env = np.fft.rfft(c, axis=1).real
    level = env.mean(axis=1)
    env = env[level > level.max() - 0.3]
    return float(env.std(axis=0).mean()) if len(env) > 1 else 0.0


def voicing(take: np.ndarray, cfg: SpectralConfig) -> float:
    """The take's highest frame periodicity (0..1): every digit has a vowel, noise has none."""
    per = periodicity(take, cfg)[0]
    return float(per.max()) if per.size else 0.0


def recognise_digit(synth: Synth, take: np.ndarray) -> Recognition:
    """The digit spoken in ``take`` (float32 ``(n_samples,)`` from :func:`load_take`), by analysis by synthesis.

    Needs a digit-conditional model (the default ``cvae``): an unconditional one reconstructs
    every digit alike. Raises :class:`VoiceInError` when the take is not recognisably a digit.
    """
    if synth.bundle.kind not in RECOGNISING_KINDS:
        raise VoiceInError(
            f"recognising the digit needs the conditional model, not {synth.bundle.kind!r}: name the digit instead"
        )
    rec = analyse_digits(synth, take)
    if not rec.confident:
        raise refuse(rec)
    return rec


def refuse(rec: Recognition) -> VoiceInError:
    """The one-sentence refusal of a take that :attr:`Recognition.confident` does not accept."""
    return VoiceInError(
        f"the take does not sound like a spoken digit (best guess {rec.digit}, margin {rec.margin:.3f}, "
        f"error {rec.errors[rec.digit]:.4f}, voicing {rec.voicing:.2f}, movement {rec.movement:.3f}): "
        "say one digit clearly"
    )


def encode_latent(synth: Synth, take: np.ndarray, digit: int) -> np.ndarray:
    """Posterior mean latent float32 ``(latent_dim,)`` of ``take`` spoken as ``digit``."""
    import torch

    x = torch.from_numpy(take_features(take, synth.spectral))[None]
    with torch.inference_mode():
        mu, _ = synth.bundle.model.encode(x, torch.tensor([as_digit(digit)], dtype=torch.long))
    return mu[0].float().numpy()


def encode_voice(synth: Synth, take: np.ndarray, digit: int | str | None = None) -> np.ndarray:
    """Knobs float32 ``(latent_dim,)`` (standard units) of the voice in ``take``.

    ``take``: float32 ``(n_samples,)`` from :func:`load_take`. ``digit``: the digit spoken, or
    ``None`` to recognise it (:func:`recognise_digit`, which may raise :class:`VoiceInError`).
    The posterior mean under that digit is expressed in that digit's knob coordinates; rendering
    another digit with the same knobs speaks it in the same voice.
    """
    d = recognise_digit(synth, take).digit if digit is None else as_digit(digit)
    z = encode_latent(synth, take, d)
    return synth.knobs.to_knobs([d], z[None])[0].astype(np.float32)
