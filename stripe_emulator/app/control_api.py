"""The control API under ``/_emulator`` (no auth): clock, reset, faults, restricted keys, stats.

Bodies are JSON; errors are ``{"error": {"type": "invalid_request_error", "message": ...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import PERMISSIONS, redact_key
from stripe_emulator.faults import FaultSpecError, as_rule
from stripe_emulator.timestamps import parse_iso

ControlHandler = Callable[[Request], Awaitable[Response]]


class ControlApi:
    """Handlers of ``/_emulator/*``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.engine = state.engine

    def routes(self) -> list[tuple[str, str, ControlHandler]]:
        """(method, path, handler) of each endpoint."""
        return [
            ("GET", "/_emulator/state", self.get_state),
            ("POST", "/_emulator/advance", self.advance),
            ("POST", "/_emulator/reset", self.reset),
            ("GET", "/_emulator/faults", self.list_faults),
            ("POST", "/_emulator/faults", self.add_faults),
            ("DELETE", "/_emulator/faults", self.clear_faults),
            ("DELETE", "/_emulator/faults/{id}", self.delete_fault),
            ("POST", "/_emulator/keys", self.register_key),
            ("GET", "/_emulator/permissions", self.permissions),
            ("GET", "/_emulator/stats", self.stats),
        ]

    async def get_state(self, request: Request) -> Response:
        """``GET /_emulator/state``."""
        return JSONResponse(self.state.state_json())

    async def advance(self, request: Request) -> Response:
        """``POST /_emulator/advance`` with ``{"to": "<ISO timestamp>"}`` or ``{"by_hours": <number>}``."""
        try:
            body = await _json_body(request)
            if "to" in body:
                target = parse_iso(str(body["to"]))
                await run_in_threadpool(lambda: self.engine.advance(to=target))
            elif "by_hours" in body:
                by = timedelta(hours=float(body["by_hours"]))
                await run_in_threadpool(lambda: self.engine.advance(by=by))
            else:
                raise ValueError('send {"to": "<ISO timestamp>"} or {"by_hours": <number>}')
        except (ValueError, TypeError) as exc:
            return _control_error(str(exc))
        return JSONResponse(self.state.state_json())

    async def reset(self, request: Request) -> Response:
        """``POST /_emulator/reset``: see :meth:`EmulatorState.reset`."""
        await run_in_threadpool(self.state.reset)
        return JSONResponse(self.state.state_json())

    async def list_faults(self, request: Request) -> Response:
        """``GET /_emulator/faults``: the rules and how often each fired."""
        return JSONResponse({"rules": self.state.faults.rules(), "fired": self.state.faults.fired()})

    async def add_faults(self, request: Request) -> Response:
        """``POST /_emulator/faults`` with one rule object or ``{"rules": [...]}``."""
        try:
            body = await _json_body(request)
            items = body.get("rules", [body])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise FaultSpecError("'rules' must be a list of rule objects")
            rules = [as_rule(item) for item in items]
        except (FaultSpecError, ValueError) as exc:
            return _control_error(str(exc))
        added = [self.state.faults.add(rule).to_json() for rule in rules]
        return JSONResponse({"rules": added})

    async def clear_faults(self, request: Request) -> Response:
        """``DELETE /_emulator/faults``."""
        self.state.faults.clear()
        return JSONResponse({"rules": []})

    async def delete_fault(self, request: Request) -> Response:
        """``DELETE /_emulator/faults/{id}``."""
        rule_id = request.path_params["id"]
        if not self.state.faults.remove(rule_id):
            return _control_error(f"no fault rule {rule_id!r}", status=404)
        return JSONResponse({"id": rule_id, "deleted": True})

    async def register_key(self, request: Request) -> Response:
        """``POST /_emulator/keys`` with ``{"key": "rk_test_...", "permissions": [...]}``."""
        try:
            body = await _json_body(request)
            permissions = body.get("permissions", [])
            if not isinstance(permissions, list):
                raise ValueError("permissions must be a list of permission names")
            api_key = self.state.keys.register(str(body.get("key", "")), [str(p) for p in permissions])
        except ValueError as exc:
            return _control_error(str(exc))
        return JSONResponse(
            {"key": redact_key(api_key.key), "permissions": sorted(api_key.permissions or ())}
        )

    async def permissions(self, request: Request) -> Response:
        """``GET /_emulator/permissions``: each restricted-key permission and the endpoints it opens."""
        return JSONResponse({name: list(endpoints) for name, endpoints in PERMISSIONS.items()})

    async def stats(self, request: Request) -> Response:
        """``GET /_emulator/stats``."""
        return JSONResponse(self.state.stats.to_json(self.state.faults.fired()))


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def _control_error(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": {"type": "invalid_request_error", "message": message}}, status_code=status)
