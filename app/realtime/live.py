"""One sender's live push-to-talk session on its websocket.

Each binary frame is a chunk of the recording. It is appended to the message's
blob (so a late listener's GET /live and a crash both see it), then relayed once
through the broker to every other connected member as
`16-byte message UUID | 8-byte big-endian offset | chunk`. The session ends on
`live.end`, a dropped socket, silence, a breached limit, or the sender leaving the
group (removed, banned: every chunk re-checks membership first, and the hub ends
the session as soon as it sees `member.left`); what arrived is then processed
like an upload.
"""

import asyncio
import time
import uuid

from app.services import leases
from app.services.context import LIVE_CHANNEL, Runtime
from app.services.live import finish_live, why_not_continue
from app.storage.keys import original_key


class LiveLimit(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


REFUSED = {
    "not_a_member": "You are no longer a member of this group.",
    "message_deleted": "This live message was deleted.",
    "live_over": "This live message was ended.",
}


class LiveSession:
    def __init__(self, rt: Runtime, message_id: str, group_id: str, user_id: str) -> None:
        self.rt = rt
        self.message_id = message_id
        self.group_id, self.user_id = group_id, user_id
        self.offset = 0
        self.started = self.last_chunk = time.monotonic()
        self._route = f"{group_id}{user_id}".encode()  # read by the hub, not sent on
        self._head = uuid.UUID(message_id).bytes
        self._window_start, self._window_count = self.started, 0
        self._renewed = self.started
        self._ended = False
        self._lock = asyncio.Lock()  # a chunk and the end never interleave

    async def chunk(self, data: bytes) -> None:
        """Store and relay one chunk; raises LiveLimit when a limit is breached, or when
        the sender is no longer a member or the memo was deleted or ended meanwhile."""
        async with self._lock:
            if self._ended:
                raise LiveLimit("live_over", REFUSED["live_over"])
            await self._chunk(data)

    async def _chunk(self, data: bytes) -> None:
        s = self.rt.settings
        now = time.monotonic()
        if len(data) > s.live_max_chunk_bytes:
            raise LiveLimit(
                "chunk_too_large", f"Chunks are limited to {s.live_max_chunk_bytes} bytes."
            )
        if now - self.started > s.max_duration_s or self.offset + len(data) > s.max_upload_bytes:
            raise LiveLimit("live_too_long", "A live memo can be at most as long as an upload.")
        if now - self._window_start >= 1:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count > s.live_max_chunks_per_s:
            raise LiveLimit("live_rate", "Too many chunks per second.")
        refused = await why_not_continue(self.rt, self.message_id, self.user_id)
        if refused is not None:
            raise LiveLimit(refused, REFUSED[refused])
        offset = self.offset
        self.offset += len(data)
        self.last_chunk = now
        await self.rt.blobs.append(original_key(self.message_id), data)
        frame = self._head + offset.to_bytes(8, "big") + data
        await self.rt.broker.publish(LIVE_CHANNEL, self._route + frame)
        if now - self._renewed > s.lease_s / 3:  # still ours: no other process ends it
            self._renewed = now
            await leases.renew(self.rt, self.message_id)

    def idle_for(self) -> float:
        return time.monotonic() - self.last_chunk

    async def end(self) -> None:
        """Hand the recording to processing; safe to call more than once."""
        async with self._lock:
            if self._ended:
                return
            self._ended = True
        await finish_live(self.rt, self.message_id)


async def wait_until_idle(session: LiveSession) -> None:
    """Sleep until the session has been silent for the idle limit."""
    limit = session.rt.settings.live_idle_timeout_s
    while True:
        remaining = limit - session.idle_for()
        if remaining <= 0:
            return
        await asyncio.sleep(remaining)
