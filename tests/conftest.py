"""Shared test configuration: headless Qt and a real (null) audio output for every test session.

Fixtures offered to all tests:

``pulse`` (session)
    A running PulseAudio server whose default sink is the null sink ``vaesynth_test``. Attributes:
    ``sink_name``, ``monitor_name``, ``start_recording(rate=48000) -> Recorder``; ``Recorder.stop(tail_s=0.2)``
    returns float32 mono samples of what the sink played. Anything played through sounddevice's default
    output device lands there. Analysis helpers live in ``tests/audio_utils.py``.
``no_audio_env`` (function)
    PortAudio re-initialised with no reachable audio server, so ``sounddevice.query_devices()`` is empty,
    the default output device is -1 and opening a stream raises ``sounddevice.PortAudioError``.
    Restored (and re-initialised) afterwards. Do not hold streams open across its boundaries.
``qtbot`` / ``qapp``
    From pytest-qt; ``QT_QPA_PLATFORM=offscreen`` is set here so no display is needed.

The server is started in ``pytest_configure``, before any test module can ``import sounddevice``, because
PortAudio reads its device list once at initialisation. Set ``VAESYNTH_REQUIRE_AUDIO=1`` (``scripts/test.sh``
does) to turn "no PulseAudio" into an error instead of a skip.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# personal models (vaesynth-train adapt) of the person running the tests never show in them; a test that
# makes one points VAESYNTH_USER_MODELS at its own folder
if "VAESYNTH_USER_MODELS" not in os.environ:
    import tempfile

    os.environ["VAESYNTH_USER_MODELS"] = os.path.join(tempfile.mkdtemp(prefix="vaesynth-user-models-"), "models")

sys.path.insert(0, os.path.dirname(__file__))  # make `import audio_utils` work under any --import-mode

from audio_utils import PulseServer, PulseUnavailable  # noqa: E402

_pulse: PulseServer | None = None
_pulse_error: str | None = None


def _require_audio() -> bool:
    return os.environ.get("VAESYNTH_REQUIRE_AUDIO", "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    global _pulse, _pulse_error
    try:
        _pulse = PulseServer.ensure()
    except PulseUnavailable as exc:
        _pulse_error = str(exc)
        if _require_audio():
            raise pytest.UsageError(f"VAESYNTH_REQUIRE_AUDIO is set but PulseAudio is unavailable: {exc}") from exc


def pytest_unconfigure(config: pytest.Config) -> None:
    # Keep the server for other pytest-xdist workers; stop it only from the process that may own it.
    if _pulse is not None and "PYTEST_XDIST_WORKER" not in os.environ:
        _pulse.close()


def pytest_report_header(config: pytest.Config) -> str:
    if _pulse is None:
        return f"audio: PulseAudio unavailable ({_pulse_error})"
    how = "started by the tests" if _pulse.started_server else "already running"
    return f"audio: PulseAudio {how}, default sink {_pulse.sink_name}; Qt platform {os.environ['QT_QPA_PLATFORM']}"


def _reinit_portaudio() -> None:
    """Make PortAudio re-read its device list (only needed when the environment changed after its import)."""
    import sounddevice as sd

    from vaesynth.sound.audio import close_all

    close_all()  # Pa_Terminate with a stream still running (a test's last sound) can hang
    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="session")
def pulse() -> PulseServer:
    """The PulseAudio server with the ``vaesynth_test`` null sink as default sink (see module docstring)."""
    if _pulse is None:
        msg = f"PulseAudio test server unavailable: {_pulse_error}"
        if _require_audio():
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        import sounddevice as sd
    except OSError as exc:  # libportaudio2 missing
        if _require_audio():
            pytest.fail(f"sounddevice cannot load PortAudio: {exc}")
        pytest.skip(f"sounddevice cannot load PortAudio: {exc}")
    if sd.default.device[1] < 0:  # PortAudio was initialised before the server was up
        _reinit_portaudio()
    return _pulse


@pytest.fixture
def no_audio_env() -> Iterator[None]:
    """No output device: PortAudio re-initialised while the PulseAudio server is unreachable."""
    try:
        import sounddevice as sd
    except OSError:
        yield  # no PortAudio at all is "no output device" already
        return
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = "unix:/nonexistent/vaesynth-no-audio"
    _reinit_portaudio()
    try:
        if any(dev["max_output_channels"] > 0 for dev in sd.query_devices()):
            pytest.skip("this host has audio hardware besides PulseAudio; cannot simulate 'no device'")
        yield
    finally:
        if saved is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = saved
        _reinit_portaudio()


@pytest.fixture
def run(capsys):  # noqa: ANN001, ANN201 - pytest fixtures
    """Run the ``vaesynth`` command line in-process: ``run(*argv) -> (exit status, stdout, stderr lines)``."""
    from vaesynth.cli import cli

    def _run(*argv: str) -> tuple[int, str, list[str]]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, [line for line in err.splitlines() if line.strip()]

    return _run
