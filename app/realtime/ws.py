"""`GET /api/v1/ws`: one websocket per client carrying the events of all its groups.

Signing in, without the token in the URL (where proxies and access logs keep it):
offer the subprotocols `earshot` and `bearer.<token>` (the server answers `earshot`),
or send `{"type": "auth", "token": ...}` as the first frame within
`ws_auth_timeout_s` (answered `auth.ok`). `?token=` still works. A person has at
most `ws_max_sockets_per_user` sockets per process: the next gets an error frame and
close code 4009.

Client frames are JSON text (`app.realtime.frames`): `sync`, `ping`,
`recording.started|stopped`, `live.start`, `live.end`; binary frames are chunks of the
sender's live memo (`app.services.live`). This module only translates: frames into
calls, outcomes into frames. A bad frame gets an error frame in the one error shape and
the connection stays usable; a client that floods is told so and then closed with 4029.
Frames larger than `ws_max_frame_bytes` never reach us: uvicorn closes the socket
(1009) on reading the frame's header (see `app.cli.server_options`).
"""

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket

from app.aio import cancel_and_wait
from app.errors import ApiError
from app.models import User
from app.realtime import frames
from app.realtime.connection import (
    CLOSE_FLOODING,
    CLOSE_REVOKED,
    CLOSE_TOO_MANY,
    Connection,
    Send,
    Sync,
    error_frame,
)
from app.realtime.hub import Hub
from app.realtime.wire import CONTROL_CHANNEL, RecordingNotice, encode_control
from app.services.accounts import hash_token, user_for_token
from app.services.context import Runtime
from app.services.live import LiveLimit, LiveSender

router = APIRouter()

SUBPROTOCOL = "earshot"
TOKEN_PROTOCOL = "bearer."
_MAX_TOKEN = 256


class RateLimit:
    """A token bucket: `rate` frames a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.refused = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False


async def _user(rt: Runtime, token: str) -> User | None:
    if not token or len(token) > _MAX_TOKEN:
        return None
    async with rt.read_sessions() as db:
        return await user_for_token(db, token)


async def _first_frame_token(ws: WebSocket, timeout_s: float) -> str:
    """The token of an `auth` first frame, or "" when none came in time."""
    try:
        async with asyncio.timeout(timeout_s):
            frame = await ws.receive()
    except TimeoutError:
        return ""
    text = frame.get("text") if frame["type"] == "websocket.receive" else None
    if not text or len(text) > 2 * _MAX_TOKEN:
        return ""
    try:
        message = json.loads(text)
    except ValueError:
        return ""
    token = message.get("token") if isinstance(message, dict) else None
    return token if message.get("type") == "auth" and isinstance(token, str) else ""


async def _refuse(
    ws: WebSocket, *, close: int, code: str, message: str, details: dict[str, Any] | None = None
) -> None:
    """An error frame, then the close code: the client learns why before it is cut off."""
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.send_text(error_frame(code, message, details))
        await ws.close(code=close, reason=code)


@router.websocket("/ws")
async def websocket(ws: WebSocket, token: str = "") -> None:
    rt: Runtime = ws.app.state.runtime
    hub: Hub = ws.app.state.hub
    offered = ws.scope.get("subprotocols") or []
    subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
    token = token or next(
        (p.removeprefix(TOKEN_PROTOCOL) for p in offered if p.startswith(TOKEN_PROTOCOL)), ""
    )
    if token:
        user = await _user(rt, token)
        if user is None:
            await ws.close(code=CLOSE_REVOKED, reason="sign in first")  # refused before accepting
            return
        await ws.accept(subprotocol=subprotocol)
    else:
        await ws.accept(subprotocol=subprotocol)
        token = await _first_frame_token(ws, rt.settings.ws_auth_timeout_s)
        user = await _user(rt, token)
        if user is None:
            message = 'Sign in first: send {"type": "auth", "token": ...} as the first frame.'
            await _refuse(ws, close=CLOSE_REVOKED, code="unauthorized", message=message)
            return
        await ws.send_text(json.dumps({"type": "auth.ok", "user_id": user.id}))
    if not hub.reserve(user.id):
        cap = rt.settings.ws_max_sockets_per_user
        message = f"At most {cap} connections per person; close another one first."
        await _refuse(
            ws,
            close=CLOSE_TOO_MANY,
            code="too_many_connections",
            message=message,
            details={"max": cap},
        )
        return
    try:
        await _serve(ws, rt, hub, user, token)
    finally:
        hub.release(user.id)


async def _serve(ws: WebSocket, rt: Runtime, hub: Hub, user: User, token: str) -> None:
    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, reason=reason)

    conn = Connection(
        user_id=user.id,
        token_hash=hash_token(token),
        send_text=ws.send_text,
        send_bytes=ws.send_bytes,
        close=close,
        queue=asyncio.Queue(rt.settings.ws_send_queue),
        max_bytes=rt.settings.ws_send_queue_bytes,
    )
    client = _Client(rt, conn, user)
    conn.on_leave = client.sender.left_group
    await hub.attach(conn)
    pump = asyncio.create_task(hub.pump(conn))
    try:
        await client.receive(ws)
    finally:
        hub.detach(conn)
        await client.sender.end()  # a dropped sender ends its live message; nothing is lost
        await cancel_and_wait([pump])


class _Client:
    """One connection's frames in and answers out: its rate limit and its push-to-talk."""

    def __init__(self, rt: Runtime, conn: Connection, user: User) -> None:
        self.rt, self.conn, self.user = rt, conn, user
        self.limit = RateLimit(rt.settings.ws_messages_per_s, rt.settings.ws_burst)
        self.sender = LiveSender(rt, user, on_refused=self.refused, on_ended=self.ended)

    def reply(self, text: str | None) -> None:
        if text:
            self.conn.offer(Send(text))

    def refused(self, why: LiveLimit) -> None:
        self.reply(error_frame(why.code, why.message))

    def ended(self, message_id: str) -> None:
        self.reply(json.dumps({"type": "live.ended", "message_id": message_id}))

    async def receive(self, ws: WebSocket) -> None:
        while not self.conn.closing:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            data = frame.get("bytes")
            if data is not None and self.sender.sending:
                await self.sender.chunk(data)  # live chunks have their own limits (LiveLimit)
            elif not self.limit.allow():
                if await self.flooded():
                    return
            elif data is not None:
                self.reply(
                    error_frame(
                        "no_live_message",
                        "Binary frames are only for a live message (send live.start).",
                    )
                )
            else:
                self.reply(await self.on_text(frame.get("text") or ""))

    async def flooded(self) -> bool:
        """Tell a flooding client to slow down; past a point, close it. True when closed."""
        limit = self.limit
        if limit.refused == 1 or limit.refused % 50 == 0:
            retry_after_ms = max(1, round(1000 / limit.rate))
            details = {"retry_after_ms": retry_after_ms}
            self.reply(error_frame("rate_limited", "Slow down: too many frames.", details))
        if limit.refused > self.rt.settings.ws_burst * 4:
            await self.conn.close(CLOSE_FLOODING, "too many frames")
            return True
        return False

    async def on_text(self, text: str) -> str | None:
        frame = frames.parse(text)
        if isinstance(frame, frames.BadFrame):
            return self.bad(frame)
        if isinstance(frame, frames.Ping):
            return '{"type":"pong"}'
        if isinstance(frame, frames.SyncFrame):
            return self.sync(frame.cursors)
        if isinstance(frame, frames.RecordingFrame):
            return await self.recording(frame.type, frame.group_id)
        if isinstance(frame, frames.LiveStart):
            if self.sender.sending:
                return error_frame("live_in_progress", "End the current live message first.")
            if frame.group_id not in self.conn.last_seq:
                return _NOT_A_GROUP
            return await self.start_live(
                frame.group_id, frame.mime, frame.client_id, frame.reply_to
            )
        if not self.sender.sending:
            return error_frame("no_live_message", "There is no live message to end.")
        await self.sender.end()
        return None

    def bad(self, frame: frames.BadFrame) -> str:
        """The answer to a frame that is not one of `app.realtime.frames` (checked in order)."""
        if frame.problem == "too_large":
            limit = frames.MAX_TEXT_FRAME
            return error_frame("too_large", f"Text frames are limited to {limit} bytes.")
        if frame.problem == "not_json":
            return error_frame("invalid_frame", "Frames must be JSON objects.")
        if frame.problem == "no_type":
            return error_frame("invalid_frame", "Frames must be JSON objects with a `type`.")
        if frame.problem == "unknown_type":
            return error_frame("unknown_type", f"Unknown frame type {frame.type[:40]!r}.")
        if frame.type == "sync":
            return error_frame(
                "invalid_frame", "`cursors` maps group ids to the last seq seen (integers >= 0)."
            )
        if frame.type == "live.start" and self.sender.sending:
            return error_frame("live_in_progress", "End the current live message first.")
        if frame.group_id is None or frame.group_id not in self.conn.last_seq:
            return _NOT_A_GROUP
        if frame.type == "live.start" and "mime" in frame.fields:
            return error_frame(
                "invalid_frame", "`mime` names the recording's type, e.g. audio/webm."
            )
        return error_frame(
            "invalid_frame",
            "`client_id` is a string of 1 to 64 characters, `reply_to` a message id.",
        )

    async def start_live(
        self, group_id: str, mime: str, client_id: str | None, reply_to: str | None
    ) -> str:
        try:
            message_id = await self.sender.start(group_id, mime, client_id, reply_to)
        except ApiError as refused:
            return error_frame(refused.code, refused.message, refused.details)
        return json.dumps({"type": "live.started", "message_id": message_id})

    async def recording(self, kind: str, group_id: str) -> str | None:
        if group_id not in self.conn.last_seq:
            return _NOT_A_GROUP
        notice = RecordingNotice(kind, group_id, self.conn.user_id)
        await self.rt.broker.publish(CONTROL_CHANNEL, encode_control(notice))
        return None

    def sync(self, cursors: dict[str, int]) -> str | None:
        known = {gid: seq for gid, seq in cursors.items() if gid in self.conn.last_seq}
        self.conn.offer(Sync(known))  # even when empty: it is also the signal to start
        unknown = sorted(set(cursors) - set(known))
        if unknown:
            return error_frame(
                "group_not_found",
                "Some groups are unknown or you are not a member.",
                {"group_ids": unknown[:100]},
            )
        return None


_NOT_A_GROUP = error_frame("group_not_found", "No such group, or you are not a member of it.")
