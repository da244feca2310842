"""Sigma speaks Trino: queries Trino accepts give Trino's results, queries it refuses fail as it does.

Each case names where its expected behaviour is documented: a page of Trino's documentation
(trino.io/docs/current/...), Trino's analyzer source for the wording of an error
(io.trino.sql.analyzer.ExpressionAnalyzer, github.com/trinodb/trino), or Stripe's Sigma docs.
Accepted cases compare the whole result file (header and rows) as Sigma writes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_emulator import Engine
from stripe_emulator.engine import SigmaSqlError

DOCS = "trino.io/docs/current"
DATETIME = f"{DOCS}/functions/datetime.html"
MYSQL = f"{DOCS}/functions/datetime.html#mysql-date-functions"
JODA = f"{DOCS}/functions/datetime.html#java-date-functions"
MATH = f"{DOCS}/functions/math.html"
CONVERSION = f"{DOCS}/functions/conversion.html"
CONDITIONAL = f"{DOCS}/functions/conditional.html"
COMPARISON = f"{DOCS}/functions/comparison.html"
STRING = f"{DOCS}/functions/string.html"
REGEXP = f"{DOCS}/functions/regexp.html"
ARRAY = f"{DOCS}/functions/array.html"
JSON = f"{DOCS}/functions/json.html"
AGGREGATE = f"{DOCS}/functions/aggregate.html"
WINDOW = f"{DOCS}/functions/window.html"
FUNCTION_LIST = f"{DOCS}/functions/list.html"
TYPES = f"{DOCS}/language/types.html"
IDENTIFIERS = f"{DOCS}/language/reserved.html"
SELECT = f"{DOCS}/sql/select.html"
ANALYZER = "io.trino.sql.analyzer.ExpressionAnalyzer"
STRIPE_SIGMA = "docs.stripe.com/stripe-data/write-queries"
STRIPE_TEMPLATES = "docs.stripe.com/stripe-data/query-billing-data"

TS = "timestamp '2026-03-05 07:08:09.123'"
# Trino's signatures of concat, as its error lists them (TestArrayOperators in trinodb/trino).
CONCATS = (
    "concat(char(x), char(y)), concat(array(E), E) E, concat(E, array(E)) E, concat(array(E)) E, "
    "concat(varchar), concat(varbinary)"
)

# (query, the result file Sigma writes, where the behaviour is documented)
ACCEPTED = [
    # DATE arithmetic stays DATE.
    ("select date '2026-11-24' + interval '1' day as d", "d\n2026-11-25\n", DATETIME),
    ("select date '2026-11-24' - interval '1' month as d", "d\n2026-10-24\n", DATETIME),
    ("select interval '2' day + date '2026-11-24' as d", "d\n2026-11-26\n", DATETIME),
    ("select date_add('day', 1, date '2026-11-24') as d", "d\n2026-11-25\n", DATETIME),
    ("select date_add('month', 1, date '2026-01-31') as d", "d\n2026-02-28\n", DATETIME),
    ("select date_trunc('month', date '2026-11-24') as d", "d\n2026-11-01\n", DATETIME),
    ("select date_trunc('week', date '2026-11-26') as d", "d\n2026-11-23\n", DATETIME),
    (
        "select date_trunc('hour', timestamp '2026-11-24 10:11:12.345') as t",
        "t\n2026-11-24 10:00:00.000\n",
        DATETIME,
    ),
    ("select last_day_of_month(date '2026-02-10') as d", "d\n2026-02-28\n", DATETIME),
    (
        "select d from unnest(sequence(date '2026-03-01', date '2026-03-03')) as t(d)",
        "d\n2026-03-01\n2026-03-02\n2026-03-03\n",
        ARRAY,
    ),
    # Days of the week run 1 (Monday) to 7 (Sunday); ISO weeks.
    ("select extract(dow from date '2026-11-22') as d", "d\n7\n", DATETIME),
    ("select day_of_week(date '2026-11-23') as d", "d\n1\n", DATETIME),
    ("select dow(date '2026-11-28') as d", "d\n6\n", DATETIME),
    ("select extract(doy from date '2026-02-01') as d", "d\n32\n", DATETIME),
    ("select week(date '2027-01-01') as w, year_of_week(date '2027-01-01') as y", "w,y\n53,2026\n", DATETIME),
    (
        "select extract(year from date '2026-11-22') as y, quarter(date '2026-11-22') as q",
        "y,q\n2026,4\n",
        DATETIME,
    ),
    ("select millisecond(timestamp '2026-01-01 10:11:12.345') as ms", "ms\n345\n", DATETIME),
    # date_diff counts whole units elapsed.
    ("select date_diff('day', date '2026-01-01', date '2026-02-01') as n", "n\n31\n", DATETIME),
    (
        "select date_diff('hour', timestamp '2026-01-01 10:30:00', timestamp '2026-01-01 12:29:00') as n",
        "n\n1\n",
        DATETIME,
    ),
    # MySQL-style date_format / date_parse.
    (f"select date_format({TS}, '%Y-%m-%d %H:%i:%s') as t", "t\n2026-03-05 07:08:09\n", MYSQL),
    (f"select date_format({TS}, '%e/%c %k %l %p') as t", "t\n5/3 7 7 AM\n", MYSQL),
    (f"select date_format({TS}, '%W %a %b %M %j') as t", "t\nThursday Thu Mar March 064\n", MYSQL),
    (f"select date_format({TS}, '%f|%r|%T|%y|%%') as t", "t\n123000|07:08:09 AM|07:08:09|26|%\n", MYSQL),
    ("select date_parse('2026-03-05 07:08', '%Y-%m-%d %H:%i') as t", "t\n2026-03-05 07:08:00.000\n", MYSQL),
    (
        "select date_format(created, '%Y-%m-%d') = cast(cast(created as date) as varchar) as same "
        "from charges limit 1",
        "same\ntrue\n",
        STRIPE_TEMPLATES,
    ),
    # Joda-Time format_datetime.
    (f"select format_datetime({TS}, 'yyyy-MM-dd HH:mm:ss.SSS') as t", "t\n2026-03-05 07:08:09.123\n", JODA),
    (f"select format_datetime({TS}, 'EEE, d MMM yyyy h:mm a') as t", 't\n"Thu, 5 Mar 2026 7:08 AM"\n', JODA),
    (f"select format_datetime({TS}, 'EEEE MMMM D') as t", "t\nThursday March 64\n", JODA),
    (f"select format_datetime({TS}, 'h ''o''''clock''') as t", "t\n7 o'clock\n", JODA),
    ("select format_datetime(timestamp '2026-03-05 00:30:00', 'kk:mm') as t", "t\n24:30\n", JODA),
    # Time zones: the session's is UTC; AT TIME ZONE shows a UTC timestamp in another zone.
    ("select current_timezone() as tz", "tz\nUTC\n", DATETIME),
    (f"select {TS} at time zone 'America/New_York' as t", "t\n2026-03-05 02:08:09.123\n", DATETIME),
    # Numbers: integer division truncates; casts from double round half away from zero.
    ("select 7 / 2 as a, -7 / 2 as b, 7 % 3 as c, -7 % 2 as d", "a,b,c,d\n3,-3,1,-1\n", MATH),
    ("select 7.0 / 2 as a, 5 / 2.0 as b", "a,b\n3.5,2.5\n", MATH),
    (
        "select cast(2.5e0 as bigint) as a, cast(-2.5e0 as bigint) as b, cast(3.5e0 as integer) as c",
        "a,b,c\n3,-3,4\n",
        CONVERSION,
    ),
    # Casts to varchar as Trino prints them.
    (
        "select cast(timestamp '2026-01-02 03:04:05.600' as varchar) as a, "
        "cast(timestamp '2026-01-02 03:04:05' as varchar) as b",
        "a,b\n2026-01-02 03:04:05.600,2026-01-02 03:04:05\n",
        CONVERSION,
    ),
    # typeof names Trino's types.
    (
        "select typeof(1) as a, typeof(10000000000) as b, typeof(1.5) as c, typeof('ab') as d, "
        "typeof(date '2026-01-01') as e, typeof(1e0) as f",
        'a,b,c,d,e,f\ninteger,bigint,"decimal(2,1)",varchar(2),date,double\n',
        CONVERSION,
    ),
    (
        "select typeof(created) as t, typeof(amount) as a from charges limit 1",
        "t,a\ntimestamp(3),bigint\n",
        STRIPE_SIGMA,
    ),
    # NULL in concatenation and greatest(); conditionals.
    (
        "select concat('a', null) as a, 'a' || 'b' as b, concat_ws(',', 'x', null, 'y') as c",
        'a,b,c\n,ab,"x,y"\n',
        STRING,
    ),
    ("select greatest(1, null) as g, least(1, 2) as l", "g,l\n,1\n", COMPARISON),
    (
        "select if(1 > 0, 'y', 'n') as a, nullif(1, 1) as b, coalesce(null, 2) as c, try(1 / 0) as d",
        "a,b,c,d\ny,,2,\n",
        CONDITIONAL,
    ),
    # Coercions Trino does make: date to timestamp, integer to double.
    (
        "select date '2026-01-02' > timestamp '2026-01-01 10:00:00' as later, 1 = 1.0e0 as same",
        "later,same\ntrue,true\n",
        TYPES,
    ),
    (
        "select count(*) > 0 as found from charges where created >= timestamp '2026-01-01 00:00:00'",
        "found\ntrue\n",
        TYPES,
    ),
    (
        "select count(*) = (select count(*) from charges) as all_seen from charges "
        "where created < data_load_time",
        "all_seen\ntrue\n",
        STRIPE_SIGMA,
    ),
    # Strings and regular expressions.
    (
        "select split_part('a,b', ',', 2) as a, strpos('abc', 'c') as b, lpad('7', 3, '0') as c",
        "a,b,c\nb,3,007\n",
        STRING,
    ),
    ("select lower('ABC') like lower('a%') as a, 'abc' like 'A%' as b", "a,b\ntrue,false\n", STRING),
    ("select regexp_like('abc', 'b') as a, regexp_extract('abc1', '\\d') as b", "a,b\ntrue,1\n", REGEXP),
    ("select format('%s-%d', 'a', 3) as f", "f\na-3\n", CONVERSION),
    # JSON, as Stripe's exchange-rate queries read it.
    ("select json_extract_scalar('{\"a\": 1}', '$.a') as a", "a\n1\n", JSON),
    (
        "select cast(json_parse('{\"eur\": 0.5}') as map(varchar, double))['eur'] as eur",
        "eur\n0.5\n",
        STRIPE_TEMPLATES,
    ),
    # Arrays and lambdas, aggregates and windows.
    ("select cardinality(filter(array[1, 2, 3], x -> x > 1)) as n", "n\n2\n", ARRAY),
    ("select count(*) filter (where x > 1) as n from (values 1, 2, 3) as t(x)", "n\n2\n", AGGREGATE),
    (
        "select x, row_number() over (order by x desc) as r from (values 1, 2) as t(x) order by x",
        "x,r\n1,2\n2,1\n",
        WINDOW,
    ),
    # Result columns: names as Trino gives them, duplicates kept.
    ("select 1 as MyName", "myname\n1\n", IDENTIFIERS),
    ("select count(*), 2 as two from (values 1) as t(x)", "_col0,two\n1,2\n", SELECT),
    ("select 1 as a, 2 as a", "a,a\n1,2\n", SELECT),
    ("select x, x from (values 1) as t(x)", "x,x\n1,1\n", SELECT),
    # OFFSET comes before LIMIT.
    ("select x from (values 3, 1, 2) as t(x) order by x offset 1 limit 1", "x\n2\n", SELECT),
]

# (query, the error Sigma fails with, where the behaviour or its wording is documented)
REJECTED = [
    # Functions outside Trino's list (DuckDB has them all).
    (
        "select strftime(created, '%Y') from charges",
        "line 1:8: Function 'strftime' not registered",
        FUNCTION_LIST,
    ),
    (
        "select date_part('year', created) from charges",
        "line 1:8: Function 'date_part' not registered",
        FUNCTION_LIST,
    ),
    ("select id, epoch(created) from charges", "line 1:12: Function 'epoch' not registered", FUNCTION_LIST),
    ("select nvl(amount, 0) from charges", "line 1:8: Function 'nvl' not registered", FUNCTION_LIST),
    ("select ifnull(amount, 0) from charges", "line 1:8: Function 'ifnull' not registered", FUNCTION_LIST),
    ("select len(id) from charges", "line 1:8: Function 'len' not registered", FUNCTION_LIST),
    (
        "select string_agg(id, ',') from charges",
        "line 1:8: Function 'string_agg' not registered",
        FUNCTION_LIST,
    ),
    ("select\n  list_value(1)", "line 2:3: Function 'list_value' not registered", FUNCTION_LIST),
    (
        "select stripe_raw.major(1, 'usd')",
        "line 1:8: Function 'stripe_raw.major' not registered",
        FUNCTION_LIST,
    ),
    # Comparisons between types Trino will not coerce (it prints <= for >=, < for >).
    (
        "select count(*) from charges where created >= '2026-03-01'",
        "line 1:44: Cannot apply operator: timestamp(3) <= varchar(10)",
        "github.com/trinodb/trino/issues/7334",
    ),
    (
        "select id from charges where created = '2026-03-01'",
        "line 1:38: Cannot apply operator: timestamp(3) = varchar(10)",
        TYPES,
    ),
    (
        "select * from exchange_rates_from_usd where date < '2026-03-01'",
        "line 1:50: Cannot apply operator: date < varchar(10)",
        TYPES,
    ),
    (
        "select id from charges where amount > '100'",
        "line 1:37: Cannot apply operator: bigint < varchar(3)",
        TYPES,
    ),
    ("select true = 1", "line 1:13: Cannot apply operator: boolean = integer", TYPES),
    (
        "select 'a' is distinct from 1",
        "line 1:12: Cannot check if varchar(1) is distinct from integer",
        ANALYZER,
    ),
    (
        "select id from charges where created between '2026-01-01' and '2026-02-01'",
        "line 1:38: Cannot check if timestamp(3) is BETWEEN varchar(10) and varchar(10)",
        ANALYZER,
    ),
    (
        "select id from charges where amount in (1, 'b')",
        "line 1:44: IN value and list items must be the same type: bigint",
        ANALYZER,
    ),
    # Arithmetic and concatenation need numbers and strings.
    ("select amount + 'a' from charges", "line 1:15: Cannot apply operator: bigint + varchar(1)", TYPES),
    ("select created + 1 from charges", "line 1:16: Cannot apply operator: timestamp(3) + integer", DATETIME),
    ("select date '2026-01-01' + 1", "line 1:26: Cannot apply operator: date + integer", DATETIME),
    ("select '3' * 2", "line 1:12: Cannot apply operator: varchar(1) * integer", MATH),
    ("select -'a'", "line 1:8: Cannot negate varchar(1)", MATH),
    (
        "select 'n=' || count(*) from charges",
        f"line 1:13: Unexpected parameters (varchar(2), bigint) for function concat. Expected: {CONCATS}",
        STRING,
    ),
    (
        "select concat('id ', amount) from charges",
        f"line 1:8: Unexpected parameters (varchar(3), bigint) for function concat. Expected: {CONCATS}",
        STRING,
    ),
    # Branches need one type; WHERE needs a boolean.
    (
        "select case when amount > 0 then 'x' else 1 end from charges",
        "line 1:43: All CASE results must be the same type: varchar(1)",
        ANALYZER,
    ),
    (
        "select coalesce(amount, 'x') from charges",
        "line 1:25: All COALESCE operands must be the same type: bigint",
        ANALYZER,
    ),
    (
        "select if(true, 1, 'a')",
        "line 1:8: Result types for IF must be the same: integer vs varchar(1)",
        CONDITIONAL,
    ),
    (
        "select id from charges where 1",
        "line 1:30: WHERE clause must evaluate to a boolean: actual type integer",
        SELECT,
    ),
    # Function arguments of the wrong type, and fields a type does not have.
    (
        "select date_trunc('day', '2026-01-01')",
        "line 1:8: Unexpected parameters (varchar(3), varchar(10)) for function date_trunc. Expected: "
        "date_trunc(varchar(x), date) date, date_trunc(varchar(x), time(p)) time(p), date_trunc(varchar(x), "
        "time(p) with time zone) time(p) with time zone, date_trunc(varchar(x), timestamp(p)) timestamp(p), "
        "date_trunc(varchar(x), timestamp(p) with time zone) timestamp(p) with time zone",
        DATETIME,
    ),
    (
        "select year('2026-01-01')",
        "line 1:8: Unexpected parameters (varchar(10)) for function year. Expected: year(date) bigint, "
        "year(timestamp(p)) bigint, year(timestamp(p) with time zone) bigint",
        DATETIME,
    ),
    (
        "select length(amount) from charges",
        "line 1:8: Unexpected parameters (bigint) for function length. Expected: length(char(x)) bigint, "
        "length(varchar(x)) bigint",
        STRING,
    ),
    ("select date_add('hour', 1, date '2026-01-01')", "'hour' is not a valid DATE field", DATETIME),
    (
        "select date '2026-01-01' + interval '1' hour",
        "Cannot add hour, minutes or seconds to a date",
        DATETIME,
    ),
    ("select extract(epoch from created) from charges", "line 1:8: Invalid EXTRACT field: epoch", DATETIME),
    ("select cast(amount as string) from charges", "line 1:23: Unknown type: string", TYPES),
    (f"select date_format({TS}, '%D')", "%D not supported in date format string", MYSQL),
    (f"select format_datetime({TS}, 'yyyy-qq')", "Illegal pattern component: qq", JODA),
    # Syntax Trino's grammar does not have.
    (
        "select id from charges where description ilike 'a%'",
        "line 1:42: mismatched input 'ilike'. Trino has no ILIKE; compare lower(value) LIKE lower(pattern)",
        SELECT,
    ),
    (
        "select x::int from (values 1) as t(x)",
        "line 1:9: mismatched input '::'. Trino casts with CAST(value AS type)",
        CONVERSION,
    ),
    ("select [1, 2]", "line 1:8: mismatched input '['. Trino writes arrays as ARRAY[...]", ARRAY),
    ("select interval 1 day", "line 1:17: mismatched input '1'. Expecting: <string>", TYPES),
    (
        "select interval '2' days",
        "line 1:21: mismatched input 'days'. Expecting: 'DAY', 'HOUR', 'MINUTE', 'MONTH', 'SECOND', 'YEAR'",
        TYPES,
    ),
    (
        "select interval '1' week",
        "line 1:21: mismatched input 'week'. Expecting: 'DAY', 'HOUR', 'MINUTE', 'MONTH', 'SECOND', 'YEAR'",
        TYPES,
    ),
    (
        "select id from charges limit 1 offset 2",
        "line 1:32: mismatched input 'offset'. Trino puts OFFSET before LIMIT",
        SELECT,
    ),
    (
        "select * exclude (id) from charges",
        "line 1:10: mismatched input 'exclude'. Trino has no SELECT * EXCLUDE/REPLACE",
        SELECT,
    ),
    ("from charges", "line 1:1: mismatched input 'from'. Trino queries start with SELECT", SELECT),
    (
        "select currency, count(*) from charges group by all",
        "line 1:49: mismatched input 'all'. Trino has no GROUP BY ALL; list the columns or their positions",
        SELECT,
    ),
    (
        "select distinct on (currency) id from charges",
        "line 1:17: mismatched input 'on'. Trino has no DISTINCT ON; use row_number() in a subquery",
        SELECT,
    ),
    ("select 1 == 1", "line 1:10: mismatched input '=='. Trino compares with =", COMPARISON),
    ("select 2 ^ 3", "line 1:10: mismatched input '^'. Trino has no ^ operator; use power(x, y)", MATH),
    (
        "select buy_currency_exchange_rates ->> '$.eur' from exchange_rates_from_usd",
        "line 1:36: mismatched input '->>'. Trino reads JSON with json_extract_scalar(json, path)",
        JSON,
    ),
    (
        "select id from charges where created > :since",
        "line 1:40: mismatched input ':'. Sigma queries take no parameters",
        SELECT,
    ),
    # Errors found while running, in Trino's words.
    ("select no_such_column from charges", "line 1:8: Column 'no_such_column' cannot be resolved", ANALYZER),
    ("select c.nope from charges c", "line 1:8: Column 'c.nope' cannot be resolved", ANALYZER),
    (
        "select id, count(*) from charges",
        "line 1:8: 'id' must be an aggregate expression or appear in GROUP BY clause",
        SELECT,
    ),
    ("select cast('abc' as bigint)", "Cannot cast 'abc' to BIGINT", CONVERSION),
    ("select cast('2026-13-45' as date)", "Value cannot be cast to date: 2026-13-45", CONVERSION),
    (
        "select cast(created as bigint) from charges",
        "line 1:8: Cannot cast timestamp(3) to bigint",
        CONVERSION,
    ),
    ("select date_parse('nope', '%Y')", 'Invalid format: "nope"', MYSQL),
    ("select 2147483647 + 1", "integer addition overflow: 2147483647 + 1", MATH),
    (
        "select * from charges c join refunds r on c.id = r.charge_id where id = 'x'",
        "line 1:68: Column 'id' is ambiguous",
        ANALYZER,
    ),
    ("select 1 / 0", "Division by zero", MATH),
]


SQL_FILES = sorted((Path(__file__).resolve().parents[2] / "sql").glob("*.sql"))
# How the pipelines bind a file's window (pipelines/sigma_sql.py): TIMESTAMP literals for a
# partition, or the last whole day before data_load_time for a saved query.
WINDOWS = {
    "partition": ("timestamp '2026-03-19 00:00:00'", "timestamp '2026-03-20 00:00:00'"),
    "saved query": (
        "(date_trunc('day', data_load_time) - interval '1' day)",
        "date_trunc('day', data_load_time)",
    ),
}


def _result(engine: Engine, path: Path, sql: str) -> str:
    engine.run_sigma(sql, path)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("sql", "expected", "source"), ACCEPTED, ids=[c[0][:60] for c in ACCEPTED])
def test_trino_accepts(engine: Engine, tmp_path: Path, sql: str, expected: str, source: str):
    assert _result(engine, tmp_path / "result.csv", sql) == expected, source


@pytest.mark.parametrize(("sql", "message", "source"), REJECTED, ids=[c[0][:60] for c in REJECTED])
def test_trino_refuses(engine: Engine, tmp_path: Path, sql: str, message: str, source: str):
    with pytest.raises(SigmaSqlError) as raised:
        engine.run_sigma(sql, tmp_path / "result.csv")
    assert str(raised.value) == message, source


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("path", SQL_FILES, ids=[p.name for p in SQL_FILES])
def test_the_project_sql_files_pass_the_strict_check(engine: Engine, tmp_path: Path, path: Path, window: str):
    start, end = WINDOWS[window]
    sql = path.read_text(encoding="utf-8").replace(":window_start", start).replace(":window_end", end)
    result = engine.run_sigma(sql, tmp_path / "result.csv")
    assert result.columns and result.rows > 0


def test_the_scheduled_queries_pass_the_strict_check(engine: Engine, tmp_path: Path):
    queries = {run["sql"] for run in engine.scheduled_query_runs()}
    assert queries
    for sql in queries:
        assert engine.run_sigma(sql, tmp_path / "result.csv").columns


def test_the_table_is_large_enough():
    assert len(ACCEPTED) + len(REJECTED) >= 60
    assert all(source for *_, source in ACCEPTED + REJECTED)
