"""Running a Sigma query: Trino SQL checked as Trino would, run on DuckDB, written as Sigma writes it.

A query is parsed as Trino (``dialect``), refused where Trino's grammar or analyzer would refuse
it (``dialect.check_tokens``, ``checks``), rewritten where DuckDB means something else than
Trino (``rewrite``), has its bare ``data_load_time`` bound to the run's value, and runs on the
run's own DuckDB cursor against the Sigma views (``tables``). The result CSV has Trino's column
names (lower case, duplicates kept) and Sigma's timestamp format.

DuckDB runs with ``integer_division`` so ``5 / 2`` is ``2`` as in Trino, and in UTC.
"""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
from sqlglot.errors import ErrorLevel, UnsupportedError

from stripe_emulator.sigma import checks, dialect, rewrite
from stripe_emulator.sigma.errors import SigmaSqlError, Source, translate_duckdb
from stripe_emulator.sigma.inference import Schema, TypeInference
from stripe_emulator.sigma.tables import TABLE_NAMES, column_types
from stripe_emulator.timestamps import naive_utc

__all__ = ["check", "run_query", "translate"]

# How Sigma writes timestamps in result files: milliseconds, no zone.
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%g"


def check(sql: str, schema: Schema) -> None:
    """Raise SigmaSqlError if Sigma (Trino) would refuse ``sql`` before running it."""
    source = Source(sql)
    query = dialect.parse(source)
    stream = dialect.tokens(source)
    dialect.check_tokens(source, query, stream)
    checks.check_query(source, query, stream, TypeInference(schema), frozenset(schema) or TABLE_NAMES)


def translate(sql: str, data_load_time: datetime, schema: Schema | None = None) -> str:
    """Sigma's Trino ``sql`` as DuckDB SQL, with ``data_load_time`` bound; SigmaSqlError if it cannot run.

    ``schema`` gives the Sigma tables' column types (``tables.column_types``); without it, types
    of columns are unknown and only the checks that do not depend on them apply.
    """
    source = Source(sql)
    query = dialect.parse(source)
    stream = dialect.tokens(source)
    dialect.check_tokens(source, query, stream)
    inference = TypeInference(schema or {})
    # The tables are the views the run's database has; without a schema, the emulator's list.
    checks.check_query(source, query, stream, inference, frozenset(schema or ()) or TABLE_NAMES)
    query = rewrite.trino_semantics(query, inference, stream)
    query = rewrite.bind_data_load_time(query, data_load_time)
    rewrite.name_columns(query)
    try:
        return query.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise SigmaSqlError(f"Unsupported SQL construct: {_plain(str(error))}") from error


def run_query(
    cursor: duckdb.DuckDBPyConnection, sql: str, out_path: Path, *, data_load_time: datetime, account: str
) -> tuple[int, list[str]]:
    """Run ``sql`` as ``account`` saw the data at ``data_load_time`` and write the result CSV.

    ``cursor`` must be a DuckDB connection of its own (``connection.cursor()``): the run's
    visibility lives in its session variables. Returns the row count and the column names.
    """
    duckdb_sql = translate(sql, data_load_time, column_types(cursor))
    cursor.execute("SET integer_division = true")
    cursor.execute("SET TimeZone = 'UTC'")
    cursor.execute(
        "SET VARIABLE sigma_data_load_time = CAST($t AS TIMESTAMP)", {"t": naive_utc(data_load_time)}
    )
    cursor.execute("SET VARIABLE sigma_account = $a", {"a": account})
    try:
        names = [row[0] for row in cursor.execute(f"DESCRIBE {duckdb_sql}").fetchall()]
        header = [name.lower() for name in names]  # Trino's column names are lower case
        if header == names and len(set(names)) == len(names):
            written = _copy(cursor, duckdb_sql, out_path, header=True)
        else:
            # DuckDB's COPY renames duplicate columns (id, id_1); Trino keeps both names. Write
            # the rows under positional names and the real header in front of them.
            positional = ", ".join(f'"c{i}"' for i in range(len(names)))
            body = out_path.with_name(out_path.name + ".rows")
            renamed = f"SELECT * FROM ({duckdb_sql}) AS sigma_result({positional})"  # noqa: S608 - translated query
            written = _copy(cursor, renamed, body, header=False)
            with out_path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle, lineterminator="\n").writerow(header)
                with body.open(encoding="utf-8", newline="") as rows:
                    shutil.copyfileobj(rows, handle)
            body.unlink()
    except duckdb.Error as error:
        source = Source(sql)
        raise translate_duckdb(str(error), source, _parsed_or_none(source)) from error
    return written, header


def _copy(cursor: duckdb.DuckDBPyConnection, sql: str, path: Path, *, header: bool) -> int:
    written = cursor.execute(
        f"COPY ({sql}) TO $path (FORMAT csv, HEADER {str(header).lower()}, "
        f"TIMESTAMPFORMAT '{_TIMESTAMP_FORMAT}')",
        {"path": str(path)},
    ).fetchone()
    return int(written[0]) if written else 0


def _parsed_or_none(source: Source):  # type: ignore[no-untyped-def]
    """The user's query as parsed, to point DuckDB's errors at the user's SQL."""
    try:
        return dialect.parse(source)
    except SigmaSqlError:
        return None


def _plain(message: str) -> str:
    return message.replace("<class 'sqlglot.expressions.", "").replace("'>", "").strip()
