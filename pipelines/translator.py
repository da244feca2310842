"""The one place a catalogue entry becomes a Dagster asset spec: key, group, owners, tags, kinds,
metadata, partitions and checks.

Like dagster-sling's ``DagsterSlingTranslator``, it is a class to subclass: override one ``get_*``
method to change how every asset is named or grouped, and pass the instance to
:func:`pipelines.project.build_definitions`. Catalogue entries can already set ``owners``, ``tags``,
``group`` and ``key_prefix`` without code.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.checks import check_specs_for
from pipelines.partitions import partitions_for
from pipelines.sources import Source


class StripeReportsTranslator:
    """Maps a :class:`~pipelines.sources.Source` to its Dagster definition."""

    def get_asset_key(self, source: Source) -> dg.AssetKey:
        """``<key_prefix>/<name>``; the prefix is ``stripe`` unless the entry sets one."""
        return dg.AssetKey([*source.key_prefix, source.name])

    def get_group_name(self, source: Source) -> str:
        """The entry's ``group``, else its kind's (``stripe_reports``, ``sigma_queries``)."""
        return source.group or source.default_group

    def get_description(self, source: Source) -> str:
        """The entry's description."""
        return source.description

    def get_owners(self, source: Source) -> list[str]:
        """The entry's ``owners`` (team:name or email)."""
        return list(source.owners)

    def get_tags(self, source: Source) -> dict[str, str]:
        """``stripe/source`` (the kind) and the entry's own ``tags``."""
        return {"stripe/source": source.kind, **source.tags}

    def get_kinds(self, source: Source) -> set[str]:
        """Shown as badges in the UI."""
        return {"stripe"}

    def get_metadata(self, source: Source) -> dict[str, Any]:
        """The source's facts as ``stripe/<fact>``, its declared columns and its code."""
        metadata: dict[str, Any] = {f"stripe/{name}": value for name, value in source.facts().items()}
        if source.columns is not None:
            metadata["dagster/column_schema"] = dg.TableSchema(
                columns=[dg.TableColumn(c.name, c.type) for c in source.columns]
            )
        if source.code is not None:
            language, text = source.code
            metadata[f"stripe/{language}"] = dg.MetadataValue.md(f"```{language}\n{text}\n```")
        return metadata

    def get_partitions_def(self, source: Source) -> dg.PartitionsDefinition:
        """Days in the entry's zone (crossed with connected accounts for Connect fan-out)."""
        return partitions_for(source)

    def get_check_specs(self, source: Source) -> list[dg.AssetCheckSpec]:
        """The checks evaluated inside each materialization."""
        return check_specs_for(source, self.get_asset_key(source))

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
            skippable=True,
        )


def asset_key(source: Source) -> dg.AssetKey:
    """The key the default translator gives ``source`` (``stripe/<name>`` unless prefixed)."""
    return StripeReportsTranslator().get_asset_key(source)
