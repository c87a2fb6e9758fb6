"""One websocket connection as the hub sees it, the items its send queue carries, and the
error frame every refusal on a websocket is sent as.

Each connection has a queue bounded by count and by bytes, drained by its own task
(the hub's `pump`), so a slow client only ever slows itself.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

CLOSE_REVOKED = 4001
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_MANY = 4009
CLOSE_FLOODING = 4029


@dataclass
class Delivery:
    """A durable event on its way to connections: parsed once, sent as the same text."""

    group_id: str
    seq: int
    text: str
    leaving_user: str | None = None  # after this event, that member hears no more
    group_deleted: bool = False


@dataclass
class Check:
    """Compare with the database and fill any gap (after connecting or a lost subscription)."""


@dataclass
class Sync:
    cursors: dict[str, int]


@dataclass
class Start:
    """No sync came: start delivering from where the connection started."""


@dataclass
class Send:
    """A frame that is not a durable event (pong, errors, indicators)."""

    text: str


@dataclass
class SendBytes:
    """A chunk of a live memo, as listeners receive it (see `app.realtime.wire`)."""

    data: bytes


@dataclass
class Wait:
    """A send that started outside the pump and had to wait: hold everything behind it."""

    task: asyncio.Task[None]


Item = Delivery | Check | Sync | Start | Send | SendBytes | Wait


def error_frame(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    """A websocket error frame, in the one error shape."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return json.dumps({"type": "error", "error": error}, separators=(",", ":"))


def _size(item: Item) -> int:
    if isinstance(item, Delivery | Send):
        return len(item.text)
    if isinstance(item, SendBytes):
        return len(item.data)
    return 0


@dataclass(eq=False)
class Connection:
    """One websocket: its queue holds at most `queue.maxsize` items and `max_bytes` bytes."""

    user_id: str
    token_hash: str
    send_text: Callable[[str], Coroutine[Any, Any, None]]
    send_bytes: Callable[[bytes], Coroutine[Any, Any, None]]
    close: Callable[[int, str], Awaitable[None]]
    queue: asyncio.Queue[Item]
    max_bytes: int = 4 * 1024 * 1024
    queued_bytes: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)
    synced: bool = False  # false until the first sync (or the grace period) has run
    closing: bool = False
    parked: bool = False  # the pump is waiting for its next item
    # Told at once when its user leaves a group (removed, banned, left) or the group is
    # deleted: a live memo they are sending there must end (see app.services.live).
    on_leave: Callable[[str], None] | None = None

    @property
    def idle(self) -> bool:
        return self.parked and self.queue.empty()

    def offer(self, item: Item) -> bool:
        size = _size(item)
        if size and self.queued_bytes + size > self.max_bytes:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        self.queued_bytes += size
        return True

    async def take(self) -> Item:
        item = await self.queue.get()
        self.queued_bytes -= _size(item)
        return item
