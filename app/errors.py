"""Errors a use case refuses with: each carries the HTTP status, a code and a sentence.

They live outside the API package so services can raise them without knowing
about HTTP frameworks; the API turns every one into the single error shape.
"""

import math
from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        self.headers = headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Invalid(ApiError):
    status = 422
    code = "validation_error"


class Gone(ApiError):
    status = 410
    code = "gone"


def group_not_found() -> NotFound:
    return NotFound("No such group, or you are not a member of it.", code="group_not_found")


def try_again_later(message: str, *, code: str, status: int, retry_after_s: float) -> ApiError:
    """A refusal that passes: `Retry-After` (and `details.retry_after_s`) say when, in whole
    seconds, at least one."""
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(
        message,
        code=code,
        status=status,
        details={"retry_after_s": seconds},
        headers={"Retry-After": str(seconds)},
    )


def busy(message: str, retry_after_s: float) -> ApiError:
    """503: the server has no room for this now; the client tries again after a moment."""
    return try_again_later(message, code="server_busy", status=503, retry_after_s=retry_after_s)


def insufficient_storage() -> ApiError:
    return ApiError(
        "The server is short of disk space and takes no recordings now; try again later.",
        code="insufficient_storage",
        status=507,
    )


def message_not_found() -> NotFound:
    return NotFound("No such message in any of your groups.", code="message_not_found")
