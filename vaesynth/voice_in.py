"""Your own voice in: a recorded take (WAV file or microphone samples) -> a digit and knobs.

Analysis path (no Qt; torch only through the model of a :class:`~vaesynth.synth.Synth`):

1. :func:`load_take`: any rate -> the model rate (soxr), mono, checked for the ways a take goes
   wrong (too quiet, clipped, too long), then peak-normalised and silence-trimmed exactly like
   the training features (:func:`vaesynth.spectral.normalize_peak`, :func:`~vaesynth.spectral.trim_silence`).
2. :func:`recognise_digit`: analysis by synthesis with the conditional model. The take's features
   are encoded under each of the 10 digit conditions, each posterior mean decoded under the same
   digit, and the digit whose reconstruction is closest (mean squared feature error over the
   112-frame window, padding included, so the length counts too) wins. The confidence margin is
   ``(second-best error - best error) / best error``; a take whose margin is below
   :data:`MIN_MARGIN` or whose best error is above :data:`MAX_ERROR` is "not a digit".
3. :func:`encode_voice`: posterior mean under the (recognised or given) digit ->
   :meth:`vaesynth.voice.KnobSpace.to_knobs`: knobs ``(latent_dim,)`` in standard units; the same
   knobs spoken on another digit keep the voice (what ``vaesynth say --voice-from`` does).

Every bad take is one :class:`VoiceInError` with one readable sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import spectral
from .digits import N_DIGITS, as_digit
from .spectral import SpectralConfig

if TYPE_CHECKING:
    from .synth import Synth

QUIET_DBFS = -55.0  # loudest 32 ms frame (RMS, dB re full scale) below this: too quiet
FULL_SCALE = 0.999  # |sample| at or above this counts as clipped
MAX_CLIPPED_SHARE = 0.005  # more than 0.5 % of the samples at full scale: clipping
MAX_SECONDS = 2.0  # longer than this after trimming: not one digit
MIN_SECONDS = 0.1  # shorter than this after trimming: nothing to analyse
MIN_MARGIN = 0.01  # recognition margin below this: not a digit (calibrated on FSDD, docs/voice_in.md)
MAX_ERROR = 0.015  # best reconstruction error (mean squared, features in [0, 1]) above this: not a digit


class VoiceInError(ValueError):
    """A take that cannot become a voice; ``str(e)`` is one sentence for the user."""


@dataclass(frozen=True)
class Recognition:
    """What :func:`recognise_digit` found.

    ``digit``: the best digit; ``margin``: ``(e2 - e1) / e1`` of the two lowest errors (0 = a tie);
    ``errors``: float64 ``(10,)`` mean squared feature error per digit condition;
    ``latents``: float32 ``(10, latent_dim)`` posterior means per digit condition.
    """

    digit: int
    margin: float
    errors: np.ndarray
    latents: np.ndarray

    @property
    def confident(self) -> bool:
        """Whether the take is accepted as a spoken digit (margin and error within limits)."""
        return self.margin >= MIN_MARGIN and float(self.errors[self.digit]) <= MAX_ERROR


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    """A sound file as float32 ``(n_samples, channels)`` and its rate in Hz; VoiceInError if unreadable."""
    import soundfile as sf

    if not path.is_file():
        raise VoiceInError(f"no such sound file: {path}")
    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
        raise VoiceInError(f"{path.name} is not a readable sound file (WAV, FLAC or OGG)") from None
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


def load_take(
    source: str | os.PathLike | np.ndarray, rate: int | None = None, cfg: SpectralConfig | None = None
) -> np.ndarray:
    """A take ready for analysis: float32 ``(n_samples,)`` at ``cfg.sample_rate`` Hz, peak ``cfg.peak``, trimmed.

    ``source``: a sound file path, or samples ``(n_samples,)`` / ``(n_samples, channels)`` in
    [-1, 1] at ``rate`` Hz (required for samples; a file brings its own rate). Channels are mixed
    to mono, the rate converted with soxr, the level checked (:func:`check_level`), then the
    take is peak-normalised and silence-trimmed like the training features. Raises
    :class:`VoiceInError` (one sentence) for an unreadable file, silence, clipping, a take longer
    than :data:`MAX_SECONDS` or shorter than :data:`MIN_SECONDS` after trimming.
    """
    from .audio import resample

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
    mono = resample(mono, int(rate), cfg.sample_rate)
    check_level(np.clip(mono, -0.99, 0.99), cfg)
    take = spectral.trim_silence(spectral.normalize_peak(mono, cfg), cfg)
    seconds = len(take) / cfg.sample_rate
    if seconds > MAX_SECONDS:
        raise VoiceInError(
            f"the take is too long ({seconds:.1f} s of sound after trimming silence, at most {MAX_SECONDS:g} s): "
            "say one digit"
        )
    if seconds < MIN_SECONDS:
        raise VoiceInError(f"the take is too short ({seconds * 1000:.0f} ms of sound): say one digit")
    return take


def _features(take: np.ndarray, cfg: SpectralConfig) -> np.ndarray:
    """The take's model features float32 ``(max_frames, n_bins)`` (the training definition)."""
    return spectral.wave_to_features(take, cfg)[0]


def analyse_digits(synth: Synth, take: np.ndarray) -> Recognition:
    """Encode and reconstruct ``take`` (from :func:`load_take`) under all 10 digit conditions.

    No confidence check: see :func:`recognise_digit`. One batched encode + decode (10 rows).
    """
    import torch

    cfg = synth.spectral
    x = torch.from_numpy(_features(take, cfg))[None].expand(N_DIGITS, -1, -1).contiguous()
    digits = torch.arange(N_DIGITS, dtype=torch.long)
    model = synth.bundle.model
    with torch.inference_mode():
        mu, _ = model.encode(x, digits)
        recon = model.decode(mu, digits).features.float()
    errors = ((recon - x) ** 2).mean(dim=(1, 2)).double().numpy()
    order = np.argsort(errors)
    best, second = float(errors[order[0]]), float(errors[order[1]])
    margin = (second - best) / max(best, 1e-12)
    return Recognition(int(order[0]), margin, errors, mu.float().numpy())


def recognise_digit(synth: Synth, take: np.ndarray) -> Recognition:
    """The digit spoken in ``take`` (float32 ``(n_samples,)`` from :func:`load_take`), by analysis by synthesis.

    Needs a digit-conditional model (the default ``cvae``): an unconditional one reconstructs
    every digit alike. Raises :class:`VoiceInError` when the take is not recognisably a digit.
    """
    if synth.bundle.kind != "cvae":
        raise VoiceInError(
            f"recognising the digit needs the conditional model, not {synth.bundle.kind!r}: name the digit instead"
        )
    rec = analyse_digits(synth, take)
    if not rec.confident:
        raise VoiceInError(
            f"the take does not sound like a spoken digit (best guess {rec.digit}, margin {rec.margin:.3f}, "
            f"error {rec.errors[rec.digit]:.4f}): say one digit clearly"
        )
    return rec


def encode_latent(synth: Synth, take: np.ndarray, digit: int) -> np.ndarray:
    """Posterior mean latent float32 ``(latent_dim,)`` of ``take`` spoken as ``digit``."""
    import torch

    x = torch.from_numpy(_features(take, synth.spectral))[None]
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
