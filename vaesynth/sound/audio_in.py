"""Microphone input: input devices and one fixed-length take (no Qt, no torch).

:func:`record_take` opens a sounddevice ``InputStream`` on the chosen (or default) input device,
records ``seconds`` of mono audio at the device's rate (48 kHz when it takes it), reports the
level of every block to ``on_level`` (so a meter can move while the user speaks), and returns
the take resampled to the model rate with silence trimmed from both ends. Analysis of the take
(checks, digit, knobs) is :mod:`vaesynth.voices.voice_in`.

Every failure (no PortAudio, no input device, a device that cannot be opened) is one
:class:`AudioInError` with one readable sentence. ``sounddevice`` is imported lazily.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..dsp.spectral import SpectralConfig, trim_silence

PREFERRED_RATES = (48000, 44100, 16000, 8000)
NO_PORTAUDIO = "Recording is off: the PortAudio library is missing (install libportaudio2)"
NO_INPUT = "No audio input device found: connect a microphone (or pass a recorded WAV file instead)"
MAX_TAKE_S = 10.0


class AudioInError(RuntimeError):
    """Recording is not possible; ``str(e)`` is one sentence for the user."""


def _sounddevice():  # noqa: ANN202
    try:
        import sounddevice as sd
    except OSError:
        raise AudioInError(NO_PORTAUDIO) from None
    return sd


def input_devices() -> list[dict]:
    """Input devices: ``[{"index", "name", "channels", "default_samplerate", "default": bool}]``.

    Empty when there is no PortAudio or no input device (never raises).
    """
    try:
        sd = _sounddevice()
        found = sd.query_devices()
        default = sd.default.device[0]
    except Exception:  # noqa: BLE001 - PortAudio errors of any kind mean "no devices" here
        return []
    if default is None or int(default) < 0:
        try:
            default = sd.query_devices(kind="input")["index"]
        except Exception:  # noqa: BLE001
            default = -1
    return [
        {
            "index": i,
            "name": str(dev.get("name", f"device {i}")),
            "channels": int(dev.get("max_input_channels", 0)),
            "default_samplerate": float(dev.get("default_samplerate", 0.0)),
            "default": i == int(default),
        }
        for i, dev in enumerate(found)
        if dev.get("max_input_channels", 0) > 0
    ]


def _pick_rate(sd, device: int | None) -> int:  # noqa: ANN001
    for rate in PREFERRED_RATES:
        try:
            sd.check_input_settings(device=device, channels=1, dtype="float32", samplerate=rate)
            return rate
        except Exception:  # noqa: BLE001
            continue
    return int(sd.query_devices(device, kind="input")["default_samplerate"])


def block_level_db(block: np.ndarray) -> float:
    """RMS level of a block of samples (any shape) in dB re full scale (-120 for silence)."""
    ms = float(np.mean(np.square(block, dtype=np.float64))) if block.size else 0.0
    return max(-120.0, 10 * np.log10(ms + 1e-12))


def record_raw(
    seconds: float = 2.0, device: int | None = None, on_level: Callable[[float], None] | None = None
) -> tuple[np.ndarray, int]:
    """Record ``seconds`` of mono audio: float32 ``(n_samples,)`` at the returned device rate in Hz.

    ``device``: a PortAudio input device index (``None``: the default input). ``on_level(dB)`` is
    called from the audio thread with every block's RMS level in dBFS; keep it quick.
    Raises :class:`AudioInError` (one sentence) when there is no input or it cannot be opened.
    """
    if not 0 < seconds <= MAX_TAKE_S:
        raise ValueError(f"a take lasts between 0 and {MAX_TAKE_S:g} s, not {seconds}")
    sd = _sounddevice()
    if not input_devices():
        raise AudioInError(NO_INPUT)
    try:
        rate = _pick_rate(sd, device)
    except Exception as e:  # noqa: BLE001
        raise AudioInError(f"cannot use input device {device}: {e}") from None
    n_total = int(round(seconds * rate))
    buf = np.zeros(n_total, dtype=np.float32)
    filled = 0
    done = threading.Event()

    def callback(indata: np.ndarray, frames: int, time_info, status) -> None:  # noqa: ANN001
        nonlocal filled
        take = min(frames, n_total - filled)
        if take > 0:
            buf[filled : filled + take] = indata[:take, 0]
            filled += take
        if on_level is not None:
            on_level(block_level_db(indata))
        if filled >= n_total:
            done.set()

    try:
        with sd.InputStream(device=device, channels=1, samplerate=rate, dtype="float32", callback=callback):
            if not done.wait(seconds + 5.0):
                raise AudioInError("the input device stopped delivering sound while recording")
    except AudioInError:
        raise
    except Exception as e:  # noqa: BLE001 - PortAudioError and friends
        raise AudioInError(f"cannot record from the input device: {str(e).splitlines()[0]}") from None
    return buf[:filled], rate


def record_take(
    seconds: float = 2.0,
    device: int | None = None,
    on_level: Callable[[float], None] | None = None,
    cfg: SpectralConfig | None = None,
) -> np.ndarray:
    """Record a take and trim it: float32 ``(n_samples,)`` at ``cfg.sample_rate`` Hz, silence cut at both ends.

    The level is kept as recorded (no normalisation), so :func:`vaesynth.voices.voice_in.load_take`
    (``load_take(take, cfg.sample_rate)``) can still tell a quiet or clipped take.
    See :func:`record_raw` for the arguments and errors.
    """
    from ..dsp.spectral import resample

    cfg = cfg or SpectralConfig()
    raw, rate = record_raw(seconds, device, on_level)
    wave = resample(raw, rate, cfg.sample_rate)
    return trim_silence(wave, cfg)
