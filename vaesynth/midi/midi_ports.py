"""MIDI input ports: ALSA or JACK through python-rtmidi, followed as they vanish and return.

:class:`MidiInput` lists the input ports of one API (:class:`MidiApi`: ALSA where the sequencer
``/dev/snd/seq`` exists, else JACK when a JACK server is running), opens one by name, and
:meth:`MidiInput.poll` notices when the chosen port vanishes (state ``WAITING``) and reopens it
when it comes back (``OPEN``), returning a :class:`PortStatus` on every change. Where the system
has no MIDI at all, creating a :class:`MidiInput` raises :class:`MidiUnavailable`, whose message
is one readable sentence; nothing else in the program depends on MIDI.

Threads: commands arrive on python-rtmidi's own thread. By default they wait in a queue
(:meth:`MidiInput.get`); pass ``on_command`` to receive them on that thread instead (e.g. to emit
a Qt signal). :meth:`MidiInput.open`, :meth:`MidiInput.poll` and :meth:`MidiInput.close` may be
called from any one thread.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .midi import Command, translate

POLL_INTERVAL_S = 0.5  # how often a consumer should call MidiInput.poll (port comes back within this)
ALSA_SEQ_DEVICE = "/dev/snd/seq"
CLIENT_NAME = "vaesynth"

# --------------------------------------------------------------------------------------------------------------------
# APIs and ports
# --------------------------------------------------------------------------------------------------------------------


class MidiUnavailable(Exception):
    """MIDI cannot be used here (no python-rtmidi, no ALSA sequencer, no JACK server); ``str()`` is one sentence."""


class PortNotFound(Exception):
    """The named MIDI input port does not exist right now; ``str()`` is one sentence naming the ports there are."""


class MidiApi(Enum):
    """A MIDI system python-rtmidi can use on Linux."""

    ALSA = "alsa"  # the ALSA sequencer (/dev/snd/seq): hardware keyboards and most Linux MIDI software
    JACK = "jack"  # a running JACK server's MIDI ports (python-rtmidi's wheel has JACK compiled in)

    @property
    def label(self) -> str:
        return {"alsa": "ALSA", "jack": "JACK"}[self.value]


class PortState(Enum):
    """Where a :class:`MidiInput` stands with its chosen port."""

    CLOSED = "closed"  # no port chosen
    OPEN = "open"  # listening to the chosen port
    WAITING = "waiting"  # the chosen port is gone (unplugged, program quit); it is reopened when it returns


@dataclass(frozen=True)
class PortStatus:
    """Port state: ``state``, the chosen ``port`` (as asked for), the ``current`` port's name, a one-line message."""

    state: PortState
    port: str | None
    current: str | None
    message: str


def _rtmidi() -> Any:
    try:
        import rtmidi
    except ImportError:
        raise MidiUnavailable("MIDI needs python-rtmidi, which is not installed (pip install python-rtmidi)") from None
    return rtmidi


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (libasound / libjack print their own diagnostics) for the duration.

    Process-wide while it lasts (a few milliseconds around opening a MIDI client): our one-line
    message replaces that noise.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _as_api(api: MidiApi | str | None) -> MidiApi | None:
    if api is None or isinstance(api, MidiApi):
        return api
    try:
        return MidiApi(str(api).strip().lower())
    except ValueError:
        raise ValueError(f"unknown MIDI API {api!r} (choose alsa or jack)") from None


def _rt_api(rtmidi: Any, api: MidiApi) -> int:
    return {MidiApi.ALSA: rtmidi.API_LINUX_ALSA, MidiApi.JACK: rtmidi.API_UNIX_JACK}[api]


def compiled_apis() -> list[MidiApi]:
    """The APIs this python-rtmidi build supports (``[]`` without python-rtmidi); says nothing about availability."""
    try:
        rtmidi = _rtmidi()
    except MidiUnavailable:
        return []
    have = set(rtmidi.get_compiled_api())
    return [a for a in MidiApi if _rt_api(rtmidi, a) in have]


def _open_client(api: MidiApi, client_name: str) -> Any:
    """A python-rtmidi ``MidiIn`` on ``api``; :class:`MidiUnavailable` with one sentence when it cannot be had."""
    rtmidi = _rtmidi()
    if api not in compiled_apis():
        raise MidiUnavailable(f"{api.label} MIDI is not compiled into this python-rtmidi")
    if api is MidiApi.ALSA and not os.path.exists(ALSA_SEQ_DEVICE):
        raise MidiUnavailable(
            f"ALSA MIDI is unavailable: there is no sequencer device {ALSA_SEQ_DEVICE} (load the snd-seq kernel module)"
        )
    try:
        with quiet_stderr():
            return rtmidi.MidiIn(_rt_api(rtmidi, api), name=client_name)
    except Exception as e:  # noqa: BLE001 - rtmidi.SystemError / RuntimeError from the C++ side
        if api is MidiApi.JACK:
            raise MidiUnavailable("JACK MIDI is unavailable: no JACK server is running") from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MidiUnavailable(f"{api.label} MIDI is unavailable: {first}") from None


def open_client(api: MidiApi | str | None = None, client_name: str = CLIENT_NAME) -> tuple[MidiApi, Any]:
    """Pick an API and open a python-rtmidi input client on it: ``(api, MidiIn)``.

    ``api=None``: ALSA where the sequencer exists, else JACK if a JACK server runs. Raises
    :class:`MidiUnavailable` (one sentence) when there is none; :class:`ValueError` for an unknown name.
    """
    wanted = _as_api(api)
    if wanted is not None:
        return wanted, _open_client(wanted, client_name)
    _rtmidi()
    reasons = []
    for candidate in (MidiApi.ALSA, MidiApi.JACK):
        try:
            return candidate, _open_client(candidate, client_name)
        except MidiUnavailable as e:
            reasons.append(str(e))
    alsa = f"no ALSA sequencer ({ALSA_SEQ_DEVICE} is missing)" if not os.path.exists(ALSA_SEQ_DEVICE) else reasons[0]
    raise MidiUnavailable(f"No MIDI on this system: {alsa} and no JACK server is running")


def list_input_ports(api: MidiApi | str | None = None) -> list[str]:
    """Names of the MIDI input ports (sources: keyboards, sequencers) on ``api`` (``None``: the default API).

    Raises :class:`MidiUnavailable` when there is no MIDI.
    """
    chosen, client = open_client(api, client_name=f"{CLIENT_NAME}-list")
    try:
        return list(client.get_ports())
    finally:
        client.delete()


_ALSA_ADDRESS = re.compile(r"\s+\d+:\d+$")  # "Midi Through:Midi Through Port-0 14:0": numbers change on replug
_JACK_CLIENT_SUFFIX = re.compile(r"-\d{2}(?=:)")  # JACK renames a second "keys" client "keys-01"


def _normal(name: str) -> str:
    return _JACK_CLIENT_SUFFIX.sub("", _ALSA_ADDRESS.sub("", name.strip())).casefold()


def match_port(wanted: str, ports: Sequence[str]) -> str | None:
    """The port in ``ports`` that ``wanted`` names, or ``None``.

    Tried in order: the exact name; the same name without the numbers that change when a device
    is plugged in again (ALSA's ``client:port`` address, JACK's ``-01`` client suffix), ignoring
    case; then the first port whose name contains ``wanted`` (ignoring case).
    """
    if wanted in ports:
        return wanted
    w = _normal(wanted)
    if not w:
        return None
    for p in ports:
        if _normal(p) == w:
            return p
    for p in ports:
        if w in _normal(p):
            return p
    return None


# --------------------------------------------------------------------------------------------------------------------
# The input
# --------------------------------------------------------------------------------------------------------------------


class MidiInput:
    """One MIDI input: list ports, open one by name, follow it as it vanishes and returns; yields commands.

    ``api``: :class:`MidiApi` or ``"alsa"`` / ``"jack"``; ``None`` picks ALSA where it exists, else
    JACK (see :func:`open_client`). Raises :class:`MidiUnavailable` (one sentence) when there is no
    MIDI. ``on_command``: called with each :class:`Command` on python-rtmidi's thread; without it,
    commands queue up for :meth:`get`. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        api: MidiApi | str | None = None,
        client_name: str = CLIENT_NAME,
        on_command: Callable[[Command], None] | None = None,
    ) -> None:
        self._api, self._client = open_client(api, client_name)
        self._on_command = on_command
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._lock = threading.RLock()
        self._wanted: str | None = None
        self._current: str | None = None
        self._status = PortStatus(PortState.CLOSED, None, None, "No MIDI input chosen")

    # --- properties ------------------------------------------------------------------------------------------------

    @property
    def api(self) -> MidiApi:
        """The MIDI system in use."""
        return self._api

    @property
    def status(self) -> PortStatus:
        """The current port state, with a one-line message for a status bar."""
        return self._status

    @property
    def port(self) -> str | None:
        """The name of the port being listened to right now (``None`` unless ``OPEN``)."""
        return self._current if self._status.state is PortState.OPEN else None

    # --- ports -----------------------------------------------------------------------------------------------------

    def ports(self) -> list[str]:
        """Names of the input ports there are now (``[]`` if the MIDI system stopped answering)."""
        with self._lock:
            try:
                return list(self._client.get_ports())
            except Exception:  # noqa: BLE001 - e.g. the JACK server went away
                return []

    def open(self, name: str, wait: bool = False) -> PortStatus:
        """Listen to the port named ``name`` (matched by :func:`match_port`); returns the new status.

        If no such port exists: with ``wait`` the state becomes ``WAITING`` (it opens when it
        appears, see :meth:`poll`); without, :class:`PortNotFound` is raised (one sentence) and
        the previous port stays open.
        """
        with self._lock:
            found = match_port(name, self.ports())
            if found is None and not wait:
                raise PortNotFound(self._not_found(name))
            self._close_port()
            self._wanted = name
            if found is not None and self._open_port(found):
                return self._status
            return self._set(PortState.WAITING, f"MIDI input {name!r} is not there; waiting for it to appear")

    def poll(self) -> PortStatus | None:
        """Check the chosen port (call every :data:`POLL_INTERVAL_S`); returns the new status if it changed.

        An open port that is no longer listed becomes ``WAITING``; a waiting port that is listed
        again is reopened (``OPEN``).
        """
        with self._lock:
            if self._wanted is None:
                return None
            before = self._status
            ports = self.ports()
            if self._status.state is PortState.OPEN:
                gone = self._current
                if gone not in ports:
                    self._close_port()
                    self._set(PortState.WAITING, f"MIDI input {gone!r} is gone; waiting for it to come back")
            if self._status.state is PortState.WAITING:
                found = match_port(self._wanted, ports)
                if found is not None:
                    self._open_port(found, reopened=True)
            return self._status if self._status != before else None

    def close_port(self) -> PortStatus:
        """Stop listening (state ``CLOSED``); the object stays usable."""
        with self._lock:
            self._close_port()
            self._wanted = None
            return self._set(PortState.CLOSED, "No MIDI input chosen")

    def close(self) -> None:
        """Release the port and the MIDI client (the object is done after this)."""
        with self._lock:
            if self._client is None:
                return
            self._close_port()
            self._wanted = None
            self._status = PortStatus(PortState.CLOSED, None, None, "MIDI input closed")
            with contextlib.suppress(Exception):
                self._client.cancel_callback()
            with contextlib.suppress(Exception):
                self._client.delete()
            self._client = None

    def __enter__(self) -> MidiInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands --------------------------------------------------------------------------------------------------

    def get(self, timeout: float | None = 0.0) -> Command | None:
        """The next command (only without ``on_command``): wait up to ``timeout`` seconds (``None``: forever)."""
        try:
            if timeout is not None and timeout <= 0:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    # --- internals -------------------------------------------------------------------------------------------------

    def _not_found(self, name: str) -> str:
        ports = self.ports()
        there = ", ".join(repr(p) for p in ports[:8]) + (", ..." if len(ports) > 8 else "")
        return f"MIDI input {name!r} not found on {self._api.label} ({'inputs: ' + there if ports else 'no inputs'})"

    def _set(self, state: PortState, message: str) -> PortStatus:
        current = self._current if state is PortState.OPEN else None
        self._status = PortStatus(state, self._wanted, current, message)
        return self._status

    def _open_port(self, name: str, reopened: bool = False) -> bool:
        ports = self.ports()
        try:
            index = ports.index(name)
            with quiet_stderr():
                self._client.open_port(index, name="in")
            # (re)set on every open: python-rtmidi's close_port cancels the callback
            with contextlib.suppress(Exception):
                self._client.cancel_callback()
            self._client.set_callback(self._on_message)
        except Exception as e:  # noqa: BLE001 - gone between listing and opening, or refused
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            self._set(PortState.WAITING, f"MIDI input {name!r} could not be opened ({first}); will retry")
            return False
        self._current = name
        again = " again" if reopened else ""
        self._set(PortState.OPEN, f"Listening{again} to MIDI input {name!r} ({self._api.label})")
        return True

    def _close_port(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception), quiet_stderr():
                self._client.close_port()
        self._current = None

    def _on_message(self, event: tuple[list[int], float], data: object = None) -> None:
        """python-rtmidi's callback (its thread): translate and deliver; never raises."""
        try:
            command = translate(event[0])
            if command is None:
                return
            if self._on_command is not None:
                self._on_command(command)
            else:
                self._queue.put(command)
        except Exception:  # noqa: BLE001 - an exception here would only be printed by rtmidi's thread
            pass
