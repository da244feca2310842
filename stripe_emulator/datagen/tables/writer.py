"""Turning simulated columns into ``stripe_raw`` tables."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from stripe_emulator.datagen.macros import RAW_SCHEMA


def timestamps(seconds: np.ndarray) -> np.ndarray:
    """Unix seconds (negative: none) as datetime64 values (NaT: none), which DuckDB reads as TIMESTAMP."""
    out = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")
    out[np.asarray(seconds) < 0] = np.datetime64("NaT")
    return out


def categorical(codes: np.ndarray, categories: tuple[Any, ...]) -> pd.Categorical:
    """Strings travel to DuckDB as categoricals: small integer codes plus one copy of each value."""
    values = list(dict.fromkeys(c for c in categories if c is not None))
    mapping = np.array([values.index(c) if c is not None else -1 for c in categories], dtype=np.int64)
    return pd.Categorical.from_codes(
        mapping[np.asarray(codes, dtype=np.int64)], categories=pd.Index(values, dtype=object)
    )


class TableWriter:
    """Creates the tables of one generation on ``con`` and counts their rows.

    ``account_ids`` are the accounts' ids by index (the platform first).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, account_ids: tuple[str, ...]) -> None:
        self.con = con
        self.account_ids = account_ids
        self.counts: dict[str, int] = {}

    @property
    def platform(self) -> str:
        """The platform's account id, the ``_account`` of platform-only objects."""
        return self.account_ids[0]

    def accounts(self, index: np.ndarray) -> pd.Categorical:
        """The ids of accounts by index, as a categorical column."""
        return categorical(index, self.account_ids)

    def create(
        self,
        table: str,
        frame: pd.DataFrame,
        select: str,
        order: tuple[str, ...] = ("created", "u"),
        **params: Any,
    ) -> None:
        """``CREATE TABLE stripe_raw.<table> AS SELECT <select> FROM frame``, rows sorted by ``order``.

        In ``select`` the frame's categorical columns are already VARCHAR and its datetime64 columns
        TIMESTAMP. Sorting the frame before DuckDB copies it (DuckDB keeps insertion order) is far
        cheaper than an ORDER BY over the finished, wide rows.
        """
        frame = frame.take(np.lexsort([frame[column].to_numpy() for column in reversed(order)]))
        casts = [
            f"CAST({name} AS VARCHAR) AS {name}"
            for name, dtype in frame.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
        ] + [
            f"CAST({name} AS TIMESTAMP) AS {name}"
            for name, dtype in frame.dtypes.items()
            if pd.api.types.is_datetime64_dtype(dtype)
        ]
        view = f"_generated_{table}"
        source = f"(SELECT * REPLACE ({', '.join(casts)}) FROM {view})" if casts else view  # noqa: S608 - generated names only
        self.con.register(view, frame)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {RAW_SCHEMA}.{table} AS SELECT {select} FROM {source}",  # noqa: S608 - generated names only
                params or None,
            )
        finally:
            self.con.unregister(view)
        self.counts[table] = len(frame)
