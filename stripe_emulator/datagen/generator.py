"""The generation pipeline: simulate the business, then write its tables in a fixed order."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from stripe_emulator.datagen.accounts import Account
from stripe_emulator.datagen.business import Business
from stripe_emulator.datagen.charges import simulate_charges
from stripe_emulator.datagen.customers import simulate_customers
from stripe_emulator.datagen.ledger import simulate_balance
from stripe_emulator.datagen.lifecycle import simulate_lifecycle
from stripe_emulator.datagen.macros import RAW_SCHEMA, install_macros
from stripe_emulator.datagen.one_off_invoices import simulate_one_off_invoices
from stripe_emulator.datagen.subscriptions import simulate_subscriptions
from stripe_emulator.datagen.tables import (
    TableWriter,
    write_accounts,
    write_balance,
    write_catalog,
    write_checkout,
    write_coupons,
    write_customers,
    write_exchange_rates,
    write_invoices,
    write_payments,
    write_subscriptions,
)


@dataclass(frozen=True)
class GeneratedData:
    """What :func:`generate` produced."""

    platform: Account
    connected: tuple[Account, ...]
    data_start: datetime
    data_end: datetime
    row_counts: dict[str, int]
    seconds: float


def generate(
    con: duckdb.DuckDBPyConnection,
    *,
    seed: int,
    data_start: datetime,
    data_end: datetime,
    reference_day: date,
    scale: int,
    connected_accounts: int,
) -> GeneratedData:
    """Generate every table into ``con`` (schema ``stripe_raw``), deterministically.

    ``data_start`` is the midnight UTC from which the Reporting API offers data and ``data_end`` the
    midnight the data ends at. Every table's history starts earlier, the same day for all: four
    years before ``data_start``, so that the longest subscriptions still renew by then.
    ``reference_day`` is the day the volume is calibrated to (about ``scale`` platform balance
    transactions); the business grows, so earlier days have less.
    """
    started = time.perf_counter()
    biz = Business(seed, data_start, data_end, reference_day, scale, connected_accounts)
    install_macros(con)
    # The generated SQL calls the helper macros unqualified.
    con.execute(f"SET search_path = 'main,{RAW_SCHEMA}'")
    try:
        counts = _write_all(TableWriter(con, biz.account_ids), biz)
    finally:
        con.execute("RESET search_path")
    return GeneratedData(
        platform=biz.platform,
        connected=tuple(biz.connected),
        data_start=data_start,
        data_end=data_end,
        row_counts=counts,
        seconds=time.perf_counter() - started,
    )


def _write_all(out: TableWriter, biz: Business) -> dict[str, int]:
    # The order of the tables is the order of row_counts, which the control API shows.
    write_accounts(out, biz)
    write_catalog(out, biz)
    customers = simulate_customers(biz)
    life = simulate_lifecycle(biz, simulate_subscriptions(biz, customers))
    one_off = simulate_one_off_invoices(biz, life)
    charges = simulate_charges(biz, customers, life, one_off)
    balance, payouts = simulate_balance(biz, charges)
    write_customers(out, biz, customers)
    write_coupons(out, biz, customers, np.where(customers.subscriber, customers.payload, 0).astype(np.uint64))
    write_subscriptions(out, biz, life)
    write_invoices(out, biz, life, one_off, charges)
    write_payments(out, biz, customers, charges)
    write_checkout(out, biz, customers, life, charges)
    write_balance(out, biz, customers, balance, payouts)
    write_exchange_rates(out, biz)
    return out.counts


def measure_generation(
    balance_transactions: int = 1_000_000, *, days: int = 120, seed: int = 42
) -> dict[str, Any]:
    """Generate about ``balance_transactions`` rows into a fresh in-memory database and time it.

    A benchmark, not a test: it returns the figures (rows, seconds, rows per second) for printing,
    e.g. ``python -c "from stripe_emulator.datagen import measure_generation as m; print(m())"``.
    """
    total_days = days + 4
    # Connected accounts add about a fifth on top of the platform's own volume.
    scale = max(1, round(balance_transactions / total_days / 1.1))
    reference = date(2026, 1, 15)
    start = datetime.combine(reference - timedelta(days=days), datetime.min.time(), UTC)
    end = datetime.combine(reference + timedelta(days=4), datetime.min.time(), UTC)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        result = generate(
            con,
            seed=seed,
            data_start=start,
            data_end=end,
            reference_day=reference,
            scale=scale,
            connected_accounts=3,
        )
    finally:
        con.close()
    rows = result.row_counts["balance_transactions"]
    return {
        "scale": scale,
        "days": total_days,
        "balance_transactions": rows,
        "rows_all_tables": sum(result.row_counts.values()),
        "seconds": round(result.seconds, 2),
        "balance_transactions_per_second": round(rows / result.seconds),
    }
