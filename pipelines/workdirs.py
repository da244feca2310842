"""Where result files wait between download and load: a private directory per run, swept when stale.

A result file holds customer data (emails, amounts). It lives in a directory only this user can
read, is removed when the run ends, and a run that was killed (so never cleaned up) has its
directory removed by the next run to start on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PREFIX = "run-"


def default_base() -> Path:
    """``$TMPDIR/stripe-report-pipelines-<uid>``: one private directory per user of the machine."""
    return Path(tempfile.gettempdir()) / f"stripe-report-pipelines-{os.getuid()}"


@contextmanager
def run_workdir(base: Path | None = None) -> Iterator[Path]:
    """A new private directory for one run's files; it and every stale run's directory are removed."""
    base = base or default_base()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is masked by the umask, and the directory may predate this code.
    base.chmod(0o700)
    sweep_stale(base)
    path = base / f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale(base: Path) -> list[Path]:
    """Remove the directories of runs whose process is gone; return what was removed."""
    removed = []
    for path in base.glob(f"{_PREFIX}*"):
        pid = path.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True
