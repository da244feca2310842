"""The deployment files agree with the code: the Dockerfile's CMD is the code server the deployment
test runs, and docker-compose.yaml and the Helm values run that image with that command and pass
every variable the pipeline, Dagster's instance and workspace files, and the alerts read — and
only those — so none of them drifts from the code silently."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from deployment import DEPLOY, DOCKERFILE, INSTANCE_YAML, WORKSPACE_YAML, code_server_command, image_command
from project_services import BIN, ROOT

from pipelines import alerts
from pipelines.project import resources_from_env

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
HELM = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
[USER_DEPLOYMENT] = HELM["dagster-user-deployments"]["deployments"]
SERVICES = COMPOSE["services"]
GRPC = ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p"]


def _env_references(path: Path) -> set[str]:
    """Variables a Dagster YAML file reads with ``{env: NAME}``."""
    return set(re.findall(r"\{env:\s*([A-Z_]+)\}", path.read_text()))


def _pipeline_variables() -> set[str]:
    """What the code location reads: the resources' variables and its component's ``env(...)``."""

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return default

    read: set[str] = set()
    resources = resources_from_env(Recording())
    read |= {
        value.env_var_name
        for resource in resources.values()
        for value in vars(resource).values()
        if hasattr(value, "env_var_name")
    }
    defs_yaml = (ROOT / "pipelines" / "defs" / "stripe_reports" / "defs.yaml").read_text()
    read |= set(re.findall(r"env\('([A-Z_]+)'", defs_yaml)) | set(re.findall(r"_env: ([A-Z_]+)", defs_yaml))
    return read


def _dockerfile(instruction: str) -> list[str]:
    return [
        line.removeprefix(f"{instruction} ").strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith(f"{instruction} ")
    ]


def _compose_env(service: str) -> dict[str, str]:
    return {name: str(value) for name, value in (SERVICES[service].get("environment") or {}).items()}


def test_the_image_runs_the_code_server_the_deployment_test_starts() -> None:
    command = image_command()
    assert command[: len(GRPC)] == GRPC
    arguments = dict(zip(command[len(GRPC) - 1 :: 2], command[len(GRPC) :: 2], strict=True))
    assert arguments["-m"] == "definitions"
    # The working directory the code server loads from is the image's project root.
    [workdir] = _dockerfile("WORKDIR")
    assert arguments["-d"] == workdir
    assert (ROOT / "definitions.py").exists()

    local = code_server_command(port=4123)

    assert local[0] == str(BIN / "dagster")
    assert local[1:] == [
        {"0.0.0.0": "127.0.0.1", "4000": "4123", workdir: str(ROOT)}.get(a, a) for a in command[1:]
    ]


def test_compose_and_helm_run_that_image_and_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    port = image_command()[len(GRPC)]
    images = {SERVICES[s]["image"].split(":")[0] for s in ("user_code", "webserver", "daemon", "emulator")}
    assert images == {project}
    assert SERVICES["user_code"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert "command" not in SERVICES["user_code"] and "entrypoint" not in SERVICES["user_code"]
    assert port in " ".join(SERVICES["user_code"]["healthcheck"]["test"])

    assert USER_DEPLOYMENT["image"]["repository"].rsplit("/", 1)[-1] == project
    assert str(USER_DEPLOYMENT["port"]) == port
    # The chart runs `dagster api grpc -h 0.0.0.0 -p <port>` followed by these arguments.
    assert USER_DEPLOYMENT["dagsterApiGrpcArgs"] == image_command()[len(GRPC) + 1 :]


def test_compose_passes_every_variable_the_code_and_dagsters_files_read_and_no_other() -> None:
    storage = _env_references(INSTANCE_YAML)
    code_server = _env_references(WORKSPACE_YAML)
    pipeline = _pipeline_variables()
    assert {"STRIPE_API_KEY", "WAREHOUSE_URL", "WAREHOUSE_SCHEMA", "STRIPE_API_BASE"} <= pipeline
    assert storage >= {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD"}
    assert code_server == {"DAGSTER_CODE_SERVER_HOST", "DAGSTER_CODE_SERVER_PORT"}

    assert set(_compose_env("user_code")) == storage | pipeline | set(alerts.ENVIRONMENT)
    for service in ("webserver", "daemon"):
        env = _compose_env(service)
        assert set(env) == storage | code_server, service
        assert env["DAGSTER_CODE_SERVER_HOST"] == "user_code"
        assert env["DAGSTER_CODE_SERVER_PORT"] == image_command()[len(GRPC)]
        assert "deploy/workspace.yaml" in SERVICES[service]["entrypoint"]
    # The image holds what those entrypoints name, at the paths they name.
    copied = " ".join(_dockerfile("COPY"))
    assert "deploy ./deploy" in copied and "deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in copied


def test_helm_takes_the_pipelines_variables_from_a_secret_or_plain_values() -> None:
    plain = {item["name"] for item in USER_DEPLOYMENT["env"]}
    secret_names = {item["name"] for item in USER_DEPLOYMENT["envSecrets"]}
    assert plain <= _pipeline_variables()
    assert not plain & {"STRIPE_API_KEY", "WAREHOUSE_URL"}, "secrets never go in plain values"
    assert secret_names == {s["name"] for s in HELM["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}
    # The Secret's keys are documented where an operator creates it.
    readme = (DEPLOY / "README.md").read_text()
    assert all(name in readme for name in ("STRIPE_API_KEY", "WAREHOUSE_URL", *secret_names))
