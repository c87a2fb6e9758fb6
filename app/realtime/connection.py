"""One websocket connection as the hub sees it, and the items its send queue carries.

Each connection has a bounded queue drained by its own task (the hub's `pump`), so a
slow client only ever slows itself.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

CLOSE_REVOKED = 4001
CLOSE_TOO_SLOW = 4008
CLOSE_FLOODING = 4029


@dataclass
class Live:
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
    """No sync came: go live from where the connection started."""


@dataclass
class Send:
    """A frame that is not a durable event (pong, errors, indicators)."""

    text: str


@dataclass
class SendBytes:
    """A chunk of a live recording: message UUID, offset, bytes."""

    data: bytes


@dataclass
class Wait:
    """A send that started outside the pump and had to wait: hold everything behind it."""

    task: asyncio.Task[None]


Item = Live | Check | Sync | Start | Send | SendBytes | Wait


@dataclass(eq=False)
class Connection:
    user_id: str
    token_hash: str
    send_text: Callable[[str], Awaitable[None]]
    send_bytes: Callable[[bytes], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    queue: asyncio.Queue[Item]
    last_seq: dict[str, int] = field(default_factory=dict)
    live: bool = False  # false until the first sync (or the grace period) has run
    closing: bool = False
    parked: bool = False  # the pump is waiting for its next item
    # Told at once when its user leaves a group (removed, banned, left) or the group is
    # deleted: a live memo they are sending there must end (see app.realtime.ws).
    on_leave: Callable[[str], None] | None = None

    @property
    def idle(self) -> bool:
        return self.parked and self.queue.empty()

    def offer(self, item: Item) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            return False
