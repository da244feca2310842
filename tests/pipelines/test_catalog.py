"""The catalogue: reports.yaml entries and sql/ files become validated specs, with clear errors."""

from datetime import date
from pathlib import Path

import pytest

from pipelines.catalog import PROJECT_ROOT, CatalogError, load_catalog
from pipelines.sources import ReportSource


def _catalog(tmp_path: Path, reports: str = "reports: []\n", **sql_files: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
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
        ("reports:\n  - report_type: nope.1\n", r"line 2: .*not in pipelines/report_types\.yaml"),
        (
            "reports:\n  - report_type: payouts.itemized.3\n    timezone: Mars/Olympus\n",
            "line 3: .*IANA time zone",
        ),
        (
            "reports:\n  - report_type: payouts.itemized.3\n    table: 'x; drop table y'\n",
            "line 3: .*not a valid name",
        ),
        ("reports:\n  - report_type: payouts.itemized.3\n    colums: [a]\n", "line 3: .*unknown key"),
        (
            "reports:\n  - report_type: balance.summary.1\n    reporting_category: charge\n",
            "line 3: .*does not take",
        ),
        (
            "reports:\n  - report_type: payouts.itemized.3\n  - report_type: payouts.itemized.3\n",
            r"line 3: reports\[1\] .*used twice",
        ),
        (
            "reports:\n  - report_type: payouts.itemized.3\n    max_days_per_run: 90\n",
            "line 3: .*between 1 and 31",
        ),
    ],
)
def test_mistakes_are_reported_with_where_and_why(tmp_path: Path, reports: str, message: str) -> None:
    with pytest.raises(CatalogError, match=rf"reports\.yaml, {message}"):
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
        ("-- tabel: x\nselect 1", "line 1: unknown header `tabel`"),
        ("-- a comment\nupdate charges set amount = 0", "line 2: Sigma runs SELECT queries only"),
        ("-- only a comment\n", "line 1: the file holds no SQL"),
        ("select :start_day", "line 1: unknown parameter :start_day"),
        ("-- table: x\n\nselect *\nfrom where", "line 4: not valid Trino SQL"),
    ],
)
def test_bad_sql_files_fail_at_load_time(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=rf"bad\.sql, {message}"):
        _catalog(tmp_path, bad=text)


ENTRY = "reports:\n  - report_type: payouts.itemized.3\n"


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        (
            "reports:\n  - repot_type: payouts.itemized.3\n",
            r"line 2: reports\[0\]: unknown key `repot_type`; did you mean `report_type`\?",
        ),
        (
            ENTRY + "    description: Payouts.\n    timezome: UTC\n",
            r"line 4: reports\[0\] \(payouts\.itemized\.3\): unknown key `timezome`; "
            r"did you mean `timezone`\?",
        ),
        (
            ENTRY + "    max_days_per_rn: 7\n",
            r"line 3: .*unknown key `max_days_per_rn`; did you mean `max_days_per_run`\?",
        ),
        (
            "defaults:\n  start_date: 2026-01-01\n  timezome: UTC\nreports: []\n",
            r"line 3: defaults: unknown key `timezome`; did you mean `timezone`\?",
        ),
        ("report: []\n", r"line 1: unknown key `report`; did you mean `reports`\?"),
    ],
)
def test_a_misspelt_key_names_the_file_the_line_and_the_nearest_valid_key(
    tmp_path: Path, reports: str, message: str
) -> None:
    with pytest.raises(CatalogError, match=rf"reports\.yaml, {message}"):
        _catalog(tmp_path, reports)


def test_a_misspelt_sql_header_names_the_file_the_line_and_the_nearest_header(tmp_path: Path) -> None:
    text = "-- table: fees\n-- partiton_column: day\nselect 1 as day\n"
    with pytest.raises(
        CatalogError,
        match=r"sql/fees\.sql, line 2: unknown header `partiton_column`; did you mean `partition_column`\?",
    ):
        _catalog(tmp_path, fees=text)


def test_an_unknown_report_type_suggests_the_nearest_known_one(tmp_path: Path) -> None:
    with pytest.raises(
        CatalogError,
        match=r"reports\.yaml, line 3: reports\[1\] \(payouts\.itemized\.2\): 'payouts\.itemized\.2' is not "
        r"in pipelines/report_types\.yaml; did you mean `payouts\.itemized\.3`\?",
    ):
        _catalog(tmp_path, ENTRY + "  - report_type: payouts.itemized.2\n")


@pytest.mark.parametrize(("zone", "suggestion"), [("America/New_Yrok", "America/New_York"), ("utc", "UTC")])
def test_a_misspelt_time_zone_suggests_the_nearest(tmp_path: Path, zone: str, suggestion: str) -> None:
    with pytest.raises(
        CatalogError, match=rf"reports\.yaml, line 3: .*timezone: .*did you mean `{suggestion}`\?"
    ):
        _catalog(tmp_path, f"{ENTRY}    timezone: {zone}\n")
    with pytest.raises(CatalogError, match=rf"q\.sql, line 1: timezone: .*did you mean `{suggestion}`\?"):
        _catalog(tmp_path / "sql_case", q=f"-- timezone: {zone}\nselect 1\n")


def test_every_iana_zone_loads_including_signs_and_hyphens(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        ENTRY + "    timezone: America/Port-au-Prince\n"
        "  - report_type: balance.summary.1\n    timezone: Etc/GMT+5\n",
        q="-- timezone: Etc/GMT+5\nselect 1\n",
    )
    assert [s.timezone for s in catalog.sources] == ["America/Port-au-Prince", "Etc/GMT+5", "Etc/GMT+5"]


def test_owners_tags_group_and_key_prefix_reach_the_source(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        """
defaults:
  owners: [team:finance]
  tags: {domain: payments, tier: gold}
reports:
  - report_type: payouts.itemized.3
    owners: [treasury@example.com, team:treasury]
    tags: {tier: silver}
    group: treasury
    key_prefix: acme/stripe
  - report_type: balance.summary.1
""",
        fees="-- owners: team:analytics, bi@example.com\n-- tags: domain=fees, pii=none\n"
        "-- group: sigma_fees\n-- key_prefix: acme/sigma\nselect 1\n",
    )
    payouts, summary, fees = catalog.sources
    assert payouts.owners == ("treasury@example.com", "team:treasury")
    assert payouts.tags == {"domain": "payments", "tier": "silver"}
    assert (payouts.group, payouts.key_prefix) == ("treasury", ("acme", "stripe"))
    assert payouts.origin.endswith("reports.yaml, line 6: reports[0] (payouts.itemized.3)")
    assert summary.owners == ("team:finance",) and summary.tags == {"domain": "payments", "tier": "gold"}
    assert (summary.group, summary.key_prefix) == (None, ("stripe",))
    assert fees.owners == ("team:analytics", "bi@example.com")
    assert fees.tags == {"domain": "fees", "tier": "gold", "pii": "none"}
    assert (fees.group, fees.key_prefix) == ("sigma_fees", ("acme", "sigma"))
    assert fees.origin.endswith("sql/fees.sql")


def test_the_project_catalogue_names_its_origins_relative_to_the_project() -> None:
    catalog = load_catalog()
    lines = (PROJECT_ROOT / "reports.yaml").read_text().splitlines()
    line = 1 + next(n for n, text in enumerate(lines) if text.strip() == "- report_type: balance.summary.1")
    assert catalog.reports[0].origin == f"reports.yaml, line {line}: reports[0] (balance.summary.1)"
    assert {q.origin for q in catalog.queries} == {f"sql/{q.path.name}" for q in catalog.queries}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("    tags: {team: 'fin ance'}\n", r"tags\.team: 'fin ance' is not a tag value"),
        ("    tags: {tier: 1}\n", r"tags\.tier: tag values are text"),
        ("    tags: {'bad key!': x}\n", r"tags\.bad key!: 'bad key!' is not a tag key"),
        (
            "    tags: {dagster/kind: x}\n",
            r"tags\.dagster/kind: the `dagster/` and `stripe/` namespaces are reserved",
        ),
        ("    group: Finance Reports\n", r"group: 'Finance Reports' is not a valid identifier"),
        ("    owners: [bob]\n", r"owners\[0\]: 'bob' is not an owner"),
        ("    key_prefix: acme/Stripe\n", r"key_prefix\[1\]: 'Stripe' is not a valid identifier"),
    ],
)
def test_a_value_dagster_would_refuse_names_the_file_and_line(
    tmp_path: Path, lines: str, message: str
) -> None:
    reports = ENTRY + "    description: Payouts.\n" + lines
    with pytest.raises(CatalogError, match=rf"reports\.yaml, line 4: reports\[0\] .*: {message}"):
        _catalog(tmp_path, reports)


def test_a_bad_tag_in_a_sql_header_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"q\.sql, line 2: tags\.team: 'fin ance' is not a tag value"):
        _catalog(tmp_path, q="-- table: q\n-- tags: team=fin ance\nselect 1\n")


def test_unique_column_outside_the_columns_is_refused(tmp_path: Path) -> None:
    reports = ENTRY + "    columns: [payout_id, effective_at_utc]\n"
    with pytest.raises(
        CatalogError, match=r"line 3: .*unique_column 'balance_transaction_id' is not one of the requested"
    ):
        _catalog(tmp_path, reports)
    assert _catalog(tmp_path / "null", reports + "    unique_column: null\n").reports[0].unique_column is None


def test_a_key_set_twice_names_both_lines(tmp_path: Path) -> None:
    with pytest.raises(
        CatalogError, match=r"reports\.yaml, line 4: .*`timezone` is set twice \(first on line 3\)"
    ):
        _catalog(tmp_path, ENTRY + "    timezone: UTC\n    timezone: Europe/Paris\n")
