"""Fuzzing the websocket's flood protection: bursts of any frames, text and binary.

The rate limit is set so that timing cannot matter: a burst of 10 frames and a
refill of one frame per 1000 s. A fresh connection (whose `sync` and `ping` took
two of the ten) is sent a burst of generated frames at once. By the documented
rules the outcome is then exact: the first eight frames get their ordinary answers,
the first refused one gets a `rate_limited` error, the rest are dropped, and past
4 x burst refusals the server closes with 4029. Never a 1011, never a traceback in
the log; afterwards the same connection (if open) still hears the group, and a
fresh one answers ping and hears the group too.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from tests.fuzz.common import LogTrap, fuzz
from tests.fuzz.frames import Expect, Model, error, flood_frames
from tests.helpers import Api, Person
from tests.realtime.conftest import Client

BURST = 10
CLOSE_FLOODING = 4029
WAIT_S = 5  # for any one answer: generous (they take milliseconds), short when shrinking


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ws_messages_per_s": 0.001, "ws_burst": BURST})


@dataclass
class Flood:
    answers: list[Expect]  # in order, as the documented limits say
    closes: bool  # with 4029, after the last of `answers`
    resync: bool  # a sync moved the group's cursor (the connection may hear it no more)


def plan(frames: list[str | bytes], gid: str, tokens: int) -> Flood:
    """What a fresh connection with `tokens` frames left in its burst answers to `frames`."""
    model = Model(gid)
    answers: list[Expect] = []
    refused = 0
    for frame in frames:
        if tokens:
            tokens -= 1
            answers += model.expect(frame)
            continue
        refused += 1
        if refused == 1:
            answers.append(error("rate_limited"))
        if refused > 4 * BURST:
            return Flood(answers, closes=True, resync=model.resync)
    return Flood(answers, closes=False, resync=model.resync)


@dataclass
class Room:
    api: Api
    ws: Any
    trap: LogTrap
    amy: Person
    ben: Person
    gid: str
    foreign_gid: str
    posts: int = 0

    async def still_hears_the_group(self, client: Client) -> None:
        """Ben posts; the text reaches `client`, with nothing but events before it."""
        self.posts += 1
        text = f"after the flood {self.posts}"
        await self.api.post(self.ben, self.gid, text)
        async with asyncio.timeout(WAIT_S):
            while True:
                frame = json.loads(await client.conn.recv())
                assert "seq" in frame, f"only events are due now, not {frame}"
                if frame["type"] == "message.created" and frame["data"].get("text") == text:
                    return

    async def flood(self, frames: list[str | bytes]) -> None:
        client = await self.ws(self.amy)  # its sync and ping took two frames of the burst
        want = plan(frames, self.gid, tokens=BURST - 2)
        got: list[dict[str, Any]] = []
        try:
            for frame in frames:
                await client.conn.send(frame)
            async with asyncio.timeout(WAIT_S):
                while want.closes or len(got) < len(want.answers):
                    frame = json.loads(await client.conn.recv())
                    if "seq" not in frame:  # events the group had meanwhile are not answers
                        got.append(frame)
        except ConnectionClosed as closed:
            assert want.closes, f"closed ({closed}) when it should not have been; got {got}"
            assert closed.rcvd is not None and closed.rcvd.code == CLOSE_FLOODING, closed
            # The close may overtake answers still queued; those that came are the first ones.
            Model(self.gid).observe(want.answers[: len(got)], got)
        except TimeoutError:
            raise AssertionError(f"expected {want}, got only {got}") from None
        else:
            Model(self.gid).observe(want.answers, got)
            if not want.resync:
                await self.still_hears_the_group(client)
            await client.conn.close()
        fresh = await self.ws(self.amy)  # the `ws` fixture checks that ping gets pong
        await self.still_hears_the_group(fresh)
        await fresh.conn.close()
        self.trap.assert_clean()


@pytest.fixture
async def room(api: Api, ws: Any, log_trap: LogTrap) -> AsyncIterator[Room]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    log_trap.watch()  # uvicorn set up its own loggers when it started
    yield Room(api, ws, log_trap, amy, ben, gid, foreign_gid=await api.group(ben, "Ben's own"))


async def test_a_burst_of_any_frames_is_answered_limited_and_closed_as_documented(
    room: Room,
) -> None:
    frames = flood_frames(room.gid, room.foreign_gid)
    bursts = st.integers(1, 4 * BURST + 20).flatmap(
        lambda n: st.lists(frames, min_size=n, max_size=n)
    )
    await fuzz(bursts, room.flood, max_examples=30)
