"""Builds the Earshot application; its lifespan opens the database, broker and workers."""

import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api import (
    admin,
    auth,
    avatars,
    bookmarks,
    digest,
    docs,
    errors,
    exports,
    feeds,
    groups,
    health,
    me,
    messages,
    moderation,
    oidc,
    push,
    search,
    unheard,
    voice,
    web,
)
from app.api.compress import CompressJson
from app.api.links import add_links
from app.config import Settings, make_private_dir
from app.logs import RequestIds, redact_secrets
from app.metrics import CountRequests, Metrics
from app.realtime import ws
from app.realtime.hub import Hub
from app.security import LimitBodies, SecurityHeaders, content_security_policy
from app.services import emails, outbox
from app.services.context import open_runtime
from app.services.exports import stop as stop_exports
from app.services.ingest import Ingest
from app.services.mail import Mailer
from app.services.passwords import Passwords
from app.services.scrub import Scrubber
from app.services.transcripts import Transcripts
from app.services.webpush import WebPush
from app.storage.blobs import media_origin

API_PREFIX = "/api/v1"


def _metrics(app: FastAPI) -> Metrics | None:
    rt = getattr(app.state, "runtime", None)
    return rt.metrics if rt is not None else None


def _prepare_work_dir(path: Path) -> None:
    """Remove scratch left by dead processes of this host; their durable copies live in blobs."""
    host = socket.gethostname()
    for stale in path.parent.glob(f"{host}-*") if path.parent.exists() else ():
        pid = stale.name.rsplit("-", 1)[1]
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists() or stale == path:
            shutil.rmtree(stale, ignore_errors=True)
    make_private_dir(path)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app for `settings` (from the environment when not given).

    The schema must already be migrated (`earshot serve` does it before serving).
    """
    settings = settings or Settings()
    redact_secrets()  # also when uvicorn is run with its own logging configuration

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        make_private_dir(settings.data_dir)
        _prepare_work_dir(settings.work_dir)
        if not settings.resolved_secret:  # generated and kept on first start
            raise RuntimeError("the signing secret is empty")
        async with open_runtime(settings) as rt:
            if settings.audio_delivery == "redirect" and not rt.blobs.can_presign:
                raise ValueError(
                    "EARSHOT_AUDIO_DELIVERY=redirect needs an s3:// EARSHOT_STORAGE_URL"
                )
            rt.passwords = Passwords(settings)
            ingest = Ingest(rt, workers=settings.transcode_workers)
            rt.ingest = ingest
            transcripts = Transcripts(rt)
            rt.transcripts = transcripts
            rt.scrubber = Scrubber(rt.engine)
            rt.metrics.queue_depth.set_function(lambda: ingest.depth)
            app.state.runtime = rt
            hub = Hub(rt)
            app.state.hub = hub
            rt.metrics.websockets.set_function(hub.connection_count)
            await hub.start()
            await rt.scrubber.start()
            await transcripts.start()
            await ingest.start()
            pusher = WebPush(rt)
            handlers = pusher.handlers()
            if settings.email_enabled:
                handlers |= Mailer(settings, emails.compose).handlers()
            deliveries = outbox.Worker(
                rt,
                handlers,
                concurrency=settings.push_workers,
                backoff_base_s=settings.outbox_retry_s,
            )
            rt.wake_outbox = deliveries.wake
            await deliveries.start()
            try:
                yield
            finally:
                await hub.stop()
                await stop_exports(rt)
                await deliveries.stop()
                await pusher.aclose()
                await ingest.stop()
                await transcripts.stop()
                await rt.scrubber.stop()
                rt.passwords.close()

    app = FastAPI(
        title="Earshot",
        version="1.0.0",
        summary="Asynchronous voice-memo group chat",
        lifespan=lifespan,
        docs_url=None,  # app.api.docs serves both, offline, under their own CSP
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(LimitBodies)
    app.add_middleware(CompressJson)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "Content-Range", "Accept-Ranges"],
            max_age=600,
        )
    csp = content_security_policy(
        media_origin(settings.storage_url) if settings.audio_delivery == "redirect" else ""
    )
    app.add_middleware(SecurityHeaders, csp=csp)
    app.add_middleware(CountRequests, metrics=lambda: _metrics(app))
    app.add_middleware(RequestIds)  # outermost: the id covers everything logged
    for router in (
        auth.router,
        oidc.router,
        me.router,
        avatars.router,
        admin.router,
        digest.router,
        exports.router,
        groups.router,
        moderation.router,
        messages.router,
        bookmarks.router,
        unheard.router,
        search.router,
        voice.router,
        push.router,
        feeds.router,
        ws.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    if settings.metrics_token:
        app.include_router(health.metrics_router)
    app.include_router(web.static_router())
    app.include_router(docs.router)
    app.mount("/docs/assets", docs.assets(), name="docs-assets")
    _publish_links(app)
    return app


def _publish_links(app: FastAPI) -> None:
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = plain_openapi()
        return add_links(schema) if first else schema

    app.openapi = openapi  # type: ignore[method-assign]
