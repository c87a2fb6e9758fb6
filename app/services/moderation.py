"""The moderation log: what moderators did in a group, readable by every member.

Each entry says who did what to whom and when (a removal, a ban or unban, a role
change, a delete of someone else's message, a revoked invite, a change of
retention or transcripts, a resolved report), never the content involved: a
deleted message appears by id only, a ban without its reason, a resolved report
without its reporter or reason. Each entry is announced to the members as a
`moderation.logged` event, and its `seq` is that event's seq, which is also the
cursor of the log's pages.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.kinds import EventType
from app.models import ModerationEntry, User, utcnow
from app.schemas import ModerationEntryOut
from app.services import groups, pages, views
from app.services.context import Ctx


async def _user(ctx: Ctx, user_id: str | None) -> User | None:
    return await ctx.db.get(User, user_id) if user_id else None


def entry_out(entry: ModerationEntry) -> ModerationEntryOut:
    return ModerationEntryOut(
        seq=entry.seq,
        group_id=entry.group_id,
        action=entry.action,
        actor=views.user_out(entry.actor) if entry.actor else None,
        target=views.user_out(entry.target) if entry.target else None,
        message_id=entry.message_id,
        details=entry.details or {},
        created_at=entry.created_at,
    )


async def record(
    ctx: Ctx,
    group_id: str,
    action: str,
    *,
    actor_id: str | None,
    target_id: str | None = None,
    message_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry and its `moderation.logged` event to the caller's transaction."""
    seq = await ctx.next_seq(group_id)
    entry = ModerationEntry(
        group_id=group_id,
        seq=seq,
        action=action,
        actor_id=actor_id,
        target_id=target_id,
        message_id=message_id,
        details=details or {},
        created_at=utcnow(),
    )
    entry.actor = await _user(ctx, actor_id)
    entry.target = await _user(ctx, target_id)
    ctx.db.add(entry)
    await ctx.emit(
        group_id, EventType.MODERATION_LOGGED, entry_out(entry).model_dump(mode="json"), seq=seq
    )


async def list_log(
    ctx: Ctx, user: User, group_id: str, *, before: int | None, limit: int
) -> tuple[list[ModerationEntryOut], bool]:
    """Newest first; `before` is the `seq` of the oldest entry already seen."""
    await groups.require_role(ctx, group_id, user.id)
    query = select(ModerationEntry).where(ModerationEntry.group_id == group_id)
    if before is not None:
        query = query.where(ModerationEntry.seq < before)
    query = query.order_by(ModerationEntry.seq.desc()).limit(limit + 1)
    rows, more = pages.split(list(await ctx.db.scalars(query)), limit)
    return [entry_out(e) for e in rows], more


async def removed_since(ctx: Ctx, group_id: str, user_id: str, since: datetime) -> bool:
    """Whether someone removed or banned `user_id` from the group at or after `since`."""
    found = await ctx.db.scalar(
        select(ModerationEntry.id)
        .where(
            ModerationEntry.group_id == group_id,
            ModerationEntry.target_id == user_id,
            ModerationEntry.action.in_(("member.removed", "member.banned")),
            ModerationEntry.created_at >= since,
        )
        .limit(1)
    )
    return found is not None
