"""The catch-up digest: a daily or weekly email, in the person's local morning, of what
they have not heard yet, group by group.

Who gets one: a person who chose it (`users.digest`, off by default), has a verified
address and was not deleted, and has something unheard (`app.services.unheard` says
what is) that came since their previous digest. What it says, per group: unheard
memos and minutes, who spoke, memos that reply to one of theirs, live memos missed,
and the first line of each transcript only if they allow previews; a link that opens
the group; never any audio. Plain text and HTML, everything people wrote escaped.

When: `morning` (a pure function) gives the latest local morning (`digest_hour` in
`users.timezone`, UTC without one; Mondays only for weekly). Every process looks each
`sweep_interval_s` (`app.services.ingest`); a morning is queued by one compare-and-set UPDATE of
`users.digest_slot_at` in the same transaction as its outbox item, so each person gets
one digest per morning across processes and restarts, and the outbox sends it once
(`app.services.outbox`). A morning more than LATE past (the server was down) is
skipped rather than mailed at night. The mail is composed when it is sent, from what is
unheard then: nothing deleted or heard meanwhile appears, and no content is queued.

Unsubscribing (RFC 8058): the `List-Unsubscribe` URL carries a signed token bound to
the person (`app.services.signing`), good only for turning the digest off.
"""

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.config import Settings
from app.errors import ApiError
from app.kinds import TranscriptStatus
from app.models import Group, Membership, Message, User, utcnow
from app.services import mail, outbox, signing
from app.services.context import Ctx, Runtime, open_runtime, transaction
from app.services.unheard import unheard_by

KIND = "digest"
PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
LATE = timedelta(hours=6)  # a morning missed by more than this is skipped
KEEP = timedelta(hours=12)  # a queued digest not sent by then is dropped
MAX_GROUPS = 50  # groups named in one mail (most unheard first)
MAX_LINES = 10  # transcript lines per group
LINE_CHARS = 140
BATCH = 500  # people looked at per query by the scheduler
UNSUBSCRIBE_PATH = "/api/v1/digest/unsubscribe"


# --- when: pure --------------------------------------------------------------------


def zone(name: str | None) -> tzinfo:
    """The person's zone (UTC without one, or for a name this system does not know)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _at(day: date, hour: int, tz: tzinfo) -> datetime:
    # A wall time skipped by a DST change (02:30 on a spring-forward day) maps to the
    # instant just after the gap; one that happens twice, to its first occurrence.
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def morning(now: datetime, tz: tzinfo, frequency: str, hour: int) -> datetime:
    """The latest local morning (`hour`:00 in `tz`; a Monday for "weekly") at or before
    `now`, as a UTC instant."""
    today = now.astimezone(tz).date()
    for back in range(9):
        day = today - timedelta(days=back)
        if frequency == "weekly" and day.weekday() != 0:
            continue
        at = _at(day, hour, tz)
        if at <= now:
            return at
    raise AssertionError("a Monday morning within nine days")  # pragma: no cover


def due(
    now: datetime, tz: tzinfo, frequency: str, hour: int, last: datetime | None
) -> datetime | None:
    """The morning whose digest is due now (None: none is): the latest one, if its digest
    was not queued yet and it is not more than LATE past."""
    if frequency not in PERIOD:
        return None
    slot = morning(now, tz, frequency, hour)
    if (last is not None and last >= slot) or now - slot > LATE:
        return None
    return slot


def preference_columns(settings: Settings, user: User, changes: dict[str, Any]) -> dict[str, Any]:
    """User column values for `digest` in a PATCH /me body. Turned on, the latest morning
    counts as done: the first digest comes the next one, not at once."""
    frequency = changes.get("digest")
    if frequency is None or frequency == user.digest:
        return {}
    values: dict[str, Any] = {"digest": frequency}
    if frequency in PERIOD and user.digest not in PERIOD:
        tz = zone(changes["timezone"] if "timezone" in changes else user.timezone)
        slot = morning(utcnow(), tz, frequency, settings.digest_hour)
        last = user.digest_slot_at
        values["digest_slot_at"] = slot if last is None else max(last, slot)
    return values


# --- queueing ----------------------------------------------------------------------


def _since(frequency: str, slot: datetime, last: datetime | None) -> datetime:
    """What a digest covers: from the previous one (at most a week back), else one period."""
    if last is None:
        return slot - PERIOD.get(frequency, PERIOD["daily"])
    return max(last, slot - PERIOD["weekly"])


def _wanted() -> Any:
    return and_(
        User.digest.in_(tuple(PERIOD)),
        User.email.is_not(None),
        User.email_verified_at.is_not(None),
        User.deleted_at.is_(None),
        User.disabled_at.is_(None),  # an admin keeps them out: no group's news either
    )


async def _queue(rt: Runtime, due_now: list[tuple[str, datetime, datetime | None]]) -> list[str]:
    """Claim each (person, morning, previous morning) and queue its mail, in one
    transaction; the people queued. Someone another process (or an earlier run) claimed
    that morning for, or who changed their mind meanwhile, is left out. As the outbox
    claims items, rows another process is claiming right now are skipped (`SKIP LOCKED`
    on PostgreSQL; SQLite writes one at a time): no waiting, no deadlock."""
    by_slot: dict[datetime, dict[str, datetime | None]] = {}
    for user_id, slot, last in due_now:
        by_slot.setdefault(slot, {})[user_id] = last
    queued = []
    async with transaction(rt) as ctx:
        for slot, people in by_slot.items():
            free = [
                _wanted(),
                or_(User.digest_slot_at.is_(None), User.digest_slot_at < slot),
            ]
            claimable = (
                select(User.id)
                .where(User.id.in_(list(people)), *free)
                .order_by(User.id)
                .with_for_update(skip_locked=True)
            )
            claimed = await ctx.db.execute(
                update(User)
                .where(User.id.in_(claimable.scalar_subquery()), *free)
                .values(digest_slot_at=slot)
                .returning(User.id, User.digest)
                .execution_options(synchronize_session=False)
            )
            for user_id, frequency in claimed.all():
                payload = {
                    "kind": KIND,
                    "user_id": user_id,
                    "since": _since(frequency, slot, people[user_id]).isoformat(),
                    "expires_at": (max(slot, utcnow()) + KEEP).isoformat(),
                }
                outbox.enqueue(ctx, mail.CHANNEL, payload)
                queued.append(user_id)
        await ctx.commit()
    return queued


async def schedule(rt: Runtime, now: datetime | None = None) -> int:
    """Queue every digest due now; how many this call queued."""
    now = now or utcnow()
    hour = rt.settings.digest_hour
    queued, after = 0, ""
    # A daily digest's mornings are at least 23 hours apart: skip those queued since.
    recent = now - timedelta(hours=22)
    while True:
        async with rt.read_sessions() as db:
            rows = (
                await db.execute(
                    select(User.id, User.digest, User.timezone, User.digest_slot_at)
                    .where(
                        _wanted(),
                        User.id > after,
                        or_(User.digest_slot_at.is_(None), User.digest_slot_at < recent),
                    )
                    .order_by(User.id)
                    .limit(BATCH)
                )
            ).all()
        due_now = []
        for user_id, frequency, tz_name, last in rows:
            slot = due(now, zone(tz_name), frequency, hour, last)
            if slot is not None:
                due_now.append((user_id, slot, last))
        if due_now:
            queued += len(await _queue(rt, due_now))
        if len(rows) < BATCH:
            return queued
        after = rows[-1][0]


async def send_now(rt: Runtime, handle: str | None = None) -> list[str]:
    """Queue a digest now for everyone who chose one (or only `handle`), whatever the hour
    (`earshot digest --now`); the ids of the people queued. Their next morning's digest
    covers what comes after this one."""
    now = utcnow()
    queued, after = [], ""
    while True:
        async with rt.read_sessions() as db:
            query = select(User.id, User.digest_slot_at).where(_wanted(), User.id > after)
            if handle is not None:
                query = query.where(User.handle == handle.lower())
            rows = (await db.execute(query.order_by(User.id).limit(BATCH))).all()
        if rows:
            queued += await _queue(rt, [(user_id, now, last) for user_id, last in rows])
        if len(rows) < BATCH:
            return queued
        after = rows[-1][0]


async def run_now(settings: Settings, handle: str | None, compose: mail.Compose) -> list[str]:
    """`earshot digest --now`: queue the digests (`send_now`), then send what the outbox
    has due from this process (a running server's worker may send some first; the
    outbox's claims keep each mail to one sender). The handles queued."""
    async with open_runtime(settings, shared=False) as rt:
        queued = await send_now(rt, handle)
        worker = outbox.Worker(rt, mail.Mailer(settings, compose).handlers(), concurrency=4)
        while await worker.run_once():
            pass
        if not queued:
            return []
        async with rt.read_sessions() as db:
            return list(await db.scalars(select(User.handle).where(User.id.in_(queued))))


# --- unsubscribing -----------------------------------------------------------------


def unsubscribe_url(rt: Runtime, user_id: str) -> str:
    token = signing.unsubscribe_token(rt.settings.resolved_secret, user_id)
    return f"{(rt.settings.public_url or '').rstrip('/')}{UNSUBSCRIBE_PATH}?token={quote(token)}"


def _invalid() -> ApiError:
    return ApiError(
        "This unsubscribe link is not valid; turn the digest off in your account.",
        code="invalid_token",
        status=422,
    )


async def check_unsubscribe(ctx: Ctx, token: str) -> User:
    """The person an unsubscribe token was made for (422 invalid_token otherwise)."""
    user_id = signing.unsubscribe_user(ctx.settings.resolved_secret, token)
    user = await ctx.db.get(User, user_id) if user_id else None
    if user is None or user.deleted_at is not None:
        raise _invalid()
    return user


async def unsubscribe(ctx: Ctx, token: str) -> User:
    """Turn off the digest of the person the token names (again: nothing changes)."""
    user = await check_unsubscribe(ctx, token)
    await ctx.db.execute(update(User).where(User.id == user.id).values(digest="off"))
    user.digest = "off"
    await ctx.commit()
    return user


# --- what it says (composed in the outbox worker) ----------------------------------


@dataclass
class GroupDigest:
    group_id: str
    name: str
    memos: int = 0
    minutes: float = 0.0
    replies: int = 0
    live: int = 0
    speakers: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (speaker, first line)


def first_line(text: str) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1].rstrip() + "…"


async def summary(db: AsyncSession, user: User, since: datetime) -> list[GroupDigest]:
    """Per group, what `user` has not heard of what came since `since`, most memos first."""
    mine = select(Membership.group_id).where(Membership.user_id == user.id)
    parent = aliased(Message)
    reply = select(parent.id).where(parent.id == Message.reply_to_id, parent.sender_id == user.id)
    unheard = and_(Message.group_id.in_(mine), unheard_by(user.id), Message.created_at >= since)
    counts = (
        await db.execute(
            select(
                Message.group_id,
                Group.name,
                func.count(),
                func.coalesce(func.sum(Message.duration_ms), 0),
                func.count().filter(reply.exists()),
                func.count().filter(Message.live.is_(True)),
            )
            .join(Group, Group.id == Message.group_id)
            .where(unheard)
            .group_by(Message.group_id, Group.name)
            .order_by(func.count().desc(), Message.group_id)
            .limit(MAX_GROUPS)
        )
    ).all()
    found = {
        gid: GroupDigest(gid, name, memos, (ms or 0) / 60000, replies, live)
        for gid, name, memos, ms, replies, live in counts
    }
    if not found:
        return []
    speakers = await db.execute(
        select(Message.group_id, User.display_name, func.count())
        .join(User, User.id == Message.sender_id)
        .where(unheard, Message.group_id.in_(list(found)))
        .group_by(Message.group_id, User.id, User.display_name)
        .order_by(func.count().desc(), User.display_name)
    )
    for gid, name, _ in speakers:
        found[gid].speakers.append(name)
    if user.notification_previews:
        lines = await db.execute(
            select(Message.group_id, User.display_name, Message.transcript_text)
            .join(User, User.id == Message.sender_id)
            .where(
                unheard,
                Message.group_id.in_(list(found)),
                Message.transcript_status == TranscriptStatus.READY,
                Message.transcript_text.is_not(None),
            )
            .order_by(Message.group_id, Message.seq)
            .limit(MAX_LINES * len(found))
        )
        for gid, name, text in lines:
            line = first_line(text or "")
            if line and len(found[gid].lines) < MAX_LINES:
                found[gid].lines.append((name, line))
    return list(found.values())


def _minutes(value: float) -> str:
    if value < 1:
        return "under a minute"
    rounded = round(value)
    return f"{rounded} minute" + ("" if rounded == 1 else "s")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _facts(g: GroupDigest) -> list[str]:
    facts = [f"{_plural(g.memos, 'unheard memo')}, {_minutes(g.minutes)}"]
    if g.replies:
        facts.append(f"{g.replies} {'reply' if g.replies == 1 else 'replies'} to you")
    if g.live:
        facts.append(f"{_plural(g.live, 'live memo')} you missed")
    return facts


def render(
    name: str, groups: list[GroupDigest], base: str, unsubscribe: str, frequency: str
) -> tuple[str, str, str]:
    """(subject, text, html) of a digest; every name and line people wrote is escaped in
    the HTML."""
    memos = sum(g.memos for g in groups)
    subject = f"Earshot: {_plural(memos, 'unheard memo')} in {_plural(len(groups), 'group')}"
    e = html.escape
    text = [f"Hello {name},", "", "Here is what you have not heard yet.", ""]
    body = [f"<p>Hello {e(name)},</p>", "<p>Here is what you have not heard yet.</p>"]
    for g in groups:
        link = f"{base}/#/g/{g.group_id}"
        facts = _facts(g)
        spoke = ", ".join(g.speakers)
        text += [g.name, *(f"  {f}" for f in facts), f"  Who spoke: {spoke}"]
        text += [f"  {who}: {line}" for who, line in g.lines]
        text += [f"  Open: {link}", ""]
        items = "".join(f"<li>{e(f)}</li>" for f in facts)
        items += f"<li>Who spoke: {e(spoke)}</li>"
        quotes = "".join(f"<li><b>{e(who)}</b>: {e(line)}</li>" for who, line in g.lines)
        body.append(
            f'<h2><a href="{e(link)}">{e(g.name)}</a></h2>\n<ul>{items}</ul>'
            + (f"\n<ul>{quotes}</ul>" if quotes else "")
        )
    footer = (
        f"You get this {frequency} digest because you chose it in your Earshot account. "
        "Stop it there, or with this link:"
    )
    text += [footer, unsubscribe, ""]
    body.append(f'<p>{e(footer)} <a href="{e(unsubscribe)}">unsubscribe</a></p>')
    page = '<!doctype html>\n<html lang="en"><body>\n' + "\n".join(body) + "\n</body></html>\n"
    return subject, "\n".join(text), page


async def compose(rt: Runtime, db: AsyncSession, payload: dict[str, Any]) -> EmailMessage | None:
    """The digest mail of `payload`, or None: nothing unheard, digest turned off, address
    gone or unverified, or account deleted or disabled since it was queued."""
    user = await db.get(User, payload["user_id"])
    if user is None or user.deleted_at is not None or user.disabled_at is not None:
        return None
    if not user.email_verified:
        return None
    if user.digest not in PERIOD:
        return None
    groups = await summary(db, user, datetime.fromisoformat(payload["since"]))
    if not groups:
        return None
    base = (rt.settings.public_url or "").rstrip("/")
    unsubscribe = unsubscribe_url(rt, user.id)
    subject, text, page = render(user.display_name, groups, base, unsubscribe, user.digest)
    assert user.email is not None
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return mail.message(rt.settings, user.email, subject, text, page, headers=headers)
