"""The ``stripe-emulator`` command: ``stripe-emulator serve --port 12111 --seed 7 …``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

from stripe_emulator.config import EmulatorConfig
from stripe_emulator.faults import FaultInjector, FaultSpecError, parse_spec
from stripe_emulator.server import EmulatorServer
from stripe_emulator.timestamps import parse_iso


def _timestamp(value: str) -> datetime:
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp: {value!r}") from exc


def _fault(value: str) -> str:
    try:
        parse_spec(value)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(prog="stripe-emulator", description="A local Stripe API emulator.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the emulated API over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    serve.add_argument(
        "--port", type=int, default=12111, help="port (0 = any free port; default %(default)s)"
    )
    serve.add_argument("--seed", type=int, default=defaults.seed, help="data generation seed")
    serve.add_argument(
        "--days", type=int, default=defaults.days, help="days of history before data_load_time"
    )
    serve.add_argument(
        "--report-history-days",
        type=int,
        default=None,
        help="days before data_load_time the Reporting API has data for (its data_available_start; "
        "default: --days)",
    )
    serve.add_argument(
        "--data-load-time",
        type=_timestamp,
        default=None,
        help="initial data_load_time (ISO; default: now floored to the hour minus 3 hours)",
    )
    serve.add_argument(
        "--run-delay", type=float, default=defaults.run_delay, help="seconds a run stays pending/running"
    )
    serve.add_argument("--scale", type=int, default=defaults.scale, help="~balance transactions per day")
    serve.add_argument(
        "--connected-accounts",
        type=int,
        default=defaults.connected_accounts,
        help="connected accounts of the platform (default %(default)s)",
    )
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=defaults.rate_limit,
        help="requests per second per live-mode API key (default %(default)s, Stripe's)",
    )
    serve.add_argument(
        "--test-rate-limit",
        type=float,
        default=defaults.test_rate_limit,
        help="requests per second per test-mode API key (default %(default)s, Stripe's)",
    )
    serve.add_argument(
        "--download-url-ttl",
        type=float,
        default=defaults.download_url_ttl,
        help="seconds a Data API v2 download_url works (default %(default)s)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="a secret key that exists (repeatable; sk_test_… or sk_live_…); default: any sk_test_… key",
    )
    serve.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="fault rule 'KIND METHOD PATH [key=value ...]' (repeatable), e.g. 'http_503 POST /v1/* nth=1'",
    )
    serve.add_argument("--print-url-file", type=Path, default=None, help="write the base URL here once ready")
    serve.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    return parser


def _write_url(path: Path, url: str) -> None:
    # Written to a temporary name first so a script polling for the file never reads half a URL.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(url + "\n")
    os.replace(partial, path)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The emulator configuration ``serve``'s arguments describe."""
    return EmulatorConfig(
        seed=args.seed,
        days=args.days,
        report_history_days=args.report_history_days,
        data_load_time=args.data_load_time,
        run_delay=args.run_delay,
        scale=args.scale,
        connected_accounts=args.connected_accounts,
        rate_limit=args.rate_limit,
        test_rate_limit=args.test_rate_limit,
        download_url_ttl=args.download_url_ttl,
        api_keys=tuple(args.api_key) if args.api_key else None,
    )


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = config_from_args(args)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    log = logging.getLogger("stripe_emulator")
    log.info("generating data (seed %s, %s days, scale %s)…", args.seed, args.days, args.scale)
    with EmulatorServer(config, host=args.host, port=args.port, faults=FaultInjector(args.fault)) as server:
        state = server.engine
        log.info("serving on %s (data_load_time %s)", server.url, state.data_load_time.isoformat())
        if args.print_url_file is not None:
            _write_url(args.print_url_file, server.url)
        while not stop.wait(0.5):
            pass
        log.info("shutting down")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stripe-emulator`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
