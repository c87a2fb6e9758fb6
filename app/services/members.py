"""Membership: who is in a group and with which role.

Rules: moderators add members (only an owner adds a moderator), but only people
who already share a group with them, unless the person lets anyone add them
(`app.services.people`); never someone banned from the group or who blocked
them. Only the owner changes roles, and making someone owner hands ownership
over, so a group always has exactly one owner; a moderator removes members at or
below their own role; anyone may leave except the owner, who must hand over
ownership first. Removals and role changes go into the moderation log; leaving
does not.
"""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Forbidden, NotFound
from app.kinds import EventType
from app.models import Ban, Membership, User
from app.schemas import MemberOut
from app.services import moderation, people, views
from app.services.context import Ctx
from app.services.groups import ROLE_RANK, require_role


def _member_not_found() -> NotFound:
    return NotFound("That person is not a member of this group.", code="member_not_found")


async def list_members(ctx: Ctx, user: User, group_id: str) -> list[MemberOut]:
    await require_role(ctx, group_id, user.id)
    rows = await ctx.db.scalars(
        select(Membership)
        .where(Membership.group_id == group_id)
        .order_by(Membership.joined_at, Membership.user_id)
    )
    return [views.member_out(m) for m in rows]


async def join(
    ctx: Ctx, group_id: str, user: User, role: str, added_by: str, client_id: str | None = None
) -> Membership:
    """Add `user` to the group and emit `member.joined` (the caller commits)."""
    membership = Membership(
        group_id=group_id, user_id=user.id, role=role, added_by=added_by, client_id=client_id
    )
    membership.user = await ctx.db.merge(user, load=False)
    ctx.db.add(membership)
    await ctx.db.flush()
    await ctx.emit(
        group_id, EventType.MEMBER_JOINED, views.member_out(membership).model_dump(mode="json")
    )
    return membership


async def add_member(
    ctx: Ctx, actor: User, group_id: str, *, handle: str, role: str, client_id: str | None
) -> tuple[MemberOut, bool]:
    await ctx.limit("member-add", actor.id)
    mine = await require_role(ctx, group_id, actor.id, "moderator", lock=True)
    if ROLE_RANK[role] >= ROLE_RANK["moderator"] and mine.role != "owner":
        raise Forbidden("Only the owner may add a moderator.")
    if client_id:
        earlier = await ctx.db.scalar(
            select(Membership).where(
                Membership.group_id == group_id,
                Membership.added_by == actor.id,
                Membership.client_id == client_id,
            )
        )
        if earlier:
            return views.member_out(earlier), False
    user = await ctx.db.scalar(select(User).where(User.handle == handle, User.deleted_at.is_(None)))
    if user is None:
        raise NotFound("Nobody has that handle.", code="user_not_found")
    if await ctx.db.get(Membership, (group_id, user.id)):
        raise Conflict("That person is already a member.", code="already_member")
    if await ctx.db.get(Ban, (group_id, user.id)):
        raise Conflict("That person is banned from this group: lift the ban first.", code="banned")
    if not await people.may_add(ctx, actor.id, user):
        raise Forbidden(
            "You can only add someone who already shares a group with you. "
            "Send them an invite link instead.",
            code="not_allowed",
        )
    try:
        membership = await join(ctx, group_id, user, role, actor.id, client_id)
    except IntegrityError:
        raise Conflict("That person is already a member.", code="already_member") from None
    out = views.member_out(membership)
    await ctx.commit()
    return out, True


async def change_role(
    ctx: Ctx, actor: User, group_id: str, user_id: str, *, role: str
) -> MemberOut:
    await require_role(ctx, group_id, actor.id, "owner", lock=True)
    target = await ctx.db.get(Membership, (group_id, user_id))
    if target is None:
        raise _member_not_found()
    if target.user_id == actor.id and role != "owner":
        raise Conflict(
            "A group always keeps one owner: make someone else owner first.",
            code="owner_required",
        )
    if target.role != role:
        if role == "owner":
            me = await ctx.db.get(Membership, (group_id, actor.id))
            assert me is not None
            await _set_role(ctx, actor, me, "moderator")
        await _set_role(ctx, actor, target, role)
    out = views.member_out(target)
    await ctx.commit()
    return out


async def _set_role(ctx: Ctx, actor: User, membership: Membership, role: str) -> None:
    before, membership.role = membership.role, role
    await ctx.db.flush()
    group_id = membership.group_id
    payload = views.member_out(membership).model_dump(mode="json")
    await ctx.emit(group_id, EventType.MEMBER_ROLE_CHANGED, payload)
    await moderation.record(
        ctx,
        group_id,
        "member.role_changed",
        actor_id=actor.id,
        target_id=membership.user_id,
        details={"from": before, "to": role},
    )


def check_outranks(mine: Membership, target_role: str | None) -> None:
    """Refuse unless `mine` may remove (or ban) someone of `target_role` (None: not a member)."""
    if ROLE_RANK[mine.role] < ROLE_RANK["moderator"]:
        raise Forbidden("Only a moderator may remove members.")
    if target_role is not None and ROLE_RANK[target_role] > ROLE_RANK[mine.role]:
        raise Forbidden("You cannot remove someone with a higher role than yours.")


async def drop(ctx: Ctx, target: Membership) -> None:
    """End a membership and emit `member.left`: the hub stops their deliveries and any
    live memo they are sending in the group (the caller commits)."""
    payload = views.member_out(target).model_dump(mode="json")
    await ctx.db.delete(target)
    await ctx.db.flush()
    await ctx.emit(target.group_id, EventType.MEMBER_LEFT, payload)


async def remove_member(ctx: Ctx, actor: User, group_id: str, user_id: str) -> None:
    """Remove a member, or leave when `user_id` is the caller."""
    mine = await require_role(ctx, group_id, actor.id, lock=True)
    target = mine if user_id == actor.id else await ctx.db.get(Membership, (group_id, user_id))
    if target is None:
        if ROLE_RANK[mine.role] < ROLE_RANK["moderator"]:
            raise Forbidden("Only a moderator may remove members.")
        raise _member_not_found()
    if target is mine:
        if mine.role == "owner":
            raise Conflict(
                "The owner cannot leave: make someone else owner first, or delete the group.",
                code="owner_required",
            )
    else:
        check_outranks(mine, target.role)
    await drop(ctx, target)
    if target is not mine:
        await moderation.record(
            ctx, group_id, "member.removed", actor_id=actor.id, target_id=user_id
        )
    await ctx.commit()
