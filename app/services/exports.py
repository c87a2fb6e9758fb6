"""Exports: a zip of a person's data, or of a group's record for its owner.

One machinery serves both kinds (`Kind`: the table, where the zips are kept, what
goes in them). `start` records a pending export (one at a time per person or group:
asking again while one is being made returns it) and makes the zip in a task of
this process, bounded by
`export_timeout_s` and, for audio, `export_max_bytes`. The zip goes to the blob
store (`exports/<user id>/<export id>.zip`) so any process can serve it; it is
deleted `export_keep_hours` after it is ready (by the sweep), when a new export
replaces it, and when the account is deleted. If the address is verified and mail is
set up, a mail says it is ready. An export whose process died stays `pending` until
twice the time bound has passed, then reads as `failed` and may be started again.

The zip: `profile.json` (the account and its settings, bio and avatar, and its
sign-in identities at OpenID Connect providers), `avatar.webp` (if any), `groups.json` (the groups
you are in, your role), `messages.json` (every message you sent that is not
deleted), `transcripts.json` (of your voice memos), `receipts.json` (the memos you
marked listened), `memos/<message id>.ogg` (your ready voice memos, as stored), and
`export.json` (when, and any memo left out for the size bound).

A group's export (`app.services.group_exports`) is kept at
`group-exports/<group id>/<export id>.zip` and holds `group.json` (the group, its
norms, rules and pins, the range), `members.json`, `messages.json` (the messages
sent in the range that are not deleted, with their senders), `transcripts.json`,
`memos/<message id>.ogg` and `export.json`. Erasing a message in its range, turning
the group's export policy to "nobody" and deleting the group drop it and its zip.
"""

import asyncio
import json
import logging
import shutil
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import delete, select

from app.errors import Conflict, NotFound
from app.kinds import VoiceStatus
from app.models import (
    Bookmark,
    Export,
    Group,
    GroupExport,
    ListeningPosition,
    Membership,
    Message,
    OidcSubject,
    Pin,
    Reaction,
    Receipt,
    User,
    utcnow,
)
from app.schemas import ExportOut, GroupExportOut
from app.services import emails, people
from app.services.context import Ctx, Runtime, transaction
from app.storage.keys import (
    audio_key,
    avatar_key,
    export_key,
    export_prefix,
    group_export_key,
    group_export_prefix,
)

log = logging.getLogger(__name__)

AVATAR_FILE = "avatar.webp"
_making: dict[asyncio.Task[None], Runtime] = {}  # this process's exports being made


def _not_found() -> NotFound:
    return NotFound("You have no data export: start one.", code="export_not_found")


ExportRow = Export | GroupExport
Files = dict[str, Any]
Memos = list[tuple[str, int]]  # (voice message id, bytes)
# Stored files that go in the zip as they are: (store key, name in the zip, the field of a
# JSON file that names it, set to null if the file is gone by then).
Attachments = list[tuple[str, str, tuple[str, str]]]
Records = tuple[Files, Memos, Attachments]


@dataclass(frozen=True)
class Kind:
    """What is exported: its table (keyed by the owner's id), where its zips are kept,
    what goes in them, and what is done when one is ready."""

    model: type[Export] | type[GroupExport]
    key: Callable[[str, str], str]  # (owner id, export id) -> store key
    records: Callable[[Runtime, str, str], Awaitable[Records]]
    on_ready: Callable[[Ctx, Any], Awaitable[None]] | None = None


async def _row(ctx: Ctx, kind: Kind, owner_id: str, **options: Any) -> ExportRow | None:
    return cast(ExportRow | None, await ctx.db.get(kind.model, owner_id, **options))


Status = Literal["pending", "ready", "failed"]


def _status(rt: Runtime, export: ExportRow) -> tuple[Status, str | None]:
    stale = utcnow() - timedelta(seconds=2 * rt.settings.export_timeout_s)
    if export.status == "pending" and export.created_at < stale:
        return "failed", "The export was interrupted. Start it again."
    return cast(Status, export.status), export.error


def _out(rt: Runtime, export: Export) -> ExportOut:
    out = ExportOut.model_validate(export)
    out.status, out.error = _status(rt, export)
    return out


def group_out(rt: Runtime, export: GroupExport) -> GroupExportOut:
    status, error = _status(rt, export)
    return GroupExportOut(
        status=status,
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        size_bytes=export.size_bytes,
        error=error,
        from_=export.from_at,
        to=export.to_at,
    )


def pending(rt: Runtime, export: ExportRow | None) -> bool:
    """Whether `export` is being made (and not given up on)."""
    return export is not None and _status(rt, export)[0] == "pending"


async def replace(ctx: Ctx, kind: Kind, owner_id: str, export: ExportRow) -> None:
    """Put `export` (new, pending) in place of the owner's earlier one and its zip, and
    start making it once the caller commits. The caller holds the owner's row lock."""
    earlier = await _row(ctx, kind, owner_id, populate_existing=True)
    if earlier is not None:
        old = kind.key(owner_id, earlier.id)
        await ctx.db.delete(earlier)
        await ctx.db.flush()
        ctx.after_commit(lambda: ctx.rt.blobs.delete(old))
    ctx.db.add(export)
    await ctx.db.flush()
    rt, export_id = ctx.rt, export.id

    async def begin() -> None:
        task = asyncio.get_running_loop().create_task(make(rt, kind, owner_id, export_id))
        _making[task] = rt
        task.add_done_callback(lambda done: _making.pop(done, None))

    ctx.after_commit(begin)


async def start(ctx: Ctx, user: User) -> tuple[ExportOut, bool]:
    """Start an export, or return the one being made (and False)."""
    # The person's row serializes their concurrent starts.
    await ctx.db.execute(select(User.id).where(User.id == user.id).with_for_update())
    earlier = await ctx.db.get(Export, user.id, populate_existing=True)
    if earlier is not None and pending(ctx.rt, earlier):
        return _out(ctx.rt, earlier), False
    await ctx.limit("export", user.id)
    export = Export(user_id=user.id, status="pending", created_at=utcnow())
    await replace(ctx, PERSON, user.id, export)
    out = _out(ctx.rt, export)
    await ctx.commit()
    return out, True


async def state(ctx: Ctx, user: User) -> ExportOut:
    export = await ctx.db.get(Export, user.id)
    if export is None:
        raise _not_found()
    return _out(ctx.rt, export)


def ready(rt: Runtime, kind: Kind, owner_id: str, export: ExportRow, what: str) -> tuple[str, int]:
    """The store key and size of a ready zip; 409 `export_not_ready` otherwise."""
    if _status(rt, export)[0] != "ready" or export.size_bytes is None:
        raise Conflict(f"{what} is not ready.", code="export_not_ready")
    return kind.key(owner_id, export.id), export.size_bytes


async def ready_key(ctx: Ctx, user: User) -> tuple[str, int]:
    """The store key and size of the caller's ready zip (404 none, 409 not ready)."""
    export = await ctx.db.get(Export, user.id)
    if export is None:
        raise _not_found()
    return ready(ctx.rt, PERSON, user.id, export, "Your data export")


async def stop(rt: Runtime) -> None:
    """Stop making `rt`'s exports (the server stops): they read `failed` once their time
    is up, and may be started again."""
    tasks = [task for task, owner in _making.items() if owner is rt]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def make(rt: Runtime, kind: Kind, owner_id: str, export_id: str) -> None:
    """Make the zip of export `export_id` and record how it went."""
    settings = rt.settings
    work = settings.work_dir / f"export-{export_id}"
    error: str | None = None
    size = 0
    key = kind.key(owner_id, export_id)
    try:
        size = await asyncio.wait_for(
            _build(rt, kind, owner_id, export_id, work), settings.export_timeout_s
        )
    except TimeoutError:
        error = "The export took too long. Try again later."
    except Exception:
        log.exception("export %s failed", export_id)
        error = "The export failed. Try again later."
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)
    async with transaction(rt) as ctx:
        export = await _row(ctx, kind, owner_id, with_for_update=True)
        if export is None or export.id != export_id:  # replaced, or its owner gone
            ctx.after_commit(lambda: rt.blobs.delete(key))
            await ctx.commit()
            return
        now = utcnow()
        export.finished_at = now
        if error:
            export.status, export.error = "failed", error
            ctx.after_commit(lambda: rt.blobs.delete(key))
        else:
            export.status, export.size_bytes = "ready", size
            export.expires_at = now + timedelta(hours=settings.export_keep_hours)
            if kind.on_ready is not None:
                await kind.on_ready(ctx, export)
        await ctx.commit()


async def _mail_ready(ctx: Ctx, export: Export) -> None:
    """Mail the person that their export is ready, if their address is verified."""
    user = await ctx.db.get(User, export.user_id)
    if user is not None and user.email_verified and ctx.settings.email_enabled:
        assert export.expires_at is not None
        emails.mail_export(ctx, user, export.id, export.expires_at)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _records(rt: Runtime, user_id: str, export_id: str) -> Records:
    """The JSON files of a person's zip, the voice memos whose audio goes in it, and
    their avatar."""
    async with transaction(rt, reads_only=True) as ctx:
        user = await ctx.db.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise LookupError("the account is gone")
        groups = (
            await ctx.db.execute(
                select(Group, Membership.role, Membership.joined_at)
                .join(Membership, Membership.group_id == Group.id)
                .where(Membership.user_id == user_id)
                .order_by(Membership.joined_at)
            )
        ).all()
        messages = list(
            await ctx.db.scalars(
                select(Message)
                .where(Message.sender_id == user_id, Message.deleted_at.is_(None))
                .order_by(Message.created_at, Message.id)
            )
        )
        receipts = list(
            await ctx.db.scalars(
                select(Receipt).where(Receipt.user_id == user_id).order_by(Receipt.listened_at)
            )
        )
        reactions = list(
            await ctx.db.scalars(
                select(Reaction).where(Reaction.user_id == user_id).order_by(Reaction.created_at)
            )
        )
        bookmarks = list(
            await ctx.db.scalars(
                select(Bookmark).where(Bookmark.user_id == user_id).order_by(Bookmark.created_at)
            )
        )
        positions = list(
            await ctx.db.scalars(
                select(ListeningPosition)
                .where(ListeningPosition.user_id == user_id)
                .order_by(ListeningPosition.updated_at)
            )
        )
        profile = people.me_out(user).model_dump(mode="json")
        profile["avatar_file"] = AVATAR_FILE if user.avatar_id else None
        identities = await ctx.db.scalars(
            select(OidcSubject)
            .where(OidcSubject.user_id == user_id)
            .order_by(OidcSubject.created_at)
        )
        profile["sign_in_identities"] = [
            {"provider": i.provider, "subject": i.subject, "linked_at": _iso(i.created_at)}
            for i in identities
        ]
        memos = [m for m in messages if m.kind == "voice" and m.voice_status == VoiceStatus.READY]
        files = {
            "profile.json": profile,
            "groups.json": [
                {
                    "id": group.id,
                    "name": group.name,
                    "description": group.description,
                    "role": role,
                    "joined_at": _iso(joined_at),
                }
                for group, role, joined_at in groups
            ],
            "messages.json": [_message(m, m in memos) for m in messages],
            "transcripts.json": _transcripts(messages),
            "receipts.json": [
                {"message_id": r.message_id, "listened_at": _iso(r.listened_at)} for r in receipts
            ],
            "reactions.json": [
                {"message_id": r.message_id, "emoji": r.emoji, "created_at": _iso(r.created_at)}
                for r in reactions
            ],
            "bookmarks.json": [
                {
                    "message_id": b.message_id,
                    "note": b.note,
                    "offset_ms": b.offset_ms,
                    "created_at": _iso(b.created_at),
                }
                for b in bookmarks
            ],
            "listening_positions.json": [
                {
                    "message_id": p.message_id,
                    "position_ms": p.position_ms,
                    "updated_at": _iso(p.updated_at),
                }
                for p in positions
            ],
        }
        attachments: Attachments = []
        if user.avatar_id:
            key = avatar_key(user_id, user.avatar_id)
            attachments.append((key, AVATAR_FILE, ("profile.json", "avatar_file")))
        return files, [(m.id, m.size_bytes or 0) for m in memos], attachments


def _transcripts(messages: list[Message]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": m.id,
            "status": m.transcript_status,
            "language": m.transcript_language,
            "text": m.transcript_text,
        }
        for m in messages
        if m.kind == "voice" and m.transcript_status is not None
    ]


def _message(message: Message, with_audio: bool) -> dict[str, Any]:
    voice = None
    if message.kind == "voice":
        voice = {
            "status": message.voice_status,
            "duration_ms": message.duration_ms,
            "file": f"memos/{message.id}.ogg" if with_audio else None,
        }
    return {
        "id": message.id,
        "group_id": message.group_id,
        "seq": message.seq,
        "kind": message.kind,
        "text": message.text,
        "reply_to": message.reply_to_id,
        "client_id": message.client_id,
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "voice": voice,
    }


async def _build(rt: Runtime, kind: Kind, owner_id: str, export_id: str, work: Path) -> int:
    """Write the zip in `work`, store it, and return its size."""
    files, memos, attachments = await kind.records(rt, owner_id, export_id)
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    fetched: list[tuple[Path, str]] = []
    for key, name, (file, field) in attachments:
        try:
            await rt.blobs.fetch_to(key, work / name)
            fetched.append((work / name, name))
        except FileNotFoundError:  # replaced or removed since: the zip has none
            files[file][field] = None
    texts = {
        name: json.dumps(content, ensure_ascii=False, indent=1) for name, content in files.items()
    }
    budget = rt.settings.export_max_bytes - sum(len(t.encode()) for t in texts.values())
    included: list[str] = []
    omitted: list[str] = []
    for memo_id, size in memos:  # oldest first, while they fit
        if size <= budget:
            included.append(memo_id)
            budget -= size
        else:
            omitted.append(memo_id)
    if omitted:
        for message in files["messages.json"]:
            if message["id"] in omitted:
                message["voice"]["file"] = None
        texts["messages.json"] = json.dumps(files["messages.json"], ensure_ascii=False, indent=1)
    owner = "user_id" if kind.model is Export else "group_id"
    about = {owner: owner_id, "created_at": _iso(utcnow()), "omitted_memos": omitted}
    texts["export.json"] = json.dumps(about, indent=1)
    path = work / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in texts.items():
            await asyncio.to_thread(zf.writestr, name, text)
        for local, name in fetched:  # images are compressed already
            await asyncio.to_thread(zf.write, local, name, compress_type=zipfile.ZIP_STORED)
        for memo_id in included:
            local = work / f"{memo_id}.ogg"
            await rt.blobs.fetch_to(audio_key(memo_id), local)
            # Ogg Opus is compressed already: stored as it is.
            await asyncio.to_thread(
                zf.write, local, f"memos/{memo_id}.ogg", compress_type=zipfile.ZIP_STORED
            )
            await asyncio.to_thread(local.unlink)
    return await rt.blobs.put_file(kind.key(owner_id, export_id), path)


async def forget(ctx: Ctx, user_id: str) -> None:
    """Drop the person's export and its zip (their account is being deleted)."""
    await ctx.db.execute(delete(Export).where(Export.user_id == user_id))
    prefix = export_prefix(user_id)
    ctx.after_commit(lambda: ctx.rt.blobs.delete_prefix(prefix))


async def sweep(rt: Runtime) -> None:
    """Delete the zips kept past `expires_at`."""
    async with transaction(rt) as ctx:
        for kind in (PERSON, GROUP):
            expired: list[ExportRow] = list(
                await ctx.db.scalars(
                    select(kind.model).where(
                        kind.model.expires_at.is_not(None), kind.model.expires_at < utcnow()
                    )
                )
            )
            for export in expired:
                key = kind.key(_owner(export), export.id)
                await ctx.db.delete(export)
                ctx.after_commit(lambda key=key: rt.blobs.delete(key))  # type: ignore[misc]
        await ctx.commit()


def _owner(export: ExportRow) -> str:
    return export.user_id if isinstance(export, Export) else export.group_id


async def _group_records(rt: Runtime, group_id: str, export_id: str) -> Records:
    """The JSON files of a group's zip (its record in the export's range), and its memos."""
    async with transaction(rt, reads_only=True) as ctx:
        export = await ctx.db.get(GroupExport, group_id)
        group = await ctx.db.get(Group, group_id)
        if export is None or export.id != export_id or group is None:
            raise LookupError("the export was replaced or the group is gone")
        members = (
            await ctx.db.execute(
                select(Membership, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.group_id == group_id)
                .order_by(Membership.joined_at, Membership.user_id)
            )
        ).all()
        messages = list(
            await ctx.db.scalars(
                select(Message)
                .where(
                    Message.group_id == group_id,
                    Message.deleted_at.is_(None),
                    Message.created_at >= export.from_at,
                    Message.created_at < export.to_at,
                )
                .order_by(Message.seq)
            )
        )
        pinned = await ctx.db.scalars(
            select(Pin.message_id).where(Pin.group_id == group_id).order_by(Pin.position)
        )
        memos = [m for m in messages if m.kind == "voice" and m.voice_status == VoiceStatus.READY]
        files = {
            "group.json": {
                "id": group.id,
                "name": group.name,
                "description": group.description,
                "created_at": _iso(group.created_at),
                "norms": group.norms,
                "retention_days": group.retention_days,
                "transcripts": group.transcripts,
                "export_policy": group.export_policy,
                "pinned": list(pinned),
                "exported_by": export.requested_by,
                "from": _iso(export.from_at),
                "to": _iso(export.to_at),
            },
            "members.json": [
                {
                    "id": user.id,
                    "handle": user.handle,
                    "display_name": user.display_name,
                    "role": membership.role,
                    "joined_at": _iso(membership.joined_at),
                }
                for membership, user in members
            ],
            "messages.json": [
                {
                    **_message(m, m in memos),
                    "sender": {
                        "id": m.sender.id,
                        "handle": m.sender.handle,
                        "display_name": m.sender.display_name,
                    },
                }
                for m in messages
            ],
            "transcripts.json": _transcripts(messages),
        }
        return files, [(m.id, m.size_bytes or 0) for m in memos], []


async def forget_group(ctx: Ctx, group_id: str) -> None:
    """Drop the group's export and its zip (the caller commits)."""
    await ctx.db.execute(delete(GroupExport).where(GroupExport.group_id == group_id))
    prefix = group_export_prefix(group_id)
    ctx.after_commit(lambda: ctx.rt.blobs.delete_prefix(prefix))


async def forget_erased(ctx: Ctx, message: Message) -> None:
    """Drop the group export whose range holds `message` (being erased, or its text
    edited), and its zip: what was taken back survives in no copy the server keeps. The
    caller commits."""
    export = await ctx.db.scalar(
        select(GroupExport).where(
            GroupExport.group_id == message.group_id,
            GroupExport.from_at <= message.created_at,
            GroupExport.to_at > message.created_at,
        )
    )
    if export is not None:
        key = group_export_key(export.group_id, export.id)
        await ctx.db.delete(export)
        ctx.after_commit(lambda: ctx.rt.blobs.delete(key))


PERSON = Kind(model=Export, key=export_key, records=_records, on_ready=_mail_ready)
GROUP = Kind(model=GroupExport, key=group_export_key, records=_group_records)
