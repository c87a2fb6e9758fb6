"""Messages: posting, changing and announcing, reading in seq order, deleting (see
`app.services.erasure`)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select

from app.errors import Conflict, Forbidden, Invalid, NotFound, message_not_found
from app.kinds import EventType
from app.models import Group, Message, User, utcnow
from app.schemas import MessageOut
from app.services import erasure, push, registration, views
from app.services.context import Ctx, Runtime, transaction
from app.services.groups import ROLE_RANK, require_role


async def _by_client_id(ctx: Ctx, user: User, group_id: str, client_id: str) -> Message | None:
    return await ctx.db.scalar(
        select(Message).where(
            Message.group_id == group_id,
            Message.sender_id == user.id,
            Message.client_id == client_id,
        )
    )


async def reply_target(
    ctx: Ctx, group_id: str, reply_to: str | None, offset_ms: int | None
) -> str | None:
    """Check what a new message replies to (and, for a voice memo, the moment it answers);
    return the thread it joins: the root of the replied-to message's thread, or that
    message itself. None for a message that is no reply."""
    if reply_to is None:
        if offset_ms is not None:
            raise Invalid(
                "A moment can only be given in a reply to a voice memo.",
                code="reply_not_voice",
                details={"field": "reply_to_offset_ms"},
            )
        return None
    target = await ctx.db.get(Message, reply_to)
    if target is None or target.group_id != group_id:
        raise Invalid(
            "The message this replies to is not in this group.",
            code="reply_not_found",
            details={"field": "reply_to"},
        )
    if offset_ms is not None:
        if target.kind != "voice" or target.deleted_at is not None:
            raise Invalid(
                "A moment can only be given in a reply to a voice memo.",
                code="reply_not_voice",
                details={"field": "reply_to_offset_ms"},
            )
        if target.duration_ms is None or offset_ms > target.duration_ms:
            raise Invalid(
                f"The memo is {target.duration_ms or 0} ms long.",
                code="offset_out_of_range",
                details={"field": "reply_to_offset_ms"},
            )
    return target.thread_root_id or target.id


async def earlier_post(
    ctx: Ctx, user: User, group_id: str, client_id: str | None
) -> MessageOut | None:
    """The message an earlier request with the same `client_id` created, if any."""
    if not client_id:
        return None
    earlier = await _by_client_id(ctx, user, group_id, client_id)
    return await views.message_out(ctx, user.id, earlier) if earlier else None


async def insert_message(ctx: Ctx, user: User, message: Message) -> MessageOut | None:
    """Give `message` the group's next seq, store it and emit `message.created`.

    Returns None after committing; if a concurrent request with the same
    client_id won the race, rolls back and returns that request's message.
    """
    message.seq = await ctx.next_seq(message.group_id)
    message.sender = await ctx.db.merge(user, load=False)  # `user` itself stays detached
    message.created_at = utcnow()
    group_id, client_id = message.group_id, message.client_id
    earlier = await ctx.add_unless_raced(
        message, lambda: earlier_post(ctx, user, group_id, client_id)
    )
    if earlier is not None:
        return earlier
    group = await ctx.db.get(Group, message.group_id)
    assert group is not None
    group.last_message_at = message.created_at
    await ctx.emit(
        message.group_id,
        EventType.MESSAGE_CREATED,
        await views.message_payload(ctx, message),
        seq=message.seq,
    )
    push.announce(ctx, message)  # its pushes, queued durably in this transaction
    return None


async def post_text(
    ctx: Ctx,
    user: User,
    group_id: str,
    *,
    text: str,
    reply_to: str | None,
    reply_to_offset_ms: int | None = None,
    client_id: str | None,
) -> tuple[MessageOut, bool]:
    await ctx.limit("text-post", user.id)  # before any query: no lock is held meanwhile
    await require_role(ctx, group_id, user.id)
    await registration.require_may_post(ctx, user)
    if earlier := await earlier_post(ctx, user, group_id, client_id):
        return earlier, False
    if not text.strip():
        raise Invalid("A message needs some text.", details={"field": "text"})
    thread = await reply_target(ctx, group_id, reply_to, reply_to_offset_ms)
    message = Message(
        group_id=group_id,
        kind="text",
        text=text,
        reply_to_id=reply_to,
        reply_to_offset_ms=reply_to_offset_ms,
        thread_root_id=thread,
        client_id=client_id,
    )
    if earlier := await insert_message(ctx, user, message):
        return earlier, False
    out = await views.message_out(ctx, user.id, message)
    await ctx.commit()
    return out, True


async def list_messages(
    ctx: Ctx, user: User, group_id: str, *, before: int | None, after: int | None, limit: int
) -> tuple[list[MessageOut], bool]:
    """A page in seq order: after `after` going forward, else the newest before `before`."""
    await require_role(ctx, group_id, user.id)
    query = select(Message).where(Message.group_id == group_id)
    return await _page(ctx, user, query, before=before, after=after, limit=limit)


async def thread(
    ctx: Ctx, user: User, message_id: str, *, before: int | None, after: int | None, limit: int
) -> tuple[MessageOut, list[MessageOut], bool]:
    """The thread `message_id` is in (as its root or a reply): its root, and a page of its
    replies in seq order, paged as a group's messages are."""
    message, _ = await load_message(ctx, user, message_id)
    root = message
    if message.thread_root_id is not None:
        root = await ctx.db.get(Message, message.thread_root_id) or message
    query = select(Message).where(Message.thread_root_id == root.id)
    replies, has_more = await _page(ctx, user, query, before=before, after=after, limit=limit)
    return await views.message_out(ctx, user.id, root), replies, has_more


async def _page(
    ctx: Ctx,
    user: User,
    query: Select[Any],
    *,
    before: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[MessageOut], bool]:
    """A page of `query`'s messages in seq order: after `after` going forward, else the
    newest before `before`."""
    if after is not None:
        query = query.where(Message.seq > after)
    if before is not None:
        query = query.where(Message.seq < before)
    forward = after is not None
    query = query.order_by(Message.seq if forward else Message.seq.desc()).limit(limit + 1)
    rows = list(await ctx.db.scalars(query))
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    return await views.message_outs(ctx, user.id, rows), has_more


async def load_message(ctx: Ctx, user: User, message_id: str) -> tuple[Message, str]:
    """A message and the caller's role in its group; 404 unless the caller is a member."""
    message = await ctx.db.get(Message, message_id)
    if message is None:
        raise message_not_found()
    try:
        membership = await require_role(ctx, message.group_id, user.id)
    except NotFound:
        raise message_not_found() from None
    return message, membership.role


async def get_message(ctx: Ctx, user: User, message_id: str) -> MessageOut:
    message, _ = await load_message(ctx, user, message_id)
    return await views.message_out(ctx, user.id, message)


async def delete_message(ctx: Ctx, user: User, message_id: str) -> None:
    """Erase a message (its sender or a moderator); members hear `message.deleted`."""
    message, role = await load_message(ctx, user, message_id)
    if message.sender_id != user.id and ROLE_RANK[role] < ROLE_RANK["moderator"]:
        raise Forbidden("Only the sender or a moderator may delete a message.")
    await erasure.erase_message(ctx, message_id, actor_id=user.id)
    await ctx.commit()


EDIT_WINDOW = timedelta(minutes=15)


async def edit_text(ctx: Ctx, user: User, message_id: str, text: str) -> MessageOut:
    """Change the text of one's own text message, within `EDIT_WINDOW` of posting it.

    The old words go as a deleted message's do: every stored event that carried the
    message is rewritten to the new text and the search index is scrubbed
    (`erasure.restate`); members hear `message.updated`. The same text again changes
    nothing and emits nothing."""
    await ctx.limit("text-post", user.id)  # before any query: no lock is held meanwhile
    message, _ = await load_message(ctx, user, message_id)
    await registration.require_may_post(ctx, user)
    # The group row first: the order every writer of a group's messages follows.
    await ctx.db.execute(select(Group.id).where(Group.id == message.group_id).with_for_update())
    await ctx.db.refresh(message)
    if message.sender_id != user.id:
        raise Forbidden("Only its sender may edit a message.", code="not_sender")
    if message.deleted_at is not None:
        raise Conflict("That message has been deleted.", code="message_deleted")
    if message.kind != "text":
        raise Invalid("Only a text message can be edited.", code="not_text")
    if utcnow() - message.created_at > EDIT_WINDOW:
        raise Conflict(
            "A message can be edited only in the 15 minutes after it was sent.",
            code="edit_window_closed",
        )
    if not text.strip():
        raise Invalid("A message needs some text.", details={"field": "text"})
    if text != message.text:
        message.text = text
        message.edited_at = utcnow()
        payload = await erasure.restate(ctx, message)
        await ctx.emit(message.group_id, EventType.MESSAGE_UPDATED, payload)
    out = await views.message_out(ctx, user.id, message)
    await ctx.commit()
    return out


async def update_memo(
    rt: Runtime, message_id: str, change: Callable[[Message, Group], bool]
) -> tuple[Message | None, bool]:
    """The one way a worker changes a message: lock its group, reload it, `change` it, emit
    `message.updated`, commit.

    `change` is called with the message as it is now (never a deleted one) and its group,
    and returns whether it changed anything; if not, nothing is written or announced.
    Returns the message as reloaded (None if there is no such message; readable after the
    transaction) and whether it was changed.
    """
    async with transaction(rt) as ctx:
        group_id = await ctx.db.scalar(select(Message.group_id).where(Message.id == message_id))
        if group_id is None:
            return None, False
        # Lock the group row first: the same order as every other writer.
        group = await ctx.db.scalar(select(Group).where(Group.id == group_id).with_for_update())
        message = await ctx.db.get(Message, message_id, populate_existing=True)
        if message is None or group is None:
            return None, False
        if message.deleted_at is not None or not change(message, group):
            await ctx.release()  # nothing to write; `message` stays readable
            return message, False
        await ctx.db.flush()
        await ctx.emit(
            group_id, EventType.MESSAGE_UPDATED, await views.message_payload(ctx, message)
        )
        await ctx.commit()
        return message, True
