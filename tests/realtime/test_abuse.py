"""The websocket against one ordinary account: signing in without the token in the URL,
frames refused before they are read, caps on sockets and live memos per person,
queues bounded in bytes, a cursor past the head, audio-only live types, a live bomb."""

import asyncio
import base64
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.realtime.connection import Connection, Send, SendBytes
from tests import hostile_audio
from tests.helpers import Api, Person
from tests.realtime.conftest import Client

SOCKET_CAP = 3
LIMIT_S = 30


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "ws_auth_timeout_s": 0.5,
            "ws_max_sockets_per_user": SOCKET_CAP,
            "max_duration_s": LIMIT_S,
        }
    )


async def _closed(conn: Any, wait_s: float = 5) -> tuple[list[dict[str, Any]], int | None]:
    """The frames that came before the server closed the socket, and its close code."""
    frames = []
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(json.loads(await asyncio.wait_for(conn.recv(), wait_s)))
    return frames, conn.close_code


async def test_the_first_frame_signs_in_and_the_socket_then_works(api: Api, ws_url: str) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    conn = await connect(ws_url, compression=None)
    client = Client(conn)
    await client.send({"type": "auth", "token": amy.token})
    assert await client.recv() == {"type": "auth.ok", "user_id": amy.id}
    await client.send({"type": "sync", "cursors": {}})
    await client.send({"type": "ping"})
    assert await client.recv() == {"type": "pong"}
    await api.post(amy, gid, "heard without a token in any URL")
    assert (await client.recv_type("message.created"))["data"]["text"].startswith("heard")
    await conn.close()


async def test_a_socket_that_does_not_sign_in_in_time_is_closed(ws_url: str) -> None:
    conn = await connect(ws_url, compression=None)
    frames, code = await _closed(conn)
    assert [f["error"]["code"] for f in frames] == ["unauthorized"] and code == 4001


async def test_a_wrong_token_in_the_first_frame_is_refused(ws_url: str) -> None:
    conn = await connect(ws_url, compression=None)
    await conn.send(json.dumps({"type": "auth", "token": "not-a-token"}))
    frames, code = await _closed(conn)
    assert [f["error"]["code"] for f in frames] == ["unauthorized"] and code == 4001


async def test_the_subprotocol_header_carries_the_token(api: Api, ws_url: str) -> None:
    amy = await api.register("amy")
    protocols: Any = ["earshot", f"bearer.{amy.token}"]
    conn = await connect(ws_url, subprotocols=protocols, compression=None)
    assert conn.subprotocol == "earshot", "the server never echoes the token back"
    client = Client(conn)
    await client.send({"type": "sync", "cursors": {}})
    await client.send({"type": "ping"})
    assert await client.recv() == {"type": "pong"}
    await conn.close()


def _raw_upgrade(ws_url: str, token: str) -> socket.socket:
    """A websocket handshake by hand, so that a frame can be sent header first."""
    url = urlsplit(ws_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {url.path}?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _close_code(sock: socket.socket) -> int | None:
    """Read server frames until a close frame; its code (None if the socket just ended)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        if not chunk:
            return None
        data += chunk
        while len(data) >= 2:
            opcode, length = data[0] & 0x0F, data[1] & 0x7F
            start = 2 + {126: 2, 127: 8}.get(length, 0)
            if length >= 126:
                length = int.from_bytes(data[2:start], "big")
            if len(data) < start + length:
                break
            payload, data = data[start : start + length], data[start + length :]
            if opcode == 0x8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None


async def test_a_16_mib_frame_is_refused_on_its_header_before_it_is_sent(
    api: Api, ws_url: str
) -> None:
    amy = await api.register("amy")

    def attempt() -> int | None:
        sock = _raw_upgrade(ws_url, amy.token)
        try:
            size = 16 * 1024 * 1024
            header = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big") + os.urandom(4)
            sock.sendall(header + b"\0" * 1024)  # the rest of the 16 MiB is never sent
            return _close_code(sock)
        finally:
            sock.close()

    assert await asyncio.to_thread(attempt) == 1009, "closed as too big, without waiting for it"


async def test_a_person_has_at_most_the_socket_cap(
    api: Api, app: Any, ws: Any, ws_url: str
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    kept = [await ws(amy) for _ in range(SOCKET_CAP)]
    extra = await connect(f"{ws_url}?token={amy.token}", compression=None)
    frames, code = await _closed(extra)
    assert code == 4009
    assert frames[0]["error"]["code"] == "too_many_connections"
    assert frames[0]["error"]["details"] == {"max": SOCKET_CAP}
    await ws(ben)  # others are not affected
    await kept[0].conn.close()
    for _ in range(50):  # the server notices the close a moment later
        await asyncio.sleep(0.02)
        if len(app.state.hub.by_user[amy.id]) < SOCKET_CAP:
            break
    await ws(amy)  # a freed place can be used again


@pytest.fixture
async def pair(api: Api) -> tuple[Person, Person, str]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    return amy, ben, gid


async def _start(client: Client, gid: str, mime: str = "audio/webm;codecs=opus") -> dict[str, Any]:
    await client.send({"type": "live.start", "group_id": gid, "mime": mime})
    return await client.recv_type("live.started", "error")


async def test_one_live_memo_at_a_time_per_person_across_sockets(ws: Any, pair: Any) -> None:
    amy, _, gid = pair
    phone, laptop = await ws(amy), await ws(amy)
    started = await _start(phone, gid)
    assert started["type"] == "live.started"
    refused = await _start(laptop, gid)
    assert refused["error"]["code"] == "live_in_progress"
    assert refused["error"]["details"] == {"message_id": started["message_id"]}
    await phone.send({"type": "live.end"})
    await phone.recv_type("live.ended")
    assert (await _start(laptop, gid))["type"] == "live.started"


async def test_live_start_accepts_only_audio_types(api: Api, ws: Any, pair: Any) -> None:
    amy, _, gid = pair
    sender = await ws(amy)
    odd = ("text/html", "application/octet-stream", "audio/webm\r\nX-Evil: 1", "audio/\u212aeep")
    for mime in odd:
        refused = await _start(sender, gid, mime)
        assert refused["error"]["code"] == "invalid_frame", mime
    assert (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"] == []
    started = await _start(sender, gid, "audio/ogg; codecs=opus")
    assert started["type"] == "live.started"


async def test_a_cursor_past_the_head_is_told_the_head_and_stays_live(
    api: Api, ws: Any, pair: Any
) -> None:
    amy, ben, gid = pair
    head = (await api.ok(ben, "GET", f"/groups/{gid}"))["last_seq"]
    client = await ws(ben, {gid: head + 50})
    error = await client.recv_type("error")
    assert error["error"]["code"] == "cursor_ahead"
    assert error["error"]["details"] == {"heads": {gid: head}}
    posted = await api.post(amy, gid, "still heard")
    frame = await client.recv_type("message.created")
    assert frame["seq"] == posted["seq"] == head + 1


def test_a_connection_queue_is_bounded_in_bytes() -> None:
    async def nothing(*_: Any) -> None:
        return None

    conn = Connection(
        user_id="u", token_hash="t", send_text=nothing, send_bytes=nothing, close=nothing,
        queue=asyncio.Queue(1000), max_bytes=100_000,
    )  # fmt: skip
    chunk = SendBytes(b"\0" * 40_000)
    assert conn.offer(chunk) and conn.offer(chunk)
    assert not conn.offer(chunk), "a third 40 KB chunk would pass 100 KB"
    assert conn.offer(Send("small")), "what fits still fits"
    assert conn.queued_bytes == 80_005


async def test_a_live_bomb_is_cut_at_the_length_limit(
    api: Api, app: Any, ws: Any, pair: Any, samples: Path
) -> None:
    """A live memo is never probed: the conversion alone must stop the bomb."""
    amy, _, gid = pair
    bomb = hostile_audio.zero_timestamp_bomb(samples, "flac", 36_000).read_bytes()
    sender = await ws(amy)
    mid = (await _start(sender, gid, "audio/x-matroska"))["message_id"]
    for i in range(0, len(bomb), 60_000):
        await sender.conn.send(bomb[i : i + 60_000])
    await sender.send({"type": "live.end"})
    await sender.recv_type("live.ended")
    await app.state.runtime.ingest.idle()
    memo = await api.ok(amy, "GET", f"/messages/{mid}")
    assert memo["voice"]["status"] == "failed"
    assert "longer than" in memo["voice"]["error"]
