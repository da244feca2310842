"""The one place a catalogue entry becomes a Dagster asset spec: key, group, owners, tags, kinds,
metadata, partitions and checks.

Like dagster-sling's ``DagsterSlingTranslator``, it is a class to subclass: override one ``get_*``
method to change how every asset is named or grouped, and pass the instance to
:func:`pipelines.project.build_definitions`. Catalogue entries can already set ``owners``, ``tags``,
``group`` and ``key_prefix`` without code; the constructor's options (what the Component's
``translator:`` block sets) apply to every entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import dagster as dg
from sqlalchemy.engine import make_url

from pipelines.catalog import column_descriptions
from pipelines.checks import check_specs_for
from pipelines.close import closed_period_check_spec
from pipelines.freshness_policies import freshness_policy
from pipelines.partitions import partitions_for
from pipelines.sources import Source

# Dagster's kind for each SQLAlchemy backend whose name differs from it (icons in the UI).
_WAREHOUSE_KINDS = {"postgresql": "postgres", "mssql": "sqlserver"}


def warehouse_kind(url: str) -> str:
    """The Dagster kind of the warehouse at SQLAlchemy ``url``: ``duckdb``, ``postgres``, ``snowflake``..."""
    backend = make_url(url).get_backend_name()
    return _WAREHOUSE_KINDS.get(backend, backend)


@cache
def _stripe_column_descriptions() -> Mapping[str, str]:
    return column_descriptions()


class StripeReportsTranslator:
    """Maps a :class:`~pipelines.sources.Source` to its Dagster definition.

    The options apply to every entry: ``key_prefix`` goes before each key (``finance`` makes
    ``finance/stripe/balance_summary_1``), ``group`` is the group of entries that name none, ``owners``
    and ``tags`` add to each entry's own (an entry's tag wins), ``kinds`` add badges beside ``stripe``
    and ``warehouse_kind`` (see :func:`warehouse_kind`).
    """

    def __init__(
        self,
        *,
        key_prefix: Sequence[str] = (),
        group: str | None = None,
        owners: Iterable[str] = (),
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] = (),
        warehouse_kind: str | None = None,
    ) -> None:
        self.key_prefix = tuple(key_prefix)
        self.group = group
        self.owners = tuple(owners)
        self.tags = dict(tags or {})
        self.kinds = frozenset(kinds)
        self.warehouse_kind = warehouse_kind

    def get_asset_key(self, source: Source) -> dg.AssetKey:
        """``<key_prefix option>/<entry's key_prefix>/<name>``; an entry's prefix is ``stripe`` by default."""
        return dg.AssetKey([*self.key_prefix, *source.key_prefix, source.name])

    def get_group_name(self, source: Source) -> str:
        """The entry's ``group``, else the ``group`` option, else its kind's (``stripe_reports``...)."""
        return source.group or self.group or source.default_group

    def get_description(self, source: Source) -> str:
        """The entry's description."""
        return source.description

    def get_owners(self, source: Source) -> list[str]:
        """The entry's ``owners`` (team:name or email), then the ``owners`` option's."""
        return list(dict.fromkeys([*source.owners, *self.owners]))

    def get_tags(self, source: Source) -> dict[str, str]:
        """``stripe/source`` (the kind), the ``tags`` option's, and the entry's own ``tags``."""
        return {"stripe/source": source.kind, **self.tags, **source.tags}

    def get_kinds(self, source: Source) -> set[str]:
        """Badges in the UI: ``stripe``, the warehouse's kind and the ``kinds`` option's."""
        return {"stripe", *([self.warehouse_kind] if self.warehouse_kind else []), *self.kinds}

    def get_column_description(self, source: Source, column: str) -> str | None:
        """What ``column`` holds: Stripe's meaning from ``pipelines/report_types.yaml``, if listed."""
        return _stripe_column_descriptions().get(column)

    def get_metadata(self, source: Source) -> dict[str, Any]:
        """The source's facts as ``stripe/<fact>``, its declared columns and its code."""
        metadata: dict[str, Any] = {f"stripe/{name}": value for name, value in source.facts().items()}
        if source.columns is not None:
            metadata["dagster/column_schema"] = dg.TableSchema(
                columns=[
                    dg.TableColumn(c.name, c.type, description=self.get_column_description(source, c.name))
                    for c in source.columns
                ]
            )
        if source.code is not None:
            language, text = source.code
            metadata[f"stripe/{language}"] = dg.MetadataValue.md(f"```{language}\n{text}\n```")
        return metadata

    def get_partitions_def(self, source: Source) -> dg.PartitionsDefinition:
        """Days in the entry's zone (crossed with connected accounts for Connect fan-out)."""
        return partitions_for(source)

    def get_freshness_policy(self, source: Source) -> dg.FreshnessPolicy | None:
        """The entry's ``fresh_by`` deadline as a cron freshness policy (see freshness_policies)."""
        return freshness_policy(source, self.get_partitions_def(source))

    def get_check_specs(self, source: Source) -> list[dg.AssetCheckSpec]:
        """The checks evaluated inside each materialization."""
        key = self.get_asset_key(source)
        return [*check_specs_for(source, key), closed_period_check_spec(source, key)]

    def get_asset_spec(self, source: Source) -> dg.AssetSpec:
        """The whole spec; each materialization is reported per day, so the output is skippable."""
        return dg.AssetSpec(
            key=self.get_asset_key(source),
            description=self.get_description(source),
            group_name=self.get_group_name(source),
            owners=self.get_owners(source),
            tags=self.get_tags(source),
            kinds=self.get_kinds(source),
            metadata=self.get_metadata(source),
            partitions_def=self.get_partitions_def(source),
            freshness_policy=self.get_freshness_policy(source),
            skippable=True,
        )


def asset_key(source: Source) -> dg.AssetKey:
    """The key the default translator gives ``source`` (``stripe/<name>`` unless prefixed)."""
    return StripeReportsTranslator().get_asset_key(source)
