"""Saved Sigma queries: CRUD, and syncing a local set of named queries to Stripe.

Syncing is two steps so that a command can show what would change before changing anything:
:meth:`SavedQueries.plan_sync` compares local queries with Stripe's by name and returns a list of
:class:`Change`; :meth:`SavedQueries.apply` carries a plan out. Queries present only at Stripe are
left alone unless deletion is asked for explicitly, since they may belong to someone else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pipelines.stripe.client import StripeClient
from pipelines.stripe.timestamps import optional_from_unix

PATH = "/v1/sigma/saved_queries"

Action = Literal["create", "update", "delete", "unchanged"]


@dataclass(frozen=True)
class SavedQuery:
    """A saved query at Stripe (``sigma.sigma_api_query``)."""

    id: str
    name: str
    sql: str
    created: datetime | None = None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> SavedQuery:
        """Build from a ``sigma.sigma_api_query`` object."""
        return cls(
            id=str(obj["id"]),
            name=str(obj.get("name") or ""),
            sql=str(obj.get("sql") or ""),
            created=optional_from_unix(obj.get("created")),
        )


@dataclass(frozen=True)
class Change:
    """One step of a sync plan for the query called ``name``.

    ``sql`` is the SQL the query will have (``None`` when it is deleted); ``query_id`` and
    ``current_sql`` describe the query at Stripe, when there is one.
    """

    action: Action
    name: str
    sql: str | None
    query_id: str | None = None
    current_sql: str | None = None

    def describe(self) -> str:
        """One line for a plan listing, e.g. ``update  mrr_movements (qfl_123)``."""
        where = f" ({self.query_id})" if self.query_id else ""
        return f"{self.action:<9} {self.name}{where}"

    def diff(self) -> str:
        """A unified diff of the SQL at Stripe against the SQL it will have (empty if none)."""
        before = (self.current_sql or "").strip().splitlines(keepends=True)
        after = (self.sql or "").strip().splitlines(keepends=True)
        lines = difflib.unified_diff(
            [line if line.endswith("\n") else line + "\n" for line in before],
            [line if line.endswith("\n") else line + "\n" for line in after],
            fromfile=f"stripe/{self.name}",
            tofile=f"local/{self.name}",
        )
        return "".join(lines)


class SavedQueries:
    """The saved Sigma queries of an account (the platform, or ``stripe_account``)."""

    def __init__(self, client: StripeClient, *, stripe_account: str | None = None) -> None:
        self._client = client
        self._stripe_account = stripe_account

    def list(self) -> list[SavedQuery]:
        """Every saved query, across all pages."""
        return [
            SavedQuery.from_stripe(obj)
            for obj in self._client.list(PATH, stripe_account=self._stripe_account)
        ]

    def get(self, id: str) -> SavedQuery:
        """One saved query by id."""
        return SavedQuery.from_stripe(self._request("GET", id))

    def create(self, name: str, sql: str, *, idempotency_key: str | None = None) -> SavedQuery:
        """Save ``sql`` as a new query called ``name``."""
        obj = self._client.request(
            "POST",
            PATH,
            data={"name": name, "sql": sql},
            idempotency_key=idempotency_key,
            stripe_account=self._stripe_account,
        )
        return SavedQuery.from_stripe(obj)

    def update(self, id: str, *, name: str | None = None, sql: str | None = None) -> SavedQuery:
        """Change the name and/or SQL of saved query ``id``."""
        if name is None and sql is None:
            raise ValueError("nothing to update: pass name and/or sql")
        return SavedQuery.from_stripe(self._request("POST", id, data={"name": name, "sql": sql}))

    def delete(self, id: str) -> None:
        """Delete saved query ``id``."""
        self._request("DELETE", id)

    def plan_sync(self, local: Mapping[str, str], *, delete_missing: bool = False) -> list[Change]:
        """What syncing ``local`` (name → SQL) to Stripe would do, sorted by name.

        Queries match by name. SQL that differs only in leading or trailing whitespace counts as
        unchanged. Queries only at Stripe get a ``delete`` step when ``delete_missing`` is true and
        no step otherwise. Raises :class:`ValueError` if Stripe holds several queries with a name
        that is synced, since the plan could not tell which one is meant.
        """
        remote: dict[str, list[SavedQuery]] = {}
        for query in self.list():
            remote.setdefault(query.name, []).append(query)

        changes: list[Change] = []
        for name in sorted(local.keys() | (remote.keys() if delete_missing else set())):
            sql = local.get(name)
            matches = remote.get(name, [])
            if sql is None:
                changes.extend(Change("delete", name, None, query.id, query.sql) for query in matches)
            elif not matches:
                changes.append(Change("create", name, sql))
            elif len(matches) > 1:
                raise ValueError(
                    f"several saved queries at Stripe are named {name!r} "
                    f"({', '.join(query.id for query in matches)}); rename or delete all but one"
                )
            elif sql.strip() == matches[0].sql.strip():
                changes.append(Change("unchanged", name, sql, matches[0].id, matches[0].sql))
            else:
                changes.append(Change("update", name, sql, matches[0].id, matches[0].sql))
        return changes

    def apply(self, changes: Iterable[Change]) -> dict[str, str]:
        """Carry out a plan from :meth:`plan_sync`; return name → saved query id for every kept query."""
        ids: dict[str, str] = {}
        for change in changes:
            if change.action == "create":
                ids[change.name] = self.create(change.name, _required(change.sql, change)).id
            elif change.action == "update":
                ids[change.name] = self.update(_required(change.query_id, change), sql=change.sql).id
            elif change.action == "delete":
                self.delete(_required(change.query_id, change))
            else:
                ids[change.name] = _required(change.query_id, change)
        return ids

    def _request(self, method: str, id: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._client.request(
            method, f"{PATH}/{quote(id, safe='')}", data=data, stripe_account=self._stripe_account
        )


def _required(value: str | None, change: Change) -> str:
    if value is None:
        raise ValueError(f"malformed change for {change.name!r}: {change!r}")
    return value
