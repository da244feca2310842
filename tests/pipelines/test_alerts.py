"""Failure alerts: a run that fails at Stripe is posted to the configured webhook — a real HTTP
server here — naming the asset, the partitions and Stripe's reason, and never a secret."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import socketserver
import string
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from pipelines import alerts
from pipelines.automation import RANGE_END_TAG, RANGE_START_TAG
from pipelines.catalog import load_catalog
from pipelines.project import build_definitions
from pipelines.resources import StripeResource, WarehouseResource
from stripe_emulator.server import EmulatorServer


def _random(prefix: str, length: int = 32) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


class Receiver:
    """An HTTP server on a thread keeping every POSTed body; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((self.path, dict(self.headers)))
                answer = b'{"ok": true}'  # Slack's Web API answer; webhooks ignore the body
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{_random('', 24)}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def _failed_run(
    tmp_path: Path, emulator: EmulatorServer, instance: dg.DagsterInstance, api_key: str
) -> dg.ExecuteInProcessResult:
    """A ranged run of payouts that Stripe refuses: the key is not one of the account's."""
    (tmp_path / "reports.yaml").write_text("reports:\n  - report_type: payouts.itemized.3\n")
    catalog = load_catalog(tmp_path / "reports.yaml", tmp_path / "sql")
    stripe = StripeResource(api_key=api_key, api_base=emulator.url, files_base=emulator.url)
    warehouse = WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    defs = build_definitions(catalog, {"stripe": stripe, "warehouse": warehouse})
    result = dg.materialize(
        list(defs.assets),  # type: ignore[arg-type]
        instance=instance,
        resources=defs.resources,
        tags={RANGE_START_TAG: "2026-11-05", RANGE_END_TAG: "2026-11-07"},
        raise_on_error=False,
    )
    assert not result.success
    return result


def _context(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dg.RunFailureSensorContext:
    """What the daemon hands the run-failure sensor for the failed run."""
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    [failure] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert failure.dagster_event is not None
    return dg.build_run_status_sensor_context(
        sensor_name=alerts.ALERT_SENSOR,
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def _tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> None:
    sensor(_context(instance, result))


def _shares_8_characters(text: str, secret: str) -> bool:
    return any(secret[i : i + 8] in text for i in range(len(secret) - 7))


def test_a_failed_run_is_posted_naming_asset_partitions_and_stripes_reason_without_secrets(
    tmp_path: Path, emulator: EmulatorServer, instance: dg.DagsterInstance, receiver: Receiver
) -> None:
    api_key = _random("sk_live_")
    slack_token = _random("xoxb-", 40)
    environ = {
        alerts.WEBHOOK_URL: receiver.url,
        alerts.DAGSTER_URL: "http://dagster.internal:3000",
        "STRIPE_API_KEY": api_key,
        "WAREHOUSE_URL": f"postgresql+psycopg://loader:{_random('pw')}@db/warehouse",
    }
    result = _failed_run(tmp_path, emulator, instance, api_key)
    sensor = alerts.build_failure_alert_sensor(environ)
    assert sensor is not None and sensor.name == "stripe_run_failure_alerts"

    _tick(sensor, instance, result)

    [body] = receiver.bodies
    text = body.decode()
    alert = json.loads(body)
    assert alert["assets"] == ["stripe/payouts_itemized_3"]
    assert alert["partitions"] == "2026-11-05..2026-11-07"
    assert alert["run_id"] == result.run_id
    assert alert["permanent"] is True
    assert "Invalid API Key provided" in alert["text"]
    assert "stripe/payouts_itemized_3 2026-11-05..2026-11-07" in alert["text"]
    assert "not retried until the catalogue entry changes" in alert["text"]
    assert alert["run_url"] == f"http://dagster.internal:3000/runs/{result.run_id}"
    for secret in (api_key.removeprefix("sk_live_"), slack_token, receiver.url.rsplit("/", 1)[1]):
        assert not _shares_8_characters(text, secret)


def test_an_alert_that_cannot_be_delivered_fails_the_tick_without_quoting_the_webhook(
    tmp_path: Path, emulator: EmulatorServer, instance: dg.DagsterInstance, receiver: Receiver
) -> None:
    receiver.status = 500
    api_key = _random("sk_live_")
    result = _failed_run(tmp_path, emulator, instance, api_key)
    sensor = alerts.build_failure_alert_sensor({alerts.WEBHOOK_URL: receiver.url, "STRIPE_API_KEY": api_key})
    assert sensor is not None

    with pytest.raises(Exception, match="not delivered to webhook") as raised:
        _tick(sensor, instance, result)

    assert receiver.url.rsplit("/", 1)[1] not in str(raised.value)


def test_slack_gets_the_same_message_through_dagster_slack(
    tmp_path: Path, emulator: EmulatorServer, instance: dg.DagsterInstance, receiver: Receiver
) -> None:
    api_key = _random("sk_live_")
    token = _random("xoxb-", 40)
    result = _failed_run(tmp_path, emulator, instance, api_key)
    alert = alerts.failure_alert(_context(instance, result))
    slack = alerts.SlackSink("#stripe-reports", token, api_url=receiver.url.rsplit("/", 2)[0] + "/api/")

    slack.send(alert, alert.text)

    path, headers = receiver.requests[-1]
    assert path == "/api/chat.postMessage"
    assert headers["Authorization"] == f"Bearer {token}"
    body = receiver.bodies[-1].decode()
    assert "stripe-reports" in body and "payouts_itemized_3" in body and "Invalid API Key provided" in body
    assert token not in body


class SmtpReceiver(socketserver.ThreadingTCPServer):
    """Just enough of an SMTP server to accept one plain (no TLS, no login) message into ``messages``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[str] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 localhost ESMTP\r\n")
                while line := self.rfile.readline():
                    command = line.decode().strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        self.wfile.write(b"250 localhost\r\n")
                    elif command == "DATA":
                        self.wfile.write(b"354 end with .\r\n")
                        lines = iter(lambda: self.rfile.readline(), b".\r\n")
                        # RFC 5321 dot-stuffing: a line the client began with "." came with two.
                        data = b"".join(x[1:] if x.startswith(b"..") else x for x in lines)
                        server.messages.append(data.decode())
                        self.wfile.write(b"250 queued\r\n")
                    elif command == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        super().__init__(("127.0.0.1", 0), Handler)


def test_email_sends_the_message_over_smtp(
    tmp_path: Path, emulator: EmulatorServer, instance: dg.DagsterInstance
) -> None:
    result = _failed_run(tmp_path, emulator, instance, _random("sk_live_"))
    alert = alerts.failure_alert(_context(instance, result))
    smtp = SmtpReceiver()
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    try:
        [sink] = alerts.sinks_from_env(
            {
                alerts.EMAIL_TO: "finance@example.com, data@example.com",
                alerts.EMAIL_SMTP_HOST: "127.0.0.1",
                alerts.EMAIL_SMTP_PORT: str(smtp.server_address[1]),
                alerts.EMAIL_SMTP_STARTTLS: "false",
            }
        )
        sink.send(alert, alert.text)
    finally:
        smtp.shutdown()
        smtp.server_close()

    [raw] = smtp.messages
    message = email.message_from_string(raw, policy=email.policy.default)
    assert str(message["Subject"]).startswith(
        "Stripe reports run failed: stripe/payouts_itemized_3 2026-11-05..2026-11-07"
    )
    assert message["To"] == "finance@example.com, data@example.com"
    assert message.get_content().replace("\r\n", "\n").strip() == alert.text  # type: ignore[attr-defined]


def test_alerts_are_off_until_a_destination_is_configured() -> None:
    assert alerts.build_failure_alert_sensor({}) is None
    assert alerts.build_failure_alert_sensor({"STRIPE_API_KEY": _random("sk_live_")}) is None
    with pytest.raises(ValueError, match=alerts.SLACK_TOKEN):
        alerts.sinks_from_env({alerts.SLACK_CHANNEL: "#stripe-reports"})
    sinks = alerts.sinks_from_env(
        {alerts.EMAIL_TO: "a@example.com, b@example.com", alerts.EMAIL_SMTP_HOST: "mx"}
    )
    assert [type(s).__name__ for s in sinks] == ["EmailSink"]
    assert sinks[0].recipients == ("a@example.com", "b@example.com")  # type: ignore[attr-defined]


def test_scrubbing_removes_configured_secrets_and_anything_shaped_like_one() -> None:
    configured = _random("", 20)
    text = (
        f"token {configured}; key {_random('rk_live_')}; "
        f"url postgresql://loader:{_random('', 12)}@db/wh; header Bearer {_random('', 30)}"
    )

    scrubbed = alerts.scrub(text, [configured])

    assert configured not in scrubbed
    assert "rk_live_****" in scrubbed
    assert "postgresql://loader:****@db/wh" in scrubbed
    assert "Bearer ****" in scrubbed
