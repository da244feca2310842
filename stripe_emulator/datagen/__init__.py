"""Deterministic generation of a Stripe account's history into DuckDB tables.

The platform sells subscriptions and one-off orders in several currencies and runs a Connect
platform: its connected accounts take direct charges (paying the platform an application fee) and
receive transfers. Every movement of money lands in ``balance_transactions`` with Stripe's balance
semantics: funds become available at midnight UTC a few days after ``created``, and one automatic
payout per account, currency and payout day (created at that day's midnight, arriving the same day)
sweeps everything that has become available and was not paid out yet.

Generation is vectorised. NumPy draws every random value from a counter-based hash of
``(seed, entity, field)``, so a given day's rows do not depend on how many days are generated, and
DuckDB turns the numbers into Stripe-shaped rows (ids, names, descriptions) in the ``stripe_raw``
schema. Every raw table carries two hidden columns Sigma never shows: ``_account`` (the account the
row belongs to; NULL for data every account sees) and ``_visible_at`` (the row does not exist for
Sigma or reports while ``_visible_at >= data_load_time``).

Every table covers the same history, from the account's first day (four years before the
Reporting API's ``data_start``) to ``data_end``; :mod:`.sigma_schema` defines the views Sigma
queries read, as of a run's ``data_load_time``.

Layout: :mod:`.generator` runs the pipeline; :mod:`.business` is the frame every step shares; the
simulation is :mod:`.customers`, :mod:`.subscriptions` (sign-ups), :mod:`.lifecycle` (trials,
failed payments, plan changes, ends, comebacks), :mod:`.subscription_history` (MRR events, status
history, schedules), :mod:`.one_off_invoices`, :mod:`.charges`, :mod:`.refunds_disputes`,
:mod:`.connect`, :mod:`.ledger` and :mod:`.payouts`; :mod:`.tables` writes the results;
:mod:`.scheduled_runs` lists the Dashboard's scheduled queries' runs; constants live in
:mod:`.currencies`, :mod:`.reference`, :mod:`.billing_reference` and :mod:`.codes`.
"""

from stripe_emulator.datagen.accounts import Account
from stripe_emulator.datagen.codes import KIND_SCHEDULED_RUN
from stripe_emulator.datagen.currencies import (
    CURRENCIES,
    SETTLEMENT_CURRENCIES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    currency_exponent,
)
from stripe_emulator.datagen.generator import GeneratedData, generate, measure_generation
from stripe_emulator.datagen.ids import entity_number, stripe_id
from stripe_emulator.datagen.macros import (
    RAW_SCHEMA,
    SIGMA_FUNCTIONS,
    install_macros,
    install_sigma_functions,
)

__all__ = [
    "CURRENCIES",
    "KIND_SCHEDULED_RUN",
    "RAW_SCHEMA",
    "SETTLEMENT_CURRENCIES",
    "SIGMA_FUNCTIONS",
    "THREE_DECIMAL_CURRENCIES",
    "ZERO_DECIMAL_CURRENCIES",
    "Account",
    "GeneratedData",
    "currency_exponent",
    "entity_number",
    "generate",
    "install_macros",
    "install_sigma_functions",
    "measure_generation",
    "stripe_id",
]
