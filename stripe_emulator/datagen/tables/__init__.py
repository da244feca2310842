"""Table writers: the simulated objects as ``stripe_raw`` tables, one module per business area."""

from stripe_emulator.datagen.tables.balance import write_balance
from stripe_emulator.datagen.tables.checkout import write_checkout
from stripe_emulator.datagen.tables.customers import write_coupons, write_customers
from stripe_emulator.datagen.tables.invoices import write_invoices
from stripe_emulator.datagen.tables.payments import write_payments
from stripe_emulator.datagen.tables.platform import write_accounts, write_catalog, write_exchange_rates
from stripe_emulator.datagen.tables.subscriptions import write_subscriptions
from stripe_emulator.datagen.tables.writer import TableWriter

__all__ = [
    "TableWriter",
    "write_accounts",
    "write_balance",
    "write_catalog",
    "write_checkout",
    "write_coupons",
    "write_customers",
    "write_exchange_rates",
    "write_invoices",
    "write_payments",
    "write_subscriptions",
]
