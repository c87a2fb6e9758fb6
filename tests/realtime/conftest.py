"""A real uvicorn serving the test app on a free port, and a websocket client for it."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from app.cli import server_options
from tests.helpers import Person
from tests.process import free_port


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """uvicorn as `earshot serve` runs it (`server_options`: frame cap, no deflate...)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        lifespan="off",  # the app fixture already runs the lifespan
        log_level="warning",
        **server_options(app.state.runtime.settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    return server, task, f"ws://127.0.0.1:{config.port}/api/v1/ws"


@pytest.fixture
async def ws_url(app: Any) -> AsyncIterator[str]:
    server, task, url = await serve(app)
    yield url
    server.should_exit = True
    await task


class Client:
    """A websocket client that reads frames as JSON."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def recv(self, wait_s: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.conn.recv(), wait_s))

    async def recv_type(self, *types: str, wait_s: float = 5) -> dict[str, Any]:
        """The next frame of one of `types`, skipping others (e.g. the group's own events)."""
        while True:
            frame = await self.recv(wait_s)
            if frame["type"] in types:
                return frame

    async def nothing_within(self, seconds: float = 0.3) -> None:
        """Assert that no frame arrives for a while (a ping round trip proves liveness)."""
        with pytest.raises(TimeoutError):
            await self.recv(seconds)

    async def events(self, count: int, wait_s: float = 10) -> list[dict[str, Any]]:
        return [await self.recv(wait_s) for _ in range(count)]


@pytest.fixture
async def ws(ws_url: str) -> AsyncIterator[Any]:
    opened: list[ClientConnection] = []

    async def open_for(person: Person, cursors: dict[str, int] | None = None) -> Client:
        """Connect as `person`; with `cursors`, sync from them (else go live from now)."""
        conn = await connect(f"{ws_url}?token={person.token}", compression=None)
        opened.append(conn)
        client = Client(conn)
        await client.send({"type": "sync", "cursors": cursors or {}})
        if cursors is None:  # the pong comes after the sync is done: live from here on
            await client.send({"type": "ping"})
            assert await client.recv() == {"type": "pong"}
        return client

    yield open_for
    for conn in opened:
        await conn.close()
