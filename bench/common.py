"""Helpers shared by the benchmarks: a virtual MIDI keyboard on a private JACK server, percentiles.
(The research scripts in ``experiments/`` share theirs in ``experiments/common.py``.)

The keyboard needs ``jackd`` (Debian package jackd2) and python-rtmidi. Import sounddevice (PortAudio)
*before* starting it: PortAudio initialised while a JACK server runs would also list JACK devices,
and the benchmarks want their sound to go through PulseAudio only (see tests/test_midi.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence

import numpy as np

WHITE_KEYS = (60, 62, 64, 65, 67, 69, 71, 72, 74, 76)  # C4..E5: the app's default map says 0-9


def ms_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / max of durations given in seconds, in milliseconds."""
    xs = 1e3 * np.asarray(seconds, dtype=np.float64)
    return {"p50": float(np.percentile(xs, 50)), "p95": float(np.percentile(xs, 95)), "max": float(xs.max())}


def spin(app, cond, timeout_s: float = 60.0, slice_ms: int = 20, nap_s: float = 0.002) -> None:  # noqa: ANN001
    """Run ``app``'s event loop in ``slice_ms`` slices (napping ``nap_s`` between) until ``cond()``."""
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the app did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, slice_ms)
        time.sleep(nap_s)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class JackKeyboard:
    """A private JACK server (dummy driver, 64-frame periods at 48 kHz) and a virtual keyboard
    port ``<client>:keys`` on it; ``$JACK_DEFAULT_SERVER`` names the server for this process."""

    def __init__(self, client: str = "benchkeys", period: int = 64) -> None:
        if shutil.which("jackd") is None:
            raise SystemExit("this benchmark needs jackd (apt install jackd2)")
        import rtmidi

        self.server = f"vaesynth_bench_{os.getpid()}"
        self.port_name = f"{client}:keys"
        self.jackd = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.server, "-d", "dummy", "-r", "48000", "-p", str(period)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        os.environ["JACK_DEFAULT_SERVER"] = self.server
        from vaesynth.midi.midi_ports import quiet_stderr

        self.out = None
        for _ in range(200):
            try:
                with quiet_stderr():  # libjack complains while the server is still starting
                    self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if self.jackd.poll() is not None:
                    break
                time.sleep(0.05)
        if self.out is None:
            self.jackd.terminate()
            raise SystemExit("jackd did not start (install jackd2)")
        self.out.open_virtual_port("keys")

    def send_message(self, message: list[int]) -> None:
        self.out.send_message(message)

    def note_on(self, note: int, velocity: int = 100) -> None:
        self.out.send_message([0x90, note, velocity])

    def note_off(self, note: int) -> None:
        self.out.send_message([0x80, note, 0])

    def close(self) -> None:
        if self.out is not None:
            self.out.delete()
            self.out = None
        self.jackd.terminate()
        try:
            self.jackd.wait(5)
        except subprocess.TimeoutExpired:
            self.jackd.kill()
