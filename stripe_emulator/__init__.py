"""A local emulator of Stripe's Sigma, Reporting and Files APIs over generated, deterministic data."""

from stripe_emulator.config import EmulatorConfig
from stripe_emulator.engine import Engine

__all__ = ["EmulatorConfig", "Engine"]
