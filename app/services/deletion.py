"""Deleting an account: what "gone" means for a person.

`delete_account` checks the password, refuses while the person owns a group that has
other members (409 `owner_required`, naming those groups: they hand it over first),
then in one transaction

- deletes each group where they are the only member (as its owner's delete would);
- ends every other membership (`member.left`, and any live memo of theirs ends);
- removes their tokens (their websockets close with 4001), email tokens, push
  subscriptions, podcast feeds, data export (and its zip), blocks (theirs and of
  them), receipts, reactions (counts drop without `reaction.removed` events; a
  client sees them on its next load), bookmarks with their notes, the reports they
  made, the reasons of bans they made, and their avatar (its blob too);
- keeps the `users` row, stripped (no name, bio, address or password; `deleted_at` set),
  so their tombstones keep a sender, shown to everyone as "Deleted user" with no
  handle (`app.schemas.UserOut`). The handle stays taken for
  `deleted_handle_grace_days`, then the sweep frees it.

Then every message they ever sent is erased through `app.services.erasure` (the one
way words leave Earshot), and the stored events that still name them (their
`member.*` events, moderation log entries) are rewritten to "Deleted user". A crash
in between loses nothing: each sweep (`sweep`) erases what a deleted sender left.
"""

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, func, select, update

from app.errors import Conflict
from app.models import (
    Ban,
    Block,
    Bookmark,
    EmailToken,
    Event,
    Feed,
    Group,
    ListeningPosition,
    Membership,
    Message,
    OidcSubject,
    PushSubscription,
    Reaction,
    Receipt,
    Report,
    Token,
    User,
    utcnow,
)
from app.schemas import UserOut
from app.services import accounts, avatars, exports, groups, members, oidc
from app.services.context import Ctx, Runtime, transaction
from app.services.erasure import erase_message

log = logging.getLogger(__name__)

BATCH = 50  # messages erased per transaction
FREED = "~"  # a freed handle: "~" and 31 hex digits, which no sign-up can take


async def delete_account(ctx: Ctx, user: User, password: str, token: str, address: str) -> None:
    """Delete the signed-in `user`'s account, everything they posted and every trace. An
    account made through SSO has no password: a sign-in through its provider in the last
    15 minutes stands for it."""
    if user.password_hash == "":
        await oidc.require_recent_sso(ctx, user, token)
    else:
        await accounts.require_password(ctx, user, password, address)
    await erase_account(ctx, user)


async def erase_account(ctx: Ctx, user: User) -> None:
    """Delete `user`'s account once whoever asked has proved they may (its owner, or an
    admin at the command line): the owner rule, then everything described above."""
    memberships = list(
        await ctx.db.scalars(
            select(Membership)
            .where(Membership.user_id == user.id)
            .order_by(Membership.group_id)  # one lock order for every deletion
        )
    )
    alone: list[Group] = []
    handed: list[dict[str, str]] = []
    for membership in memberships:
        group = await ctx.db.scalar(
            select(Group).where(Group.id == membership.group_id).with_for_update()
        )
        if group is None or membership.role != "owner":
            continue
        count = await ctx.db.scalar(select(func.count()).where(Membership.group_id == group.id))
        if count == 1:
            alone.append(group)
        else:
            handed.append({"id": group.id, "name": group.name})
    if handed:
        raise Conflict(
            "You own groups with other members: make someone else their owner first.",
            code="owner_required",
            details={"groups": handed},
        )
    token_hashes = list(
        await ctx.db.scalars(select(Token.token_hash).where(Token.user_id == user.id))
    )
    for model, column in (
        (Token, Token.user_id),
        (EmailToken, EmailToken.user_id),
        (OidcSubject, OidcSubject.user_id),
        (PushSubscription, PushSubscription.user_id),
        (Feed, Feed.user_id),
        (Block, Block.user_id),
        (Block, Block.blocked_id),
        (Receipt, Receipt.user_id),
        (Reaction, Reaction.user_id),
        (Bookmark, Bookmark.user_id),
        (ListeningPosition, ListeningPosition.user_id),
        (Report, Report.reporter_id),
    ):
        await ctx.db.execute(delete(model).where(column == user.id))
    await ctx.db.execute(update(Ban).where(Ban.banned_by == user.id).values(reason=None))
    await exports.forget(ctx, user.id)
    avatars.forget(ctx, user.id)
    await ctx.db.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            deleted_at=utcnow(),
            display_name="",
            bio="",
            avatar_id=None,
            password_hash="!",  # no Argon2 hash: nothing ever verifies against it
            email=None,
            email_verified_at=None,
            notification_previews=False,
            quiet_start=None,
            quiet_end=None,
            quiet_time_zone=None,
            is_admin=False,
            disabled_at=None,
            disabled_reason=None,  # an admin's words about them go too
            digest="off",
            timezone=None,
            digest_slot_at=None,
        )
    )
    # Reloaded as "Deleted user" before anything is announced, so no live event names them.
    await ctx.db.get(User, user.id, populate_existing=True)
    for group in alone:
        await groups.remove_group(ctx, group)
    alone_ids = {g.id for g in alone}
    for membership in memberships:
        if membership.group_id not in alone_ids:
            await members.drop(ctx, membership)
    ctx.after_commit(ctx.rt.scrubber.request)
    await ctx.commit()
    await accounts.announce_revoked(ctx, user, token_hashes)
    await erase_sent(ctx.rt, user.id)
    await forget_in_events(ctx.rt, user.id)


async def erase_sent(rt: Runtime, user_id: str) -> int:
    """Erase every message `user_id` sent that is not erased yet; returns how many.

    BATCH at a time, in (group, seq) order, so concurrent deletions lock groups in
    the same order."""
    erased = 0
    while True:
        async with transaction(rt) as ctx:
            ids = list(
                await ctx.db.scalars(
                    select(Message.id)
                    .where(Message.sender_id == user_id, Message.deleted_at.is_(None))
                    .order_by(Message.group_id, Message.seq)
                    .limit(BATCH)
                )
            )
            if not ids:
                return erased
            for message_id in ids:
                erased += await erase_message(ctx, message_id, actor_id=user_id)
            await ctx.commit()


def _forget(data: Any, user_id: str, deleted: dict[str, Any]) -> Any:
    """`data` with every user object of `user_id` replaced by `deleted`."""
    if isinstance(data, dict):
        if data.get("id") == user_id and "handle" in data:
            return deleted
        return {key: _forget(value, user_id, deleted) for key, value in data.items()}
    if isinstance(data, list):
        return [_forget(value, user_id, deleted) for value in data]
    return data


async def forget_in_events(rt: Runtime, user_id: str) -> int:
    """Rewrite the stored events that show `user_id`'s handle or name to "Deleted user";
    returns how many changed. (Message events are the erasure's: tombstones.)"""
    async with transaction(rt) as ctx:
        user = await ctx.db.get(User, user_id)
        if user is None or user.deleted_at is None:
            return 0
        deleted = UserOut.model_validate(user).model_dump(mode="json")
        rows = (
            await ctx.db.execute(
                select(Event.group_id, Event.seq, Event.data).where(
                    cast(Event.data, Text).like(f'%"{user_id}"%')
                )
            )
        ).all()
        changed = 0
        for group_id, seq, data in rows:
            forgotten = _forget(data, user_id, deleted)
            if forgotten != data:
                await ctx.db.execute(
                    update(Event)
                    .where(Event.group_id == group_id, Event.seq == seq)
                    .values(data=forgotten)
                )
                changed += 1
        if changed:
            ctx.after_commit(rt.scrubber.request)
        await ctx.commit()
        return changed


async def sweep(rt: Runtime) -> None:
    """Finish deletions a crash interrupted (messages of deleted senders), and free the
    handles of accounts deleted more than `deleted_handle_grace_days` ago."""
    async with rt.sessions() as db:
        unfinished = list(
            await db.scalars(
                select(Message.sender_id)
                .join(User, User.id == Message.sender_id)
                .where(User.deleted_at.is_not(None), Message.deleted_at.is_(None))
                .distinct()
            )
        )
    for user_id in unfinished:
        log.info("finishing the deletion of account %s", user_id)
        await erase_sent(rt, user_id)
        await forget_in_events(rt, user_id)
    cutoff = utcnow() - timedelta(days=rt.settings.deleted_handle_grace_days)
    async with transaction(rt) as ctx:
        due = list(
            await ctx.db.scalars(
                select(User.id).where(
                    User.deleted_at.is_not(None),
                    User.deleted_at <= cutoff,
                    User.handle.not_like(f"{FREED}%"),
                )
            )
        )
        for user_id in due:
            handle = FREED + user_id.replace("-", "")[:31]
            await ctx.db.execute(update(User).where(User.id == user_id).values(handle=handle))
        await ctx.commit()
