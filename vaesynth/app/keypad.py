"""The digit keypad: ten buttons in phone layout and a small display of what was spoken."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

LAYOUT = ("123", "456", "789", " 0 ")


class Keypad(QWidget):
    """Buttons 0-9; emits :attr:`digit_pressed` with the digit as a one-character string.

    :meth:`add_key_shortcuts` makes the number row and the numpad of a whole window press the
    keys; a key press lights its button like a click does.
    """

    digit_pressed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.display = QLabel("")
        self.display.setObjectName("display")
        self.display.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.display.setMinimumHeight(38)
        self.display.setToolTip("The digits spoken last")
        grid = QGridLayout()
        grid.setSpacing(6)
        self.buttons: dict[str, QPushButton] = {}
        for row, keys in enumerate(LAYOUT):
            for col, key in enumerate(keys):
                if key == " ":
                    continue
                b = QPushButton(key)
                b.setObjectName("key")
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # digit keys belong to the window, not a button
                b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
                b.setToolTip(f"Say “{key}” (key {key} or numpad {key})")
                b.clicked.connect(lambda _=False, d=key: self.digit_pressed.emit(d))
                grid.addWidget(b, row, col)
                self.buttons[key] = b
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.display)
        layout.addLayout(grid, 1)
        self._timers: dict[str, QTimer] = {}

    def add_key_shortcuts(self, window: QWidget) -> None:
        """Digits 0-9 on the number row and the numpad anywhere in ``window`` press the keys."""
        for i in range(10):
            key = Qt.Key(Qt.Key.Key_0.value + i)
            for seq in (QKeySequence(key), QKeySequence(Qt.KeyboardModifier.KeypadModifier | key)):
                sc = QShortcut(seq, window)
                sc.setContext(Qt.ShortcutContext.WindowShortcut)
                sc.activated.connect(lambda d=str(i): self._on_key(d))

    def _on_key(self, digit: str) -> None:
        if self.buttons[digit].isEnabled():
            self.flash(digit)
        self.digit_pressed.emit(digit)

    def flash(self, digit: str) -> None:
        """Show ``digit``'s button pressed for a moment (for keyboard presses)."""
        b = self.buttons.get(digit)
        if b is None:
            return
        b.setDown(True)
        t = self._timers.get(digit)
        if t is None:
            t = QTimer(self)
            t.setSingleShot(True)
            t.setInterval(120)
            t.timeout.connect(lambda b=b: b.setDown(False))
            self._timers[digit] = t
        t.start()

    def show_spoken(self, digits: str) -> None:
        """Put ``digits`` on the display (long strings show their tail)."""
        self.display.setText(digits if len(digits) <= 16 else "…" + digits[-15:])

    def set_keys_enabled(self, enabled: bool) -> None:
        for b in self.buttons.values():
            b.setEnabled(enabled)
