"""The project's long-running processes for end-to-end tests: the Stripe emulator and Dagster's
services (``dagster dev``, webserver, daemon, code server), started the way an operator starts them.

Each process runs in a process group of its own with its output in a log file, so a failing test
stops everything it started (run workers and step processes included) and says what the
process printed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now, for a service that only takes a fixed port."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceExited(RuntimeError):
    """A service stopped while a test still needed it; the message holds the end of its log."""


@dataclass
class Service:
    """One started process (and its process group) with its combined output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 60) -> str:
        """The last lines the process printed."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def ensure_running(self) -> None:
        """Raise :class:`ServiceExited` (with the log's end) if the process has stopped."""
        code = self.process.poll()
        if code is not None:
            raise ServiceExited(f"{self.name} exited with status {code}:\n{self.tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left after ``grace`` seconds."""
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        # Children (run workers, step processes, code servers) share the group and may outlive
        # the leader: the group is done only when nothing in it answers a signal any more.
        deadline = time.monotonic() + grace
        while _signal_group(pgid, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Services:
    """Starts processes and stops all of them, newest first, when the ``with`` block ends."""

    logs: Path
    started: list[Service] = field(default_factory=list)

    def __enter__(self) -> Services:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop_all()

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path = ROOT) -> Service:
        """Start ``argv`` in a new session (its own process group), output appended to ``<name>.log``."""
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, process, log)
        self.started.append(service)
        return service

    def stop_all(self) -> None:
        """Stop every started service, the last started first."""
        while self.started:
            self.started.pop().stop()

    def start_emulator(self, workdir: Path, *, data_load_time: str, run_delay: float = 0.05) -> str:
        """The ``stripe-emulator`` console script on a free port; returns its base URL once it serves."""
        url_file = workdir / "emulator.url"
        service = self.start(
            "stripe-emulator",
            [
                str(BIN / "stripe-emulator"),
                "serve",
                "--port",
                "0",
                "--data-load-time",
                data_load_time,
                "--run-delay",
                str(run_delay),
                "--rate-limit",
                "1000",
                "--test-rate-limit",
                "1000",
                "--print-url-file",
                str(url_file),
            ],
            os.environ,
        )
        wait_until(url_file.exists, service, timeout=180, what="the emulator to write its URL")
        return url_file.read_text().strip()


def wait_until(
    condition: Any, service: Service | None, *, timeout: float, what: str, interval: float = 0.5
) -> None:
    """Poll ``condition()`` until it is truthy; fail early if ``service`` dies, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if service is not None:
            service.ensure_running()
        if condition():
            return
        if time.monotonic() > deadline:
            tail = f"\n{service.name} log:\n{service.tail()}" if service is not None else ""
            raise TimeoutError(f"gave up waiting {timeout:.0f}s for {what}{tail}")
        time.sleep(interval)


def wait_for_webserver(url: str, service: Service, timeout: float = 240) -> None:
    """Wait until the Dagster webserver at ``url`` answers and its code location has loaded."""

    def ready() -> bool:
        try:
            data = DagsterGraphQL(url).query(_LOCATIONS)
        except (httpx.HTTPError, GraphQLError):
            return False
        entries = data["workspaceOrError"].get("locationEntries", [])
        # LOADED also covers a location that failed to load: it must have loaded a repository.
        return bool(entries) and all(
            e["loadStatus"] == "LOADED"
            and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            for e in entries
        )

    wait_until(ready, service, timeout=timeout, what=f"the Dagster webserver at {url}", interval=1.0)


_LOCATIONS = """
query {
  workspaceOrError {
    ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename } } }
  }
}
"""


class GraphQLError(RuntimeError):
    """The webserver answered a GraphQL request with errors."""


@dataclass
class DagsterGraphQL:
    """The GraphQL API the Dagster webserver serves at ``/graphql`` (what its UI itself calls)."""

    url: str

    def query(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``document``; returns ``data`` or raises :class:`GraphQLError` with the errors."""
        response = httpx.post(
            f"{self.url}/graphql", json={"query": document, "variables": dict(variables or {})}, timeout=60
        )
        # The webserver answers resolver errors with a 500 *and* a body naming the error.
        try:
            body = response.json()
        except ValueError:
            body = {}
        if body.get("errors"):
            raise GraphQLError("; ".join(str(e.get("message", e)) for e in body["errors"]))
        if response.is_error or "data" not in body:
            raise GraphQLError(f"HTTP {response.status_code}: {response.text[:2000]}")
        return dict(body["data"])


def dagster_env(
    home: Path, *, emulator_url: str, api_key: str, warehouse_url: str, extra: Mapping[str, str] = {}
) -> dict[str, str]:
    """The environment of every Dagster process: the instance's home, Stripe and the warehouse."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "STRIPE_API_KEY": api_key,
        "STRIPE_API_BASE": emulator_url,
        "STRIPE_FILES_BASE": emulator_url,
        "WAREHOUSE_URL": warehouse_url,
        **extra,
    }
    # The outer pytest's own settings must not leak into the services' Python processes.
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    return env
