"""README's automation table lists exactly the schedules, sensors and jobs Dagster loads.

Each row's name, kind, default status and cadence come from the project's own definitions (the
code location of workspace.yaml), so the table cannot drift: a schedule, sensor or job added,
renamed, retimed or switched on without its README row fails here, and the failure prints the rows
the README should hold.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HEADER = "| name | kind | on by default | cadence | what it does |"
# Alerts exist only when a destination is configured; the table lists them as configured.
ALERTS_DESTINATION = "STRIPE_REPORTS_ALERT_WEBHOOK_URL"


def _cadence_of_sensor(seconds: int | None) -> str:
    seconds = seconds or 30  # Dagster's default interval
    if seconds % 3600 == 0:
        return f"every {seconds // 3600} h"
    if seconds % 60 == 0:
        return f"every {seconds // 60} min"
    return f"every {seconds} s"


def _on(status: object) -> str:
    return "yes" if getattr(status, "value", status) == "RUNNING" else "no"


def loaded_rows(defs: dg.Definitions) -> list[tuple[str, str, str, str]]:
    """(name, kind, on by default, cadence) of every schedule, sensor and job, as the README writes them."""
    rows = []
    for schedule in defs.schedules or ():
        assert isinstance(schedule, dg.ScheduleDefinition)
        cadence = f"`{schedule.cron_schedule}` {schedule.execution_timezone or 'UTC'}"
        rows.append((schedule.name, "schedule", _on(schedule.default_status), cadence))
    for sensor in defs.sensors or ():
        assert isinstance(sensor, dg.SensorDefinition)
        cadence = _cadence_of_sensor(sensor.minimum_interval_seconds)
        rows.append((sensor.name, "sensor", _on(sensor.default_status), cadence))
    for job in defs.jobs or ():
        rows.append((job.name, "job", "—", "when launched"))
    return sorted(rows)


def readme_rows(text: str) -> list[tuple[str, str, str, str]]:
    """The rows of README's automation table, with each row's description checked to be there."""
    lines = text.splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 5 and cells[4], f"README row without a description: {line}"
        name = re.sub(r"^`|`$", "", cells[0])
        rows.append((name, cells[1], cells[2], cells[3]))
    return sorted(rows)


@pytest.fixture(scope="module")
def project_defs() -> dg.Definitions:
    with pytest.MonkeyPatch.context() as env:
        # No key: the load skips its check against Stripe; an alert destination: alerts exist.
        env.delenv("STRIPE_API_KEY", raising=False)
        env.setenv(ALERTS_DESTINATION, "https://alerts.example.com/stripe-reports")
        env.syspath_prepend(str(ROOT))
        from definitions import defs

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return defs() if callable(defs) else defs


def test_the_readme_lists_every_schedule_sensor_and_job_with_its_default_and_cadence(
    project_defs: dg.Definitions,
) -> None:
    loaded = loaded_rows(project_defs)
    listed = readme_rows(README.read_text())

    expected = "\n".join(f"| `{n}` | {k} | {on} | {c} | … |" for n, k, on, c in loaded)
    assert listed == loaded, f"README's automation table should hold these rows:\n{expected}"


def test_the_readme_names_the_dev_ports_that_scripts_dev_sh_reads() -> None:
    script = (ROOT / "scripts" / "dev.sh").read_text()
    readme = README.read_text()

    for variable, default in re.findall(r"\$\{([A-Z_]+_PORT):-(\d+)\}", script):
        assert f"| `{variable}` | {default} |" in readme, variable
