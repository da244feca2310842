"""The accounts endpoints: the caller's own account and the platform's connected accounts."""

from __future__ import annotations

from typing import Any

from stripe_emulator.app.endpoint import Context, Route, accepts
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import created_filter, paginate, resource_missing


class AccountsApi:
    """``/v1/account`` and ``/v1/accounts``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """(method, route template, handler, accepted parameters) of each endpoint."""
        return [
            ("GET", "/v1/account", self.get_own_account, accepts()),
            ("GET", "/v1/accounts", self.list_accounts, accepts("created", lists=True)),
            ("GET", "/v1/accounts/{id}", self.get_account, accepts()),
        ]

    async def get_own_account(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/account``: the connected account acted as, else the platform."""
        if ctx.account is not None:
            return self.state.connected_accounts[ctx.account]
        return {
            "id": self.state.platform_account,
            "object": "account",
            "business_type": "company",
            "charges_enabled": True,
            "country": "US",
            "default_currency": "usd",
            "payouts_enabled": True,
            "type": "standard",
        }

    async def list_accounts(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/accounts``: connected accounts, newest first."""
        keep = created_filter(ctx.params.get("created"))
        accounts = sorted(
            (
                account
                for account in self.state.connected_accounts.values()
                if keep(account.get("created", 0))
            ),
            key=lambda account: (account.get("created", 0), account["id"]),
            reverse=True,
        )
        return paginate(accounts, ctx.params, url="/v1/accounts", object_name="account")

    async def get_account(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/accounts/{id}``."""
        account_id = ctx.request.path_params["id"]
        account = self.state.connected_accounts.get(account_id)
        if account is None:
            raise resource_missing("account", account_id)
        return account
