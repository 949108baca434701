"""MIDI input in the window: pick a port, see its state, play digits from a keyboard.

:class:`MidiPanel` (widgets: the port list, the port's state in words, "Sing from keys", Try again)
and :class:`MidiController` (no widgets of its own): it owns the :class:`vaesynth.midi.midi_ports.MidiInput`,
polls the chosen port every :data:`~vaesynth.midi.midi_ports.POLL_INTERVAL_S` with a ``QTimer`` (a port
that vanishes shows "waiting", one that returns is reopened, the list follows ports that come and
go), and turns commands into the window's own actions: ``NoteOn`` presses a digit (velocity gain;
with "Sing from keys" the key's pitch as the note), ``Retrigger`` says the last digit again,
``KnobMove`` turns a knob, ``NoteOff`` of the sounding key and ``AllNotesOff`` stop the sound.

Commands arrive on python-rtmidi's thread; :attr:`MidiController.command` (a signal connected with
a queued connection) brings them to the GUI thread. Where there is no MIDI at all, the panel shows
the :class:`~vaesynth.midi.midi_ports.MidiUnavailable` sentence and everything else works as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vaesynth.engine.performance import NOTE_RANGE_HZ
from vaesynth.midi.midi import AllNotesOff, KnobMove, NoteOff, NoteOn, Retrigger
from vaesynth.midi.midi_ports import POLL_INTERVAL_S, MidiInput, MidiUnavailable, PortNotFound, PortState, PortStatus

from .theme import restyle

NO_PORT = "(none)"
SING_CONTOUR = 0.3  # share of the natural intonation kept around a key's pitch (as the headless player)


@dataclass(frozen=True)
class MidiActions:
    """What a MIDI command does in the window: ``press(digit, gain, note_hz)``, ``move_knob(index,
    value)``, ``stop()``, ``last_digit()`` (the digit said last, from any source), ``has_f0()``."""

    press: Callable[[str, float, float | None], None]
    move_knob: Callable[[int, float], None]
    stop: Callable[[], None]
    last_digit: Callable[[], str]
    has_f0: Callable[[], bool]


def fold_note(hz: float) -> float:
    """``hz`` moved by whole octaves into the range a held note may take (:data:`NOTE_RANGE_HZ`)."""
    lo, hi = NOTE_RANGE_HZ
    hz = float(hz)
    while hz < lo:
        hz *= 2.0
    while hz > hi:
        hz /= 2.0
    return hz


class MidiPanel(QWidget):
    """The MIDI tab: input port, its state, Sing from keys, Try again (when there is no MIDI)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ports = QComboBox()
        self.ports.setToolTip("The MIDI keyboard or controller to play from")
        self.ports.setMinimumWidth(160)
        self.state = QLabel("MIDI: starting…")
        self.state.setWordWrap(True)
        self.sing = QCheckBox("Sing from &keys")
        self.sing.setToolTip("Each key's pitch becomes the note the digit is sung on (needs the default model)")
        self.retry = QPushButton("Try again")
        self.retry.setToolTip("Look for a MIDI system again (ALSA sequencer or a JACK server)")
        self.help = QLabel(
            "White keys C4..E5 say 0..9; other keys repeat the last digit at their pitch. Velocity sets the "
            "level. CC 1..12 turn knobs 1..12. Releasing the key ends the sound."
        )
        self.help.setObjectName("muted")
        self.help.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Input"))
        row.addWidget(self.ports, 1)
        row.addWidget(self.retry)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.state)
        lay.addWidget(self.sing)
        lay.addWidget(self.help)
        lay.addStretch(1)

    def set_ports(self, names: list[str], chosen: str) -> None:
        """List ``names`` (plus the chosen one while it is away) with ``chosen`` selected; no signal."""
        items = [NO_PORT, *names] + ([chosen] if chosen and chosen not in names else [])
        if [self.ports.itemText(i) for i in range(self.ports.count())] != items:
            self.ports.blockSignals(True)
            self.ports.clear()
            self.ports.addItems(items)
            self.ports.blockSignals(False)
        self.ports.blockSignals(True)
        self.ports.setCurrentIndex(max(0, self.ports.findText(chosen)) if chosen else 0)
        self.ports.blockSignals(False)

    def show_state(self, text: str, ok: bool) -> None:
        self.state.setText(text)
        restyle(self.state, "" if ok else "muted")


class MidiController(QObject):
    """Follows the MIDI input chosen in ``panel`` and plays its commands through ``actions``.

    ``api``: ``None`` (ALSA where there is a sequencer, else JACK), ``"alsa"`` or ``"jack"``;
    ``port``: a port to open (waiting for it if it is not there yet), e.g. from the settings.
    Signals: :attr:`state_changed` (:class:`PortStatus` or ``None`` when there is no MIDI, words),
    :attr:`command` (a command, emitted on rtmidi's thread, handled on the GUI thread).
    """

    state_changed = Signal(object, str)
    command = Signal(object)

    def __init__(
        self,
        panel: MidiPanel,
        actions: MidiActions,
        api: str | None = None,
        port: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.actions, self._api = panel, actions, api
        self.midi: MidiInput | None = None
        self.unavailable = ""
        self.chosen = port
        self._sounding: int | None = None  # the note whose sound plays now
        self.command.connect(self.handle, Qt.ConnectionType.QueuedConnection)
        panel.ports.activated.connect(lambda i: self.choose("" if i <= 0 else panel.ports.itemText(i)))
        panel.retry.clicked.connect(self.start)
        self._timer = QTimer(self)
        self._timer.setInterval(round(POLL_INTERVAL_S * 1000))
        self._timer.timeout.connect(self.poll)

    # --- ports ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the MIDI system (again); say so in the panel where there is none."""
        if self.midi is not None:
            return
        try:
            self.midi = MidiInput(self._api, on_command=self.command.emit)
        except MidiUnavailable as e:
            self.unavailable = str(e)
            self.panel.set_ports([], "")
            self.panel.ports.setEnabled(False)
            self.panel.retry.setVisible(True)
            self._report(None, f"{self.unavailable}. The keypad and everything else work without it.")
            return
        self.unavailable = ""
        self.panel.ports.setEnabled(True)
        self.panel.retry.setVisible(False)
        self._timer.start()
        self.choose(self.chosen, wait=True)

    def choose(self, name: str, wait: bool = False) -> None:
        """Listen to port ``name`` ("" closes); ``wait``: a port not there yet opens when it appears."""
        self.chosen = name
        if self.midi is None:
            return
        try:
            status = self.midi.open(name, wait=wait) if name else self.midi.close_port()
        except PortNotFound as e:
            status = self.midi.close_port()
            self._report(status, str(e))
            return
        finally:
            self.panel.set_ports(self.midi.ports(), self.chosen)
        self._report(status, status.message)

    def poll(self) -> None:
        """Follow the chosen port as it vanishes and returns; keep the list of ports current."""
        if self.midi is None:
            return
        status = self.midi.poll()
        self.panel.set_ports(self.midi.ports(), self.chosen)
        if status is not None:
            self._report(status, status.message)

    @property
    def status(self) -> PortStatus | None:
        return self.midi.status if self.midi is not None else None

    def close(self) -> None:
        self._timer.stop()
        if self.midi is not None:
            self.midi.close()
            self.midi = None

    def _report(self, status: PortStatus | None, text: str) -> None:
        self.panel.show_state(text, status is not None and status.state is PortState.OPEN)
        self.state_changed.emit(status, text)

    # --- commands (GUI thread) -----------------------------------------------------------------

    def handle(self, cmd: object) -> None:
        """Do what ``cmd`` (a :mod:`vaesynth.midi.midi` command) means in the window."""
        if isinstance(cmd, Retrigger):
            cmd = cmd.with_digit(int(self.actions.last_digit() or 0))
        if isinstance(cmd, NoteOn):
            sing = self.panel.sing.isChecked() and self.actions.has_f0()
            self._sounding = cmd.note
            self.actions.press(str(cmd.digit), float(cmd.gain), fold_note(cmd.hz) if sing else None)
        elif isinstance(cmd, KnobMove):
            self.actions.move_knob(cmd.index, cmd.value)
        elif isinstance(cmd, NoteOff):
            if cmd.note == self._sounding:
                self._sounding = None
                self.actions.stop()
        elif isinstance(cmd, AllNotesOff):
            self._sounding = None
            self.actions.stop()
