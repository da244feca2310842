"""The deployment deploy/README.md describes, started for real: a gRPC code server run as the user
code image runs it (the Dockerfile's CMD, ``dagster api grpc``), the webserver and one daemon finding
it through deploy/workspace.yaml, all on one PostgreSQL-backed Dagster instance built from
deploy/dagster.yaml."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from project_services import (
    BIN,
    ROOT,
    DagsterGraphQL,
    Service,
    Services,
    free_port,
    wait_for_webserver,
    wait_until,
)

DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
INSTANCE_YAML = DEPLOY / "dagster.yaml"
WORKSPACE_YAML = DEPLOY / "workspace.yaml"
LOCATION = "stripe_reports"

# The daemons a backfill needs: one turns it into runs, the other starts queued runs.
REQUIRED_DAEMONS = ("BACKFILL", "QUEUED_RUN_COORDINATOR")


def image_command() -> list[str]:
    """The user code image's CMD (the Dockerfile's exec form): how the code server runs in production."""
    [line] = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD ")]
    return list(json.loads(line.removeprefix("CMD ")))


def code_server_command(port: int) -> list[str]:
    """The image's CMD run from this checkout: the installed package's ``dagster``, on this machine's
    loopback and ``port`` instead of 0.0.0.0:4000, this checkout instead of the image's directory."""
    command = image_command()
    here = {"-h": "127.0.0.1", "-p": str(port), "-d": str(ROOT)}
    local = [str(BIN / command[0])]
    for previous, argument in pairwise(command):
        local.append(here.get(previous, argument))
    return local


def postgres_env(database_url: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads, for the database at ``database_url``."""
    url = sa.make_url(database_url)
    return {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.database or "",
    }


def write_instance_yaml(home: Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``$DAGSTER_HOME/dagster.yaml``: deploy/dagster.yaml with top-level sections replaced."""
    config = yaml.safe_load(INSTANCE_YAML.read_text())
    config.update(overrides)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


@dataclass
class Deployment:
    """A code server and the webserver (its UI and GraphQL API at ``url``), and the daemon once
    :meth:`start_daemon` has started it."""

    services: Services
    env: dict[str, str]
    url: str
    graphql: DagsterGraphQL
    code_server: Service
    webserver: Service
    daemons: list[Service] = field(default_factory=list)

    @property
    def daemon(self) -> Service:
        """The one daemon of the deployment."""
        [daemon] = self.daemons
        return daemon

    def start_daemon(self) -> Service:
        """``dagster-daemon run``; returns once the daemons a backfill needs report healthy."""
        daemon = self.services.start(
            "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE_YAML)], self.env
        )
        self.daemons.append(daemon)

        def healthy() -> bool:
            self.ensure_running()
            statuses = self.graphql.query(_DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
            return set(REQUIRED_DAEMONS) <= {s["daemonType"] for s in statuses if s["healthy"]}

        wait_until(healthy, daemon, timeout=180, what="the daemon's heartbeats", interval=1.0)
        return daemon

    def ensure_running(self) -> None:
        """Raise, with its log, if any service has stopped."""
        for service in (self.code_server, self.webserver, *self.daemons):
            service.ensure_running()


def start_deployment(services: Services, env: Mapping[str, str]) -> Deployment:
    """The code server, then the webserver loading the location from it through deploy/workspace.yaml."""
    code_port, web_port = free_port(), free_port()
    env = {**env, "DAGSTER_CODE_SERVER_HOST": "127.0.0.1", "DAGSTER_CODE_SERVER_PORT": str(code_port)}
    code_server = services.start("code-server", code_server_command(code_port), env)
    health_check = [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(code_port)]

    def serving() -> bool:
        return subprocess.run(health_check, env=env, capture_output=True, timeout=60).returncode == 0

    # The webserver and the daemon load the code location when they start: it must be serving.
    wait_until(serving, code_server, timeout=180, what="the code server's health check", interval=1.0)
    webserver = services.start(
        "webserver",
        [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE_YAML), "-h", "127.0.0.1", "-p", str(web_port)],
        env,
    )
    url = f"http://127.0.0.1:{web_port}"
    wait_for_webserver(url, webserver)
    return Deployment(services, env, url, DagsterGraphQL(url), code_server, webserver)


_DAEMON_HEALTH = """
query { instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }
"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""
