"""Invite links: a moderator makes a code, anyone holding it may join once it is valid."""

import secrets
from datetime import timedelta

from sqlalchemy import select

from app.errors import Gone, NotFound
from app.models import Invite, Membership, User, utcnow
from app.schemas import InviteOut, MemberOut
from app.services import views
from app.services.context import Ctx
from app.services.groups import require_role
from app.services.members import join


async def create_invite(
    ctx: Ctx,
    actor: User,
    group_id: str,
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
            return InviteOut.model_validate(earlier), False
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
    ctx.db.add(invite)
    await ctx.db.flush()
    out = InviteOut.model_validate(invite)
    await ctx.commit()
    return out, True


async def accept_invite(ctx: Ctx, user: User, code: str) -> MemberOut:
    """Join through an invite; someone already in the group just gets their membership."""
    # The row lock serializes concurrent accepts, which keeps `max_uses` exact.
    invite = await ctx.db.scalar(select(Invite).where(Invite.code == code).with_for_update())
    if invite is None:
        raise NotFound("That invite link is not valid.", code="invite_not_found")
    existing = await ctx.db.get(Membership, (invite.group_id, user.id))
    if existing:
        return views.member_out(existing)
    if invite.expires_at and invite.expires_at <= utcnow():
        raise Gone("That invite has expired.", code="invite_expired")
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise Gone("That invite has been used up.", code="invite_expired")
    invite.uses += 1
    membership = await join(ctx, invite.group_id, user, "member", invite.created_by or user.id)
    out = views.member_out(membership)
    await ctx.commit()
    return out
