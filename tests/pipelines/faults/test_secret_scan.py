"""The leak scanner itself: it must catch a key however it was cut, and allow Stripe's redaction."""

from __future__ import annotations

from .secret_scan import leaks

KEY = "sk_test_51PipelineTestKey7f3Kq9ZxW2mLr8TbN5vJabcd"


def test_stripes_own_redaction_is_not_a_leak() -> None:
    assert leaks([KEY], [("log", "Invalid API Key provided: sk_test_****abcd")]) == []


def test_a_redaction_that_shows_sixteen_trailing_characters_is_a_leak() -> None:
    shown = f"Invalid API Key provided: sk_test_****{KEY[-16:]}"

    assert leaks([KEY], [("log", shown)])


def test_any_eight_characters_of_the_secret_part_are_a_leak() -> None:
    assert leaks([KEY], [("log", "key prefix 51Pipeli...")])
    assert leaks([KEY], [("log", "...Kq9ZxW2m...")])
