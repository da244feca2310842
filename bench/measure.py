"""One measurement in a fresh process: load a file one way, report seconds, rows and memory.

Each measurement runs as ``python -m bench.measure '<json task>'`` so that its peak resident set
size is its own: nothing another measurement allocated, and no library another
path needed, is counted. The process prints one JSON line, the :class:`Measurement`.

Timing covers the load only (from the first byte read to the commit, connections closed);
imports and engine creation happen before the clock starts, and the resident set size at that
point is reported as the process's baseline.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.files import DATA_LOAD_TIME, REPORT_TYPE, daily_windows, report_parameters, report_spec

TABLE = "balance_change_from_activity"
SCHEMA = "stripe"
API_KEY = "sk_test_51BenchmarkKey00000000000000000000bench"


@dataclass(frozen=True)
class Measurement:
    """What one load took. ``phases`` (seconds) only for the end-to-end run."""

    rows: int
    seconds: float
    baseline_mib: float
    peak_rss_mib: float
    phases: dict[str, float] | None = None

    @property
    def rows_per_second(self) -> float:
        """Throughput over the timed part."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class MeasurementFailed(RuntimeError):
    """The measurement process exited with an error; the message holds the end of its output."""


def run(task: Mapping[str, Any], timeout: float = 3600.0) -> Measurement:
    """Run ``task`` (``{"kind": ..., ...}``) in a new Python process and return its measurement."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.measure", json.dumps(task)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-8:])
        raise MeasurementFailed(f"{task['kind']} failed (exit {completed.returncode}):\n{tail}")
    return Measurement(**json.loads(completed.stdout.strip().splitlines()[-1]))


# ---- inside the measurement process ------------------------------------------------------------------

Load = Callable[[], tuple[int, dict[str, float] | None]]
"""The timed part: returns the rows it loaded and, optionally, its phases."""


def _current_rss_mib() -> float:
    """The resident set size now."""
    return _proc_status_mib("VmRSS") or _peak_rss_mib()


def _peak_rss_mib() -> float:
    """The highest resident set size this process has had.

    On Linux ``ru_maxrss`` survives ``exec``: a child started from a large parent reports the
    parent's peak. The high-water mark of the process's own address space (``VmHWM``) starts afresh
    at ``exec``, so it is used where it exists.
    """
    own = _proc_status_mib("VmHWM")
    if own is not None:
        return own
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _proc_status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _our_loader(task: Mapping[str, Any]) -> Load:
    """The project's loader, as a monthly backfill chunk calls it."""
    from pipelines.warehouse import LoadSpec, Warehouse
    from pipelines.warehouse.scan import scan_file

    warehouse = Warehouse(task["url"], schema=SCHEMA)
    spec = report_spec()
    load_spec = LoadSpec(
        table=TABLE,
        columns=spec.columns,
        windows=daily_windows(),
        split_column=spec.split_column,
        lineage={"_stripe_run_id": "frr_benchmark", "_data_load_time": DATA_LOAD_TIME},
    )
    _import_driver(task["url"])
    # Untimed, as the download does it while the bytes arrive.
    scan = scan_file(Path(task["path"])) if task.get("scanned_while_downloading") else None

    def load() -> tuple[int, dict[str, float] | None]:
        result = warehouse.replace_windows(Path(task["path"]), load_spec, scan=scan)
        warehouse.dispose()
        return result.rows, None

    return load


_NATIVE_READ = "CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, columns = ?, auto_detect = false)"
_NATIVE_READ_BUFFERED = _NATIVE_READ.removesuffix(")") + ", buffer_size = ?)"


def _duckdb_native(task: Mapping[str, Any]) -> Load:
    """DuckDB on its own: ``CREATE TABLE ... AS SELECT * FROM read_csv(...)`` with the same column types."""
    import duckdb

    from pipelines.warehouse.logical_types import parse_type

    types = {column.name: parse_type(column.type).duckdb_name() for column in report_spec().columns}
    connection = duckdb.connect(task["database"], config=dict(task.get("duckdb_config", {})))
    # DuckDB's own read buffer unless the task names one (as the loader's settings do).
    statement, parameters = _NATIVE_READ, [task["path"], types]
    if task.get("buffer_size"):
        statement, parameters = _NATIVE_READ_BUFFERED, [*parameters, int(task["buffer_size"])]

    def load() -> tuple[int, dict[str, float] | None]:
        connection.execute(statement, parameters)
        rows = connection.execute("SELECT count(*) FROM t").fetchone()
        connection.close()  # includes the checkpoint that writes the table to the file
        return int(rows[0]) if rows else 0, None

    return load


def _postgres_native(task: Mapping[str, Any]) -> Load:
    """PostgreSQL on its own: ``COPY t FROM STDIN (FORMAT csv)`` into a table of the same column types."""
    import psycopg
    import sqlalchemy as sa
    from psycopg import sql
    from sqlalchemy.dialects import postgresql

    from pipelines.warehouse.logical_types import parse_type

    dialect = postgresql.dialect()
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(
            sql.Identifier(column.name),
            sql.SQL(parse_type(column.type).to_sqlalchemy().compile(dialect=dialect)),
        )
        for column in report_spec().columns
    )
    conninfo = sa.make_url(task["url"]).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(conninfo)

    def load() -> tuple[int, dict[str, float] | None]:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE TABLE t ({})").format(columns))
            with (
                cursor.copy("COPY t FROM STDIN (FORMAT csv, HEADER true)") as copy,
                Path(task["path"]).open("rb") as handle,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            rows = cursor.rowcount
        connection.commit()
        connection.close()
        return rows, None

    return load


def _pandas_to_sql(task: Mapping[str, Any]) -> Load:
    """The everyday way: ``pandas.read_csv`` then ``DataFrame.to_sql`` through SQLAlchemy."""
    import pandas as pd
    import sqlalchemy as sa

    url = sa.make_url(task["url"])
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    _import_driver(task["url"])
    timestamps = [column.name for column in report_spec().columns if column.type == "timestamp"]

    def load() -> tuple[int, dict[str, float] | None]:
        frame = pd.read_csv(task["path"], parse_dates=timestamps)
        frame.to_sql(TABLE, engine, index=False, if_exists="replace")
        engine.dispose()
        return len(frame), None

    return load


def _end_to_end(task: Mapping[str, Any]) -> Load:
    """One month's report through the Stripe client and the loader: create → wait → download → load."""
    from pipelines.stripe import FileDownloader, PollPolicy, ReportRunner, StripeClient
    from pipelines.warehouse import LoadSpec, Warehouse

    spec = report_spec()
    warehouse = Warehouse(task["url"], schema=SCHEMA)
    client = StripeClient(API_KEY, api_base=task["api_base"], files_base=task["api_base"], timeout=300.0)
    poll = PollPolicy()  # the production defaults (StripeResource)
    runner = ReportRunner(client, poll=poll)
    downloader = FileDownloader(client)
    destination = Path(task["download_to"])
    _import_driver(task["url"])

    def load() -> tuple[int, dict[str, float] | None]:
        created: list[float] = []
        started = time.perf_counter()
        run = runner.run(
            REPORT_TYPE,
            report_parameters(spec),
            idempotency_key=f"benchmark-{datetime.now(UTC).timestamp()}",
            on_created=lambda run_id: created.append(time.perf_counter()),
        )
        succeeded = time.perf_counter()
        downloaded = downloader.download(run.file_id, destination)
        fetched = time.perf_counter()
        result = warehouse.replace_windows(
            downloaded.path,
            LoadSpec(
                table=TABLE,
                columns=spec.columns,
                windows=daily_windows(),
                split_column=spec.split_column,
                lineage={"_stripe_run_id": run.id, "_data_load_time": DATA_LOAD_TIME},
            ),
            scan=downloaded.scan,  # made while the file arrived, as the landing passes it
        )
        committed = time.perf_counter()
        client.close()
        warehouse.dispose()
        destination.unlink(missing_ok=True)
        job_created = created[0] if created else started
        phases = {
            "creating the job": job_created - started,
            "waiting on Stripe": succeeded - job_created,
            "downloading": fetched - succeeded,
            "loading": committed - fetched,
            "megabytes": downloaded.size / 1e6,
        }
        return result.rows, phases

    return load


def _import_driver(url: str) -> None:
    # The database driver is imported on the first connection; importing it before the clock starts
    # keeps import time out of the figures and inside the baseline memory.
    if url.startswith("postgresql"):
        import psycopg  # noqa: F401
    elif url.startswith("duckdb"):
        import duckdb_engine  # noqa: F401


_KINDS: dict[str, Callable[[Mapping[str, Any]], Load]] = {
    "ours": _our_loader,
    "duckdb_native": _duckdb_native,
    "postgres_native": _postgres_native,
    "pandas_to_sql": _pandas_to_sql,
    "end_to_end": _end_to_end,
}


def main(argv: list[str]) -> None:
    """Run the task given as JSON in ``argv[0]`` and print its measurement as one JSON line."""
    task = json.loads(argv[0])
    load = _KINDS[task["kind"]](task)
    baseline = _current_rss_mib()
    started = time.perf_counter()
    rows, phases = load()
    seconds = time.perf_counter() - started
    measurement = Measurement(
        rows=rows, seconds=seconds, baseline_mib=baseline, peak_rss_mib=_peak_rss_mib(), phases=phases
    )
    print(json.dumps(asdict(measurement)))


if __name__ == "__main__":
    main(sys.argv[1:])
