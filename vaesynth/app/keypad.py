"""The digit keypad: ten buttons in phone layout and a small display of what was spoken.

The keys keep a phone key's proportions at any window size (about 4:3, between a minimum and a
maximum size), centred across the space they are given, rather than stretching into slabs.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

LAYOUT = ("123", "456", "789", " 0 ")
GAP = 6
KEY_ASPECT = 0.78  # height / width
KEY_MIN_W, KEY_MAX_W, KEY_HINT_W = 52, 104, 96
DIGIT_KEYS = {Qt.Key(Qt.Key.Key_0.value + i) for i in range(10)}


def is_digit_key(event: QEvent) -> bool:
    """Whether a key event is a bare digit (number row or numpad), the keypad's keys."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier  # type: ignore[attr-defined]
    return event.key() in DIGIT_KEYS and mods == Qt.KeyboardModifier.NoModifier  # type: ignore[attr-defined]


class _DigitsPassThrough(QObject):
    """Lets digit keys through to the keypad's shortcuts while the watched widget has focus."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.ShortcutOverride and is_digit_key(event):
            event.ignore()  # not for this widget: the window's digit shortcuts take it
            return True
        return False


class _Keys(QWidget):
    """The ten buttons, laid out by hand so they keep their proportions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[str, tuple[QPushButton, int, int]] = {}
        for row, keys in enumerate(LAYOUT):
            for col, key in enumerate(keys):
                if key != " ":
                    self.buttons[key] = (QPushButton(key, self), row, col)

    @staticmethod
    def _size_for(key_w: int) -> QSize:
        return QSize(3 * key_w + 2 * GAP, 4 * round(key_w * KEY_ASPECT) + 3 * GAP)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self._size_for(KEY_HINT_W)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self._size_for(KEY_MIN_W)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        w, h = self.width(), self.height()
        key_w = min((w - 2 * GAP) // 3, int((h - 3 * GAP) / 4 / KEY_ASPECT), KEY_MAX_W)
        key_w = max(key_w, 24)
        key_h = round(key_w * KEY_ASPECT)
        x0 = (w - (3 * key_w + 2 * GAP)) // 2
        y0 = 0
        for b, row, col in self.buttons.values():
            b.setGeometry(x0 + col * (key_w + GAP), y0 + row * (key_h + GAP), key_w, key_h)


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
        self.display.setMinimumWidth(60)
        self._keys = _Keys()
        self.buttons: dict[str, QPushButton] = {}
        for key, (b, _r, _c) in self._keys.buttons.items():
            b.setObjectName("key")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # digit keys belong to the window, not a button
            b.setToolTip(f"Say “{key}” (key {key} or numpad {key})")
            b.clicked.connect(lambda _=False, d=key: self.digit_pressed.emit(d))
            self.buttons[key] = b
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.display)
        layout.addWidget(self._keys, 1)
        self._timers: dict[str, QTimer] = {}
        self._spoken = ""
        self._filter = _DigitsPassThrough(self)

    def add_key_shortcuts(self, window: QWidget) -> None:
        """Digits 0-9 on the number row and the numpad anywhere in ``window`` press the keys."""
        for i in range(10):
            key = Qt.Key(Qt.Key.Key_0.value + i)
            for seq in (QKeySequence(key), QKeySequence(Qt.KeyboardModifier.KeypadModifier | key)):
                sc = QShortcut(seq, window)
                sc.setContext(Qt.ShortcutContext.WindowShortcut)
                sc.activated.connect(lambda d=str(i): self._on_key(d))

    def pass_digits_through(self, widget: QWidget) -> None:
        """Digit keys reach the keypad even while ``widget`` (a spin box, say) has focus."""
        widget.installEventFilter(self._filter)

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

    def show_spoken(self, text: str) -> None:
        """Put ``text`` (digits, or a number as typed) on the display; what does not fit is elided
        at the front, so the end stays visible."""
        self._spoken = text
        self._elide()

    def spoken(self) -> str:
        """What the display says, in full."""
        return self._spoken

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(10, self.display.contentsRect().width() - 4)
        text = QFontMetrics(self.display.font()).elidedText(self._spoken, Qt.TextElideMode.ElideLeft, room)
        self.display.setText(text)
        self.display.setToolTip(self._spoken or "The digits spoken last")

    def set_keys_enabled(self, enabled: bool) -> None:
        for b in self.buttons.values():
            b.setEnabled(enabled)
