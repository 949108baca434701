"""What can be spoken: digit validation and phone-number style strings (vaesynth.digits)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vaesynth.digits import N_DIGITS, as_digit, parse_digit_groups, parse_digits


@pytest.mark.parametrize(
    ("text", "digits"),
    [("0", "0"), ("4155550123", "4155550123"), ("+1 (415) 555-0123", "14155550123"), (" 12 34 ", "1234")],
)
def test_parse_digits_accepts_phone_numbers(text: str, digits: str) -> None:
    assert parse_digits(text) == digits


def test_parse_digit_groups() -> None:
    assert parse_digit_groups("(415) 555-0123") == ["415", "555", "0123"]
    assert parse_digit_groups("12") == ["12"]


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "no digits"), ("  - ", "no digits"), ("12a", "'a' at position 3"), ("1.5e3", "'e'"), ("٣", "only digits")],
)
def test_parse_digits_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_digits(text)


def test_parse_digits_bounds_the_work() -> None:
    assert parse_digits("1" * 64) == "1" * 64
    with pytest.raises(ValueError, match="too many digits: 65"):
        parse_digits("1" * 65)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="100000 given"):
        parse_digits("7" * 100_000)
    assert time.perf_counter() - t0 < 0.5
    with pytest.raises(ValueError, match="must be text"):
        parse_digits(12)  # type: ignore[arg-type]




def test_as_digit() -> None:
    assert [as_digit(d) for d in ("0", "9", 3, np.int64(7))] == [0, 9, 3, 7]
    for bad in (10, -1, "12", "", "a", 1.5, True, None):
        with pytest.raises(ValueError):
            as_digit(bad)
    assert N_DIGITS == 10
