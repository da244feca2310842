"""The report files the benchmarks load: one month of ``balance_change_from_activity.itemized.3``,
computed by the emulator at the scale that yields the wanted number of rows, cached under data/bench/.

Every file covers the same month (January 2026, 31 daily partitions, as one monthly backfill chunk);
only the merchant's size differs. The emulator settings of a file are ones its command line
accepts too, so ``stripe-emulator serve`` with them serves exactly the same report over HTTP.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.catalog import load_catalog
from pipelines.sources import ReportSource
from pipelines.warehouse import Window

if TYPE_CHECKING:
    from stripe_emulator import EmulatorConfig

REPORT_TYPE = "balance_change_from_activity.itemized.3"
ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "data" / "bench"
SEED = 42
DATA_LOAD_TIME = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
"""Stripe has loaded data until 03:00 on February 1st, so January is complete."""
DAYS = 31
INTERVAL_END = DATA_LOAD_TIME.replace(hour=0)
INTERVAL_START = INTERVAL_END - timedelta(days=DAYS)
_CALIBRATION_SCALE = 2_000
#: The largest file the emulator computes itself. Its in-memory data grows with the scale (about
#: 0.7 GB per 1,000 of scale for this month), so a 1M-row month (scale ~33,000) would need ~23 GB; a
#: larger file is this one with each record repeated, its balance transaction id made unique.
GENERATED_MAX_ROWS = 100_000
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


@dataclass(frozen=True)
class ReportFile:
    """A generated report file and the emulator settings that produced it."""

    label: str
    path: Path
    rows: int
    bytes: int
    scale: int
    seed: int
    days: int
    data_load_time: str
    generated: bool  # False when the file came from the cache
    copies: int = 1  # each record of the emulator's file this many times (see GENERATED_MAX_ROWS)

    @property
    def megabytes(self) -> float:
        """Size on disk in MB."""
        return self.bytes / 1e6


def parse_size(text: str) -> int:
    """``10k`` → 10,000; ``1M`` → 1,000,000; a plain number is a row count."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"not a row count: {text!r} (e.g. 2k, 100k, 1M)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])


def size_label(rows: int) -> str:
    """The short name of a target row count: 10000 → ``10k``."""
    if rows >= 1_000_000 and rows % 100_000 == 0:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1_000 and rows % 100 == 0:
        return f"{rows / 1_000:g}k"
    return str(rows)


def report_spec() -> ReportSource:
    """The catalogue's entry for the report (UTC partitions), whose columns are requested and loaded."""
    for spec in load_catalog().reports:
        if spec.report_type == REPORT_TYPE and spec.timezone == "UTC" and spec.connect is None:
            return spec
    raise LookupError(f"reports.yaml has no UTC entry for {REPORT_TYPE}")


def daily_windows() -> list[Window]:
    """The 31 daily partitions the month's file fills."""
    return [
        Window(
            key=(INTERVAL_START + timedelta(days=day)).date().isoformat(),
            start=INTERVAL_START + timedelta(days=day),
            end=INTERVAL_START + timedelta(days=day + 1),
        )
        for day in range(DAYS)
    ]


def report_parameters(spec: ReportSource) -> dict[str, object]:
    """The Reporting API parameters of the month's run, as the pipeline sends them."""
    return {
        "interval_start": int(INTERVAL_START.timestamp()),
        "interval_end": int(INTERVAL_END.timestamp()),
        "columns": [column.name for column in spec.columns],
    }


def report_files(
    targets: list[int], *, cache_dir: Path = CACHE_DIR, log: Callable[[str], None] = print
) -> dict[int, ReportFile]:
    """One file per target row count, from the cache when it holds one made with the same settings."""
    spec = report_spec()
    files: dict[int, ReportFile] = {}
    missing = []
    for target in targets:
        cached = _cached(target, spec, cache_dir)
        if cached is None:
            missing.append(target)
        else:
            files[target] = cached
    if missing:
        rows_per_scale_day = _calibrate(spec, cache_dir)
        for target in sorted(missing):
            if target > GENERATED_MAX_ROWS:
                base = report_files([GENERATED_MAX_ROWS], cache_dir=cache_dir, log=log)[GENERATED_MAX_ROWS]
                copies = max(1, round(target / base.rows))
                log(
                    f"writing the {size_label(target)}-row file ({base.label}-row file, "
                    f"each record {copies} times) ..."
                )
                files[target] = _repeat(target, base, copies, spec, cache_dir)
                continue
            scale = max(1, round(target / (rows_per_scale_day * DAYS)))
            log(f"generating the {size_label(target)}-row file (emulator scale {scale}) ...")
            files[target] = _generate(target, scale, spec, cache_dir)
    return files


def emulator_config(scale: int) -> EmulatorConfig:
    """The emulator configuration every benchmark file is generated with, at ``scale``."""
    # Imported here: measurement processes read this module and should not pay for the emulator.
    from stripe_emulator import EmulatorConfig

    return EmulatorConfig(seed=SEED, days=DAYS, data_load_time=DATA_LOAD_TIME, scale=scale)


def _paths(target: int, cache_dir: Path) -> tuple[Path, Path]:
    stem = f"{REPORT_TYPE.replace('.', '_')}-{size_label(target)}-seed{SEED}"
    return cache_dir / f"{stem}.csv", cache_dir / f"{stem}.json"


def _identity(spec: ReportSource) -> dict[str, object]:
    """What a cached file must have been made with to be reused."""
    return {
        "report_type": REPORT_TYPE,
        "seed": SEED,
        "days": DAYS,
        "data_load_time": DATA_LOAD_TIME.isoformat(),
        "columns": [column.name for column in spec.columns],
    }


def _cached(target: int, spec: ReportSource, cache_dir: Path) -> ReportFile | None:
    path, meta_path = _paths(target, cache_dir)
    if not path.exists() or not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    if meta.get("identity") != _identity(spec) or meta.get("bytes") != path.stat().st_size:
        return None
    if target > GENERATED_MAX_ROWS and "copies" not in meta:
        return None
    return ReportFile(
        label=size_label(target),
        path=path,
        rows=int(meta["rows"]),
        bytes=int(meta["bytes"]),
        scale=int(meta["scale"]),
        seed=SEED,
        days=DAYS,
        data_load_time=DATA_LOAD_TIME.isoformat(),
        generated=False,
        copies=int(meta.get("copies", 1)),
    )


def _calibrate(spec: ReportSource, cache_dir: Path) -> float:
    """Report rows per unit of emulator scale per day, from one small month.

    Measured rather than assumed: the emulator's mix of transaction kinds is its own business.
    """
    from stripe_emulator import Engine

    engine = Engine(emulator_config(_CALIBRATION_SCALE))
    path = cache_dir / ".calibration.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = engine.run_report(REPORT_TYPE, report_parameters(spec), path)
    path.unlink(missing_ok=True)
    return max(result.rows, 1) / (_CALIBRATION_SCALE * DAYS)


def _generate(target: int, scale: int, spec: ReportSource, cache_dir: Path) -> ReportFile:
    from stripe_emulator import Engine

    path, meta_path = _paths(target, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    engine = Engine(emulator_config(scale))
    result = engine.run_report(REPORT_TYPE, report_parameters(spec), partial)
    del engine  # its in-memory database is as large as the data
    os.replace(partial, path)
    size = path.stat().st_size
    meta = {"identity": _identity(spec), "rows": result.rows, "bytes": size, "scale": scale}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return ReportFile(
        label=size_label(target),
        path=path,
        rows=result.rows,
        bytes=size,
        scale=scale,
        seed=SEED,
        days=DAYS,
        data_load_time=DATA_LOAD_TIME.isoformat(),
        generated=True,
    )


def _repeat(target: int, base: ReportFile, copies: int, spec: ReportSource, cache_dir: Path) -> ReportFile:
    """``base`` with each record written ``copies`` times in a row (file order, so day order, kept),
    copy ``n`` of a record with ``-n`` appended to its first field (its balance transaction id)."""
    import csv

    path, meta_path = _paths(target, cache_dir)
    partial = path.with_name(f".{path.name}.partial")
    rows = 0
    with (
        base.path.open(newline="", encoding="utf-8") as source,
        partial.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.reader(source)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(next(reader))
        for record in reader:
            for copy in range(copies):
                writer.writerow([f"{record[0]}-{copy}", *record[1:]] if copy else record)
            rows += copies
    os.replace(partial, path)
    size = path.stat().st_size
    meta = {
        "identity": _identity(spec),
        "rows": rows,
        "bytes": size,
        "scale": base.scale,
        "copies": copies,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return ReportFile(
        label=size_label(target),
        path=path,
        rows=rows,
        bytes=size,
        scale=base.scale,
        seed=SEED,
        days=DAYS,
        data_load_time=DATA_LOAD_TIME.isoformat(),
        generated=True,
        copies=copies,
    )


def describe(file: ReportFile) -> str:
    """One line about a file, for the benchmark's header."""
    origin = "generated" if file.generated else "cached"
    where = file.path.relative_to(ROOT) if file.path.is_relative_to(ROOT) else file.path
    repeated = f", each record x{file.copies}" if file.copies > 1 else ""
    return (
        f"{file.label:>5}: {file.rows:>9,} rows, {file.megabytes:7.1f} MB, emulator scale {file.scale:,}"
        f"{repeated} ({origin}: {where})"
    )
