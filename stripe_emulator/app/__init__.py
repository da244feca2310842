"""The emulator's Starlette application: Stripe's Reporting, Sigma, Files and Connect endpoints.

Every ``/v1`` endpoint follows Stripe's conventions (see :mod:`stripe_emulator.conventions`): API-key
auth with restricted-key permissions (any test secret key, or only ``config.api_keys``, live keys
included, whose objects stay apart from test mode's), ``Stripe-Account`` scoping, a valid
``Stripe-Version``, form bodies with brackets and no parameter the endpoint does not take, ``expand[]``
of expandable fields only, the error envelope, ``Request-Id``, list pagination, idempotency keys and
a per-key rate limit. Report and query
runs are created synchronously (validation errors answer at once, like Stripe) and executed by a
worker pool through the :class:`~stripe_emulator.engine.Engine`; a run becomes visible as finished
``config.run_delay`` seconds after it was created at the earliest.

``/v2/data/*`` is the Data API v2 (schemas, reports, query and report runs) with the v2 conventions
(:mod:`.v2_conventions`: JSON bodies, a preview ``Stripe-Version``, ``Stripe-Context``, v2 errors and
page tokens) over the same data, engine and worker pool; results are served by pre-signed links
that expire.

``/_emulator/*`` is the control API (no auth): clock, reset, faults, restricted keys and statistics.

Layout: :mod:`.application` builds the app; :mod:`.fault_layer` is its outer ASGI layer;
:mod:`.endpoint` applies Stripe's conventions around each ``/v1`` handler; the handlers are
:mod:`.reporting_api`, :mod:`.sigma_api`, :mod:`.files_api`, :mod:`.accounts_api` and
:mod:`.control_api`, and for v2 :mod:`.data_api` (with :mod:`.data_catalog`, :mod:`.data_objects`
and :mod:`.data_runs`); :mod:`.state`, :mod:`.objects`, :mod:`.runs` and :mod:`.stats` hold what the API
remembers and produces.
"""

from stripe_emulator.app.application import create_app
from stripe_emulator.app.fault_layer import EmulatorApp
from stripe_emulator.app.state import EmulatorState

__all__ = ["EmulatorApp", "EmulatorState", "create_app"]
