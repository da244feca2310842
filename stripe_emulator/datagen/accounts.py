"""The platform and its connected accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from stripe_emulator.datagen.codes import K_ACCOUNT
from stripe_emulator.datagen.ids import stripe_id
from stripe_emulator.datagen.randomness import Draws
from stripe_emulator.datagen.reference import CONNECTED_TEMPLATES, HISTORY_DAYS, PLATFORM_TIMEZONE
from stripe_emulator.timestamps import unix


@dataclass(frozen=True)
class Account:
    """A Stripe account in the generated data: the platform (index 0) or one of its connected accounts."""

    id: str
    index: int
    name: str
    country: str
    default_currency: str
    timezone: str
    email: str
    type: str
    created: datetime
    payout_interval: str
    payout_weekly_anchor: str | None
    payout_delay_days: int
    application_fee_rate: float

    @property
    def created_day(self) -> int:
        """The day (since the Unix epoch, UTC) the account was created: its activity starts then."""
        return unix(self.created) // 86_400

    def to_stripe(self) -> dict[str, Any]:
        """The account as Stripe's ``account`` API object."""
        schedule: dict[str, Any] = {"delay_days": self.payout_delay_days, "interval": self.payout_interval}
        if self.payout_weekly_anchor:
            schedule["weekly_anchor"] = self.payout_weekly_anchor
        return {
            "id": self.id,
            "object": "account",
            "business_profile": {"mcc": "5734", "name": self.name, "support_email": self.email, "url": None},
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": self.country,
            "created": unix(self.created),
            "default_currency": self.default_currency,
            "details_submitted": True,
            "email": self.email,
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "dashboard": {"display_name": self.name, "timezone": self.timezone},
                "payouts": {"debit_negative_balances": True, "schedule": schedule},
            },
            "type": self.type,
        }


def make_accounts(draws: Draws, first_day: int, n_connected: int) -> list[Account]:
    """The platform, then ``n_connected`` accounts made from the templates in turn.

    Past the first round of templates names get a number (``#2``...). ``first_day`` (days since the
    epoch) is the first day the Reporting API offers; the platform was created a month before its
    history began, ``HISTORY_DAYS`` earlier, and connected accounts joined it since.
    """
    numbers = draws.id(K_ACCOUNT, np.arange(n_connected + 1))
    base = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=first_day)
    accounts = [
        Account(
            id=stripe_id("acct_", int(numbers[0])),
            index=0,
            name="Acme Cloud Inc.",
            country="US",
            default_currency="usd",
            timezone=PLATFORM_TIMEZONE,
            email="finance@acme-cloud.example",
            type="standard",
            created=base - timedelta(days=HISTORY_DAYS + 30),
            payout_interval="daily",
            payout_weekly_anchor=None,
            payout_delay_days=2,
            application_fee_rate=0.0,
        )
    ]
    for i in range(n_connected):
        name, country, currency, tz, interval, anchor, delay, kind, fee = CONNECTED_TEMPLATES[
            i % len(CONNECTED_TEMPLATES)
        ]
        if i >= len(CONNECTED_TEMPLATES):
            name = f"{name} #{i // len(CONNECTED_TEMPLATES) + 1}"
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:18]
        accounts.append(
            Account(
                id=stripe_id("acct_", int(numbers[i + 1])),
                index=i + 1,
                name=name,
                country=country,
                default_currency=currency,
                timezone=tz,
                email=f"payments@{slug}.example",
                type=kind,
                # Connected accounts joined at intervals, never before the platform's history began.
                created=base - timedelta(days=min(60 + 37 * i, HISTORY_DAYS - 1)),
                payout_interval=interval,
                payout_weekly_anchor=anchor,
                payout_delay_days=delay,
                application_fee_rate=fee,
            )
        )
    return accounts
