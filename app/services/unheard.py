"""Which voice memos a person has not heard yet: one definition for the unheard counts,
a group's "play unheard" queue and "Catch up" across all of one's groups.

Unheard: voice, by someone else whom one has not blocked, not deleted, not failed, with
no receipt of one's own. Ids only, oldest first: a client plays them in order and
fetches each message when it comes to it.
"""

from datetime import datetime

from sqlalchemy import ColumnElement, and_, select

from app.errors import message_not_found
from app.kinds import VoiceStatus
from app.models import Block, Membership, Message, Receipt, User
from app.services import groups, pages
from app.services.context import Ctx


def unheard_by(user_id: str) -> ColumnElement[bool]:
    """The condition on `Message` that it is a memo `user_id` has not heard yet."""
    heard = select(Receipt.message_id).where(
        Receipt.message_id == Message.id, Receipt.user_id == user_id
    )
    blocked = select(Block.blocked_id).where(
        Block.user_id == user_id, Block.blocked_id == Message.sender_id
    )
    return and_(
        Message.kind == "voice",
        Message.sender_id != user_id,
        Message.deleted_at.is_(None),
        Message.voice_status != VoiceStatus.FAILED,
        ~heard.exists(),
        ~blocked.exists(),
    )


async def unheard_ids(ctx: Ctx, user: User, group_id: str, limit: int) -> tuple[list[str], bool]:
    """A group's unheard memos, in the group's order."""
    await groups.require_role(ctx, group_id, user.id)
    query = (
        select(Message.id)
        .where(Message.group_id == group_id, unheard_by(user.id))
        .order_by(Message.seq)
        .limit(limit + 1)
    )
    return pages.split(list(await ctx.db.scalars(query)), limit)


async def catch_up(
    ctx: Ctx, user: User, *, after: str | None, limit: int
) -> tuple[list[tuple[str, str, datetime]], bool]:
    """Every unheard memo of every group `user` is in now, oldest first (time, then id):
    (message id, group id, created at). `after` is the last message id of the previous
    page; `message_not_found` when it is not a message of one of the user's groups."""
    cursor = None
    if after is not None:
        last = await ctx.db.get(Message, after)
        if last is None or await ctx.db.get(Membership, (last.group_id, user.id)) is None:
            raise message_not_found()
        cursor = (last.created_at, last.id)
    mine = select(Membership.group_id).where(Membership.user_id == user.id)
    query = select(Message.id, Message.group_id, Message.created_at).where(
        Message.group_id.in_(mine), unheard_by(user.id)
    )
    query = pages.keyset(
        query, Message.created_at, Message.id, cursor, newest_first=False, limit=limit
    )
    rows = [(mid, gid, at) for mid, gid, at in await ctx.db.execute(query)]
    return pages.split(rows, limit)
