"""Accounts: registration, sign-in and revocable bearer tokens.

Passwords are checked against the rules for new ones and hashed with Argon2id on
executors of their own (`app.services.passwords`). Tokens are random; only their
SHA-256 is stored, so a database leak yields no usable token and logout is a delete.
Registrations count per client address; sign-in failures count per (handle, address)
and earn growing delays there (`app.ratelimit`), so nobody can lock anyone else out.
"""

import hashlib
import secrets

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, Forbidden, Unauthorized
from app.models import Token, User, utcnow
from app.ratelimit import Rule, enforce, rate_limited, sign_in_delays
from app.realtime.wire import CONTROL_CHANNEL, TokensRevoked, encode_control
from app.services import emails, invites, registration
from app.services.context import Ctx
from app.services.passwords import check_new_password


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue_token(ctx: Ctx, user: User) -> str:
    token = secrets.token_urlsafe(32)
    ctx.db.add(Token(token_hash=hash_token(token), user_id=user.id))
    return token


async def register(
    ctx: Ctx,
    handle: str,
    display_name: str,
    password: str,
    address: str,
    email: str | None = None,
    invite_code: str | None = None,
) -> tuple[User, str]:
    """Make an account (the server's registration mode permitting); with `invite_code`
    it joins that invite's group in the same transaction."""
    require_password_login(ctx)
    check_new_password(password, handle)
    if email is not None and not ctx.settings.email_enabled:
        raise emails.not_configured()
    await ctx.limit("register", address)
    await registration.check_register(ctx, invite_code)
    taken = Conflict("That handle is taken.", code="handle_taken")
    if await ctx.db.scalar(select(User.id).where(User.handle == handle)):
        raise taken
    await ctx.release()  # no database lock is held while hashing
    password_hash = await ctx.rt.passwords.hash(password)
    user = User(handle=handle, display_name=display_name, password_hash=password_hash)
    ctx.db.add(user)
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise taken from None
    if email is not None:
        await emails.set_email(ctx, user, email)
    if invite_code is not None:
        await invites.join_by_invite(ctx, user, invite_code)
    token = await _issue_token(ctx, user)
    await ctx.commit()
    return user, token


def _failures_key(handle: str, address: str) -> str:
    return f"{handle}|{address}"


async def _check_password(
    ctx: Ctx, user: User | None, handle: str, password: str, address: str
) -> bool:
    """Whether `password` is `user`'s, counting the attempt against `handle` from `address`:
    429 when that address tries too often, or must wait after its failures on the handle."""
    settings = ctx.settings
    by_address = Rule("login-address", settings.login_attempts_per_address, settings.login_window_s)
    limiter = ctx.rt.limiter
    await enforce(limiter, by_address, address, "Too many sign-in attempts from your network.")
    delays, key = sign_in_delays(settings), _failures_key(handle, address)
    if wait := await limiter.reserve(key, delays):
        raise rate_limited("Too many wrong passwords for this handle; wait a little.", wait)
    ok = await ctx.rt.passwords.verify(user.password_hash if user else None, password)
    if ok:
        await limiter.clear(key)
    else:
        await limiter.failed(key, delays)
    return ok


async def login(ctx: Ctx, handle: str, password: str, address: str) -> tuple[User, str]:
    require_password_login(ctx)
    handle = handle.strip().lower()
    user = await ctx.db.scalar(select(User).where(User.handle == handle, User.deleted_at.is_(None)))
    await ctx.release()  # no database lock is held while hashing
    # An unknown handle costs the same hashing time as a wrong password.
    if not await _check_password(ctx, user, handle, password, address) or user is None:
        raise Unauthorized("Wrong handle or password.", code="invalid_credentials")
    require_enabled(user)
    passwords = ctx.rt.passwords
    if passwords.needs_rehash(user.password_hash):
        rehashed = await passwords.hash(password)
        await ctx.db.execute(update(User).where(User.id == user.id).values(password_hash=rehashed))
    token = await _issue_token(ctx, user)
    await ctx.commit()
    return user, token


async def logout(ctx: Ctx, user: User, token: str) -> None:
    """Revoke the token; open websockets that used it are closed at once."""
    token_hash = hash_token(token)
    await ctx.db.execute(delete(Token).where(Token.token_hash == token_hash))
    await ctx.commit()
    await announce_revoked(ctx, user, [token_hash])


async def require_password(ctx: Ctx, user: User, password: str, address: str) -> None:
    """403 `wrong_password` unless `password` is the signed-in `user`'s (counted as a
    sign-in attempt, so guessing it is as slow as guessing at sign-in)."""
    if not await _check_password(ctx, user, user.handle, password, address):
        raise Forbidden("The current password is wrong.", code="wrong_password")


async def change_password(ctx: Ctx, user: User, *, current: str, new: str, address: str) -> str:
    """Set a new password and sign out every token, this one included; returns a new token."""
    check_new_password(new, user.handle)
    await require_password(ctx, user, current, address)
    new_hash = await ctx.rt.passwords.hash(new)
    return await replace_password(ctx, user, new_hash, new_token=True) or ""


async def replace_password(
    ctx: Ctx, user: User, new_hash: str, *, new_token: bool = False
) -> str | None:
    """Store `new_hash` and revoke every token of the account (its websockets close),
    committing; with `new_token`, returns a fresh token for this client."""
    await ctx.db.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    revoked = list(await ctx.db.scalars(select(Token.token_hash).where(Token.user_id == user.id)))
    await ctx.db.execute(delete(Token).where(Token.user_id == user.id))
    token = await _issue_token(ctx, user) if new_token else None
    await ctx.commit()
    await announce_revoked(ctx, user, revoked)
    return token


async def reset_password(ctx: Ctx, token: str, new: str, address: str) -> None:
    """Set a new password with a token mailed to the account's verified address, or of a
    link an admin handed over; every token of the account is revoked (its websockets
    close), as on a password change."""
    row, user = await emails.use_token(ctx, token, ("reset", emails.SET_PASSWORD), address)
    purpose = row.purpose
    if purpose == "reset" and not user.email_verified:
        raise emails.invalid_token()
    check_new_password(new, user.handle)
    await ctx.release()  # no database lock is held while hashing
    new_hash = await ctx.rt.passwords.hash(new)
    if not await emails.delete_tokens(ctx, user, purpose):
        raise emails.invalid_token()  # a parallel request used it meanwhile
    await replace_password(ctx, user, new_hash)


async def announce_revoked(ctx: Ctx, user: User, token_hashes: list[str]) -> None:
    notice = TokensRevoked(user.id, token_hashes)
    await ctx.rt.broker.publish(CONTROL_CHANNEL, encode_control(notice))


def _working() -> list[ColumnElement[bool]]:
    """What makes a token work: not expired (an SSO token), its account not disabled
    (a disabled account's tokens are deleted too; this covers a race)."""
    return [
        or_(Token.expires_at.is_(None), Token.expires_at > utcnow()),
        User.disabled_at.is_(None),
    ]


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    """The token's user, unless the token was revoked or (an SSO token) has expired."""
    return await db.scalar(
        select(User)
        .join(Token, Token.user_id == User.id)
        .where(Token.token_hash == hash_token(token), *_working())
    )


async def working_tokens(db: AsyncSession, token_hashes: list[str]) -> set[str]:
    """Those of `token_hashes` whose tokens still work (for sockets signed in with them)."""
    rows = await db.scalars(
        select(Token.token_hash)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash.in_(token_hashes), *_working())
    )
    return set(rows)


def require_enabled(user: User) -> None:
    """403 `account_disabled` for an account an admin disabled (checked at every sign-in,
    after the credentials, so it tells nothing to someone who has none)."""
    if user.disabled_at is not None:
        raise Forbidden(
            "An admin of this server disabled your account. Ask them about it.",
            code="account_disabled",
        )


def require_password_login(ctx: Ctx) -> None:
    """403 `password_login_disabled` on an SSO-only server (EARSHOT_PASSWORD_LOGIN=false)."""
    if not ctx.settings.password_login:
        raise Forbidden(
            "This server signs people in through their organisation only: use its button.",
            code="password_login_disabled",
        )
