"""Stripe-looking ids for the generated entities (the SQL macro ``stripe_raw.sid`` renders the same)."""

from __future__ import annotations

import numpy as np

from stripe_emulator.datagen.randomness import Draws

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def stripe_id(prefix: str, number: int) -> str:
    """A Stripe-looking id for a 64-bit number; the SQL macro ``stripe_raw.sid`` gives the same text."""
    return f"{prefix}1{_base36(number >> 32)}{_base36(number & 0xFFFFFFFF).lower()}"


def _base36(value: int) -> str:
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = _B36[digit] + digits
    return digits.rjust(7, "0")


def entity_number(seed: int, kind: int, payload: int) -> int:
    """The number behind the id of entity ``payload`` of ``kind`` for ``seed`` (see :func:`stripe_id`)."""
    return int(Draws(seed).id(kind, np.array([payload], dtype=np.uint64))[0])
