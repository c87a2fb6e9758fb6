"""Builds the Earshot application; its lifespan opens the database, broker and workers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import auth, errors, groups, health, messages
from app.config import Settings
from app.db import create_engine, session_factory
from app.realtime.broker import open_broker
from app.services.context import Runtime

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app for `settings` (from the environment when not given).

    The schema must already be migrated (`earshot serve` does it before serving).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.resolved_secret:  # generated and kept on first start
            raise RuntimeError("the signing secret is empty")
        engine = create_engine(settings.resolved_database_url)
        broker = open_broker(settings.redis_url)
        await broker.connect()
        app.state.runtime = Runtime(
            settings=settings, engine=engine, sessions=session_factory(engine), broker=broker
        )
        try:
            yield
        finally:
            await broker.disconnect()
            await engine.dispose()

    app = FastAPI(
        title="Earshot",
        version="1.0.0",
        summary="Asynchronous voice-memo group chat",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (auth.router, groups.router, messages.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    return app
