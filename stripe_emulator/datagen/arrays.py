"""NumPy helpers without randomness: rows per day, and calendar months on Unix seconds."""

from __future__ import annotations

import numpy as np

Columns = dict[str, np.ndarray]
"""Simulated objects of one kind, column by column (every array one entry per object)."""


def expand(days: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per (day, index < count): the day of each row and its index within the day."""
    day = np.repeat(days, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return day, np.arange(len(day), dtype=np.int64) - starts


def add_months(seconds: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Unix ``seconds`` plus whole months, keeping the day of month (clamped at month end, like billing)."""
    moment = seconds.astype("datetime64[s]")
    day = moment.astype("datetime64[D]")
    month = moment.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    time_of_day = (moment - day.astype("datetime64[s]")).astype(np.int64)
    target = month + months.astype(np.int64)
    first = target.astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
    landed = first + np.minimum(day_of_month, length - 1)
    return landed.astype("datetime64[s]").astype(np.int64) + time_of_day


def whole_months(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """How many whole months fit from ``start`` to ``end`` (Unix seconds), as :func:`add_months` counts."""
    months = (
        end.astype("datetime64[s]").astype("datetime64[M]")
        - start.astype("datetime64[s]").astype("datetime64[M]")
    ).astype(np.int64)
    return np.where(add_months(start, months) > end, months - 1, months)
