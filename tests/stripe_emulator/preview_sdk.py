"""A throwaway virtual environment holding Stripe's preview SDK, for the v2 contract test.

The project venv keeps the stable ``stripe`` the v1 tests use; the Data API v2 is only in the
private-preview SDK, so it lives in a venv of its own under ``.cache/preview-sdk/`` (made with
``python -m venv`` and ``pip install``, reused while it holds the pinned version). Building it needs
the package index; when pip cannot reach it, :class:`IndexUnreachable` says so and the test skips.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

PREVIEW_SDK = "stripe==16.1.0a4"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "preview-sdk"

# What pip prints when the index cannot be reached (as opposed to a broken install).
_OFFLINE_SIGNS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "Could not fetch URL",
    "ProxyError",
    "Max retries exceeded",
    "No matching distribution found",
    "Read timed out",
)


class IndexUnreachable(RuntimeError):
    """pip could not reach the package index to install the preview SDK."""


def preview_python(cache: Path = CACHE) -> Path:
    """The Python of a venv with :data:`PREVIEW_SDK` installed, built on first use.

    Safe to call from parallel test workers: a file lock serialises building, and a marker file
    written last says the venv is complete.
    """
    target = cache / PREVIEW_SDK.replace("==", "-")
    python = target / "bin" / "python"
    marker = target / ".complete"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and python.exists():
            return python
        shutil.rmtree(target, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(target)], "create the venv")
        install = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", PREVIEW_SDK]
        result = subprocess.run(install, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            shutil.rmtree(target, ignore_errors=True)
            if any(sign in output for sign in _OFFLINE_SIGNS):
                raise IndexUnreachable(
                    f"pip cannot reach the package index for {PREVIEW_SDK}: {output[-500:]}"
                )
            raise RuntimeError(f"pip install {PREVIEW_SDK} failed:\n{output}")
        marker.write_text(PREVIEW_SDK + "\n")
        return python


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"could not {what}: {result.stdout}{result.stderr}")
