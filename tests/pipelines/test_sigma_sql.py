"""Rendering sql/*.sql files for a window: typed literals, one SELECT, the freshness column."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlglot
from sqlglot import exp

from pipelines.sigma_sql import (
    FRESHNESS_COLUMN,
    SigmaSqlError,
    parse_query,
    render_for_window,
    render_latest_day,
)

QUERY = """
-- table: x
select date_trunc('day', created) as day, sum(net) as net
from balance_transactions
where created >= :window_start and created < :window_end
group by 1
"""


def test_window_bounds_become_typed_utc_timestamp_literals() -> None:
    start = datetime(2026, 3, 8, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    sql = render_for_window(QUERY, start, start + timedelta(days=1))

    casts = [c for c in sqlglot.parse_one(sql, read="trino").find_all(exp.Cast)]
    assert [(c.this.name, c.to.sql()) for c in casts] == [
        ("2026-03-08 05:00:00", "TIMESTAMP"),
        ("2026-03-09 05:00:00", "TIMESTAMP"),
    ]
    assert ":window" not in sql


def test_rendered_query_returns_data_load_time_alongside_the_rows() -> None:
    sql = render_for_window(QUERY, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    outer = sqlglot.parse_one(sql, read="trino")
    assert outer.selects[-1].alias == FRESHNESS_COLUMN
    assert outer.selects[-1].this.name == "data_load_time"


def test_a_value_cannot_smuggle_sql_into_the_query() -> None:
    # Window values are datetimes, never text; a parameter that is not a window bound is refused.
    with pytest.raises(SigmaSqlError, match=":evil"):
        render_for_window(
            "select 1 where x = :evil", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
        )


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_for_window(QUERY, datetime(2026, 1, 1), datetime(2026, 1, 2))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from charges", "SELECT queries only"),
        ("select 1; select 2", "exactly one query"),
        ("select from where", "not valid Trino SQL"),
    ],
)
def test_only_a_single_select_is_accepted(sql: str, message: str) -> None:
    with pytest.raises(SigmaSqlError, match=message):
        parse_query(sql, "sql/bad.sql")


def test_saved_query_form_is_relative_to_data_load_time() -> None:
    sql = render_latest_day(QUERY)
    assert ":window" not in sql
    assert "DATE_TRUNC('DAY', data_load_time) - INTERVAL '1' DAY" in sql
    assert sql.count("DATE_TRUNC('DAY', data_load_time)") == 2
