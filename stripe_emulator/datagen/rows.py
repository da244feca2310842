"""Accumulators that build a column set from several groups of rows with different origins.

Every group gets the columns it does not set from the defaults here, so all groups line up when
they are concatenated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stripe_emulator.datagen.arrays import Columns
from stripe_emulator.datagen.codes import C_ORDER, D_NONE, K_CHARGE
from stripe_emulator.datagen.randomness import key


def _group(defaults: Columns, n: int, columns: dict[str, Any]) -> Columns:
    defaults.update({name: np.broadcast_to(value, (n,)).copy() for name, value in columns.items()})
    return defaults


class ChargeRows:
    """Charges before their outcomes are drawn: who pays what, on which account, and how.

    ``amount`` is fixed in minor units (invoices) or -1, in which case ``amount_usd`` gives the size;
    ``method`` is a fixed payment method (subscriptions) or -1 for one drawn per charge; card details
    are drawn per ``method_key`` so a subscription keeps its card. ``outcome`` forces the attempt
    to succeed (0) or fail (1) where the invoice it pays decided so (-1: drawn per charge);
    ``intent`` is the payload of the PaymentIntent the charge belongs to (retries share one).
    """

    def __init__(self) -> None:
        self._groups: list[Columns] = []

    def add(self, payload: np.ndarray, **columns: Any) -> None:
        """A group of charges with entity payloads ``payload``; ``columns`` are arrays or scalars."""
        n = len(payload)
        defaults: Columns = {
            "payload": payload,
            "account": np.zeros(n, np.int64),
            "customer": np.full(n, -1, np.int64),
            "flavour": np.full(n, C_ORDER, np.int64),
            "invoice": np.zeros(n, np.uint64),
            "subscription": np.zeros(n, np.uint64),
            "amount": np.full(n, -1, np.int64),
            "amount_usd": np.zeros(n),
            "method": np.full(n, -1, np.int64),
            "method_key": key(K_CHARGE, payload),
            "outcome": np.full(n, -1, np.int64),
            "intent": payload.astype(np.uint64),
        }
        self._groups.append(_group(defaults, n, columns))

    def size(self, group: int) -> int:
        """Rows in the ``group``-th group added."""
        return len(self._groups[group]["payload"])

    def concat(self) -> Columns:
        """All groups, in the order they were added."""
        return {name: np.concatenate([g[name] for g in self._groups]) for name in self._groups[0]}


class BalanceRows:
    """Balance transactions of any kind, with what they link to (charge, customer, counterparty…).

    Each group needs ``created``, ``account``, ``currency``, ``amount``, ``type`` and ``category``.
    ``fee`` is the whole fee; ``app_fee`` the part of it that is the platform's application fee.
    """

    def __init__(self) -> None:
        self._groups: list[Columns] = []

    def add(self, kind: int, payload: np.ndarray, **columns: Any) -> None:
        """Transactions of balance transaction ``kind`` (a ``T_*`` code) keyed by ``payload``."""
        n = len(payload)
        defaults: Columns = {
            "kind": np.full(n, kind, np.int64),
            "payload": payload.astype(np.uint64),
            "fee": np.zeros(n, np.int64),
            "app_fee": np.zeros(n, np.int64),
            "source_kind": np.zeros(n, np.int64),
            "source": np.zeros(n, np.uint64),
            "description": np.full(n, D_NONE, np.int64),
            "charge": np.zeros(n, np.uint64),
            "flavour": np.zeros(n, np.int64),
            "order_number": np.zeros(n, np.int64),
            "customer": np.full(n, -1, np.int64),
            "invoice": np.zeros(n, np.uint64),
            "subscription": np.zeros(n, np.uint64),
            "counterparty": np.full(n, -1, np.int64),
            "exchange_rate": np.full(n, np.nan),
            "facing_amount": np.zeros(n, np.int64),
            "facing_currency": np.full(n, -1, np.int64),
        }
        self._groups.append(_group(defaults, n, columns))

    def concat(self) -> Columns:
        """All groups, in the order they were added."""
        return {name: np.concatenate([g[name] for g in self._groups]) for name in self._groups[0]}
