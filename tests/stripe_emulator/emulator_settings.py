"""Settings shared by the emulator's HTTP tests."""

from collections.abc import Callable
from typing import Any

from stripe_emulator.config import EmulatorConfig

SECRET_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"

# Small and quick: a few weeks of sparse data, runs that finish almost at once, no practical rate limit.
FAST_CONFIG = EmulatorConfig(
    seed=7, days=20, scale=40, connected_accounts=2, run_delay=0.05, rate_limit=1000.0
)

# The ``finish`` fixture: ``finish(client, path, **headers)`` polls a run until it is no longer in progress.
Finish = Callable[..., dict[str, Any]]
