"""Erasure: the one way a message's content leaves Earshot, whoever deletes it (and,
through `restate`, the way an edited text's old words leave the event log and index).

Its sender, a moderator (directly or by resolving a report), retention, and the
deletion of an account all call `erase_message`. In the caller's transaction it

- empties the row: text, transcript, waveform and the other facts of the audio;
- removes its reactions, everyone's bookmarks of it (with their notes) and listening
  positions in it;
- unpins it (`pin.removed`) and drops the group's export whose range holds it, zip
  and all (`app.services.exports.forget_erased`);
- rewrites every stored event that carried the message (`message.created`,
  `message.updated`: text, transcript) to the tombstone, found by the indexed
  `events.message_id`, so a replay after any cursor gives the tombstone;
- emits `message.deleted` with the same tombstone, and logs a moderator's delete
  of someone else's message in the group's moderation log;

and once the transaction commits it deletes the audio blobs and asks the
scrubber (`app.services.scrub`) to remove the words from the search index
segments and the WAL. The search index entry itself goes with the row's content
(SQLite: the FTS5 triggers of migration 0003; PostgreSQL: the expression index).

The tombstone is the message as members now see it: `{id, group_id, seq, sender,
kind, reply_to, client_id, created_at, deleted: true, text: null, voice: null}`.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from app.kinds import EventType
from app.models import Bookmark, Event, Group, ListeningPosition, Message, Reaction, utcnow
from app.services import exports, moderation, pins, views
from app.services.context import Ctx
from app.storage.keys import voice_prefix


def _empty(message: Message, now: datetime) -> None:
    message.deleted_at = now
    message.text = None
    message.transcript_text = None
    message.transcript_language = None
    message.transcript_status = None
    message.waveform = None
    message.silences = None
    message.duration_ms = None
    message.size_bytes = None
    message.voice_error = None


async def restate(ctx: Ctx, message: Message) -> dict[str, Any]:
    """Rewrite every stored event that carried `message` to the message as it is now
    (erased, or its text edited), so no replay gives what was taken back; drop the group
    export whose range holds it (its zip has the old words); ask the scrubber to remove
    them from the search index segments once this commits. Returns the message's payload
    as now."""
    await ctx.db.flush()
    payload = await views.message_payload(ctx, message)
    await ctx.db.execute(
        update(Event)
        .where(Event.message_id == message.id)
        .values(data=payload)
        .execution_options(synchronize_session=False)
    )
    await exports.forget_erased(ctx, message)
    ctx.after_commit(ctx.rt.scrubber.request)
    return payload


async def erase_message(ctx: Ctx, message_id: str, *, actor_id: str | None = None) -> bool:
    """Erase a message everywhere (the caller commits); False if it was already gone.

    `actor_id` is who deleted it (None: retention); a delete of someone else's message
    is logged. Authorization is the caller's business."""
    group_id = await ctx.db.scalar(select(Message.group_id).where(Message.id == message_id))
    if group_id is None:
        return False
    # The group row first: the order every writer of a group's messages follows.
    await ctx.db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
    message = await ctx.db.get(Message, message_id, populate_existing=True)
    if message is None or message.deleted_at is not None:
        return False
    _empty(message, utcnow())
    await ctx.db.execute(delete(Reaction).where(Reaction.message_id == message_id))
    await ctx.db.execute(delete(Bookmark).where(Bookmark.message_id == message_id))
    await ctx.db.execute(
        delete(ListeningPosition).where(ListeningPosition.message_id == message_id)
    )
    tombstone = await restate(ctx, message)
    await ctx.emit(group_id, EventType.MESSAGE_DELETED, tombstone)
    await pins.drop(ctx, group_id, message_id)
    if actor_id is not None and actor_id != message.sender_id:
        await moderation.record(
            ctx,
            group_id,
            EventType.MESSAGE_DELETED,
            actor_id=actor_id,
            target_id=message.sender_id,
            message_id=message_id,
        )
    if message.kind == "voice":
        prefix = voice_prefix(message_id)
        ctx.after_commit(lambda: ctx.rt.blobs.delete_prefix(prefix))
    return True
