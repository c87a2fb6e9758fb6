"""Reading the durable event log of a group, for catching up after time offline."""

from sqlalchemy import select

from app.models import Event, User
from app.schemas import EventOut
from app.services.context import Ctx
from app.services.groups import require_role


async def events_after(ctx: Ctx, group_id: str, after: int, limit: int) -> tuple[list[Event], bool]:
    rows = list(
        await ctx.db.scalars(
            select(Event)
            .where(Event.group_id == group_id, Event.seq > after)
            .order_by(Event.seq)
            .limit(limit + 1)
        )
    )
    return rows[:limit], len(rows) > limit


async def list_events(
    ctx: Ctx, user: User, group_id: str, after: int, limit: int
) -> tuple[list[EventOut], bool]:
    await require_role(ctx, group_id, user.id)
    rows, has_more = await events_after(ctx, group_id, after, limit)
    return [EventOut.model_validate(e) for e in rows], has_more
