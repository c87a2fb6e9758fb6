"""Reading the durable event log of a group: for catching up after time offline (HTTP),
and for the websocket hub's attach, gap filling and replay."""

from sqlalchemy import Select, select

from app.models import Event, Group, Membership, User
from app.schemas import EventOut
from app.services.context import Ctx, Runtime
from app.services.groups import require_role


def _after(group_id: str, after: int, until: int | None, limit: int) -> Select[Event]:
    query = (
        select(Event)
        .where(Event.group_id == group_id, Event.seq > after)
        .order_by(Event.seq)
        .limit(limit)
    )
    return query if until is None else query.where(Event.seq <= until)


async def events_after(ctx: Ctx, group_id: str, after: int, limit: int) -> tuple[list[Event], bool]:
    rows = list(await ctx.db.scalars(_after(group_id, after, None, limit + 1)))
    return rows[:limit], len(rows) > limit


async def list_events(
    ctx: Ctx, user: User, group_id: str, *, after: int, limit: int
) -> tuple[list[EventOut], bool]:
    await require_role(ctx, group_id, user.id)
    rows, has_more = await events_after(ctx, group_id, after, limit)
    return [EventOut.model_validate(e) for e in rows], has_more


async def replay_page(
    rt: Runtime, group_id: str, *, after: int, until: int | None, limit: int
) -> list[Event]:
    """Up to `limit` stored events of the group after seq `after` (to `until`), in order."""
    async with rt.sessions() as db:
        return list(await db.scalars(_after(group_id, after, until, limit)))


async def heads(rt: Runtime, group_ids: list[str]) -> dict[str, int]:
    """Each group's newest seq."""
    if not group_ids:
        return {}
    async with rt.sessions() as db:
        rows = await db.execute(select(Group.id, Group.last_seq).where(Group.id.in_(group_ids)))
        return {gid: seq for gid, seq in rows.all()}


async def heads_of_member(rt: Runtime, user_id: str) -> dict[str, int]:
    """The newest seq of each group `user_id` is a member of now."""
    async with rt.sessions() as db:
        rows = await db.execute(
            select(Group.id, Group.last_seq)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == user_id)
        )
        return {gid: seq for gid, seq in rows.all()}
