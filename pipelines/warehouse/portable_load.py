"""Any other dialect: the csv module parses the file, SQLAlchemy inserts it in fixed-size batches.

Memory is bounded by one batch whatever the file's size. Slower than the native paths, but it
only needs what every SQLAlchemy dialect has.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipelines.warehouse.bulk import ROWCOUNT, BulkLoad
from pipelines.warehouse.identifiers import PARTITION_COLUMN

BATCH_ROWS = 5_000


class PortableLoad(BulkLoad):
    """Parse, assign each row its window, ``executemany`` batches of rows."""

    batch_rows = BATCH_ROWS

    def insert(self, conn: sa.Connection) -> int:
        plan = self.plan
        header = plan.file_columns
        split_index = header.index(plan.spec.split_column) if plan.spec.split_column else None
        constants = dict(plan.constants)
        statement = plan.target.insert()
        counts: dict[str | None, int] = {}
        example: list[Any] = []
        batch: list[dict[str, Any]] = []
        inserted = 0
        for _, values in plan.csv.rows(plan.parsers()):
            value = values[split_index] if split_index is not None else None
            key = plan.split.assign(value)
            counts[key] = counts.get(key, 0) + 1
            if key is None:
                if not example:
                    example.append(value)
                continue
            if None in counts:
                continue  # the load will fail; keep reading only to count the rows outside
            row = dict(zip(header, values, strict=True))
            row.update(constants)
            row[PARTITION_COLUMN] = key
            batch.append(row)
            if len(batch) >= self.batch_rows:
                inserted += _inserted(conn.execute(statement, batch, execution_options=ROWCOUNT), batch)
                batch = []
        if batch and None not in counts:
            inserted += _inserted(conn.execute(statement, batch, execution_options=ROWCOUNT), batch)
        self.counts(counts, lambda: example[0] if example else None)
        return inserted


def _inserted(result: sa.CursorResult[Any], batch: list[dict[str, Any]]) -> int:
    # A driver that cannot count an executemany reports -1; then the rows sent are all there is.
    return int(result.rowcount) if result.rowcount >= 0 else len(batch)
