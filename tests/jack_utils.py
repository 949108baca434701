"""MIDI test harness: a private JACK server (dummy driver) and a virtual MIDI keyboard on it.

This machine and CI have no ALSA sequencer, but python-rtmidi's wheel has JACK compiled in and a
JACK server with the dummy driver runs in user space, so virtual MIDI ports are real ports there.
``JACK_DEFAULT_SERVER`` should point at the server only inside tests: PortAudio, initialised at any
other moment, would connect its own JACK host API to it and abort the process when it goes away,
so :func:`jack_server` initialises PortAudio first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaesynth.midi import midi_ports

WAIT_S = 10.0  # upper bound for the server to come up (never a measurement)


def jack_client_ok(server: str) -> bool:
    """Whether a JACK client can connect to ``server`` now."""
    import rtmidi

    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server
    try:
        with midi_ports.quiet_stderr():
            probe = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="vaesynth-probe")
    except Exception:  # noqa: BLE001
        return False
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved
    probe.delete()
    return True


@contextlib.contextmanager
def jack_server(name: str, log_dir: Path) -> Iterator[str]:
    """Run ``jackd -d dummy`` (48 kHz, 2048-frame periods) as ``name`` until the block ends; skip if not installed.

    Long periods (43 ms) on purpose: a client whose process callback has not finished when the next
    cycle starts is an xrun, and the MIDI events of that cycle are lost. On a loaded 2-core machine
    with 5 ms periods (256 frames) the test run saw 25-120 xruns and, once in a while, a lost
    note-off; the tests check the app, not JACK's timing under load."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (Debian/Ubuntu: apt install jackd2; scripts/setup.sh does)")
    with contextlib.suppress(OSError):
        import sounddevice  # noqa: F401 - PortAudio initialised before the server exists (module doc)
    log = log_dir / "jackd.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "2048"],
            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_S
        while not jack_client_ok(name):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jackd did not start (exit {proc.poll()}): {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.05)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Keyboard:
    """A virtual MIDI output port on JACK (``client:port``), standing in for a keyboard plugged in.

    A client that reuses the name of one just closed may be renamed ``client-01`` by JACK while the
    old one is still being torn down (as a replugged device's ALSA address changes): compare such
    names with :func:`vaesynth.midi.midi_ports.match_port`.
    """

    def __init__(self, client: str = "vkeys", port: str = "keys") -> None:
        import rtmidi

        self.name = f"{client}:{port}"
        self._out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
        self._out.open_virtual_port(port)

    def send(self, *data: int) -> None:
        self._out.send_message(list(data))

    def note_on(self, note: int, velocity: int = 100, channel: int = 0) -> None:
        self.send(0x90 | channel, note, velocity)

    def note_off(self, note: int, channel: int = 0) -> None:
        self.send(0x80 | channel, note, 0)

    def unplug(self) -> None:
        self._out.close_port()
        self._out.delete()
