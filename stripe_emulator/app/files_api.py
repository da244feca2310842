"""The Files API: result files' metadata and contents, and the list of files."""

from __future__ import annotations

from typing import Any

from starlette.responses import FileResponse, Response

from stripe_emulator.app.endpoint import Context, Route, accepts
from stripe_emulator.app.objects import StoredFile, visible_to
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import as_str, created_filter, invalid_request, paginate, resource_missing

# Stripe's File purposes (the ``purpose`` enum of the file object); the emulator only makes the two
# report kinds, but a list may filter by any of them.
FILE_PURPOSES = frozenset(
    {
        "account_requirement", "additional_verification", "business_icon", "business_logo",
        "customer_signature", "dispute_evidence", "document_provider_identity_document",
        "finance_report_run", "financial_account_statement", "identity_document",
        "identity_document_downloadable", "issuing_regulatory_reporting", "pci_document", "selfie",
        "sigma_scheduled_query", "tax_document_user_upload", "terminal_reader_splashscreen",
    }
)  # fmt: skip


class FilesApi:
    """``/v1/files``, ``/v1/files/{id}`` and its ``/contents``, for files the caller may see."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """(method, route template, handler, accepted parameters) of each endpoint."""
        return [
            (
                "GET",
                "/v1/files",
                self.list_files,
                accepts("purpose", "created", expandable=("links",), lists=True),
            ),
            ("GET", "/v1/files/{id}", self.get_file, accepts(expandable=("links",))),
            ("GET", "/v1/files/{id}/contents", self.get_file_contents, accepts()),
        ]

    async def list_files(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/files``: the caller's files, newest first, optionally of one ``purpose``."""
        purpose = ctx.params.get("purpose")
        if purpose is not None:
            purpose = as_str(purpose, "purpose")
            if purpose not in FILE_PURPOSES:
                raise invalid_request(
                    f"Invalid purpose: must be one of {', '.join(sorted(FILE_PURPOSES))}", param="purpose"
                )
        keep = created_filter(ctx.params.get("created"))
        with self.state.lock:
            files = [
                stored
                for stored in reversed(self.state.files.values())
                if visible_to(stored.account, ctx.account)
                and stored.visible_in(ctx.api_key.livemode)
                and (purpose is None or stored.purpose == purpose)
                and keep(stored.created)
            ]
        files.sort(key=lambda stored: stored.created, reverse=True)
        data = [stored.to_json(ctx.base_url) for stored in files]
        return paginate(data, ctx.params, url="/v1/files", object_name="file")

    def _file(self, ctx: Context) -> StoredFile:
        file_id = ctx.request.path_params["id"]
        with self.state.lock:
            stored = self.state.files.get(file_id)
        if (
            stored is None
            or not visible_to(stored.account, ctx.account)
            or not stored.visible_in(ctx.api_key.livemode)
        ):
            raise resource_missing("file upload", file_id)
        return stored

    async def get_file(self, ctx: Context) -> dict[str, Any]:
        """``GET /v1/files/{id}``."""
        return self._file(ctx).to_json(ctx.base_url)

    async def get_file_contents(self, ctx: Context) -> Response:
        """``GET /v1/files/{id}/contents``: the CSV, shown inline."""
        stored = self._file(ctx)
        return FileResponse(
            stored.path,
            media_type="text/csv",
            filename=stored.filename,
            content_disposition_type="inline",
        )
