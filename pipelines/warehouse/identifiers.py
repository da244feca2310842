"""Names that become SQL identifiers: schema, table and column names, including CSV headers.

Every name is checked here before it reaches SQL, and then quoted by the dialect anyway. Names are
restricted to what every supported database treats the same way: lower case (DuckDB compares
identifiers case-insensitively even when quoted, PostgreSQL does not), letters, digits and ``_``, at
most 63 characters (PostgreSQL's limit).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from pipelines.warehouse.errors import IdentifierError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Columns the loader itself adds to every table.
PARTITION_COLUMN = "_partition"
LOADED_AT_COLUMN = "_loaded_at"
RESERVED_COLUMNS = frozenset({PARTITION_COLUMN, LOADED_AT_COLUMN})


def check_identifier(name: object, what: str) -> str:
    """``name`` if it is a plain identifier, else IdentifierError naming ``what`` it was meant to be."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise IdentifierError(
            f"{what} {name!r} is not a valid identifier: use lower-case letters, digits and _, "
            "starting with a letter or _, at most 63 characters"
        )
    return name


def quote(dialect: sa.Dialect, name: str) -> str:
    """``name``, checked and quoted the dialect's way (always quoted: reserved words are fine)."""
    return dialect.identifier_preparer.quote_identifier(check_identifier(name, "identifier"))


def qualify(dialect: sa.Dialect, schema: str | None, table: str) -> str:
    """The quoted, schema-qualified name of ``table``."""
    name = quote(dialect, table)
    return f"{quote(dialect, schema)}.{name}" if schema else name
