"""The Files API: result files' metadata and contents."""

from __future__ import annotations

from typing import Any

from starlette.responses import FileResponse, Response

from stripe_emulator.app.endpoint import Context, Handler
from stripe_emulator.app.objects import StoredFile, visible_to
from stripe_emulator.app.state import EmulatorState
from stripe_emulator.conventions import resource_missing


class FilesApi:
    """``/v1/files/{id}`` and its ``/contents``, for files the caller may see."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, route template, handler) of each endpoint."""
        return [
            ("GET", "/v1/files/{id}", self.get_file),
            ("GET", "/v1/files/{id}/contents", self.get_file_contents),
        ]

    def _file(self, ctx: Context) -> StoredFile:
        file_id = ctx.request.path_params["id"]
        with self.state.lock:
            stored = self.state.files.get(file_id)
        if stored is None or not visible_to(stored.account, ctx.account):
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
