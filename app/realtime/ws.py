"""`GET /api/v1/ws`: one websocket per client carrying the events of all its groups.

Client frames are JSON text: `sync`, `ping`, `recording.started|stopped`. A bad
frame gets an error frame in the one error shape and the connection stays
usable; a client that floods is told so and then closed with 4029.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket

from app.realtime.hub import CLOSE_FLOODING, CLOSE_REVOKED, Connection, Hub, Send, Sync
from app.services.accounts import hash_token, user_for_token
from app.services.context import CONTROL_CHANNEL, Runtime

router = APIRouter()

MAX_TEXT_FRAME = 64 * 1024
EPHEMERAL = ("recording.started", "recording.stopped")


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return json.dumps({"type": "error", "error": error}, separators=(",", ":"))


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


@router.websocket("/ws")
async def websocket(ws: WebSocket, token: str = "") -> None:
    rt: Runtime = ws.app.state.runtime
    hub: Hub = ws.app.state.hub
    async with rt.sessions() as db:
        user = await user_for_token(db, token) if token else None
    if user is None:
        await ws.close(code=CLOSE_REVOKED, reason="sign in first")  # refused before accepting
        return
    await ws.accept()

    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, reason=reason)

    conn = Connection(
        user_id=user.id,
        token_hash=hash_token(token),
        send_text=ws.send_text,
        close=close,
        queue=asyncio.Queue(rt.settings.ws_send_queue),
    )
    await hub.attach(conn)
    pump = asyncio.create_task(hub.pump(conn))
    try:
        await _receive(ws, conn, rt)
    finally:
        hub.detach(conn)
        pump.cancel()
        with contextlib.suppress(BaseException):
            await pump


async def _receive(ws: WebSocket, conn: Connection, rt: Runtime) -> None:
    limit = RateLimit(rt.settings.ws_messages_per_s, rt.settings.ws_burst)
    while not conn.closing:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            return
        if not limit.allow():
            if limit.refused == 1 or limit.refused % 50 == 0:
                conn.offer(Send(error_frame("rate_limited", "Slow down: too many frames.")))
            if limit.refused > rt.settings.ws_burst * 4:
                await conn.close(CLOSE_FLOODING, "too many frames")
                return
            continue
        if frame.get("text") is not None:
            reply = await _handle_text(frame["text"], conn, rt)
        else:
            reply = error_frame(
                "no_live_message", "Binary frames are only for a live message (send live.start)."
            )
        if reply:
            conn.offer(Send(reply))


async def _handle_text(text: str, conn: Connection, rt: Runtime) -> str | None:
    if len(text) > MAX_TEXT_FRAME:
        return error_frame("too_large", f"Text frames are limited to {MAX_TEXT_FRAME} bytes.")
    try:
        message = json.loads(text)
    except ValueError:
        return error_frame("invalid_frame", "Frames must be JSON objects.")
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return error_frame("invalid_frame", "Frames must be JSON objects with a `type`.")
    kind = message["type"]
    if kind == "ping":
        return '{"type":"pong"}'
    if kind == "sync":
        return _sync(message, conn)
    if kind in EPHEMERAL:
        group_id = message.get("group_id")
        if not isinstance(group_id, str) or group_id not in conn.last_seq:
            return error_frame("group_not_found", "No such group, or you are not a member of it.")
        notice = {"type": kind, "group_id": group_id, "user_id": conn.user_id}
        await rt.broker.publish(CONTROL_CHANNEL, json.dumps(notice).encode())
        return None
    return error_frame("unknown_type", f"Unknown frame type {kind[:40]!r}.")


def _sync(message: dict[str, Any], conn: Connection) -> str | None:
    cursors = message.get("cursors")
    if not isinstance(cursors, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
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
