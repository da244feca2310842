"""Run the emulator in a background thread: ``with EmulatorServer(config) as emu: emu.url``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.config import EmulatorConfig
from stripe_emulator.engine import Engine
from stripe_emulator.faults import FaultInjector, FaultRule


class EmulatorServer:
    """An emulator served by uvicorn on ``host:port`` (port 0 = a free port) in a daemon thread.

    ``faults`` are the initial fault rules: a :class:`FaultInjector`, or rules as FaultRule objects,
    spec strings or JSON objects. ``engine`` is built from ``config`` when the server starts; reuse one
    server per test module and ``POST /_emulator/reset`` between tests for speed.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultInjector | Iterable[FaultRule | str | Mapping[str, Any]] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self._faults = (
            faults if isinstance(faults, FaultInjector) or faults is None else FaultInjector(faults)
        )
        self._startup_timeout = startup_timeout
        self._engine: Engine | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL for both the API and file downloads, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def engine(self) -> Engine:
        """The engine behind the server (its clock and data)."""
        if self._engine is None:
            raise RuntimeError("the emulator is not running")
        return self._engine

    def start(self) -> EmulatorServer:
        """Build the engine, start serving and wait until the server answers."""
        if self._server is not None:
            return self
        self._engine = Engine(self.config)
        app = create_app(self._engine, faults=self._faults)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="stripe-emulator", daemon=True
        )
        self._thread.start()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator's server thread stopped during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator did not start in time")
            time.sleep(0.01)
        response = httpx.get(f"{self.url}/_emulator/state", timeout=10)
        response.raise_for_status()

    def stop(self) -> None:
        """Stop serving and wait for the server thread (idempotent)."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"EmulatorServer({state})"
