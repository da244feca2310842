"""Hearing when a run fails: a run-failure sensor posting to a webhook, Slack or email.

Off unless the environment names a destination (any of them, several at once):

* ``STRIPE_REPORTS_ALERT_WEBHOOK_URL`` — a JSON ``POST`` (``text`` plus the fields, see
  :class:`FailureAlert`); Slack and Teams incoming webhooks accept it as it is;
* ``STRIPE_REPORTS_ALERT_SLACK_CHANNEL`` with ``STRIPE_REPORTS_ALERT_SLACK_TOKEN`` — a bot token,
  posted through ``dagster-slack`` (the ``alerts`` extra);
* ``STRIPE_REPORTS_ALERT_EMAIL_TO`` (comma-separated) with ``STRIPE_REPORTS_ALERT_EMAIL_SMTP_HOST``
  and optionally ``…_EMAIL_SMTP_PORT`` (587), ``…_EMAIL_SMTP_USER``, ``…_EMAIL_SMTP_PASSWORD``,
  ``…_EMAIL_FROM``, ``…_EMAIL_SMTP_STARTTLS`` (``true``).

``STRIPE_REPORTS_ALERT_DAGSTER_URL`` (the webserver's address) adds a link to the run. The message
names the assets, the partitions and the failure as the pipeline phrased it, and whether the
freshness sensor will try again. Values are read when the sensor ticks, in the code server; every
secret the environment holds (the Stripe key, passwords, tokens, the webhook's own URL) is removed
from the text before it leaves, and so is anything shaped like a Stripe key or a URL's password.
"""

from __future__ import annotations

import os
import re
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Protocol

import dagster as dg
import httpx

from pipelines.assets import PERMANENT_FAILURE_TAG
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG

ALERT_SENSOR = "stripe_run_failure_alerts"

PREFIX = "STRIPE_REPORTS_ALERT_"
WEBHOOK_URL = f"{PREFIX}WEBHOOK_URL"
SLACK_CHANNEL = f"{PREFIX}SLACK_CHANNEL"
SLACK_TOKEN = f"{PREFIX}SLACK_TOKEN"
EMAIL_TO = f"{PREFIX}EMAIL_TO"
EMAIL_FROM = f"{PREFIX}EMAIL_FROM"
EMAIL_SMTP_HOST = f"{PREFIX}EMAIL_SMTP_HOST"
EMAIL_SMTP_PORT = f"{PREFIX}EMAIL_SMTP_PORT"
EMAIL_SMTP_USER = f"{PREFIX}EMAIL_SMTP_USER"
EMAIL_SMTP_PASSWORD = f"{PREFIX}EMAIL_SMTP_PASSWORD"
EMAIL_SMTP_STARTTLS = f"{PREFIX}EMAIL_SMTP_STARTTLS"
DAGSTER_URL = f"{PREFIX}DAGSTER_URL"

ENVIRONMENT = (
    WEBHOOK_URL,
    SLACK_CHANNEL,
    SLACK_TOKEN,
    EMAIL_TO,
    EMAIL_FROM,
    EMAIL_SMTP_HOST,
    EMAIL_SMTP_PORT,
    EMAIL_SMTP_USER,
    EMAIL_SMTP_PASSWORD,
    EMAIL_SMTP_STARTTLS,
    DAGSTER_URL,
)
"""Every variable the alerts read (deploy/ passes the same names)."""

SECRET_VARIABLES = (
    "STRIPE_API_KEY",
    "WAREHOUSE_URL",
    "DAGSTER_PG_PASSWORD",
    WEBHOOK_URL,
    SLACK_TOKEN,
    EMAIL_SMTP_PASSWORD,
)
"""Variables whose values never appear in an alert, wherever a message might have quoted them."""

MAX_REASON_CHARACTERS = 2000

_STRIPE_KEY = re.compile(r"\b((?:sk|rk|pk)_(?:live|test))_[A-Za-z0-9]{6,}")
_SLACK_TOKEN = re.compile(r"\bxox[a-z]-[A-Za-z0-9-]{8,}")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


@dataclass(frozen=True)
class FailureAlert:
    """What a failed run tells: the fields of the webhook's JSON, and its ``text``."""

    run_id: str
    job: str
    assets: tuple[str, ...]
    partitions: str | None
    permanent: bool
    reasons: tuple[str, ...]
    run_url: str | None

    @property
    def text(self) -> str:
        """The message, one line per failed asset."""
        what = ", ".join(self.assets) or self.job
        where = f" {self.partitions}" if self.partitions else ""
        lines = [f"Stripe reports run failed: {what}{where} (run {self.run_id})"]
        lines += [f"• {reason}" for reason in self.reasons]
        lines.append(
            "Permanent: not retried until the catalogue entry changes."
            if self.permanent
            else "Transient: the freshness sensor requests it again after a backoff."
        )
        if self.run_url:
            lines.append(self.run_url)
        return "\n".join(lines)

    def payload(self) -> dict[str, object]:
        """The webhook's JSON body."""
        return {"text": self.text, **asdict(self)}


class Sink(Protocol):
    """Somewhere an alert goes."""

    name: str

    def send(self, alert: FailureAlert, text: str) -> None:
        """Deliver ``text`` (already scrubbed) about ``alert``; raise if it could not be delivered."""
        ...


@dataclass(frozen=True)
class WebhookSink:
    """A JSON POST, with httpx."""

    url: str
    name: str = "webhook"
    timeout_seconds: float = 10.0

    def send(self, alert: FailureAlert, text: str) -> None:
        body = {**alert.payload(), "text": text}
        httpx.post(self.url, json=body, timeout=self.timeout_seconds).raise_for_status()


@dataclass(frozen=True)
class SlackSink:
    """A message in a channel, through dagster-slack's client."""

    channel: str
    token: str
    name: str = "slack"
    #: Slack's Web API unless set (a proxy in front of it).
    api_url: str | None = None

    def send(self, alert: FailureAlert, text: str) -> None:
        from dagster_slack import SlackResource

        client = SlackResource(token=self.token).get_client()
        if self.api_url:
            client.base_url = self.api_url
        client.chat_postMessage(channel=self.channel, text=text)


@dataclass(frozen=True)
class EmailSink:
    """A plain-text email over SMTP (STARTTLS unless turned off)."""

    host: str
    recipients: tuple[str, ...]
    sender: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    name: str = "email"

    def send(self, alert: FailureAlert, text: str) -> None:
        message = EmailMessage()
        message["Subject"] = text.splitlines()[0]
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


def sinks_from_env(environ: Mapping[str, str]) -> list[Sink]:
    """The destinations the environment configures (none: alerts are off)."""
    sinks: list[Sink] = []
    if environ.get(WEBHOOK_URL):
        sinks.append(WebhookSink(environ[WEBHOOK_URL]))
    if environ.get(SLACK_CHANNEL):
        if not environ.get(SLACK_TOKEN):
            raise ValueError(f"{SLACK_CHANNEL} is set but {SLACK_TOKEN} is not: set the bot token too")
        sinks.append(SlackSink(environ[SLACK_CHANNEL], environ[SLACK_TOKEN]))
    if environ.get(EMAIL_TO):
        if not environ.get(EMAIL_SMTP_HOST):
            raise ValueError(f"{EMAIL_TO} is set but {EMAIL_SMTP_HOST} is not: name the SMTP server")
        recipients = tuple(a.strip() for a in environ[EMAIL_TO].split(",") if a.strip())
        sinks.append(
            EmailSink(
                host=environ[EMAIL_SMTP_HOST],
                recipients=recipients,
                sender=environ.get(EMAIL_FROM) or recipients[0],
                port=int(environ.get(EMAIL_SMTP_PORT) or 587),
                user=environ.get(EMAIL_SMTP_USER) or None,
                password=environ.get(EMAIL_SMTP_PASSWORD) or None,
                starttls=(environ.get(EMAIL_SMTP_STARTTLS) or "true").lower() not in ("0", "false", "no"),
            )
        )
    return sinks


def alerts_configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment names any destination."""
    return any(environ.get(name) for name in (WEBHOOK_URL, SLACK_CHANNEL, EMAIL_TO))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` (and without anything shaped like a key or a password)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "****")
    text = _STRIPE_KEY.sub(r"\1_****", text)
    text = _SLACK_TOKEN.sub("xox*-****", text)
    text = _URL_PASSWORD.sub(r"\1****@", text)
    return _BEARER.sub(r"\1 ****", text)


def secrets_in(environ: Mapping[str, str]) -> list[str]:
    """The secret values of ``environ``, with the password of each URL among them on its own."""
    values = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]
    passwords = [m.group(1) for v in values for m in re.finditer(r"://[^/\s:@]*:([^/\s@]+)@", v)]
    return values + passwords


def failure_alert(context: dg.RunFailureSensorContext, dagster_url: str | None = None) -> FailureAlert:
    """The alert for the run ``context`` reports: its assets, partitions and step failures."""
    run = context.dagster_run
    tags = run.tags
    if "dagster/partition" in tags:
        partitions: str | None = tags["dagster/partition"]
    elif RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        partitions = f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}"
    else:
        partitions = None
    steps = context.get_step_failure_events()
    names = {key.to_python_identifier(): key.to_user_string() for key in run.asset_selection or ()}
    assets = [names.get(e.step_key or "", _asset_name(e.step_key or "")) for e in steps]
    assets = list(dict.fromkeys(assets or sorted(names.values())))
    reasons = [f"{_asset_name(e.step_key or '')}: {_reason(e)}" for e in steps]
    if not reasons:
        reasons = [_first_lines(context.failure_event.message or "the run failed before any step ran")]
    url = f"{dagster_url.rstrip('/')}/runs/{run.run_id}" if dagster_url else None
    return FailureAlert(
        run_id=run.run_id,
        job=run.job_name,
        assets=tuple(assets),
        partitions=partitions,
        permanent=tags.get(PERMANENT_FAILURE_TAG) == "permanent",
        reasons=tuple(reasons),
        run_url=url,
    )


def build_failure_alert_sensor(
    environ: Mapping[str, str] = os.environ, *, minimum_interval_seconds: int = 30
) -> dg.SensorDefinition | None:
    """The run-failure sensor, when the environment names a destination; else None (alerts off).

    It starts stopped like all automation; a destination that cannot be reached fails the tick,
    naming the destination, so the failure shows on the sensor's page.
    """
    if not alerts_configured(environ):
        return None

    @dg.run_failure_sensor(
        name=ALERT_SENSOR,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Posts each failed run (assets, partitions, Stripe's reason) to the configured "
        "webhook, Slack channel or email.",
    )
    def _sensor(context: dg.RunFailureSensorContext) -> None:
        send_alert(context, environ)

    return _sensor


def send_alert(context: dg.RunFailureSensorContext, environ: Mapping[str, str]) -> FailureAlert:
    """Build the run's alert and deliver it to every configured destination."""
    alert = failure_alert(context, environ.get(DAGSTER_URL) or None)
    secrets = secrets_in(environ)
    text = scrub(alert.text, secrets)
    scrubbed = FailureAlert(
        run_id=alert.run_id,
        job=alert.job,
        assets=alert.assets,
        partitions=alert.partitions,
        permanent=alert.permanent,
        reasons=tuple(scrub(r, secrets) for r in alert.reasons),
        run_url=alert.run_url,
    )
    undelivered: list[str] = []
    for sink in sinks_from_env(environ):
        try:
            sink.send(scrubbed, text)
        except Exception as error:
            undelivered.append(f"{sink.name}: {scrub(f'{type(error).__name__}: {error}', secrets)}")
    if undelivered:
        raise RuntimeError(f"the alert for run {alert.run_id} was not delivered to " + "; ".join(undelivered))
    context.log.info(f"alert for run {alert.run_id} sent")
    return scrubbed


def _asset_name(step_key: str) -> str:
    # The factory names each asset's op after its key (stripe/x -> stripe__x).
    return step_key.replace("__", "/")


def _reason(event: dg.DagsterEvent) -> str:
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return _first_lines(data.user_failure_data.description)
    if data.error is not None:
        cause = data.error
        while cause.cause is not None and cause.cls_name in _WRAPPERS:
            cause = cause.cause
        return _first_lines(cause.message)
    return "the step failed"


_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def _first_lines(text: str, limit: int = MAX_REASON_CHARACTERS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
