"""What can be spoken: the ten digits, and digit strings written the way people write phone numbers.

Pure functions, no torch and no numpy at import time, so the CLI and the app check input before
anything heavy is loaded. This is the one home of :data:`N_DIGITS` and of digit validation.
"""

from __future__ import annotations

N_DIGITS = 10  # the models speak the digits 0-9
MAX_DIGITS = 64  # longest string a render accepts (bounded work)
SEPARATORS = " \t\n\r-()+.,/"  # allowed in phone-number style input; they separate groups


def as_digit(digit: object) -> int:
    """``0``-``9`` as an int from an int (numpy ints too) or a one-character string.

    Raises :class:`ValueError` (one readable sentence) for anything else, booleans included.
    """
    if isinstance(digit, str):
        if len(digit) != 1 or not "0" <= digit <= "9":
            raise ValueError(f"{digit!r} is not a single digit 0-9")
        return int(digit)
    if isinstance(digit, bool) or not hasattr(digit, "__index__"):
        raise ValueError(f"digit must be an integer 0-9, not {digit!r}")
    value = int(digit.__index__())
    if not 0 <= value < N_DIGITS:
        raise ValueError(f"digit must be 0-9, not {value}")
    return value


def parse_digit_groups(text: str, max_digits: int = MAX_DIGITS) -> list[str]:
    """Split phone-number style text into groups of digits: ``"(415) 555-0123"`` -> ``["415", "555", "0123"]``.

    Spaces, tabs, dashes, dots, commas, slashes, parentheses and ``+`` separate groups and are
    dropped. Raises :class:`ValueError` (one readable sentence) for non-text, no digits, any
    other character, or more than ``max_digits`` digits; the check is linear in the input and
    happens before any rendering.
    """
    if not isinstance(text, str):
        raise ValueError(f"digits must be text, not {type(text).__name__}")
    groups: list[str] = []
    current: list[str] = []
    n = 0
    for i, ch in enumerate(text):
        if "0" <= ch <= "9":
            current.append(ch)
            n += 1
        elif ch in SEPARATORS:
            if current:
                groups.append("".join(current))
                current = []
        else:
            shown = text if len(text) <= 24 else text[:20] + "..."
            raise ValueError(f"{shown!r} contains {ch!r} at position {i + 1}; only digits 0-9 can be spoken")
    if current:
        groups.append("".join(current))
    if n == 0:
        raise ValueError("no digits given" if not text.strip() else f"{text[:24]!r} contains no digits")
    if n > max_digits:
        raise ValueError(f"too many digits: {n} given, at most {max_digits} can be spoken at once")
    return groups


def parse_digits(text: str, max_digits: int = MAX_DIGITS) -> str:
    """Validate phone-number style text and return its digits only: ``"+1 (415) 555-0123"`` -> ``"14155550123"``.

    Raises :class:`ValueError` with a readable message for empty input, characters other than
    digits and separators (``"12a"``), or more than ``max_digits`` digits.
    """
    return "".join(parse_digit_groups(text, max_digits))
