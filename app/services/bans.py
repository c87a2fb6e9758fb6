"""Bans: a moderator removes someone from a group and keeps them out.

A banned person is refused by every invite (403 `banned`) and cannot be added
(409 `banned`) until a moderator lifts the ban; lifting it lets nobody back in by
itself. The rank rule is the removal rule: a moderator bans someone at or below
their own role; nobody bans the owner, nor themselves. Someone who is not (or no
longer) a member may be banned too, which keeps them from coming back. Bans and
unbans go into the moderation log (the reason stays with the moderators).
"""

from sqlalchemy import select

from app.errors import Conflict, NotFound
from app.models import Ban, Membership, User, utcnow
from app.schemas import BanOut
from app.services import members, moderation, views
from app.services.context import Ctx
from app.services.groups import require_role


def _ban_out(ban: Ban) -> BanOut:
    return BanOut(
        group_id=ban.group_id,
        user=views.user_out(ban.user),
        banned_by=views.user_out(ban.banner) if ban.banner else None,
        reason=ban.reason,
        created_at=ban.created_at,
    )


async def ban(
    ctx: Ctx, actor: User, group_id: str, *, user_id: str, reason: str | None
) -> tuple[BanOut, bool]:
    """Remove (if a member) and ban; banning someone banned already returns that ban."""
    mine = await require_role(ctx, group_id, actor.id, "moderator", lock=True)
    earlier = await ctx.db.get(Ban, (group_id, user_id))
    if earlier is not None:
        return _ban_out(earlier), False
    await stage_ban(ctx, actor, mine, user_id=user_id, reason=reason)
    out = _ban_out(await _get(ctx, group_id, user_id))
    await ctx.commit()
    return out, True


async def stage_ban(
    ctx: Ctx, actor: User, mine: Membership, *, user_id: str, reason: str | None
) -> None:
    """The ban itself, in the caller's transaction (also used when resolving a report)."""
    group_id = mine.group_id
    if user_id == actor.id:
        raise Conflict("You cannot ban yourself.", code="cannot_ban_self")
    target = await ctx.db.get(Membership, (group_id, user_id))
    members.check_outranks(mine, target.role if target else None)
    if target is None and await ctx.db.get(User, user_id) is None:
        raise NotFound("Nobody has that id.", code="user_not_found")
    if await ctx.db.get(Ban, (group_id, user_id)):
        return
    if target is not None:
        await members.drop(ctx, target)
    ctx.db.add(
        Ban(
            group_id=group_id,
            user_id=user_id,
            banned_by=actor.id,
            reason=reason,
            created_at=utcnow(),
        )
    )
    await ctx.db.flush()
    await moderation.record(ctx, group_id, "member.banned", actor_id=actor.id, target_id=user_id)


async def _get(ctx: Ctx, group_id: str, user_id: str) -> Ban:
    found = await ctx.db.get(Ban, (group_id, user_id), populate_existing=True)
    assert found is not None
    return found


async def list_bans(ctx: Ctx, user: User, group_id: str) -> list[BanOut]:
    await require_role(ctx, group_id, user.id, "moderator")
    rows = await ctx.db.scalars(
        select(Ban).where(Ban.group_id == group_id).order_by(Ban.created_at.desc())
    )
    return [_ban_out(b) for b in rows]


async def unban(ctx: Ctx, actor: User, group_id: str, user_id: str) -> None:
    await require_role(ctx, group_id, actor.id, "moderator", lock=True)
    found = await ctx.db.get(Ban, (group_id, user_id))
    if found is None:
        raise NotFound("That person is not banned from this group.", code="ban_not_found")
    await ctx.db.delete(found)
    await moderation.record(ctx, group_id, "member.unbanned", actor_id=actor.id, target_id=user_id)
    await ctx.commit()
