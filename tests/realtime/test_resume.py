"""Clients that drop and come back at random moments, while others post, end up with
exactly the server's event sequence: nothing missing, nothing twice, in order."""

import asyncio
import random

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import Api, Person
from tests.realtime.conftest import Client


async def test_random_disconnects_during_concurrent_posting_lose_and_repeat_nothing(
    api: Api, ws_url: str
) -> None:
    rng = random.Random(20261123)
    owner = await api.register("owner")
    gid = await api.group(owner)
    posters = [await api.register(f"poster{i}") for i in range(3)]
    readers = [await api.register(f"reader{i}") for i in range(4)]
    for person in (*posters, *readers):
        await api.add(owner, gid, person)
    start = (await api.ok(owner, "GET", f"/groups/{gid}"))["last_seq"]
    seen: dict[str, list[int]] = {r.id: [] for r in readers}

    async def read_for(reader: Person, seconds: float) -> None:
        """One connection: sync from the last seq this reader has, read, then drop."""
        cursor = seen[reader.id][-1] if seen[reader.id] else start
        conn = await connect(f"{ws_url}?token={reader.token}", compression=None)
        client = Client(conn)
        await client.send({"type": "sync", "cursors": {gid: cursor}})
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    frame = await client.recv(left)
                except TimeoutError:
                    break
                if frame.get("group_id") == gid and "seq" in frame:
                    seen[reader.id].append(frame["seq"])
        finally:
            await conn.close()

    async def reader_life(reader: Person) -> None:
        for _ in range(6):
            await read_for(reader, rng.uniform(0.02, 0.4))
            await asyncio.sleep(rng.uniform(0, 0.2))

    async def poster_life(poster: Person) -> None:
        for i in range(25):
            await api.post(poster, gid, f"{poster.handle} {i}")
            await asyncio.sleep(rng.uniform(0, 0.05))

    await asyncio.gather(*map(reader_life, readers), *map(poster_life, posters))
    last = (await api.ok(owner, "GET", f"/groups/{gid}"))["last_seq"]
    for reader in readers:  # one last, calm reconnection catches up on the rest
        while not seen[reader.id] or seen[reader.id][-1] < last:
            try:
                await read_for(reader, 1.0)
            except ConnectionClosed:
                continue
        assert seen[reader.id] == list(range(start + 1, last + 1)), reader.handle
    assert last - start == 75
