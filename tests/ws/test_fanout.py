"""Several server processes share fan-out through Redis: what one process commits
reaches the websocket clients of another.

Collected only when EARSHOT_TEST_REDIS_URL names a Redis (CI always does); if it
does and Redis cannot be reached, these tests fail. They never skip.
"""

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.main import create_app
from tests.helpers import Api, Person
from tests.ws.conftest import Client, serve

REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings of both processes: one database, one secret, one Redis."""
    assert REDIS_URL
    return settings.model_copy(update={"redis_url": REDIS_URL})


@pytest.fixture
async def other_process(settings: Settings) -> AsyncIterator[str]:
    """A second server (its own app, hub and Redis connection) on its own port."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        server, task, url = await serve(other)
        yield url
        server.should_exit = True
        await task


async def _live(url: str, person: Person) -> Client:
    client = Client(await connect(f"{url}?token={person.token}", compression=None))
    await client.send({"type": "sync", "cursors": {}})
    await client.send({"type": "ping"})
    assert await client.recv() == {"type": "pong"}
    return client


if REDIS_URL:

    async def test_post_through_one_process_reaches_clients_of_another(
        api: Api, other_process: str
    ) -> None:
        amy, ben = await api.register("amy"), await api.register("ben")
        gid = await api.group(amy)
        await api.add(amy, gid, ben)
        ben_elsewhere = await _live(other_process, ben)
        posted = await api.post(amy, gid, "across processes")
        frame = await ben_elsewhere.recv()
        assert (frame["type"], frame["seq"]) == ("message.created", posted["seq"])
        assert frame["data"]["text"] == "across processes"

    async def test_indicators_and_sign_out_cross_processes(
        api: Api, ws: Any, other_process: str
    ) -> None:
        amy, ben = await api.register("amy"), await api.register("ben")
        gid = await api.group(amy)
        await api.add(amy, gid, ben)
        amy_here = await ws(amy)
        ben_elsewhere = await _live(other_process, ben)
        await amy_here.send({"type": "recording.started", "group_id": gid})
        assert await ben_elsewhere.recv() == {
            "type": "recording.started",
            "group_id": gid,
            "user_id": amy.id,
        }
        await api.ok(ben, "POST", "/auth/logout")
        with pytest.raises(ConnectionClosed) as closed:
            await ben_elsewhere.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
