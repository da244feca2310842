"""RFC 3339 timestamps of /v2: read with any fraction up to nanoseconds, written with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipelines.stripe.timestamps import from_rfc3339, optional_from_rfc3339, to_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-05T21:02:00.919623613Z", datetime(2026, 10, 5, 21, 2, 0, 919623, tzinfo=UTC)),
        ("2026-10-05T19:00:00.000Z", datetime(2026, 10, 5, 19, tzinfo=UTC)),
        ("2026-10-05T19:00:00Z", datetime(2026, 10, 5, 19, tzinfo=UTC)),
        ("2026-10-05T19:00:00.5z", datetime(2026, 10, 5, 19, 0, 0, 500000, tzinfo=UTC)),
        ("2026-10-05T21:00:00.25+02:00", datetime(2026, 10, 5, 19, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_rfc3339_is_read_as_utc_down_to_microseconds(text, expected):
    moment = from_rfc3339(text)

    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "bad", ["2026-10-05T19:00:00", "2026-10-05", "1780000000", 1780000000, None, "2026-13-05T19:00:00Z"]
)
def test_anything_else_is_refused(bad):
    with pytest.raises(ValueError):
        from_rfc3339(bad)


def test_null_stays_null():
    assert optional_from_rfc3339(None) is None


def test_parameters_are_written_in_utc_with_milliseconds():
    plus_two = timezone(timedelta(hours=2))

    assert to_rfc3339(datetime(2026, 11, 8, tzinfo=UTC)) == "2026-11-08T00:00:00.000Z"
    assert to_rfc3339(datetime(2026, 11, 8, 2, 0, 0, 987654, tzinfo=plus_two)) == "2026-11-08T00:00:00.987Z"
    with pytest.raises(ValueError, match="naive"):
        to_rfc3339(datetime(2026, 11, 8))
