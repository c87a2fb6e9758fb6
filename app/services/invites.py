"""Invite links: a moderator makes a code, anyone holding it may join while it works.

An invite works while it is not revoked, not expired, not used up, and its creator
is still a moderator or owner of the group (an ex-moderator's links die with their
role). It never lets back in someone banned from the group, nor someone removed
from it after the invite was made: they need a new invite, or a moderator adding
them again.
"""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from app.errors import Forbidden, Gone, NotFound
from app.models import Ban, Invite, Membership, User, utcnow
from app.schemas import InviteOut, MemberOut
from app.services import moderation, pages, views
from app.services.context import Ctx
from app.services.groups import ROLE_RANK, require_role
from app.services.members import join


def _invite_not_found() -> NotFound:
    return NotFound("That invite link is not valid.", code="invite_not_found")


def invite_status(invite: Invite, creator_role: str | None, now: datetime) -> str:
    """Whether accepting works now ("active"), and if not, why."""
    if invite.revoked_at is not None:
        return "revoked"
    if creator_role is None or ROLE_RANK[creator_role] < ROLE_RANK["moderator"]:
        return "creator_not_moderator"
    if invite.expires_at and invite.expires_at <= now:
        return "expired"
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return "used_up"
    return "active"


async def _creator_roles(ctx: Ctx, group_id: str, invites: list[Invite]) -> dict[str, str]:
    creators = {i.created_by for i in invites if i.created_by}
    if not creators:
        return {}
    rows = await ctx.db.execute(
        select(Membership.user_id, Membership.role).where(
            Membership.group_id == group_id, Membership.user_id.in_(creators)
        )
    )
    return {user_id: role for user_id, role in rows.all()}


async def _outs(ctx: Ctx, group_id: str, invites: list[Invite]) -> list[InviteOut]:
    roles, now = await _creator_roles(ctx, group_id, invites), utcnow()
    return [
        views.invite_out(i, invite_status(i, roles.get(i.created_by or ""), now)) for i in invites
    ]


async def create_invite(
    ctx: Ctx,
    actor: User,
    group_id: str,
    *,
    max_uses: int | None,
    expires_in_s: int | None,
    client_id: str | None,
) -> tuple[InviteOut, bool]:
    await ctx.limit("invite-create", actor.id)
    await require_role(ctx, group_id, actor.id, "moderator")
    if client_id:
        earlier = await ctx.db.scalar(
            select(Invite).where(
                Invite.group_id == group_id,
                Invite.created_by == actor.id,
                Invite.client_id == client_id,
            )
        )
        if earlier:
            return (await _outs(ctx, group_id, [earlier]))[0], False
    now = utcnow()
    invite = Invite(
        code=secrets.token_urlsafe(12),
        group_id=group_id,
        created_by=actor.id,
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in_s) if expires_in_s else None,
        max_uses=max_uses,
        uses=0,
        client_id=client_id,
    )
    invite.creator = await ctx.db.merge(actor, load=False)
    ctx.db.add(invite)
    await ctx.db.flush()
    out = (await _outs(ctx, group_id, [invite]))[0]
    await ctx.commit()
    return out, True


async def list_invites(
    ctx: Ctx, user: User, group_id: str, *, before: str | None, limit: int
) -> tuple[list[InviteOut], bool]:
    """The group's invites that are not revoked, newest first (moderators only).

    `before` is the code of the last invite of the previous page."""
    await require_role(ctx, group_id, user.id, "moderator")
    query = select(Invite).where(Invite.group_id == group_id, Invite.revoked_at.is_(None))
    rows, more = await pages.group_page(
        ctx,
        query,
        when=Invite.created_at,
        key=Invite.code,
        group_id=group_id,
        cursor_id=before,
        newest_first=True,
        limit=limit,
        missing=_invite_not_found,
    )
    return await _outs(ctx, group_id, rows), more


async def revoke_invite(ctx: Ctx, user: User, group_id: str, code: str) -> None:
    """Revoke an invite for good (moderators); revoking it again changes nothing."""
    await require_role(ctx, group_id, user.id, "moderator", lock=True)
    invite = await ctx.db.get(Invite, code, populate_existing=True)
    if invite is None or invite.group_id != group_id:
        raise _invite_not_found()
    if invite.revoked_at is None:
        invite.revoked_at, invite.revoked_by = utcnow(), user.id
        await moderation.record(
            ctx,
            group_id,
            "invite.revoked",
            actor_id=user.id,
            target_id=invite.created_by,
            details={"code": code},
        )
        await ctx.commit()


def _refuse_unusable(invite: Invite, creator_role: str | None) -> None:
    status = invite_status(invite, creator_role, utcnow())
    if status in ("revoked", "creator_not_moderator"):
        raise Gone("That invite link no longer works. Ask for a new one.", code="invite_revoked")
    if status == "expired":
        raise Gone("That invite has expired.", code="invite_expired")
    if status == "used_up":
        raise Gone("That invite has been used up.", code="invite_expired")


async def _creator_role(ctx: Ctx, invite: Invite) -> str | None:
    return await ctx.db.scalar(
        select(Membership.role).where(
            Membership.group_id == invite.group_id, Membership.user_id == invite.created_by
        )
    )


async def check_invite(ctx: Ctx, code: str) -> None:
    """Refuse an invite that would not let a newcomer in, as accepting it would (no lock:
    `join_by_invite` checks again), so a sign-up with a dead code hashes nothing."""
    invite = await ctx.db.get(Invite, code)
    if invite is None:
        raise _invite_not_found()
    _refuse_unusable(invite, await _creator_role(ctx, invite))


async def accept_invite(ctx: Ctx, user: User, code: str) -> MemberOut:
    """Join through an invite; someone already in the group just gets their membership."""
    out = await join_by_invite(ctx, user, code)
    await ctx.commit()
    return out


async def join_by_invite(ctx: Ctx, user: User, code: str) -> MemberOut:
    """Accepting an invite, in the caller's transaction (the caller commits)."""
    # The row lock serializes concurrent accepts, which keeps `max_uses` exact.
    invite = await ctx.db.scalar(
        select(Invite).where(Invite.code == code).with_for_update(of=Invite)
    )
    if invite is None:
        raise _invite_not_found()
    group_id = invite.group_id
    existing = await ctx.db.get(Membership, (group_id, user.id))
    if existing:
        return views.member_out(existing)
    if await ctx.db.get(Ban, (group_id, user.id)):
        raise Forbidden("You are banned from this group.", code="banned")
    _refuse_unusable(invite, await _creator_role(ctx, invite))
    if await moderation.removed_since(ctx, group_id, user.id, invite.created_at):
        raise Forbidden(
            "You were removed from this group after this invite was made. "
            "Ask a moderator for a new invite.",
            code="removed",
        )
    invite.uses += 1
    membership = await join(ctx, group_id, user, "member", invite.created_by or user.id)
    return views.member_out(membership)
