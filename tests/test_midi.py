"""vaesynth.midi.midi and the headless ``vaesynth midi`` player, for real without hardware.

A JACK server with the dummy driver runs in user space for this module (``jackd`` from the Debian
package jackd2, which scripts/setup.sh installs); python-rtmidi's JACK API gives the tests a
virtual MIDI output port (a stand-in keyboard) that :class:`vaesynth.midi.midi_ports.MidiInput` listens to.
Without ``jackd`` those tests skip, saying so. The end-to-end test records the PulseAudio null sink
(``pulse`` fixture) while the player, a subprocess on the shipped default model, sings notes sent
through that port. No assertion here depends on how fast anything is.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from jack_utils import Keyboard
from jack_utils import jack_server as jack_server_running

from vaesynth.cli import cli
from vaesynth.engine.performance import NOTE_RANGE_HZ
from vaesynth.midi import midi_ports
from vaesynth.midi.midi import (
    DIGIT_NOTES,
    AllNotesOff,
    KnobMove,
    NoteOff,
    NoteOn,
    Retrigger,
    cc_to_knob,
    note_to_hz,
    translate,
    velocity_to_gain,
)
from vaesynth.midi.midi_player import SING_CONTOUR, MidiPlayer
from vaesynth.midi.midi_ports import MidiInput, MidiUnavailable, PortNotFound, PortState, match_port

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "resources" / "models" / "cvae"
WAIT_S = 10.0  # upper bound for something to happen (never a measurement)


def wait_for(predicate, what: str, timeout: float = WAIT_S):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------------------------------
# The mapping (pure)
# --------------------------------------------------------------------------------------------------------------------


def test_white_keys_from_c4_say_the_digits() -> None:
    assert DIGIT_NOTES == (60, 62, 64, 65, 67, 69, 71, 72, 74, 76)  # C4 D4 E4 F4 G4 A4 B4 C5 D5 E5
    for digit, note in enumerate(DIGIT_NOTES):
        cmd = translate([0x90, note, 100])
        assert cmd == NoteOn(digit, note, 100, channel=0)
    on = translate([0x93, 69, 127])  # channel 4, A4
    assert on == NoteOn(5, 69, 127, channel=3)
    assert on.hz == pytest.approx(440.0)
    assert translate([0x90, 60, 1]).hz == pytest.approx(261.6256, abs=1e-3)
    assert note_to_hz(72) == pytest.approx(2 * note_to_hz(60))


@pytest.mark.parametrize("note", [61, 63, 66, 68, 70, 73, 75, 59, 77, 21, 108])
def test_other_keys_retrigger_the_last_digit_at_their_pitch(note: int) -> None:
    cmd = translate([0x90, note, 90])
    assert cmd == Retrigger(note, 90)
    assert cmd.hz == pytest.approx(440.0 * 2 ** ((note - 69) / 12))
    assert cmd.with_digit(7) == NoteOn(7, note, 90)


def test_note_off_and_note_on_with_velocity_zero_end_the_note() -> None:
    assert translate([0x80, 64, 40]) == NoteOff(64)
    assert translate([0x9F, 61, 0]) == NoteOff(61, channel=15)


def test_velocity_is_a_square_law_gain() -> None:
    assert velocity_to_gain(127) == 1.0
    assert velocity_to_gain(0) == 0.0
    assert 20 * np.log10(velocity_to_gain(64)) == pytest.approx(-11.9, abs=0.1)
    gains = [velocity_to_gain(v) for v in range(128)]
    assert all(b > a for a, b in zip(gains, gains[1:], strict=False))
    assert translate([0x90, 60, 32]).gain == pytest.approx((32 / 127) ** 2)


def test_cc_1_to_12_move_knobs_0_to_11_in_standard_units() -> None:
    for cc in range(1, 13):
        assert translate([0xB0, cc, 127]) == KnobMove(cc - 1, 3.0, cc)
    assert cc_to_knob(0) == -3.0 and cc_to_knob(64) == 0.0 and cc_to_knob(127) == 3.0
    values = [cc_to_knob(v) for v in range(128)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert translate([0xB2, 5, 32]) == KnobMove(4, -1.5, 5, channel=2)
    assert translate([0xB0, 0, 64]) is None  # bank select
    assert translate([0xB0, 13, 64]) is None
    assert translate([0xB0, 123, 0]) == AllNotesOff()
    assert translate([0xB1, 120, 0]) == AllNotesOff(channel=1)


@pytest.mark.parametrize(
    "data",
    [[], [0x90], [0x90, 60], [0xF8], [0xFE], [0xE0, 0, 64], [0xC0, 5], [0xF0, 1, 2, 0xF7], [300, 1, 2], "xyz"],
)
def test_other_and_malformed_messages_mean_nothing(data) -> None:
    assert translate(data) is None


def test_commands_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        NoteOn(1, 62, 100).digit = 2  # type: ignore[misc]


def test_ports_are_matched_across_replugging() -> None:
    alsa = ["Midi Through:Midi Through Port-0 14:0", "Keystation 49:Keystation 49 MIDI 1 28:0"]
    assert match_port("Keystation 49:Keystation 49 MIDI 1 28:0", alsa) == alsa[1]
    assert match_port("Keystation 49:Keystation 49 MIDI 1 24:0", alsa) == alsa[1]  # new ALSA address
    assert match_port("keystation", alsa) == alsa[1]
    assert match_port("vkeys:keys", ["vkeys-01:keys"]) == "vkeys-01:keys"  # JACK renamed the client
    assert match_port("nanoKONTROL", alsa) is None
    assert match_port("  ", alsa) is None


# --------------------------------------------------------------------------------------------------------------------
# No MIDI on the system
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_midi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither an ALSA sequencer nor a reachable JACK server (whatever this machine has)."""
    monkeypatch.setattr(midi_ports, "ALSA_SEQ_DEVICE", "/nonexistent/snd/seq")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"vaesynth_no_such_server_{os.getpid()}")


def test_no_midi_is_one_sentence_and_nothing_else(no_midi, capfd: pytest.CaptureFixture[str]) -> None:
    for api, expected in [
        (None, "No MIDI on this system: no ALSA sequencer (/nonexistent/snd/seq is missing) and no JACK server"),
        ("alsa", "ALSA MIDI is unavailable: there is no sequencer device /nonexistent/snd/seq"),
        ("jack", "JACK MIDI is unavailable: no JACK server is running"),
    ]:
        with pytest.raises(MidiUnavailable) as e:
            MidiInput(api)
        assert str(e.value).startswith(expected)
        assert "\n" not in str(e.value)
        with pytest.raises(MidiUnavailable):
            midi_ports.list_input_ports(api)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # libjack's and libasound's own complaints are kept out of the terminal
    with pytest.raises(ValueError, match="unknown MIDI API 'coremidi'"):
        MidiInput("coremidi")


@pytest.mark.parametrize("args", [["midi", "--list"], ["midi", "--port", "keys"], ["midi", "--api", "jack"]])
def test_cli_midi_without_midi_is_one_line_and_exit_2(no_midi, capfd, args: list[str]) -> None:
    assert cli.main(args) == cli.EXIT_USAGE
    out, err = capfd.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("vaesynth: error: ") and "MIDI" in err


def test_cli_midi_rejects_a_bad_contour(capfd) -> None:
    assert cli.main(["midi", "--port", "x", "--contour", "2"]) == cli.EXIT_USAGE
    assert "--contour must be between 0 and 1" in capfd.readouterr().err


# --------------------------------------------------------------------------------------------------------------------
# The player's logic, with a stand-in synth and audio output
# --------------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FakeRender:
    wave: np.ndarray
    sample_rate: int


class FakeSynth:
    latent_dim = 12
    sample_rate = 8000
    has_f0 = True

    def __init__(self) -> None:
        self.calls: list[tuple[int, np.ndarray, object]] = []

    def render_digit(self, digit, knobs, performance):
        self.calls.append((digit, np.array(knobs), performance))
        return FakeRender(np.full(800, 0.5 + digit / 100, dtype=np.float32), 8000)


class FakeAudio:
    available = True
    status = "ok"

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def play(self, wave, sample_rate) -> bool:
        self.events.append(("play", float(np.max(wave)), sample_rate))
        return True

    def stop(self) -> None:
        self.events.append(("stop",))


@pytest.fixture
def fakes() -> tuple[FakeSynth, FakeAudio]:
    return FakeSynth(), FakeAudio()


def test_player_speaks_notes_with_velocity_gain_and_retriggers(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio)
    player.handle(NoteOn(3, 65, 127))
    player.handle(Retrigger(61, 64))
    assert [c[0] for c in synth.calls] == [3]  # the re-trigger reused the render (same digit, knobs, no pitch)
    assert synth.calls[0][2] == midi_natural()
    assert audio.events == [("play", pytest.approx(0.53), 8000), ("play", pytest.approx(0.53 * (64 / 127) ** 2), 8000)]
    assert [(p.digit, p.note, p.hz) for p in player.played] == [(3, 65, None), (3, 61, None)]
    assert player.played[1].cached and not player.played[0].cached


def midi_natural():
    from vaesynth.engine.performance import NATURAL

    return NATURAL


def test_player_sings_on_the_keys_pitch(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio, sing=True)
    player.handle(NoteOn(0, 60, 100))
    player.handle(Retrigger(57, 100))  # A3: digit 0 again, at 220 Hz
    player.handle(Retrigger(108, 100))  # C8 (4186 Hz) is folded down by octaves into the note range
    perfs = [c[2] for c in synth.calls]
    assert [c[0] for c in synth.calls] == [0, 0, 0]
    assert perfs[0].note_hz == pytest.approx(261.6256, abs=1e-3) and perfs[0].contour == SING_CONTOUR == 0.3
    assert perfs[1].note_hz == pytest.approx(220.0)
    assert NOTE_RANGE_HZ[0] <= perfs[2].note_hz <= NOTE_RANGE_HZ[1]
    assert perfs[2].note_hz == pytest.approx(note_to_hz(108) / 8)  # three octaves down: still a C


def test_player_note_off_ends_only_the_sounding_key(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio)
    player.handle(NoteOn(1, 62, 100))
    player.handle(NoteOn(2, 64, 100))
    player.handle(NoteOff(62))  # an older key: the newer sound keeps playing
    assert [e[0] for e in audio.events] == ["play", "play"]
    player.handle(NoteOff(64))
    player.handle(NoteOff(64))  # twice: nothing left to end
    assert [e[0] for e in audio.events] == ["play", "play", "stop"]
    player.handle(NoteOn(2, 64, 100))
    player.handle(AllNotesOff())
    assert [e[0] for e in audio.events][-2:] == ["play", "stop"]


def test_player_one_shot_ignores_key_releases(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio, one_shot=True)
    player.handle(NoteOn(1, 62, 100))
    player.handle(NoteOff(62))
    assert [e[0] for e in audio.events] == ["play"]


def test_player_knob_moves_change_the_voice_of_later_notes(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio)
    player.handle(NoteOn(4, 67, 100))
    player.handle(KnobMove(2, 1.5, 3))
    player.handle(KnobMove(11, -3.0, 12))
    player.handle(KnobMove(12, 3.0, 13))  # beyond the model's 12 knobs: ignored
    player.handle(NoteOn(4, 67, 100))
    assert len(synth.calls) == 2  # new knobs: rendered again, not taken from the cache
    np.testing.assert_array_equal(synth.calls[0][1], np.zeros(12))
    expected = np.zeros(12)
    expected[2], expected[11] = 1.5, -3.0
    np.testing.assert_array_equal(synth.calls[1][1], expected)


def test_player_plays_only_the_newest_of_keys_that_arrived_together(fakes) -> None:
    synth, audio = fakes
    player = MidiPlayer(synth, audio)
    player.handle_batch([NoteOn(1, 62, 100), KnobMove(0, 1.0, 1), NoteOn(8, 74, 100), Retrigger(61, 100)])
    assert [c[0] for c in synth.calls] == [8]  # the re-trigger says the last digit pressed, 8
    assert synth.calls[0][1][0] == 1.0
    assert [p.note for p in player.played] == [61]


# --------------------------------------------------------------------------------------------------------------------
# Real MIDI through a JACK server (dummy driver)
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private JACK server (dummy driver) for this module; its name (``tests/jack_utils.py``)."""
    with jack_server_running(f"vaesynth_test_{os.getpid()}", tmp_path_factory.mktemp("jack")) as name:
        yield name


@pytest.fixture
def jack(jack_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """JACK_DEFAULT_SERVER set to the test server for this test; the server's name."""
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server)
    return jack_server


@pytest.fixture
def keyboard(jack: str) -> Iterator[Keyboard]:
    kb = Keyboard()
    yield kb
    kb.unplug()


def connected(m: MidiInput, kb: Keyboard) -> None:
    """Wait until messages from ``kb`` reach ``m``, then drain: JACK makes a new connection live a cycle or more
    after ``open`` returns (a real keyboard's first key press comes later than that anyway)."""
    deadline = time.monotonic() + WAIT_S
    while m.get(timeout=0.05) != KnobMove(11, 0.0, 12):  # CC 12 at its centre: a harmless probe
        if time.monotonic() > deadline:
            pytest.fail(f"messages from {kb.name} never arrived")
        kb.send(0xB0, 12, 64)
    while m.get(timeout=0.1) is not None:
        pass


def receive(m: MidiInput, n: int) -> list:
    got = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < n and time.monotonic() < deadline:
        cmd = m.get(timeout=0.1)
        if cmd is not None:
            got.append(cmd)
    return got


def test_jack_ports_are_listed_and_messages_arrive_as_commands(keyboard: Keyboard) -> None:
    assert keyboard.name in midi_ports.list_input_ports("jack")
    with MidiInput("jack") as m:
        assert m.api is midi_ports.MidiApi.JACK
        assert m.status.state is PortState.CLOSED
        status = m.open("VKEYS")  # a part of the name, any case
        assert status.state is PortState.OPEN and status.current == keyboard.name and m.port == keyboard.name
        connected(m, keyboard)
        keyboard.note_on(60, 127)  # C4: 0
        keyboard.note_on(76, 20, channel=9)  # E5: 9
        keyboard.note_on(70, 64)  # A#4: re-trigger
        keyboard.send(0xB0, 7, 0)  # CC 7 -> knob 6 at -3
        keyboard.send(0xF8)  # clock: ignored
        keyboard.send(0xB0, 64, 127)  # sustain pedal: not mapped
        keyboard.note_off(60)
        keyboard.note_on(62, 0)  # velocity 0 = off
        keyboard.send(0xB0, 123, 0)
        expected = [
            NoteOn(0, 60, 127),
            NoteOn(9, 76, 20, channel=9),
            Retrigger(70, 64),
            KnobMove(6, -3.0, 7),
            NoteOff(60),
            NoteOff(62),
            AllNotesOff(),
        ]
        assert receive(m, len(expected)) == expected
        assert m.get(timeout=0.2) is None


def test_commands_can_be_delivered_by_callback(keyboard: Keyboard) -> None:
    got: list = []
    done = threading.Event()

    def on_command(cmd) -> None:
        got.append((cmd, threading.current_thread() is threading.main_thread()))
        done.set()

    with MidiInput("jack", on_command=on_command) as m:
        m.open(keyboard.name)
        deadline = time.monotonic() + WAIT_S
        while not done.wait(0.05):  # repeated until the new connection is live
            assert time.monotonic() < deadline, "no command arrived"
            keyboard.send(0xB0, 1, 64)
        assert got and all(g == (KnobMove(0, 0.0, 1), False) for g in got)  # on rtmidi's thread
        assert m.get(timeout=0.1) is None  # nothing queued as well


def test_a_port_that_vanishes_and_returns_is_reopened(jack: str) -> None:
    kb = Keyboard("vanishing", "out")
    with MidiInput("jack") as m:
        m.open(kb.name)
        connected(m, kb)
        kb.note_on(64)
        assert receive(m, 1) == [NoteOn(2, 64, 100)]
        kb.unplug()
        gone = wait_for(m.poll, "the unplugged port to be noticed")
        assert gone.state is PortState.WAITING and gone.port == kb.name and gone.current is None
        assert "gone" in gone.message and m.port is None
        assert m.poll() is None  # no change: nothing to report
        kb = Keyboard("vanishing", "out")
        try:
            back = wait_for(m.poll, "the returning port to be reopened")
            assert back.state is PortState.OPEN and match_port(kb.name, [back.current]) == back.current
            assert "again" in back.message
            connected(m, kb)
            kb.note_on(67, 90)
            assert receive(m, 1) == [NoteOn(4, 67, 90)]
        finally:
            kb.unplug()


def test_a_missing_port_is_one_sentence_or_awaited(keyboard: Keyboard) -> None:
    with MidiInput("jack") as m:
        with pytest.raises(PortNotFound) as e:
            m.open("nanoKONTROL")
        assert str(e.value) == f"MIDI input 'nanoKONTROL' not found on JACK (inputs: {keyboard.name!r})"
        assert m.status.state is PortState.CLOSED
        waiting = m.open("later:keys", wait=True)
        assert waiting.state is PortState.WAITING and "waiting for it to appear" in waiting.message
        late = Keyboard("later", "keys")
        try:
            opened = wait_for(m.poll, "a port that appears after it was chosen")
            assert opened.state is PortState.OPEN and match_port("later:keys", [opened.current]) == opened.current
            connected(m, late)
            late.note_on(72)
            assert receive(m, 1) == [NoteOn(7, 72, 100)]
        finally:
            late.unplug()
        assert m.close_port().state is PortState.CLOSED
        assert m.poll() is None


def test_cli_midi_lists_ports_and_names_a_missing_one(keyboard: Keyboard, capfd) -> None:
    assert cli.main(["midi", "--list", "--api", "jack"]) == cli.EXIT_OK
    out, err = capfd.readouterr()
    assert keyboard.name in out.splitlines() and err == ""
    assert cli.main(["midi", "--port", "nanoKONTROL"]) == cli.EXIT_USAGE
    out, err = capfd.readouterr()
    assert err.strip() == f"vaesynth: error: MIDI input 'nanoKONTROL' not found on JACK (inputs: {keyboard.name!r})"
    assert cli.main(["midi"]) == cli.EXIT_USAGE
    assert "choose a MIDI input with --port NAME" in capfd.readouterr().err


# --------------------------------------------------------------------------------------------------------------------
# End to end: keyboard -> JACK -> `vaesynth midi --sing` -> PulseAudio null sink
# --------------------------------------------------------------------------------------------------------------------


def sounds(x: np.ndarray, rate: int, threshold_db: float = -40.0, min_gap_s: float = 0.15) -> list[tuple[int, int]]:
    """``(start, end)`` sample spans of the sounds in ``x``: 10 ms frames above ``threshold_db`` dBFS, gaps merged."""
    hop = rate // 100
    n = len(x) // hop
    level = np.sqrt(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    active = level > 10 ** (threshold_db / 20)
    spans: list[list[int]] = []
    for i in np.flatnonzero(active):
        if spans and i - spans[-1][1] <= min_gap_s * 100:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return [(a * hop, b * hop) for a, b in spans if b - a >= 5]


def median_f0(x: np.ndarray, rate: int) -> float:
    """Median YIN f0 (Hz) over the loud frames of ``x`` (within 10 dB of its loudest 2048-sample frame)."""
    librosa = pytest.importorskip("librosa")
    frame = 2048
    f0 = librosa.yin(x, fmin=50, fmax=800, sr=rate, frame_length=frame, trough_threshold=0.1)
    rms = librosa.feature.rms(y=x, frame_length=frame, hop_length=frame // 4)[0]
    n = min(len(f0), len(rms))
    loud = rms[:n] > rms[:n].max() * 10 ** (-10 / 20)
    return float(np.median(f0[:n][loud]))


def exit_code(proc: subprocess.Popen) -> int:
    """``proc``'s exit status within WAIT_S s, else fail with its threads' stacks (py-spy, where installed).
    (A player that did not stop on Ctrl+C, seen twice, was a test run started in the background, whose
    ignored SIGINT the player inherited; the test now restores it in the player.)"""
    try:
        return proc.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        spy = Path(sys.executable).with_name("py-spy")
        stacks = "(no py-spy beside this Python: no stacks)"
        if spy.is_file():
            dump = [str(spy), "dump", "--pid", str(proc.pid)]
            done = subprocess.run(dump, capture_output=True, text=True, timeout=30)
            stacks = done.stdout + done.stderr
        pytest.fail(f"the player did not exit within {WAIT_S} s of Ctrl+C; its threads:\n{stacks}")


def test_player_sings_notes_from_a_midi_keyboard_through_the_sink(pulse, jack: str) -> None:
    if not (DEFAULT_MODEL / "weights.safetensors").is_file():
        pytest.skip(f"the shipped default model is missing ({DEFAULT_MODEL})")
    kb = Keyboard("e2e", "keys")
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack)
    cmd = [sys.executable, "-m", "vaesynth", "midi", "--port", kb.name, "--api", "jack", "--sing"]
    proc = subprocess.Popen(
        [*cmd, "--model", str(DEFAULT_MODEL)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl+C as a terminal delivers it: a test run started as a background job (`pytest … &` in a
        # script) ignores SIGINT, the player would inherit that and never see the SIGINT sent below
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_for(lambda: lines or proc.poll() is not None, "the player to start", timeout=60)
        assert proc.poll() is None, proc.stderr.read()
        assert lines[0].startswith(f"Listening to MIDI input {kb.name!r} (JACK): singing (contour 0.3)"), lines
        recorder = pulse.start_recording()
        # (note, velocity, seconds held, seconds of silence after): a sung digit lasts about 0.5 s
        presses = [(60, 127, 0.8, 0.4), (62, 127, 0.8, 0.4), (61, 64, 0.8, 0.4), (60, 127, 0.12, 0.6)]
        for note, velocity, held, after in presses:
            kb.note_on(note, velocity)
            time.sleep(held)
            kb.note_off(note)
            time.sleep(after)
        x = recorder.stop()
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        assert exit_code(proc) == 130, lines
        # nothing from the player; ALSA's own note about an output underrun (a loaded machine) may appear
        noise = [line for line in proc.stderr.read().splitlines() if not re.match(r"ALSA lib .*underrun", line)]
        assert noise == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kb.unplug()
    rate = 48000
    spans = sounds(x, rate)
    assert len(spans) == len(presses), f"expected {len(presses)} sounds, heard {len(spans)} at {spans}"
    # C4 says 0, D4 says 1, C#4 re-triggers 1: each sung within 3% of its key's pitch
    for (a, b), note in zip(spans[:3], (60, 62, 61), strict=True):
        f0 = median_f0(x[a:b], rate)
        assert f0 == pytest.approx(note_to_hz(note), rel=0.03), f"note {note}: sung at {f0:.1f} Hz"
    # velocity 64 plays (64/127)^2 of full level: -11.9 dB against the same digit at 127
    peaks = [float(np.max(np.abs(x[a:b]))) for a, b in spans]
    assert 20 * np.log10(peaks[2] / peaks[1]) == pytest.approx(-11.9, abs=2.0), f"peaks {peaks}"
    # a key released after 0.12 s ends its sound early (the same digit held sounds in full)
    assert (spans[3][1] - spans[3][0]) < 0.75 * (spans[0][1] - spans[0][0]), f"sounds at {spans} (samples)"
