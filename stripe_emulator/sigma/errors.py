"""The error a Sigma query run fails with."""

from __future__ import annotations

__all__ = ["SigmaSqlError"]


class SigmaSqlError(Exception):
    """A Sigma query that cannot run; the message says why, in terms of the query that was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
