"""``python -m training adapt`` in a child process, for "Learn my voice" (no widgets).

:class:`AdaptProcess` starts ``python -m training adapt TAKES --name NAME --progress [--steps N]`` with
``QProcess`` and reads its lines on the GUI thread as they come (no thread of ours waits on it). A
child process rather than a thread: the adaptation is seconds to minutes of torch work that would
hold the GIL and stall the window, a crash there cannot take the window with it, and Cancel is a
plain ``SIGTERM`` (``SIGKILL`` after :data:`KILL_AFTER_MS` if it has not gone), after which the child
removes its half-written staging folder (a hidden one, never listed even if a ``SIGKILL`` leaves it).

The child's protocol: ``progress <fraction 0..1> <text>`` lines on stdout (``warning <text>`` lines
among them, kept in :attr:`AdaptProcess.warnings`), then ``done <bundle folder>`` and exit status 0;
on failure one readable line on stderr (the last line is what is shown) and a non-zero exit status.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Qt, QTimer, Signal

KILL_AFTER_MS = 3000  # Cancel: SIGTERM, then SIGKILL if the child is still there after this
PROG = "vaesynth-train"  # how the child starts its error line (left out of the sentence shown)
MAX_ERR_BYTES = 64 << 10  # what is kept of the child's stderr (its last line is the message)


def sentence(text: str) -> str:
    """``text`` as one sentence: one line, capitalised, ending in a full stop."""
    text = " ".join(str(text).split()) or "Something went wrong"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def adapt_arguments(takes: str | Path, name: str, steps: int | None = None) -> list[str]:
    """The child's command line after the interpreter."""
    args = ["-m", "training", "adapt", str(takes), "--name", name, "--progress"]
    return args + (["--steps", str(int(steps))] if steps else [])


class AdaptProcess(QObject):
    """``python -m training adapt`` in a child process, read line by line on the GUI thread.

    Signals: :attr:`progress` (fraction 0..1, text), :attr:`succeeded` (the new bundle folder),
    :attr:`failed` (one sentence), :attr:`cancelled` (a model made anyway, or ""). Exactly one of the last
    three per :meth:`start`.
    """

    progress = Signal(float, str)
    succeeded = Signal(str)
    failed = Signal(str)
    cancelled = Signal(str)  # the folder of a model the child finished anyway, just before it was stopped ("": none)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self._out = self._err = b""
        self._done = ""
        self._cancelling = False
        self.warnings: list[str] = []
        self._kill = QTimer(self)
        self._kill.setSingleShot(True)
        self._kill.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may fire 5 % early
        self._kill.timeout.connect(self._on_kill_timeout)

    @property
    def running(self) -> bool:
        return self.process is not None

    def start(self, takes: Path, name: str, steps: int | None = None) -> None:
        """Start the child for the takes in ``takes`` (a new model ``name``; ``steps``: a training-steps override)."""
        p = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()  # as it is now (VAESYNTH_USER_MODELS included)
        env.insert("PYTHONUNBUFFERED", "1")
        root = Path(__file__).resolve().parents[2]  # a source checkout: training/ sits beside vaesynth/
        if (root / "training" / "__init__.py").is_file():  # (an installed wheel carries it as a package)
            path = env.value("PYTHONPATH", "")
            env.insert("PYTHONPATH", str(root) + (os.pathsep + path if path else ""))
        p.setProcessEnvironment(env)
        p.readyReadStandardOutput.connect(self._on_stdout)
        p.readyReadStandardError.connect(self._on_stderr)
        p.finished.connect(self._on_finished)
        p.errorOccurred.connect(self._on_error)
        self.process, self._out, self._err, self._done, self._cancelling = p, b"", b"", "", False
        self.warnings: list[str] = []  # what the child warned of (e.g. mixed speakers), as sentences
        p.start(sys.executable, adapt_arguments(takes, name, steps))

    def cancel(self) -> None:
        """Ask the child to stop (``SIGTERM``); ``SIGKILL`` after :data:`KILL_AFTER_MS` if it does not."""
        if self.process is None or self._cancelling:
            return
        self._cancelling = True
        self.process.terminate()
        self._kill.start(KILL_AFTER_MS)

    def stop_now(self) -> None:
        """The window closes: stop the child and wait for it (at most :data:`KILL_AFTER_MS` + 1 s)."""
        p = self.process
        if p is None:
            return
        self._cancelling = True
        p.terminate()
        if not p.waitForFinished(KILL_AFTER_MS):
            p.kill()
            p.waitForFinished(1000)

    def _on_kill_timeout(self) -> None:
        if self.process is not None:
            self.process.kill()

    def _on_stdout(self) -> None:
        if self.process is None:
            return
        self._out += bytes(self.process.readAllStandardOutput().data())
        *lines, self._out = self._out.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").strip())

    def _line(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "progress":
            value, _, text = rest.partition(" ")
            try:
                fraction = float(value)
            except ValueError:
                return
            if not self._cancelling:
                self.progress.emit(min(1.0, max(0.0, fraction)), text.strip())
        elif kind == "done" and rest.strip():
            self._done = rest.strip()
        elif kind == "warning" and rest.strip() and len(self.warnings) < 8:
            self.warnings.append(sentence(rest.strip()[:300]))

    def _on_stderr(self) -> None:
        if self.process is not None:
            self._err = (self._err + bytes(self.process.readAllStandardError().data()))[-MAX_ERR_BYTES:]

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart and self.process is not None:
            text = self.process.errorString()
            self._end()
            self.failed.emit(sentence(f"Could not start the learning: {text}"))

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.process is None:
            return
        self._on_stdout()
        self._on_stderr()
        if self._out.strip():
            self._line(self._out.decode("utf-8", "replace").strip())
        cancelled, done, err = self._cancelling, self._done, self._err
        self._end()
        if cancelled:
            self.cancelled.emit(done if status is QProcess.ExitStatus.NormalExit and code == 0 else "")
        elif status is QProcess.ExitStatus.NormalExit and code == 0 and done:
            self.succeeded.emit(done)
        else:
            lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            why = lines[-1].removeprefix(f"{PROG}: ") if lines else f"the learning stopped (exit status {code})"
            if why.startswith("ModuleNotFoundError: "):  # an install without the training extras
                why = f"learning needs the training extras (pip install 'vaesynth[train]'): {why.partition(': ')[2]}"
            self.failed.emit(sentence(why[:300]))

    def _end(self) -> None:
        self._kill.stop()
        p, self.process = self.process, None
        if p is not None:
            p.deleteLater()
