"""Bits every router shares: documented error responses and the idempotent-create status."""

from typing import Any

from fastapi import Response

from app.schemas import ErrorOut


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all in the one shape."""
    return {status: {"model": ErrorOut} for status in (422, *statuses)}


def created_or_repeated(response: Response, created: bool) -> None:
    """A create repeated with the same client_id answers 200 instead of 201/202."""
    if not created:
        response.status_code = 200
