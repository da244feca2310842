"""Names the catalogue gives Stripe are checked against what Stripe offers, naming file, line and the fix:
a sql/ file's tables and columns, a report entry's type, columns and currency."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_settings import API_KEY

from pipelines.catalog import load_catalog
from pipelines.contracts import check_catalog, check_query
from pipelines.errors import CatalogError
from pipelines.stripe import StripeSettings
from stripe_emulator.server import EmulatorServer

SCHEMA = {
    "balance_transactions": [
        "id",
        "amount",
        "fee",
        "net",
        "currency",
        "created",
        "type",
        "reporting_category",
    ],
    "charges": ["id", "amount", "created", "customer"],
}


def test_a_query_naming_only_known_tables_and_columns_passes() -> None:
    sql = (
        "select date_trunc('day', created) as day, currency, sum(net) as net\n"
        "from balance_transactions\n"
        "where created >= :window_start and created < :window_end group by 1, 2"
    )
    assert check_query(sql, "sql/ok.sql", SCHEMA) == []


def test_a_misspelt_column_names_the_file_line_and_nearest_column() -> None:
    sql = (
        "select date_trunc('day', created) as day,\n"
        "  sum(amont) as amount\n"
        "from charges\n"
        "where created >= :window_start"
    )

    [problem] = check_query(sql, "sql/charges.sql", SCHEMA)

    assert str(problem) == "sql/charges.sql, line 2: `charges` has no column `amont`; did you mean `amount`?"


def test_a_misspelt_table_is_reported_once_with_the_nearest_table() -> None:
    sql = "select id\nfrom balance_transaction\nwhere created >= :window_start"

    [problem] = check_query(sql, "sql/bt.sql", SCHEMA)

    assert problem.line == 2
    assert "did you mean `balance_transactions`?" in problem.message


def test_columns_of_joined_tables_are_checked_through_their_aliases() -> None:
    sql = (
        "select b.amount, c.custmer\nfrom balance_transactions b\njoin charges c on c.id = b.id\n"
        "where b.created >= :window_start"
    )

    [problem] = check_query(sql, "sql/join.sql", SCHEMA)

    assert problem.message == "`charges` has no column `custmer`; did you mean `customer`?"


MISSPELT_REPORTS = """\
reports:
  - report_type: balance_change_from_activity.itemised.3
    interval: range
    split_column: created_utc
    columns:
      balance_transaction_id: text
      created_utc: timestamp
      net: money
  - report_type: payouts.itemized.3
    unique_column: null
    columns:
      payout_id: text
      effective_at_utc: timestamp
      gros: money
  - report_type: balance.summary.1
    description: Daily balance in one currency.
    currency: usdd
"""


def _settings(emulator: EmulatorServer) -> StripeSettings:
    return StripeSettings(api_key=API_KEY, api_base=emulator.url, files_base=emulator.url)


def test_report_types_columns_and_currencies_are_checked_against_stripe_with_the_nearest_spelling(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "reports.yaml").write_text(MISSPELT_REPORTS)
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")
    file = str(tmp_path / "reports.yaml")

    with pytest.raises(CatalogError) as raised:
        check_catalog(catalog.queries, _settings(emulator), catalog.reports)

    problems = str(raised.value)
    assert (
        f"{file}, line 2: reports[0] (balance_change_from_activity.itemised.3): Stripe offers no report type "
        "`balance_change_from_activity.itemised.3`; did you mean `balance_change_from_activity.itemized.3`?"
    ) in problems
    assert (
        f"{file}, line 14: reports[1] (payouts.itemized.3): `gros` is not a column of payouts.itemized.3; "
        "did you mean `gross`?"
    ) in problems
    assert (
        f"{file}, line 17: reports[2] (balance.summary.1): currency `usdd` is not an ISO 4217 currency code; "
        "did you mean `usd`?"
    ) in problems
    assert problems.count(file) == 3


def test_the_projects_own_catalogue_names_only_what_stripe_offers(emulator: EmulatorServer) -> None:
    catalog = load_catalog()

    note = check_catalog(catalog.queries, _settings(emulator), catalog.reports)

    assert f"{len(catalog.reports) - 1} report entries name report types and columns Stripe offers" in note


def test_offline_a_currency_stripe_would_refuse_still_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "reports.yaml").write_text(
        "reports:\n  - report_type: payouts.itemized.3\n    currency: EUR\n"
    )
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")

    with pytest.raises(
        CatalogError, match=r"line 3: .*currency `EUR`: Stripe writes currency codes in lowercase, `eur`"
    ):
        check_catalog(catalog.queries, None, catalog.reports)
