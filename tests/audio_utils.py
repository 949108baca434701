"""Audio test harness: a private PulseAudio null sink, a monitor recorder, and analysis helpers.

Tests import the analysis helpers directly::

    from audio_utils import active_duration, dominant_frequency, make_tone

and get the running server through the ``pulse`` fixture (see ``conftest.py``).

How sound reaches the recorder: PortAudio (sounddevice) -> ALSA ``default`` PCM -> ALSA's pulse plugin
(``libasound2-plugins``; Debian's ``/usr/share/alsa/alsa.conf.d/pulse.conf`` routes ``default`` to PulseAudio
whenever a server is running) -> the null sink ``vaesynth_test`` -> its monitor source
``vaesynth_test.monitor`` -> ``parec`` in a subprocess -> float32 mono samples.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SINK_NAME = "vaesynth_test"
SINK_RATE = 48000
# norewinds=1: without it the null sink rewinds on every ALSA-plugin write and playback runs 1.5-3x slower
# than real time. float32 48 kHz so the usual 48 kHz playback reaches the monitor without conversion.
SINK_ARGS = f"sink_name={SINK_NAME} rate={SINK_RATE} format=float32le channels=2 norewinds=1"


class PulseUnavailable(RuntimeError):
    """The PulseAudio test server could not be found or started."""


# --------------------------------------------------------------------------------------------------------------------
# Analysis helpers (pure functions)
# --------------------------------------------------------------------------------------------------------------------


def make_tone(freq_hz: float, duration_s: float, rate: int = SINK_RATE, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone, float32 of shape ``(round(duration_s * rate),)``, peak ``amplitude`` (full scale = 1)."""
    t = np.arange(round(duration_s * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def shift_voice(wave: np.ndarray, rate: int, semitones: float, out_rate: int = 16000) -> np.ndarray:
    """``wave`` moved ``semitones`` up in pitch *and* formants (a higher, shorter voice, as ``sox pitch``
    does), duration kept, at ``out_rate``: a phase-vocoder stretch by ``r = 2 ** (semitones / 12)``, then
    resampled by ``1 / r`` (the method of bench/voice_sets.py)."""
    import librosa

    from vaesynth.dsp.spectral import resample

    r = 2.0 ** (semitones / 12.0)
    x = resample(np.asarray(wave, np.float32), rate, out_rate)
    stretched = librosa.effects.time_stretch(x, rate=1.0 / r, n_fft=512, hop_length=128).astype(np.float32)
    y = resample(stretched, int(round(out_rate * r)), out_rate)
    return (0.9 * y / np.max(np.abs(y))).astype(np.float32)


def yin_f0(wave: np.ndarray, rate: int) -> float:
    """Median YIN f0 (Hz, librosa; 50-800 Hz) over the frames within 20 dB of the loudest: a measure
    independent of vaesynth's own tracker."""
    import librosa

    w = np.asarray(wave, dtype=np.float64)
    f0 = librosa.yin(w, fmin=50, fmax=800, sr=rate, frame_length=512 * rate // 8000, hop_length=64 * rate // 8000,
                     trough_threshold=0.1)  # fmt: skip
    rms = librosa.feature.rms(y=w, frame_length=512 * rate // 8000, hop_length=64 * rate // 8000)[0][: len(f0)]
    return float(np.median(f0[rms > rms.max() * 0.1]))


def to_mono(x: np.ndarray) -> np.ndarray:
    """``(n,)`` or ``(n, channels)`` -> float64 ``(n,)`` (channel mean)."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=1) if x.ndim == 2 else x


def rms_db(x: np.ndarray) -> float:
    """RMS level of the whole signal in dBFS (a full-scale sine is -3 dB); -inf for silence."""
    x = to_mono(x)
    if x.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(x**2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def active_span(x: np.ndarray, rate: int, threshold_db: float = -40.0) -> tuple[float, float] | None:
    """``(start_s, end_s)`` from the first to the last sample whose magnitude exceeds ``threshold_db`` dBFS.

    ``None`` when nothing exceeds the threshold. Sample-level, so a sine's edges are exact to half a period.
    """
    x = to_mono(x)
    above = np.flatnonzero(np.abs(x) > 10 ** (threshold_db / 20))
    if above.size == 0:
        return None
    return above[0] / rate, (above[-1] + 1) / rate


def active_duration(x: np.ndarray, rate: int, threshold_db: float = -40.0) -> float:
    """Seconds from the first to the last sample above ``threshold_db`` dBFS (0.0 when all below).

    Silence before and after (recording lead-in, device latency) does not count; gaps inside do.
    """
    span = active_span(x, rate, threshold_db)
    return 0.0 if span is None else span[1] - span[0]


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    """Frequency in Hz of the strongest spectral peak (Hann window, parabolic interpolation between bins).

    Leading/trailing silence is harmless; for best precision pass at least ~0.1 s of signal.
    """
    x = to_mono(x)
    if x.size < 4 or not np.any(x):
        raise ValueError("dominant_frequency needs a non-silent signal")
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < spectrum.size - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-30)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return (k + offset) * rate / x.size


# --------------------------------------------------------------------------------------------------------------------
# Recording the null sink's monitor
# --------------------------------------------------------------------------------------------------------------------


class Recorder:
    """``parec`` recording a PulseAudio source as float32 mono; see :meth:`PulseServer.start_recording`."""

    def __init__(self, source: str, rate: int = SINK_RATE, start_timeout_s: float = 5.0) -> None:
        self.source = source
        self.rate = rate
        self._chunks: list[bytes] = []
        self._first_data = threading.Event()
        self._proc = subprocess.Popen(
            [
                "parec", "--raw", "--format=float32le", "--channels=1", f"--rate={rate}",
                "--latency-msec=10", "--client-name=vaesynth-tests", "--stream-name=monitor-recorder",
                "-d", source,
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()
        # The monitor delivers silence continuously once the stream is connected: the first bytes mean
        # "recording now", so anything played after this returns is captured from its first sample.
        if not self._first_data.wait(start_timeout_s):
            err = self._kill_and_collect_stderr()
            raise PulseUnavailable(f"parec delivered no data from {source!r} within {start_timeout_s} s: {err}")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._chunks.append(chunk)
            self._first_data.set()

    def _kill_and_collect_stderr(self) -> str:
        self._proc.kill()
        _, err = self._proc.communicate(timeout=5)
        return err.decode(errors="replace").strip()

    def stop(self, tail_s: float = 0.2) -> np.ndarray:
        """Keep recording ``tail_s`` more seconds (the sink's latency), stop, and return float32 ``(n,)`` samples."""
        if self._proc.poll() is None:
            time.sleep(tail_s)
            self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._reader.join(timeout=5)
        data = b"".join(self._chunks)
        data = data[: len(data) - len(data) % 4]
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self.stop(tail_s=0.0)


# --------------------------------------------------------------------------------------------------------------------
# The PulseAudio server
# --------------------------------------------------------------------------------------------------------------------


def _run(cmd: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@dataclass
class PulseServer:
    """A reachable PulseAudio server with the ``vaesynth_test`` null sink as its default sink.

    Use :meth:`ensure` to get one; :meth:`close` undoes what ``ensure`` did (stops a server it started,
    or unloads the sink and restores the previous default sink on a server that was already running).
    """

    sink_name: str = SINK_NAME
    started_server: bool = False
    loaded_module: int | None = None
    previous_default_sink: str | None = None
    log_path: Path | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def monitor_name(self) -> str:
        return f"{self.sink_name}.monitor"

    def start_recording(self, rate: int = SINK_RATE) -> Recorder:
        """Start recording the sink's monitor (float32 mono at ``rate``); returns once samples are flowing."""
        return Recorder(self.monitor_name, rate=rate)

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    @staticmethod
    def is_running() -> bool:
        if shutil.which("pactl") is None:
            return False
        try:
            return _run(["pactl", "info"], timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    @classmethod
    def ensure(cls) -> PulseServer:
        """Start PulseAudio if none is reachable, add the null sink if missing, and make it the default sink."""
        for tool in ("pulseaudio", "pactl", "parec"):
            if shutil.which(tool) is None:
                raise PulseUnavailable(
                    f"{tool!r} not found: install pulseaudio and pulseaudio-utils (scripts/setup.sh does)"
                )
        # Serialise concurrent sessions (e.g. pytest-xdist workers) so only one starts a server / loads the sink.
        lock_path = Path(tempfile.gettempdir()) / f"vaesynth-pulse-{os.getuid()}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return cls._ensure_locked()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @classmethod
    def _ensure_locked(cls) -> PulseServer:
        server = cls()
        if not cls.is_running():
            server.start_daemon()
        sinks = _run(["pactl", "list", "short", "sinks"]).stdout.split("\n")
        if not any(line.split("\t")[1:2] == [server.sink_name] for line in sinks):
            res = _run(["pactl", "load-module", "module-null-sink", SINK_ARGS])
            if res.returncode != 0:
                raise PulseUnavailable(f"could not load module-null-sink: {res.stderr.strip()}")
            server.loaded_module = int(res.stdout.strip())
        res = _run(["pactl", "get-default-sink"])
        if res.returncode == 0 and res.stdout.strip() and res.stdout.strip() != server.sink_name:
            server.previous_default_sink = res.stdout.strip()
        for cmd in (
            ["pactl", "set-default-sink", server.sink_name],
            ["pactl", "set-sink-mute", server.sink_name, "0"],
            ["pactl", "set-sink-volume", server.sink_name, "100%"],
        ):
            res = _run(cmd)
            if res.returncode != 0:
                raise PulseUnavailable(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
        server.pin_address()
        return server

    @staticmethod
    def pin_address() -> None:
        """Name the server's socket in ``$PULSE_SERVER`` so clients still find it when a test changes ``$HOME``.

        Without ``$XDG_RUNTIME_DIR`` (e.g. root in CI) a client looks for the socket through ``~/.config/pulse``;
        a test that points ``HOME`` at a temporary folder would then lose the server.
        """
        if os.environ.get("PULSE_SERVER"):
            return
        for line in _run(["pactl", "info"]).stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Server String" and value.strip():
                address = value.strip()
                os.environ["PULSE_SERVER"] = address if ":" in address else f"unix:{address}"
        cookie = Path(os.path.expanduser("~/.config/pulse/cookie"))
        if cookie.exists() and not os.environ.get("PULSE_COOKIE"):
            os.environ["PULSE_COOKIE"] = str(cookie)

    def start_daemon(self) -> None:
        self.log_path = Path(tempfile.gettempdir()) / f"vaesynth-pulseaudio-{os.getuid()}.log"
        cmd = [
            "pulseaudio",
            "--daemonize=yes",
            "--system=false",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "-n",  # no default.pa: no hardware detection, no suspend-on-idle, nothing but what we load
            "--load=module-native-protocol-unix",
            f"--load=module-null-sink {SINK_ARGS}",
            f"--log-target=newfile:{self.log_path}",
        ]
        # The parent returns once the daemon has finished starting (or failed); the daemon detaches itself.
        res = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while not self.is_running():
            if time.monotonic() > deadline:
                log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
                raise PulseUnavailable(
                    f"pulseaudio did not start (exit {res.returncode}): {res.stderr.strip()}\n{log}"
                )
            time.sleep(0.05)
        self.started_server = True

    def close(self) -> None:
        """Undo :meth:`ensure`: stop the server if we started it, else unload our sink and restore the default."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self.started_server:
                _run(["pulseaudio", "--kill"])
                return
            if self.previous_default_sink:
                _run(["pactl", "set-default-sink", self.previous_default_sink])
            if self.loaded_module is not None:
                _run(["pactl", "unload-module", str(self.loaded_module)])
