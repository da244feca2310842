"""Assembling the emulator's ASGI application: state, routes and the error handlers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from stripe_emulator.app.accounts_api import AccountsApi
from stripe_emulator.app.control_api import ControlApi
from stripe_emulator.app.data_api import DataApi
from stripe_emulator.app.endpoint import stripe_endpoint
from stripe_emulator.app.events_api import EventsApi
from stripe_emulator.app.fault_layer import EmulatorApp
from stripe_emulator.app.files_api import FilesApi
from stripe_emulator.app.reporting_api import ReportingApi
from stripe_emulator.app.sigma_api import SigmaApi
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.app.v2_conventions import V2Error
from stripe_emulator.conventions import StripeError
from stripe_emulator.engine import Engine
from stripe_emulator.faults import FaultInjector


def create_app(
    engine: Engine, *, faults: FaultInjector | None = None, base_url: str | None = None
) -> Starlette:
    """Build the emulator's ASGI application around ``engine``.

    ``faults`` holds the initial fault rules (the control API can change them); ``base_url`` fixes the
    scheme and host used in file URLs (default: taken from each request, so any port works).
    """
    state = EmulatorState(engine, faults, base_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = EmulatorApp(
        routes=_routes(state),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
    )
    app.state.emulator = state
    return app


def _routes(state: EmulatorState) -> list[BaseRoute]:
    v1 = [
        *ReportingApi(state).routes(),
        *SigmaApi(state).routes(),
        *FilesApi(state).routes(),
        *AccountsApi(state).routes(),
        *EventsApi(state).routes(),
    ]
    routes: list[BaseRoute] = [
        Route(path, stripe_endpoint(state, method, path, handler, spec), methods=[method])
        for method, path, handler, spec in v1
    ]
    routes += DataApi(state).routes()
    routes += [Route(path, handler, methods=[method]) for method, path, handler in ControlApi(state).routes()]
    return routes


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Stripe answers an unknown path and a known path with the wrong method alike: 404.
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
    )
    if request.url.path.startswith("/v2/"):
        return V2Error(404, message, code="unrecognized_request_url").response()
    return StripeError(404, message).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/v2/"):
        return V2Error(500, "An unknown error occurred.").response()
    return StripeError(500, "An unknown error occurred.", type="api_error").response()
