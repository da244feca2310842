"""Result files wait in a private directory that a killed run does not leave behind for long."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from pipelines.workdirs import run_workdir


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_runs_files_are_removed_when_the_next_run_starts(tmp_path: Path) -> None:
    stale = tmp_path / f"run-{_dead_pid()}-abcd"
    stale.mkdir()
    (stale / "frr_1.csv").write_text("email\nsomeone@example.com\n")

    with run_workdir(tmp_path) as workdir:
        assert not stale.exists()
        (workdir / "frr_2.csv").write_text("x\n")

    assert list(tmp_path.iterdir()) == []


def test_a_live_runs_directory_is_left_alone(tmp_path: Path) -> None:
    with run_workdir(tmp_path) as first, run_workdir(tmp_path) as second:
        assert first.exists() and second.exists() and first != second


def test_only_the_owner_can_read_the_files(tmp_path: Path) -> None:
    base = tmp_path / "work"
    with run_workdir(base) as workdir:
        for path in (base, workdir):
            assert stat.S_IMODE(path.stat().st_mode) == 0o700
