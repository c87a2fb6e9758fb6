"""Several server processes share fan-out through Redis: what one process commits
reaches the websocket clients of another.

Collected only when EARSHOT_TEST_REDIS_URL names a Redis (CI always does); if it
does and Redis cannot be reached, these tests fail. They never skip.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.main import create_app
from tests.helpers import Api, Person, make_admin
from tests.process import ServerProcess, earshot_admin
from tests.realtime.conftest import Client, serve

REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings of both processes: one database, one secret, one Redis (whose
    rate-limit counts outlive a run: limits are off, they are tested elsewhere)."""
    assert REDIS_URL
    return settings.model_copy(update={"redis_url": REDIS_URL, "rate_limits": False})


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

    async def test_two_server_processes_deliver_in_order_what_the_other_commits(
        database_url: str, tmp_path: Path
    ) -> None:
        shared = {
            "database_url": database_url,
            "redis_url": REDIS_URL,
            "secret_key": "shared",
            "rate_limits": "false",  # Redis keeps counts from run to run
        }
        one = ServerProcess(tmp_path / "one", **shared).start()
        two = ServerProcess(tmp_path / "two", **shared).start()
        try:
            async with httpx.AsyncClient(base_url=one.url, timeout=30) as http:
                people = []
                for handle in ("amy", "ben"):
                    r = await http.post(
                        "/api/v1/auth/register",
                        json={"handle": handle, "display_name": handle, "password": "long enough"},
                    )
                    people.append(r.json())
                amy = {"Authorization": f"Bearer {people[0]['token']}"}
                gid = (await http.post("/api/v1/groups", headers=amy, json={"name": "G"})).json()[
                    "id"
                ]
                ben = {"Authorization": f"Bearer {people[1]['token']}"}
                await http.patch("/api/v1/me", headers=ben, json={"who_can_add_me": "anyone"})
                r = await http.post(
                    f"/api/v1/groups/{gid}/members", headers=amy, json={"handle": "ben"}
                )
                assert r.status_code == 201, r.text
                ws_two = two.url.replace("http", "ws") + "/api/v1/ws"
                ben_on_two = await _live(
                    ws_two, Person("ben", people[1]["token"], people[1]["user"]["id"])
                )
                posted = [
                    (
                        await http.post(
                            f"/api/v1/groups/{gid}/messages", headers=amy, json={"text": f"m{i}"}
                        )
                    ).json()
                    for i in range(20)
                ]
                frames = [await ben_on_two.recv(10) for _ in posted]
                assert [f["seq"] for f in frames] == [p["seq"] for p in posted]
                assert [f["data"]["text"] for f in frames] == [f"m{i}" for i in range(20)]
                await ben_on_two.conn.close()
        finally:
            one.stop()
            two.stop()

    async def test_disabling_closes_the_sockets_in_every_process(
        api: Api, app: Any, other_process: str
    ) -> None:
        boss, ben = await api.register("boss"), await api.register("ben")
        await make_admin(app, boss)
        ben_elsewhere = await _live(other_process, ben)
        await api.ok(boss, "POST", f"/admin/users/{ben.id}/disable", json={"reason": "left"})
        with pytest.raises(ConnectionClosed) as closed:
            await ben_elsewhere.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001

    async def test_disabling_at_the_command_line_closes_a_running_servers_sockets(
        api: Api, settings: Settings, other_process: str
    ) -> None:
        ben = await api.register("ben")
        ben_there = await _live(other_process, ben)
        assert REDIS_URL
        done = await earshot_admin(
            settings, "disable", ben.handle, "--reason", "x", redis_url=REDIS_URL
        )
        assert done.returncode == 0, done.stderr
        with pytest.raises(ConnectionClosed) as closed:
            await ben_there.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
