"""`GET /api/v1/ws`: one websocket per client carrying the events of all its groups.

Signing in, without the token in the URL (where proxies and access logs keep it):
offer the subprotocols `earshot` and `bearer.<token>` (the server answers `earshot`),
or send `{"type": "auth", "token": ...}` as the first frame within
`ws_auth_timeout_s` (answered `auth.ok`). `?token=` still works. A person has at
most `ws_max_sockets_per_user` sockets per process: the next gets an error frame and
close code 4009.

Client frames are JSON text: `sync`, `ping`, `recording.started|stopped`,
`live.start`, `live.end`; binary frames are chunks of the sender's live recording. A bad
frame gets an error frame in the one error shape and the connection stays
usable; a client that floods is told so and then closed with 4029. Frames larger than
`ws_max_frame_bytes` never reach us: uvicorn closes the socket (1009) on reading the
frame's header (see `app.cli.server_options`).
"""

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket

from app.aio import cancel_and_wait
from app.errors import ApiError
from app.models import MAX_SEQ, User
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
from app.realtime.live import REFUSED, LiveLimit, LiveSession, wait_until_idle
from app.schemas import storable
from app.services.accounts import hash_token, user_for_token
from app.services.context import CONTROL_CHANNEL, Ctx, Runtime
from app.services.live import start_live

router = APIRouter()

MAX_TEXT_FRAME = 64 * 1024
EPHEMERAL = ("recording.started", "recording.stopped")
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
    session = _Session(rt, conn, user)
    conn.on_leave = session.left_group
    await hub.attach(conn)
    pump = asyncio.create_task(hub.pump(conn))
    try:
        await session.receive(ws)
    finally:
        hub.detach(conn)
        await session.end_live()  # a dropped sender ends its live message; nothing is lost
        await cancel_and_wait([pump])


class _Session:
    """What one connection is doing: its rate limit and its live message, if any."""

    def __init__(self, rt: Runtime, conn: Connection, user: User) -> None:
        self.rt, self.conn, self.user = rt, conn, user
        self.limit = RateLimit(rt.settings.ws_messages_per_s, rt.settings.ws_burst)
        self.live: LiveSession | None = None
        self.idle: asyncio.Task[None] | None = None
        self.ending: set[asyncio.Task[None]] = set()

    def reply(self, text: str | None) -> None:
        if text:
            self.conn.offer(Send(text))

    async def receive(self, ws: WebSocket) -> None:
        while not self.conn.closing:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            data = frame.get("bytes")
            if data is not None and self.live is not None:
                await self.on_chunk(data)  # live chunks have their own limits (LiveLimit)
            elif not self.limit.allow():
                if await self.flooded():
                    return
            elif data is not None:
                await self.on_chunk(data)  # no live message: answered with an error
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
        if len(text) > MAX_TEXT_FRAME or len(text.encode()) > MAX_TEXT_FRAME:  # bytes, not chars
            return error_frame("too_large", f"Text frames are limited to {MAX_TEXT_FRAME} bytes.")
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            return error_frame("invalid_frame", "Frames must be JSON objects.")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return error_frame("invalid_frame", "Frames must be JSON objects with a `type`.")
        kind = message["type"]
        if kind == "ping":
            return '{"type":"pong"}'
        if kind == "sync":
            return _sync(message, self.conn)
        if kind in EPHEMERAL:
            return await _indicator(kind, message, self.conn, self.rt)
        if kind == "live.start":
            return await self.start_live(message)
        if kind == "live.end":
            if self.live is None:
                return error_frame("no_live_message", "There is no live message to end.")
            await self.end_live()
            return None
        return error_frame("unknown_type", f"Unknown frame type {kind[:40]!r}.")

    async def start_live(self, message: dict[str, Any]) -> str:
        if self.live is not None:
            return error_frame("live_in_progress", "End the current live message first.")
        group_id, mime = message.get("group_id"), message.get("mime")
        client_id = message.get("client_id")
        if not isinstance(group_id, str) or group_id not in self.conn.last_seq:
            return error_frame("group_not_found", "No such group, or you are not a member of it.")
        # GET /live sends `mime` back as Content-Type: audio types only (checked by start_live).
        if not isinstance(mime, str) or not 0 < len(mime) <= 100:
            return error_frame(
                "invalid_frame", "`mime` names the recording's type, e.g. audio/webm."
            )
        if client_id is not None and (
            not isinstance(client_id, str)
            or not 0 < len(client_id) <= 64
            or not storable(client_id)
        ):
            return error_frame("invalid_frame", "`client_id` is a string of 1 to 64 characters.")
        try:
            async with self.rt.sessions() as db:
                out, created = await start_live(
                    Ctx(db=db, rt=self.rt), self.user, group_id, mime, client_id
                )
        except ApiError as refused:
            return error_frame(refused.code, refused.message, refused.details)
        if created:
            self.live = LiveSession(self.rt, out.id, group_id, self.user.id)
            self.idle = asyncio.create_task(self._end_when_idle(self.live))
        return json.dumps({"type": "live.started", "message_id": out.id})

    async def on_chunk(self, data: bytes) -> None:
        if self.live is None:
            self.reply(
                error_frame(
                    "no_live_message",
                    "Binary frames are only for a live message (send live.start).",
                )
            )
            return
        try:
            await self.live.chunk(data)
        except LiveLimit as breach:
            self.reply(error_frame(breach.code, breach.message + " The live message has ended."))
            await self.end_live()

    def left_group(self, group_id: str) -> None:
        """The user is out of the group (the hub says): end their live memo there at once."""
        if self.live is None or self.live.group_id != group_id:
            return
        self.reply(
            error_frame("not_a_member", REFUSED["not_a_member"] + " The live message has ended.")
        )
        task = asyncio.get_running_loop().create_task(self.end_live())
        self.ending.add(task)
        task.add_done_callback(self.ending.discard)

    async def _end_when_idle(self, live: LiveSession) -> None:
        await wait_until_idle(live)
        if self.live is live:
            self.reply(
                error_frame("live_idle", "No audio for a while: the live message has ended.")
            )
            self.idle = None
            await self.end_live()

    async def end_live(self) -> None:
        live, self.live = self.live, None
        if self.idle is not None and self.idle is not asyncio.current_task():
            self.idle.cancel()
        self.idle = None
        if live is not None:
            await live.end()
            self.reply(json.dumps({"type": "live.ended", "message_id": live.message_id}))


async def _indicator(
    kind: str, message: dict[str, Any], conn: Connection, rt: Runtime
) -> str | None:
    group_id = message.get("group_id")
    if not isinstance(group_id, str) or group_id not in conn.last_seq:
        return error_frame("group_not_found", "No such group, or you are not a member of it.")
    notice = {"type": kind, "group_id": group_id, "user_id": conn.user_id}
    await rt.broker.publish(CONTROL_CHANNEL, json.dumps(notice).encode())
    return None


def _sync(message: dict[str, Any], conn: Connection) -> str | None:
    cursors = message.get("cursors")
    if not isinstance(cursors, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_SEQ
        for k, v in cursors.items()
    ):
        return error_frame(
            "invalid_frame", "`cursors` maps group ids to the last seq seen (integers >= 0)."
        )
    known = {gid: seq for gid, seq in cursors.items() if gid in conn.last_seq}
    conn.offer(Sync(known))  # even when empty: it is also the signal to go live
    unknown = sorted(set(cursors) - set(known))
    if unknown:
        return error_frame(
            "group_not_found",
            "Some groups are unknown or you are not a member.",
            {"group_ids": unknown[:100]},
        )
    return None
