"""Gzip for the API's JSON answers (a page of 50 messages is about 32 KB, 5 KB gzipped).

Only JSON under /api/v1: never audio (Opus does not compress, and byte ranges must stay
byte ranges), never a live memo's bytes, never the auth answers that carry a token
(compression next to attacker-chosen text leaks secrets: BREACH)."""

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

SKIP = ("/api/v1/audio/", "/api/v1/auth/")


class CompressJson:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith("/api/v1/")
            and not path.startswith(SKIP)
            and not path.endswith("/live")
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
