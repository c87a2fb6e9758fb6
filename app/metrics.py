"""Prometheus metrics, served as text at GET /metrics.

Each app has its own registry (tests run many apps in one process). What is
counted: HTTP requests by route template and status with their durations,
open websocket connections, durable events fanned out (deliveries), the
processing queue's depth, conversion durations and results, ffmpeg failures.
"""

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "earshot_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "earshot_http_request_seconds", "Time to answer HTTP requests", ["route"], registry=r
        )
        self.websockets = Gauge("earshot_websocket_connections", "Open websockets", registry=r)
        self.deliveries = Counter(
            "earshot_events_delivered", "Durable events handed to websocket connections",
            registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "earshot_processing_queue_depth", "Voice memos waiting for or in conversion",
            registry=r,
        )  # fmt: skip
        self.processing_seconds = Histogram(
            "earshot_processing_seconds", "Time to convert a voice memo", ["result"],
            buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160), registry=r,
        )  # fmt: skip
        self.outbox_attempts = Counter(
            "earshot_outbox_attempts", "Outbox sends (Web Push, mail) by how they went",
            ["channel", "result"], registry=r,
        )  # fmt: skip
        self.ffmpeg_failures = Counter(
            "earshot_ffmpeg_failures", "Conversions ffmpeg could not complete", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class CountRequests:
    """ASGI middleware: count each HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], Metrics | None]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        m = self.metrics()
        if scope["type"] != "http" or m is None:
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _template(scope)
            m.requests.labels(scope["method"], route, str(status)).inc()
            m.request_seconds.labels(route).observe(time.perf_counter() - start)


def _template(scope: Scope) -> str:
    """The matched route's path template, with the router's prefix (never the raw path)."""
    effective = scope.get("fastapi", {}).get("effective_route_context")  # FastAPI >= 0.120
    route = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    if route:
        return str(route)
    return "/web/{file}" if scope["path"].startswith("/web/") else "unmatched"
