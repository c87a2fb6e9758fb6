"""Live push-to-talk messages: created `live`, fed chunk by chunk, then processed like an upload.

The recording is appended to the message's `original` blob as it arrives, so
whatever was received survives a dropped sender or a server restart; ending a
live message (by the sender, a drop, silence or a limit) hands it to the same
processing as an uploaded memo.
"""

import re

from sqlalchemy import and_, select

from app.errors import Conflict, Gone, Invalid, NotFound
from app.models import Group, Membership, Message, User, new_id, utcnow
from app.schemas import MessageOut
from app.services import leases, views
from app.services.context import Ctx, Runtime
from app.services.groups import require_role
from app.services.messages import earlier_post, insert_message, load_message
from app.services.voice import ensure_room
from app.storage.keys import original_key, voice_prefix

AUDIO_MIME = re.compile(r"audio/[a-z0-9][a-z0-9.+-]{0,40}(;[ a-z0-9=.,+\"-]{0,50})?")


async def start_live(
    ctx: Ctx, user: User, group_id: str, mime: str, client_id: str | None
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
    if earlier := await earlier_post(ctx, user, group_id, client_id):
        return earlier, False
    await ctx.db.execute(select(User.id).where(User.id == user.id).with_for_update())
    sending = await ctx.db.scalar(
        select(Message.id).where(
            Message.sender_id == user.id,
            Message.voice_status == "live",
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
        voice_status="live",
        mime=mime,
        client_id=client_id,
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
    async with rt.sessions() as db:
        ctx = Ctx(db=db, rt=rt)
        group_id = await db.scalar(select(Message.group_id).where(Message.id == message_id))
        if group_id is None:
            return
        await db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
        message = await db.get(Message, message_id, populate_existing=True)
        if message is None or message.voice_status != "live":
            return
        deleted = message.deleted_at is not None
        if not deleted:
            if size:
                message.voice_status = "processing"
            else:
                message.voice_status = "failed"
                message.voice_error = "Nothing was recorded."
            await db.flush()
            await ctx.emit(group_id, "message.updated", await views.message_payload(ctx, message))
            await ctx.commit()
    if deleted:  # deleted while recorded: chunks that came after the delete are stored again
        await rt.blobs.delete_prefix(voice_prefix(message_id))
    elif size:
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
    if row.voice_status != "live":
        return "live_over"
    return None


async def live_recording(ctx: Ctx, user: User, message_id: str) -> tuple[str, str]:
    """The blob key and mime of a message's recording so far, for a late listener."""
    message, _ = await load_message(ctx, user, message_id)
    await ctx.release()
    if message.kind != "voice" or message.deleted_at:
        raise NotFound("This message has no recording.", code="recording_not_found")
    if message.voice_status not in ("live", "processing"):
        raise Gone("The live recording is over; play the memo's audio_url.", code="live_over")
    key = original_key(message_id)
    if await ctx.rt.blobs.size(key) is None:
        raise Conflict("The recording is not available yet.", code="recording_not_found")
    return key, message.mime or "application/octet-stream"
