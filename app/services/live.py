"""Push-to-talk, in one place: a voice memo heard while it is being recorded (a *live* memo).

A sender's connection starts a live memo (`LiveSender.start`: the message is created
`live`, its `message.created` goes to every member), then sends it chunk by chunk.
Each chunk is appended to the message's `original` blob, so whatever was received
survives a dropped sender or a server restart (and a late listener's GET /live sees
it), then relayed once through the broker to the other members' connections
(`app.realtime.wire`, the chunks channel). The memo ends on the sender's word, a
dropped connection, silence, a breached limit, or the sender leaving the group
(every chunk re-checks membership first, and the hub tells the sender's connection at
once when it sees `member.left`); `finish_live` then hands what arrived to the same
processing as an uploaded memo.
"""

import asyncio
import re
import time
from collections.abc import Callable

from sqlalchemy import and_, select

from app.errors import Conflict, Gone, Invalid, NotFound
from app.kinds import UNFINISHED, VoiceStatus
from app.models import Group, Membership, Message, User, new_id, utcnow
from app.realtime.wire import CHUNKS_CHANNEL, chunk_frame, encode_chunk
from app.schemas import MessageOut
from app.services import leases, registration, views
from app.services.context import Ctx, Runtime, transaction
from app.services.groups import require_role
from app.services.messages import (
    earlier_post,
    insert_message,
    load_message,
    reply_target,
    update_memo,
)
from app.services.voice import ensure_room
from app.storage.keys import original_key, voice_prefix

AUDIO_MIME = re.compile(r"audio/[a-z0-9][a-z0-9.+-]{0,40}(;[ a-z0-9=.,+\"-]{0,50})?")


async def start_live(
    ctx: Ctx,
    user: User,
    group_id: str,
    *,
    mime: str,
    client_id: str | None,
    reply_to: str | None = None,
) -> tuple[MessageOut, bool]:
    """Create the `live` voice message (its `message.created` goes to every member).

    One live memo per person at a time, across every process and socket; a live memo
    left by a dead process stops counting when its lease runs out."""
    if not (mime.isascii() and AUDIO_MIME.fullmatch(mime.lower())):  # sent back as a header
        raise Invalid(
            "`mime` must name an audio type, e.g. audio/webm;codecs=opus.", code="invalid_frame"
        )
    await ensure_room(ctx.settings)
    await require_role(ctx, group_id, user.id)
    await registration.require_may_post(ctx, user)
    if earlier := await earlier_post(ctx, user, group_id, client_id):
        return earlier, False
    thread = await reply_target(ctx, group_id, reply_to, None)
    await ctx.db.execute(select(User.id).where(User.id == user.id).with_for_update())
    sending = await ctx.db.scalar(
        select(Message.id).where(
            Message.sender_id == user.id,
            Message.voice_status == VoiceStatus.LIVE,
            Message.deleted_at.is_(None),
            Message.lease_until > utcnow(),
        )
    )
    if sending is not None:
        raise Conflict(
            "You are already sending a live memo; end it first.",
            code="live_in_progress",
            details={"message_id": sending},
        )
    message = Message(
        id=new_id(),
        group_id=group_id,
        kind="voice",
        voice_status=VoiceStatus.LIVE,
        live=True,
        mime=mime,
        client_id=client_id,
        reply_to_id=reply_to,
        thread_root_id=thread,
        **leases.fresh(ctx.rt),  # renewed while chunks arrive; adopted if this process dies
    )
    if earlier := await insert_message(ctx, user, message):
        return earlier, False
    await ctx.rt.blobs.put_bytes(original_key(message.id), b"")
    out = await views.message_out(ctx, user.id, message)
    await ctx.commit()
    return out, True


async def finish_live(rt: Runtime, message_id: str) -> None:
    """End a live message: it becomes `processing` (or `failed` if nothing arrived)."""
    size = await rt.blobs.size(original_key(message_id))

    def finish(message: Message, _group: Group) -> bool:
        if message.voice_status != VoiceStatus.LIVE:
            return False
        if size:
            message.voice_status = VoiceStatus.PROCESSING
        else:
            message.voice_status = VoiceStatus.FAILED
            message.voice_error = "Nothing was recorded."
        return True

    message, finished = await update_memo(rt, message_id, finish)
    if message is not None and message.deleted_at and message.voice_status == VoiceStatus.LIVE:
        # Deleted while recorded: chunks that came after the delete are stored again.
        await rt.blobs.delete_prefix(voice_prefix(message_id))
    elif finished and size:
        rt.ingest.submit(message_id)


async def why_not_continue(rt: Runtime, message_id: str, user_id: str) -> str | None:
    """Why the sender may not add another chunk to a live memo (None: they may).

    Asked for every chunk, so a removal or a delete takes effect at the next one."""
    async with rt.read_sessions() as db:
        row = (
            await db.execute(
                select(Message.deleted_at, Message.voice_status, Membership.role)
                .outerjoin(
                    Membership,
                    and_(Membership.group_id == Message.group_id, Membership.user_id == user_id),
                )
                .where(Message.id == message_id)
            )
        ).first()
    if row is None or row.deleted_at is not None:
        return "message_deleted"
    if row.role is None:
        return "not_a_member"
    if row.voice_status != VoiceStatus.LIVE:
        return "live_over"
    return None


async def live_recording(ctx: Ctx, user: User, message_id: str) -> tuple[str, str]:
    """The blob key and mime of a message's recording so far, for a late listener."""
    message, _ = await load_message(ctx, user, message_id)
    await ctx.release()
    if message.kind != "voice" or message.deleted_at:
        raise NotFound("This message has no recording.", code="recording_not_found")
    if message.voice_status not in UNFINISHED:
        raise Gone("The live recording is over; play the memo's audio_url.", code="live_over")
    key = original_key(message_id)
    if await ctx.rt.blobs.size(key) is None:
        raise Conflict("The recording is not available yet.", code="recording_not_found")
    return key, message.mime or "application/octet-stream"


class LiveLimit(Exception):
    """Why a live memo may not go on (it is ended): a websocket error code and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


REFUSED = {
    "not_a_member": "You are no longer a member of this group.",
    "message_deleted": "This live message was deleted.",
    "live_over": "This live message was ended.",
}


class LiveRecording:
    """One live memo being recorded: stores and relays its chunks, within the limits."""

    def __init__(self, rt: Runtime, message_id: str, group_id: str, user_id: str) -> None:
        self.rt = rt
        self.message_id = message_id
        self.group_id, self.user_id = group_id, user_id
        self.offset = 0
        self.started = self.last_chunk = time.monotonic()
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
        chunk = chunk_frame(self.group_id, self.user_id, self.message_id, offset, data)
        await self.rt.broker.publish(CHUNKS_CHANNEL, encode_chunk(chunk))
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


async def wait_until_idle(recording: LiveRecording) -> None:
    """Sleep until the recording has been silent for the idle limit."""
    limit = recording.rt.settings.live_idle_timeout_s
    while True:
        remaining = limit - recording.idle_for()
        if remaining <= 0:
            return
        await asyncio.sleep(remaining)


class LiveSender:
    """One connection's push-to-talk: at most one live memo at a time.

    It tells its connection when a memo is being ended for a reason (`on_refused`, with
    the code and the whole sentence) and whenever a memo has ended (`on_ended(message_id)`)."""

    def __init__(
        self,
        rt: Runtime,
        user: User,
        *,
        on_refused: Callable[[LiveLimit], None],
        on_ended: Callable[[str], None],
    ) -> None:
        self.rt, self.user = rt, user
        self.on_refused, self.on_ended = on_refused, on_ended
        self.recording: LiveRecording | None = None
        self._idle: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()

    @property
    def sending(self) -> bool:
        return self.recording is not None

    async def start(
        self, group_id: str, mime: str, client_id: str | None, reply_to: str | None = None
    ) -> str:
        """Start a live memo in the group (or find the one `client_id` started); its id.

        Raises ApiError when refused."""
        async with transaction(self.rt) as ctx:
            out, created = await start_live(
                ctx, self.user, group_id, mime=mime, client_id=client_id, reply_to=reply_to
            )
        if created:
            self.recording = LiveRecording(self.rt, out.id, group_id, self.user.id)
            self._idle = asyncio.create_task(self._end_when_idle(self.recording))
        return out.id

    async def chunk(self, data: bytes) -> None:
        """Add a chunk to the live memo (there is one: see `sending`); a breach ends it."""
        assert self.recording is not None
        try:
            await self.recording.chunk(data)
        except LiveLimit as breach:
            self.on_refused(LiveLimit(breach.code, breach.message + " The live message has ended."))
            await self.end()

    def left_group(self, group_id: str) -> None:
        """The sender is out of the group (the hub says): end their live memo there at once."""
        if self.recording is None or self.recording.group_id != group_id:
            return
        ended = REFUSED["not_a_member"] + " The live message has ended."
        self.on_refused(LiveLimit("not_a_member", ended))
        task = asyncio.get_running_loop().create_task(self.end())
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end_when_idle(self, recording: LiveRecording) -> None:
        await wait_until_idle(recording)
        if self.recording is recording:
            self.on_refused(
                LiveLimit("live_idle", "No audio for a while: the live message has ended.")
            )
            self._idle = None
            await self.end()

    async def end(self) -> None:
        """End the live memo, if any (the sender's word, or their connection dropped)."""
        recording, self.recording = self.recording, None
        if self._idle is not None and self._idle is not asyncio.current_task():
            self._idle.cancel()
        self._idle = None
        if recording is not None:
            await recording.end()
            self.on_ended(recording.message_id)
