"""A sql/ file's tables and columns are checked against Stripe's schema, naming file, line and the fix."""

from __future__ import annotations

from pipelines.contracts import check_query

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
