"""Accounts: registration, sign-in and revocable bearer tokens.

Passwords are hashed with Argon2id in a worker thread (hashing is deliberately
slow and must not stall the event loop). Tokens are random; only their SHA-256
is stored, so a database leak yields no usable token and logout is a delete.
"""

import asyncio
import hashlib
import json
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict, Forbidden, Unauthorized
from app.models import Token, User
from app.ratelimit import Rule, enforce
from app.services.context import CONTROL_CHANNEL, Ctx


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue_token(ctx: Ctx, user: User) -> str:
    token = secrets.token_urlsafe(32)
    ctx.db.add(Token(token_hash=hash_token(token), user_id=user.id))
    return token


async def register(ctx: Ctx, handle: str, display_name: str, password: str) -> tuple[User, str]:
    hasher = password_hasher(ctx.settings)
    password_hash = await asyncio.to_thread(hasher.hash, password)
    taken = Conflict("That handle is taken.", code="handle_taken")
    if await ctx.db.scalar(select(User.id).where(User.handle == handle)):
        raise taken
    user = User(handle=handle, display_name=display_name, password_hash=password_hash)
    ctx.db.add(user)
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise taken from None
    token = await _issue_token(ctx, user)
    await ctx.commit()
    return user, token


def _login_rules(settings: Settings) -> tuple[Rule, Rule]:
    window = settings.login_window_s
    return (
        Rule("login-handle", settings.login_attempts_per_handle, window),
        Rule("login-address", settings.login_attempts_per_address, window),
    )


async def _count_attempt(ctx: Ctx, handle: str, address: str) -> None:
    """Count a sign-in attempt (or password check) on `handle` from `address`; 429 past limits."""
    by_handle, by_address = _login_rules(ctx.settings)
    limiter = ctx.rt.limiter
    await enforce(limiter, by_address, address, "Too many sign-in attempts from your network.")
    await enforce(limiter, by_handle, handle, "Too many sign-in attempts for this handle.")


async def login(ctx: Ctx, handle: str, password: str, address: str) -> tuple[User, str]:
    handle = handle.strip().lower()
    await _count_attempt(ctx, handle, address)
    hasher = password_hasher(ctx.settings)
    user = await ctx.db.scalar(select(User).where(User.handle == handle))
    await ctx.release()  # no database lock is held while hashing
    # An unknown handle costs the same hashing time as a wrong password.
    stored = user.password_hash if user else _dummy_hash(hasher)
    try:
        await asyncio.to_thread(hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong handle or password.", code="invalid_credentials")
    if hasher.check_needs_rehash(user.password_hash):
        rehashed = await asyncio.to_thread(hasher.hash, password)
        await ctx.db.execute(update(User).where(User.id == user.id).values(password_hash=rehashed))
    token = await _issue_token(ctx, user)
    await ctx.commit()
    return user, token


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


async def logout(ctx: Ctx, user: User, token: str) -> None:
    """Revoke the token; open websockets that used it are closed at once."""
    token_hash = hash_token(token)
    await ctx.db.execute(delete(Token).where(Token.token_hash == token_hash))
    await ctx.commit()
    await _announce_revoked(ctx, user, [token_hash])


async def change_password(ctx: Ctx, user: User, current: str, new: str, address: str) -> str:
    """Set a new password and sign out every session, this one included; returns a new token."""
    await _count_attempt(ctx, user.handle, address)
    hasher = password_hasher(ctx.settings)
    try:
        await asyncio.to_thread(hasher.verify, user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Forbidden("The current password is wrong.", code="wrong_password") from None
    new_hash = await asyncio.to_thread(hasher.hash, new)
    await ctx.db.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    revoked = list(await ctx.db.scalars(select(Token.token_hash).where(Token.user_id == user.id)))
    await ctx.db.execute(delete(Token).where(Token.user_id == user.id))
    token = await _issue_token(ctx, user)
    await ctx.commit()
    await _announce_revoked(ctx, user, revoked)
    return token


async def _announce_revoked(ctx: Ctx, user: User, token_hashes: list[str]) -> None:
    notice = {"type": "token.revoked", "user_id": user.id, "token_hashes": token_hashes}
    await ctx.rt.broker.publish(CONTROL_CHANNEL, json.dumps(notice).encode())


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    return await db.scalar(
        select(User)
        .join(Token, Token.user_id == User.id)
        .where(Token.token_hash == hash_token(token))
    )
