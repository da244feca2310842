"""One month's report end to end over HTTP: the emulator serves it from its own process, the
pipeline's Stripe client creates the run, waits, downloads the file and the loader commits it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.files import DATA_LOAD_TIME, DAYS, SEED

STARTUP_TIMEOUT = 900.0  # seconds; the emulator generates all its data before it answers


class EmulatorFailed(RuntimeError):
    """The emulator process did not come up; the message holds the end of its log."""


@contextmanager
def emulator(scale: int, workdir: Path) -> Iterator[tuple[str, float]]:
    """Serve the benchmark month at ``scale`` with ``stripe-emulator serve`` in a child process.

    Yields the base URL and the seconds the emulator took to generate its data and start.
    A process of its own, as Stripe is another machine: serving the file does not compete with
    the pipeline for the interpreter lock.
    """
    url_file = workdir / "emulator.url"
    log_path = workdir / "emulator.log"
    command = [
        sys.executable,
        "-m",
        "stripe_emulator",
        "serve",
        "--port",
        "0",
        "--seed",
        str(SEED),
        "--days",
        str(DAYS),
        "--data-load-time",
        DATA_LOAD_TIME.isoformat(),
        "--scale",
        str(scale),
        "--print-url-file",
        str(url_file),
        "--log-level",
        "WARNING",
    ]
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not url_file.exists():
            if process.poll() is not None:
                raise EmulatorFailed(f"the emulator exited with {process.returncode}:\n{_tail(log_path)}")
            if time.perf_counter() - started > STARTUP_TIMEOUT:
                raise EmulatorFailed(f"the emulator did not start in {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield url_file.read_text().strip(), time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text().strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
