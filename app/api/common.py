"""Bits every router shares: path ids, documented error responses, idempotent-create status."""

from typing import Annotated, Any

from fastapi import Path, Response

from app.schemas import ErrorOut

# Every id in a path (uuids, invite codes) is URL-safe text; anything else is a 422
# before it reaches a query.
Id = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all in the one shape.

    Every route may answer 400 (a body that is not even text) and 422 (invalid input)."""
    return {status: {"model": ErrorOut} for status in (400, 422, *statuses)}


def repeated(model: type) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a create repeated with its client_id: 200 with the original."""
    return {200: {"model": model, "description": "Repeated with the same client_id: the original"}}


def created_or_repeated(response: Response, created: bool) -> None:
    """A create repeated with the same client_id answers 200 instead of 201/202."""
    if not created:
        response.status_code = 200
