"""``python -m bench.load`` at a tiny size: it finishes, loads every row on every path and prints
its table, the end-to-end phases and the ratios last. No figure is judged."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_at_2k_rows_prints_every_section(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--sizes",
            "2k",
            "--repeats",
            "1",
            "--to-sql-max-rows",
            "2k",
            "--no-postgres",
            "--cache-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, completed.stderr[-3000:] + output[-3000:]

    (generated,) = tmp_path.glob("*-2k-*.csv")
    with generated.open() as handle:
        file_rows = sum(1 for _ in handle) - 1  # no field of this report spans lines

    table = {}
    for line in output.splitlines():
        match = re.match(r"^\s+2k\s+([\d,]+)\s+(.+?)\s{2,}([\d.]+)\s+([\d,]+)\s+(\d+)\s+(\d+)$", line)
        if match:
            table[match.group(2)] = int(match.group(1).replace(",", ""))
    assert set(table) == {
        "ours -> DuckDB",
        "ours -> DuckDB, scanned while downloading",
        "DuckDB read_csv -> table (native)",
        "DuckDB read_csv (native), loader's settings",
        "pandas read_csv + to_sql -> DuckDB",
    }, output
    assert set(table.values()) == {file_rows}, output

    assert re.search(rf"report run: .*, {file_rows:,} rows", output), output
    assert re.search(r"job created -> rows committed\s+[\d.]+ s", output), output
    ratios = output[output.index("\nRatios\n") :].strip().splitlines()
    assert ratios[0] == "Ratios"
    assert any("ours -> DuckDB / DuckDB native, 2k" in line for line in ratios[1:]), output
    assert any("scanned while downloading" in line for line in ratios[1:]), output
    assert all(line.startswith("  ") for line in ratios[1:]), "the ratios end the output"
