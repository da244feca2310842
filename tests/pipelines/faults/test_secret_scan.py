"""The leak scanner itself: it must catch a key however it was cut, and allow Stripe's redaction."""

from __future__ import annotations

from .secret_scan import leaks

KEY = "sk_test_51Qx7Rk2Zp9Wv4Ty8Lm3Nb6Hd0Fg5Js1Ca2Xe7abcd"


def test_stripes_own_redaction_is_not_a_leak() -> None:
    assert leaks([KEY], [("log", "Invalid API Key provided: sk_test_****abcd")]) == []


def test_a_redaction_that_shows_sixteen_trailing_characters_is_a_leak() -> None:
    shown = f"Invalid API Key provided: sk_test_****{KEY[-16:]}"

    assert leaks([KEY], [("log", shown)])


def test_any_eight_characters_of_the_secret_part_are_a_leak() -> None:
    assert leaks([KEY], [("log", "key prefix 51Qx7Rk2...")])
    assert leaks([KEY], [("log", "...Zp9Wv4Ty...")])
