"""A person's avatar: set from a photo, replaced, removed, served, and gone with the account.

An avatar is stored once, already made small and clean (`app.storage.images`: a
256 px WebP without any of the photo's metadata), under
`avatars/<user id>/<random id>.webp`; the users row names the current one
(`avatar_id`), and the URL carries the same random id (`app.schemas.avatar_url`),
so a new avatar has a new URL and any URL may be cached for good. Replacing or
removing an avatar deletes the old blob once the change is committed; a blob whose
change did not commit is deleted at once, so no blob outlives its row.

Who may fetch it: whoever was shown the user object that carries the URL (people
who share a group with the person, or see them in an invite, a ban, a block or the
moderation log). The URL is the credential, as the signed audio URLs are, because an
<img> sends no Authorization header: its 128 random bits cannot be guessed, and it
stops working (404) when the avatar is replaced or removed or the account deleted.
"""

import asyncio
import secrets
from pathlib import Path

from sqlalchemy import select

from app.errors import ApiError, Forbidden, NotFound, busy
from app.models import User
from app.schemas import MeOut
from app.services import people
from app.services.context import Ctx
from app.services.voice import ensure_room
from app.storage import images
from app.storage.ffmpeg import Busy
from app.storage.keys import avatar_key, avatar_prefix


def not_an_image() -> ApiError:
    return ApiError(
        "That file is not a JPEG, PNG, WebP or HEIC image, or it is damaged.",
        code="unsupported_image",
        status=415,
    )


def _too_many_pixels() -> ApiError:
    megapixels = images.MAX_PIXELS // 1_000_000
    return ApiError(
        f"That image has too many pixels; at most {megapixels} megapixels.",
        code="image_too_large",
        status=422,
        details={"max_pixels": images.MAX_PIXELS},
    )


def _not_found() -> NotFound:
    return NotFound("No such avatar: it was replaced or removed.", code="avatar_not_found")


async def admit(ctx: Ctx, user: User) -> None:
    """Refuse before the body is read: too many new avatars (429), no disk space (507)."""
    await ctx.release()
    await ctx.limit("avatar", user.id)
    await ensure_room(ctx.settings)


async def _make(ctx: Ctx, upload: Path) -> bytes:
    """Decode in one of this process's probe slots (503 if none frees in time)."""
    try:
        return await ctx.rt.probes.run_within(
            ctx.settings.probe_wait_s, asyncio.to_thread(images.make_avatar, upload)
        )
    except Busy as full:
        message = "The server is busy with other uploads; send it again in a moment."
        raise busy(message, full.retry_after_s) from None
    except images.TooManyPixels:
        raise _too_many_pixels() from None
    except images.NotAnImage:
        raise not_an_image() from None


async def _locked(ctx: Ctx, user_id: str) -> User:
    """The person's row, locked (one avatar change at a time), as it is now."""
    user = await ctx.db.scalar(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None or user.deleted_at is not None:
        raise Forbidden("This account was deleted.", code="account_deleted")
    return user


async def set_avatar(ctx: Ctx, user: User, upload: Path) -> MeOut:
    """Make `upload` the person's avatar; the previous one's blob is deleted."""
    data = await _make(ctx, upload)
    avatar_id = secrets.token_hex(16)
    key = avatar_key(user.id, avatar_id)
    await ctx.rt.blobs.put_bytes(key, data)
    committed = False

    async def mark() -> None:
        nonlocal committed
        committed = True

    try:
        current = await _locked(ctx, user.id)
        old = current.avatar_id
        current.avatar_id = avatar_id
        ctx.after_commit(mark)  # first of the actions: the row names the new blob now
        if old is not None:
            ctx.after_commit(lambda: ctx.rt.blobs.delete(avatar_key(user.id, old)))
        out = people.me_out(current)
        await ctx.commit()
    except BaseException:
        if not committed:  # the change did not happen: nor does its blob
            await ctx.rt.blobs.delete(key)
        raise
    return out


async def remove_avatar(ctx: Ctx, user: User) -> None:
    """Remove the person's avatar and its blob (404 if they have none)."""
    current = await _locked(ctx, user.id)
    old = current.avatar_id
    if old is None:
        raise NotFound("You have no avatar.", code="avatar_not_found")
    current.avatar_id = None
    ctx.after_commit(lambda: ctx.rt.blobs.delete(avatar_key(user.id, old)))
    await ctx.commit()


async def avatar_blob(ctx: Ctx, user_id: str, avatar_id: str) -> bytes:
    """The bytes of `user_id`'s avatar, if `avatar_id` is still its current one."""
    user = await ctx.db.get(User, user_id)
    if user is None or user.deleted_at is not None or user.avatar_id != avatar_id:
        raise _not_found()
    try:
        chunks = [c async for c in ctx.rt.blobs.read_range(avatar_key(user_id, avatar_id))]
    except FileNotFoundError:  # replaced a moment ago
        raise _not_found() from None
    return b"".join(chunks)


def forget(ctx: Ctx, user_id: str) -> None:
    """Delete the person's avatar blob once their account's deletion commits (the row's
    `avatar_id` is cleared by the caller)."""
    prefix = avatar_prefix(user_id)
    ctx.after_commit(lambda: ctx.rt.blobs.delete_prefix(prefix))
