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
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict, Unauthorized
from app.models import Token, User
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


async def login(ctx: Ctx, handle: str, password: str) -> tuple[User, str]:
    hasher = password_hasher(ctx.settings)
    user = await ctx.db.scalar(select(User).where(User.handle == handle.strip().lower()))
    # An unknown handle costs the same hashing time as a wrong password.
    stored = user.password_hash if user else _dummy_hash(hasher)
    try:
        await asyncio.to_thread(hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong handle or password.", code="invalid_credentials")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hasher.hash, password)
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
    notice = {"type": "token.revoked", "user_id": user.id, "token_hash": token_hash}
    await ctx.rt.broker.publish(CONTROL_CHANNEL, json.dumps(notice).encode())


async def user_for_token(db: AsyncSession, token: str) -> User | None:
    return await db.scalar(
        select(User)
        .join(Token, Token.user_id == User.id)
        .where(Token.token_hash == hash_token(token))
    )
