"""Logging: plain text by default, one JSON object per line with EARSHOT_LOG_FORMAT=json.

Every HTTP request gets an id (the caller's `X-Request-ID` if it is sane, else a
new one), answered in the `X-Request-ID` header and attached to every log line
written while the request is handled, so one request's lines can be found together.

Secrets never reach a log: the values of `token` and `sig` query parameters (a
websocket's bearer token, a signed audio URL's signature) are replaced by
`[redacted]` in every line, uvicorn's access and websocket lines included, whatever
the format. `redact_secrets` installs the filter on uvicorn's own loggers too, so it
holds when uvicorn is run with its own logging configuration.
"""

import json
import logging
import re
import uuid
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRET_PARAMETER = re.compile(r"((?:^|[?&;\s])(?:token|sig)=)[^&;\s\"']*", re.IGNORECASE)
_SECRET_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def redact(text: str) -> str:
    """`text` with the values of `token=` and `sig=` parameters replaced."""
    return _SECRET_PARAMETER.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Redacts the message and its string arguments in place (uvicorn's access formatter
    reads the arguments one by one, so they are redacted, not merged into the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def redact_secrets() -> None:
    """Put the filter on uvicorn's loggers (once), whoever configured the handlers."""
    for name in _SECRET_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id  # type: ignore[attr-defined]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        line = {k: redact(v) if isinstance(v, str) else v for k, v in line.items()}
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))  # messages, arguments and tracebacks alike


def configure(log_format: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_WithRequestId())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    redact_secrets()


class RequestIds:
    """ASGI middleware: give each HTTP request an id and answer it in `X-Request-ID`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            request_id.reset(token)
