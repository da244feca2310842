"""Table writers: the simulated objects as ``stripe_raw`` tables, one module per business area."""

from stripe_emulator.datagen.tables.balance import write_balance
from stripe_emulator.datagen.tables.billing import write_customers, write_invoices, write_subscriptions
from stripe_emulator.datagen.tables.payments import write_payments
from stripe_emulator.datagen.tables.platform import write_accounts, write_catalog, write_exchange_rates
from stripe_emulator.datagen.tables.writer import TableWriter

__all__ = [
    "TableWriter",
    "write_accounts",
    "write_balance",
    "write_catalog",
    "write_customers",
    "write_exchange_rates",
    "write_invoices",
    "write_payments",
    "write_subscriptions",
]
