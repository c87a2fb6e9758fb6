"""Instance admins: the people who run the server, and what they may do to accounts.

An admin creates accounts (with a one-time link to set the password, so no password
passes through the admin), lists and searches them, disables and enables them,
promotes and demotes admins, and reads the server's size. An admin is an ordinary
member everywhere else: being one opens no group they are not in.

Disabling an account revokes every token (its websockets close with 4001, in every
process that shares the broker), its podcast feeds and push subscriptions, and
refuses sign-in (403 `account_disabled`) until it is enabled again. The last enabled
admin can be neither disabled nor demoted (409 `last_admin`).

Every change is logged (actor, action, target id) on the `earshot.audit` logger; never
a reason, a link or an address.
"""

import logging
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, union
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    EmailToken,
    Export,
    Feed,
    Group,
    Message,
    PushSubscription,
    Receipt,
    Token,
    User,
    utcnow,
)
from app.schemas.admin import AdminStatsOut, AdminUserOut
from app.services import accounts, deletion, emails, pages
from app.services.context import Ctx

audit = logging.getLogger("earshot.audit")

LINK_TTL = timedelta(hours=72)  # a password link an admin hands over
LINK_PATH = "/reset-password"  # the web client's page for a new password (as reset mails)
ACTIVE_DAYS = 30
NO_PASSWORD = "!"  # no Argon2 hash: nothing verifies until the person sets one


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only the server's admins may do that.", code="admin_required")


def user_not_found() -> NotFound:
    return NotFound("No such account.", code="user_not_found")


def user_out(user: User) -> AdminUserOut:
    out = AdminUserOut.model_validate(user)
    out.disabled = user.disabled_at is not None
    return out


def _log(actor_id: str | None, action: str, target_id: str) -> None:
    audit.info(
        "admin action %s by %s on account %s",
        action,
        actor_id or "cli",
        target_id,
        extra={"admin_action": action, "actor_id": actor_id, "target_id": target_id},
    )


async def _target(ctx: Ctx, user_id: str) -> User:
    """The live account `user_id`, its row locked for the change."""
    user = await ctx.db.scalar(
        select(User)
        .where(User.id == user_id, User.deleted_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise user_not_found()
    return user


async def user_by_handle(ctx: Ctx, handle: str) -> User:
    user = await ctx.db.scalar(
        select(User).where(User.handle == handle.strip().lower(), User.deleted_at.is_(None))
    )
    if user is None:
        raise user_not_found()
    return user


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_users(
    ctx: Ctx, *, search: str | None, before: str | None, limit: int
) -> tuple[list[AdminUserOut], bool]:
    """Live accounts, newest first, whose handle, name or address starts with `search`
    (case-insensitively); `before` is the id of the previous page's last account."""
    query = select(User).where(User.deleted_at.is_(None))
    if search:
        prefix = _escape_like(search.strip().lower()) + "%"
        query = query.where(
            or_(
                User.handle.like(prefix, escape="\\"),
                func.lower(User.display_name).like(prefix, escape="\\"),
                User.email.like(prefix, escape="\\"),
            )
        )
    cursor = None
    if before is not None:
        last = await ctx.db.get(User, before)
        if last is None:
            raise Invalid(
                "`before` is not an account.", code="invalid_cursor", details={"field": "before"}
            )
        cursor = (last.created_at, last.id)
    query = pages.keyset(query, User.created_at, User.id, cursor, newest_first=True, limit=limit)
    rows, more = pages.split(list(await ctx.db.scalars(query)), limit)
    return [user_out(u) for u in rows], more


async def create_user(
    ctx: Ctx,
    actor_id: str | None,
    *,
    handle: str,
    display_name: str | None,
    email: str | None,
    admin: bool,
) -> tuple[User, str]:
    """Make an account, whatever the registration mode, and a one-time link where its
    person sets a password; returns both (the link is shown once, never stored)."""
    if email is not None:
        emails.require_email(ctx)
    taken = Conflict("That handle is taken.", code="handle_taken")
    if await ctx.db.scalar(select(User.id).where(User.handle == handle)):
        raise taken
    user = User(
        handle=handle,
        display_name=display_name or handle,
        password_hash=NO_PASSWORD,
        is_admin=admin,
    )
    ctx.db.add(user)
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise taken from None
    if email is not None:
        await emails.set_email(ctx, user, email)
    link = await _password_link(ctx, user)
    await ctx.commit()
    _log(actor_id, "create-user" + ("-admin" if admin else ""), user.id)
    return user, link


async def _password_link(ctx: Ctx, user: User) -> str:
    """A new one-time link to set `user`'s password (earlier ones stop working); the
    caller commits. Only the token's SHA-256 is stored, as for mailed links."""
    await emails.delete_tokens(ctx, user, emails.SET_PASSWORD)
    token = secrets.token_urlsafe(32)
    ctx.db.add(
        EmailToken(
            token_hash=emails.hash_token(token),
            user_id=user.id,
            purpose=emails.SET_PASSWORD,
            email="",
            expires_at=utcnow() + LINK_TTL,
        )
    )
    return f"{(ctx.settings.public_url or '').rstrip('/')}{LINK_PATH}?token={token}"


async def password_link(ctx: Ctx, actor_id: str | None, user_id: str) -> str:
    """A one-time link to set a new password for the account (the old one keeps working
    until the link is used; using it signs every session out)."""
    user = await _target(ctx, user_id)
    link = await _password_link(ctx, user)
    await ctx.commit()
    _log(actor_id, "reset-password", user.id)
    return link


async def _lock_enabled_admins(ctx: Ctx) -> list[str]:
    """The ids of the enabled admins, their rows locked so two admins cannot remove the
    last two admins at once."""
    return list(
        await ctx.db.scalars(
            select(User.id)
            .where(User.is_admin, User.disabled_at.is_(None), User.deleted_at.is_(None))
            .order_by(User.id)
            .with_for_update()
        )
    )


async def _keep_an_admin(ctx: Ctx, user: User) -> None:
    if user.is_admin and user.disabled_at is None:
        if await _lock_enabled_admins(ctx) == [user.id]:
            raise Conflict(
                "This is the server's last admin: make someone else an admin first.",
                code="last_admin",
            )


async def disable(ctx: Ctx, actor_id: str | None, user_id: str, reason: str) -> AdminUserOut:
    """Disable the account: sign-in refused, every token revoked (its websockets close),
    feeds and push subscriptions removed. Disabling it again changes nothing."""
    user = await _target(ctx, user_id)
    if user.disabled_at is not None:
        return user_out(user)
    await _keep_an_admin(ctx, user)
    user.disabled_at, user.disabled_reason = utcnow(), reason
    revoked = list(await ctx.db.scalars(select(Token.token_hash).where(Token.user_id == user.id)))
    for model, column in (
        (Token, Token.user_id),
        (Feed, Feed.user_id),
        (PushSubscription, PushSubscription.user_id),
    ):
        await ctx.db.execute(delete(model).where(column == user.id))
    await ctx.db.flush()
    out = user_out(user)
    await ctx.commit()
    await accounts.announce_revoked(ctx, user, revoked)
    _log(actor_id, "disable", user.id)
    return out


async def enable(ctx: Ctx, actor_id: str | None, user_id: str) -> AdminUserOut:
    """Let a disabled account sign in again (it signs in afresh: its tokens are gone)."""
    user = await _target(ctx, user_id)
    if user.disabled_at is not None:
        user.disabled_at, user.disabled_reason = None, None
        await ctx.db.flush()
        _log(actor_id, "enable", user.id)
    out = user_out(user)
    await ctx.commit()
    return out


async def set_admin(ctx: Ctx, actor_id: str | None, user_id: str, admin: bool) -> AdminUserOut:
    """Promote (`admin`) or demote; the last enabled admin cannot be demoted."""
    user = await _target(ctx, user_id)
    if user.is_admin != admin:
        if not admin:
            await _keep_an_admin(ctx, user)
        user.is_admin = admin
        await ctx.db.flush()
        _log(actor_id, "promote" if admin else "demote", user.id)
    out = user_out(user)
    await ctx.commit()
    return out


async def stats(ctx: Ctx) -> AdminStatsOut:
    """The server's size in a few aggregate queries (no row is loaded)."""
    live = User.deleted_at.is_(None)
    since = utcnow() - timedelta(days=ACTIVE_DAYS)
    # Who posted or listened lately: one pass over the recent rows, not a probe per account.
    recent = union(
        select(Message.sender_id.label("user_id")).where(Message.created_at >= since),
        select(Receipt.user_id.label("user_id")).where(Receipt.listened_at >= since),
    ).subquery()
    users = (
        await ctx.db.execute(
            select(
                func.count(),
                func.count().filter(User.disabled_at.is_not(None)),
                func.count().filter(User.is_admin, User.disabled_at.is_(None)),
            ).where(live)
        )
    ).one()
    active = await ctx.db.scalar(
        select(func.count()).where(
            live, User.disabled_at.is_(None), User.id.in_(select(recent.c.user_id))
        )
    )
    kept = Message.deleted_at.is_(None)
    memo = Message.kind == "voice"
    messages = (
        await ctx.db.execute(
            select(
                func.count(),
                func.count().filter(memo),
                func.coalesce(func.sum(Message.duration_ms).filter(memo), 0),
                func.coalesce(func.sum(Message.size_bytes).filter(memo), 0),
            ).where(kept)
        )
    ).one()
    exported = await ctx.db.scalar(
        select(func.coalesce(func.sum(Export.size_bytes), 0)).where(Export.status == "ready")
    )
    return AdminStatsOut(
        accounts=users[0],
        disabled_accounts=users[1],
        admins=users[2],
        active_accounts=active or 0,
        groups=await ctx.db.scalar(select(func.count()).select_from(Group)) or 0,
        messages=messages[0],
        memos=messages[1],
        audio_minutes=round(int(messages[2] or 0) / 60_000, 1),
        bytes_stored=int(messages[3] or 0) + int(exported or 0),
    )


async def delete_user(ctx: Ctx, user_id: str) -> None:
    """Delete the account as its owner would (`app.services.deletion`), owner rules
    included, without its password: for `earshot admin delete-user`."""
    user = await _target(ctx, user_id)
    await deletion.erase_account(ctx, user)
    _log(None, "delete-user", user_id)
