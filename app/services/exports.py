"""Exporting a person's data: one zip of everything that is theirs.

`start` records a pending export (one at a time per person: asking again while one
is being made returns it) and makes the zip in a task of this process, bounded by
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
"""

import asyncio
import json
import logging
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from app.errors import Conflict, NotFound
from app.kinds import VoiceStatus
from app.models import (
    Bookmark,
    Export,
    Group,
    ListeningPosition,
    Membership,
    Message,
    OidcSubject,
    Reaction,
    Receipt,
    User,
    utcnow,
)
from app.schemas import ExportOut
from app.services import emails, people
from app.services.context import Ctx, Runtime, transaction
from app.storage.keys import audio_key, avatar_key, export_key, export_prefix

log = logging.getLogger(__name__)

AVATAR_FILE = "avatar.webp"
_making: dict[asyncio.Task[None], Runtime] = {}  # this process's exports being made


def _not_found() -> NotFound:
    return NotFound("You have no data export: start one.", code="export_not_found")


def _out(rt: Runtime, export: Export) -> ExportOut:
    out = ExportOut.model_validate(export)
    stale = utcnow() - timedelta(seconds=2 * rt.settings.export_timeout_s)
    if export.status == "pending" and export.created_at < stale:
        out.status, out.error = "failed", "The export was interrupted. Start it again."
    return out


async def start(ctx: Ctx, user: User) -> tuple[ExportOut, bool]:
    """Start an export, or return the one being made (and False)."""
    # The person's row serializes their concurrent starts.
    await ctx.db.execute(select(User.id).where(User.id == user.id).with_for_update())
    earlier = await ctx.db.get(Export, user.id, populate_existing=True)
    if earlier is not None and _out(ctx.rt, earlier).status == "pending":
        return _out(ctx.rt, earlier), False
    await ctx.limit("export", user.id)
    if earlier is not None:
        old = export_key(user.id, earlier.id)
        await ctx.db.delete(earlier)
        await ctx.db.flush()
        ctx.after_commit(lambda: ctx.rt.blobs.delete(old))
    export = Export(user_id=user.id, status="pending", created_at=utcnow())
    ctx.db.add(export)
    await ctx.db.flush()
    out, rt, export_id = _out(ctx.rt, export), ctx.rt, export.id

    async def begin() -> None:
        task = asyncio.get_running_loop().create_task(make(rt, user.id, export_id))
        _making[task] = rt
        task.add_done_callback(lambda done: _making.pop(done, None))

    ctx.after_commit(begin)
    await ctx.commit()
    return out, True


async def state(ctx: Ctx, user: User) -> ExportOut:
    export = await ctx.db.get(Export, user.id)
    if export is None:
        raise _not_found()
    return _out(ctx.rt, export)


async def ready_key(ctx: Ctx, user: User) -> tuple[str, int]:
    """The store key and size of the caller's ready zip (404 none, 409 not ready)."""
    out = await state(ctx, user)
    export = await ctx.db.get(Export, user.id)
    if out.status != "ready" or export is None or out.size_bytes is None:
        raise Conflict("Your data export is not ready.", code="export_not_ready")
    return export_key(user.id, export.id), out.size_bytes


async def stop(rt: Runtime) -> None:
    """Stop making `rt`'s exports (the server stops): they read `failed` once their time
    is up, and may be started again."""
    tasks = [task for task, owner in _making.items() if owner is rt]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def make(rt: Runtime, user_id: str, export_id: str) -> None:
    """Make the zip of export `export_id` and record how it went."""
    settings = rt.settings
    work = settings.work_dir / f"export-{export_id}"
    error: str | None = None
    size = 0
    try:
        size = await asyncio.wait_for(
            _build(rt, user_id, export_id, work), settings.export_timeout_s
        )
    except TimeoutError:
        error = "The export took too long. Try again later."
    except Exception:
        log.exception("export %s failed", export_id)
        error = "The export failed. Try again later."
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)
    async with transaction(rt) as ctx:
        export = await ctx.db.get(Export, user_id, with_for_update=True)
        if export is None or export.id != export_id:  # replaced, or the account deleted
            ctx.after_commit(lambda: rt.blobs.delete(export_key(user_id, export_id)))
            await ctx.commit()
            return
        now = utcnow()
        export.finished_at = now
        if error:
            export.status, export.error = "failed", error
            ctx.after_commit(lambda: rt.blobs.delete(export_key(user_id, export_id)))
        else:
            export.status, export.size_bytes = "ready", size
            export.expires_at = now + timedelta(hours=settings.export_keep_hours)
            user = await ctx.db.get(User, user_id)
            if user is not None and user.email_verified and settings.email_enabled:
                emails.mail_export(ctx, user, export_id, export.expires_at)
        await ctx.commit()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _records(
    rt: Runtime, user_id: str
) -> tuple[dict[str, Any], list[tuple[str, int]], str | None]:
    """The JSON files of the zip, the voice memos whose audio goes in it (id, size), and
    the avatar's id (or None)."""
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
            "transcripts.json": [
                {
                    "message_id": m.id,
                    "status": m.transcript_status,
                    "language": m.transcript_language,
                    "text": m.transcript_text,
                }
                for m in messages
                if m.kind == "voice" and m.transcript_status is not None
            ],
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
        return files, [(m.id, m.size_bytes or 0) for m in memos], user.avatar_id


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


async def _build(rt: Runtime, user_id: str, export_id: str, work: Path) -> int:
    """Write the zip in `work`, store it, and return its size."""
    files, memos, avatar_id = await _records(rt, user_id)
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    avatar = work / AVATAR_FILE
    if avatar_id is not None:
        try:
            await rt.blobs.fetch_to(avatar_key(user_id, avatar_id), avatar)
        except FileNotFoundError:  # replaced or removed since: the zip has none
            files["profile.json"]["avatar_file"] = None
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
    about = {"user_id": user_id, "created_at": _iso(utcnow()), "omitted_memos": omitted}
    texts["export.json"] = json.dumps(about, indent=1)
    path = work / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in texts.items():
            await asyncio.to_thread(zf.writestr, name, text)
        if files["profile.json"]["avatar_file"]:  # WebP is compressed already
            await asyncio.to_thread(zf.write, avatar, AVATAR_FILE, compress_type=zipfile.ZIP_STORED)
        for memo_id in included:
            local = work / f"{memo_id}.ogg"
            await rt.blobs.fetch_to(audio_key(memo_id), local)
            # Ogg Opus is compressed already: stored as it is.
            await asyncio.to_thread(
                zf.write, local, f"memos/{memo_id}.ogg", compress_type=zipfile.ZIP_STORED
            )
            await asyncio.to_thread(local.unlink)
    return await rt.blobs.put_file(export_key(user_id, export_id), path)


async def forget(ctx: Ctx, user_id: str) -> None:
    """Drop the person's export and its zip (their account is being deleted)."""
    await ctx.db.execute(delete(Export).where(Export.user_id == user_id))
    prefix = export_prefix(user_id)
    ctx.after_commit(lambda: ctx.rt.blobs.delete_prefix(prefix))


async def sweep(rt: Runtime) -> None:
    """Delete the zips kept past `expires_at`."""
    async with transaction(rt) as ctx:
        expired = list(
            await ctx.db.scalars(
                select(Export).where(Export.expires_at.is_not(None), Export.expires_at < utcnow())
            )
        )
        for export in expired:
            key = export_key(export.user_id, export.id)
            await ctx.db.delete(export)
            ctx.after_commit(lambda key=key: rt.blobs.delete(key))  # type: ignore[misc]
        await ctx.commit()
