"""The catalogue: reports.yaml entries and sql/ files become validated specs, with clear errors."""

from datetime import date
from pathlib import Path

import pytest

from pipelines.catalog import CatalogError, load_catalog
from pipelines.sources import ReportSource


def _catalog(tmp_path: Path, reports: str = "reports: []\n", **sql_files: str):
    (tmp_path / "reports.yaml").write_text(reports)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for name, text in sql_files.items():
        (sql_dir / f"{name}.sql").write_text(text)
    return load_catalog(tmp_path / "reports.yaml", sql_dir)


def test_the_project_catalogue_loads_and_covers_every_report_type_users_rely_on() -> None:
    catalog = load_catalog()
    report_types = {r.report_type for r in catalog.reports}
    assert {
        "balance.summary.1",
        "balance_change_from_activity.itemized.3",
        "payouts.itemized.3",
        "payout_reconciliation.itemized.5",
        "ending_balance_reconciliation.itemized.4",
    } <= report_types
    assert len(catalog.queries) >= 3
    assert all(q.split_column for q in catalog.queries)


def test_a_known_report_needs_one_line(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, "reports:\n  - report_type: payouts.itemized.3\n")
    [spec] = catalog.reports
    assert isinstance(spec, ReportSource)
    assert spec.name == spec.table == "payouts_itemized_3"
    assert spec.split_column == "effective_at_utc"
    assert ("gross", "money") in {(c.name, c.type) for c in spec.columns}
    assert spec.timezone == "UTC" and spec.max_days_per_run == 31


def test_entries_override_defaults(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        """
defaults: {start_date: "2025-06-01", max_days_per_run: 7}
reports:
  - report_type: balance_change_from_activity.itemized.3
    name: bcfa_eur
    table: activity_eur
    currency: eur
    timezone: Europe/Paris
    column_types: {net: double}
""",
    )
    [spec] = catalog.reports
    assert (spec.name, spec.table, spec.timezone) == ("bcfa_eur", "activity_eur", "Europe/Paris")
    assert spec.parameters == {"currency": "eur"}
    assert spec.start_date == date(2025, 6, 1) and spec.max_days_per_run == 7
    assert dict((c.name, c.type) for c in spec.columns)["net"] == "double"


def test_an_unknown_report_type_can_be_described_in_full(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        """
reports:
  - report_type: tax.transactions.itemized.2
    columns: {id: text, transaction_date_utc: timestamp, amount: money}
    split_column: transaction_date_utc
""",
    )
    assert catalog.reports[0].split_column == "transaction_date_utc"


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ("reports:\n  - report_type: nope.1\n", "not in pipelines/report_types.yaml"),
        ("reports:\n  - report_type: payouts.itemized.3\n    timezone: Mars/Olympus\n", "IANA time zone"),
        ("reports:\n  - report_type: payouts.itemized.3\n    table: 'x; drop table y'\n", "not a valid name"),
        ("reports:\n  - report_type: payouts.itemized.3\n    colums: [a]\n", "unknown key"),
        ("reports:\n  - report_type: balance.summary.1\n    reporting_category: charge\n", "does not take"),
        (
            "reports:\n  - report_type: payouts.itemized.3\n  - report_type: payouts.itemized.3\n",
            "used twice",
        ),
        ("reports:\n  - report_type: payouts.itemized.3\n    max_days_per_run: 90\n", "between 1 and 31"),
    ],
)
def test_mistakes_are_reported_with_where_and_why(tmp_path: Path, reports: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _catalog(tmp_path, reports)


def test_a_sql_file_is_an_asset_and_its_header_configures_it(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        daily_fees="-- table: fees\n-- partition_column: day\n-- description: Fees.\n"
        "select date_trunc('day', created) as day, sum(fee) as fee from balance_transactions\n"
        "where created >= :window_start and created < :window_end group by 1\n",
    )
    [query] = catalog.queries
    assert (query.name, query.table, query.split_column, query.description) == (
        "daily_fees",
        "fees",
        "day",
        "Fees.",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- tabel: x\nselect 1", "unknown header `tabel`"),
        ("update charges set amount = 0", "SELECT queries only"),
        ("-- only a comment\n", "holds no SQL"),
        ("select :start_day", "unknown parameter :start_day"),
    ],
)
def test_bad_sql_files_fail_at_load_time(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _catalog(tmp_path, bad=text)
