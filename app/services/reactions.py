"""Reactions: one emoji per call, at most `MAX_EMOJI` different ones per message.

Each change locks the message's group, changes the row and emits `reaction.added`
or `reaction.removed` with the new count, in one transaction (Zulip's
`do_add_reaction`). Adding one you have and removing one you do not have change
nothing and announce nothing, so a retried request is harmless. The reactions of a
deleted message go with it (`app.services.erasure`).

An emoji is validated against the Unicode emoji list that the `emoji` package ships
(RGI emoji, keycaps, flags, skin tones and ZWJ sequences): exactly one emoji and
nothing else, stored in its fully-qualified form, so `❤` and `❤️` are one reaction.
"""

import emoji as unicode_emoji
from sqlalchemy import delete, func, select

from app.errors import Conflict, Invalid
from app.kinds import EventType
from app.models import Group, Message, Reaction, User
from app.schemas import MessageOut
from app.services import views
from app.services.context import Ctx
from app.services.messages import load_message

MAX_EMOJI = 20  # different emoji on one message
MAX_EMOJI_CHARS = 32  # the longest ZWJ sequences are 10 code points; a bound before lookup
_FULLY_QUALIFIED = unicode_emoji.STATUS["fully_qualified"]


def check_emoji(text: str) -> str:
    """`text` as the one fully-qualified emoji it is; 422 `invalid_emoji` otherwise."""
    if len(text) <= MAX_EMOJI_CHARS and unicode_emoji.is_emoji(text):
        qualified = unicode_emoji.emojize(unicode_emoji.demojize(text))
        data = unicode_emoji.EMOJI_DATA.get(qualified)
        if data is not None and data["status"] == _FULLY_QUALIFIED:
            return qualified
    raise Invalid(
        "A reaction is exactly one emoji.", code="invalid_emoji", details={"field": "emoji"}
    )


async def _lock(ctx: Ctx, user: User, message_id: str) -> Message:
    """The message, its group row locked (the order every writer of a group follows)."""
    message, _ = await load_message(ctx, user, message_id)
    await ctx.db.execute(select(Group.id).where(Group.id == message.group_id).with_for_update())
    await ctx.db.refresh(message)
    return message


async def _count(ctx: Ctx, message_id: str, emoji: str) -> int:
    return (
        await ctx.db.scalar(
            select(func.count())
            .select_from(Reaction)
            .where(Reaction.message_id == message_id, Reaction.emoji == emoji)
        )
        or 0
    )


async def _announce(ctx: Ctx, message: Message, user: User, emoji: str, type_: str) -> None:
    data = {
        "message_id": message.id,
        "emoji": emoji,
        "user_id": user.id,
        "count": await _count(ctx, message.id, emoji),
    }
    await ctx.emit(message.group_id, type_, data)


async def add_reaction(ctx: Ctx, user: User, message_id: str, emoji: str) -> MessageOut:
    """React with `emoji`; members hear `reaction.added`. Having it already changes nothing."""
    emoji = check_emoji(emoji)
    await ctx.limit("reaction", user.id)
    message = await _lock(ctx, user, message_id)
    if message.deleted_at is not None:
        raise Conflict("That message has been deleted.", code="message_deleted")
    mine = await ctx.db.get(Reaction, (message.id, user.id, emoji))
    if mine is None:
        present = set(
            await ctx.db.scalars(
                select(Reaction.emoji).where(Reaction.message_id == message.id).distinct()
            )
        )
        if emoji not in present and len(present) >= MAX_EMOJI:
            raise Conflict(
                f"A message takes at most {MAX_EMOJI} different reactions.",
                code="too_many_reactions",
                details={"max": MAX_EMOJI},
            )
        ctx.db.add(Reaction(message_id=message.id, user_id=user.id, emoji=emoji))
        await ctx.db.flush()
        await _announce(ctx, message, user, emoji, EventType.REACTION_ADDED)
    out = await views.message_out(ctx, user.id, message)
    await ctx.commit()
    return out


async def remove_reaction(ctx: Ctx, user: User, message_id: str, emoji: str) -> MessageOut:
    """Take back `emoji`; members hear `reaction.removed`. Not having it changes nothing."""
    emoji = check_emoji(emoji)
    await ctx.limit("reaction", user.id)
    message = await _lock(ctx, user, message_id)
    gone = await ctx.db.execute(
        delete(Reaction).where(
            Reaction.message_id == message.id,
            Reaction.user_id == user.id,
            Reaction.emoji == emoji,
        )
    )
    if gone.rowcount:  # type: ignore[attr-defined]
        await _announce(ctx, message, user, emoji, EventType.REACTION_REMOVED)
    out = await views.message_out(ctx, user.id, message)
    await ctx.commit()
    return out
