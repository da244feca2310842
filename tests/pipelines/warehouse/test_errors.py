"""Every loader error carries its own retry decision: only a database file busy in another process
is worth retrying; everything else fails the same way on every retry."""

from __future__ import annotations

import pipelines.warehouse as warehouse
import pipelines.warehouse.errors as errors
from pipelines.warehouse import WarehouseBusyError, WarehouseError


def every_error_class() -> list[type[WarehouseError]]:
    found: list[type[WarehouseError]] = []
    pending: list[type[WarehouseError]] = [WarehouseError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_only_a_busy_database_is_retryable() -> None:
    classes = every_error_class()

    assert WarehouseBusyError in classes and len(classes) >= 8
    assert {cls.__name__: cls.retryable for cls in classes} == {
        cls.__name__: cls is WarehouseBusyError for cls in classes
    }


def test_every_error_is_exported_and_drawn_in_the_hierarchy() -> None:
    for cls in every_error_class():
        assert getattr(warehouse, cls.__name__) is cls
        assert cls.__name__ in (errors.__doc__ or "")
