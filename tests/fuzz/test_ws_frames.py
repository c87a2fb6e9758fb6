"""Fuzzing the websocket with Hypothesis: the real app behind a real uvicorn, real sockets.

Amy's connection gets sequences of generated frames (see tests/fuzz/frames.py),
text and binary, inside and outside live messages. After every frame she sends
a ping, so the frames up to its pong are the server's whole answer to that one
frame, which must be exactly what `Model` derives from the contract:

- the server never closes the connection (no 1011) and logs no unhandled error;
- every bad frame gets one error frame in the one error shape;
- a live message begun in the example ends `ready` or `failed` (bounded wait), and
  Ben, a member listening all along, got every accepted chunk, unchanged, at its offset;
- after each example the connection still works: ping gets pong, and a text that
  Ben posts reaches Amy.

One app, one server and one pair of connections serve all the examples of a
test (a broken connection is replaced at the start of the next example).
"""

import asyncio
import contextlib
import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from app.config import Settings
from tests import audio_samples
from tests.fuzz.common import LogTrap, fuzz
from tests.fuzz.frames import (
    DURABLE,
    LIVE_END,
    PING,
    Action,
    Model,
    actions,
    resolve,
)
from tests.helpers import Api, Person
from tests.realtime.conftest import Client

WAIT_S = 5  # for any one answer: generous (they take milliseconds), short when shrinking
PROCESSING_WAIT_S = 120


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Frame rates high enough that each answer depends on the frame alone (flooding is
    fuzzed in test_ws_flood.py), and live messages that end only when told to."""
    return settings.model_copy(
        update={
            "rate_limits": False,  # settle() posts a text per example
            "ws_messages_per_s": 1e6,
            "ws_burst": 1_000_000,
            "live_max_chunks_per_s": 1_000_000,
            "live_idle_timeout_s": 600.0,
        }
    )


class Listener:
    """Ben's connection, read all the time: the live chunks relayed to him, by message."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.chunks: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        self.arrived = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # `relayed` then says it was closed
            async for raw in self.client.conn:
                if isinstance(raw, bytes):
                    message_id = str(uuid.UUID(bytes=raw[:16]))
                    self.chunks[message_id].append((int.from_bytes(raw[16:24], "big"), raw[24:]))
                    self.arrived.set()
        self.arrived.set()

    async def relayed(self, message_id: str, count: int) -> list[tuple[int, bytes]]:
        """The first `count` chunks of a live message as relayed (bounded wait)."""
        async with asyncio.timeout(WAIT_S):
            while len(self.chunks[message_id]) < count:
                assert not self.task.done(), "Ben's connection was closed"
                self.arrived.clear()
                await self.arrived.wait()
        return self.chunks[message_id]


@dataclass
class Room:
    """Amy and Ben in a group; Amy is fuzzed, Ben listens and posts."""

    api: Api
    app: Any
    ws: Any  # tests/realtime/conftest.py's `ws`: opens a synced connection for a person
    http: httpx.AsyncClient  # plain HTTP to the same uvicorn
    trap: LogTrap
    amy: Person
    ben: Person
    gid: str
    recording: bytes
    model: Model
    amy_ws: Client
    listener: Listener
    dirty: bool = False  # an example stopped half-way: its answers may still be in flight
    posts: int = 0
    foreign_gid: str = ""

    async def begin(self) -> None:
        if self.dirty or self.amy_ws.conn.state is not State.OPEN:
            self.trap.clear()  # the example that left it so has failed already
            await self.amy_ws.conn.close()
            self.amy_ws = await self.ws(self.amy)  # the server ends a dropped live message
            self.model.live = None
            self.model.client_ids = await self.client_ids()  # what the failed example used
        self.model.new_example()
        self.dirty = True

    async def client_ids(self) -> dict[str, str]:
        """Amy's client_ids in the group and their messages, as the server has them."""
        found: dict[str, str] = {}
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self.api.ok(self.amy, "GET", f"/groups/{self.gid}/messages", params=params)
            for m in page["messages"]:
                if m["sender"]["id"] == self.amy.id and m["client_id"]:
                    found[m["client_id"]] = m["id"]
            if not page["has_more"]:
                return found
            params["before"] = page["messages"][0]["seq"]

    async def exchange(self, frame: str | bytes) -> None:
        """Send one frame, then a ping; check everything before its pong against the model."""
        if isinstance(frame, str) and '"sync"' in frame:  # the answer depends on the head
            await self.app.state.runtime.ingest.idle()  # no conversion moves it meanwhile
            group = await self.api.ok(self.amy, "GET", f"/groups/{self.gid}")
            self.model.head = group["last_seq"]
        expected = self.model.expect(frame)
        pongs = 1 + sum(e.kind == "pong" for e in expected)
        try:
            await self.amy_ws.conn.send(frame)
            await self.amy_ws.conn.send(PING)
            got = await self.answers(pongs)
        except ConnectionClosed as closed:
            raise AssertionError(f"the server closed the socket after {frame!r:.300}") from closed
        except TimeoutError:
            raise AssertionError(f"no answer within {WAIT_S} s to {frame!r:.300}") from None
        for message_id in self.model.observe(expected, got):
            await self.check_live_so_far(message_id)

    async def answers(self, pongs: int) -> list[dict[str, Any]]:
        """Frames up to the `pongs`-th pong, without it; durable events are left out."""
        got: list[dict[str, Any]] = []
        while True:
            raw = await asyncio.wait_for(self.amy_ws.conn.recv(), WAIT_S)
            assert isinstance(raw, str), f"a binary frame for the sender: {raw[:40]!r}"
            frame = json.loads(raw)
            assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
            if "seq" in frame:
                assert frame["type"] in DURABLE, frame
                continue
            if frame == {"type": "pong"}:
                pongs -= 1
                if pongs == 0:
                    return got
            got.append(frame)

    async def check_live_so_far(self, message_id: str) -> None:
        """A late listener's GET /live works over real HTTP, whatever mime was declared."""
        r = await self.http.get(f"/api/v1/messages/{message_id}/live", headers=self.amy.auth)
        assert r.status_code == 200, r.text
        assert r.content == b""

    async def settle(self) -> None:
        """End the example: close what is open, then check every property."""
        model = self.model
        if model.live is not None:
            await self.exchange(LIVE_END)
        if model.resync:  # a sync set our cursor somewhere else: resume from the truth
            last = (await self.api.ok(self.amy, "GET", f"/groups/{self.gid}"))["last_seq"]
            await self.exchange(json.dumps({"type": "sync", "cursors": {self.gid: last}}))
        if model.started:
            await asyncio.wait_for(self.app.state.runtime.ingest.idle(), PROCESSING_WAIT_S)
        for message_id in model.started:
            sent = model.chunks[message_id]
            offsets = list(itertools.accumulate((len(c) for c in sent), initial=0))[:-1]
            relayed = await self.listener.relayed(message_id, len(sent))
            assert relayed == list(zip(offsets, sent, strict=True)), "relayed unchanged, in order"
            memo = await self.api.ok(self.amy, "GET", f"/messages/{message_id}")
            voice = memo["voice"]
            assert voice["status"] in ("ready", "failed"), voice
            assert voice["status"] == "ready" or voice["error"], voice
        await self.exchange(PING)
        self.posts += 1
        text = f"still listening {self.posts}"
        await self.api.post(self.ben, self.gid, text)
        await self.event_with_text(text)
        self.trap.assert_clean()
        self.dirty = False

    async def event_with_text(self, text: str) -> None:
        async with asyncio.timeout(WAIT_S):
            while True:
                frame = json.loads(await self.amy_ws.conn.recv())
                assert "seq" in frame, f"only events are due now, not {frame}"
                if frame["type"] == "message.created" and frame["data"].get("text") == text:
                    return


@pytest.fixture
async def room(
    api: Api, app: Any, ws: Any, ws_url: str, samples: Any, log_trap: LogTrap
) -> AsyncIterator[Room]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    log_trap.watch()  # uvicorn set up its own loggers when it started
    base = ws_url.replace("ws://", "http://").split("/api/")[0]
    async with httpx.AsyncClient(base_url=base) as http:
        listener = Listener(await ws(ben))
        yield Room(
            api=api,
            app=app,
            ws=ws,
            http=http,
            trap=log_trap,
            amy=amy,
            ben=ben,
            gid=gid,
            recording=audio_samples.client_file(samples, "chrome_webm").read_bytes(),
            model=Model(gid),
            amy_ws=await ws(amy),
            listener=listener,
            foreign_gid=await api.group(ben, "Ben's own"),
        )
        listener.task.cancel()


async def _run(room: Room, sequence: list[Action]) -> None:
    await room.begin()
    for action in sequence:
        await room.exchange(resolve(action, room.model, room.recording))
    await room.settle()


async def test_any_frames_in_any_order_get_their_contract_answer(room: Room) -> None:
    sequences = st.lists(
        actions(room.gid, room.foreign_gid, room.recording), min_size=1, max_size=10
    )
    await fuzz(sequences, lambda sequence: _run(room, sequence), max_examples=60)
