"""Everything a load decides before touching data: whether the file has the columns the load needs,
final column types, columns to create or add, the constants stored on every row, and the split rule.

Missing columns are settled from the file alone (before the database is touched), schema drift
against the table as it is now, so an unfit file fails before any row is deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import quoted_name

from pipelines.warehouse.csv_file import CsvFile, Parser
from pipelines.warehouse.errors import IdentifierError, MissingColumnsError, SchemaDriftError
from pipelines.warehouse.identifiers import (
    LOADED_AT_COLUMN,
    PARTITION_COLUMN,
    RESERVED_COLUMNS,
    check_identifier,
)
from pipelines.warehouse.logical_types import (
    TEXT,
    TIMESTAMP,
    LogicalType,
    can_store,
    field_parser,
    of_value,
    parse_type,
    to_database_value,
)
from pipelines.warehouse.partitioning import SplitRule
from pipelines.warehouse.scan import FileScan
from pipelines.warehouse.spec import Column, LoadSpec

# Names of the indexes a path creates (the PostgreSQL path indexes _partition).
NAMING_CONVENTION = {"ix": "ix_%(table_name)s_%(column_0_name)s"}


@dataclass(frozen=True)
class LoadPlan:
    """A load, resolved against the file and the table as it is now."""

    spec: LoadSpec
    csv: CsvFile
    scan: FileScan  # what one pass over the file's bytes found: its record count, its longest record
    table_name: str  # schema-qualified, unquoted, for messages
    target: sa.Table  # every column the table will have
    columns: Mapping[str, LogicalType]  # the same columns, in table order, with their logical types
    create: bool
    added: tuple[tuple[str, LogicalType], ...]  # columns to add to an existing table
    retyped: tuple[tuple[str, LogicalType], ...]  # undecided text columns this file gives a type
    file_types: Mapping[str, LogicalType]  # how each file column is parsed (= its column's type)
    constants: Mapping[str, Any]  # scope, lineage and _loaded_at values, as bound
    split: SplitRule

    @property
    def file_columns(self) -> tuple[str, ...]:
        """The file's columns, in file order."""
        return self.csv.header

    @property
    def table_columns(self) -> tuple[Column, ...]:
        """The table's columns once the load is done, in table order, with their logical types."""
        return tuple(Column(name, str(type_)) for name, type_ in self.columns.items())

    @property
    def dropped_columns(self) -> tuple[str, ...]:
        """Table columns this file did not bring, in table order, other than the loader's own and
        this load's scope and lineage columns: the file's rows hold NULL there."""
        header = set(self.file_columns)
        return tuple(
            name
            for name in self.columns
            if name not in header and name not in RESERVED_COLUMNS and name not in self.constants
        )

    def parsers(self) -> list[Parser | None]:
        """One parser per file column (None for text, which stays as read)."""
        return [
            None if self.file_types[name].kind == "text" else field_parser(self.file_types[name])
            for name in self.file_columns
        ]

    def constant_expressions(self) -> list[tuple[str, sa.ColumnElement[Any]]]:
        """Each constant column with a typed bound value (typed, so no database has to guess)."""
        return [
            (name, sa.cast(sa.literal(value, self.target.c[name].type), self.target.c[name].type))
            for name, value in self.constants.items()
        ]

    def scope_condition(self) -> list[sa.ColumnElement[bool]]:
        """Conditions selecting the rows of this load's scope."""
        return [self.target.c[name] == value for name, value in self.spec.scope.items()]

    def window_rows(self) -> sa.ColumnElement[bool]:
        """The rows this load replaces: its windows, within its scope."""
        return sa.and_(self.target.c[PARTITION_COLUMN].in_(self.split.keys), *self.scope_condition())


def check_file_columns(spec: LoadSpec, header: Sequence[str], path: Path, table_name: str) -> None:
    """Refuse a file whose header lacks a column the load needs: a declared column, the split column,
    the unique column or the freshness column unless it is a lineage column (MissingColumnsError,
    one role at a time, in that order). It reads only the header, so it runs before the database
    is touched.

    Declared names are checked as identifiers first (IdentifierError).
    """
    present = set(header)
    declared = [check_identifier(c.name, "declared column") for c in spec.columns or ()]
    missing = [name for name in declared if name not in present]
    if missing:
        raise MissingColumnsError(path, table_name, missing, "declared")
    if spec.split_column is not None and spec.split_column not in present:
        raise MissingColumnsError(path, table_name, [spec.split_column], "split")
    if spec.unique_column is not None and spec.unique_column not in present:
        raise MissingColumnsError(path, table_name, [spec.unique_column], "unique")
    freshness = spec.freshness_column
    if freshness is not None:
        check_identifier(freshness, "freshness column")
        if freshness not in present and freshness not in spec.lineage:
            raise MissingColumnsError(path, table_name, [freshness], "freshness")


def undecided_candidates(
    spec: LoadSpec,
    header: Sequence[str],
    existing: Mapping[str, LogicalType],
    inferred: Mapping[str, LogicalType | None],
) -> list[str]:
    """File columns the table holds as text while this file brings another type (declared, or
    inferred from values): text may only mean "no value was ever seen", and if so the column is
    still undecided and takes this file's type (the caller checks the table's values)."""
    declared = {c.name: parse_type(c.type) for c in spec.columns or ()}
    candidates = []
    for name in header:
        incoming = declared.get(name, inferred.get(name))
        if existing.get(name) == TEXT and incoming is not None and incoming != TEXT:
            candidates.append(name)
    return candidates


def build_plan(
    spec: LoadSpec,
    csv_file: CsvFile,
    scan: FileScan,
    schema: str | None,
    existing: Mapping[str, LogicalType] | None,
    inferred: Mapping[str, LogicalType | None],
    loaded_at: datetime,
    undecided: Collection[str] = (),
) -> LoadPlan:
    """Resolve ``spec`` for ``csv_file`` against the table's current columns (``existing``, None if absent).

    ``undecided``: text columns of the table that hold no value at all (see
    :func:`undecided_candidates`); they take the type this file brings.

    Raises MissingColumnsError when the file lacks a column the load needs, SchemaDriftError when
    the file's data cannot go into an existing column, IdentifierError for names that clash or are
    not identifiers, LoadSpecError for an unusable split column or window keys that do not fit it.
    """
    table = check_identifier(spec.table, "table name")
    table_name = f"{schema}.{table}" if schema else table
    header = csv_file.header
    check_file_columns(spec, header, csv_file.path, table_name)
    declared = {check_identifier(c.name, "declared column"): parse_type(c.type) for c in spec.columns or ()}

    constant_types: dict[str, LogicalType] = {}
    constants: dict[str, Any] = {}
    for kind, values in (("scope", spec.scope), ("lineage", spec.lineage)):
        for name, value in values.items():
            check_identifier(name, f"{kind} column")
            if name in RESERVED_COLUMNS or name in constants or name in header or name in declared:
                raise IdentifierError(
                    f"load of {table_name}: {kind} column {name} clashes with a file, scope, lineage or "
                    f"loader column ({', '.join(sorted(RESERVED_COLUMNS))})"
                )
            constant_types[name] = TEXT if kind == "scope" else of_value(value)
            constants[name] = str(value) if kind == "scope" else to_database_value(value)
    for name in header:
        if name in RESERVED_COLUMNS:
            raise IdentifierError(f"{csv_file.path.name}: column {name} is reserved for the loader's own use")
    constant_types[PARTITION_COLUMN] = TEXT
    constant_types[LOADED_AT_COLUMN] = TIMESTAMP
    constants[LOADED_AT_COLUMN] = to_database_value(loaded_at)

    # What the file brings: declared types first, inferred ones for the rest (None: no evidence yet).
    incoming: dict[str, LogicalType | None] = {
        name: declared.get(name, inferred.get(name)) for name in header
    }
    # Columns a new table gets: the declared ones in their order, then any other file column.
    wanted: dict[str, LogicalType] = {
        name: declared.get(name, incoming.get(name) or TEXT) for name in [*declared, *header]
    }
    wanted.update(constant_types)

    if existing is None:
        columns = dict(wanted)
        added: tuple[tuple[str, LogicalType], ...] = ()
        retyped = ()
    else:
        columns = dict(existing)
        retyped = tuple((name, type_) for name, type_ in incoming.items() if name in undecided and type_)
        columns.update(retyped)
        for name, type_ in incoming.items():
            if name in undecided:
                continue
            if name in existing and type_ is not None and not can_store(type_, existing[name]):
                raise SchemaDriftError(table_name, name, str(existing[name]), str(type_))
        for name in constant_types:
            if name in existing and name in constants and not can_store(constant_types[name], existing[name]):
                raise SchemaDriftError(table_name, name, str(existing[name]), str(constant_types[name]))
        added = tuple((name, type_) for name, type_ in wanted.items() if name not in existing)
        columns.update(added)

    # Once a column exists its type wins: the file is read as that type.
    file_types = {name: columns[name] for name in header}
    split = SplitRule.for_spec(spec, file_types[spec.split_column] if spec.split_column else None)

    target = sa.Table(
        quoted_name(table, quote=True),
        sa.MetaData(naming_convention=NAMING_CONVENTION),
        *(sa.Column(quoted_name(name, quote=True), type_.to_sqlalchemy()) for name, type_ in columns.items()),
        schema=quoted_name(schema, quote=True) if schema else None,
    )
    return LoadPlan(
        spec=spec,
        csv=csv_file,
        scan=scan,
        table_name=table_name,
        target=target,
        columns=columns,
        create=existing is None,
        added=added,
        retyped=retyped,
        file_types=file_types,
        constants=constants,
        split=split,
    )
